//! The desktop app opens its window in a real X server (no WebDriver in between), and its first
//! screen shows what it got over IPC: here, the error about a broken provisioning file. Saves the
//! screenshot to `target/screenshots/window.png`.

use std::process::{Command, Stdio};
use std::time::Duration;
use vigil_testkit::{wait_until, Guard, XvfbDisplay};

/// Fraction (0..1) of the image's pixels within 12% of `color`.
fn color_fraction(png: &std::path::Path, color: &str) -> f64 {
    let out = Command::new("convert")
        .arg(png)
        .args(["-fuzz", "12%", "-fill", "black", "+opaque", color, "-fill", "white", "-opaque", color])
        .args(["-format", "%[fx:mean]", "info:"])
        .output()
        .expect("ImageMagick convert (Debian package imagemagick)");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a number from convert")
}

#[test]
fn window_opens_and_shows_its_first_screen() {
    let x = XvfbDisplay::start(1280, 800).expect("Xvfb");
    let data = tempfile::tempdir().unwrap();
    let provisioning = data.path().join("provisioning.toml");
    std::fs::write(&provisioning, "server = ").unwrap();
    let mut app = Guard::spawn(
        Command::new(env!("CARGO_BIN_EXE_vigil-app"))
            .env("DISPLAY", &x.display)
            .env("VIGIL_DATA_DIR", data.path())
            .env("VIGIL_PROVISIONING", &provisioning)
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "vigil-app",
    )
    .unwrap();

    let mut window = String::new();
    wait_until(Duration::from_secs(60), "the Vigil window", || {
        let out = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "^Vigil$"])
            .env("DISPLAY", &x.display)
            .output();
        window = out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
        !window.is_empty()
    })
    .unwrap();
    app.ensure_running().unwrap();

    let geometry =
        Command::new("xdotool").args(["getwindowgeometry", &window]).env("DISPLAY", &x.display).output().unwrap();
    let geometry = String::from_utf8_lossy(&geometry.stdout).to_string();
    assert!(geometry.contains("1024x720"), "unexpected window geometry: {geometry}");

    // The first screen is rendered once the header (brand blue) is drawn, and the launch values
    // have arrived over IPC once the error box (red border) about the broken file is shown.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("window.png");
    let mut fractions = (0.0, 0.0);
    let rendered = wait_until(Duration::from_secs(60), "the first screen with the provisioning error", || {
        let ok = Command::new("import")
            .args(["-window", "root"])
            .arg(&shot)
            .env("DISPLAY", &x.display)
            .status()
            .is_ok_and(|s| s.success());
        fractions = if ok { (color_fraction(&shot, "#1d4ed8"), color_fraction(&shot, "#b91c1c")) } else { (0.0, 0.0) };
        fractions.0 > 0.05 && fractions.1 > 0.0001
    });
    assert!(
        rendered.is_ok(),
        "screen not rendered as expected (blue {}, red {}); see {}",
        fractions.0,
        fractions.1,
        shot.display()
    );
}

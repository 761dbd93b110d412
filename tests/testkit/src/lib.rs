//! Test fixtures that own real devices, per `shared/TESTING.md`: an X display (Xvfb), several
//! monitors (TigerVNC resized over RFB), a headless Wayland desktop (sway), a PulseAudio server with a null sink and a tone, and
//! processes with chosen executable names. Each fixture starts its own server on a free display
//! number or port and stops it (by PID) when dropped. A fixture that cannot start says what is
//! missing and which Debian package brings it; it never skips silently.

pub mod audio;
pub mod clip;
pub mod display;
pub mod media;
pub mod portal;
pub mod process;
pub mod screen_reader;
pub mod server;
pub mod wayland;
pub mod webdriver;

pub use audio::PulseAudio;
pub use clip::{camera_clip, Scene};
pub use display::{Screen, VncDisplay, XvfbDisplay};
pub use media::decodes_cleanly;
pub use portal::PortalDesktop;
pub use process::RenamedProcess;
pub use screen_reader::ScreenReader;
pub use server::ReferenceServer;
pub use wayland::{SwayDisplay, WaylandOutput};
pub use webdriver::AppDriver;

use anyhow::{bail, Context, Result};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) on drop.
pub struct Guard {
    pub child: Child,
    name: String,
}

impl Guard {
    /// Starts `cmd` in its own process group, so that dropping the guard also ends whatever it
    /// started (a shell pipeline, say).
    pub fn spawn(cmd: &mut Command, name: &str) -> Result<Guard> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let child = cmd.spawn().with_context(|| format!("cannot start {name}: {}", install_hint(name)))?;
        Ok(Guard { child, name: name.to_owned() })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the process has already exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited early with {status}", self.name);
        }
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which Debian package provides a program the fixtures use.
pub fn install_hint(program: &str) -> String {
    let pkg = match program {
        "Xvfb" => "xvfb",
        "Xtigervnc" => "tigervnc-standalone-server",
        "pulseaudio" => "pulseaudio",
        "pactl" | "pacat" | "paplay" => "pulseaudio-utils",
        "sox" => "sox",
        "xrandr" => "x11-xserver-utils",
        "xdotool" => "xdotool",
        "tauri-driver" => "cargo install tauri-driver --locked, and Debian's webkit2gtk-driver",
        "import" => "imagemagick",
        "orca" => "orca",
        "chromedriver" => "chromium-driver",
        "dbus-daemon" => "dbus",
        "at-spi-bus-launcher" => "at-spi2-core",
        "pipewire" => "pipewire",
        "wireplumber" => "wireplumber",
        "xdg-desktop-portal" => "xdg-desktop-portal",
        "org.freedesktop.impl.portal.desktop.wlr" => "xdg-desktop-portal-wlr",
        _ => return format!("is {program} installed? (run scripts/install-deps)"),
    };
    format!("install the Debian package `{pkg}` (scripts/install-deps does)")
}

/// Polls `check` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("timed out after {timeout:?} waiting for {what}")
}

/// A fresh private directory (mode 700) that lives as long as the returned handle.
pub fn private_dir(prefix: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// The path of a binary built by this workspace (`target/debug/NAME`), for tests in crates that
/// do not own it (`cargo test --workspace` builds every binary before running any test).
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let bin = target.join(if cfg!(debug_assertions) { "debug" } else { "release" }).join(name);
    assert!(bin.exists(), "{} is not built: run `cargo build --workspace` first", bin.display());
    bin
}

//! Shared by the app's WebDriver suites: Xvfb, PulseAudio with a tone, the reference server
//! with an exam whose page is the server's demo exam, and the app under tauri-driver, started
//! from a join link.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use vigil_testkit::{AppDriver, PulseAudio, ReferenceServer, XvfbDisplay};

/// The test machine has no camera and runs under Xvfb in a VM: the exam allows that.
pub const POLICY: &str = r#"
schema = 1
name = "WebDriver test exam"
[verdicts]
camera_missing = "warn"
microphone_missing = "warn"
remote_session = "warn"
virtual_machine = "warn"
[analysis]
speech = false
"#;

pub fn shots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots/app")
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// How long the app may take to show its first screen: WebKit's first start on a machine that
/// has just booted (its caches cold, two apps starting side by side on two cores) has taken over
/// a minute once.
pub const FIRST_SCREEN: std::time::Duration = std::time::Duration::from_secs(120);

/// Who receives the recordings, as the test server names itself.
pub const ORGANISER: &str = "Әл-Фараби атындағы ҚазҰУ";

pub struct Setup {
    /// The X server (Xvfb or TigerVNC), kept alive.
    pub x: Box<dyn std::any::Any>,
    pub display: String,
    pub pulse: PulseAudio,
    pub server: ReferenceServer,
    pub data: tempfile::TempDir,
    pub app: AppDriver,
}

/// Everything running under a new Xvfb, the app on its join screen; `policy` is TOML.
pub fn setup(code: &str, policy: &str) -> Setup {
    let x = XvfbDisplay::start(1280, 900).expect("Xvfb");
    let display = x.display.clone();
    setup_on(Box::new(x), display, code, policy)
}

/// The same on an X server the caller started.
pub fn setup_on(x: Box<dyn std::any::Any>, display: String, code: &str, policy: &str) -> Setup {
    let mut pulse = PulseAudio::start().expect("PulseAudio");
    pulse.play_tone(440, 0.5, 600).expect("tone");
    let server = ReferenceServer::start_with(code, &["--organiser", ORGANISER]).expect("vigil-server");
    server.create_exam(code, Some(policy), Some(&format!("{}/demo-exam", server.url))).unwrap();
    let data = tempfile::tempdir().unwrap();
    let link = format!("vigil://join?server={}&code={code}&key={}", url_encode(&server.url), url_encode(&server.key));
    let mut env: Vec<(String, String)> = vec![
        ("DISPLAY".into(), display.clone()),
        ("VIGIL_DATA_DIR".into(), data.path().display().to_string()),
        ("VIGIL_CAMERA".into(), "synthetic".into()),
        ("VIGIL_PROVISIONING".into(), "/nonexistent/provisioning.toml".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("LC_ALL".into(), "".into()),
        ("WAYLAND_DISPLAY".into(), "".into()),
    ];
    env.extend(pulse.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    let app = AppDriver::start(Path::new(env!("CARGO_BIN_EXE_vigil-app")), &[link], &env)
        .expect("the app under tauri-driver");
    Setup { x, display, pulse, server, data, app }
}

/// Event kinds the server holds for the only session.
pub fn server_events(server: &ReferenceServer) -> Vec<serde_json::Value> {
    let sessions = server.review("/v1/review/sessions").unwrap();
    let Some(id) = sessions["sessions"][0]["id"].as_str() else { return Vec::new() };
    let detail = server.review(&format!("/v1/review/sessions/{id}")).unwrap();
    detail["events"].as_array().cloned().unwrap_or_default()
}

/// Goes through join, consent, check and photos to the exam screen.
pub fn to_exam(app: &AppDriver) {
    use std::time::Duration;
    app.wait_visible("#screen-join h2", FIRST_SCREEN).unwrap();
    app.wait_script(
        "the join link's values",
        "return document.getElementById('code').value !== ''",
        Duration::from_secs(10),
    )
    .unwrap();
    app.type_into("#name", "Test Candidate").unwrap();
    app.click("#join-continue").unwrap();
    app.click("#consent-accept").unwrap();
    app.wait_visible("#screen-check h2", Duration::from_secs(30)).unwrap();
    if let Err(e) = app.wait_script(
        "Continue enabled",
        "return !document.getElementById('check-continue').disabled",
        Duration::from_secs(60),
    ) {
        panic!("{e}; findings: {}", app.text("#findings").unwrap_or_default());
    }
    // On to the identity screen; a click that met the button while a check re-ran is given again.
    let identity_shown = || {
        app.wait_script(
            "the identity screen",
            "return !document.getElementById('screen-identity').hidden",
            Duration::from_secs(10),
        )
    };
    app.click("#check-continue").unwrap();
    if identity_shown().is_err() {
        eprintln!(
            "the identity screen did not open; screen {:?}, error {:?}",
            app.script("return state.screen").ok(),
            app.text("#error").ok()
        );
        app.click("#check-continue").unwrap();
        identity_shown().unwrap();
    }
    app.wait_visible("#camera-preview", Duration::from_secs(5)).ok();
    app.wait_script(
        "a camera picture",
        "return document.getElementById('identity-preview').src.startsWith('data:')",
        Duration::from_secs(30),
    )
    .unwrap();
    app.click("#take-face").unwrap();
    app.click("#take-id").unwrap();
    app.click("#identity-continue").unwrap();
    app.wait_visible("#screen-exam h2", Duration::from_secs(30)).unwrap();
    app.wait_script(
        "the exam page loaded",
        "return document.getElementById('exam-page').textContent.includes('is open')",
        Duration::from_secs(60),
    )
    .unwrap();
}

/// Waits until the server holds an event of `kind` for which `pred` holds; returns it.
pub fn wait_event(
    server: &ReferenceServer,
    kind: &str,
    timeout: std::time::Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut found = None;
    vigil_testkit::wait_until(timeout, &format!("a {kind} event on the server"), || {
        found = server_events(server).into_iter().find(|e| e["kind"] == kind && pred(&e["data"]));
        found.is_some()
    })
    .unwrap_or_else(|e| {
        panic!("{e}; events: {:?}", server_events(server).iter().map(|e| e["kind"].clone()).collect::<Vec<_>>())
    });
    found.unwrap()
}

//! The candidate's whole flow in the real app, driven by WebDriver (tauri-driver + WebKitWebDriver)
//! under Xvfb, with PulseAudio playing a tone, the synthetic camera and the reference server:
//! join (from a join link), consent, check, photos, exam page, finish; then the server holds the
//! session with its segments and events. Declining consent records and sends nothing.
//!
//! Run just this suite: `cargo test -p vigil-app --test flow`. Screenshots of every screen (join
//! and consent in all three languages) go to `target/screenshots/app/`.

use std::path::{Path, PathBuf};
use std::time::Duration;
use vigil_testkit::{AppDriver, PulseAudio, ReferenceServer, XvfbDisplay};

/// The test machine has no camera and runs under Xvfb in a VM: the exam allows that.
const POLICY: &str = r#"
schema = 1
name = "WebDriver test exam"
[verdicts]
camera_missing = "warn"
microphone_missing = "warn"
remote_session = "warn"
virtual_machine = "warn"
"#;

fn shots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots/app")
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

struct Setup {
    _x: XvfbDisplay,
    _pulse: PulseAudio,
    server: ReferenceServer,
    data: tempfile::TempDir,
    app: AppDriver,
}

fn setup(code: &str) -> Setup {
    let x = XvfbDisplay::start(1280, 900).expect("Xvfb");
    let mut pulse = PulseAudio::start().expect("PulseAudio");
    pulse.play_tone(440, 0.5, 600).expect("tone");
    let server = ReferenceServer::start(code).expect("vigil-server");
    server.create_exam(code, Some(POLICY), Some(&format!("{}/demo-exam", server.url))).unwrap();
    let data = tempfile::tempdir().unwrap();
    let link = format!("vigil://join?server={}&code={code}&key={}", url_encode(&server.url), url_encode(&server.key));
    let mut env: Vec<(String, String)> = vec![
        ("DISPLAY".into(), x.display.clone()),
        ("VIGIL_DATA_DIR".into(), data.path().display().to_string()),
        ("VIGIL_CAMERA".into(), "synthetic".into()),
        ("VIGIL_PROVISIONING".into(), "/nonexistent/provisioning.toml".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("LC_ALL".into(), "".into()),
        ("WAYLAND_DISPLAY".into(), "".into()),
    ];
    env.extend(pulse.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    let app = AppDriver::start(Path::new(env!("CARGO_BIN_EXE_vigil-app")), &[link], &env).expect("the app under tauri-driver");
    Setup { _x: x, _pulse: pulse, server, data, app }
}

fn set_language(app: &AppDriver, lang: &str) {
    app.click(&format!("#language option[value={lang}]")).unwrap();
    app.wait_script(&format!("the page in {lang}"), &format!("return document.documentElement.lang === '{lang}'"), Duration::from_secs(10)).unwrap();
}

/// Screenshots of the current screen in every language, ending in English.
fn shoot_languages(app: &AppDriver, screen: &str) {
    for lang in ["ru", "kk", "en"] {
        set_language(app, lang);
        app.screenshot(&shots().join(format!("{screen}-{lang}.png"))).unwrap();
    }
}

fn join_screen(app: &AppDriver) {
    app.wait_visible("#screen-join h2", Duration::from_secs(60)).unwrap();
    // The join link filled in the server, the code and the key.
    app.wait_script("the join link's values", "return document.getElementById('code').value !== ''", Duration::from_secs(10)).unwrap();
    shoot_languages(app, "join");
    app.type_into("#name", "Aigerim Bekova").unwrap();
    app.click("#join-continue").unwrap();
    app.wait_visible("#screen-consent h2", Duration::from_secs(10)).unwrap();
    assert!(app.text("#screen-consent").unwrap().contains("camera"), "the consent screen lists the camera");
    shoot_languages(app, "consent");
}

#[test]
fn the_whole_flow_against_the_reference_server() {
    let s = setup("WD-FLOW");
    let app = &s.app;
    join_screen(app);

    // Consent -> join -> system check with live preview and the exam's policy.
    app.click("#consent-accept").unwrap();
    app.wait_visible("#screen-check h2", Duration::from_secs(30)).unwrap();
    app.wait_visible("#camera-preview", Duration::from_secs(30)).unwrap();
    app.wait_script("the check results", "return document.querySelectorAll('#findings li').length >= 8", Duration::from_secs(60)).unwrap();
    app.wait_script("the microphone level", "return document.getElementById('mic-meter').value > -40", Duration::from_secs(20)).unwrap();
    let verdicts = app.text("#findings").unwrap();
    assert!(verdicts.contains("Camera") && verdicts.contains("Connection to the exam server"), "{verdicts}");
    app.wait_script("Continue enabled by the exam's policy", "return !document.getElementById('check-continue').disabled", Duration::from_secs(10)).unwrap();
    app.screenshot(&shots().join("check-en.png")).unwrap();
    app.click("#check-continue").unwrap();

    // Identity photos, with a retake.
    app.wait_visible("#screen-identity h2", Duration::from_secs(10)).unwrap();
    app.click("#take-face").unwrap();
    app.wait_visible("#photo-face", Duration::from_secs(10)).unwrap();
    app.click("#take-face").unwrap(); // retake
    app.click("#take-id").unwrap();
    app.wait_visible("#photo-id", Duration::from_secs(10)).unwrap();
    app.screenshot(&shots().join("identity-en.png")).unwrap();
    app.click("#identity-continue").unwrap();

    // The exam: the page loads in its own window, every source records.
    app.wait_visible("#screen-exam h2", Duration::from_secs(30)).unwrap();
    app.wait_script("the exam page loaded", "return document.getElementById('exam-page').textContent.includes('is open')", Duration::from_secs(60)).unwrap();
    app.wait_script("camera and screen recording", "return document.querySelectorAll('#exam-sources .rec').length >= 2", Duration::from_secs(30)).unwrap();
    std::thread::sleep(Duration::from_secs(12)); // at least one whole segment per source
    app.screenshot(&shots().join("exam-en.png")).unwrap();
    assert!(app.text("#exam-connection").unwrap().contains("Online"));

    // Finish: progress, then the receipt.
    app.click("#exam-finish").unwrap();
    app.click("#finish-yes").unwrap();
    app.wait_visible("#receipt", Duration::from_secs(180)).unwrap();
    app.screenshot(&shots().join("finish-en.png")).unwrap();
    let shown_id = app.text("#receipt-session").unwrap();

    // The server holds the session with its segments and events.
    let sessions = s.server.review("/v1/review/sessions").unwrap();
    let list = sessions["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{sessions}");
    assert_eq!(list[0]["id"].as_str().unwrap(), shown_id);
    assert_eq!(list[0]["candidate"], "Aigerim Bekova");
    let detail = s.server.review(&format!("/v1/review/sessions/{shown_id}")).unwrap();
    let sources: Vec<&str> = detail["segments"].as_array().unwrap().iter().map(|g| g["source"].as_str().unwrap()).collect();
    for want in ["camera", "screen-0", "identity-face", "identity-id"] {
        assert!(sources.contains(&want), "no {want} segment on the server: {sources:?}");
    }
    // The retake replaced nothing on the server: only the confirmed photos were filed.
    assert_eq!(sources.iter().filter(|s| s.starts_with("identity-")).count(), 2, "{sources:?}");
    let kinds: Vec<&str> = detail["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for want in ["session.joined", "identity.photo", "exam.page_loaded", "monitor.recorded"] {
        assert!(kinds.contains(&want), "no {want} event on the server: {kinds:?}");
    }
    assert_eq!(list[0]["finished_at"].is_null(), false);
    // Local media deleted after the receipt.
    let left: Vec<_> = std::fs::read_dir(s.data.path().join("spool/segments")).unwrap().filter_map(|e| e.ok()).collect();
    assert!(left.is_empty(), "local copies left: {left:?}");
}

#[test]
fn declining_consent_records_and_sends_nothing() {
    let s = setup("WD-DECLINE");
    let app = &s.app;
    app.wait_visible("#screen-join h2", Duration::from_secs(60)).unwrap();
    app.type_into("#name", "Daniyar").unwrap();
    app.click("#join-continue").unwrap();
    app.click("#consent-decline").unwrap();
    app.wait_visible("#screen-declined h2", Duration::from_secs(10)).unwrap();
    app.screenshot(&shots().join("declined-en.png")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let sessions = s.server.review("/v1/review/sessions").unwrap();
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 0, "a session was created: {sessions}");
    let written: Vec<_> = std::fs::read_dir(s.data.path()).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert!(written.is_empty(), "the app wrote {written:?} without consent");
    // Nothing is captured: no camera preview was started.
    assert_eq!(app.script("return document.getElementById('camera-preview').hidden").unwrap(), serde_json::json!(true));
}

//! The candidate's whole flow in the real app, driven by WebDriver (tauri-driver + WebKitWebDriver)
//! under Xvfb, with PulseAudio playing a tone, the synthetic camera and the reference server:
//! join (from a join link), consent, check, photos, exam page, finish; then the server holds the
//! session with its segments and events. Declining consent records and sends nothing.
//!
//! Run just this suite: `cargo test -p vigil-app --test flow`. Screenshots of every screen (join
//! and consent in all three languages) go to `target/screenshots/app/`.

mod common;

use common::{setup, shots, POLICY};
use std::time::Duration;
use vigil_testkit::AppDriver;

fn set_language(app: &AppDriver, lang: &str) {
    app.click(&format!("#language option[value={lang}]")).unwrap();
    app.wait_script(
        &format!("the page in {lang}"),
        &format!("return document.documentElement.lang === '{lang}'"),
        Duration::from_secs(10),
    )
    .unwrap();
}

/// Screenshots of the current screen in every language, ending in English.
fn shoot_languages(app: &AppDriver, screen: &str) {
    for lang in ["ru", "kk", "en"] {
        set_language(app, lang);
        app.screenshot(&shots().join(format!("{screen}-{lang}.png"))).unwrap();
    }
}

fn join_screen(app: &AppDriver) {
    app.wait_visible("#screen-join h2", common::FIRST_SCREEN).unwrap();
    // The join link filled in the server, the code and the key.
    app.wait_script(
        "the join link's values",
        "return document.getElementById('code').value !== ''",
        Duration::from_secs(10),
    )
    .unwrap();
    // The link named the server and its key: the join screen already says who receives the
    // recordings, as the server signed it.
    app.wait_visible("#join-recipient", Duration::from_secs(10)).unwrap();
    let recipient = app.text("#join-recipient").unwrap();
    assert_eq!(recipient, format!("Your recordings go to {}, at 127.0.0.1.", common::ORGANISER));
    shoot_languages(app, "join");
    app.type_into("#name", "Aigerim Bekova").unwrap();
    app.click("#join-continue").unwrap();
    app.wait_visible("#screen-consent h2", Duration::from_secs(10)).unwrap();
    let consent = app.text("#screen-consent").unwrap();
    assert!(consent.contains("camera"), "the consent screen lists the camera");
    // Who receives it all, as the server signed it, before the candidate agrees.
    assert!(consent.contains(&format!("Your recordings go to {}, at 127.0.0.1.", common::ORGANISER)), "{consent}");
    // Exactly the flags this exam computes (its policy turns speech off), as the server signed them.
    let flags = app.text("#consent-flags").unwrap();
    assert!(
        flags.contains(
            "no face, several faces, head turned away (to a side, down or up), camera covered, a frozen picture — each"
        ),
        "{flags}"
    );
    assert!(!flags.contains("speech") && flags.contains("small picture"), "{flags}");
    shoot_languages(app, "consent");
    assert!(app.text("#consent-recipient").unwrap().contains(common::ORGANISER));
}

#[test]
fn the_whole_flow_against_the_reference_server() {
    let s = setup("WD-FLOW", POLICY);
    let app = &s.app;
    join_screen(app);

    // Consent -> join -> system check with live preview and the exam's policy.
    app.click("#consent-accept").unwrap();
    app.wait_visible("#screen-check h2", Duration::from_secs(30)).unwrap();
    app.wait_visible("#camera-preview", Duration::from_secs(30)).unwrap();
    app.wait_script(
        "the check results",
        "return document.querySelectorAll('#findings li').length >= 8",
        Duration::from_secs(60),
    )
    .unwrap();
    app.wait_script(
        "the microphone level",
        "return document.getElementById('mic-meter').value > -40",
        Duration::from_secs(20),
    )
    .unwrap();
    let verdicts = app.text("#findings").unwrap();
    assert!(verdicts.contains("Camera") && verdicts.contains("Connection to the exam server"), "{verdicts}");
    app.wait_script(
        "Continue enabled by the exam's policy",
        "return !document.getElementById('check-continue').disabled",
        Duration::from_secs(10),
    )
    .unwrap();
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
    app.wait_script(
        "the exam page loaded",
        "return document.getElementById('exam-page').textContent.includes('is open')",
        Duration::from_secs(60),
    )
    .unwrap();
    app.wait_script(
        "camera and screen recording",
        "return document.querySelectorAll('#exam-sources .rec').length >= 2",
        Duration::from_secs(30),
    )
    .unwrap();
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
    let sources: Vec<&str> =
        detail["segments"].as_array().unwrap().iter().map(|g| g["source"].as_str().unwrap()).collect();
    for want in ["camera", "screen-0", "identity-face", "identity-id"] {
        assert!(sources.contains(&want), "no {want} segment on the server: {sources:?}");
    }
    // The retake replaced nothing on the server: only the confirmed photos were filed.
    assert_eq!(sources.iter().filter(|s| s.starts_with("identity-")).count(), 2, "{sources:?}");
    let kinds: Vec<&str> = detail["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for want in ["session.joined", "identity.photo", "exam.page_loaded", "monitor.recorded"] {
        assert!(kinds.contains(&want), "no {want} event on the server: {kinds:?}");
    }
    assert!(!list[0]["finished_at"].is_null());
    // Local media deleted after the receipt.
    let left: Vec<_> =
        std::fs::read_dir(s.data.path().join("spool/segments")).unwrap().filter_map(|e| e.ok()).collect();
    assert!(left.is_empty(), "local copies left: {left:?}");
}

#[test]
fn declining_consent_records_and_sends_nothing() {
    let s = setup("WD-DECLINE", POLICY);
    let app = &s.app;
    app.wait_visible("#screen-join h2", common::FIRST_SCREEN).unwrap();
    app.type_into("#name", "Daniyar").unwrap();
    app.click("#join-continue").unwrap();
    app.click("#consent-decline").unwrap();
    app.wait_visible("#screen-declined h2", Duration::from_secs(10)).unwrap();
    app.screenshot(&shots().join("declined-en.png")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let sessions = s.server.review("/v1/review/sessions").unwrap();
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 0, "a session was created: {sessions}");
    let written: Vec<_> =
        std::fs::read_dir(s.data.path()).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert!(written.is_empty(), "the app wrote {written:?} without consent");
    // Nothing is captured: no camera preview was started.
    assert_eq!(app.script("return document.getElementById('camera-preview').hidden").unwrap(), serde_json::json!(true));
}

//! The candidate's app as a blind candidate meets it: Orca 43 on the AT-SPI bus under Xvfb, the
//! app driven by keystrokes only, and what Orca said (its debug log) as the test. Expected words
//! come from the app's own translations, so a wrong or missing translation fails too.

mod common;

use common::{url_encode, ORGANISER, POLICY};
use std::process::{Command, Stdio};
use std::time::Duration;
use vigil_testkit::{Guard, PulseAudio, ReferenceServer, RenamedProcess, ScreenReader, XvfbDisplay};

const CODE: &str = "HEARD";

fn strings(lang: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../ui/i18n/{lang}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The text of translation `key` in `lang`, up to its first placeholder.
fn say(lang: &str, key: &str) -> String {
    let s = strings(lang)[key].as_str().unwrap_or_else(|| panic!("no {key} in {lang}")).to_owned();
    s.split('{').next().unwrap().trim().to_owned()
}

fn heard(said: &[String], text: &str) -> bool {
    said.iter().any(|s| s.contains(text))
}

#[track_caller]
fn assert_heard(said: &[String], text: &str, when: &str) {
    assert!(heard(said, text), "{when}: Orca did not say {text:?}; it said {said:?}");
}

#[track_caller]
fn assert_all_named(reader: &ScreenReader, screen: &str) {
    let unnamed = reader.unnamed_controls("vigil-app").expect("the AT-SPI walk");
    assert!(unnamed.is_empty(), "controls without a name on the {screen} screen: {unnamed:?}");
}

#[test]
fn a_blind_candidate_hears_each_screen_its_errors_and_warnings() {
    let x = XvfbDisplay::start(1280, 900).expect("Xvfb");
    let reader = ScreenReader::start(&x.display).expect("Orca on the AT-SPI bus (scripts/install-deps installs it)");
    let mut pulse = PulseAudio::start().expect("PulseAudio");
    pulse.play_tone(440, 0.5, 600).expect("tone");
    let server = ReferenceServer::start_with(CODE, &["--organiser", ORGANISER]).expect("vigil-server");
    // The default list forbids AnyDesk; the default action warns.
    server.create_exam(CODE, Some(POLICY), Some(&format!("{}/demo-exam", server.url))).unwrap();
    let data = tempfile::tempdir().unwrap();
    let link = format!("vigil://join?server={}&code={CODE}&key={}", url_encode(&server.url), url_encode(&server.key));
    let _app = Guard::spawn(
        Command::new(env!("CARGO_BIN_EXE_vigil-app"))
            .arg(&link)
            .env("DISPLAY", &x.display)
            .env("VIGIL_DATA_DIR", data.path())
            .env("VIGIL_CAMERA", "synthetic")
            .env("VIGIL_PROVISIONING", "/nonexistent/provisioning.toml")
            .env("LANG", "en_US.UTF-8")
            .env("WAYLAND_DISPLAY", "")
            .envs(reader.env())
            .envs(pulse.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "vigil-app",
    )
    .unwrap();
    let start = vigil_testkit::screen_reader::Mark::default();
    let en = |key: &str| say("en", key);
    let long = Duration::from_secs(60);

    // The join screen's title is spoken when the window appears.
    reader.focus_window("Vigil").unwrap();
    reader.wait_said(start, long, "the join screen's title", |s| s.contains(&en("join.heading"))).unwrap();
    assert_all_named(&reader, "join");

    // Through the fields: filled ones read their value, the empty one is not "invalid" before
    // anything was typed; the server key is a button that says it is collapsed.
    let mut said = Vec::new();
    for _ in 0..4 {
        said.extend(reader.press("Tab").unwrap());
    }
    assert_heard(&said, &en("join.server"), "Tab through the join form");
    assert_heard(&said, &en("join.name"), "Tab through the join form");
    assert!(!said.iter().any(|s| s.contains("invalid")), "a field was read as invalid before input: {said:?}");
    assert_heard(&said, "collapsed", "the server key control");
    assert_heard(&reader.press("space").unwrap(), "expanded", "opening the server key");
    assert_heard(&reader.press("space").unwrap(), "collapsed", "closing the server key");

    // Continue with the name missing: the error is spoken.
    reader.press("shift+Tab").unwrap();
    let said = reader.press("Return").unwrap();
    assert_heard(&said, &en("error.join.missing_fields"), "Continue with no name");

    // Kazakh from the language list: the next control is read in Kazakh.
    reader.press("Tab").unwrap(); // the server address
    reader.press("shift+Tab").unwrap(); // the language list
    reader.press("Down").unwrap();
    reader.press("Down").unwrap();
    let said = reader.press("Tab").unwrap();
    assert_heard(&said, &say("kk", "join.server"), "the field after switching to Kazakh");
    assert!(!heard(&said, &en("join.server")), "still English after switching to Kazakh: {said:?}");
    reader.press("shift+Tab").unwrap();
    reader.press("Up").unwrap();
    reader.press("Up").unwrap();
    reader.press("Tab").unwrap(); // the server address, in English again

    // A server that cannot be reached: the error is spoken.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    reader.press("ctrl+a").unwrap();
    reader.type_text(&format!("http://127.0.0.1:{closed}")).unwrap();
    reader.press("Tab").unwrap();
    reader.press("Tab").unwrap();
    reader.type_text("Aigerim Test").unwrap();
    let said = reader.press("Return").unwrap();
    let said = if heard(&said, &en("error.join.unreachable")) {
        said
    } else {
        reader
            .wait_said(reader.mark(), long, "the unreachable-server error", |s| {
                s.contains(&en("error.join.unreachable"))
            })
            .unwrap()
    };
    assert_heard(&said, &en("error.join.unreachable"), "joining an unreachable server");

    // The right server: consent.
    reader.press("Tab").unwrap(); // from the error to the server address
    reader.press("ctrl+a").unwrap();
    reader.type_text(&server.url).unwrap();
    let mark = reader.mark();
    reader.press("Return").unwrap();
    reader.wait_said(mark, long, "the consent screen's title", |s| s.contains(&en("consent.heading"))).unwrap();
    assert_all_named(&reader, "consent");

    // I agree: the check screen's title, then its result.
    let said = reader.press("Tab").unwrap();
    assert_heard(&said, &en("consent.accept"), "the first button of the consent screen");
    let mark = reader.mark();
    reader.press("space").unwrap();
    reader.wait_said(mark, long, "the check screen's title", |s| s.contains(&en("check.heading"))).unwrap();
    reader.wait_said(mark, long, "the check's result", |s| s.contains(&en("check.overall.warn"))).unwrap();
    assert_all_named(&reader, "check");

    // Continue (after Check again), to the identity screen.
    reader.press("Tab").unwrap();
    let said = reader.press("Tab").unwrap();
    assert_heard(&said, &en("check.continue"), "the check screen's Continue");
    let mark = reader.mark();
    reader.press("space").unwrap();
    reader.wait_said(mark, long, "the identity screen's title", |s| s.contains(&en("identity.heading"))).unwrap();
    assert_all_named(&reader, "identity");
    reader.press("Tab").unwrap();
    reader.press("space").unwrap(); // the face
    reader.press("Tab").unwrap();
    reader.press("space").unwrap(); // the identity document
    let said = reader.press("Tab").unwrap();
    assert_heard(&said, &en("identity.continue"), "the identity screen's Continue");
    reader.press("space").unwrap();
    // The exam screen's title is not asserted: the exam window opens in the same moment and takes
    // the focus, and Orca speaks that window instead (a race the README names).
    reader.focus_window("Vigil exam").unwrap();
    assert_all_named(&reader, "exam");

    // In the exam window, a prohibited application: its warning is spoken there.
    let mark = reader.mark();
    let anydesk = RenamedProcess::start("anydesk", 300).unwrap();
    let warning = say("en", "warning.app");
    reader.wait_said(mark, long, "the prohibited-application warning", |s| s.contains(&warning)).unwrap();

    // A message from the proctor reaches the exam window too, and is spoken there, even while the
    // warning's banner has the focus (focusing it again would be no focus change, and silent).
    let sessions = server.review("/v1/review/sessions").unwrap();
    let id = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();
    let mark = reader.mark();
    let sent = reqwest::blocking::Client::new()
        .post(format!("{}/v1/review/sessions/{id}/instructions", server.url))
        .bearer_auth(&server.admin_token)
        .json(&serde_json::json!({"kind": "message", "text": "Please face the camera"}))
        .send()
        .unwrap();
    assert_eq!(sent.status(), reqwest::StatusCode::ACCEPTED);
    let message = format!("{}: Please face the camera", en("exam.message.from_proctor"));
    reader.wait_said(mark, long, "the proctor's message", |s| s.contains(&message)).unwrap();
    drop(anydesk);

    // Back in the app's window: Finish, confirm, and the finish screen and the receipt are heard.
    reader.focus_window("Vigil").unwrap();
    let said = reader.press("Tab").unwrap();
    assert_heard(&said, &en("exam.finish"), "the exam screen's first control");
    let said = reader.press("space").unwrap();
    assert_heard(&said, &en("exam.finish_yes"), "the confirmation");
    let mark = reader.mark();
    reader.press("space").unwrap();
    // Its title says the exam is being sent, or already that everything arrived when the receipt
    // came before Orca spoke.
    let titles = [en("finish.heading"), en("finish.done_heading")];
    reader.wait_said(mark, long, "the finish screen's title", |s| titles.iter().any(|t| s.contains(t))).unwrap();
    reader
        .wait_said(mark, Duration::from_secs(120), "that everything arrived", |s| s.contains(&en("finish.done")))
        .unwrap();
    assert_all_named(&reader, "finish");
}

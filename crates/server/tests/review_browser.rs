//! The reviewer's workspace in a real browser (Debian's Chromium, headless, through
//! chromedriver): a reviewer signs in by name and password, finds the flagged session first,
//! opens it, saves a verdict that lands in the audit log, downloads the PDF report, and signs out; a wrong password is
//! refused and the next try has to wait.

use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use vigil_testkit::AppDriver;

mod common;
use common::{admin as server_cmd, join, start, upload_face_photo};

const NAME: &str = "Жанар Бекова";
const PASSWORD: &str = "a long reviewer passphrase";

fn sign_in(page: &AppDriver, password: &str) {
    page.type_into("#name", NAME).unwrap();
    page.type_into("#password", password).unwrap();
    page.click("#login button").unwrap();
}

#[test]
fn a_reviewer_signs_in_finds_the_flagged_session_first_and_judges_it() {
    let s = start(1024 * 1024);
    let mut add = Command::new(env!("CARGO_BIN_EXE_vigil-server"))
        .args(["reviewer", "add", "--name", NAME, "--role", "reviewer", "--data"])
        .arg(s.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    assert!(add.wait().unwrap().success());

    let _quiet = join(&s.url, "MATH-101", "Бекзат Quiet");
    let (flagged, token, joined) = join(&s.url, "MATH-101", "Әлия Flagged");
    upload_face_photo(&s, &flagged, &token, &joined, "32x24");
    let events = json!({"events": [
        {"seq": 1, "time": vigil_core::time::now_rfc3339(), "kind": "app.prohibited.running", "severity": "warning",
         "interval": {"id": "anydesk-1", "phase": "open"}, "data": {"app_name": "AnyDesk"}}]});
    Client::new()
        .post(format!("{}/v1/sessions/{flagged}/events", s.url))
        .bearer_auth(&token)
        .json(&events)
        .send()
        .unwrap();

    let page = AppDriver::chromium(&format!("{}/review", s.url)).expect("Chromium and chromedriver (Debian)");
    // A wrong password: refused, and the right one right after must wait.
    sign_in(&page, "not the passphrase");
    page.wait_script(
        "the refusal",
        "return document.getElementById('status').textContent.includes('wrong name or password')",
        Duration::from_secs(10),
    )
    .unwrap();
    sign_in(&page, PASSWORD);
    page.wait_script(
        "the wait",
        "return document.getElementById('status').textContent.includes('try again in')",
        Duration::from_secs(10),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(2200));
    sign_in(&page, PASSWORD);

    // The list: the flagged session first, with its risk and priority.
    page.wait_visible("#sessions table a", Duration::from_secs(10)).unwrap();
    assert_eq!(page.text("#who-name").unwrap(), NAME);
    assert_eq!(page.text("#sessions table tr:nth-child(2) a").unwrap(), "Әлия Flagged");
    let first_row = page.text("#sessions table tr:nth-child(2)").unwrap();
    assert!(first_row.contains("low") && first_row.contains("15") && first_row.contains("1 warnings"), "{first_row}");

    // The session: its face photo is a picture; a verdict with a comment, saved through the API
    // with the CSRF token.
    page.click("#sessions table tr:nth-child(2) a").unwrap();
    page.wait_script(
        "the face photo shown as a picture",
        "const i = document.querySelector('#detail img'); return !!i && i.complete && i.naturalWidth === 32",
        Duration::from_secs(10),
    )
    .unwrap();
    page.wait_visible("form.verdict select", Duration::from_secs(10)).unwrap();
    page.script("document.querySelector('form.verdict select').value = 'violation'; return true").unwrap();
    page.type_into("form.verdict input", "AnyDesk open at the start").unwrap();
    page.click("form.verdict button").unwrap();
    page.wait_script(
        "saved",
        "return document.querySelector('form.verdict [role=status]').textContent === 'saved'",
        Duration::from_secs(10),
    )
    .unwrap();

    // The audit log, as an admin script reads it: this reviewer viewed and judged the session.
    let admin = server_cmd(s.dir.path(), &["token"]);
    let audit: Value =
        Client::new().get(format!("{}/v1/review/audit", s.url)).bearer_auth(&admin).send().unwrap().json().unwrap();
    let by_reviewer: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == NAME && e["target"] == flagged.as_str())
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["detail"]["verdict"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert_eq!(
        by_reviewer,
        [("session.viewed".to_owned(), String::new()), ("verdict.set".to_owned(), "violation".to_owned())]
    );

    // The PDF report through the page's link, with the sign-in's cookie: the candidate's name,
    // the verdict and the flag are in its text.
    let pdf = page
        .script_async(
            "fetch(document.querySelector('a.report-pdf').href).then((r) => r.arrayBuffer()).then((b) => { \
             let s = ''; for (const x of new Uint8Array(b)) s += String.fromCharCode(x); arguments[0](btoa(s)); })",
        )
        .unwrap();
    let pdf = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, pdf.as_str().unwrap()).unwrap();
    let text = common::pdf_text(&pdf);
    for expected in ["Әлия Flagged", "violation", "AnyDesk open at the start", "app.prohibited.running — AnyDesk"]
    {
        assert!(text.contains(expected), "the PDF lacks {expected:?}: {text}");
    }

    // In Kazakh: the picker translates the page and the list, and remembers the choice.
    page.script(
        "const l = document.getElementById('lang'); l.value = 'kk'; l.dispatchEvent(new Event('change')); return true",
    )
    .unwrap();
    page.wait_script(
        "the list in Kazakh",
        "const th = document.querySelector('#sessions th'); return !!th && th.textContent === 'Кандидат'",
        Duration::from_secs(10),
    )
    .unwrap();
    let first_row = page.text("#sessions table tr:nth-child(2)").unwrap();
    assert!(first_row.contains("төмен") && first_row.contains("бұзушылық"), "{first_row}");
    assert_eq!(page.text("#sign-out").unwrap(), "Шығу");
    assert_eq!(page.script("return document.documentElement.lang").unwrap(), json!("kk"));

    // Signed out: the page shows the sign-in form again and the cookie opens nothing.
    page.click("#sign-out").unwrap();
    page.wait_visible("#login", Duration::from_secs(10)).unwrap();
    let after = page
        .script_async("fetch('/v1/review/sessions', {credentials: 'same-origin'}).then((r) => arguments[0](r.status))");
    assert_eq!(after.unwrap(), json!(401));
}

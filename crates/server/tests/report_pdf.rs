//! The session report as PDF: in Kazakh, with the candidate's name, the verdict, the flag, the
//! identity photo as a picture and every segment's hash; refused without a sign-in or in a
//! language it does not have; in the audit log.

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Command;

mod common;
use common::{admin, join, pdf_text, start, upload_face_photo};

#[test]
fn the_pdf_report_in_kazakh_names_the_candidate_the_verdict_the_flag_and_shows_the_photo() {
    let s = start(1024 * 1024);
    let token = admin(s.dir.path(), &["token"]);
    let (id, candidate_token, joined) = join(&s.url, "MATH-101", "Сәуле Жұмабекқызы");
    upload_face_photo(&s, &id, &candidate_token, &joined, "320x240");
    let events = json!({"events": [
        {"seq": 1, "time": vigil_core::time::now_rfc3339(), "kind": "app.prohibited.started", "severity": "warning",
         "interval": {"id": "anydesk-1", "phase": "open"}, "data": {"app_name": "AnyDesk"}}]});
    let r = Client::new()
        .post(format!("{}/v1/sessions/{id}/events", s.url))
        .bearer_auth(&candidate_token)
        .json(&events)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = Client::new()
        .put(format!("{}/v1/review/sessions/{id}/verdict", s.url))
        .bearer_auth(&token)
        .json(&json!({"verdict": "violation", "comment": "AnyDesk ашық тұрды"}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());

    let url = format!("{}/v1/review/sessions/{id}/report.pdf", s.url);
    let r = Client::new().get(format!("{url}?lang=kk")).bearer_auth(&token).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().unwrap();
    let text = pdf_text(&pdf);
    for expected in [
        "Сессия туралы есеп",
        "Сәуле Жұмабекқызы",
        "бұзушылық",
        "AnyDesk ашық тұрды",
        "app.prohibited.started — AnyDesk",
        "ескерту",
        "identity-face #0",
    ] {
        assert!(text.contains(expected), "the PDF lacks {expected:?}:\n{text}");
    }
    // The identity photo is a picture of its own size in the PDF.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &pdf).unwrap();
    let images = Command::new("pdfimages").arg("-list").arg(file.path()).output().expect("pdfimages (poppler-utils)");
    let listing = String::from_utf8_lossy(&images.stdout);
    assert!(listing.lines().any(|l| l.contains(" 320 ") && l.contains(" 240 ")), "no 320x240 picture:\n{listing}");

    // Refused: no sign-in, a language the report does not have.
    assert_eq!(Client::new().get(&url).send().unwrap().status(), StatusCode::UNAUTHORIZED);
    let r = Client::new().get(format!("{url}?lang=de")).bearer_auth(&token).send().unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let audit: Value =
        Client::new().get(format!("{}/v1/review/audit", s.url)).bearer_auth(&token).send().unwrap().json().unwrap();
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "session.exported" && e["detail"]["format"] == "pdf"),
        "{audit:#}"
    );
}

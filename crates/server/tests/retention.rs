//! The data lifecycle: a session past its exam's retention period is deleted (media, events,
//! name) and the deletion log keeps a signed receipt with its hashes; an admin can delete a
//! session at once and gets the same receipt; a session of an exam without retention stays.

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vigil_core::protocol::{DeletionBody, SignedJson, SignedKind};

mod common;
use common::{admin as server_cmd, create_upload, start};

/// A finished session of `exam` with one uploaded segment; its id and the segment's hash.
fn finished_session(server: &common::Server, exam: &str) -> (String, String) {
    let (url, c) = (&server.url, Client::new());
    let joined: Value = c
        .post(format!("{url}/v1/sessions"))
        .json(&json!({"exam_code": exam, "candidate": {"name": "Айгерим"}, "consent": {"accepted": true, "at": "2026-11-25T10:00:00Z", "inventory_version": 1}, "device": {"os": "Debian"}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let (id, token) = (joined["session_id"].as_str().unwrap().to_owned(), joined["token"].as_str().unwrap().to_owned());
    let body = common::seal_for(&joined, b"ten seconds of media");
    let created = create_upload(server, &token, &id, "camera", 0, &body, None);
    let location = created.headers()["Location"].to_str().unwrap().to_owned();
    let r = c
        .patch(format!("{url}{location}"))
        .bearer_auth(&token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        c.post(format!("{url}/v1/sessions/{id}/finish")).bearer_auth(&token).send().unwrap().status(),
        StatusCode::OK
    );
    (id, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)))
}

#[test]
fn past_retention_a_session_is_deleted_and_a_signed_receipt_remains() {
    let s = start(1024 * 1024);
    let dir = s.dir.path();
    server_cmd(dir, &["exam", "create", "--code", "SHORT", "--retention-days", "0"]);
    let key = server_cmd(dir, &["key"]);
    let token = server_cmd(dir, &["token"]);
    let c = Client::new();

    let (expired, expired_hash) = finished_session(&s, "SHORT");
    let (kept, _) = finished_session(&s, "MATH-101");
    assert!(dir.join("segments").join(&expired).exists());

    // The sweep (hourly in the server; now from the command line) deletes only the expired one.
    let swept = server_cmd(dir, &["retention", "sweep"]);
    assert_eq!(swept, expired);
    let gone = c.get(format!("{}/v1/review/sessions/{expired}", s.url)).bearer_auth(&token).send().unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert!(!dir.join("segments").join(&expired).exists(), "the media is still on disk");
    let still = c.get(format!("{}/v1/review/sessions/{kept}", s.url)).bearer_auth(&token).send().unwrap();
    assert_eq!(still.status(), StatusCode::OK);

    // The deletion log: a receipt signed with the server's key, with the hash and not the name.
    let log: Value =
        c.get(format!("{}/v1/review/deletions", s.url)).bearer_auth(&token).send().unwrap().json().unwrap();
    let receipt: SignedJson = serde_json::from_value(log["deletions"][0].clone()).unwrap();
    let body: DeletionBody = receipt.open(SignedKind::Deletion, &key).expect("the deletion receipt verifies");
    assert_eq!(
        (body.session_id.as_str(), body.reason.as_str(), body.by.as_str()),
        (expired.as_str(), "retention", "retention")
    );
    assert_eq!(body.segments[0].sha256, expired_hash);
    assert!(!receipt.json.contains("Айгерим"), "the deletion log keeps the candidate's name");
    // It is not a receipt of another kind, and a changed one does not verify.
    assert!(receipt.open::<DeletionBody>(SignedKind::Receipt, &key).is_err());
    let forged =
        SignedJson { json: receipt.json.replace("retention", "request"), signature: receipt.signature.clone() };
    assert!(forged.open::<DeletionBody>(SignedKind::Deletion, &key).is_err());

    // An admin deletes the other session now: the answer is its receipt.
    let deleted = c.delete(format!("{}/v1/review/sessions/{kept}", s.url)).bearer_auth(&token).send().unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let receipt: SignedJson = deleted.json().unwrap();
    let body: DeletionBody = receipt.open(SignedKind::Deletion, &key).unwrap();
    assert_eq!((body.reason.as_str(), body.by.as_str(), body.events), ("request", "admin-token", 0));
    let again = c.delete(format!("{}/v1/review/sessions/{kept}", s.url)).bearer_auth(&token).send().unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let list: Value =
        c.get(format!("{}/v1/review/sessions", s.url)).bearer_auth(&token).send().unwrap().json().unwrap();
    assert_eq!(list["total"], 0);
}

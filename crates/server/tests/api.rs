//! The reference server over real HTTP on 127.0.0.1: sessions, events, tus uploads, receipts,
//! review, and bad input that must get a clear error while the server stays up.

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

mod common;
use common::{admin as server_cmd, create_upload, start, Server};

fn join(s: &Server, code: &str) -> reqwest::blocking::Response {
    Client::new()
        .post(format!("{}/v1/sessions", s.url))
        .json(&json!({"exam_code": code, "candidate": {"name": "Aigerim"}, "consent": {"accepted": true, "at": "2026-11-25T10:00:00Z", "inventory_version": 1}, "device": {"os": "Debian"}}))
        .send()
        .unwrap()
}

fn patch(s: &Server, token: &str, location: &str, offset: usize, chunk: &[u8]) -> reqwest::blocking::Response {
    Client::new()
        .patch(format!("{}{location}", s.url))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(chunk.to_vec())
        .send()
        .unwrap()
}

#[test]
fn a_whole_session_with_resumed_upload_and_receipt() {
    let s = start(10 * 1024 * 1024);
    let resp = join(&s, "MATH-101");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let joined: Value = resp.json().unwrap();
    let (id, token) = (joined["session_id"].as_str().unwrap().to_owned(), joined["token"].as_str().unwrap().to_owned());
    // The policy is signed with the key the server prints.
    let key = server_cmd(s.dir.path(), &["key"]);
    let policy: vigil_core::protocol::SignedPolicy = serde_json::from_value(joined["policy"].clone()).unwrap();
    policy.verify(&key).expect("signature");
    assert_eq!(joined["exam_url"], "https://exam.example/start");

    // Events: out of order and repeated; the ack is the highest contiguous seq.
    let post_events = |seqs: &[u64]| -> Value {
        let events: Vec<Value> = seqs
            .iter()
            .map(|n| json!({"seq": n, "time": "2026-11-25T10:00:00Z", "kind": "focus.lost", "data": {"n": n}}))
            .collect();
        Client::new()
            .post(format!("{}/v1/sessions/{id}/events", s.url))
            .bearer_auth(&token)
            .json(&json!({"events": events}))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    assert_eq!(post_events(&[1, 2, 4])["acked"], 2);
    assert_eq!(post_events(&[3, 4, 1])["acked"], 4);

    // A segment (sealed to the exam's recipient, as clients send them) in two PATCHes,
    // interrupted in between (HEAD tells where to resume).
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let body = common::seal_for(&joined, &plain);
    let created = create_upload(&s, &token, &id, "camera", 0, &body, None);
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["Location"].to_str().unwrap().to_owned();
    assert_eq!(patch(&s, &token, &location, 0, &body[..100_000]).status(), StatusCode::NO_CONTENT);
    let head = Client::new()
        .head(format!("{}{location}", s.url))
        .bearer_auth(&token)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .unwrap();
    assert_eq!(head.headers()["Upload-Offset"], "100000");
    assert_eq!(patch(&s, &token, &location, 50_000, &body[50_000..]).status(), StatusCode::CONFLICT);
    let done = patch(&s, &token, &location, 100_000, &body[100_000..]);
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert_eq!(done.headers()["Upload-Offset"], body.len().to_string().as_str());

    // Proctor instruction through the review API, delivered by the next heartbeat.
    let admin = server_cmd(s.dir.path(), &["token"]);
    let r = Client::new()
        .post(format!("{}/v1/review/sessions/{id}/instructions", s.url))
        .bearer_auth(&admin)
        .json(&json!({"kind": "message", "text": "Please face the camera"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let hb: Value = Client::new()
        .post(format!("{}/v1/sessions/{id}/heartbeat", s.url))
        .bearer_auth(&token)
        .json(&json!({"backlog_segments": 0, "backlog_events": 0}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(hb["instructions"][0]["text"], "Please face the camera");

    let receipt: Value = Client::new()
        .post(format!("{}/v1/sessions/{id}/finish", s.url))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(receipt["events"], 4);
    assert_eq!(receipt["segments"][0]["sha256"], hex::encode(Sha256::digest(&body)));
    assert_eq!(receipt["segments"][0]["bytes"], body.len());
    let signed: vigil_core::protocol::Receipt = serde_json::from_value(receipt.clone()).unwrap();
    assert_eq!(signed.verify(&key).expect("the receipt is signed with the server key").events, 4);

    // Review: the session, its segment (byte for byte) and its events.
    let detail: Value = Client::new()
        .get(format!("{}/v1/review/sessions/{id}", s.url))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(detail["events"].as_array().unwrap().len(), 4);
    let download = detail["segments"][0]["download"].as_str().unwrap();
    let media = Client::new().get(format!("{}{download}", s.url)).bearer_auth(&admin).send().unwrap().bytes().unwrap();
    assert_eq!(media.as_ref(), plain.as_slice(), "the reviewer gets the segment decrypted");
    let list: Value =
        Client::new().get(format!("{}/v1/review/sessions", s.url)).bearer_auth(&admin).send().unwrap().json().unwrap();
    assert_eq!(list["sessions"][0]["candidate"], "Aigerim");
    assert_eq!(
        Client::new().get(format!("{}/v1/review/sessions", s.url)).bearer_auth(&token).send().unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn bad_input_gets_clear_errors_and_the_server_stays_up() {
    let s = start(1000);
    let wrong = join(&s, "NO-SUCH-EXAM");
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    let wrong: Value = wrong.json().unwrap();
    assert_eq!(wrong["error"]["code"], "exam.unknown_code", "{wrong}");
    assert!(wrong["error"]["message"].as_str().unwrap().contains("NO-SUCH-EXAM"), "{wrong}");

    let malformed = Client::new()
        .post(format!("{}/v1/sessions", s.url))
        .header("Content-Type", "application/json")
        .body("{\"exam_code\": ")
        .send()
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(malformed.json::<Value>().unwrap()["error"]["code"], "request.malformed");

    let joined: Value = join(&s, "MATH-101").json().unwrap();
    let (id, token) = (joined["session_id"].as_str().unwrap(), joined["token"].as_str().unwrap());
    let bad_token = Client::new()
        .post(format!("{}/v1/sessions/{id}/events", s.url))
        .bearer_auth("not-the-token")
        .json(&json!({"events": []}))
        .send()
        .unwrap();
    assert_eq!(bad_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(bad_token.json::<Value>().unwrap()["error"]["code"], "auth.wrong_token");

    let too_big = create_upload(&s, token, id, "camera", 0, &[0u8; 2000], None);
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let traversal = create_upload(&s, token, id, "../../etc", 0, b"abc", None);
    assert_eq!(traversal.status(), StatusCode::BAD_REQUEST);
    let traversal = Client::new()
        .get(format!("{}/v1/uploads/..%2F..%2Fserver.db", s.url))
        .header("Tus-Resumable", "1.0.0")
        .send()
        .unwrap();
    assert!(traversal.status().is_client_error());

    // A segment whose bytes do not match its announced hash is refused and not filed.
    let created = create_upload(&s, token, id, "camera", 0, b"hello", Some(&"0".repeat(64)));
    let location = created.headers()["Location"].to_str().unwrap().to_owned();
    assert_eq!(patch(&s, token, &location, 0, b"hello").status().as_u16(), 460);
    let receipt: Value = Client::new()
        .post(format!("{}/v1/sessions/{id}/finish", s.url))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(receipt["segments"].as_array().unwrap().len(), 0);

    assert_eq!(Client::new().get(format!("{}/v1/health", s.url)).send().unwrap().status(), StatusCode::OK);
}

/// A segment uploaded with its start: the review answer puts it on the session's clock, and the
/// download honours `Range` (206 with exactly those bytes, 416 past the end).
#[test]
fn segments_carry_their_start_and_downloads_honour_range() {
    let s = start(10 * 1024 * 1024);
    let joined: Value = join(&s, "MATH-101").json().unwrap();
    let (id, token) = (joined["session_id"].as_str().unwrap().to_owned(), joined["token"].as_str().unwrap().to_owned());
    let admin = server_cmd(s.dir.path(), &["token"]);
    let review = |path: &str| Client::new().get(format!("{}{path}", s.url)).bearer_auth(&admin);
    let started: Value = review(&format!("/v1/review/sessions/{id}")).send().unwrap().json().unwrap();
    let session_start = vigil_core::time::parse_rfc3339_ms(started["session"]["started_at"].as_str().unwrap()).unwrap();

    let plain: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    let body = common::seal_for(&joined, &plain);
    let segment_start = vigil_core::time::rfc3339(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(session_start as u64 + 12_345),
    );
    let upload = |meta_extra: &str| {
        Client::new()
            .post(format!("{}/v1/uploads", s.url))
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", body.len().to_string())
            .header(
                "Upload-Metadata",
                format!(
                    "session {},source {},sequence {},sha256 {}{meta_extra}",
                    common::b64(&id),
                    common::b64("screen-0"),
                    common::b64("3"),
                    common::b64(&hex::encode(Sha256::digest(&body)))
                ),
            )
            .send()
            .unwrap()
    };
    // A time that is not one, or half of one, is refused.
    let bad = format!(
        ",started_at {},start_ms {},duration_ms {}",
        common::b64("yesterday"),
        common::b64("1"),
        common::b64("2")
    );
    assert_eq!(upload(&bad).status(), StatusCode::BAD_REQUEST);
    assert_eq!(upload(&format!(",start_ms {}", common::b64("1"))).status(), StatusCode::BAD_REQUEST);
    let good = format!(
        ",started_at {},start_ms {},duration_ms {}",
        common::b64(&segment_start),
        common::b64("30000"),
        common::b64("10000")
    );
    let created = upload(&good);
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["Location"].to_str().unwrap().to_owned();
    assert_eq!(patch(&s, &token, &location, 0, &body).status(), StatusCode::NO_CONTENT);

    let detail: Value = review(&format!("/v1/review/sessions/{id}")).send().unwrap().json().unwrap();
    let seg = &detail["segments"][0];
    assert_eq!(seg["started_at"], segment_start.as_str());
    assert_eq!((seg["start_ms"].as_u64(), seg["duration_ms"].as_u64()), (Some(30_000), Some(10_000)));
    assert_eq!(seg["offset_ms"], 12_345, "the segment's offset from the session's start");

    let download = seg["download"].as_str().unwrap();
    let whole = review(download).send().unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["Accept-Ranges"], "bytes");
    let part = review(download).header("Range", "bytes=1000-1999").send().unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["Content-Range"], format!("bytes 1000-1999/{}", plain.len()).as_str());
    assert_eq!(part.bytes().unwrap().as_ref(), &plain[1000..2000]);
    let tail = review(download).header("Range", "bytes=-100").send().unwrap();
    assert_eq!(tail.bytes().unwrap().as_ref(), &plain[plain.len() - 100..]);
    let past = review(download).header("Range", format!("bytes={}-", plain.len())).send().unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.headers()["Content-Range"], format!("bytes */{}", plain.len()).as_str());
}

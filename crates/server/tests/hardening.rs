//! The attacks of the evidence-hardening issue, each against a real server on 127.0.0.1: filed
//! media replaced before and after finish, anonymous memory exhaustion, world-readable keys,
//! numbers out of range, guessed exam codes, unencrypted uploads, missing security headers.

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;

mod common;
use common::{admin as server_cmd, create_upload, seal_for, start, start_with, Server};

struct Joined {
    id: String,
    token: String,
    answer: Value,
}

fn join(s: &Server) -> Joined {
    let answer: Value = Client::new()
        .post(format!("{}/v1/sessions", s.url))
        .json(&json!({"exam_code": "MATH-101", "candidate": {"name": "Aigerim"}, "consent": {"accepted": true, "at": "2026-11-25T10:00:00Z", "inventory_version": 1}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    Joined {
        id: answer["session_id"].as_str().unwrap().to_owned(),
        token: answer["token"].as_str().unwrap().to_owned(),
        answer,
    }
}

fn create(s: &Server, j: &Joined, source: &str, seq: u64, body: &[u8]) -> reqwest::blocking::Response {
    create_upload(s, &j.token, &j.id, source, seq, body, None)
}

/// Creates and sends a whole upload; the status of the last request.
fn upload(s: &Server, j: &Joined, source: &str, seq: u64, body: &[u8]) -> (StatusCode, Value) {
    let created = create(s, j, source, seq, body);
    if created.status() != StatusCode::CREATED {
        let status = created.status();
        return (status, created.json().unwrap_or_default());
    }
    let location = created.headers()["Location"].to_str().unwrap().to_owned();
    let resp = Client::new()
        .patch(format!("{}{location}", s.url))
        .bearer_auth(&j.token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(body.to_vec())
        .send()
        .unwrap();
    let status = resp.status();
    (status, resp.json().unwrap_or_default())
}

fn post(s: &Server, j: &Joined, path: &str, body: Value) -> reqwest::blocking::Response {
    Client::new()
        .post(format!("{}/v1/sessions/{}/{path}", s.url, j.id))
        .bearer_auth(&j.token)
        .json(&body)
        .send()
        .unwrap()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

#[test]
fn filed_evidence_is_never_replaced_and_a_finished_session_takes_nothing() {
    let s = start(10 * 1024 * 1024);
    let j = join(&s);
    let original = seal_for(&j.answer, b"the candidate's real screen");
    let forged = seal_for(&j.answer, b"a harmless-looking replacement");
    assert_eq!(upload(&s, &j, "screen-0", 0, &original).0, StatusCode::NO_CONTENT);

    // Another file under the same name: refused, at creation already.
    let (status, body) = upload(&s, &j, "screen-0", 0, &forged);
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "segment.exists", "{body}");
    // The same bytes again (a retry after a lost answer): an idempotent success.
    assert_eq!(upload(&s, &j, "screen-0", 0, &original).0, StatusCode::NO_CONTENT);

    // Filed read-only, and served as filed.
    let path = s.dir.path().join("segments").join(&j.id).join("screen-0-000000.mp4");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o400);

    let receipt: Value = post(&s, &j, "finish", json!({})).json().unwrap();
    assert_eq!(receipt["segments"].as_array().unwrap().len(), 1);
    assert_eq!(receipt["segments"][0]["sha256"], hex::encode(Sha256::digest(&original)));

    // After finish: no uploads, events, heartbeats; finish again answers the same receipt.
    let (status, body) = upload(&s, &j, "screen-0", 1, &forged);
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "session.finished"), "{body}");
    let (status, body) = upload(&s, &j, "screen-0", 0, &forged);
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "session.finished"), "{body}");
    let events = post(&s, &j, "events", json!({"events": [{"seq": 1, "time": "t", "kind": "focus.lost", "data": {}}]}));
    assert_eq!(events.status(), StatusCode::CONFLICT);
    assert_eq!(post(&s, &j, "heartbeat", json!({})).status(), StatusCode::CONFLICT);
    let again: Value = post(&s, &j, "finish", json!({})).json().unwrap();
    assert_eq!(again, receipt);

    // Someone with access to the disk changes the filed file: the review download says so.
    let admin = server_cmd(s.dir.path(), &["token"]);
    let download = format!("{}/v1/review/sessions/{}/segments/screen-0/0", s.url, j.id);
    let fine = Client::new().get(&download).bearer_auth(&admin).send().unwrap();
    assert_eq!(fine.status(), StatusCode::OK);
    assert_eq!(fine.bytes().unwrap().as_ref(), b"the candidate's real screen");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, &forged).unwrap();
    let altered = Client::new().get(&download).bearer_auth(&admin).send().unwrap();
    assert_eq!(altered.status(), StatusCode::CONFLICT);
    assert_eq!(code(&altered.json().unwrap()), "segment.altered");
}

#[test]
fn uploads_that_are_not_sealed_to_the_exam_are_refused() {
    let s = start(10 * 1024 * 1024);
    let j = join(&s);
    let (status, body) = upload(&s, &j, "camera", 0, b"plaintext video bytes");
    assert_eq!((status, code(&body)), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "upload.not_encrypted"), "{body}");
    let receipt: Value = post(&s, &j, "finish", json!({})).json().unwrap();
    assert!(receipt["segments"].as_array().unwrap().is_empty());
}

#[test]
fn the_data_directory_and_the_keys_are_private() {
    let s = start(1024);
    let j = join(&s);
    assert_eq!(upload(&s, &j, "camera", 0, &seal_for(&j.answer, b"x")).0, StatusCode::NO_CONTENT);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = s.dir.path();
    assert_eq!(mode(dir), 0o700);
    for sub in ["segments", "uploads", "keys"] {
        assert_eq!(mode(&dir.join(sub)), 0o700, "{sub}");
    }
    for f in ["server.db", "server.db-wal", "ed25519.key", "admin.token", "keys/exam-MATH-101.age"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&dir.join("segments").join(&j.id)), 0o700);
    // The identity is in its file, not next to the media in the database.
    let identity = std::fs::read_to_string(dir.join("keys/exam-MATH-101.age")).unwrap();
    assert!(identity.starts_with("AGE-SECRET-KEY-"));
    for f in ["server.db", "server.db-wal"] {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        assert!(!bytes.windows(15).any(|w| w == b"AGE-SECRET-KEY-"), "{f} holds an identity");
    }
}

#[test]
fn numbers_outside_the_stored_range_are_a_400() {
    let s = start(1024);
    let j = join(&s);
    let big = 1u64 << 63;
    let events =
        post(&s, &j, "events", json!({"events": [{"seq": 1u64 << 63, "time": "t", "kind": "focus.lost", "data": {}}]}));
    assert_eq!(events.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&events.json().unwrap()), "request.out_of_range");
    let created = create(&s, &j, "camera", big, b"abc");
    assert_eq!(created.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&created.json().unwrap()), "request.out_of_range");
    let admin = server_cmd(s.dir.path(), &["token"]);
    let review =
        Client::new().get(format!("{}/v1/review/sessions/{}/segments/camera/{big}", s.url, j.id)).bearer_auth(&admin);
    assert_eq!(review.send().unwrap().status(), StatusCode::BAD_REQUEST);
}

#[test]
fn guessing_exam_codes_meets_429() {
    let s = start(1024);
    let client = Client::new();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for n in 0..300 {
        let resp = client
            .post(format!("{}/v1/sessions", s.url))
            .json(&json!({"exam_code": format!("GUESS-{n}"), "candidate": {"name": "x"}, "consent": {"accepted": true, "at": "t", "inventory_version": 1}}))
            .send()
            .unwrap();
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = resp.headers().get("Retry-After").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        }
        statuses.push(resp.status());
    }
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    let unknown = statuses.iter().filter(|s| **s == StatusCode::NOT_FOUND).count();
    assert_eq!(unknown, 20, "the first 20 wrong codes get their answer");
    assert_eq!(limited, 280);
    assert!(retry_after.is_some_and(|s| (1..=60).contains(&s)), "{retry_after:?}");
}

#[test]
fn oversized_device_facts_and_patches_are_refused() {
    let s = start_with(10 * 1024 * 1024, &["--max-patch-bytes", "1000"]);
    let fat = Client::new()
        .post(format!("{}/v1/sessions", s.url))
        .json(&json!({"exam_code": "MATH-101", "candidate": {"name": "x"}, "consent": {"accepted": true, "at": "t", "inventory_version": 1}, "device": {"blob": "x".repeat(40_000)}}))
        .send()
        .unwrap();
    assert_eq!(fat.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let j = join(&s);
    let sealed = seal_for(&j.answer, &[7u8; 5000]);
    let created = create(&s, &j, "camera", 0, &sealed);
    assert_eq!(created.headers()["Vigil-Max-Patch-Bytes"], "1000");
    let (status, body) = upload(&s, &j, "camera", 1, &sealed);
    assert_eq!((status, code(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "upload.patch_too_large"), "{body}");
}

#[test]
fn review_answers_carry_security_headers_and_the_page_has_no_inline_script() {
    let s = start(1024);
    let admin = server_cmd(s.dir.path(), &["token"]);
    for path in ["/review", "/review.js", "/v1/review/sessions"] {
        let resp = Client::new().get(format!("{}{path}", s.url)).bearer_auth(&admin).send().unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let csp = resp.headers()["Content-Security-Policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(resp.headers()["X-Content-Type-Options"], "nosniff");
        assert_eq!(resp.headers()["Cache-Control"], "no-store");
    }
    let page = Client::new().get(format!("{}/review", s.url)).send().unwrap().text().unwrap();
    assert!(page.contains("<script src=\"/review.js\">"));
    assert!(!page.contains("<script>") && !page.contains("<style>"), "inline script or style in the page");
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Four anonymous clients each push a 150 MiB body: the server reads none of it, stays small,
/// and keeps answering.
#[test]
fn an_anonymous_flood_does_not_exhaust_memory() {
    let s = start(256 * 1024 * 1024);
    let j = join(&s);
    let created = create(&s, &j, "camera", 0, &seal_for(&j.answer, &[1u8; 10]));
    let location = created.headers()["Location"].to_str().unwrap().to_owned();
    let pid = s.child.id();
    let before = rss_mib(pid);
    let url = s.url.clone();
    let floods: Vec<_> = (0..4)
        .map(|n| {
            let (url, location) = (url.clone(), location.clone());
            std::thread::spawn(move || {
                const SIZE: u64 = 150 * 1024 * 1024;
                let body = reqwest::blocking::Body::sized(std::io::Read::take(std::io::repeat(n as u8), SIZE), SIZE);
                let target = if n % 2 == 0 { location } else { format!("/v1/sessions/{}/events", "a".repeat(24)) };
                let client = Client::builder().timeout(std::time::Duration::from_secs(60)).build().unwrap();
                let req = if n % 2 == 0 {
                    client
                        .patch(format!("{url}{target}"))
                        .header("Tus-Resumable", "1.0.0")
                        .header("Upload-Offset", "0")
                        .header("Content-Type", "application/offset+octet-stream")
                } else {
                    client.post(format!("{url}{target}")).header("Content-Type", "application/json")
                };
                req.body(body).send().map(|r| r.status())
            })
        })
        .collect();
    let mut peak = before;
    while !floods.iter().all(|f| f.is_finished()) {
        peak = peak.max(rss_mib(pid));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for f in floods {
        if let Ok(status) = f.join().unwrap() {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    assert!(peak < 200.0, "server RSS went to {peak:.0} MiB (from {before:.0})");
    assert_eq!(Client::new().get(format!("{}/v1/health", s.url)).send().unwrap().status(), StatusCode::OK);
    eprintln!("server RSS {before:.1} MiB before, peak {peak:.1} MiB during the flood");
}

//! `vigil run --headless` against the reference server: a whole session, a kill -9 and a resume,
//! a server outage, and the errors a candidate must understand.

use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use vigil_testkit::{ReferenceServer, XvfbDisplay};

fn run_cmd(server: &ReferenceServer, display: &str, data: &Path, code: &str, key: &str, secs: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.args(["run", "--headless", "--consent", "--name", "Aigerim Test", "--camera", "synthetic", "--mic", "none"])
        .args(["--server", &server.url, "--server-key", key, "--exam-code", code, "--duration", secs, "--drain-timeout", "120"])
        .arg("--data-dir")
        .arg(data)
        .env("DISPLAY", display)
        .env_remove("WAYLAND_DISPLAY");
    cmd
}

fn finished(out: &Output) -> Value {
    assert!(out.status.success(), "vigil run failed ({:?}): {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("receipt is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// The server holds each segment and event exactly once, the receipt agrees with it, and every
/// segment the server holds matches its hash.
fn assert_server_matches(server: &ReferenceServer, receipt: &Value) {
    let id = receipt["session_id"].as_str().unwrap();
    let detail = server.review(&format!("/v1/review/sessions/{id}")).unwrap();
    let segments = detail["segments"].as_array().unwrap();
    let keys: HashSet<(String, u64)> = segments.iter().map(|s| (s["source"].as_str().unwrap().to_owned(), s["sequence"].as_u64().unwrap())).collect();
    assert_eq!(keys.len(), segments.len(), "duplicate segments");
    assert_eq!(segments.len() as u64, receipt["segments"].as_u64().unwrap());
    for source in ["camera", "screen-0"] {
        let mut seqs: Vec<u64> = keys.iter().filter(|(s, _)| s == source).map(|(_, n)| *n).collect();
        seqs.sort();
        assert!(!seqs.is_empty(), "no {source} segments");
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "{source} sequence has gaps");
    }
    let events = detail["events"].as_array().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "events not exactly once and contiguous");
    assert_eq!(receipt["last_event_seq"].as_u64().unwrap(), seqs.len() as u64);
    for seg in segments.iter().take(3) {
        let bytes = reqwest::blocking::Client::new()
            .get(format!("{}{}", server.url, seg["download"].as_str().unwrap()))
            .bearer_auth(&server.admin_token)
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        assert_eq!(vigil_core::spool::sha256_hex(&bytes), seg["sha256"].as_str().unwrap());
    }
}

#[test]
fn kill_9_then_the_same_command_resumes_and_nothing_is_lost_or_doubled() {
    let x = XvfbDisplay::start(1280, 720).expect("Xvfb");
    let server = ReferenceServer::start("MATH-101").unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = run_cmd(&server, &x.display, data.path(), "MATH-101", &server.key, "60").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(13));
    child.kill().unwrap();
    child.wait().unwrap();
    let sessions = server.review("/v1/review/sessions").unwrap();
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);

    let receipt = finished(&run_cmd(&server, &x.display, data.path(), "MATH-101", &server.key, "4").output().unwrap());
    let sessions = server.review("/v1/review/sessions").unwrap();
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1, "the second run must resume, not start a new session");
    assert_eq!(receipt["session_id"], sessions["sessions"][0]["id"]);
    assert_eq!(receipt["local_copies_deleted"], true);
    assert_server_matches(&server, &receipt);
    let detail = server.review(&format!("/v1/review/sessions/{}", receipt["session_id"].as_str().unwrap())).unwrap();
    let kinds: Vec<&str> = detail["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"session.resumed") && kinds.contains(&"segment.recovered"), "{kinds:?}");
    // Local media is gone once confirmed.
    let left: Vec<_> = std::fs::read_dir(data.path().join("spool/segments")).unwrap().collect();
    assert!(left.is_empty(), "local copies left: {left:?}");
}

#[test]
fn a_server_outage_of_60_seconds_loses_nothing() {
    let x = XvfbDisplay::start(1280, 720).expect("Xvfb");
    let mut server = ReferenceServer::start("MATH-101").unwrap();
    let data = tempfile::tempdir().unwrap();
    let child = run_cmd(&server, &x.display, data.path(), "MATH-101", &server.key, "75").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(5));
    server.stop();
    std::thread::sleep(Duration::from_secs(60));
    server.resume().unwrap();
    let receipt = finished(&child.wait_with_output().unwrap());
    assert_server_matches(&server, &receipt);
    assert!(receipt["segments"].as_u64().unwrap() >= 14, "{receipt:#}");
}

#[test]
fn wrong_exam_code_and_a_foreign_policy_signature_are_refused() {
    let x = XvfbDisplay::start(640, 480).expect("Xvfb");
    let server = ReferenceServer::start("MATH-101").unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = run_cmd(&server, &x.display, data.path(), "NO-SUCH-EXAM", &server.key, "2").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown exam code"), "{err}");

    // The policy is signed by this server, but the client was provisioned with another key.
    let other = ReferenceServer::start("X").unwrap();
    let out = run_cmd(&server, &x.display, data.path(), "MATH-101", &other.key, "2").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("signature") && err.contains("refusing"), "{err}");
    assert!(!data.path().join("spool/segments").read_dir().unwrap().any(|_| true), "something was recorded");

    // Without consent nothing starts.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["run", "--headless", "--name", "A", "--server", &server.url, "--server-key", &server.key, "--exam-code", "MATH-101"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("consent"));
}

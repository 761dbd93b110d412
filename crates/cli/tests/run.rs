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
        .args([
            "--server",
            &server.url,
            "--server-key",
            key,
            "--exam-code",
            code,
            "--duration",
            secs,
            "--drain-timeout",
            "120",
        ])
        .arg("--data-dir")
        .arg(data)
        .env("DISPLAY", display)
        .env_remove("WAYLAND_DISPLAY");
    cmd
}

fn finished(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "vigil run failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("receipt is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// The server holds each segment and event exactly once, the receipt agrees with it, and every
/// segment the server holds matches its hash.
fn assert_server_matches(server: &ReferenceServer, receipt: &Value) {
    let id = receipt["session_id"].as_str().unwrap();
    let detail = server.review(&format!("/v1/review/sessions/{id}")).unwrap();
    let segments = detail["segments"].as_array().unwrap();
    let keys: HashSet<(String, u64)> =
        segments.iter().map(|s| (s["source"].as_str().unwrap().to_owned(), s["sequence"].as_u64().unwrap())).collect();
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
    // Every segment is on the session's clock, in agreement with the events: a source's segments
    // follow each other on the media timeline, and each starts after capture started.
    let capture_started = events.iter().find(|e| e["kind"] == "capture.started").expect("capture.started");
    let capture_ms = vigil_core::time::parse_rfc3339_ms(capture_started["time"].as_str().unwrap()).unwrap();
    for source in ["camera", "screen-0"] {
        let mut of_source: Vec<&Value> = segments.iter().filter(|s| s["source"] == source).collect();
        of_source.sort_by_key(|s| s["sequence"].as_u64());
        for pair in of_source.windows(2) {
            let end = pair[0]["start_ms"].as_u64().unwrap() + pair[0]["duration_ms"].as_u64().unwrap();
            let next = pair[1]["start_ms"].as_u64().unwrap();
            // A resumed session records anew: its media timeline starts again near 0.
            assert!(
                next.abs_diff(end) <= 200 || next <= 1000,
                "{source}: a segment ends at {end} ms, the next starts at {next} ms"
            );
            let (a, b) = (pair[0]["offset_ms"].as_i64().unwrap(), pair[1]["offset_ms"].as_i64().unwrap());
            assert!(b > a, "{source}: segment offsets on the session's clock go back ({a} then {b} ms)");
        }
        for seg in of_source {
            let at = vigil_core::time::parse_rfc3339_ms(seg["started_at"].as_str().unwrap()).unwrap();
            assert!(at >= capture_ms - 1000, "{source} #{} starts before capture started", seg["sequence"]);
            assert!(seg["offset_ms"].as_i64().unwrap() >= 0, "{seg}");
        }
    }
    // The server holds the encrypted segments (their hash is the ciphertext's); review decrypts.
    let dir = server.data.path().join("segments").join(id);
    for seg in segments.iter().take(3) {
        let file = dir
            .join(vigil_spool::segment_file_name(seg["source"].as_str().unwrap(), seg["sequence"].as_u64().unwrap()));
        let stored = std::fs::read(&file).unwrap();
        assert!(vigil_spool::seal::is_sealed(&stored), "{} is not encrypted at rest", file.display());
        assert_eq!(vigil_spool::sha256_hex(&stored), seg["sha256"].as_str().unwrap());
        let media = reqwest::blocking::Client::new()
            .get(format!("{}{}", server.url, seg["download"].as_str().unwrap()))
            .bearer_auth(&server.admin_token)
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        assert_eq!(&media[4..8], b"ftyp", "review download is not a decrypted MP4");
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), &media).unwrap();
        vigil_testkit::decodes_cleanly(tmp.path()).unwrap();
    }
}

#[test]
fn kill_9_then_the_same_command_resumes_and_nothing_is_lost_or_doubled() {
    let x = XvfbDisplay::start(1280, 720).expect("Xvfb");
    let server = ReferenceServer::start("MATH-101").unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = run_cmd(&server, &x.display, data.path(), "MATH-101", &server.key, "60")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(13));
    child.kill().unwrap();
    child.wait().unwrap();
    // At rest on the client: finished segments are encrypted to the exam's recipient.
    let on_disk: Vec<_> =
        std::fs::read_dir(data.path().join("spool/segments")).unwrap().map(|e| e.unwrap().path()).collect();
    let sealed: Vec<_> = on_disk.iter().filter(|p| p.to_string_lossy().ends_with(".mp4.age")).collect();
    assert!(!sealed.is_empty(), "no encrypted segments: {on_disk:?}");
    assert!(!on_disk.iter().any(|p| p.to_string_lossy().ends_with(".mp4")), "plaintext segment at rest: {on_disk:?}");
    for p in sealed {
        assert!(vigil_spool::seal::is_sealed(&std::fs::read(p).unwrap()));
    }
    let sessions = server.review("/v1/review/sessions").unwrap();
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);

    let receipt = finished(&run_cmd(&server, &x.display, data.path(), "MATH-101", &server.key, "4").output().unwrap());
    let sessions = server.review("/v1/review/sessions").unwrap();
    assert_eq!(
        sessions["sessions"].as_array().unwrap().len(),
        1,
        "the second run must resume, not start a new session"
    );
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
    let child = run_cmd(&server, &x.display, data.path(), "MATH-101", &server.key, "75")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
    // The server's code reaches the CLI; the exit code is chosen from it.
    assert!(err.contains("[exam.unknown_code]"), "{err}");

    // The policy is signed by this server, but the client was provisioned with another key.
    let other = ReferenceServer::start("X").unwrap();
    let out = run_cmd(&server, &x.display, data.path(), "MATH-101", &other.key, "2").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[policy.signature]"), "{err}");
    assert!(!data.path().join("spool/segments").read_dir().unwrap().any(|_| true), "something was recorded");

    // Without consent nothing starts.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "run",
            "--headless",
            "--name",
            "A",
            "--server",
            &server.url,
            "--server-key",
            &server.key,
            "--exam-code",
            "MATH-101",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("consent"));
}

/// A TCP proxy to `target` that resets `reset_pct`% of connections and answers `error_pct`% with
/// an HTTP 500, forwarding the rest. Stops when dropped.
struct FlakyProxy {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FlakyProxy {
    fn start(target: u16, reset_pct: u64, error_pct: u64) -> FlakyProxy {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            while !stop2.load(Ordering::Relaxed) {
                let (mut client, _) = match listener.accept() {
                    Ok(c) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                client.set_nonblocking(false).unwrap();
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let roll = seed % 100;
                if roll < reset_pct {
                    // Read a little of the request, then drop the connection with a reset.
                    let mut buf = [0u8; 512];
                    let _ = client.read(&mut buf);
                    let _ = socket2_linger_zero(&client);
                    drop(client);
                    continue;
                }
                if roll < reset_pct + error_pct {
                    let mut buf = [0u8; 4096];
                    let _ = client.read(&mut buf);
                    let _ = client.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{\"error\":\"proxy says 500\"}\n");
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut c1, mut s1) = (client, server);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c1, &mut s1);
                    let _ = s1.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s2, &mut c2);
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        FlakyProxy { port, stop }
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// SO_LINGER 0, so that closing sends a TCP reset rather than a clean close.
fn socket2_linger_zero(stream: &std::net::TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        l_onoff: i32,
        l_linger: i32,
    }
    let l = Linger { l_onoff: 1, l_linger: 0 };
    extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const std::ffi::c_void, len: u32) -> i32;
    }
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    // SAFETY: a valid socket fd and a correctly sized `struct linger`.
    let r = unsafe {
        setsockopt(
            stream.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &l as *const Linger as *const _,
            std::mem::size_of::<Linger>() as u32,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[test]
fn a_proxy_that_resets_20_percent_and_fails_10_percent_loses_and_doubles_nothing() {
    let x = XvfbDisplay::start(1280, 720).expect("Xvfb");
    let server = ReferenceServer::start("MATH-101").unwrap();
    let proxy = FlakyProxy::start(server.port, 20, 10);
    let data = tempfile::tempdir().unwrap();
    let cmd = run_cmd(&server, &x.display, data.path(), "MATH-101", &server.key, "25");
    // Everything the client sends goes through the proxy.
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().replace(&server.url, &format!("http://127.0.0.1:{}", proxy.port)))
        .collect();
    let mut through_proxy = Command::new(cmd.get_program());
    through_proxy.args(&args).envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))));
    let receipt = finished(&through_proxy.output().unwrap());
    let sessions = server.review("/v1/review/sessions").unwrap();
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1, "a lost join answer must not make a second session");
    assert_server_matches(&server, &receipt);
    assert!(receipt["segments"].as_u64().unwrap() >= 5, "{receipt:#}");
    drop(cmd);
}

/// Re-signs exam `code`'s policy on `server` after `edit`, as a backend that does not validate
/// what it signs would (the reference server refuses such a policy itself).
fn resign_policy(server: &ReferenceServer, code: &str, edit: impl FnOnce(&mut Value)) {
    let db = rusqlite::Connection::open(server.data.path().join("server.db")).unwrap();
    let json: String = db.query_row("SELECT policy_json FROM exams WHERE code = ?1", [code], |r| r.get(0)).unwrap();
    let mut policy: Value = serde_json::from_str(&json).unwrap();
    edit(&mut policy);
    let seed: [u8; 32] = std::fs::read(server.data.path().join("ed25519.key")).unwrap().try_into().unwrap();
    let signed =
        vigil_core::protocol::SignedPolicy::sign(policy.to_string(), &ed25519_dalek::SigningKey::from_bytes(&seed));
    db.execute(
        "UPDATE exams SET policy_json = ?1, signature = ?2 WHERE code = ?3",
        [&signed.policy_json, &signed.signature, code],
    )
    .unwrap();
}

#[test]
fn a_policy_whose_application_glob_does_not_compile_stops_before_capture() {
    let x = XvfbDisplay::start(640, 480).expect("Xvfb");
    let server = ReferenceServer::start("GLOB").unwrap();
    resign_policy(&server, "GLOB", |p| {
        p["applications"]["prohibited"] = serde_json::json!([
            {"id": "broken", "name": "Broken", "category": "other", "executables": ["[unclosed"]}
        ]);
    });
    let data = tempfile::tempdir().unwrap();
    let out = run_cmd(&server, &x.display, data.path(), "GLOB", &server.key, "3").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("[policy.invalid]"), "{err}");
    assert!(err.contains("applications.prohibited[0].executables[0]"), "the field is not named: {err}");
    assert!(!data.path().join("spool/segments").read_dir().unwrap().any(|_| true), "something was recorded");
    let sessions = server.review("/v1/review/sessions").unwrap();
    let id = sessions["sessions"][0]["id"].as_str().unwrap();
    let detail = server.review(&format!("/v1/review/sessions/{id}")).unwrap();
    assert_eq!(detail["segments"].as_array().unwrap().len(), 0, "segments reached the server");
}

/// Sets or clears the immutable attribute (`chattr +i`): even root cannot write the file then,
/// also through descriptors opened before.
fn immutable(path: &Path, on: bool) {
    let out = Command::new("chattr").arg(if on { "+i" } else { "-i" }).arg(path).output().expect("chattr (e2fsprogs)");
    assert!(out.status.success(), "chattr on {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn events_that_cannot_be_written_show_in_the_summary_and_the_exit_code() {
    let x = XvfbDisplay::start(640, 480).expect("Xvfb");
    let server = ReferenceServer::start("RO").unwrap();
    // On disk (ext4), where the immutable attribute exists; /tmp may be a tmpfs.
    let data = tempfile::tempdir_in("/var/tmp").unwrap();
    let child = run_cmd(&server, &x.display, data.path(), "RO", &server.key, "9")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let spool = data.path().join("spool");
    vigil_testkit::wait_until(Duration::from_secs(60), "the session to record", || {
        spool.join("segments").read_dir().map(|mut d| d.any(|_| true)).unwrap_or(false)
    })
    .unwrap();
    // The spool database becomes read-only for a while, and a prohibited application starts then:
    // the watchers' event for it cannot be written.
    let files = [spool.join("spool.db"), spool.join("spool.db-wal")];
    files.iter().for_each(|f| immutable(f, true));
    let app = vigil_testkit::RenamedProcess::start("anydesk", 60).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    files.iter().for_each(|f| immutable(f, false));
    drop(app);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("events could not be written to the spool [spool."), "{err}");
    // What was written before and after still reached the server.
    let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(receipt["events"].as_u64().unwrap() > 2, "{receipt}");
}

#[test]
fn a_spool_left_by_vigil_0_1_is_migrated_and_its_session_resumes() {
    use vigil_core::protocol::{Candidate, Consent, JoinRequest};
    let x = XvfbDisplay::start(640, 480).expect("Xvfb");
    let server = ReferenceServer::start("OLD").unwrap();
    // The fixture: a spool recorded by 0.1 (`crates/spool/tests/fixtures/v1-spool`, schema 1).
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spool/tests/fixtures/v1-spool");
    let data = tempfile::tempdir().unwrap();
    let spool = data.path().join("spool");
    std::fs::create_dir_all(spool.join("segments")).unwrap();
    std::fs::copy(fixture.join("spool.db"), spool.join("spool.db")).unwrap();
    let mut old_segments = Vec::new();
    for f in std::fs::read_dir(fixture.join("segments")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), spool.join("segments").join(f.file_name())).unwrap();
        old_segments.push(f.file_name().to_string_lossy().into_owned());
    }
    // 0.1 had joined a session before it stopped: its session record, as 0.1 kept it in `kv`.
    // 0.1 kept its client key before joining, and a session record without the fields of
    // signed joins; resuming it joins again with that key and gets the same session, signed.
    let up = vigil_uplink::Uplink::new(&server.url, false).unwrap();
    let client_key = vigil_spool::random_key();
    let req = JoinRequest {
        exam_code: "OLD".into(),
        candidate: Candidate { name: "Aigerim Test".into() },
        consent: Consent { accepted: true, at: vigil_core::time::now_rfc3339(), inventory_version: 1 },
        device: serde_json::json!({}),
        client_key: Some(client_key.clone()),
    };
    let info = up.join(&req, &server.key).unwrap();
    let mut saved = serde_json::to_value(&info).unwrap();
    for field in ["exam_code", "policy_signature", "grant"] {
        saved.as_object_mut().unwrap().remove(field);
    }
    let db = rusqlite::Connection::open(spool.join("spool.db")).unwrap();
    let old_events: u64 = db.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
    let first_old_time: String = db.query_row("SELECT time FROM events WHERE seq = 1", [], |r| r.get(0)).unwrap();
    db.execute("INSERT INTO kv VALUES ('session', ?1)", [saved.to_string()]).unwrap();
    db.execute("INSERT INTO kv VALUES ('client_key', ?1)", [&client_key]).unwrap();
    drop(db);

    let out = run_cmd(&server, &x.display, data.path(), "OLD", &server.key, "3").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Resuming session {}", info.session_id)), "{err}");
    let receipt = finished(&out);
    assert_eq!(receipt["session_id"], info.session_id.as_str());
    let detail = server.review(&format!("/v1/review/sessions/{}", info.session_id)).unwrap();
    let events = detail["events"].as_array().unwrap();
    assert!(events.len() as u64 > old_events, "{} events", events.len());
    assert_eq!(events[0]["time"], first_old_time.as_str(), "the old events come first, unchanged");
    assert!(events.iter().any(|e| e["kind"] == "session.resumed"));
    let segments: Vec<String> = detail["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}-{:06}.mp4", s["source"].as_str().unwrap(), s["sequence"].as_u64().unwrap()))
        .collect();
    for old in &old_segments {
        assert!(segments.contains(old), "{old} did not reach the server: {segments:?}");
    }
}

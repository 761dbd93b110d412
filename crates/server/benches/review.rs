//! `cargo bench -p vigil-server --bench review`
//!
//! The reviewer's workspace on a generated two-hour session over loopback: a camera with sound and
//! two screens, 720 ten-second segments each (fragmented MP4 made by ffmpeg, sealed to the exam's
//! key and uploaded by tus like the app's), a flag every ten minutes, and 999 other sessions.
//! In Debian's Chromium (headless, through chromedriver) it times the first picture in every track
//! after opening the session, a jump to a flag (every track showing it) and the start of playing
//! from there, ten more seeks across the session, and the tab's memory after all that; through the
//! API, the list of 1000 sessions and the PDF report of the long one.
//! Goals: first picture < 2 s, a seek plays < 1 s, the tab < 600 MB, the list < 1 s, the PDF < 5 s.
//! Prints figures; asserts nothing but that each step happened.

use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil_testkit::AppDriver;

const SEGMENTS: u64 = 720;
const SEGMENT_MS: u64 = 10_000;
const REVIEWER: &str = "Bench Reviewer";
const PASSWORD: &str = "a long reviewer passphrase";

struct Server {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn admin(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil-server"))
        .args(args)
        .arg("--data")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "vigil-server {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn start_server() -> Server {
    let dir = tempfile::Builder::new().prefix("vigil-review-bench-").tempdir_in("/var/tmp").unwrap();
    admin(dir.path(), &["exam", "create", "--code", "LONG"], None);
    admin(dir.path(), &["reviewer", "add", "--name", REVIEWER, "--role", "reviewer"], Some(&format!("{PASSWORD}\n")));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_vigil-server"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path())
        .env("VIGIL_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, url: format!("http://127.0.0.1:{port}"), dir }
}

/// One ten-second fragmented MP4 from ffmpeg's test sources: H.264, and Opus for the camera.
fn segment(camera: bool) -> Vec<u8> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-f", "lavfi", "-i"]);
    if camera {
        cmd.args(["testsrc2=size=640x480:rate=15", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
        cmd.args(["-c:a", "libopus", "-ac", "1", "-b:a", "32k"]);
    } else {
        cmd.arg("testsrc2=size=1920x1080:rate=5");
    }
    cmd.args(["-t", "10", "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "50"]).args([
        "-movflags",
        "frag_keyframe+empty_moov+default_base_moof",
        "-f",
        "mp4",
        "-",
    ]);
    let out = cmd.output().expect("ffmpeg");
    assert!(out.status.success(), "ffmpeg: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn join(http: &Client, url: &str, name: &str) -> Value {
    http.post(format!("{url}/v1/sessions"))
        .json(&json!({"exam_code": "LONG", "candidate": {"name": name},
            "consent": {"accepted": true, "at": "2026-11-25T10:00:00Z", "inventory_version": 1}, "device": {"os": "Debian"}}))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// A joined session: the server's address, the session's id and token.
struct Joined {
    url: String,
    id: String,
    token: String,
}

/// Uploads `body` as segment `source`/`sequence` by tus, with its place on the session's clock.
fn upload(http: &Client, s: &Joined, source: &str, sequence: u64, body: &[u8], started: &str) {
    let (url, id, token) = (&s.url, &s.id, &s.token);
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body));
    let meta = format!(
        "session {},source {},sequence {},sha256 {},started_at {},start_ms {},duration_ms {}",
        b64(id),
        b64(source),
        b64(&sequence.to_string()),
        b64(&sha),
        b64(started),
        b64(&(sequence * SEGMENT_MS).to_string()),
        b64(&SEGMENT_MS.to_string())
    );
    let created = http
        .post(format!("{url}/v1/uploads"))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", body.len().to_string())
        .header("Upload-Metadata", meta)
        .send()
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED, "{}", created.text().unwrap());
    let location = created.headers()["Location"].to_str().unwrap().to_owned();
    let done = http
        .patch(format!("{url}{location}"))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(body.to_vec())
        .send()
        .unwrap();
    assert_eq!(done.status(), reqwest::StatusCode::NO_CONTENT);
}

fn rfc3339(ms: i64) -> String {
    vigil_core::time::rfc3339(std::time::UNIX_EPOCH + Duration::from_millis(ms as u64))
}

/// Resident memory (MB) of Chromium's renderers and of all its processes.
fn chromium_rss() -> (f64, f64) {
    let (mut renderers, mut all) = (0.0, 0.0);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if !cmdline.starts_with("/usr/lib/chromium/chromium") && !cmdline.starts_with("/usr/bin/chromium") {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        all += kb / 1024.0;
        if cmdline.contains("--type=renderer") {
            renderers += kb / 1024.0;
        }
    }
    (renderers, all)
}

/// Runs `action` in the page, then waits until every track shows a picture within 1 s of `at` s
/// (and, with `playing`, has moved past it): the milliseconds that took, timed in the page.
fn timed(page: &AppDriver, action: &str, at: f64, playing: bool) -> f64 {
    let script = format!(
        "const done = arguments[0]; const t0 = performance.now(); {action};
         const poll = () => {{ const v = [...document.querySelectorAll('.stage video')];
           const ok = v.length === 3 && v.every((x) => !x.seeking && x.readyState >= 2 && Math.abs(x.currentTime - {at}) < 1
             && (!{playing} || (!x.paused && x.currentTime > {at} + 0.05)));
           if (ok) done(performance.now() - t0); else if (performance.now() - t0 > 20000) done(-1); else setTimeout(poll, 10); }};
         poll();"
    );
    page.script_async(&script).unwrap().as_f64().unwrap()
}

fn main() {
    let server = start_server();
    let http = Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let url = server.url.clone();

    // The two-hour session: three sources of 720 segments, sealed to the exam's key.
    let t = Instant::now();
    let joined = join(&http, &url, "Ұзақ Сессия");
    let long = Joined {
        url: url.clone(),
        id: joined["session_id"].as_str().unwrap().to_owned(),
        token: joined["token"].as_str().unwrap().to_owned(),
    };
    let (id, token) = (long.id.clone(), long.token.clone());
    let policy: Value = serde_json::from_str(joined["policy"]["policy_json"].as_str().unwrap()).unwrap();
    let recipient = vigil_spool::seal::parse_recipient(policy["encrypt_to"].as_str().unwrap()).unwrap();
    let start_ms = vigil_core::time::parse_rfc3339_ms(&vigil_core::time::now_rfc3339()).unwrap();
    let media: Vec<(&str, Vec<u8>)> =
        vec![("camera", segment(true)), ("screen-0", segment(false)), ("screen-1", segment(false))];
    let sizes: Vec<String> = media.iter().map(|(s, b)| format!("{s} {} KB", b.len() / 1024)).collect();
    let sealed: Vec<(&str, Vec<u8>)> =
        media.iter().map(|(s, b)| (*s, vigil_spool::seal::seal_bytes(b, &recipient).unwrap())).collect();
    for sequence in 0..SEGMENTS {
        let started = rfc3339(start_ms + (sequence * SEGMENT_MS) as i64);
        for (source, body) in &sealed {
            upload(&http, &long, source, sequence, body, &started);
        }
    }
    // A prohibited application for a minute every ten, and the focus lost for 20 s every three.
    let mut events = Vec::new();
    for minute in (0..120).step_by(10) {
        let at = start_ms + minute * 60_000 + 30_000;
        events.push(json!({"time": rfc3339(at), "kind": "app.prohibited.started", "severity": "warning",
            "interval": {"id": format!("app-{minute}"), "phase": "open"}, "data": {"app_name": "AnyDesk", "pid": minute}}));
        events.push(json!({"time": rfc3339(at + 60_000), "kind": "app.prohibited.exited", "severity": "info",
            "interval": {"id": format!("app-{minute}"), "phase": "close"}, "data": {"app_name": "AnyDesk", "pid": minute}}));
    }
    for minute in (1..120).step_by(3) {
        let at = start_ms + minute * 60_000;
        events.push(json!({"time": rfc3339(at), "kind": "focus.lost", "severity": "warning",
            "interval": {"id": format!("focus-{minute}"), "phase": "open"}, "data": {"since_ms_ago": 0}}));
        events.push(json!({"time": rfc3339(at + 20_000), "kind": "focus.regained", "severity": "info",
            "interval": {"id": format!("focus-{minute}"), "phase": "close"}, "data": {"away_ms": 20_000}}));
    }
    events.sort_by_key(|e| e["time"].as_str().unwrap().to_owned());
    for (i, e) in events.iter_mut().enumerate() {
        e["seq"] = json!(i + 1);
    }
    let r = http
        .post(format!("{url}/v1/sessions/{id}/events"))
        .bearer_auth(&token)
        .json(&json!({"events": events}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    // 999 more sessions, a few events each.
    for n in 0..999 {
        let other = join(&http, &url, &format!("Candidate {n:04}"));
        let events: Vec<Value> = (0..5)
            .map(|i| json!({"seq": i + 1, "time": vigil_core::time::now_rfc3339(), "kind": if i == 0 && n % 7 == 0 { "focus.lost" } else { "capture.started" },
                "severity": "info", "data": {}}))
            .collect();
        http.post(format!("{url}/v1/sessions/{}/events", other["session_id"].as_str().unwrap()))
            .bearer_auth(other["token"].as_str().unwrap())
            .json(&json!({"events": events}))
            .send()
            .unwrap();
    }
    println!("setup: {:.0} s (segments: {})", t.elapsed().as_secs_f64(), sizes.join(", "));

    let admin_token = admin(server.dir.path(), &["token"], None);
    let time = |path: &str| {
        let mut ms: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let r = http.get(format!("{url}{path}")).bearer_auth(&admin_token).send().unwrap();
                assert!(r.status().is_success(), "{path}: {}", r.status());
                let _ = r.bytes().unwrap();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        (ms[2], ms[4])
    };
    let (median, worst) = time("/v1/review/sessions");
    println!(
        "list of 1000 sessions (page 1, by priority): median {median:.0} ms, worst {worst:.0} ms (goal < 1000 ms)"
    );
    let (median, worst) = time(&format!("/v1/review/sessions/{id}"));
    println!(
        "the two-hour session's detail (2160 segments, {} events): median {median:.0} ms, worst {worst:.0} ms",
        events.len()
    );
    let (median, worst) = time(&format!("/v1/review/sessions/{id}/report.pdf?lang=kk"));
    println!("PDF report of the two-hour session: median {median:.0} ms, worst {worst:.0} ms (goal < 5000 ms)");

    // The player in Chromium.
    let page = AppDriver::chromium(&format!("{url}/review")).expect("Chromium and chromedriver");
    page.type_into("#name", REVIEWER).unwrap();
    page.type_into("#password", PASSWORD).unwrap();
    page.click("#login button").unwrap();
    page.wait_script(
        "the list",
        "return [...document.querySelectorAll('#sessions table a')].some((a) => a.textContent === 'Ұзақ Сессия')",
        Duration::from_secs(20),
    )
    .unwrap();
    let open =
        "[...document.querySelectorAll('#sessions table a')].find((a) => a.textContent === 'Ұзақ Сессия').click()";
    let first = timed(&page, open, 0.0, false);
    println!("first picture in all three tracks after opening the session: {first:.0} ms (goal < 2000 ms)");
    let flag_s = 90.0 * 60.0 + 30.0;
    let jump = format!(
        "[...document.querySelectorAll('section.flags button.jump')].find((b) => Math.abs(Number(b.dataset.offsetMs) / 1000 - {flag_s}) < 1).click()"
    );
    let seek = timed(&page, &jump, flag_s, false);
    let play = timed(&page, "document.querySelector('.controls button').click()", flag_s, true);
    println!("jump to the flag at 1:30:30: every track showing it after {seek:.0} ms, playing after {play:.0} ms more (goal < 1000 ms)");
    std::thread::sleep(Duration::from_secs(15));
    page.script("document.querySelector('.controls button').click(); return true").unwrap();
    let mut seeks = Vec::new();
    for i in 0..10 {
        let at = 300.0 + i as f64 * 650.0;
        let action = format!(
            "const b = document.querySelector('.controls input'); b.value = {at}; b.dispatchEvent(new Event('input'))"
        );
        seeks.push(timed(&page, &action, at, false));
    }
    let mut sorted = seeks.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "10 seeks across the session, each until every track shows a picture: median {:.0} ms, worst {:.0} ms",
        sorted[5], sorted[9]
    );
    let heap = page.script("return performance.memory ? performance.memory.usedJSHeapSize / 1048576 : -1").unwrap();
    let buffered = page
        .script("return [...document.querySelectorAll('.stage video')].map((v) => { let s = 0; for (let i = 0; i < v.buffered.length; i++) s += v.buffered.end(i) - v.buffered.start(i); return Math.round(s); })")
        .unwrap();
    let (renderers, all) = chromium_rss();
    println!(
        "memory after playing and seeking: renderer {renderers:.0} MB (goal < 600 MB), all Chromium processes {all:.0} MB, JS heap {:.0} MB; seconds buffered per track {buffered}",
        heap.as_f64().unwrap_or(-1.0)
    );
}

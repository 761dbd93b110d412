//! `cargo bench -p vigil-server --bench load [-- --candidates 500,1000,1500 --seconds 30]`
//!
//! A load generator that simulates candidates against one `vigil-server` process over loopback.
//! Each candidate joins, then every second sends a batch of 5 events, every 5 s a heartbeat, and
//! every 10 s three segments of 150 KB by tus (create + one PATCH each), each on its own HTTP
//! connection, all spread evenly over time. For each step it prints request latencies per kind
//! (p50, p95, p99, max), errors, the rate achieved against the rate asked for, and the server's CPU
//! and memory; at the end, the largest step with p99 < 200 ms, no errors and the full rate.
//! Then the anonymous flood: 100 connections without a token each declare a 256 MiB body and keep
//! sending it for 5 s; it prints the server's peak RSS (goal: under 150 MiB).
//! Prints figures; asserts nothing.

use base64::Engine;
use sha2::{Digest, Sha256};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEGMENT_BYTES: usize = 150 * 1024;
const EVENTS_PER_BATCH: u64 = 5;

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let bin = env!("CARGO_BIN_EXE_vigil-server");
    // On disk (not tmpfs), like a real deployment.
    let dir = tempfile::Builder::new()
        .prefix("vigil-load-")
        .tempdir_in(std::env::var("VIGIL_LOAD_DIR").unwrap_or_else(|_| "/var/tmp".into()))
        .unwrap();
    let ok = Command::new(bin)
        .args(["exam", "create", "--code", "LOAD", "--data"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "exam create failed");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path())
        .env("VIGIL_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, url, _dir: dir }
}

/// CPU seconds and resident memory (MiB) of a process.
fn cpu_and_rss(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|s| s.1).unwrap_or_default().split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let rss_pages: f64 = fields.get(21).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (ticks / 100.0, rss_pages * 4096.0 / 1048576.0)
}

#[derive(Default)]
struct Tally {
    /// Latency in microseconds per request kind.
    lat: [Vec<u32>; 4],
    errors: Vec<String>,
}

const KINDS: [&str; 4] = ["events", "heartbeat", "upload create", "upload patch"];

struct Payload {
    body: axum::body::Bytes,
    sha256: String,
}

fn meta(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", base64::engine::general_purpose::STANDARD.encode(v)))
        .collect::<Vec<_>>()
        .join(",")
}

async fn candidate(
    n: usize,
    total: usize,
    url: String,
    seconds: u64,
    payloads: Arc<Vec<Payload>>,
    start: tokio::time::Instant,
) -> Tally {
    let mut t = Tally::default();
    let client = reqwest::Client::builder().pool_max_idle_per_host(1).timeout(Duration::from_secs(30)).build().unwrap();
    let join = serde_json::json!({
        "exam_code": "LOAD", "candidate": {"name": format!("candidate {n}")},
        "consent": {"accepted": true, "at": "2026-11-25T00:00:00Z", "inventory_version": 1},
        "device": {}, "client_key": format!("load-candidate-{n:08}"),
    });
    let joined: serde_json::Value = match client.post(format!("{url}/v1/sessions")).json(&join).send().await {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
        Ok(r) => {
            t.errors.push(format!("join: {}", r.status()));
            return t;
        }
        Err(e) => {
            t.errors.push(format!("join: {e}"));
            return t;
        }
    };
    let id = joined["session_id"].as_str().unwrap_or_default().to_owned();
    let auth = format!("Bearer {}", joined["token"].as_str().unwrap_or_default());
    // Spread candidates evenly over each second, and their uploads over each 10 s.
    let phase = Duration::from_micros(n as u64 * 1_000_000 / total as u64);
    let mut seq = 0u64;
    let mut segment = 0u64;
    for sec in 0..seconds {
        tokio::time::sleep_until(start + phase + Duration::from_secs(sec)).await;
        let mut timed =
            |kind: usize, began: Instant, result: Result<reqwest::Response, reqwest::Error>, ok: u16| match result {
                Ok(r) if r.status().as_u16() == ok => {
                    t.lat[kind].push(began.elapsed().as_micros() as u32);
                    true
                }
                Ok(r) => {
                    t.errors.push(format!("{}: {}", KINDS[kind], r.status()));
                    false
                }
                Err(e) => {
                    t.errors.push(format!("{}: {e}", KINDS[kind]));
                    false
                }
            };
        let events: Vec<_> = (0..EVENTS_PER_BATCH)
            .map(|_| {
                seq += 1;
                serde_json::json!({"seq": seq, "time": "2026-11-25T00:00:00Z", "kind": "focus.lost", "data": {"window": "exam", "duration_ms": 1200}})
            })
            .collect();
        let began = Instant::now();
        let r = client
            .post(format!("{url}/v1/sessions/{id}/events"))
            .header("Authorization", &auth)
            .json(&serde_json::json!({"events": events}))
            .send()
            .await;
        timed(0, began, r, 200);
        if (sec + n as u64).is_multiple_of(5) {
            let began = Instant::now();
            let r = client
                .post(format!("{url}/v1/sessions/{id}/heartbeat"))
                .header("Authorization", &auth)
                .json(&serde_json::json!({"backlog_segments": 0, "backlog_events": 0}))
                .send()
                .await;
            timed(1, began, r, 200);
        }
        if (sec + n as u64).is_multiple_of(10) {
            for source in ["camera", "screen-0", "screen-1"] {
                let p = &payloads[(segment as usize + n) % payloads.len()];
                let began = Instant::now();
                let r = client
                    .post(format!("{url}/v1/uploads"))
                    .header("Authorization", &auth)
                    .header("Tus-Resumable", "1.0.0")
                    .header("Upload-Length", p.body.len())
                    .header(
                        "Upload-Metadata",
                        meta(&[
                            ("session", &id),
                            ("source", source),
                            ("sequence", &segment.to_string()),
                            ("sha256", &p.sha256),
                        ]),
                    )
                    .send()
                    .await;
                let location = match &r {
                    Ok(resp) => resp.headers().get("Location").and_then(|v| v.to_str().ok()).map(str::to_owned),
                    Err(_) => None,
                };
                if !timed(2, began, r, 201) {
                    continue;
                }
                let began = Instant::now();
                let r = client
                    .patch(format!("{url}{}", location.unwrap_or_default()))
                    .header("Authorization", &auth)
                    .header("Tus-Resumable", "1.0.0")
                    .header("Upload-Offset", "0")
                    .header("Content-Type", "application/offset+octet-stream")
                    .body(p.body.clone())
                    .send()
                    .await;
                timed(3, began, r, 204);
            }
            segment += 1;
        }
    }
    t
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

struct StepResult {
    candidates: usize,
    p99_ms: f64,
    errors: usize,
    rate_ratio: f64,
}

fn step(rt: &tokio::runtime::Runtime, candidates: usize, seconds: u64, payloads: &Arc<Vec<Payload>>) -> StepResult {
    let server = start_server();
    let (cpu0, _) = cpu_and_rss(server.child.id());
    let began = Instant::now();
    let tallies: Vec<Tally> = rt.block_on(async {
        let start = tokio::time::Instant::now() + Duration::from_secs(2);
        let tasks: Vec<_> = (0..candidates)
            .map(|n| tokio::spawn(candidate(n, candidates, server.url.clone(), seconds, payloads.clone(), start)))
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap_or_default());
        }
        out
    });
    let wall = began.elapsed().as_secs_f64();
    let (cpu1, rss) = cpu_and_rss(server.child.id());
    let mut all: Vec<u32> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    println!(
        "\n{candidates} candidates, {seconds} s ({wall:.1} s wall); server CPU {:.0}% of one core, RSS {rss:.0} MiB",
        (cpu1 - cpu0) / wall * 100.0
    );
    let mut done = 0usize;
    for (k, name) in KINDS.iter().enumerate() {
        let mut lat: Vec<u32> = tallies.iter().flat_map(|t| t.lat[k].iter().copied()).collect();
        lat.sort_unstable();
        done += lat.len();
        println!(
            "  {name:<14} {:>7} requests  p50 {:>6.1} ms  p95 {:>6.1} ms  p99 {:>6.1} ms  max {:>7.1} ms",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
            percentile(&lat, 0.99),
            percentile(&lat, 1.0)
        );
        all.extend(lat);
    }
    for t in tallies {
        errors.extend(t.errors);
    }
    all.sort_unstable();
    // Asked for: per candidate per second 1 event batch + 1/5 heartbeat + 3/10 x 2 tus requests.
    let asked = candidates as f64 * seconds as f64 * (1.0 + 0.2 + 0.6);
    let ratio = done as f64 / asked;
    println!(
        "  all            {:>7} requests ({:.0}/s, {:.1}% of the rate asked)  p50 {:.1} ms  p99 {:.1} ms; errors: {}",
        all.len(),
        all.len() as f64 / seconds as f64,
        ratio * 100.0,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        errors.len()
    );
    for e in errors.iter().take(5) {
        println!("    error: {e}");
    }
    StepResult { candidates, p99_ms: percentile(&all, 0.99), errors: errors.len(), rate_ratio: ratio }
}

fn main() {
    let mut steps = vec![250, 500, 1000, 1500];
    let mut seconds = 30u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--candidates" => {
                steps =
                    args.next().expect("--candidates N,N").split(',').map(|v| v.parse().expect("a number")).collect()
            }
            "--seconds" => seconds = args.next().expect("--seconds N").parse().expect("a number"),
            _ => {} // cargo bench passes --bench
        }
    }
    let recipient = vigil_spool::seal::parse_recipient(&vigil_spool::seal::generate().1).unwrap();
    let payloads: Arc<Vec<Payload>> = Arc::new(
        (0..8u8)
            .map(|i| {
                let mut plain = vec![0u8; SEGMENT_BYTES];
                getrandom::fill(&mut plain).unwrap();
                plain[0] = i;
                // Sealed like real segments: the server refuses anything else.
                let body = vigil_spool::seal::seal_bytes(&plain, &recipient).unwrap();
                Payload { sha256: hex::encode(Sha256::digest(&body)), body: body.into() }
            })
            .collect(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!(
        "vigil-server load: 5 events/s, a heartbeat every 5 s and 3 x {} KB segments every 10 s per candidate",
        SEGMENT_BYTES / 1024
    );
    let results: Vec<StepResult> = steps.iter().map(|&n| step(&rt, n, seconds, &payloads)).collect();
    let sustained =
        results.iter().filter(|r| r.p99_ms < 200.0 && r.errors == 0 && r.rate_ratio > 0.99).map(|r| r.candidates).max();
    match sustained {
        Some(n) => println!("\nlargest step sustained (p99 < 200 ms, no errors, full rate): {n} candidates"),
        None => println!("\nno step sustained (p99 < 200 ms, no errors, full rate)"),
    }
    anonymous_flood(100, Duration::from_secs(5));
}

/// `connections` anonymous clients each declare a 256 MiB body (a PATCH to an unknown upload, or
/// an event batch of an unknown session) and send it as fast as the server takes it.
fn anonymous_flood(connections: usize, how_long: Duration) {
    use std::io::Write;
    let server = start_server();
    let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
    let (_, before) = cpu_and_rss(server.child.id());
    let until = Instant::now() + how_long;
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let clients: Vec<_> = (0..connections)
        .map(|n| {
            let sent = sent.clone();
            std::thread::spawn(move || {
                let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return };
                let _ = conn.set_write_timeout(Some(Duration::from_secs(1)));
                let head = if n % 2 == 0 {
                    format!("PATCH /v1/uploads/{} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 268435456\r\n\r\n", "a".repeat(64))
                } else {
                    format!("POST /v1/sessions/{}/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 268435456\r\n\r\n", "b".repeat(24))
                };
                let chunk = vec![b'{'; 64 * 1024];
                if conn.write_all(head.as_bytes()).is_err() {
                    return;
                }
                while Instant::now() < until && conn.write_all(&chunk).is_ok() {
                    sent.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut peak = before;
    while Instant::now() < until {
        peak = peak.max(cpu_and_rss(server.child.id()).1);
        std::thread::sleep(Duration::from_millis(20));
    }
    for c in clients {
        let _ = c.join();
    }
    let answers = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    println!(
        "\nanonymous flood: {connections} connections declaring 256 MiB bodies for {:.0} s ({:.0} MiB accepted by the socket): \
         server RSS {before:.0} MiB before, peak {peak:.0} MiB (goal < 150); still answering: {answers}",
        how_long.as_secs_f64(),
        sent.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1048576.0
    );
}

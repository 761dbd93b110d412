//! `vigil run --headless`: a whole proctored session without a GUI: join (or resume), record,
//! upload while recording, finish, verify the receipt, delete local copies.

use crate::record::CaptureArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_core::protocol::{Candidate, Consent, Heartbeat, Instruction, JoinRequest};
use vigil_core::spool::Spool;
use vigil_uplink::{backoff, drain, verify_receipt, SessionInfo, Uplink, UplinkError};

#[derive(Args)]
pub struct RunArgs {
    /// Run without the desktop app (the only mode of this command).
    #[arg(long, required = true)]
    headless: bool,
    /// Proctoring server, e.g. http://127.0.0.1:8470
    #[arg(long, value_name = "URL")]
    server: String,
    /// The server's Ed25519 public key (base64) the policy signature must match
    /// (`vigil-server key` prints it).
    #[arg(long, value_name = "BASE64", env = "VIGIL_SERVER_KEY", hide_env_values = true)]
    server_key: String,
    #[arg(long, value_name = "CODE")]
    exam_code: String,
    /// The candidate's name.
    #[arg(long)]
    name: String,
    /// The candidate accepts the data inventory (see README: what Vigil collects). Without it
    /// nothing is recorded.
    #[arg(long)]
    consent: bool,
    /// Where Vigil keeps its data [env: VIGIL_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    capture: CaptureArgs,
    /// Stop recording after this many seconds (default: until Ctrl-C or a proctor ends it).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// How long to keep trying to deliver the backlog after recording, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    drain_timeout: u64,
}

const SESSION_KEY: &str = "session";

pub fn run(args: RunArgs) -> Result<i32> {
    if !args.consent {
        bail!("nothing is recorded without the candidate's consent: read what Vigil collects (README, \"What Vigil collects\") and pass --consent");
    }
    let dir = crate::check::data_dir(args.data_dir.clone()).join("spool");
    let mut spool = Spool::open(&dir).with_context(|| format!("cannot open the spool in {}", dir.display()))?;
    if spool.get("receipt")?.is_some() {
        // The last session here is finished and confirmed: start afresh.
        drop(spool);
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
        spool = Spool::open(&dir)?;
    }
    let spool = Arc::new(spool);
    let up = Uplink::new(&args.server)?;

    let session = match spool.get(SESSION_KEY)? {
        Some(saved) => {
            let s: SessionInfo = serde_json::from_str(&saved).context("the saved session in the spool is unreadable")?;
            eprintln!("Resuming session {} (unfinished; its backlog is sent first).", s.session_id);
            spool.add_event("session.resumed", json!({}))?;
            s
        }
        None => {
            // Kept before joining, so that a lost answer does not create a second session.
            let client_key = match spool.get("client_key")? {
                Some(k) => k,
                None => {
                    let k = vigil_core::spool::random_key();
                    spool.set("client_key", &k)?;
                    k
                }
            };
            let req = JoinRequest {
                exam_code: args.exam_code.clone(),
                candidate: Candidate { name: args.name.clone() },
                consent: Consent { accepted: true, at: vigil_core::time::now_rfc3339(), inventory_version: 1 },
                device: device_facts(),
                client_key: Some(client_key),
            };
            let s = retry("joining the exam", Duration::from_secs(120), || up.join(&req, &args.server_key))
                .map_err(|e| anyhow::anyhow!("cannot join exam {}: {e}", args.exam_code))?;
            spool.set(SESSION_KEY, &serde_json::to_string(&s)?)?;
            spool.add_event("session.joined", json!({"exam_code": args.exam_code}))?;
            eprintln!("Joined session {}.", s.session_id);
            s
        }
    };

    // Upload while recording.
    let stop = crate::record::stop_signal(args.duration)?;
    let recording_done = Arc::new(AtomicBool::new(false));
    let uploader = {
        let (spool, session, stop, done, server) = (spool.clone(), session.clone(), stop.clone(), recording_done.clone(), args.server.clone());
        std::thread::spawn(move || upload_loop(&server, &spool, &session, &stop, &done))
    };

    // Segments are encrypted at rest to the exam's recipient from the (verified) signed policy.
    let policy = vigil_core::ExamPolicy::parse(&session.policy_json, vigil_core::policy::Format::Json)
        .context("the exam policy from the server is invalid")?;
    let mut options = args.capture.options();
    options.encrypt_to = policy.encrypt_to.clone();
    let summary = vigil_capture::record(spool.clone(), &options, stop.clone())?;
    for m in &summary.messages {
        eprintln!("note: {m}");
    }
    recording_done.store(true, Ordering::Relaxed);
    let _ = uploader.join();

    // Deliver the rest, then finish.
    let delivered = retry("sending the backlog", Duration::from_secs(args.drain_timeout), || {
        let r = drain(&up, &spool, &session)?;
        if r.segments_left > 0 || r.events_left > 0 {
            return Err(UplinkError::Transient(format!("{} segments and {} events left", r.segments_left, r.events_left)));
        }
        Ok(r)
    });
    if let Err(e) = delivered {
        eprintln!("Not everything reached the server yet ({e}). Nothing is lost: run the same command again to resume.");
        return Ok(2);
    }
    let receipt = retry("finishing the session", Duration::from_secs(args.drain_timeout), || up.finish(&session))?;
    let missing = verify_receipt(&spool, &receipt)?;
    if !missing.is_empty() {
        eprintln!("The server's receipt is missing: {}. Local copies are kept; run the same command again.", missing.join(", "));
        return Ok(2);
    }
    // Confirmed: local media can go.
    for seg in spool.segments()? {
        let _ = std::fs::remove_file(spool.segments_dir().join(&seg.file));
    }
    spool.set("receipt", &serde_json::to_string(&receipt)?)?;
    println!("{}", serde_json::to_string_pretty(&json!({
        "session_id": receipt.session_id,
        "finished_at": receipt.finished_at,
        "segments": receipt.segments.len(),
        "bytes": receipt.segments.iter().map(|s| s.bytes).sum::<u64>(),
        "events": receipt.events,
        "last_event_seq": receipt.last_event_seq,
        "hashes": receipt.segments.iter().map(|s| json!({"source": s.source, "sequence": s.sequence, "sha256": s.sha256})).collect::<Vec<_>>(),
        "local_copies_deleted": true,
    }))?);
    Ok(0)
}

/// Keeps the backend current while recording: backlog, heartbeat, proctor instructions.
fn upload_loop(server: &str, spool: &Spool, session: &SessionInfo, stop: &AtomicBool, done: &AtomicBool) {
    let Ok(up) = Uplink::new(server) else { return };
    let mut attempt = 0;
    let mut next_heartbeat = Instant::now();
    while !done.load(Ordering::Relaxed) {
        let mut result = drain(&up, spool, session).map(|_| ());
        if result.is_ok() && Instant::now() >= next_heartbeat {
            next_heartbeat = Instant::now() + Duration::from_secs(5);
            let hb = Heartbeat { backlog_segments: spool.pending_uploads().map(|p| p.len() as u64).unwrap_or(0), backlog_events: 0 };
            result = up.heartbeat(session, &hb).map(|instructions| {
                for ins in instructions {
                    obey(spool, stop, ins);
                }
            });
        }
        let wait = match result {
            Ok(()) => {
                attempt = 0;
                Duration::from_millis(500)
            }
            Err(e) => {
                tracing::warn!(error = %e, "upload paused; will retry");
                attempt += 1;
                backoff(attempt)
            }
        };
        let until = Instant::now() + wait;
        while Instant::now() < until && !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn obey(spool: &Spool, stop: &AtomicBool, ins: Instruction) {
    let _ = spool.add_event("proctor.instruction", serde_json::to_value(&ins).unwrap_or_default());
    match ins {
        Instruction::Message { text } => eprintln!("Message from the proctor: {text}"),
        Instruction::Warning { text } => eprintln!("WARNING from the proctor: {text}"),
        Instruction::Pause => eprintln!("The proctor paused the exam."),
        Instruction::Terminate { reason } => {
            eprintln!("The proctor ended the exam: {reason}");
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Retries transient failures with backoff until `limit` has passed; other errors end at once.
fn retry<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Result<T, UplinkError>) -> Result<T, UplinkError> {
    let deadline = Instant::now() + limit;
    let mut attempt = 0;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                attempt += 1;
                let wait = backoff(attempt).min(deadline.saturating_duration_since(Instant::now()));
                eprintln!("{what}: {e}; retrying in {:.1} s", wait.as_secs_f64());
                std::thread::sleep(wait);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Device facts for the join request (from the data inventory).
fn device_facts() -> serde_json::Value {
    let s = vigil_watch::system::facts(std::path::Path::new("/"));
    let monitors = vigil_watch::displays::from_xcap();
    json!({
        "os": format!("{} {}", s.os, s.os_version), "kernel": s.kernel, "cpu": s.cpu_brand, "cores": s.cpu_logical_cores,
        "memory_mib": s.memory_total_mib, "local_ips": s.local_ips,
        "monitors": monitors.monitors,
    })
}

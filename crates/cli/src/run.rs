//! `vigil run --headless`: a whole proctored session without a GUI: join (or resume), record,
//! upload while recording, finish, verify the receipt, delete local copies.

use crate::record::CaptureArgs;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use vigil_core::protocol::Instruction;
use vigil_session::{JoinParams, Session, SessionError};

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
    /// Allow plain http:// to a server on another machine (test networks only: recordings and
    /// tokens then travel unencrypted). http:// to this machine is always allowed.
    #[arg(long)]
    insecure_http: bool,
}

/// Delivered, but the record is incomplete: events could not be written locally, or a capture
/// thread died.
pub const EXIT_INCOMPLETE: i32 = 4;

pub fn run(args: RunArgs) -> Result<i32> {
    if !args.consent {
        bail!("nothing is recorded without the candidate's consent: read what Vigil collects (README, \"What Vigil collects\") and pass --consent");
    }
    let params = JoinParams {
        server: args.server.clone(),
        server_key: args.server_key.clone(),
        exam_code: args.exam_code.clone(),
        name: args.name.clone(),
        data_dir: vigil_session::data_dir(args.data_dir.clone()),
        consent: true,
        join_timeout: Duration::from_secs(120),
        insecure_http: args.insecure_http,
    };
    let session = match Session::open(&params) {
        Ok(s) => s,
        Err(e) => {
            // The code is stable (scripts match on it); the sentence is for people.
            eprintln!(
                "vigil: error [{}]: cannot join exam {}: {}",
                e.code(),
                args.exam_code,
                vigil_core::error_chain(&e)
            );
            return Ok(vigil_core::verdict::EXIT_USAGE);
        }
    };
    if session.resumed {
        eprintln!("Resuming session {} (unfinished; its backlog is sent first).", session.info.session_id);
    } else {
        eprintln!("Joined session {}.", session.info.session_id);
    }

    let stop = crate::record::stop_signal(args.duration)?;
    let running = session.start(args.capture.options(), stop);
    let mut seen = 0;
    while !running.is_finished() {
        // Proctor instructions as they arrive.
        let status = running.status();
        for ins in status.messages.iter().skip(seen) {
            match ins {
                Instruction::Message { text } => eprintln!("Message from the proctor: {text}"),
                Instruction::Warning { text } => eprintln!("WARNING from the proctor: {text}"),
                Instruction::Pause => eprintln!("The proctor paused the exam."),
                Instruction::Terminate { reason } => eprintln!("The proctor ended the exam: {reason}"),
            }
        }
        seen = status.messages.len();
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut incomplete = Vec::new();
    match running.stop() {
        Ok(summary) => {
            for m in &summary.messages {
                eprintln!("note: {m}");
            }
            incomplete.extend(summary.failed_threads);
            if summary.blind {
                incomplete.push(
                    "[capture.blind] no screen was seen: every screen was lost, refused or recorded only black".into(),
                );
            }
        }
        // What was recorded is in the spool and is delivered all the same.
        Err(e) => incomplete.push(format!("[{}] {e}", e.code())),
    }
    let failures = session.timeline.failures();
    if failures.count > 0 {
        incomplete.push(format!(
            "{} events could not be written to the spool [{}]: {}",
            failures.count,
            failures.last_code.as_deref().unwrap_or("spool.db"),
            failures.last_error.as_deref().unwrap_or("unknown error")
        ));
    }

    match session.deliver(Duration::from_secs(args.drain_timeout), &|_| {}) {
        Ok(delivered) => {
            println!("{}", serde_json::to_string_pretty(&delivered)?);
            if incomplete.is_empty() {
                return Ok(0);
            }
            for i in &incomplete {
                eprintln!("incomplete: {i}");
            }
            eprintln!("Everything recorded was delivered, but the record is incomplete (see above).");
            Ok(EXIT_INCOMPLETE)
        }
        Err(e @ SessionError::NotDelivered(_)) => {
            eprintln!("{e}. Local copies are kept: run the same command again to resume.");
            Ok(2)
        }
        Err(e) => Err(e.into()),
    }
}

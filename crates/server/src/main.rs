//! `vigil-server`: the reference proctoring backend. Sessions with signed exam policies, a tus 1.0
//! endpoint for media segments, telemetry events, heartbeats with proctor instructions, receipts,
//! and a review API for proctors. SQLite for state, segment files on disk.

mod api;
mod db;
mod state;
mod tus;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "vigil-server", version, about = "Vigil reference backend")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// Data directory (database, keys, segments); created if missing.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8470")]
        listen: SocketAddr,
        /// Tell clients to send segments to this external tus server instead of this one.
        #[arg(long, value_name = "URL")]
        upload_endpoint: Option<String>,
        /// Largest segment upload accepted, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024 * 1024)]
        max_upload_bytes: u64,
    },
    /// Exams.
    #[command(subcommand)]
    Exam(ExamCommand),
    /// Print the admin token of the review API.
    Token {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Print the server's Ed25519 public key (base64), which clients are provisioned with.
    Key {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum ExamCommand {
    /// Create (or replace) an exam; its policy is signed with the server's key.
    Create {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        #[arg(long)]
        code: String,
        /// Policy file (JSON or TOML); the default policy without it.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        #[arg(long, value_name = "URL")]
        exam_url: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 3 } else { 0 };
            let _ = e.print();
            return std::process::ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil-server: error: {e:#}");
            std::process::ExitCode::from(3)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve { data, listen, upload_endpoint, max_upload_bytes } => {
            let state = state::AppState::open(&data, upload_endpoint, max_upload_bytes)?;
            let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                tracing::info!(%listen, data = %data.display(), "vigil-server listening");
                axum::serve(listener, api::router(state))
                    .with_graceful_shutdown(async {
                        let _ = tokio::signal::ctrl_c().await;
                    })
                    .await
                    .context("server failed")
            })
        }
        Command::Exam(ExamCommand::Create { data, code, policy, exam_url }) => {
            let state = state::AppState::open(&data, None, 0)?;
            let policy = match policy {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    vigil_core::ExamPolicy::parse(&text, vigil_core::policy::Format::detect(Some(&path), &text))
                        .with_context(|| format!("policy file {}", path.display()))?
                }
                None => vigil_core::ExamPolicy::default(),
            };
            state.create_exam(&code, &policy, exam_url.as_deref())?;
            println!("{code}");
            Ok(())
        }
        Command::Token { data } => {
            println!("{}", state::AppState::open(&data, None, 0)?.admin_token());
            Ok(())
        }
        Command::Key { data } => {
            println!("{}", state::AppState::open(&data, None, 0)?.public_key());
            Ok(())
        }
    }
}

//! `vigil-server`: the reference proctoring backend. Sessions with signed exam policies, a tus 1.0
//! endpoint for media segments, telemetry events, heartbeats with proctor instructions, receipts,
//! and a review API for proctors. SQLite for state, segment files on disk.

mod api;
mod db;
mod limits;
mod retention;
mod review;
mod review_export;
mod review_list;
mod review_live;
mod review_pdf;
mod review_work;
mod reviewers;
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
        /// Largest PATCH body, in bytes (advertised to clients as `Vigil-Max-Patch-Bytes`).
        #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
        max_patch_bytes: u64,
        /// All uploads of one session together, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024 * 1024)]
        session_quota_bytes: u64,
        /// Unfinished uploads older than this many seconds are deleted.
        #[arg(long, value_name = "SECONDS", default_value_t = 24 * 3600)]
        upload_ttl: u64,
        /// Wrong exam codes one address may try per minute before it gets 429.
        #[arg(long, value_name = "N", default_value_t = 20)]
        wrong_codes_per_minute: u32,
        /// Joins one exam takes per minute before it answers 429.
        #[arg(long, value_name = "N", default_value_t = 6000)]
        joins_per_exam_per_minute: u32,
        /// The URL clients use for this server when it is behind a TLS proxy
        /// (`https://exam.example.org`); signed into every join. Default: the request's Host.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// The organisation that receives the recordings, shown to candidates before they consent.
        #[arg(long, value_name = "NAME")]
        organiser: Option<String>,
    },
    /// Exams.
    #[command(subcommand)]
    Exam(ExamCommand),
    /// Reviewers who sign in to the review workspace.
    #[command(subcommand)]
    Reviewer(ReviewerCommand),
    /// The data lifecycle: sessions past their exam's retention period.
    #[command(subcommand)]
    Retention(RetentionCommand),
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
        /// Days a session is kept after it finishes (or is abandoned); then the server deletes
        /// it and keeps a signed deletion receipt. Without it: until an admin deletes it.
        #[arg(long, value_name = "DAYS")]
        retention_days: Option<f64>,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Delete now every session past its exam's retention period (the server also does it
    /// hourly); prints the ids deleted.
    Sweep {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum ReviewerCommand {
    /// Add a reviewer (or give one a new password and role); the password is read from stdin
    /// (at least 12 characters) and kept only as an Argon2id hash.
    Add {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "reviewer")]
        role: reviewers::Role,
    },
    /// List reviewers: name, role, since when.
    List {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Remove a reviewer and end their sign-ins.
    Remove {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        #[arg(long)]
        name: String,
    },
}

fn main() -> std::process::ExitCode {
    // Everything the server writes is for its own user only: keys, database, media.
    vigil_spool::private_files();
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
        Command::Serve {
            data,
            listen,
            upload_endpoint,
            max_upload_bytes,
            max_patch_bytes,
            session_quota_bytes,
            upload_ttl,
            wrong_codes_per_minute,
            joins_per_exam_per_minute,
            public_url,
            organiser,
        } => {
            let limits = limits::Limits {
                max_upload_bytes,
                max_patch_bytes: max_patch_bytes.max(1),
                session_quota_bytes,
                upload_ttl: std::time::Duration::from_secs(upload_ttl),
                wrong_codes_per_minute,
                joins_per_exam_per_minute,
                ..limits::Limits::default()
            };
            let public_origin = match public_url {
                Some(u) => Some(
                    url::Url::parse(&u).with_context(|| format!("--public-url {u}"))?.origin().ascii_serialization(),
                ),
                None => None,
            };
            let config = state::Config { upload_endpoint, limits, public_origin, organiser };
            let state = state::AppState::open(&data, config)?;
            let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                tracing::info!(%listen, data = %data.display(), "vigil-server listening");
                tokio::spawn(tus::expire_uploads(state.clone()));
                tokio::spawn(retention::sweep_hourly(state.clone()));
                axum::serve(listener, api::router(state).into_make_service_with_connect_info::<SocketAddr>())
                    .with_graceful_shutdown(async {
                        let _ = tokio::signal::ctrl_c().await;
                    })
                    .await
                    .context("server failed")
            })
        }
        Command::Exam(ExamCommand::Create { data, code, policy, exam_url, retention_days }) => {
            let state = state::AppState::open(&data, state::Config::default())?;
            let policy = match policy {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    vigil_core::ExamPolicy::parse(&text, vigil_core::policy::Format::detect(Some(&path), &text))
                        .with_context(|| format!("policy file {}", path.display()))?
                }
                None => vigil_core::ExamPolicy::default(),
            };
            state.create_exam(&code, &policy, exam_url.as_deref(), retention_days)?;
            println!("{code}");
            Ok(())
        }
        Command::Reviewer(ReviewerCommand::Add { data, name, role }) => {
            let state = state::AppState::open(&data, state::Config::default())?;
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            reviewers::add(&state.db(), &name, role, password)?;
            println!("{name} ({})", role.as_str());
            Ok(())
        }
        Command::Reviewer(ReviewerCommand::List { data }) => {
            let state = state::AppState::open(&data, state::Config::default())?;
            for (name, role, since) in reviewers::list(&state.db())? {
                println!("{name}\t{role}\t{since}");
            }
            Ok(())
        }
        Command::Reviewer(ReviewerCommand::Remove { data, name }) => {
            let state = state::AppState::open(&data, state::Config::default())?;
            if !reviewers::remove(&state.db(), &name)? {
                anyhow::bail!("no reviewer named {name}");
            }
            Ok(())
        }
        Command::Retention(RetentionCommand::Sweep { data }) => {
            let state = state::AppState::open(&data, state::Config::default())?;
            for id in retention::sweep(&state).map_err(|e| anyhow::anyhow!("{}: {}", e.1, e.2))? {
                println!("{id}");
            }
            Ok(())
        }
        Command::Token { data } => {
            println!("{}", state::AppState::open(&data, state::Config::default())?.admin_token());
            Ok(())
        }
        Command::Key { data } => {
            println!("{}", state::AppState::open(&data, state::Config::default())?.public_key());
            Ok(())
        }
    }
}

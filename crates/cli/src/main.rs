//! `vigil`: the command-line face of Vigil, for candidates' machines, testers and IT scripts.
//!
//! Exit codes (stable): 0 all ok, 1 warnings only, 2 at least one failure, 3 usage or
//! configuration error.

mod analyze;
mod check;
mod policy_cmd;
mod record;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use vigil_core::verdict::EXIT_USAGE;

#[derive(Parser)]
#[command(name = "vigil", version, about = "Vigil desktop proctoring client", long_about = None)]
#[command(
    after_help = "Exit codes: 0 all ok, 1 warnings only, 2 at least one failure, 3 usage or configuration error.\nLogs go to stderr; set VIGIL_LOG=debug for more."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check this machine against an exam policy: OS, monitors, camera, microphone, prohibited
    /// applications, virtual machine, remote session, backend.
    Check(check::CheckArgs),
    /// Record camera, microphone and every monitor into crash-safe segments, headless.
    Record(record::RecordArgs),
    /// Take part in a proctored exam without the desktop app: join, record, upload, finish.
    Run(run::RunArgs),
    /// Work with exam policy files.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Analyse recordings offline and print the flags (speech in WAV audio, with the policy's
    /// accommodations for --candidate). Exit 1 if anything was flagged.
    Analyze(analyze::AnalyzeArgs),
}

/// Screen frames are large (8 MB at 1920x1080) and pass between threads; with one glibc arena per
/// thread each keeps its own freed frames resident. Two arenas are plenty for a recorder and keep
/// memory down (a fixed mmap threshold would too, but costs a page fault per page of every frame).
fn limit_heap_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// An error that maps to a specific exit code (anything else is a configuration error, 3).
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

fn main() -> ExitCode {
    vigil_spool::private_files();
    limit_heap_retention();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Record(args) => record::run(args),
        Command::Run(args) => run::run(args),
        Command::Analyze(args) => analyze::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("vigil: error: {e:#}");
            ExitCode::from(EXIT_USAGE as u8)
        }
    }
}

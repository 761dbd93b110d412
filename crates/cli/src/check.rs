//! `vigil check`: gather facts, apply the policy, print the report (text or JSON).

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vigil_core::{ExamPolicy, Report, Verdict};
use vigil_watch::CheckOptions;

#[derive(Args)]
pub struct CheckArgs {
    /// Print the report as JSON (schema: schemas/check-report.v1.schema.json).
    #[arg(long)]
    json: bool,
    /// Exam policy file (JSON or TOML); built-in defaults without it.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Also record 2 seconds from the default microphone and report its level.
    #[arg(long)]
    mic_probe: bool,
    /// Seconds the microphone probe records.
    #[arg(long, value_name = "SECS", default_value_t = 2.0, requires = "mic_probe")]
    mic_seconds: f64,
    /// Probe this proctoring server URL: reachability, latency, TLS.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Where Vigil keeps its data [env: VIGIL_DATA_DIR; default: the user's data directory].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

pub fn run(args: CheckArgs) -> Result<i32> {
    let (policy, source) = match &args.policy {
        Some(path) => (crate::policy_cmd::load(path)?, path.display().to_string()),
        None => (ExamPolicy::default(), "built-in".to_owned()),
    };
    if !(0.1..=60.0).contains(&args.mic_seconds) {
        anyhow::bail!("--mic-seconds must be between 0.1 and 60");
    }
    let started = Instant::now();
    let opts = CheckOptions { policy, data_dir: data_dir(args.data_dir), server: args.server };
    let mic_seconds = args.mic_probe.then(|| Duration::from_secs_f64(args.mic_seconds));
    if vigil_capture::screen::asks_to_share() {
        eprintln!("vigil check: your desktop will ask you to share your screens: choose every monitor and allow it");
    }
    // The microphone probe takes seconds; the other sensors run meanwhile.
    let (mut facts, level, screens) = std::thread::scope(|s| {
        let level = mic_seconds.map(|d| s.spawn(move || vigil_capture::microphone::probe_level(d)));
        let screens = s.spawn(vigil_capture::screen::probe_all);
        (vigil_watch::gather(&opts), level.and_then(|h| h.join().ok()), screens.join().ok())
    });
    facts.microphone_level = level;
    facts.screen_capture = screens;
    let report = Report::new(facts, &opts.policy, &source, started.elapsed().as_millis() as u64);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(report.exit_code)
}

/// `--data-dir`, else `$VIGIL_DATA_DIR`, else the platform's user data directory.
pub use vigil_session::data_dir;

fn print_text(r: &Report) {
    println!("Vigil system check ({}; policy: {}, {})", r.generated_at, r.policy.name, r.policy.source);
    println!();
    let width = r.findings.iter().map(|f| f.title.len()).max().unwrap_or(0);
    for f in &r.findings {
        let tag = match f.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        };
        println!("  {tag}  {:width$}  {}", f.title, f.message);
    }
    let count = |v| r.findings.iter().filter(|f| f.verdict == v).count();
    println!();
    println!(
        "Result: {} ({} failed, {} warnings, {} ok) in {} ms; exit code {}",
        r.overall.as_str().to_uppercase(),
        count(Verdict::Fail),
        count(Verdict::Warn),
        count(Verdict::Ok),
        r.duration_ms,
        r.exit_code
    );
}

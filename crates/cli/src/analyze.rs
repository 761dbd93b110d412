//! `vigil analyze`: the on-device analysis run offline on files, printing the flags it finds.
//! Today: speech in WAV audio (16 kHz after resampling), with the exam policy's screen-reader
//! accommodation for the candidate named (`--candidate`) applied as the live session does.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use vigil_analysis::{SpeechDetector, SpeechOptions};

#[derive(Args)]
pub struct AnalyzeArgs {
    /// The exam policy (JSON or TOML) whose accommodations apply; the default policy without it.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The candidate's name as they join, for the policy's accommodations.
    #[arg(long, value_name = "NAME", default_value = "")]
    candidate: String,
    /// Print JSON (one object per input: `{"input", "flags": [...]}`) instead of text.
    #[arg(long)]
    json: bool,
    /// Audio files: PCM WAV, 8 or 16 bit, any rate and channels.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
}

pub fn run(args: AnalyzeArgs) -> Result<i32> {
    let policy = match &args.policy {
        Some(p) => crate::policy_cmd::load(p).with_context(|| format!("policy file {}", p.display()))?,
        None => vigil_core::ExamPolicy::default(),
    };
    let speech = SpeechOptions::for_candidate(&policy, &args.candidate);
    let mut any = false;
    for input in &args.inputs {
        let samples = vigil_analysis::wav::read_16k_mono(input).map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))?;
        // A flag the policy turns off is not computed at all.
        let flags = match speech {
            Some(opts) => {
                let mut d = SpeechDetector::new(opts);
                d.push(&samples);
                d.finish()
            }
            None => Vec::new(),
        };
        any |= !flags.is_empty();
        if args.json {
            println!(
                "{}",
                serde_json::json!({"input": input.display().to_string(), "speech_analysed": speech.is_some(), "flags": flags})
            );
            continue;
        }
        println!("{}", input.display());
        if speech.is_none() {
            println!("  speech: not analysed (the screen-reader accommodation turns speech flags off)");
        }
        for f in &flags {
            let note = f.accommodation.map(|a| format!(", accommodation: {a}")).unwrap_or_default();
            println!(
                "  {} {:.1} s - {:.1} s (peak {:.2}, {}{note})",
                f.kind,
                f.start_ms as f64 / 1000.0,
                f.end_ms as f64 / 1000.0,
                f.peak,
                f.severity
            );
        }
        if flags.is_empty() && speech.is_some() {
            println!("  no flags");
        }
    }
    // Like `vigil check`: 1 when something was flagged.
    Ok(i32::from(any))
}

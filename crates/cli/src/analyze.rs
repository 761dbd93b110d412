//! `vigil analyze`: the on-device analysis run offline on files, printing the flags it finds:
//! speech in WAV audio (16 kHz after resampling), with the exam policy's screen-reader
//! accommodation for the candidate named (`--candidate`) applied as the live session does; and
//! the camera flags (no face, several faces, covered, frozen) in raw Y4M video, at the policy's
//! analysis rate, exactly as a live session computes them.

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
    /// Audio files (PCM WAV, 8 or 16 bit, any rate and channels) and raw video (YUV4MPEG2 4:2:0,
    /// `.y4m`), told apart by their content.
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
        if is_y4m(input) {
            let flags = video_flags(input, &policy)?;
            any |= !flags.is_empty();
            print_flags(input, &flags, args.json, None);
            continue;
        }
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
        print_flags(input, &flags, args.json, Some(speech.is_some()));
    }
    // Like `vigil check`: 1 when something was flagged.
    Ok(i32::from(any))
}

fn is_y4m(path: &std::path::Path) -> bool {
    let mut head = [0u8; 9];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head)).is_ok()
        && &head == b"YUV4MPEG2"
}

/// The camera flags of a Y4M file, its pictures timed by its own frame rate.
fn video_flags(input: &std::path::Path, policy: &vigil_core::ExamPolicy) -> Result<Vec<vigil_analysis::Flag>> {
    use vigil_analysis::head::HeadDetector;
    use vigil_analysis::mesh::FaceMesh;
    use vigil_analysis::vision::{flags_in_y4m, models_dir, FaceDetector, VisionAnalyzer, VisionOptions};
    let opts = VisionOptions::from_policy(&policy.analysis);
    let model = |e: vigil_analysis::vision::ModelError| anyhow::anyhow!("[{}] {e}", e.code());
    let faces = opts.wants_faces().then(|| FaceDetector::load(&models_dir())).transpose().map_err(model)?;
    let heads = opts.wants_faces().then(|| HeadDetector::load(&models_dir())).transpose().map_err(model)?;
    let mesh = opts.wants_faces().then(|| FaceMesh::load(&models_dir())).transpose().map_err(model)?;
    let analyzer = VisionAnalyzer::new(opts, faces, heads).with_mesh(mesh);
    flags_in_y4m(input, analyzer).map_err(|e| anyhow::anyhow!("[analyze.input] {e}"))
}

/// Prints one input's flags, as text or one JSON line. `speech_analysed`: for audio, whether the
/// policy let speech be analysed at all.
fn print_flags(input: &std::path::Path, flags: &[vigil_analysis::Flag], json: bool, speech_analysed: Option<bool>) {
    if json {
        let mut line = serde_json::json!({"input": input.display().to_string(), "flags": flags});
        if let Some(analysed) = speech_analysed {
            line["speech_analysed"] = analysed.into();
        }
        println!("{line}");
        return;
    }
    println!("{}", input.display());
    if speech_analysed == Some(false) {
        println!("  speech: not analysed (the screen-reader accommodation turns speech flags off)");
    }
    for f in flags {
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
    if flags.is_empty() && speech_analysed != Some(false) {
        println!("  no flags");
    }
}

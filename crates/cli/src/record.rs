//! `vigil record`: a headless recording into a spool directory, with a per-source summary.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use vigil_capture::segment::SegmentPlan;
use vigil_capture::{CameraMode, RecordOptions, RecorderStatus};
use vigil_core::StopToken;
use vigil_spool::{Spool, Timeline};

#[derive(Args)]
pub struct RecordArgs {
    /// Spool directory: segments go to DIR/segments, the manifest and events to DIR/spool.db.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    #[command(flatten)]
    capture: CaptureArgs,
    /// Compute the on-device flags this exam policy's `[analysis]` asks for (faces, camera,
    /// speech), recorded as events with their evidence pictures; without it, none are computed.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// What to capture; shared by `record` and `run`.
#[derive(Args)]
pub struct CaptureArgs {
    /// auto (the first real camera), synthetic (a moving pattern), none, or file:PATH.y4m (a raw
    /// video played in a loop at its own frame rate).
    #[arg(long, value_name = "CAMERA", default_value = "auto", value_parser = parse_camera)]
    camera: CameraMode,
    #[arg(long, value_enum, default_value_t = Mic::Auto)]
    mic: Mic,
    #[arg(long, value_enum, default_value_t = Screens::All)]
    screens: Screens,
    /// Segment length in seconds (2-600).
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=600))]
    segment_seconds: u64,
    /// Screen frames per second (0.1-30).
    #[arg(long, value_name = "FPS", default_value_t = 1.0, value_parser = parse_fps)]
    screen_fps: f32,
}

fn parse_camera(s: &str) -> Result<CameraMode, String> {
    match s {
        "auto" => Ok(CameraMode::Auto),
        "synthetic" => Ok(CameraMode::Synthetic),
        "none" => Ok(CameraMode::None),
        _ => match s.strip_prefix("file:") {
            Some(path) if !path.is_empty() => Ok(CameraMode::File(path.into())),
            _ => Err(format!("`{s}` is not auto, synthetic, none or file:PATH.y4m")),
        },
    }
}

fn parse_fps(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.1..=30.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be between 0.1 and 30".into())
    }
}

impl CaptureArgs {
    pub fn options(&self) -> RecordOptions {
        RecordOptions {
            camera: self.camera.clone(),
            microphone: matches!(self.mic, Mic::Auto),
            screens: matches!(self.screens, Screens::All),
            screen_fps: self.screen_fps,
            plan: SegmentPlan { segment_ms: self.segment_seconds * 1000, fragment_ms: 2000 },
            ..RecordOptions::default()
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Mic {
    Auto,
    None,
}

#[derive(Clone, Copy, ValueEnum)]
enum Screens {
    All,
    None,
}

/// A stop token stopped by Ctrl-C or SIGTERM, or after `duration` seconds.
pub fn stop_signal(duration: Option<f64>) -> Result<StopToken> {
    let stop = StopToken::new();
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.stop()).context("cannot install the Ctrl-C handler")?;
    }
    if let Some(secs) = duration {
        let stop = stop.clone();
        let limit = Duration::from_secs_f64(secs.max(0.0));
        std::thread::spawn(move || {
            if !stop.wait(limit) {
                stop.stop();
            }
        });
    }
    Ok(stop)
}

pub fn run(args: RecordArgs) -> Result<i32> {
    let spool =
        Arc::new(Spool::open(&args.out).with_context(|| format!("cannot open the spool in {}", args.out.display()))?);
    let timeline = Arc::new(Timeline::new(spool));
    let mut opts = args.capture.options();
    if let Some(p) = &args.policy {
        let policy = crate::policy_cmd::load(p).with_context(|| format!("policy file {}", p.display()))?;
        let vision = vigil_analysis::vision::VisionOptions::from_policy(&policy.analysis);
        opts.analysis = vision.any().then_some(vision);
        opts.speech = vigil_analysis::SpeechOptions::for_candidate(&policy, "");
    }
    let stop = stop_signal(args.duration)?;
    if !args.json {
        eprintln!(
            "Recording into {} ({}); Ctrl-C stops.",
            args.out.display(),
            args.duration.map(|d| format!("{d} s")).unwrap_or("until stopped".into())
        );
    }
    let summary = vigil_capture::record(timeline.clone(), &opts, stop, &RecorderStatus::default())?;
    let failures = timeline.failures();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        for r in &summary.recovered {
            println!(
                "recovered {} ({} frames, {} ms) from an interrupted recording",
                r.file, r.video_frames, r.duration_ms
            );
        }
        println!(
            "{:<10} {:>8} {:>8} {:>8} {:>8} {:>12}  device",
            "source", "segments", "frames", "audio", "dropped", "bytes"
        );
        for s in &summary.sources {
            println!(
                "{:<10} {:>8} {:>8} {:>8} {:>8} {:>12}  {}{}",
                s.source,
                s.segments,
                s.video_frames,
                s.audio_frames,
                s.dropped_frames,
                s.bytes,
                s.description,
                s.error.as_ref().map(|e| format!(" (error: {e})")).unwrap_or_default()
            );
        }
        for m in &summary.messages {
            println!("note: {m}");
        }
        println!("recorded {:.1} s", summary.seconds);
    }
    if failures.count > 0 {
        eprintln!(
            "{} events could not be written to the spool ({}): the timeline is incomplete",
            failures.count,
            failures.last_error.as_deref().unwrap_or("unknown error")
        );
    }
    if summary.blind {
        eprintln!("no screen was seen: every screen was lost, refused or recorded only black (see the notes)");
    }
    // A disk that filled up, a capture thread that died, screens that recorded nothing to see, or
    // events that could not be written are worth a non-zero exit: the recording is not what was asked.
    let incomplete = summary.disk_full || !summary.failed_threads.is_empty() || summary.blind || failures.count > 0;
    Ok(if incomplete { 2 } else { 0 })
}

//! `vigil record`: a headless recording into a spool directory, with a per-source summary.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_capture::segment::SegmentPlan;
use vigil_capture::{CameraMode, RecordOptions};
use vigil_core::spool::Spool;

#[derive(Args)]
pub struct RecordArgs {
    /// Spool directory: segments go to DIR/segments, the manifest and events to DIR/spool.db.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    #[arg(long, value_enum, default_value_t = Camera::Auto)]
    camera: Camera,
    #[arg(long, value_enum, default_value_t = Mic::Auto)]
    mic: Mic,
    #[arg(long, value_enum, default_value_t = Screens::All)]
    screens: Screens,
    /// Segment length in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    segment_seconds: u64,
    /// Screen frames per second.
    #[arg(long, value_name = "FPS", default_value_t = 1.0)]
    screen_fps: f32,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Camera {
    /// The first real camera; recording goes on without one if there is none.
    Auto,
    /// A moving test pattern (machines without a camera).
    Synthetic,
    None,
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

pub fn run(args: RecordArgs) -> Result<i32> {
    if args.segment_seconds < 2 || args.segment_seconds > 600 {
        anyhow::bail!("--segment-seconds must be between 2 and 600");
    }
    if !(0.1..=30.0).contains(&args.screen_fps) {
        anyhow::bail!("--screen-fps must be between 0.1 and 30");
    }
    let spool = Arc::new(Spool::open(&args.out).with_context(|| format!("cannot open the spool in {}", args.out.display()))?);
    let opts = RecordOptions {
        camera: match args.camera {
            Camera::Auto => CameraMode::Auto,
            Camera::Synthetic => CameraMode::Synthetic,
            Camera::None => CameraMode::None,
        },
        microphone: matches!(args.mic, Mic::Auto),
        screens: matches!(args.screens, Screens::All),
        screen_fps: args.screen_fps,
        plan: SegmentPlan { segment_ms: args.segment_seconds * 1000, fragment_ms: 2000 },
        ..RecordOptions::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed)).context("cannot install the Ctrl-C handler")?;
    }
    if let Some(secs) = args.duration {
        let stop = stop.clone();
        let until = Instant::now() + Duration::from_secs_f64(secs.max(0.0));
        std::thread::spawn(move || {
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
            stop.store(true, Ordering::Relaxed);
        });
    }
    if !args.json {
        eprintln!("Recording into {} ({}); Ctrl-C stops.", args.out.display(), args.duration.map(|d| format!("{d} s")).unwrap_or("until stopped".into()));
    }
    let summary = vigil_capture::record(spool, &opts, stop)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        for r in &summary.recovered {
            println!("recovered {} ({} frames, {} ms) from an interrupted recording", r.file, r.video_frames, r.duration_ms);
        }
        println!("{:<10} {:>8} {:>8} {:>8} {:>8} {:>12}  {}", "source", "segments", "frames", "audio", "dropped", "bytes", "device");
        for s in &summary.sources {
            println!(
                "{:<10} {:>8} {:>8} {:>8} {:>8} {:>12}  {}{}",
                s.source, s.segments, s.video_frames, s.audio_frames, s.dropped_frames, s.bytes, s.description,
                s.error.as_ref().map(|e| format!(" (error: {e})")).unwrap_or_default()
            );
        }
        for m in &summary.messages {
            println!("note: {m}");
        }
        println!("recorded {:.1} s", summary.seconds);
    }
    // A disk that filled up is worth a non-zero exit: the recording is shorter than asked.
    Ok(if summary.messages.iter().any(|m| m.starts_with("The disk is full")) { 2 } else { 0 })
}

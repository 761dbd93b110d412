//! `cargo bench -p vigil-cli --bench record`: CPU and memory of a real recording, without and with
//! the on-device analysis, next to ffmpeg doing the same job (three rounds in turn; the median and
//! range of the ratios, over the whole run and from 10 s on), and where the gap comes from (the
//! camera, the microphone and the monitors, each next to ffmpeg's); CPU per screen frame next to
//! ffmpeg doing the same screen job (and on Wayland), and how long stopping a recording takes
//! (from the stop token to every track closed and filed). Prints figures; asserts nothing.
//!
//! `cargo bench -p vigil-cli --bench record -- whole` runs one part only: `stop`, `whole` (the
//! default recording with and without analysis, next to ffmpeg) or `screens` (per frame, X11 and
//! Wayland).
//!
//! Devices: TigerVNC with two 1920x1080 monitors, PulseAudio playing a tone, as the camera a clip of
//! ffmpeg's test pattern (the same pictures for both), Vigil's synthetic camera and a face clip;
//! for Wayland, a headless sway with one 1920x1080 output (wlroots screencopy, then the ScreenCast
//! portal with PipeWire).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil_testkit::portal::{Backend, Dialog};
use vigil_testkit::{Guard, PortalDesktop, PulseAudio, Screen, SwayDisplay, VncDisplay, WaylandOutput};

const SECONDS: u64 = 30;
/// The steady state is measured from this many seconds into a run to its end: without the
/// start (loading models, opening devices, the encoders' first pictures), which an exam of an
/// hour or two pays once.
const STEADY_FROM: f64 = 10.0;
/// How many times the whole-job comparison runs, each time Vigil and ffmpeg in turn, so that
/// the machine's spread between runs shows next to the ratios.
const ROUNDS: usize = 3;

/// A running process's CPU seconds (user + system) and memory.
#[derive(Default, Clone, Copy)]
struct Sample {
    cpu: f64,
    /// Peak resident memory, MiB.
    peak_mib: f64,
    /// Resident now: anonymous (heap, stacks) and file-backed (the program's code, libraries), MiB.
    anon_mib: f64,
    file_mib: f64,
    /// Shared memory (the X server's screen images), MiB.
    shmem_mib: f64,
    /// Resident now, MiB.
    rss_mib: f64,
}

fn sample(pid: u32) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mib = |key: &str| -> Option<f64> {
        Some(status.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
    };
    Some(Sample {
        cpu: ticks / 100.0,
        peak_mib: mib("VmHWM:")?,
        anon_mib: mib("RssAnon:")?,
        file_mib: mib("RssFile:")?,
        shmem_mib: mib("RssShmem:")?,
        rss_mib: mib("VmRSS:")?,
    })
}

struct Usage {
    wall: f64,
    cpu: f64,
    peak_mib: f64,
    /// Seconds from the start when the peak was last reached (to 0.1 s).
    peak_at: f64,
    /// CPU seconds of each thread (by name, threads of one name summed), most first.
    threads: Vec<(String, f64)>,
    /// The sample with the most resident memory (its anonymous, file-backed and shared parts).
    fullest: Sample,
    /// Share of one core from [`STEADY_FROM`] seconds to the last sample.
    steady: f64,
}

impl Usage {
    /// Share of one core over the whole run.
    fn share(&self) -> f64 {
        self.cpu / self.wall
    }

    /// Share of one core in the analysis' own threads (`analysis-camera`, `analysis-speech`)
    /// over the whole run: steadier than the difference of two runs, which carries their spread.
    fn analysis_share(&self) -> f64 {
        self.threads.iter().filter(|(name, _)| name.starts_with("analysis")).map(|(_, cpu)| cpu).sum::<f64>()
            / self.wall
    }
}

/// Runs `child` to its end, sampling it until just before it exits.
fn measure(mut child: Child) -> Usage {
    let pid = child.id();
    let start = Instant::now();
    let mut last = Sample::default();
    let mut peak_at = 0.0;
    let mut fullest = Sample::default();
    // Each thread's name and CPU seconds when last seen (a thread's figures go when it ends).
    let mut threads = std::collections::BTreeMap::new();
    // (seconds, CPU seconds) at the first sample from STEADY_FROM, and at the last one.
    let (mut steady_start, mut last_at) = (None, (0.0, 0.0));
    loop {
        if let Some(s) = sample(pid) {
            let at = start.elapsed().as_secs_f64();
            if s.peak_mib > last.peak_mib {
                peak_at = at;
            }
            if at >= STEADY_FROM && steady_start.is_none() {
                steady_start = Some((at, s.cpu));
            }
            last_at = (at, s.cpu);
            if s.rss_mib > fullest.rss_mib {
                fullest = s;
            }
            last = s;
        }
        threads.extend(threads_of(pid));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Usage {
        wall: start.elapsed().as_secs_f64(),
        cpu: last.cpu,
        peak_mib: last.peak_mib,
        peak_at,
        threads: by_name(threads.into_values()),
        fullest,
        steady: steady_start.map_or(0.0, |(t, cpu)| (last_at.1 - cpu) / (last_at.0 - t).max(0.1)),
    }
}

/// The median of `values` (sorted in place) and their range.
fn median_range(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |i: usize| values.get(i).copied().unwrap_or(0.0);
    (at(values.len() / 2), at(0), at(values.len().saturating_sub(1)))
}

/// One round of the whole-job comparison: Vigil without and with the analysis, and ffmpeg.
struct Round {
    plain: Usage,
    analysed: Usage,
    ffmpeg: Usage,
}

/// The median (range) over `rounds` of Vigil's `rate` (the run `vigil` picks) over ffmpeg's.
fn ratios(rounds: &[Round], rate: fn(&Usage) -> f64, vigil: fn(&Round) -> &Usage) -> String {
    let (median, lo, hi) =
        median_range(&mut rounds.iter().map(|r| rate(vigil(r)) / rate(&r.ffmpeg)).collect::<Vec<_>>());
    format!("{median:.2} ({lo:.2}-{hi:.2})")
}

/// The threads of process `pid` now: thread id, name and CPU seconds.
fn threads_of(pid: u32) -> Vec<(u32, (String, f64))> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    tasks
        .filter_map(|task| {
            let tid = task.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            let (head, tail) = stat.rsplit_once(')')?;
            let name = head.get(head.find('(')? + 1..)?.to_string();
            let fields: Vec<&str> = tail.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
            Some((tid, (name, (ticks(11) + ticks(12)) / 100.0)))
        })
        .collect()
}

/// CPU seconds by thread name (numbered threads of one kind, `screen-0` and `screen-1`, summed
/// as `screen`), most first.
fn by_name(threads: impl Iterator<Item = (String, f64)>) -> Vec<(String, f64)> {
    let mut sums: Vec<(String, f64)> = Vec::new();
    for (name, cpu) in threads {
        let name = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-').to_string();
        match sums.iter_mut().find(|(n, _)| *n == name) {
            Some((_, sum)) => *sum += cpu,
            None => sums.push((name, cpu)),
        }
    }
    sums.sort_by(|a, b| b.1.total_cmp(&a.1));
    sums
}

/// "name 1.2 s, other 0.8 s, ...": the threads that used at least 0.05 s.
fn thread_list(u: &Usage) -> String {
    let busy: Vec<String> =
        u.threads.iter().filter(|(_, s)| *s >= 0.05).map(|(n, s)| format!("{n} {s:.2} s")).collect();
    busy.join(", ")
}

/// What the monitors show while they change (about twice a second).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Busy {
    /// Two solid colours in turn: the cheapest pictures for libx264 (OpenH264's screen-content
    /// mode reads every line of them looking for one with detail to detect scrolling, but its
    /// motion search has little to do).
    Solid,
    /// A page of text, scrolled two lines down and back (pixel for pixel): what a desktop
    /// usually shows.
    Text,
    /// The same pages dithered (ImageMagick's `-monochrome`), so that the text moved two lines
    /// is not the same pixels: no scroll to find, every line coded afresh; the dearest for
    /// OpenH264's screen-content motion search (whole rows and columns).
    Redrawn,
}

/// The monitors changing, until dropped (the text pages live in the returned folder).
fn busy_screens(display: &str, busy: Busy) -> (Guard, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let script = match busy {
        Busy::Solid => {
            "while true; do xsetroot -solid '#204080'; sleep 0.3; xsetroot -solid '#c08020'; sleep 0.3; done".to_owned()
        }
        Busy::Text | Busy::Redrawn => {
            // Forty lines of words (a fixed sequence), drawn twice: from the first line, and
            // from the third. The root window tiles each page across both monitors.
            let words = ["let", "answer", "question", "fn", "return", "match", "exam", "timeline", "review", "flag"];
            let mut seed = 7u32;
            let lines: Vec<String> = (1..=40)
                .map(|n| {
                    let mut line = format!("{n:3}  ");
                    for _ in 0..3 + n % 7 {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        line.push_str(words[(seed >> 16) as usize % words.len()]);
                        line.push(' ');
                    }
                    line
                })
                .collect();
            for (name, from) in [("a.xbm", 0), ("b.xbm", 2)] {
                let drawn = Command::new("convert")
                    .args([
                        "-size",
                        "960x540",
                        "xc:white",
                        "-font",
                        "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
                    ])
                    .args(["-pointsize", "13", "-fill", "black", "-annotate", "+8+16", &lines[from..].join("\n")])
                    .args(if busy == Busy::Redrawn { &["-monochrome"][..] } else { &["-threshold", "50%"] })
                    .arg(dir.path().join(name))
                    .status()
                    .expect("ImageMagick");
                assert!(drawn.success(), "ImageMagick could not draw a page of text");
            }
            let (a, b) = (dir.path().join("a.xbm"), dir.path().join("b.xbm"));
            format!(
                "while true; do xsetroot -bitmap '{}'; sleep 0.3; xsetroot -bitmap '{}'; sleep 0.3; done",
                a.display(),
                b.display()
            )
        }
    };
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]).env("DISPLAY", display).stdout(Stdio::null());
    (Guard::spawn(&mut cmd, "xsetroot").unwrap(), dir)
}

fn vigil(dir: &Path, display: &str, pulse: &PulseAudio, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["record", "--json", "--out"])
        .arg(dir)
        .args(args)
        .env("DISPLAY", display)
        .envs(pulse.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The spooled segments of the sources whose names start with `source_prefix`.
fn segments_of(dir: &Path, source_prefix: &str) -> Vec<vigil_spool::SegmentRecord> {
    let spool = vigil_spool::Spool::open(dir).unwrap();
    spool.segments().unwrap().into_iter().filter(|s| s.source.starts_with(source_prefix)).collect()
}

fn frames_of(dir: &Path, source_prefix: &str) -> u64 {
    segments_of(dir, source_prefix).iter().map(|s| s.video_frames).sum()
}

/// KiB written by the sources whose names start with `source_prefix`.
fn kib_of(dir: &Path, source_prefix: &str) -> u64 {
    segments_of(dir, source_prefix).iter().map(|s| s.bytes).sum::<u64>() / 1024
}

/// KiB of the files `names` in `dir`.
fn kib_of_files(dir: &Path, names: &[&str]) -> u64 {
    names.iter().map(|n| std::fs::metadata(dir.join(n)).map(|m| m.len()).unwrap_or(0)).sum::<u64>() / 1024
}

fn main() {
    // Cargo passes `--bench`; any other argument names a part to run.
    let parts: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wants = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    let vnc = VncDisplay::start(&[Screen::new(0, 0, 1920, 1080), Screen::new(1920, 0, 1920, 1080)]).expect("TigerVNC");
    let mut pulse = PulseAudio::start().expect("PulseAudio");
    // Longer than every part together (the whole job alone takes about 12 minutes).
    pulse.play_tone(440, 0.5, 3600).unwrap();
    let secs = SECONDS.to_string();
    println!(
        "machine: {} cores; each run {SECONDS} s",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );

    // 0. Stopping: camera + microphone + two monitors, stopped after 4 s, five times.
    if wants("stop") {
        std::env::set_var("DISPLAY", &vnc.display);
        for (k, v) in pulse.env() {
            std::env::set_var(k, v);
        }
        let mut stops = Vec::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let spool = std::sync::Arc::new(vigil_spool::Spool::open(dir.path()).unwrap());
            let timeline = std::sync::Arc::new(vigil_spool::Timeline::new(spool));
            let stop = vigil_core::StopToken::new();
            let opts =
                vigil_capture::RecordOptions { camera: vigil_capture::CameraMode::Synthetic, ..Default::default() };
            let status = vigil_capture::RecorderStatus::default();
            let recorder = {
                let (timeline, stop, status) = (timeline.clone(), stop.clone(), status.clone());
                std::thread::spawn(move || vigil_capture::record(timeline, &opts, stop, &status))
            };
            std::thread::sleep(Duration::from_secs(4));
            let sources = status.recording();
            let asked = Instant::now();
            stop.stop();
            let summary = recorder.join().unwrap().unwrap();
            stops.push(asked.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(sources.len(), 3, "camera (with the microphone) and two screens: {sources:?}");
            assert!(summary.sources.iter().all(|s| s.error.is_none()), "{:?}", summary.sources);
        }
        stops.sort_by(|a, b| a.total_cmp(b));
        println!(
            "stopping a 3-source recording (camera + mic, 2 screens; closing and filing every segment): p50 {:.0} ms, max {:.0} ms over {} runs",
            stops[stops.len() / 2],
            stops[stops.len() - 1],
            stops.len()
        );
    }

    // 1. The whole default recording, screens changing, without and with the on-device analysis
    // (the default policy's flags), next to ffmpeg doing the same job on the same pictures: the
    // camera is ffmpeg's 640x480@15 test pattern (testsrc2, rendered once to a Y4M clip that both
    // play in a loop) with the microphone in Opus, and both monitors at 1 frame/s, all in H.264
    // (Vigil: OpenH264; ffmpeg: libx264 ultrafast). Then Vigil with its own synthetic camera (its
    // pattern moves everywhere in every picture: harder to encode than testsrc2).
    if wants("whole") {
        let mut busy = busy_screens(&vnc.display, Busy::Text);
        let policy = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(policy.path(), "schema = 1\n").unwrap();
        let clips = tempfile::tempdir().unwrap();
        let pattern = clips.path().join("testsrc2.y4m");
        let rendered = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=15", "-t", "10"])
            .args(["-pix_fmt", "yuv420p"])
            .arg(&pattern)
            .status()
            .expect("ffmpeg");
        assert!(rendered.success(), "ffmpeg could not render the test pattern");
        let pattern_camera = format!("file:{}", pattern.display());
        let whole = |camera: &str, analysis: bool| {
            let dir = tempfile::tempdir().unwrap();
            let mut args = vec!["--duration", &secs, "--camera", camera];
            if analysis {
                args.extend(["--policy", policy.path().to_str().unwrap()]);
            }
            let u = measure(vigil(dir.path(), &vnc.display, &pulse, &args));
            let label = if analysis { "with the analysis (default flags)" } else { "without analysis" };
            println!(
                "vigil default recording {label} (camera {} + mic + 2x 1920x1080@1): {:.1}% of one core on average, {:.1}% from {STEADY_FROM} s, peak RSS {:.0} MiB at {:.1} s (at its fullest {:.0} anonymous + {:.0} file-backed + {:.0} shared) ({:.1} CPU s in {:.1} s); camera frames {}, screen frames {}; written: camera and mic {} KiB, screens {} KiB\n  CPU by thread: {}",
                camera.rsplit('/').next().unwrap_or(camera), 100.0 * u.share(), 100.0 * u.steady, u.peak_mib, u.peak_at, u.fullest.anon_mib, u.fullest.file_mib, u.fullest.shmem_mib, u.cpu, u.wall, frames_of(dir.path(), "camera"), frames_of(dir.path(), "screen-"), kib_of(dir.path(), "camera"), kib_of(dir.path(), "screen-"), thread_list(&u)
            );
            u
        };
        let out = tempfile::tempdir().unwrap();
        // The clip in a loop at its own rate, as Vigil plays it.
        let ffmpeg_camera = || {
            let mut cmd = Command::new("ffmpeg");
            cmd.args(["-v", "error", "-y", "-stream_loop", "-1", "-re", "-i"]).arg(&pattern);
            cmd
        };
        let h264 = ["-c:v", "libx264", "-preset", "ultrafast"];
        let quiet = |cmd: &mut Command| {
            let child = cmd.envs(pulse.env()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            measure(child.spawn().expect("ffmpeg"))
        };
        // ffmpeg's job, in parts: the monitors as two inputs, then each into its own file (from
        // input `first` on); `ffmpeg_job` records the camera and the microphone into one file, and
        // the monitors too when asked.
        let screen_inputs = |cmd: &mut Command| {
            for x in [0, 1920] {
                cmd.args(["-f", "x11grab", "-framerate", "1", "-video_size", "1920x1080", "-i"])
                    .arg(format!("{}+{x},0", vnc.display));
            }
        };
        let screen_outputs = |cmd: &mut Command, first: usize| {
            for (i, name) in [(first, "a.mp4"), (first + 1, "b.mp4")] {
                cmd.args(["-map", &format!("{i}:v")]).args(h264).args(["-b:v", "1M", "-t", &secs]);
                cmd.arg(out.path().join(name));
            }
        };
        let ffmpeg_job = |screens: bool| {
            let mut cmd = ffmpeg_camera();
            cmd.args(["-f", "pulse", "-i", "default"]);
            if screens {
                screen_inputs(&mut cmd);
            }
            cmd.args(["-map", "0:v", "-map", "1:a"]).args(h264);
            // Opus at Vigil's bit rate, otherwise as ffmpeg sets it (music mode, complexity 10).
            let opus_bps = vigil_capture::encode::OPUS_BITRATE.to_string();
            cmd.args(["-b:v", "600k", "-c:a", "libopus", "-b:a", &opus_bps, "-t", &secs])
                .arg(out.path().join("camera.mp4"));
            if screens {
                screen_outputs(&mut cmd, 2);
            }
            cmd
        };
        let ffmpeg_whole = || {
            let mut cmd = ffmpeg_job(true);
            let ff = quiet(&mut cmd);
            println!(
                "ffmpeg, the same job (the same testsrc2 clip + pulse mic in Opus + x11grab 2x 1920x1080@1, libx264 ultrafast): {:.1}% of one core, {:.1}% from {STEADY_FROM} s, peak RSS {:.0} MiB; written: camera and mic {} KiB, screens {} KiB",
                100.0 * ff.share(), 100.0 * ff.steady, ff.peak_mib, kib_of_files(out.path(), &["camera.mp4"]), kib_of_files(out.path(), &["a.mp4", "b.mp4"])
            );
            ff
        };
        // Vigil without and with the analysis, then ffmpeg, ROUNDS times over: each ratio is
        // taken within a round, and their median and range are printed.
        let rounds: Vec<Round> = (0..ROUNDS)
            .map(|_| Round {
                plain: whole(&pattern_camera, false),
                analysed: whole(&pattern_camera, true),
                ffmpeg: ffmpeg_whole(),
            })
            .collect();
        let (analysis, _, _) =
            median_range(&mut rounds.iter().map(|r| r.analysed.steady - r.plain.steady).collect::<Vec<_>>());
        println!(
            "vigil / ffmpeg CPU, the whole job (the screens: a page of text scrolling), median (range) of {ROUNDS} rounds: over the whole run without analysis {}, with the analysis {}; from {STEADY_FROM} s without analysis {}, with the analysis {} (the analysis alone from {STEADY_FROM} s: {:.1}% of one core; in its threads over the whole run, models' loading included: {:.1}%)",
            ratios(&rounds, Usage::share, |r| &r.plain),
            ratios(&rounds, Usage::share, |r| &r.analysed),
            ratios(&rounds, |u| u.steady, |r| &r.plain),
            ratios(&rounds, |u| u.steady, |r| &r.analysed),
            100.0 * analysis,
            100.0 * median_range(&mut rounds.iter().map(|r| r.analysed.analysis_share()).collect::<Vec<_>>()).0
        );
        let (ff_share, ff_lo, ff_hi) = median_range(&mut rounds.iter().map(|r| r.ffmpeg.share()).collect::<Vec<_>>());
        println!(
            "ffmpeg's share of one core over the rounds: {:.1}% ({:.1}-{:.1}%)",
            100.0 * ff_share,
            100.0 * ff_lo,
            100.0 * ff_hi
        );
        let (synthetic_plain, synthetic_analysed) = (whole("synthetic", false), whole("synthetic", true));
        println!(
            "vigil / ffmpeg CPU with Vigil's synthetic camera instead (a harder picture than ffmpeg's; against ffmpeg's median share): without analysis {:.2}, with the analysis {:.2}",
            synthetic_plain.share() / ff_share,
            synthetic_analysed.share() / ff_share,
        );
        // The analysis alone where little else runs, so that its share is not lost in the whole
        // job's spread between runs: the camera only, without and with it, for the whole run
        // (loading the models included) and once loaded (a run minus one of a third its length).
        let camera_only = |camera: &str, analysis: bool, seconds: u64| {
            let dir = tempfile::tempdir().unwrap();
            let seconds = seconds.to_string();
            let mut args = vec!["--duration", &seconds, "--camera", camera, "--screens", "none", "--mic", "none"];
            if analysis {
                args.extend(["--policy", policy.path().to_str().unwrap()]);
            }
            measure(vigil(dir.path(), &vnc.display, &pulse, &args))
        };
        let costs = |analysis: bool| {
            let (long, short) =
                (camera_only("synthetic", analysis, SECONDS), camera_only("synthetic", analysis, SECONDS / 3));
            (long.share(), (long.cpu - short.cpu) / (long.wall - short.wall))
        };
        // Where the whole job's gap comes from: the camera's encoder on the same pictures.
        let vigil_camera = camera_only(&pattern_camera, false, SECONDS);
        let ffmpeg_camera =
            quiet(ffmpeg_camera().args(h264).args(["-b:v", "600k", "-t", &secs]).arg(out.path().join("c.mp4")));
        println!(
            "the camera alone, the same testsrc2 clip at 640x480@15: vigil (OpenH264) {:.1}% of one core, ffmpeg (libx264 ultrafast) {:.1}%: {:.2}x",
            100.0 * vigil_camera.share(),
            100.0 * ffmpeg_camera.share(),
            vigil_camera.share() / ffmpeg_camera.share()
        );
        // The rest of the job: the microphone (the camera with it, less the camera alone) and the
        // two monitors alone.
        let vigil_alone = |args: &[&str]| {
            let dir = tempfile::tempdir().unwrap();
            measure(vigil(dir.path(), &vnc.display, &pulse, args))
        };
        let vigil_camera_mic = vigil_alone(&["--duration", &secs, "--camera", &pattern_camera, "--screens", "none"]);
        let ffmpeg_camera_mic = quiet(&mut ffmpeg_job(false));
        let vigil_screens = vigil_alone(&["--duration", &secs, "--camera", "none", "--mic", "none"]);
        let ffmpeg_screens = {
            let mut cmd = Command::new("ffmpeg");
            cmd.args(["-v", "error", "-y"]);
            screen_inputs(&mut cmd);
            screen_outputs(&mut cmd, 0);
            quiet(&mut cmd)
        };
        println!(
            "the microphone (camera and microphone, less the camera alone): vigil {:.1}% of one core, ffmpeg {:.1}%; the two monitors alone (text scrolling): vigil {:.1}%, ffmpeg {:.1}%: {:.2}x",
            100.0 * (vigil_camera_mic.share() - vigil_camera.share()),
            100.0 * (ffmpeg_camera_mic.share() - ffmpeg_camera.share()),
            100.0 * vigil_screens.share(),
            100.0 * ffmpeg_screens.share(),
            vigil_screens.share() / ffmpeg_screens.share()
        );
        let ((without, without_loaded), (with, with_loaded)) = (costs(false), costs(true));
        println!(
            "the analysis alone, camera only (the synthetic pattern: every picture new, nobody in it): {:.1}% of one core over {SECONDS} s with the models' loading, {:.1}% once loaded ({SECONDS} s run minus a {} s one)",
            100.0 * (with - without),
            100.0 * (with_loaded - without_loaded),
            SECONDS / 3
        );
        // The synthetic pattern moves everywhere in every picture, so the face detector runs on
        // each one; a camera's usual view (a candidate sitting still) lets it reuse its result.
        let clip = vigil_testkit::camera_clip(clips.path(), "steady-face", &[(vigil_testkit::Scene::Face, 40)], false)
            .expect("a face clip (ImageMagick and ffmpeg)");
        let camera = format!("file:{}", clip.display());
        let (face_plain, face_analysed) = (whole(&camera, false), whole(&camera, true));
        println!(
            "the analysis alone with a steady face as the camera (a labelled 640x480 clip with sensor noise): {:.1}% of one core in its threads (the runs' difference: {:.1}%)",
            100.0 * face_analysed.analysis_share(),
            100.0 * (face_analysed.share() - face_plain.share())
        );
        // The screens in solid colours (libx264's best case), and the text redrawn rather than
        // scrolled (OpenH264's worst).
        for (screens, label) in [
            (Busy::Solid, "in solid colours (libx264's best case)"),
            (Busy::Redrawn, "redrawn instead of scrolled (dithered text: no scroll to find)"),
        ] {
            drop(busy);
            busy = busy_screens(&vnc.display, screens);
            let (vigil, ffmpeg) = (whole(&pattern_camera, false), ffmpeg_whole());
            println!(
                "vigil / ffmpeg CPU, the whole job with the screens {label}: without analysis {:.2}",
                vigil.share() / ffmpeg.share()
            );
        }
        drop(busy);
    }

    if wants("screens") {
        screens(&vnc, &pulse, &secs);
    }
}

/// Screens only: changing vs static, and ffmpeg on the same job; then Wayland.
fn screens(vnc: &VncDisplay, pulse: &PulseAudio, secs: &str) {
    let screens_only = |busy: bool, secs: &str| {
        let _busy = busy.then(|| busy_screens(&vnc.display, Busy::Solid));
        let dir = tempfile::tempdir().unwrap();
        let u =
            measure(vigil(dir.path(), &vnc.display, pulse, &["--duration", secs, "--camera", "none", "--mic", "none"]));
        let frames = frames_of(dir.path(), "screen-");
        (u, frames)
    };
    let (changing, changing_frames) = screens_only(true, secs);
    let (still, still_frames) = screens_only(false, secs);
    let per = |u: &Usage, f: u64| 1000.0 * u.cpu / f.max(1) as f64;
    println!(
        "vigil screens only, changing: {:.1} ms CPU per frame ({changing_frames} frames, {:.1}% of a core)",
        per(&changing, changing_frames),
        100.0 * changing.cpu / changing.wall
    );
    println!(
        "vigil screens only, static:   {:.1} ms CPU per frame ({still_frames} frames, {:.1}% of a core)",
        per(&still, still_frames),
        100.0 * still.cpu / still.wall
    );
    println!(
        "static / changing cost, whole process per frame (start-up included): {:.2}",
        per(&still, still_frames) / per(&changing, changing_frames)
    );
    // The cost of one more frame: the difference between a 30 s and a 10 s run, so that what
    // every run pays once (start-up, X connection, encoder set-up) does not count as frame cost.
    let marginal = |busy: bool, long: &Usage, long_frames: u64| {
        let (short, short_frames) = screens_only(busy, "10");
        1000.0 * (long.cpu - short.cpu) / (long_frames.saturating_sub(short_frames)).max(1) as f64
    };
    let (m_changing, m_still) = (marginal(true, &changing, changing_frames), marginal(false, &still, still_frames));
    println!("marginal CPU per frame (30 s run minus 10 s run): changing {m_changing:.1} ms, static {m_still:.1} ms; static / changing: {:.2}", m_still / m_changing);

    // Wayland: one 1920x1080 output whose background changes, the same marginal cost per frame as
    // on X11 above; through wlroots' screencopy, then through the ScreenCast portal and PipeWire
    // (the test portal's producer, which copies grim's pictures, is another process: not counted).
    {
        let output = WaylandOutput { x: 0, y: 0, width: 1920, height: 1080, scale: 1, colour: "#204080" };
        let sway = SwayDisplay::start(&[output], false).expect("sway");
        let (screencopy, frames) = wayland_marginal(&sway, &[], secs);
        println!(
            "Wayland (sway, wlroots screencopy), one changing 1920x1080 output: marginal {screencopy:.1} ms CPU per frame ({frames} frames in {SECONDS} s); Wayland / X11: {:.2}",
            screencopy / m_changing
        );
        let portal = PortalDesktop::start(&sway, &[output], Backend::Test(Dialog::ShareAll)).expect("portal");
        let (cast, frames) = wayland_marginal(&sway, &portal.env(), secs);
        println!(
            "Wayland (ScreenCast portal + PipeWire), same output: marginal {cast:.1} ms CPU per frame ({frames} frames in {SECONDS} s); portal / X11: {:.2}",
            cast / m_changing
        );
    }

    // ffmpeg: each monitor grabbed at 1 fps, libx264 ultrafast, ~1 Mbit/s (similar to vigil's screens).
    let _busy = busy_screens(&vnc.display, Busy::Solid);
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y"]);
    for x in [0, 1920] {
        cmd.args([
            "-f",
            "x11grab",
            "-framerate",
            "1",
            "-video_size",
            "1920x1080",
            "-i",
            &format!("{}+{x},0", vnc.display),
        ]);
    }
    for (i, name) in ["a.mp4", "b.mp4"].iter().enumerate() {
        cmd.args(["-map", &i.to_string(), "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "1M", "-t", secs])
            .arg(out.path().join(name));
    }
    let ff = measure(cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("ffmpeg"));
    let ff_frames = 2 * SECONDS;
    println!("ffmpeg x11grab + libx264 ultrafast, same 2 monitors: {:.1} ms CPU per frame ({ff_frames} frames, {:.1}% of a core)", per(&ff, ff_frames), 100.0 * ff.cpu / ff.wall);
    println!("vigil / ffmpeg CPU per changing frame: {:.2}", per(&changing, changing_frames) / per(&ff, ff_frames));
}

/// Vigil's marginal CPU per screen frame on the sway desktop (a `secs` run minus a 10 s run,
/// the output's background changing 3 times a second), with `env` added, and the frames of the
/// long run.
fn wayland_marginal(sway: &SwayDisplay, env: &[(String, String)], secs: &str) -> (f64, u64) {
    let run = |secs: &str| {
        let stop = vigil_core::StopToken::new();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for colour in ["#204080", "#c08020"].iter().cycle() {
                    if stop.is_stopped() {
                        break;
                    }
                    let _ = sway.swaymsg(&["output", "HEADLESS-1", "bg", colour, "solid_color"]);
                    stop.wait(Duration::from_millis(300));
                }
            });
            let dir = tempfile::tempdir().unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_vigil"))
                .args(["record", "--json", "--out"])
                .arg(dir.path())
                .args(["--duration", secs, "--camera", "none", "--mic", "none"])
                .env("WAYLAND_DISPLAY", &sway.socket)
                .env_remove("DISPLAY")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let usage = measure(child);
            stop.stop();
            (usage, frames_of(dir.path(), "screen-"))
        })
    };
    let ((long, long_frames), (short, short_frames)) = (run(secs), run("10"));
    (1000.0 * (long.cpu - short.cpu) / long_frames.saturating_sub(short_frames).max(1) as f64, long_frames)
}

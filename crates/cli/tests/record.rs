//! `vigil record` end to end on real devices: two monitors under TigerVNC, a tone in PulseAudio,
//! the synthetic camera; every segment checked with ffprobe and fully decoded by ffmpeg.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_testkit::{Guard, PulseAudio, Screen, VncDisplay, XvfbDisplay};

const FHD: Screen = Screen::new(0, 0, 1920, 1080);
const FHD_RIGHT: Screen = Screen::new(1920, 0, 1920, 1080);

/// `vigil record --json --out DIR` with the synthetic camera unless `extra` names another.
fn vigil_record(dir: &Path, display: &str, pulse: Option<&PulseAudio>, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.args(["record", "--json", "--out"]).arg(dir).args(extra);
    if !extra.contains(&"--camera") {
        cmd.args(["--camera", "synthetic"]);
    }
    cmd.env("DISPLAY", display).env_remove("WAYLAND_DISPLAY").env_remove("PULSE_SERVER");
    if let Some(p) = pulse {
        cmd.envs(p.env());
    } else {
        cmd.arg("--mic").arg("none");
    }
    cmd
}

/// Keeps the screens changing (root window colour flips), so every screen frame is new.
fn busy_screens(display: &str) -> Guard {
    let script = "while true; do xsetroot -solid '#204080'; sleep 0.3; xsetroot -solid '#c08020'; sleep 0.3; done";
    Guard::spawn(
        Command::new("sh").args(["-c", script]).env("DISPLAY", display).stdout(Stdio::null()).stderr(Stdio::null()),
        "xsetroot",
    )
    .unwrap()
}

struct Probe {
    codecs: Vec<String>,
    width: u64,
    height: u64,
    video_frames: u64,
}

/// ffprobe's view of a segment, and a full decode with ffmpeg that must report no error.
fn probe(file: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_type,codec_name,width,height,nb_read_frames",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .expect("ffprobe (Debian package ffmpeg)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").expect("a video stream");
    vigil_testkit::decodes_cleanly(file).unwrap();
    Probe {
        codecs: streams.iter().map(|s| s["codec_name"].as_str().unwrap_or("").to_owned()).collect(),
        width: video["width"].as_u64().unwrap(),
        height: video["height"].as_u64().unwrap(),
        video_frames: video["nb_read_frames"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0),
    }
}

/// RMS in dBFS of a segment's audio track, decoded by ffmpeg.
fn audio_rms_dbfs(file: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0:a", "-ac", "1", "-f", "f32le", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let samples: Vec<f32> = out.stdout.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    // Skip the first 100 ms (encoder start-up).
    let body = &samples[samples.len().min(4800)..];
    let rms = (body.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / body.len().max(1) as f64).sqrt();
    20.0 * rms.max(1e-9).log10()
}

/// Where the sound of `file` stops and starts again (in seconds): packets more than 25 ms apart,
/// and a first packet later than the first picture.
fn audio_holes(file: &Path) -> Vec<(f64, f64)> {
    let (video, audio) = (packet_times(file, "v"), packet_times(file, "a"));
    let mut holes: Vec<(f64, f64)> = audio.windows(2).filter(|w| w[1] - w[0] > 0.025).map(|w| (w[0], w[1])).collect();
    if let (Some(v), Some(a)) = (video.first(), audio.first()) {
        if a - v > 0.025 {
            holes.insert(0, (*v, *a));
        }
    }
    holes
}

/// How much sooner a file's sound ends than its last picture is taken, in seconds. The sound
/// ends one packet after its last packet starts (ffprobe knows no duration for Opus packets in
/// fragments).
fn sound_short_of_last_picture(file: &Path) -> f64 {
    let last_picture = packet_times(file, "v").last().copied().unwrap_or(0.0);
    let sound_end = match packet_times(file, "a")[..] {
        [.., a, b] => b + (b - a),
        _ => 0.0,
    };
    last_picture - sound_end
}

/// The time of each packet of a file's `stream` ("v" or "a"), in seconds.
fn packet_times(file: &Path, stream: &str) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The spool's manifest rows, as JSON.
fn manifest(dir: &Path) -> Vec<Value> {
    let spool = vigil_spool::Spool::open(dir).unwrap();
    spool.segments().unwrap().into_iter().map(|s| serde_json::to_value(s).unwrap()).collect()
}

fn segments_on_disk(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("segments")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn thirty_seconds_of_two_monitors_camera_and_tone() {
    let vnc = VncDisplay::start(&[FHD, FHD_RIGHT]).expect("TigerVNC");
    let _busy = busy_screens(&vnc.display);
    let mut pulse = PulseAudio::start().expect("PulseAudio");
    pulse.play_tone(440, 0.5, 60).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = vigil_record(dir.path(), &vnc.display, Some(&pulse), &["--duration", "30"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources = summary["sources"].as_array().unwrap();
    let names: Vec<&str> = sources.iter().map(|s| s["source"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{summary:#}");
    for s in ["camera", "screen-0", "screen-1"] {
        assert!(names.contains(&s), "{s} missing: {names:?}");
    }
    // The microphone is the sound server's default source, named as the server names it (asked
    // through libpulse), and is carried in the camera's file.
    let camera = sources.iter().find(|s| s["source"] == "camera").unwrap();
    assert!(camera["description"].as_str().unwrap().ends_with("+ Monitor of Null Output"), "{camera:#}");

    let rows = manifest(dir.path());
    let files = segments_on_disk(dir.path());
    assert_eq!(files.len(), rows.len(), "files on disk and manifest rows differ: {files:?}");
    for row in &rows {
        let file = dir.path().join("segments").join(row["file"].as_str().unwrap());
        assert_eq!(vigil_spool::sha256_file(&file).unwrap(), row["sha256"], "{}", file.display());
        let p = probe(&file);
        let source = row["source"].as_str().unwrap();
        let frames = row["video_frames"].as_u64().unwrap();
        let duration_s = row["duration_ms"].as_f64().unwrap() / 1000.0;
        assert_eq!(p.video_frames, frames, "{}: ffprobe and manifest disagree", file.display());
        if source == "camera" {
            assert_eq!((p.width, p.height), (640, 480));
            assert_eq!(p.codecs, ["h264", "opus"]);
            let expected = duration_s * 15.0;
            assert!((frames as f64 - expected).abs() <= 1.5, "{}: {frames} frames in {duration_s} s", file.display());
            let rms = audio_rms_dbfs(&file);
            assert!((rms - -9.03).abs() < 1.5, "{}: audio RMS {rms:.2} dBFS, tone is -9.03", file.display());
            assert_eq!(audio_holes(&file), [], "{}: the sound stops and starts again", file.display());
            // The sound goes on to the last picture, in the last segment too: the pictures stop
            // before the microphone does, the sound still on its way from the server is waited
            // for, and the encoder's last samples are flushed (within 20 ms). Nor does it run on
            // long after the stop: the last packet is padded by at most 26 ms.
            let short = sound_short_of_last_picture(&file);
            eprintln!("{}: the sound ends {short:.3} s before the last picture", file.display());
            assert!(short < 0.02, "{}: the sound ends {short:.3} s before the last picture", file.display());
            assert!(short > -0.25, "{}: the sound ends {:.3} s after the last picture", file.display(), -short);
        } else {
            assert_eq!((p.width, p.height), (1920, 1080), "{}", file.display());
            assert_eq!(p.codecs, ["h264"]);
            let expected = duration_s * 1.0;
            assert!((frames as f64 - expected).abs() <= 1.0, "{}: {frames} frames in {duration_s} s", file.display());
        }
    }
    // 30 s in 10 s segments: three full segments per source (the last may be a little short).
    for s in ["camera", "screen-0", "screen-1"] {
        let n = rows.iter().filter(|r| r["source"] == s).count();
        assert!((3..=4).contains(&n), "{s}: {n} segments");
        // Contiguous from the first frame to the stop, within a frame or two.
        let first = rows.iter().filter(|r| r["source"] == s).map(|r| r["start_ms"].as_u64().unwrap()).min().unwrap();
        let total: u64 = rows.iter().filter(|r| r["source"] == s).map(|r| r["duration_ms"].as_u64().unwrap()).sum();
        assert!(first < 3_000, "{s}: first frame only at {first} ms");
        assert!(total + first >= 28_800, "{s}: {total} ms recorded from {first} ms of 30 s");
    }
}

#[test]
fn kill_9_loses_at_most_the_fragment_in_flight() {
    let vnc = VncDisplay::start(&[FHD]).expect("TigerVNC");
    let _busy = busy_screens(&vnc.display);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = vigil_record(dir.path(), &vnc.display, None, &["--duration", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill in the middle of the second segment.
    std::thread::sleep(Duration::from_millis(15_500));
    child.kill().unwrap(); // SIGKILL
    let killed_at = started.elapsed();
    child.wait().unwrap();
    let partials =
        segments_on_disk(dir.path()).into_iter().filter(|p| p.to_string_lossy().ends_with(".partial")).count();
    assert!(partials >= 1, "expected an interrupted segment on disk");

    let out = vigil_record(dir.path(), &vnc.display, None, &["--duration", "3"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let recovered = summary["recovered"].as_array().unwrap();
    assert!(!recovered.is_empty(), "nothing recovered: {summary:#}");

    let rows = manifest(dir.path());
    let files = segments_on_disk(dir.path());
    assert!(files.iter().all(|f| f.extension().is_some_and(|e| e == "mp4")), "leftovers: {files:?}");
    assert_eq!(files.len(), rows.len());
    for source in ["camera", "screen-0"] {
        let mut seqs: Vec<u64> =
            rows.iter().filter(|r| r["source"] == source).map(|r| r["sequence"].as_u64().unwrap()).collect();
        seqs.sort();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "{source}: sequence has gaps");
        // What the first run kept: segments that started before the kill.
        let before: Vec<&Value> =
            rows.iter().filter(|r| r["source"] == source && r["start_ms"].as_u64().unwrap() < 14_000).collect();
        let end_ms =
            before.iter().map(|r| r["start_ms"].as_u64().unwrap() + r["duration_ms"].as_u64().unwrap()).max().unwrap();
        let lost_ms = killed_at.as_millis() as i64 - end_ms as i64;
        // Start-up of the process and the first grab count against us too: allow 2 s of fragment
        // plus 1 s of start-up.
        assert!(lost_ms <= 3_000, "{source}: lost {lost_ms} ms (kept until {end_ms} ms, killed at {killed_at:?})");
    }
    for f in &files {
        probe(f);
    }
}

#[test]
fn a_monitor_added_mid_recording_gets_its_own_track() {
    let vnc = VncDisplay::start(&[FHD]).expect("TigerVNC");
    let _busy = busy_screens(&vnc.display);
    let dir = tempfile::tempdir().unwrap();
    let child = vigil_record(dir.path(), &vnc.display, None, &["--duration", "16", "--camera", "none"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    vnc.set_screens(&[FHD, FHD_RIGHT]).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    vnc.set_screens(&[FHD]).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    // Plugged back: the same monitor keeps its track's name.
    vnc.set_screens(&[FHD, FHD_RIGHT]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let spool = vigil_spool::Spool::open(dir.path()).unwrap();
    let events = spool.events().unwrap();
    let added = events
        .iter()
        .find(|e| e.kind == "monitor.added")
        .unwrap_or_else(|| panic!("no monitor.added event: {events:#?}"));
    let at = added.data["at_ms"].as_u64().unwrap();
    assert!((3_500..7_000).contains(&at), "monitor.added at {at} ms");
    let source = added.data["source"].as_str().unwrap().to_owned();
    let rows: Vec<_> = spool.segments().unwrap().into_iter().filter(|s| s.source == source).collect();
    assert!(!rows.is_empty(), "no segments for {source}");
    assert!(rows[0].start_ms >= at.saturating_sub(600), "track started before the monitor existed");
    let first = dir.path().join("segments").join(&rows[0].file);
    let p = probe(&first);
    assert_eq!((p.width, p.height), (1920, 1080));
    assert!(p.video_frames >= 3, "{} frames", p.video_frames);
    // Unplugged again: its track ends, with an event, and the first monitor goes on.
    let removed = events
        .iter()
        .find(|e| e.kind == "monitor.removed")
        .unwrap_or_else(|| panic!("no monitor.removed: {events:#?}"));
    assert_eq!(removed.data["source"], source.as_str());
    let gone_at = removed.data["at_ms"].as_u64().unwrap();
    assert!((7_500..11_000).contains(&gone_at), "monitor.removed at {gone_at} ms");
    let end = rows.iter().filter(|r| r.start_ms < gone_at).map(|r| r.start_ms + r.duration_ms).max().unwrap();
    assert!(end <= gone_at + 1_000, "{source} recorded until {end} ms, after removal at {gone_at} ms");
    let first_end = spool
        .segments()
        .unwrap()
        .iter()
        .filter(|s| s.source == "screen-0")
        .map(|s| s.start_ms + s.duration_ms)
        .max()
        .unwrap();
    assert!(first_end >= 11_000, "screen-0 stopped early, at {first_end} ms");
    // Back: the same source, marked returned, its segments numbered on after the first ones.
    let back = events
        .iter()
        .filter(|e| e.kind == "monitor.added")
        .nth(1)
        .unwrap_or_else(|| panic!("no second monitor.added: {events:#?}"));
    assert_eq!((back.data["source"].as_str(), back.data["returned"].as_bool()), (Some(source.as_str()), Some(true)));
    assert_eq!(added.data["returned"], false);
    let back_at = back.data["at_ms"].as_u64().unwrap();
    let mut seqs: Vec<(u64, u64)> = spool
        .segments()
        .unwrap()
        .into_iter()
        .filter(|s| s.source == source)
        .map(|s| (s.sequence, s.start_ms))
        .collect();
    seqs.sort();
    assert_eq!(seqs.iter().map(|s| s.0).collect::<Vec<_>>(), (0..seqs.len() as u64).collect::<Vec<_>>());
    assert!(seqs.iter().any(|s| s.1 + 600 >= back_at), "nothing recorded after the monitor came back: {seqs:?}");
}

/// A screen that shows only black (here a black root window; on a Wayland desktop, the root of
/// Xwayland) is not a recording that passes: events say which screen and since when, and the
/// exit code says the recording is not what was asked.
#[test]
fn a_screen_that_records_only_black_is_reported_and_fails_the_exit() {
    let x = XvfbDisplay::start(1280, 720).expect("Xvfb");
    let black = Command::new("xsetroot").args(["-solid", "black"]).env("DISPLAY", &x.display).status();
    assert!(black.expect("xsetroot").success());
    let dir = tempfile::tempdir().unwrap();
    let out = vigil_record(dir.path(), &x.display, None, &["--duration", "13", "--camera", "none"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a black recording passed: {stderr}");
    assert!(stderr.contains("no screen was seen"), "{stderr}");
    let events = vigil_spool::Spool::open(dir.path()).unwrap().events().unwrap();
    let blank = events
        .iter()
        .find(|e| e.kind == "capture.screen_blank")
        .unwrap_or_else(|| panic!("no capture.screen_blank: {events:#?}"));
    assert_eq!(blank.data["source"], "screen-0");
    let (since, at) = (blank.data["since_ms"].as_u64().unwrap(), blank.data["at_ms"].as_u64().unwrap());
    assert!(since < 1_500 && (10_000..12_000).contains(&(at - since)), "black since {since} ms, reported at {at} ms");
    let blind =
        events.iter().find(|e| e.kind == "capture.blind").unwrap_or_else(|| panic!("no capture.blind: {events:#?}"));
    assert_eq!(blind.data["screens"], serde_json::json!(["screen-0"]));
}

#[test]
fn no_camera_and_a_lost_microphone_are_events_and_the_rest_goes_on() {
    let vnc = VncDisplay::start(&[FHD]).expect("TigerVNC");
    let mut pulse = PulseAudio::start().expect("PulseAudio");
    pulse.play_tone(440, 0.5, 60).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // --camera auto on a machine without a camera.
    let child = vigil_record(dir.path(), &vnc.display, Some(&pulse), &["--duration", "8", "--camera", "auto"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let messages: Vec<&str> = summary["messages"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert!(
        messages.iter().any(|m| m.contains("camera") && m.contains("not found") && m.contains("goes on")),
        "{messages:?}"
    );
    let spool = vigil_spool::Spool::open(dir.path()).unwrap();
    let events = spool.events().unwrap();
    assert!(events.iter().any(|e| e.kind == "device.missing" && e.data["device"] == "camera"), "{events:#?}");
    assert!(spool.segments().unwrap().iter().any(|s| s.source == "screen-0"), "the screen was not recorded");

    // The microphone's server goes away mid-recording: an event, and the camera goes on.
    let dir = tempfile::tempdir().unwrap();
    let child = vigil_record(dir.path(), &vnc.display, Some(&pulse), &["--duration", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    pulse.command("pulseaudio").arg("--kill").status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let spool = vigil_spool::Spool::open(dir.path()).unwrap();
    let events = spool.events().unwrap();
    let lost = events.iter().find(|e| e.kind == "device.lost" && e.data["device"] == "microphone");
    assert!(lost.is_some(), "no microphone device.lost event: {events:#?}");
    let camera_end = spool
        .segments()
        .unwrap()
        .iter()
        .filter(|s| s.source == "camera")
        .map(|s| s.start_ms + s.duration_ms)
        .max()
        .unwrap();
    assert!(camera_end >= 9_000, "camera stopped at {camera_end} ms");
}

/// No sound server runs (and none may be started for Vigil): libpulse gives up within a second,
/// cpal's fallback finds no microphone either, that is one `device.missing` event, and the
/// camera records from the start to the end.
#[test]
fn without_a_sound_server_the_microphone_is_missing_and_the_camera_records() {
    let xvfb = XvfbDisplay::start(640, 480).expect("Xvfb");
    let dir = tempfile::tempdir().unwrap();
    let nowhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["record", "--json", "--out"])
        .arg(dir.path())
        .args(["--duration", "6", "--camera", "synthetic", "--screens", "none"])
        .env("DISPLAY", &xvfb.display)
        .env_remove("WAYLAND_DISPLAY")
        .env("PULSE_SERVER", format!("unix:{}", nowhere.path().join("pulse/native").display()))
        .env("XDG_RUNTIME_DIR", nowhere.path())
        .env("HOME", nowhere.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let spool = vigil_spool::Spool::open(dir.path()).unwrap();
    let events = spool.events().unwrap();
    let missing: Vec<_> =
        events.iter().filter(|e| e.kind == "device.missing" && e.data["device"] == "microphone").collect();
    assert_eq!(missing.len(), 1, "{events:#?}");
    let camera: Vec<_> = spool.segments().unwrap().into_iter().filter(|s| s.source == "camera").collect();
    let first = camera.iter().map(|s| s.start_ms).min().expect("no camera segment");
    let end = camera.iter().map(|s| s.start_ms + s.duration_ms).max().unwrap();
    assert!(first < 3_000 && end >= 5_000, "camera from {first} to {end} ms");
}

/// A small tmpfs as the spool's file system, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::Builder::new().prefix("vigil-small-disk-").tempdir().unwrap().keep();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "mounting a {size} tmpfs needs root (this test plays a full disk on it)");
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_disk_stops_capture_cleanly_and_keeps_what_was_recorded() {
    let vnc = VncDisplay::start(&[FHD]).expect("TigerVNC");
    let _busy = busy_screens(&vnc.display);
    let disk = SmallDisk::mount("1200k");
    let spool_dir = disk.0.join("spool");
    let out = vigil_record(&spool_dir, &vnc.display, None, &["--duration", "40"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a full disk is exit 2: {}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let messages = summary["messages"].to_string();
    assert!(messages.contains("The disk is full") && messages.contains("kept"), "{messages}");
    assert!(summary["seconds"].as_f64().unwrap() < 39.0, "capture should have stopped early");
    // Everything filed before the disk filled up is intact.
    let rows = manifest(&spool_dir);
    assert!(!rows.is_empty());
    for row in &rows {
        let file = spool_dir.join("segments").join(row["file"].as_str().unwrap());
        assert_eq!(vigil_spool::sha256_file(&file).unwrap(), row["sha256"]);
        probe(&file);
    }
}

/// `vigil record` of `scenes` from the file camera alone for `seconds`, with the analysis models
/// in `models` (`VIGIL_MODELS`): its stderr and its events.
fn record_with_models(
    models: &Path,
    scenes: &[(vigil_testkit::Scene, u32)],
    seconds: u32,
) -> (String, Vec<vigil_spool::EventRecord>) {
    let dir = tempfile::tempdir().unwrap();
    let clips = tempfile::tempdir().unwrap();
    let clip = vigil_testkit::camera_clip(clips.path(), "clip", scenes, false).unwrap();
    let policy = clips.path().join("policy.toml");
    std::fs::write(&policy, "schema = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["record", "--out", dir.path().to_str().unwrap(), "--screens", "none", "--mic", "none"])
        .args(["--duration", &seconds.to_string(), "--policy", policy.to_str().unwrap(), "--camera"])
        .arg(format!("file:{}", clip.display()))
        .env("VIGIL_MODELS", models)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (stderr, vigil_spool::Spool::open(dir.path()).unwrap().events().unwrap())
}

/// A corrupt model turns off only its own flags, said on the timeline and on stderr; the
/// recording and the other flags go on: here BlazeFace's file is damaged, so `face.turned` is
/// unavailable, and the face that leaves the clip is still `face.missing`.
#[test]
fn a_corrupt_head_model_turns_off_only_the_turned_head() {
    use vigil_analysis::{head::HEAD_MODEL, vision::FACE_MODEL};
    let models = tempfile::tempdir().unwrap();
    std::fs::copy(vigil_analysis::vision::models_dir().join(FACE_MODEL), models.path().join(FACE_MODEL)).unwrap();
    let mut damaged = std::fs::read(vigil_analysis::vision::models_dir().join(HEAD_MODEL)).unwrap();
    damaged[1000] ^= 0xff;
    std::fs::write(models.path().join(HEAD_MODEL), damaged).unwrap();
    let scenes = [(vigil_testkit::Scene::Face, 3), (vigil_testkit::Scene::NoFace, 9)];
    let (stderr, events) = record_with_models(models.path(), &scenes, 12);
    assert!(stderr.contains("face.turned off for this session"), "{stderr}");
    let unavailable: Vec<_> = events.iter().filter(|e| e.kind == "analysis.unavailable").collect();
    assert_eq!(unavailable.len(), 1, "{events:#?}");
    assert_eq!(unavailable[0].data["flags"], serde_json::json!(["face.turned"]));
    assert_eq!(unavailable[0].data["code"], "analysis.model_corrupt");
    let missing = events.iter().find(|e| e.kind == "face.missing").unwrap_or_else(|| panic!("{events:#?}"));
    let start = missing.data["start_ms"].as_u64().unwrap();
    assert!((2_000..=5_000).contains(&start), "the face left at 3 s, flagged from {start} ms");
}

/// Without the face mesh (here missing), a raised head is not judged, said once on the timeline
/// and on stderr; a turned or bowed head still is, and every flag stays on.
#[test]
fn a_missing_face_mesh_turns_off_only_the_raised_head() {
    use vigil_analysis::{head::HEAD_MODEL, vision::FACE_MODEL};
    let models = tempfile::tempdir().unwrap();
    for model in [FACE_MODEL, HEAD_MODEL] {
        std::fs::copy(vigil_analysis::vision::models_dir().join(model), models.path().join(model)).unwrap();
    }
    let (stderr, events) = record_with_models(models.path(), &[(vigil_testkit::Scene::Face, 4)], 4);
    assert!(stderr.contains("a raised head is not judged"), "{stderr}");
    let unavailable: Vec<_> = events.iter().filter(|e| e.kind == "analysis.unavailable").collect();
    assert_eq!(unavailable.len(), 1, "{events:#?}");
    assert_eq!(unavailable[0].data["code"], "analysis.model_missing");
    assert_eq!(unavailable[0].data["flags"], serde_json::json!([]), "no flag is off");
}

/// A camera whose pictures the face detectors cannot search (here 20x16: a broken driver) gives
/// no face flag at all, never "no face" for what nobody could look at; it is said once, on the
/// timeline and on stderr, and the recording goes on.
#[test]
fn pictures_too_small_to_search_are_said_once_and_never_taken_for_no_face() {
    let dir = tempfile::tempdir().unwrap();
    let clips = tempfile::tempdir().unwrap();
    let clip = clips.path().join("tiny.y4m");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=20x16:rate=5", "-t", "8"])
        .args(["-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe"])
        .arg(&clip)
        .status()
        .expect("ffmpeg (scripts/install-deps installs it)");
    assert!(made.success());
    let policy = clips.path().join("policy.toml");
    std::fs::write(&policy, "schema = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["record", "--out", dir.path().to_str().unwrap(), "--screens", "none", "--mic", "none"])
        .args(["--duration", "8", "--policy", policy.to_str().unwrap(), "--camera"])
        .arg(format!("file:{}", clip.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("the face flags skip such pictures"), "{stderr}");
    let events = vigil_spool::Spool::open(dir.path()).unwrap().events().unwrap();
    let unavailable: Vec<_> = events.iter().filter(|e| e.kind == "analysis.unavailable").collect();
    assert_eq!(unavailable.len(), 1, "said once: {events:#?}");
    assert_eq!(unavailable[0].data["code"], "analysis.picture_too_small");
    assert_eq!(unavailable[0].data["flags"], serde_json::json!(["face.missing", "face.multiple", "face.turned"]));
    assert!(!events.iter().any(|e| e.kind.starts_with("face.")), "{events:#?}");
    assert!(events.iter().any(|e| e.kind == "capture.started"), "the camera still records: {events:#?}");
}

//! The flags live: `vigil run --headless --camera file:CLIP.y4m` plays a labelled clip (a face,
//! then nobody for 6 s, then two faces for 6 s) as the camera while a voice (Debian's espeak-ng)
//! speaks into the microphone (a private PulseAudio server). The server's timeline holds a
//! `face.missing` and a `face.multiple` interval where the clip has them and a `speech.heard`
//! interval where the voice was (each within 2 s), computed on the device as the session ran;
//! each camera flag points to its evidence picture, a 320x240 JPEG the reviewer can open.

use serde_json::Value;
use std::process::Command;
use std::time::Duration;
use vigil_testkit::{camera_clip, PulseAudio, ReferenceServer, Scene, XvfbDisplay};

/// `text` spoken by espeak-ng into `dir/voice.wav`; its length in seconds.
fn voice(dir: &std::path::Path, text: &str) -> (std::path::PathBuf, f64) {
    let wav = dir.join("voice.wav");
    let status = Command::new("espeak-ng").args(["-v", "en", "-w"]).arg(&wav).arg(text).status();
    assert!(status.is_ok_and(|s| s.success()), "espeak-ng (scripts/install-deps installs it)");
    let out = Command::new("soxi").arg("-D").arg(&wav).output().expect("soxi (sox)");
    (wav, String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
}

#[test]
fn a_face_leaving_and_a_second_face_are_intervals_on_the_servers_timeline() {
    let x = XvfbDisplay::start(1280, 720).expect("Xvfb");
    let server = ReferenceServer::start("MATH-101").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenes = [(Scene::Face, 6), (Scene::NoFace, 6), (Scene::Face, 5), (Scene::TwoFaces, 6), (Scene::Face, 10)];
    let clip = camera_clip(dir.path(), "exam", &scenes, false).unwrap();
    let mut pulse = PulseAudio::start().unwrap();
    let (speech, speech_s) =
        voice(dir.path(), "The answer to question four is in the second paragraph, read it again.");
    let run = server
        .headless_run(env!("CARGO_BIN_EXE_vigil"), "MATH-101", "Aigerim Test", 28, &dir.path().join("data"))
        .arg(format!("--camera=file:{}", clip.display()))
        .env("DISPLAY", &x.display)
        .envs(pulse.env())
        .spawn()
        .unwrap();
    // The voice speaks once, well inside the recording.
    std::thread::sleep(Duration::from_secs(14));
    let spoken_at = pulse.play_file(&speech).unwrap();
    let detail = server.session_of_run(&run.wait_with_output().unwrap()).unwrap();
    let events = detail["events"].as_array().unwrap();
    let capture_at = events.iter().find(|e| e["kind"] == "capture.started").unwrap()["data"]["at_ms"].as_f64().unwrap();
    // The clip starts with the camera's first segment (the microphone opens before the camera).
    let clip_at = detail["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["source"] == "camera")
        .filter_map(|s| s["start_ms"].as_f64())
        .fold(f64::INFINITY, f64::min);
    // Each interval as (kind, start, end) in seconds of the clip.
    let intervals: Vec<(String, f64, f64)> = detail["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"].as_str().unwrap().starts_with("face."))
        .map(|i| {
            let open = events.iter().find(|e| e["seq"] == i["start_seq"]).unwrap();
            let close = events.iter().find(|e| e["seq"] == i["end_seq"]).unwrap_or_else(|| panic!("{i} never closed"));
            let clip_s = |ms: &Value| (ms.as_f64().unwrap() - clip_at) / 1000.0;
            (
                i["kind"].as_str().unwrap().to_owned(),
                clip_s(&open["data"]["start_ms"]),
                clip_s(&close["data"]["end_ms"]),
            )
        })
        .collect();
    let near = |kind: &str, start: f64, end: f64| {
        intervals.iter().any(|(k, s, e)| k == kind && (s - start).abs() <= 2.0 && (e - end).abs() <= 2.0)
    };
    assert!(near("face.missing", 6.0, 12.0), "{intervals:?}");
    assert!(near("face.multiple", 17.0, 23.0), "{intervals:?}");
    assert_eq!(intervals.len(), 2, "{intervals:?}");

    // Speech where the voice was, on the wall clock: the recording's clock starts at
    // capture.started's time minus its at_ms.
    let capture = events.iter().find(|e| e["kind"] == "capture.started").unwrap();
    let clock_zero_ms =
        vigil_core::time::parse_rfc3339_ms(capture["time"].as_str().unwrap()).unwrap() as f64 - capture_at;
    let spoken_ms = spoken_at.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
    let heard: Vec<(f64, f64)> = events
        .iter()
        .filter(|e| e["kind"] == "speech.ended")
        .map(|e| {
            let at = |k: &str| (clock_zero_ms + e["data"][k].as_f64().unwrap() - spoken_ms) / 1000.0;
            (at("start_ms"), at("end_ms"))
        })
        .collect();
    println!("face flags (clip seconds): {intervals:?}; speech (seconds from the voice's start): {heard:?}, voice {speech_s:.1} s");
    assert_eq!(heard.len(), 1, "{heard:?} (voice of {speech_s:.1} s)");
    assert!(heard[0].0.abs() <= 2.0 && (heard[0].1 - speech_s).abs() <= 2.0, "{heard:?} (voice of {speech_s:.1} s)");
    assert!(events.iter().any(|e| e["kind"] == "speech.heard" && e["severity"] == "warning"));

    // Each camera flag points to its evidence: a picture of the camera at that moment.
    for open in events.iter().filter(|e| e["kind"] == "face.missing" || e["kind"] == "face.multiple") {
        let picture = open["data"]["picture"].as_u64().unwrap_or_else(|| panic!("no picture: {open}"));
        let segment = detail["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == "evidence-camera" && s["sequence"] == picture)
            .unwrap_or_else(|| panic!("evidence-camera #{picture} not filed"));
        let resp = reqwest::blocking::Client::new()
            .get(format!("{}{}", server.url, segment["download"].as_str().unwrap()))
            .bearer_auth(&server.admin_token)
            .send()
            .unwrap();
        assert_eq!(resp.headers()["content-type"], "image/jpeg");
        let jpeg = resp.bytes().unwrap();
        assert_eq!(jpeg_size(&jpeg), Some((320, 240)), "{} bytes", jpeg.len());
    }
}

/// Width and height from a JPEG's start-of-frame marker.
fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 9 < jpeg.len() {
        let (marker, len) = (jpeg[i + 1], usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]])));
        if (0xC0..=0xC2).contains(&marker) {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return Some((w.into(), h.into()));
        }
        i += 2 + len;
    }
    None
}

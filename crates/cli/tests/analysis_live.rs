//! The camera flags live: `vigil run --headless --camera file:CLIP.y4m` plays a labelled clip (a
//! face, then nobody for 6 s, then two faces for 6 s) as the camera; the server's timeline holds
//! a `face.missing` and a `face.multiple` interval where the clip has them (within 2 s), computed
//! on the device as the session ran.

use serde_json::Value;
use std::process::{Command, Stdio};
use vigil_testkit::{camera_clip, ReferenceServer, Scene, XvfbDisplay};

#[test]
fn a_face_leaving_and_a_second_face_are_intervals_on_the_servers_timeline() {
    let x = XvfbDisplay::start(1280, 720).expect("Xvfb");
    let server = ReferenceServer::start("MATH-101").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenes = [(Scene::Face, 6), (Scene::NoFace, 6), (Scene::Face, 5), (Scene::TwoFaces, 6), (Scene::Face, 10)];
    let clip = camera_clip(dir.path(), "exam", &scenes, false).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["run", "--headless", "--consent", "--name", "Aigerim Test", "--mic", "none"])
        .arg(format!("--camera=file:{}", clip.display()))
        .args(["--server", &server.url, "--server-key", &server.key, "--exam-code", "MATH-101"])
        .args(["--duration", "28", "--drain-timeout", "120", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "vigil run: {}", String::from_utf8_lossy(&out.stderr));
    let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = receipt["session_id"].as_str().unwrap();
    let detail = server.review(&format!("/v1/review/sessions/{id}")).unwrap();
    let events = detail["events"].as_array().unwrap();
    let capture_at = events.iter().find(|e| e["kind"] == "capture.started").unwrap()["data"]["at_ms"].as_f64().unwrap();
    // Each interval as (kind, start, end) in seconds of the clip.
    let intervals: Vec<(String, f64, f64)> = detail["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"].as_str().unwrap().starts_with("face."))
        .map(|i| {
            let open = events.iter().find(|e| e["seq"] == i["start_seq"]).unwrap();
            let close = events.iter().find(|e| e["seq"] == i["end_seq"]).unwrap_or_else(|| panic!("{i} never closed"));
            let clip_s = |ms: &Value| (ms.as_f64().unwrap() - capture_at) / 1000.0;
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
}

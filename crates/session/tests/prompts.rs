//! The candidate's gentle prompt: while a camera flag is open (nobody in front of a file camera
//! playing a labelled clip), the live status names it, so that the app can say "we cannot see
//! your face"; it goes when the face is back. The policy's `[analysis] prompts = false` keeps the
//! flag on the timeline but never prompts.

use std::time::{Duration, Instant};
use vigil_capture::{CameraMode, RecordOptions};
use vigil_core::StopToken;
use vigil_session::{JoinParams, Running, Session};
use vigil_testkit::{camera_clip, ReferenceServer, Scene};

fn join(server: &ReferenceServer, code: &str, data: &std::path::Path) -> Session {
    Session::open(&JoinParams {
        server: server.url.clone(),
        server_key: server.key.clone(),
        exam_code: code.into(),
        name: "Dana".into(),
        data_dir: data.to_path_buf(),
        consent: true,
        join_timeout: Duration::from_secs(10),
        insecure_http: false,
    })
    .unwrap()
}

/// Records `clip` as the camera (no microphone, no screens).
fn record(session: &Session, clip: &std::path::Path) -> (Running, StopToken) {
    let options = RecordOptions {
        camera: CameraMode::File(clip.to_path_buf()),
        microphone: false,
        screens: false,
        ..RecordOptions::default()
    };
    let stop = StopToken::new();
    (session.start(options, stop.clone()), stop)
}

/// Polls the live status until `what` holds of its prompts, or `timeout`.
fn wait_for(running: &Running, timeout: Duration, what: impl Fn(&[&str]) -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if what(&running.status().prompts) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn has_face_missing_event(session: &Session) -> bool {
    session.timeline.spool().events().unwrap().iter().any(|e| e.kind == "face.missing")
}

#[test]
fn a_missing_face_is_prompted_while_it_lasts_unless_the_policy_says_no() {
    let server = ReferenceServer::start("PROMPT").unwrap();
    server.create_exam("QUIET", Some("schema = 1\n[analysis]\nprompts = false\n"), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clip =
        camera_clip(dir.path(), "leave", &[(Scene::Face, 3), (Scene::NoFace, 8), (Scene::Face, 30)], false).unwrap();

    let data = tempfile::tempdir().unwrap();
    let session = join(&server, "PROMPT", data.path());
    let (running, stop) = record(&session, &clip);
    assert!(running.status().prompts.is_empty());
    assert!(
        wait_for(&running, Duration::from_secs(12), |p| p == ["face.missing"]),
        "no prompt while nobody is in front of the camera: {:?}",
        running.status()
    );
    assert!(wait_for(&running, Duration::from_secs(8), |p| p.is_empty()), "the prompt stays after the face is back");
    stop.stop();
    running.stop().unwrap();

    let data = tempfile::tempdir().unwrap();
    let session = join(&server, "QUIET", data.path());
    let (running, stop) = record(&session, &clip);
    let start = Instant::now();
    while !has_face_missing_event(&session) && start.elapsed() < Duration::from_secs(12) {
        assert!(running.status().prompts.is_empty(), "prompted although the policy says no");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(has_face_missing_event(&session), "the flag itself is still computed");
    assert!(running.status().prompts.is_empty());
    stop.stop();
    running.stop().unwrap();
}

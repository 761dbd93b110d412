//! The uplink's segment upload against the official tus server for Node (@tus/server with
//! @tus/file-store, from npm): stored byte for byte, and resumed at the server's offset.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_spool::SegmentRecord;
use vigil_uplink::{SessionInfo, Uplink, UplinkError};

struct NodeTus(std::process::Child);

impl Drop for NodeTus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The tests pick free ports by binding and releasing them; two Node servers started at once
/// could pick the same one (the second then fails to bind while the first answers for it). One
/// test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn start_node_tus(store: &Path) -> (NodeTus, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tus-node");
    assert!(dir.join("node_modules/@tus/server").exists(), "run scripts/install-deps (npm ci in tests/tus-node) first");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("node")
        .arg(dir.join("server.mjs"))
        .arg(port.to_string())
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node (Debian package nodejs, 20.19 or newer)");
    let mut node = NodeTus(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the Node tus server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // What answers must be our server, not another process that holds the port.
    assert!(node.0.try_wait().unwrap().is_none(), "the Node tus server exited (port {port} taken?)");
    (node, format!("http://127.0.0.1:{port}/files/"))
}

fn segment(dir: &Path, file: &str, data: &[u8]) -> SegmentRecord {
    std::fs::write(dir.join(file), data).unwrap();
    SegmentRecord {
        source: "camera".into(),
        sequence: 0,
        file: file.into(),
        started_at: "2026-11-25T00:00:00.000Z".into(),
        start_ms: 0,
        duration_ms: 10_000,
        video_frames: 150,
        audio_frames: 500,
        width: 640,
        height: 480,
        bytes: data.len() as u64,
        sha256: vigil_spool::sha256_hex(data),
        recovered: false,
    }
}

/// The file @tus/file-store wrote for an upload location.
fn stored(store: &Path, location: &str) -> Vec<u8> {
    let id = location.rsplit('/').next().unwrap();
    std::fs::read(store.join(id)).unwrap()
}

#[test]
fn uploads_byte_for_byte_and_resumes_against_the_node_tus_server() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let store = tempfile::tempdir().unwrap();
    let (_server, url) = start_node_tus(store.path());
    let local = tempfile::tempdir().unwrap();
    let session = SessionInfo {
        server: url.clone(),
        session_id: "interop".into(),
        token: "unused-by-this-server".into(),
        upload_url: url.clone(),
        policy_json: "{}".into(),
        exam_url: None,
        exam_code: "interop".into(),
        policy_signature: String::new(),
        grant: None,
    };
    // The backend is elsewhere: this tus server is an external upload endpoint.
    let up = Uplink::new("http://127.0.0.1:9/", false).unwrap();

    // 1. A whole segment (larger than one 256 KiB chunk).
    let data: Vec<u8> = (0..700_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let seg = segment(local.path(), "camera-000000.mp4", &data);
    let location = std::cell::RefCell::new(String::new());
    let remember = |loc: &str| -> Result<(), UplinkError> {
        *location.borrow_mut() = loc.to_owned();
        Ok(())
    };
    up.upload(&session, local.path(), &seg, None, &remember).unwrap();
    assert_eq!(stored(store.path(), &location.borrow()), data, "stored bytes differ");

    // 2. A segment whose upload was interrupted after 100 000 bytes: resumed at the server's offset.
    let data2: Vec<u8> = data.iter().rev().copied().collect();
    let seg2 = segment(local.path(), "camera-000001.mp4", &data2);
    let client = reqwest::blocking::Client::new();
    let created = client
        .post(&url)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", data2.len().to_string())
        .send()
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let loc2 = created.headers()["Location"].to_str().unwrap().to_owned();
    let first = client
        .patch(reqwest::Url::parse(&url).unwrap().join(&loc2).unwrap())
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(data2[..100_000].to_vec())
        .send()
        .unwrap();
    assert_eq!(first.status().as_u16(), 204);
    let never = |_: &str| -> Result<(), UplinkError> { panic!("a resumed upload must not create a new one") };
    up.upload(&session, local.path(), &seg2, Some(loc2.clone()), &never).unwrap();
    assert_eq!(stored(store.path(), &loc2), data2, "resumed upload differs");
}

/// `vigil-server serve --upload-endpoint` sends clients to the Node tus server: the segment is
/// stored there byte for byte, registered with the backend, listed in the receipt and in the review
/// API with where it is, and the session token never goes to the external server.
#[test]
fn a_whole_session_through_an_external_upload_endpoint() {
    use vigil_core::protocol::{Candidate, Consent, JoinRequest};
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let store = tempfile::tempdir().unwrap();
    let (_tus, tus_url) = start_node_tus(store.path());
    let server = vigil_testkit::ReferenceServer::start_with("EXT", &["--upload-endpoint", &tus_url]).unwrap();
    let up = Uplink::new(&server.url, false).unwrap();
    let req = JoinRequest {
        exam_code: "EXT".into(),
        candidate: Candidate { name: "Aigerim".into() },
        consent: Consent { accepted: true, at: vigil_core::time::now_rfc3339(), inventory_version: 1 },
        device: serde_json::json!({}),
        client_key: Some(vigil_spool::random_key()),
    };
    let session = up.join(&req, &server.key).unwrap();
    assert_eq!(session.upload_url, tus_url);
    assert!(!up.uploads_here(&session));

    let local = tempfile::tempdir().unwrap();
    let spool = std::sync::Arc::new(vigil_spool::Spool::open(local.path()).unwrap());
    let timeline = vigil_spool::Timeline::new(spool.clone());
    let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(40503) >> 7) as u8).collect();
    let seg = segment(&spool.segments_dir(), "camera-000000.mp4", &data);
    spool.add_segment(&seg).unwrap();
    let joined = vigil_core::event::Event::new(vigil_core::event::EventKind::SessionJoined, serde_json::json!({}));
    spool.add_event(&joined).unwrap();
    let report = vigil_uplink::drain(&up, &timeline, &session).unwrap();
    assert_eq!((report.segments_sent, report.segments_left, report.events_left), (1, 0, 0));

    let receipt = up.finish(&session, &server.key).unwrap();
    assert!(vigil_uplink::verify_receipt(&spool, &receipt).unwrap().is_empty(), "receipt: {receipt:?}");
    let review = server.review(&format!("/v1/review/sessions/{}", session.session_id)).unwrap();
    let stored_at = review["segments"][0]["stored_at"].as_str().unwrap().to_owned();
    assert!(stored_at.starts_with(&tus_url), "{stored_at}");
    assert_eq!(stored(store.path(), &stored_at), data);
    // @tus/file-store keeps the request's metadata: no token in it, and none was sent as a header
    // (the server in tests/tus-node rejects requests that carry an Authorization header).
    let info =
        std::fs::read_to_string(store.path().join(format!("{}.json", stored_at.rsplit('/').next().unwrap()))).unwrap();
    assert!(!info.contains(&session.token));

    // Registration is refused by a server that takes uploads itself.
    let own = vigil_testkit::ReferenceServer::start("OWN").unwrap();
    let own_up = Uplink::new(&own.url, false).unwrap();
    let own_session = own_up.join(&JoinRequest { exam_code: "OWN".into(), client_key: None, ..req }, &own.key).unwrap();
    let err = own_up.register_segment(&own_session, &seg, &reqwest::Url::parse(&stored_at).unwrap()).unwrap_err();
    assert_eq!(err.code(), "segments.registration_disabled", "{err}");
}

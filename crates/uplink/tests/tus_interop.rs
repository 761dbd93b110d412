//! The uplink's segment upload against the official tus server for Node (@tus/server with
//! @tus/file-store, from npm): stored byte for byte, and resumed at the server's offset.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_core::spool::SegmentRecord;
use vigil_uplink::{SessionInfo, Uplink, UplinkError};

struct NodeTus(std::process::Child);

impl Drop for NodeTus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the Node tus server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (NodeTus(child), format!("http://127.0.0.1:{port}/files/"))
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
        sha256: vigil_core::spool::sha256_hex(data),
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
    };
    let up = Uplink::new(&url).unwrap();

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

//! The client side of the evidence-hardening issue against the reference server: a queue no
//! single item can block, a signed join nothing can be swapped into, a receipt nobody can forge,
//! and no plain HTTP to another machine.

use serde_json::json;
use std::io::{Read, Write};
use std::sync::Arc;
use vigil_core::event::{Event, EventKind};
use vigil_core::protocol::{Candidate, Consent, JoinRequest, ReceiptBody, SignedJson, SignedKind};
use vigil_spool::{SegmentRecord, Spool, Timeline};
use vigil_testkit::ReferenceServer;
use vigil_uplink::{drain, verify_receipt, SessionInfo, Uplink};

fn join(up: &Uplink, server: &ReferenceServer, code: &str) -> SessionInfo {
    let req = JoinRequest {
        exam_code: code.into(),
        candidate: Candidate { name: "Aigerim".into() },
        consent: Consent { accepted: true, at: vigil_core::time::now_rfc3339(), inventory_version: 1 },
        device: json!({}),
        client_key: Some(vigil_spool::random_key()),
    };
    up.join(&req, &server.key).unwrap()
}

/// A segment of `plain` sealed to the session's exam, filed in the spool.
fn add_segment(spool: &Spool, s: &SessionInfo, source: &str, sequence: u64, plain: &[u8]) -> SegmentRecord {
    let policy: serde_json::Value = serde_json::from_str(&s.policy_json).unwrap();
    let recipient = vigil_spool::seal::parse_recipient(policy["encrypt_to"].as_str().unwrap()).unwrap();
    let sealed = vigil_spool::seal::seal_bytes(plain, &recipient).unwrap();
    let file = format!("{source}-{sequence:06}.mp4.age");
    std::fs::write(spool.segments_dir().join(&file), &sealed).unwrap();
    let seg = SegmentRecord {
        source: source.into(),
        sequence,
        file,
        started_at: vigil_core::time::now_rfc3339(),
        start_ms: sequence * 10_000,
        duration_ms: 10_000,
        video_frames: 1,
        audio_frames: 0,
        width: 2,
        height: 2,
        bytes: sealed.len() as u64,
        sha256: vigil_spool::sha256_hex(&sealed),
        recovered: false,
    };
    spool.add_segment(&seg).unwrap();
    seg
}

/// The three poison triggers: 150 processes with long paths (events far over one batch), an event
/// written by an older client too large for any batch, and a segment corrupted on disk before it
/// was sent. The session still finishes with every other segment and every event delivered.
#[test]
fn no_single_item_blocks_delivery() {
    let server = ReferenceServer::start("POISON").unwrap();
    let up = Uplink::new(&server.url, false).unwrap();
    let s = join(&up, &server, "POISON");
    let local = tempfile::tempdir().unwrap();
    let spool = Arc::new(Spool::open(local.path()).unwrap());
    let timeline = Timeline::new(spool.clone());

    // 150 short-lived copies of `anydesk` under a 4 KB path: each event near the data limit.
    let path = format!("/tmp/{}/anydesk", "d".repeat(4000));
    for pid in 0..150 {
        let cmdline: Vec<String> = (0..28).map(|i| format!("{path}-{i}")).collect();
        timeline
            .record(Event::new(EventKind::AppProhibitedStarted, json!({"pid": pid, "exe": path, "cmdline": cmdline})));
    }
    // An event from a client that bounded nothing: 3 MiB of data, straight into the spool.
    let db = rusqlite::Connection::open(local.path().join("spool.db")).unwrap();
    db.execute(
        "INSERT INTO events (time, kind, data) VALUES (?1, 'proctor.instruction', ?2)",
        [vigil_core::time::now_rfc3339(), json!({"text": "m".repeat(3 * 1024 * 1024)}).to_string()],
    )
    .unwrap();
    drop(db);
    // Three segments; the second's bytes change on disk after its hash was taken.
    let segs: Vec<SegmentRecord> =
        (0..3).map(|n| add_segment(&spool, &s, "camera", n, format!("segment {n}").as_bytes())).collect();
    let corrupt = spool.segments_dir().join(&segs[1].file);
    let mut bytes = std::fs::read(&corrupt).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&corrupt, &bytes).unwrap();

    let mut report = drain(&up, &timeline, &s).unwrap();
    for _ in 0..3 {
        if report.events_left == 0 && report.segments_left == 0 {
            break;
        }
        report = drain(&up, &timeline, &s).unwrap(); // the set-aside event goes in the next pass
    }
    assert_eq!((report.events_left, report.segments_left), (0, 0), "{report:?}");

    let receipt = up.finish(&s, &server.key).unwrap();
    let missing = verify_receipt(&spool, &receipt).unwrap();
    assert!(missing.is_empty(), "{missing:?}");
    let filed: Vec<u64> = receipt.segments.iter().map(|r| r.sequence).collect();
    assert_eq!(filed, [0, 2], "the corrupt segment is set aside, the others filed");
    assert_eq!(spool.set_aside_files().unwrap(), [segs[1].file.clone()]);
    assert!(corrupt.exists(), "a set-aside segment is kept on disk");

    let review = server.review(&format!("/v1/review/sessions/{}", s.session_id)).unwrap();
    let events = review["events"].as_array().unwrap();
    assert_eq!(events.len() as u64, spool.last_event_seq().unwrap(), "every event delivered");
    assert_eq!(events.iter().filter(|e| e["kind"] == "app.prohibited.started").count(), 150);
    let stub = events.iter().find(|e| e["kind"] == "proctor.instruction").unwrap();
    assert_eq!(stub["truncated"], true);
    assert!(stub["data"]["omitted"]["bytes"].as_u64().unwrap() > 3 * 1024 * 1024, "{stub}");
    let aside = events.iter().find(|e| e["kind"] == "upload.set_aside").unwrap();
    assert_eq!(aside["severity"], "critical");
    assert_eq!(aside["data"]["code"], "upload.checksum_mismatch");
    assert_eq!(aside["data"]["sha256_recorded"], segs[1].sha256.as_str());
    assert_eq!(aside["data"]["sha256_now"], vigil_spool::sha256_hex(&bytes).as_str());
}

/// Another exam's validly signed policy, another exam page, another session: each swapped into
/// a join answer (as a man in the middle would) is refused.
#[test]
fn nothing_can_be_swapped_into_a_signed_join() {
    let server = ReferenceServer::start("STRICT").unwrap();
    server.create_exam("LAX", None, Some("https://elsewhere.example/")).unwrap();
    let up = Uplink::new(&server.url, false).unwrap();
    let strict = join(&up, &server, "STRICT");
    let lax = join(&up, &server, "LAX");
    strict.verify(&server.key).unwrap();

    let swapped = SessionInfo {
        policy_json: lax.policy_json.clone(),
        policy_signature: lax.policy_signature.clone(),
        ..strict.clone()
    };
    assert_eq!(swapped.verify(&server.key).unwrap_err().code(), "join.grant_mismatch");
    let moved = SessionInfo { exam_url: Some("https://evil.example/".into()), ..strict.clone() };
    assert_eq!(moved.verify(&server.key).unwrap_err().code(), "join.grant_mismatch");
    let other_grant = SessionInfo { grant: lax.grant.clone(), ..strict.clone() };
    assert_eq!(other_grant.verify(&server.key).unwrap_err().code(), "join.grant_mismatch");
    let uploads_elsewhere = SessionInfo { upload_url: "https://evil.example/files".into(), ..strict.clone() };
    assert_eq!(uploads_elsewhere.verify(&server.key).unwrap_err().code(), "join.grant_mismatch");
    let unsigned = SessionInfo { grant: None, ..strict.clone() };
    assert_eq!(unsigned.verify(&server.key).unwrap_err().code(), "join.unsigned");
    let other_key = vigil_core::protocol::public_key_base64(&ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
    assert_eq!(strict.verify(&other_key).unwrap_err().code(), "policy.signature");
}

/// A proxy that swallowed the uploads answers `finish` with a receipt it made up: refused.
#[test]
fn a_forged_receipt_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let forger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let body = ReceiptBody {
        session_id: "s1".into(),
        finished_at: vigil_core::time::now_rfc3339(),
        segments: vec![],
        events: 0,
        last_event_seq: 0,
    };
    let forged = vigil_core::protocol::Receipt::sign(body, &forger);
    let answer = serde_json::to_string(&forged).unwrap();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            answer.len()
        );
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(answer.as_bytes()).unwrap();
    });
    let real_key = vigil_core::protocol::public_key_base64(&ed25519_dalek::SigningKey::from_bytes(&[1; 32]));
    let session = SessionInfo {
        server: url.clone(),
        session_id: "s1".into(),
        token: "t".into(),
        upload_url: format!("{url}/v1/uploads"),
        policy_json: "{}".into(),
        exam_url: None,
        exam_code: "X".into(),
        policy_signature: String::new(),
        grant: None,
    };
    let err = Uplink::new(&url, false).unwrap().finish(&session, &real_key).unwrap_err();
    assert_eq!(err.code(), "policy.signature", "{err}");
    assert!(!err.is_transient());
    // A signature made for a join never passes for a receipt, even with the right key.
    let grant = SignedJson::sign(SignedKind::Join, &forged.body, &forger);
    let key = vigil_core::protocol::public_key_base64(&forger);
    assert!(grant.open::<ReceiptBody>(SignedKind::Receipt, &key).is_err());
}

#[test]
fn plain_http_goes_only_to_this_machine_unless_allowed() {
    let err = Uplink::new("http://192.0.2.10:8470/", false).err().unwrap();
    assert_eq!(err.code(), "uplink.insecure_http");
    assert!(err.to_string().contains("--insecure-http"), "{err}");
    assert!(Uplink::new("http://192.0.2.10:8470/", true).is_ok());
    assert!(Uplink::new("https://exam.example.org/", false).is_ok());
    assert!(Uplink::new("http://localhost:8470/", false).is_ok());
    assert!(Uplink::new("http://[::1]:8470/", false).is_ok());
    assert_eq!(Uplink::new("ftp://exam.example.org/", false).err().unwrap().code(), "uplink.bad_server_url");
}

/// The consent screen names who receives the recordings from the server's signed answer; another
/// key's signature is refused.
#[test]
fn the_receiver_is_named_by_the_servers_signature() {
    let server = ReferenceServer::start_with("INFO", &["--organiser", "Әл-Фараби атындағы ҚазҰУ"]).unwrap();
    let up = Uplink::new(&server.url, false).unwrap();
    let info = up.server_info(&server.key, None).unwrap();
    assert_eq!(info.organiser.as_deref(), Some("Әл-Фараби атындағы ҚазҰУ"));
    assert_eq!(info.origin, server.url.trim_end_matches('/'));
    let other = vigil_core::protocol::public_key_base64(&ed25519_dalek::SigningKey::from_bytes(&[4; 32]));
    assert_eq!(up.server_info(&other, None).unwrap_err().code(), "policy.signature");
    assert!(info.exam.is_none());

    // With an exam code: what that exam derives on the device, signed with the rest.
    server
        .create_exam(
            "QUIET",
            Some("schema = 1\n[analysis]\nspeech = false\nface_multiple = false\npictures = false\n"),
            None,
        )
        .unwrap();
    let exam = up.server_info(&server.key, Some("QUIET")).unwrap().exam.unwrap();
    assert_eq!(exam.flags, ["face.missing", "face.turned", "camera.covered", "camera.frozen"]);
    assert!(!exam.evidence_pictures);
    let default = up.server_info(&server.key, Some("INFO")).unwrap().exam.unwrap();
    assert_eq!(
        default.flags,
        ["face.missing", "face.multiple", "face.turned", "camera.covered", "camera.frozen", "speech"]
    );
    assert!(default.evidence_pictures);
    assert_eq!(up.server_info(&server.key, Some("NOPE")).unwrap_err().code(), "exam.unknown_code");
}

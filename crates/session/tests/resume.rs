//! Resuming checks the saved session against the provisioned key: a spool edited to drop the
//! lockdown or the encryption, or a different key, refuses to resume and deletes nothing.

use std::time::Duration;
use vigil_session::{JoinParams, Session};
use vigil_testkit::ReferenceServer;

fn params(server: &ReferenceServer, data: &std::path::Path, key: &str) -> JoinParams {
    JoinParams {
        server: server.url.clone(),
        server_key: key.to_owned(),
        exam_code: "RESUME".into(),
        name: "Aigerim".into(),
        data_dir: data.to_path_buf(),
        consent: true,
        join_timeout: Duration::from_secs(10),
        insecure_http: false,
    }
}

fn saved(data: &std::path::Path) -> serde_json::Value {
    let db = rusqlite::Connection::open(data.join("spool/spool.db")).unwrap();
    let text: String = db.query_row("SELECT value FROM kv WHERE key = 'session'", [], |r| r.get(0)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn save(data: &std::path::Path, info: &serde_json::Value) {
    let db = rusqlite::Connection::open(data.join("spool/spool.db")).unwrap();
    db.execute("UPDATE kv SET value = ?1 WHERE key = 'session'", [info.to_string()]).unwrap();
}

#[test]
fn a_tampered_spool_or_another_key_refuses_to_resume() {
    let server = ReferenceServer::start("RESUME").unwrap();
    let data = tempfile::tempdir().unwrap();
    let first = Session::open(&params(&server, data.path(), &server.key)).unwrap();
    assert!(!first.resumed);
    drop(first);
    // Untouched: resumes.
    let again = Session::open(&params(&server, data.path(), &server.key)).unwrap();
    assert!(again.resumed);
    drop(again);

    // The candidate edits the saved policy: no encryption, nothing prohibited.
    let original = saved(data.path());
    let mut policy: serde_json::Value = serde_json::from_str(original["policy_json"].as_str().unwrap()).unwrap();
    policy["encrypt_to"] = serde_json::Value::Null;
    let mut edited = original.clone();
    edited["policy_json"] = policy.to_string().into();
    save(data.path(), &edited);
    let err = Session::open(&params(&server, data.path(), &server.key)).err().unwrap();
    assert_eq!(err.code(), "session.saved_refused", "{err}");

    // The exam page moved in the spool: refused as well.
    let mut moved = original.clone();
    moved["exam_url"] = "https://evil.example/".into();
    save(data.path(), &moved);
    assert_eq!(
        Session::open(&params(&server, data.path(), &server.key)).err().unwrap().code(),
        "session.saved_refused"
    );

    // The right spool but another provisioned key (`--server-key` is no longer ignored).
    save(data.path(), &original);
    let other = vigil_core::protocol::public_key_base64(&ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
    assert_eq!(Session::open(&params(&server, data.path(), &other)).err().unwrap().code(), "session.saved_refused");
    // Nothing was deleted: the untouched spool still resumes.
    assert!(Session::open(&params(&server, data.path(), &server.key)).unwrap().resumed);
}

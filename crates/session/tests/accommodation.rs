//! The organiser's screen-reader accommodation reaches the timeline of the candidates it names,
//! once (not again on resume), and no one else's.

use std::time::Duration;
use vigil_session::{JoinParams, Session};
use vigil_testkit::ReferenceServer;

const POLICY: &str = r#"
schema = 1
[accommodations]
screen_reader = ["  aigerim s. "]
speech_flags = "off"
"#;

fn join(server: &ReferenceServer, data: &std::path::Path, name: &str) -> Session {
    Session::open(&JoinParams {
        server: server.url.clone(),
        server_key: server.key.clone(),
        exam_code: "ACCOMMODATE".into(),
        name: name.into(),
        data_dir: data.to_path_buf(),
        consent: true,
        join_timeout: Duration::from_secs(10),
        insecure_http: false,
    })
    .unwrap()
}

fn accommodations(session: &Session) -> Vec<serde_json::Value> {
    let events = session.timeline.spool().events().unwrap();
    events.into_iter().filter(|e| e.kind == "accommodation.applied").map(|e| e.data).collect()
}

#[test]
fn a_named_candidate_gets_the_screen_reader_accommodation_on_the_timeline() {
    let server = ReferenceServer::start("ACCOMMODATE").unwrap();
    server.create_exam("ACCOMMODATE", Some(POLICY), None).unwrap();

    let data = tempfile::tempdir().unwrap();
    let granted = join(&server, data.path(), "Aigerim S.");
    assert_eq!(accommodations(&granted), [serde_json::json!({"screen_reader": true, "speech_flags": "off"})]);
    drop(granted);
    let resumed = join(&server, data.path(), "Aigerim S.");
    assert!(resumed.resumed);
    assert_eq!(accommodations(&resumed).len(), 1, "recorded once, not again on resume");

    let other = tempfile::tempdir().unwrap();
    let not_named = join(&server, other.path(), "Bolat");
    assert!(accommodations(&not_named).is_empty());
}

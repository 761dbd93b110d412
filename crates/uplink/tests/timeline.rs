//! The typed timeline end to end: events written through `Timeline` on the client reach the
//! reference server with their severity, intervals and `truncated` mark; the review API pairs the
//! intervals; the server refuses undocumented kinds unless they are `x.` extensions.

use serde_json::json;
use std::sync::Arc;
use vigil_core::event::{interval_id, Event, EventKind, MAX_STRING_CHARS};
use vigil_core::protocol::{Candidate, Consent, JoinRequest, WireEvent};
use vigil_spool::{Spool, Timeline};
use vigil_testkit::ReferenceServer;
use vigil_uplink::{drain, Uplink};

fn join(server: &ReferenceServer, up: &Uplink) -> vigil_uplink::SessionInfo {
    let req = JoinRequest {
        exam_code: "TL".into(),
        candidate: Candidate { name: "Aigerim".into() },
        consent: Consent { accepted: true, at: vigil_core::time::now_rfc3339(), inventory_version: 1 },
        device: json!({}),
        client_key: Some(vigil_spool::random_key()),
    };
    up.join(&req, &server.key).unwrap()
}

#[test]
fn truncated_and_interval_events_are_delivered_and_reviewed() {
    let server = ReferenceServer::start("TL").unwrap();
    let up = Uplink::new(&server.url, false).unwrap();
    let session = join(&server, &up);
    let local = tempfile::tempdir().unwrap();
    let timeline = Timeline::new(Arc::new(Spool::open(local.path()).unwrap()));

    // A URL far over the limit: stored cut, marked, and still delivered.
    let long_url = format!("https://lms.example.org/{}", "a".repeat(10_000));
    timeline
        .record(Event::new(EventKind::NavigationBlocked, json!({"url": long_url, "rule": "no allow rule matches"})));
    // A prohibited application started and closed: two events sharing an interval id.
    let id = interval_id("app-4242");
    timeline.record(Event::new(EventKind::AppProhibitedStarted, json!({"pid": 4242, "app_id": "anydesk"})).opens(&id));
    timeline.record(Event::new(EventKind::Navigation, json!({"url": "https://lms.example.org/q/2"})));
    std::thread::sleep(std::time::Duration::from_millis(20));
    timeline.record(Event::new(EventKind::AppProhibitedExited, json!({"pid": 4242, "app_id": "anydesk"})).closes(&id));
    assert_eq!(timeline.failures().count, 0);

    let stored = timeline.spool().events().unwrap();
    assert!(stored[0].truncated);
    assert_eq!(stored[0].data["url"].as_str().unwrap().chars().count(), MAX_STRING_CHARS);

    let report = drain(&up, &timeline, &session).unwrap();
    assert_eq!(report.events_left, 0);

    let review = server.review(&format!("/v1/review/sessions/{}", session.session_id)).unwrap();
    let events = review["events"].as_array().unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[0]["kind"], "navigation.blocked");
    assert_eq!(events[0]["truncated"], true);
    assert_eq!(events[0]["severity"], "warning");
    assert_eq!(events[0]["data"]["url"].as_str().unwrap().chars().count(), MAX_STRING_CHARS);
    assert_eq!(events[1]["interval"], json!({"id": id, "phase": "open"}));
    assert_eq!(events[3]["interval"], json!({"id": id, "phase": "close"}));

    let intervals = review["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 1, "{intervals:?}");
    let span = &intervals[0];
    assert_eq!(span["id"], id.as_str());
    assert_eq!(span["kind"], "app.prohibited.started");
    assert_eq!(span["end_kind"], "app.prohibited.exited");
    assert_eq!(span["start"], events[1]["time"]);
    assert_eq!(span["end"], events[3]["time"]);
    assert!(span["start"].as_str().unwrap() < span["end"].as_str().unwrap());
}

#[test]
fn the_server_accepts_documented_and_extension_kinds_only() {
    let server = ReferenceServer::start("TL").unwrap();
    let up = Uplink::new(&server.url, false).unwrap();
    let session = join(&server, &up);
    let event = |seq: u64, kind: &str| WireEvent {
        seq,
        time: vigil_core::time::now_rfc3339(),
        kind: kind.into(),
        severity: Default::default(),
        interval: None,
        truncated: false,
        data: json!({"note": "x".repeat(5000)}),
    };
    let err = up.send_events(&session, &[event(1, "made.up")]).unwrap_err();
    assert_eq!(err.code(), "events.unknown_kind", "{err}");
    assert_eq!(up.send_events(&session, &[event(1, "x.lms.quiz_submitted")]).unwrap(), 1);
    // The server holds the limits too, whoever the client is.
    let review = server.review(&format!("/v1/review/sessions/{}", session.session_id)).unwrap();
    assert_eq!(review["events"][0]["truncated"], true);
    assert_eq!(review["events"][0]["data"]["note"].as_str().unwrap().len(), MAX_STRING_CHARS);
}

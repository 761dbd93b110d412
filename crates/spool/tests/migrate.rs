//! A spool written by Vigil 0.1 (schema 1, no version table; `tests/fixtures/v1-spool`, made by
//! `vigil record` of that release) opens with today's code: it is migrated in place, its segments
//! and events are all there, and old events get the severity their kind has now.

use vigil_core::event::{EventKind, Severity};
use vigil_spool::{Spool, SCHEMA_VERSION};

fn copy_fixture() -> tempfile::TempDir {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-spool");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("segments")).unwrap();
    std::fs::copy(from.join("spool.db"), dir.path().join("spool.db")).unwrap();
    for f in std::fs::read_dir(from.join("segments")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join("segments").join(f.file_name())).unwrap();
    }
    dir
}

fn version(dir: &std::path::Path) -> Option<u32> {
    let db = rusqlite::Connection::open(dir.join("spool.db")).unwrap();
    db.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).ok()
}

#[test]
fn a_v1_spool_is_migrated_and_keeps_everything() {
    let dir = copy_fixture();
    assert_eq!(version(dir.path()), None, "the fixture must be a 0.1 spool, without a version table");
    let before = {
        let db = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
        let n = |t: &str| db.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get::<_, u64>(0)).unwrap();
        (n("segments"), n("events"))
    };
    assert!(before.0 > 0 && before.1 > 0, "the fixture holds segments and events: {before:?}");

    let spool = Spool::open(dir.path()).unwrap();
    assert_eq!(version(dir.path()), Some(SCHEMA_VERSION));
    let segments = spool.segments().unwrap();
    assert_eq!(segments.len() as u64, before.0);
    for s in &segments {
        let path = spool.segments_dir().join(&s.file);
        assert_eq!(vigil_spool::sha256_file(&path).unwrap(), s.sha256, "{} changed", s.file);
    }
    let events = spool.events().unwrap();
    assert_eq!(events.len() as u64, before.1);
    for e in &events {
        let kind = EventKind::parse(&e.kind).unwrap_or_else(|| panic!("0.1 wrote an undocumented kind {}", e.kind));
        assert_eq!(e.severity, kind.severity(), "{}", e.kind);
        assert!(e.interval.is_none() && !e.truncated);
    }
    assert!(events.iter().any(|e| e.severity == Severity::Info));
    // New events continue the sequence; opening again changes nothing.
    let seq =
        spool.add_event(&vigil_core::event::Event::new(EventKind::SessionResumed, serde_json::json!({}))).unwrap();
    assert_eq!(seq, before.1 + 1);
    drop(spool);
    assert_eq!(Spool::open(dir.path()).unwrap().events().unwrap().len() as u64, before.1 + 1);
}

#[test]
fn a_spool_from_a_newer_vigil_is_refused_with_a_code() {
    let dir = tempfile::tempdir().unwrap();
    drop(Spool::open(dir.path()).unwrap());
    let db = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
    db.execute("UPDATE schema_version SET version = 99", []).unwrap();
    drop(db);
    let err = Spool::open(dir.path()).err().expect("a newer schema must not be opened");
    assert_eq!(err.code(), "spool.too_new", "{err}");
}

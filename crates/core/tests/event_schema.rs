//! The documented kinds are one list (`crates/core/src/event.rs`); the JSON Schema
//! (`schemas/event.v1.schema.json`), the OpenAPI document's `Event` and the README's table are
//! generated from it and must stay equal to it. `VIGIL_BLESS=1 cargo test -p vigil-core --test
//! event_schema` rewrites the schema file and the README table after a change to the list.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use vigil_core::event::{self, EventKind};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bless() -> bool {
    std::env::var_os("VIGIL_BLESS").is_some()
}

const BEGIN: &str = "<!-- event-kinds:begin (generated from crates/core/src/event.rs) -->\n";
const END: &str = "<!-- event-kinds:end -->";

#[test]
fn the_schema_file_is_generated_from_the_kinds() {
    let path = root().join("schemas/event.v1.schema.json");
    let generated = event::schema();
    if bless() {
        std::fs::write(&path, serde_json::to_string_pretty(&generated).unwrap() + "\n").unwrap();
    }
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file, generated, "schemas/event.v1.schema.json is stale: rerun with VIGIL_BLESS=1");
}

#[test]
fn openapi_describes_the_same_event() {
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(root().join("openapi.json")).unwrap()).unwrap();
    let mut generated = event::schema();
    let obj = generated.as_object_mut().unwrap();
    obj.remove("$schema");
    obj.remove("$id");
    assert_eq!(
        spec["components"]["schemas"]["Event"], generated,
        "openapi.json components.schemas.Event differs from schemas/event.v1.schema.json (without $schema and $id)"
    );
}

#[test]
fn the_readme_table_is_generated_from_the_kinds() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (before, rest) = readme.split_once(BEGIN).expect("README has the event-kinds markers");
    let (_, after) = rest.split_once(END).expect("README has the end marker");
    let table = event::markdown_table();
    if bless() {
        std::fs::write(&path, format!("{before}{BEGIN}{table}{END}{after}")).unwrap();
    } else {
        assert_eq!(
            rest.split_once(END).unwrap().0,
            table,
            "the README's event table is stale: rerun with VIGIL_BLESS=1"
        );
    }
}

#[test]
fn wire_events_validate_and_undocumented_kinds_do_not() {
    let validator = jsonschema::validator_for(&event::schema()).expect("the schema compiles");
    for k in event::EVENT_KINDS {
        let e = json!({"seq": 1, "time": "2026-11-29T10:00:00.000Z", "kind": k.name, "severity": k.severity.as_str(), "data": {}});
        assert!(validator.is_valid(&e), "{e}");
    }
    let ok = json!({"seq": 2, "time": "t", "kind": "x.lms.quiz_submitted", "interval": {"id": "a-1", "phase": "open"}, "truncated": true, "data": {"q": 3}});
    assert!(validator.is_valid(&ok));
    for bad in [
        json!({"seq": 3, "time": "t", "kind": "made.up", "data": {}}),
        json!({"seq": 3, "time": "t", "kind": "navigation", "severity": "loud", "data": {}}),
        json!({"seq": 3, "time": "t", "kind": "navigation", "interval": {"id": "", "phase": "open"}, "data": {}}),
        json!({"seq": 0, "time": "t", "kind": "navigation", "data": {}}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad}");
    }
    assert_eq!(EventKind::parse("made.up"), None);
}

//! The published policy JSON Schema agrees with the parser: every shipped policy and the
//! default policy validate against it, and broken ones are rejected by both.

use serde_json::Value;
use vigil_core::policy::Format;
use vigil_core::ExamPolicy;

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(include_str!("../../../schemas/policy.v1.schema.json")).unwrap();
    jsonschema::validator_for(&schema).expect("policy schema compiles")
}

fn as_json(text: &str, format: Format) -> Value {
    match format {
        Format::Json => serde_json::from_str(text).unwrap(),
        Format::Toml => serde_json::to_value(toml::from_str::<toml::Value>(text).unwrap()).unwrap(),
    }
}

#[test]
fn shipped_and_default_policies_match_the_schema() {
    let v = validator();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let format = Format::detect(Some(&path), &text);
        ExamPolicy::parse(&text, format).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let errors: Vec<String> = v.iter_errors(&as_json(&text, format)).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
    let default = serde_json::to_value(ExamPolicy::default()).unwrap();
    assert!(v.is_valid(&default));
}

#[test]
fn broken_policies_fail_both() {
    let v = validator();
    for bad in [
        r#"{"schema": 1, "verdicts": {"virtual_machine": "maybe"}}"#,
        r#"{"schema": 2}"#,
        r#"{"schema": 1, "requirements": {"max_monitors": 0}}"#,
        r#"{"schema": 1, "surprise": true}"#,
        r#"{"schema": 1, "applications": {"prohibited": [{"id": "x", "name": "X", "category": "other"}]}}"#,
    ] {
        assert!(ExamPolicy::parse(bad, Format::Json).is_err(), "parser accepted {bad}");
        assert!(!v.is_valid(&serde_json::from_str(bad).unwrap()), "schema accepted {bad}");
    }
}

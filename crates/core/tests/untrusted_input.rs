//! Property tests of the parsers that take input from outside: policy files, event data bounds,
//! wire events and join answers. Each runs `PROPTEST_CASES` generated inputs (256 by default;
//! the longer fuzz run in the README sets it to 100000).

use proptest::prelude::*;
use serde_json::Value;
use vigil_core::event::{bound_data, MAX_DATA_BYTES, MAX_STRING_CHARS};
use vigil_core::policy::Format;
use vigil_core::protocol::{JoinGrant, JoinResponse, SignedJson, SignedKind, WireEvent};
use vigil_core::ExamPolicy;

/// Any JSON value, nested and wide, with long strings.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        (0usize..5000).prop_map(|n| Value::String("é".repeat(n))),
    ];
    leaf.prop_recursive(10, 400, 80, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..100).prop_map(Value::Array),
            prop::collection::btree_map(".{0,80}", inner, 0..80).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn max_string(v: &Value) -> usize {
    match v {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.iter().map(max_string).max().unwrap_or(0),
        Value::Object(m) => m.values().map(max_string).max().unwrap_or(0),
        _ => 0,
    }
}

proptest! {
    /// Whatever a client sends, bounded data fits the documented limits, and bounding twice
    /// changes nothing.
    #[test]
    fn bounded_event_data_holds_the_limits(mut data in json_value()) {
        bound_data(&mut data);
        let json = serde_json::to_vec(&data).unwrap();
        prop_assert!(json.len() <= MAX_DATA_BYTES || data.get("omitted").is_some());
        prop_assert!(max_string(&data) <= MAX_STRING_CHARS);
        let again = data.clone();
        prop_assert!(!bound_data(&mut data));
        prop_assert_eq!(data, again);
    }

    /// Policy files of any text: a clear error or a policy, never a panic.
    #[test]
    fn policy_text_never_panics(text in ".{0,400}") {
        let _ = ExamPolicy::parse(&text, Format::Toml);
        let _ = ExamPolicy::parse(&text, Format::Json);
    }

    /// Policy JSON with known fields of the wrong shape: refused with an error, never a panic.
    #[test]
    fn policy_json_of_any_shape_never_panics(value in json_value()) {
        let _ = ExamPolicy::parse(&value.to_string(), Format::Json);
    }

    /// Wire events and join answers of any shape: parsed or refused, never a panic; a parsed
    /// join grant verifies only with the key that signed it.
    #[test]
    fn wire_input_never_panics(value in json_value(), flip in 0usize..64) {
        let text = value.to_string();
        let _ = serde_json::from_str::<WireEvent>(&text);
        let _ = serde_json::from_str::<JoinResponse>(&text);
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let public = vigil_core::protocol::public_key_base64(&key);
        let grant = JoinGrant {
            exam_code: text.chars().take(64).collect(), session_id: "s".into(), policy_sha256: "0".repeat(64),
            exam_url: None, upload_url: "/v1/uploads".into(), origin: "https://x".into(), organiser: None,
            issued_at: "t".into(),
        };
        let signed = SignedJson::sign(SignedKind::Join, &grant, &key);
        prop_assert_eq!(signed.open::<JoinGrant>(SignedKind::Join, &public).unwrap(), grant);
        let mut bytes = signed.json.clone().into_bytes();
        let at = flip % bytes.len();
        bytes[at] ^= 0x01;
        if let Ok(tampered) = String::from_utf8(bytes) {
            let tampered = SignedJson { json: tampered, ..signed.clone() };
            prop_assert!(tampered.open::<JoinGrant>(SignedKind::Join, &public).is_err());
        }
        prop_assert!(signed.open::<JoinGrant>(SignedKind::Receipt, &public).is_err());
    }
}

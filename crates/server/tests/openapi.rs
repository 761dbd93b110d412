//! `openapi.json` and the server agree: every route is documented, every documented operation
//! answers one of its documented status codes, and real answers match the documented schemas.

use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::{json, Value};

fn spec() -> Value {
    serde_json::from_str(include_str!("../../../openapi.json")).expect("openapi.json is JSON")
}

mod common;
use common::{admin, start};

fn validate(spec: &Value, schema_name: &str, value: &Value) {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{schema_name}"),
        "components": spec["components"],
    });
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{schema_name} does not match: {errors:#?}\n{value:#}");
}

#[test]
fn every_route_is_documented() {
    let spec = spec();
    let source = include_str!("../src/api.rs");
    let routes: Vec<&str> = source.split(".route(\"").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert!(routes.len() >= 10);
    for r in routes {
        assert!(spec["paths"].get(r).is_some(), "route {r} is not in openapi.json");
    }
}

#[test]
fn every_documented_operation_answers_a_documented_status() {
    let spec = spec();
    let s = start(10 * 1024 * 1024);
    let client = Client::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        let id = if path.starts_with("/v1/uploads") { "a".repeat(64) } else { "0123456789abcdef01234567".into() };
        let concrete = path.replace("{id}", &id).replace("{source}", "camera").replace("{sequence}", "0");
        for (method, op) in ops.as_object().unwrap() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp =
                client.request(m, format!("{}{concrete}", s.url)).header("Tus-Resumable", "1.0.0").send().unwrap();
            let status = resp.status().as_u16().to_string();
            assert!(
                op["responses"].get(&status).is_some(),
                "{method} {path} answered {status}, which openapi.json does not document"
            );
        }
    }
}

#[test]
fn real_answers_match_the_schemas() {
    let spec = spec();
    let s = start(10 * 1024 * 1024);
    let c = Client::new();
    let joined: Value = c
        .post(format!("{}/v1/sessions", s.url))
        .json(&json!({"exam_code": "MATH-101", "candidate": {"name": "A"}, "consent": {"accepted": true, "at": "2026-01-01T00:00:00Z", "inventory_version": 1}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    validate(&spec, "JoinResponse", &joined);
    let (id, token) = (joined["session_id"].as_str().unwrap(), joined["token"].as_str().unwrap());
    let ack: Value = c
        .post(format!("{}/v1/sessions/{id}/events", s.url))
        .bearer_auth(token)
        .json(&json!({"events": [{"seq": 1, "time": "t", "kind": "x.test", "data": {}}]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    validate(&spec, "EventAck", &ack);
    let admin = admin(s.dir.path(), &["token"]);
    c.post(format!("{}/v1/review/sessions/{id}/instructions", s.url))
        .bearer_auth(admin.trim())
        .json(&json!({"kind": "terminate", "reason": "end"}))
        .send()
        .unwrap();
    let hb: Value = c
        .post(format!("{}/v1/sessions/{id}/heartbeat", s.url))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(hb["instructions"][0]["kind"], "terminate");
    validate(&spec, "HeartbeatResponse", &hb);
    let receipt: Value =
        c.post(format!("{}/v1/sessions/{id}/finish", s.url)).bearer_auth(token).send().unwrap().json().unwrap();
    validate(&spec, "Receipt", &receipt);
    let list: Value =
        c.get(format!("{}/v1/review/sessions", s.url)).bearer_auth(admin.trim()).send().unwrap().json().unwrap();
    validate(&spec, "SessionList", &list);
    let detail: Value =
        c.get(format!("{}/v1/review/sessions/{id}", s.url)).bearer_auth(admin.trim()).send().unwrap().json().unwrap();
    validate(&spec, "SessionDetail", &detail);
    let err: Value = c.post(format!("{}/v1/sessions", s.url)).json(&json!({"exam_code": "nope", "candidate": {"name": "A"}, "consent": {"accepted": true, "at": "t", "inventory_version": 1}})).send().unwrap().json().unwrap();
    validate(&spec, "Error", &err);
}

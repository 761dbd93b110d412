//! The reviewer's list (state, flags, risk with the policy's weights, priority order, filters,
//! search, pages) and the reviewer's work on a session (notes, flag decisions, a verdict), each
//! change in the audit log.

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;
use common::{admin as server_cmd, start};

fn join(url: &str, exam: &str, name: &str) -> (String, String) {
    let (id, token, _) = common::join(url, exam, name);
    (id, token)
}

/// Posts events `(kind, severity, interval phase)` for a session.
fn events(url: &str, id: &str, token: &str, list: &[(&str, &str, Option<&str>)]) {
    let events: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, (kind, severity, phase))| {
            let mut e = json!({"seq": i + 1, "time": vigil_core::time::now_rfc3339(), "kind": kind, "severity": severity, "data": {}});
            if let Some(p) = phase {
                e["interval"] = json!({"id": format!("{kind}-1"), "phase": p});
            }
            e
        })
        .collect();
    let r = Client::new()
        .post(format!("{url}/v1/sessions/{id}/events"))
        .bearer_auth(token)
        .json(&json!({"events": events}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().unwrap());
}

#[test]
fn the_list_ranks_by_risk_and_the_reviewer_notes_decides_and_judges() {
    let s = start(1024 * 1024);
    let dir = s.dir.path();
    // A second exam whose policy makes a lost focus weigh 50.
    let policy = dir.join("weights.toml");
    std::fs::write(&policy, "schema = 1\n[review]\nweights = { \"focus.lost\" = 50 }\n").unwrap();
    server_cmd(dir, &["exam", "create", "--code", "WEIGHTED", "--policy", policy.to_str().unwrap()]);
    let token = server_cmd(dir, &["token"]);
    let get = |path: &str| -> Value {
        Client::new().get(format!("{}{path}", s.url)).bearer_auth(&token).send().unwrap().json().unwrap()
    };

    let (quiet, _) = join(&s.url, "MATH-101", "Бекзат Quiet");
    let (flagged, flagged_token) = join(&s.url, "MATH-101", "Aigerim Flagged");
    let (weighted, weighted_token) = join(&s.url, "WEIGHTED", "Dana Weighted");
    // Flagged: a prohibited application (an interval: counts once), a second monitor; the
    // client calls them "info", the server knows better.
    events(
        &s.url,
        &flagged,
        &flagged_token,
        &[
            ("app.prohibited.running", "info", Some("open")),
            ("app.prohibited.exited", "info", Some("close")),
            ("monitor.rule_broken", "info", Some("open")),
        ],
    );
    // Weighted: two lost focuses at 50 each, capped at 100.
    events(&s.url, &weighted, &weighted_token, &[("focus.lost", "warning", None), ("focus.lost", "warning", None)]);
    let _ = Client::new().post(format!("{}/v1/sessions/{weighted}/finish", s.url)).bearer_auth(&weighted_token).send();

    let list = get("/v1/review/sessions");
    let order: Vec<&str> = list["sessions"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(order, [weighted.as_str(), flagged.as_str(), quiet.as_str()], "{list:#}");
    let row = |id: &str| list["sessions"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!((row(&weighted)["risk"].as_u64(), row(&weighted)["priority"].as_str()), (Some(100), Some("high")));
    assert_eq!(row(&weighted)["state"], "finished");
    // 15 for the application (once, not twice) + 15 for the monitors.
    assert_eq!(row(&flagged)["risk"], 30, "{:#}", row(&flagged));
    assert_eq!(row(&flagged)["priority"], "medium");
    assert_eq!(row(&flagged)["flags"]["warning"], 2);
    assert_eq!(row(&flagged)["state"], "running");
    assert_eq!((row(&quiet)["risk"].as_u64(), row(&quiet)["priority"].as_str()), (Some(0), Some("low")));
    assert_eq!(list["total"], 3);

    // Filters, search and pages.
    let ids = |v: Value| -> Vec<String> {
        v["sessions"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(get("/v1/review/sessions?exam=WEIGHTED")), [weighted.as_str()]);
    assert_eq!(ids(get("/v1/review/sessions?state=finished")), [weighted.as_str()]);
    assert_eq!(
        ids(get("/v1/review/sessions?q=%D0%B1%D0%B5%D0%BA%D0%B7%D0%B0%D1%82")),
        [quiet.as_str()],
        "search any case"
    );
    let page2 = get("/v1/review/sessions?per_page=2&page=2");
    assert_eq!((ids(page2.clone()), page2["total"].as_u64()), (vec![quiet.clone()], Some(3)));
    let bad = Client::new().get(format!("{}/v1/review/sessions?state=lost", s.url)).bearer_auth(&token).send().unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // The reviewer's work on the flagged session.
    let change = |method: reqwest::Method, path: &str, body: Value| {
        Client::new()
            .request(method, format!("{}{path}", s.url))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .unwrap()
            .status()
    };
    let notes = format!("/v1/review/sessions/{flagged}/notes");
    assert_eq!(
        change(reqwest::Method::POST, &notes, json!({"offset_ms": 14_800, "text": "Looks away to the right"})),
        StatusCode::CREATED
    );
    assert_eq!(change(reqwest::Method::POST, &notes, json!({"offset_ms": 1, "text": "  "})), StatusCode::BAD_REQUEST);
    let flag = |seq: u64| format!("/v1/review/sessions/{flagged}/flags/{seq}");
    assert_eq!(change(reqwest::Method::PUT, &flag(1), json!({"decision": "confirmed"})), StatusCode::NO_CONTENT);
    assert_eq!(change(reqwest::Method::PUT, &flag(3), json!({"decision": "dismissed"})), StatusCode::NO_CONTENT);
    assert_eq!(change(reqwest::Method::PUT, &flag(99), json!({"decision": "dismissed"})), StatusCode::NOT_FOUND);
    assert_eq!(change(reqwest::Method::PUT, &flag(1), json!({"decision": "maybe"})), StatusCode::BAD_REQUEST);
    let verdict = format!("/v1/review/sessions/{flagged}/verdict");
    assert_eq!(change(reqwest::Method::PUT, &verdict, json!({"verdict": "guilty"})), StatusCode::BAD_REQUEST);
    assert_eq!(
        change(reqwest::Method::PUT, &verdict, json!({"verdict": "suspicious", "comment": "AnyDesk for 10 s"})),
        StatusCode::NO_CONTENT
    );

    let detail = get(&format!("/v1/review/sessions/{flagged}"));
    assert_eq!(detail["notes"][0]["text"], "Looks away to the right");
    assert_eq!(detail["notes"][0]["offset_ms"], 14_800);
    assert_eq!(
        detail["flag_reviews"],
        json!([
            {"seq": 1, "decision": "confirmed", "author": "admin-token", "at": detail["flag_reviews"][0]["at"]},
            {"seq": 3, "decision": "dismissed", "author": "admin-token", "at": detail["flag_reviews"][1]["at"]},
        ])
    );
    assert_eq!((detail["verdict"]["verdict"].as_str(), detail["reviewed"].as_bool()), (Some("suspicious"), Some(true)));
    assert_eq!(ids(get("/v1/review/sessions?verdict=suspicious")), [flagged.as_str()]);
    assert_eq!(ids(get("/v1/review/sessions?verdict=none")).len(), 2);

    // The report for the file, and the events for a spreadsheet.
    let report = get(&format!("/v1/review/sessions/{flagged}/report.json"));
    assert_eq!(report["session"]["candidate"], "Aigerim Flagged");
    assert_eq!(report["verdict"]["verdict"], "suspicious");
    assert_eq!(report["notes"][0]["text"], "Looks away to the right");
    let flags: Vec<(u64, &str, Option<&str>)> = report["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["seq"].as_u64().unwrap(), f["severity"].as_str().unwrap(), f["decision"].as_str()))
        .collect();
    assert_eq!(flags, [(1, "warning", Some("confirmed")), (3, "warning", Some("dismissed"))]);
    assert_eq!(report["receipt_verified"], Value::Null, "not finished: no receipt yet");
    let finished = get(&format!("/v1/review/sessions/{weighted}/report.json"));
    assert_eq!(finished["receipt_verified"], true, "the stored receipt verifies with the server's key");
    let csv = Client::new()
        .get(format!("{}/v1/review/sessions/{flagged}/events.csv", s.url))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert!(csv.headers()["Content-Type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "seq,time,offset_ms,kind,severity,interval,phase,data");
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[1].starts_with("1,")
            && lines[1].contains(",app.prohibited.running,warning,app.prohibited.running-1,open,"),
        "{}",
        lines[1]
    );

    let audit = get("/v1/review/audit");
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "note.added",
            "flag.decided",
            "flag.decided",
            "verdict.set",
            "session.viewed",
            "session.exported",
            "session.exported",
            "session.exported"
        ]
    );
}

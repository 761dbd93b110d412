//! Exports of one session for the file: the report as JSON (`report.json`: who, when, the
//! verdict and notes, the flags with the reviewer's decisions, the states that lasted, every
//! segment's hash, the signed receipt and whether it verifies) and the events as CSV
//! (`events.csv`, safe to open in a spreadsheet). Each export is in the audit log.

use crate::api::{ApiError, ApiResult};
use crate::db;
use crate::reviewers::{actor, audit};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::OptionalExtension;
use serde_json::json;

fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "session.not_found", "no such session".into())
}

/// `GET /v1/review/sessions/{id}/report.json`.
pub async fn report_json(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    let who = actor(&state, &headers)?;
    let report = report(&state, &id)?;
    audit(&state, &who, "session.exported", &id, json!({"format": "json"}));
    Ok(Json(report))
}

/// The report of session `id`.
pub fn report(state: &AppState, id: &str) -> ApiResult<serde_json::Value> {
    let db = state.db();
    let session = db
        .query_row("SELECT exam_code, candidate, created_at, finished_at FROM sessions WHERE id = ?1", [id], |r| {
            Ok(json!({"id": id, "exam_code": r.get::<_, String>(0)?, "candidate": r.get::<_, String>(1)?,
                    "started_at": r.get::<_, String>(2)?, "finished_at": r.get::<_, Option<String>>(3)?}))
        })
        .optional()?
        .ok_or_else(not_found)?;
    let start = session["started_at"].as_str().and_then(vigil_core::time::parse_rfc3339_ms);
    let events = db::events(&db, id)?;
    let work = crate::review_work::work(&db, id)?;
    let decisions: std::collections::HashMap<u64, String> = work["flag_reviews"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| Some((f["seq"].as_u64()?, f["decision"].as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    let flags: Vec<_> = events
        .iter()
        .filter_map(|e| {
            let severity = crate::review_list::severity(&e.kind, e.severity.as_str().to_owned());
            crate::review_list::is_flag(&severity).then(|| {
                json!({"seq": e.seq, "time": e.time, "offset_ms": offset(start, &e.time), "kind": e.kind,
                    "severity": severity, "data": e.data, "decision": decisions.get(&e.seq)})
            })
        })
        .collect();
    let segments: Vec<_> = db::segments(&db, id)?
        .into_iter()
        .map(|s| json!({"source": s.source, "sequence": s.sequence, "sha256": s.sha256, "bytes": s.bytes}))
        .collect();
    let receipt = db::receipt(&db, id)?;
    let receipt_verified = receipt.as_ref().map(|r| r.verify(&state.public_key()).is_ok());
    Ok(json!({
        "session": session,
        "verdict": work["verdict"],
        "notes": work["notes"],
        "flags": flags,
        "intervals": vigil_core::protocol::intervals(&events),
        "events": events,
        "segments": segments,
        "receipt": receipt,
        "receipt_verified": receipt_verified,
        "server_key": state.public_key(),
        "generated_at": vigil_core::time::now_rfc3339(),
    }))
}

/// Milliseconds from the session's start to `time`, when both are known.
fn offset(start: Option<i64>, time: &str) -> Option<i64> {
    Some(vigil_core::time::parse_rfc3339_ms(time)? - start?)
}

/// `GET /v1/review/sessions/{id}/events.csv`: one row per event, oldest first.
pub async fn events_csv(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let who = actor(&state, &headers)?;
    let csv = {
        let db = state.db();
        let started: String = db
            .query_row("SELECT created_at FROM sessions WHERE id = ?1", [&id], |r| r.get(0))
            .optional()?
            .ok_or_else(not_found)?;
        let start = vigil_core::time::parse_rfc3339_ms(&started);
        let mut out = String::from("seq,time,offset_ms,kind,severity,interval,phase,data\r\n");
        for e in db::events(&db, &id)? {
            let severity = crate::review_list::severity(&e.kind, e.severity.as_str().to_owned());
            let (interval, phase) = match &e.interval {
                Some(i) => (i.id.clone(), i.phase.as_str().to_owned()),
                None => (String::new(), String::new()),
            };
            let row = [
                e.seq.to_string(),
                e.time.clone(),
                offset(start, &e.time).map(|o| o.to_string()).unwrap_or_default(),
                e.kind.clone(),
                severity,
                interval,
                phase,
                e.data.to_string(),
            ];
            out.push_str(&row.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        }
        out
    };
    audit(&state, &who, "session.exported", &id, json!({"format": "csv"}));
    let mut resp = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response();
    let disposition = format!("attachment; filename=\"vigil-{}-events.csv\"", &id[..id.len().min(16)]);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break; a cell a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'`.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("focus.lost"), "focus.lost");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }
}

//! The live view (`GET /v1/review/live`): the sessions running now, each with when the client was
//! last heard, the flags open at this moment, the most recent segment of every screen and of the
//! camera (the page plays it as a thumbnail: no picture beyond what is recorded anyway), and what
//! became of the proctor's instructions (queued, taken by the client, shown to the candidate).

use crate::api::ApiResult;
use crate::db;
use crate::review_list::{is_flag, severity, ABANDONED_AFTER_S};
use crate::reviewers::actor;
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::json;

/// `GET /v1/review/live`.
pub async fn live(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<serde_json::Value>> {
    actor(&state, &headers)?;
    let now = vigil_core::time::now_rfc3339();
    let now_ms = vigil_core::time::parse_rfc3339_ms(&now).unwrap_or(0);
    let db = state.db();
    let mut stmt = db.prepare_cached(
        "SELECT id, exam_code, candidate, created_at, COALESCE(last_seen, created_at) FROM sessions
         WHERE finished_at IS NULL ORDER BY created_at",
    )?;
    let running: Vec<(String, String, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<Result<_, _>>()?;
    let mut sessions = Vec::new();
    for (id, exam, candidate, started, last_seen) in running {
        let seen_ms = vigil_core::time::parse_rfc3339_ms(&last_seen).unwrap_or(0);
        let silent_s = (now_ms - seen_ms).max(0) / 1000;
        if silent_s > ABANDONED_AFTER_S {
            continue; // abandoned: in the list, not live
        }
        let events = db::events(&db, &id)?;
        let open_flags: Vec<_> = vigil_core::protocol::intervals(&events)
            .into_iter()
            .filter(|i| i.end.is_none() && is_flag(&severity(&i.kind, i.severity.as_str().to_owned())))
            .map(|i| json!({"kind": i.kind, "severity": i.severity, "since": i.start, "data": i.data}))
            .collect();
        let shown = events.iter().filter(|e| e.kind == "proctor.instruction").count();
        let (queued, taken): (u64, u64) = db.query_row(
            "SELECT COALESCE(SUM(delivered = 0), 0), COALESCE(SUM(delivered = 1), 0) FROM instructions WHERE session_id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut latest = db.prepare_cached(
            "SELECT source, MAX(sequence) FROM segments WHERE session_id = ?1 AND source NOT LIKE 'identity-%'
             AND source NOT LIKE 'evidence-%'
             GROUP BY source ORDER BY source",
        )?;
        let recent: Vec<_> = latest
            .query_map([&id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|(source, sequence)| {
                json!({"source": source, "sequence": sequence,
                       "download": format!("/v1/review/sessions/{id}/segments/{source}/{sequence}")})
            })
            .collect();
        sessions.push(json!({"id": id, "exam_code": exam, "candidate": candidate, "started_at": started,
            "last_seen": last_seen, "silent_s": silent_s, "open_flags": open_flags, "recent_segments": recent,
            "instructions": {"queued": queued, "taken": taken, "shown": shown}}));
    }
    Ok(Json(json!({"sessions": sessions, "at": now})))
}

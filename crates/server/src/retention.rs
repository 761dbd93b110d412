//! The data lifecycle the privacy notice promises: each exam may have a retention period
//! (`vigil-server exam create --retention-days N`); a finished (or abandoned) session older than
//! that is deleted by the server, hourly and with `vigil-server retention sweep`; an admin can
//! delete a session at once (`DELETE /v1/review/sessions/{id}`). Either way the media, events,
//! notes and the candidate's name go, and the deletion log keeps a signed deletion receipt with
//! what was held (hashes, counts) and why.

use crate::api::{ApiError, ApiResult};
use crate::reviewers::{actor_for_change, audit, Actor};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;
use vigil_core::protocol::{DeletionBody, SignedJson, SignedKind};

pub fn create_tables(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS deletions (session_id TEXT PRIMARY KEY, exam_code TEXT NOT NULL,
           deleted_at TEXT NOT NULL, reason TEXT NOT NULL, receipt TEXT NOT NULL);",
    )?;
    let has_retention: bool =
        db.prepare("SELECT 1 FROM pragma_table_info('exams') WHERE name = 'retention_days'")?.exists([])?;
    if !has_retention {
        db.execute_batch("ALTER TABLE exams ADD COLUMN retention_days REAL;")?;
    }
    Ok(())
}

/// Deletes session `id` now: its media files, uploads, events, times, notes, decisions, verdict
/// and row; returns the signed deletion receipt, which the deletion log keeps.
pub fn delete_session(state: &AppState, id: &str, reason: &str, by: &str) -> ApiResult<SignedJson> {
    let mut db = state.db();
    let tx = db.transaction()?;
    let found: Option<(String, String, Option<String>)> = tx
        .query_row("SELECT exam_code, created_at, finished_at FROM sessions WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((exam_code, started_at, finished_at)) = found else {
        return Err(ApiError(StatusCode::NOT_FOUND, "session.not_found", "no such session".into()));
    };
    let segments = crate::db::segments(&tx, id)?;
    let events: u64 = tx.query_row("SELECT COUNT(*) FROM events WHERE session_id = ?1", [id], |r| r.get(0))?;
    let uploads: Vec<String> = {
        let mut stmt = tx.prepare("SELECT id FROM uploads WHERE session_id = ?1")?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let body = DeletionBody {
        session_id: id.to_owned(),
        exam_code: exam_code.clone(),
        started_at,
        finished_at,
        deleted_at: vigil_core::time::now_rfc3339(),
        reason: reason.to_owned(),
        by: by.to_owned(),
        segments,
        events,
    };
    let receipt = SignedJson::sign(SignedKind::Deletion, &body, &state.key);
    for table in [
        "events",
        "segments",
        "segment_times",
        "uploads",
        "instructions",
        "review_notes",
        "review_verdicts",
        "flag_reviews",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE session_id = ?1"), [id])?;
    }
    tx.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
    tx.execute(
        "INSERT OR REPLACE INTO deletions VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, exam_code, body.deleted_at, reason, serde_json::to_string(&receipt).unwrap_or_default()],
    )?;
    // The files go once the rows are gone for good: a crash in between leaves files nothing
    // points to, never rows whose media is missing.
    tx.commit()?;
    drop(db);
    let dir = state.dir.join("segments").join(id);
    if dir.exists() {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::error!(session = %id, "deleting {}: {e}", dir.display());
        }
    }
    for upload in uploads {
        let _ = std::fs::remove_file(state.upload_path(&upload));
    }
    tracing::info!(session = %id, reason, "session deleted");
    Ok(receipt)
}

/// A session the sweep considers: id, finished, last seen, created, the exam's retention days.
type Candidate = (String, Option<String>, Option<String>, String, f64);

/// Deletes every session whose exam's retention period has run out since it finished (or since
/// it was last heard, once abandoned); the ids deleted.
pub fn sweep(state: &AppState) -> ApiResult<Vec<String>> {
    let now = vigil_core::time::parse_rfc3339_ms(&vigil_core::time::now_rfc3339()).unwrap_or(0);
    let candidates: Vec<Candidate> = {
        let db = state.db();
        let mut stmt = db.prepare(
            "SELECT s.id, s.finished_at, s.last_seen, s.created_at, e.retention_days
             FROM sessions s JOIN exams e ON e.code = s.exam_code WHERE e.retention_days IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut deleted = Vec::new();
    for (id, finished, last_seen, created, days) in candidates {
        let ms = |t: &Option<String>| t.as_deref().and_then(vigil_core::time::parse_rfc3339_ms);
        let heard = ms(&last_seen).or_else(|| vigil_core::time::parse_rfc3339_ms(&created)).unwrap_or(now);
        let ended = match ms(&finished) {
            Some(at) => at,
            // Still running: never deleted under the candidate.
            None if now - heard <= crate::review_list::ABANDONED_AFTER_S * 1000 => continue,
            None => heard,
        };
        if (now - ended) as f64 >= days * 86_400_000.0 {
            delete_session(state, &id, "retention", "retention")?;
            deleted.push(id);
        }
    }
    Ok(deleted)
}

/// Sweeps once an hour while the server runs.
pub async fn sweep_hourly(state: AppState) {
    loop {
        let s = state.clone();
        match tokio::task::spawn_blocking(move || sweep(&s)).await {
            Ok(Ok(ids)) if !ids.is_empty() => tracing::info!(count = ids.len(), "sessions past retention deleted"),
            Ok(Err(e)) => tracing::error!("retention sweep: {}", e.2),
            _ => {}
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

/// `DELETE /v1/review/sessions/{id}` (admins): the signed deletion receipt.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<SignedJson>> {
    let who = actor_for_change(&state, &headers)?;
    if !who.is_admin() {
        return Err(ApiError(StatusCode::FORBIDDEN, "auth.admin_required", "deleting a session needs an admin".into()));
    }
    let receipt = delete_session(&state, &id, "request", who.name())?;
    audit(&state, &who, "session.deleted", &id, json!({}));
    Ok(Json(receipt))
}

/// `GET /v1/review/deletions` (admins): the deletion log, newest first, each with its receipt.
pub async fn log(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<serde_json::Value>> {
    let who: Actor = crate::reviewers::admin(&state, &headers)?;
    let db = state.db();
    let mut stmt = db.prepare("SELECT receipt FROM deletions ORDER BY deleted_at DESC LIMIT 1000")?;
    let receipts = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .filter_map(|r| r.ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok()))
        .collect::<Vec<_>>();
    drop(stmt);
    drop(db);
    audit(&state, &who, "deletions.viewed", "", json!({}));
    Ok(Json(json!({"deletions": receipts, "server_key": state.public_key()})))
}

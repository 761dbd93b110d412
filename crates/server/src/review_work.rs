//! The reviewer's work on a session: notes at a moment, a decision on each flag (confirmed or
//! dismissed), and a verdict with a comment, which also marks the session reviewed. Every change
//! needs the sign-in's CSRF token and goes to the audit log.

use crate::api::{bad_request, read_json, ApiError, ApiResult};
use crate::limits::MAX_SMALL_BODY;
use crate::reviewers::{actor_for_change, audit};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::json;

pub fn create_tables(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS review_notes (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
           offset_ms INTEGER NOT NULL, text TEXT NOT NULL, author TEXT NOT NULL, at TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS review_verdicts (session_id TEXT PRIMARY KEY, verdict TEXT NOT NULL,
           comment TEXT NOT NULL, author TEXT NOT NULL, at TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS flag_reviews (session_id TEXT NOT NULL, seq INTEGER NOT NULL, decision TEXT NOT NULL,
           author TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (session_id, seq));",
    )
}

const MAX_TEXT: usize = 4000;

fn session_exists(db: &Connection, id: &str) -> ApiResult<()> {
    let found = db.query_row("SELECT 1 FROM sessions WHERE id = ?1", [id], |_| Ok(())).optional()?;
    found.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "session.not_found", "no such session".into()))
}

fn text(what: &str, s: &str, required: bool) -> ApiResult<String> {
    let s = s.trim();
    if (required && s.is_empty()) || s.chars().count() > MAX_TEXT {
        return Err(bad_request("review.invalid_text", format!("{what} must be 1-{MAX_TEXT} characters")));
    }
    Ok(s.to_owned())
}

#[derive(Deserialize)]
struct NewNote {
    /// Where in the session, from its start.
    offset_ms: u64,
    text: String,
}

/// `POST /v1/review/sessions/{id}/notes`.
pub async fn add_note(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let who = actor_for_change(&state, &headers)?;
    let note: NewNote = read_json(body, MAX_SMALL_BODY).await?;
    let body = text("a note", &note.text, true)?;
    let offset = crate::api::stored_number("offset_ms", note.offset_ms)?;
    let note_id = {
        let db = state.db();
        session_exists(&db, &id)?;
        db.execute(
            "INSERT INTO review_notes (session_id, offset_ms, text, author, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, offset, body, who.name(), vigil_core::time::now_rfc3339()],
        )?;
        db.last_insert_rowid()
    };
    audit(&state, &who, "note.added", &id, json!({"note": note_id, "offset_ms": offset}));
    Ok((StatusCode::CREATED, Json(json!({"id": note_id}))))
}

#[derive(Deserialize)]
struct NewVerdict {
    verdict: String,
    #[serde(default)]
    comment: String,
}

/// `PUT /v1/review/sessions/{id}/verdict`: `clear`, `suspicious` or `violation`; the latest
/// stands (the audit log keeps every one).
pub async fn set_verdict(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let who = actor_for_change(&state, &headers)?;
    let v: NewVerdict = read_json(body, MAX_SMALL_BODY).await?;
    if !["clear", "suspicious", "violation"].contains(&v.verdict.as_str()) {
        return Err(bad_request("review.invalid_verdict", "verdict must be clear, suspicious or violation"));
    }
    let comment = text("a comment", &v.comment, false)?;
    {
        let db = state.db();
        session_exists(&db, &id)?;
        db.execute(
            "INSERT INTO review_verdicts VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(session_id) DO UPDATE SET verdict = excluded.verdict, comment = excluded.comment,
               author = excluded.author, at = excluded.at",
            params![id, v.verdict, comment, who.name(), vigil_core::time::now_rfc3339()],
        )?;
    }
    audit(&state, &who, "verdict.set", &id, json!({"verdict": v.verdict, "comment": comment}));
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct FlagDecision {
    /// `confirmed` or `dismissed`.
    decision: String,
}

/// `PUT /v1/review/sessions/{id}/flags/{seq}`: the reviewer's decision on one flag (an event of
/// severity notice or above).
pub async fn decide_flag(
    State(state): State<AppState>,
    Path((id, seq)): Path<(String, u64)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let who = actor_for_change(&state, &headers)?;
    let d: FlagDecision = read_json(body, MAX_SMALL_BODY).await?;
    if !["confirmed", "dismissed"].contains(&d.decision.as_str()) {
        return Err(bad_request("review.invalid_decision", "decision must be confirmed or dismissed"));
    }
    let seq = crate::api::stored_number("seq", seq)?;
    {
        let db = state.db();
        let event: Option<(String, String)> = db
            .query_row("SELECT kind, severity FROM events WHERE session_id = ?1 AND seq = ?2", params![id, seq], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((kind, stored)) = event else {
            return Err(ApiError(StatusCode::NOT_FOUND, "event.not_found", "no such event".into()));
        };
        if !crate::review_list::is_flag(&crate::review_list::severity(&kind, stored)) {
            return Err(bad_request("review.not_a_flag", "only notices, warnings and critical events are flags"));
        }
        db.execute(
            "INSERT INTO flag_reviews VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(session_id, seq) DO UPDATE SET decision = excluded.decision, author = excluded.author,
               at = excluded.at",
            params![id, seq, d.decision, who.name(), vigil_core::time::now_rfc3339()],
        )?;
    }
    audit(&state, &who, "flag.decided", &id, json!({"seq": seq, "decision": d.decision}));
    Ok(StatusCode::NO_CONTENT)
}

/// A session's notes, flag decisions and verdict, for its detail answer.
pub fn work(db: &Connection, id: &str) -> rusqlite::Result<serde_json::Value> {
    let mut stmt = db.prepare_cached(
        "SELECT id, offset_ms, text, author, at FROM review_notes WHERE session_id = ?1 ORDER BY offset_ms, id",
    )?;
    let notes = stmt
        .query_map([id], |r| {
            Ok(json!({"id": r.get::<_, i64>(0)?, "offset_ms": r.get::<_, i64>(1)?, "text": r.get::<_, String>(2)?,
                "author": r.get::<_, String>(3)?, "at": r.get::<_, String>(4)?}))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt =
        db.prepare_cached("SELECT seq, decision, author, at FROM flag_reviews WHERE session_id = ?1 ORDER BY seq")?;
    let flags = stmt
        .query_map([id], |r| {
            Ok(json!({"seq": r.get::<_, i64>(0)?, "decision": r.get::<_, String>(1)?, "author": r.get::<_, String>(2)?,
                "at": r.get::<_, String>(3)?}))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let verdict = db
        .query_row("SELECT verdict, comment, author, at FROM review_verdicts WHERE session_id = ?1", [id], |r| {
            Ok(json!({"verdict": r.get::<_, String>(0)?, "comment": r.get::<_, String>(1)?,
                "author": r.get::<_, String>(2)?, "at": r.get::<_, String>(3)?}))
        })
        .optional()?;
    Ok(json!({"notes": notes, "flag_reviews": flags, "verdict": verdict, "reviewed": verdict.is_some()}))
}

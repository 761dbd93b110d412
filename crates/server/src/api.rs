//! HTTP routes: the session API for clients, and the review API for proctors.

use crate::state::{random_hex, AppState};
use crate::{db, tus};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use vigil_core::protocol::*;

/// An error answer: status and `{"error": {"code": "...", "message": "..."}}`. The code is
/// stable (clients decide on it); the message is for people.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub &'static str, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: ErrorDetail { code: self.1.to_owned(), message: self.2 } })).into_response()
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "database error");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "server.database", "internal database error".into())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub fn bad_request(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, code, msg.into())
}

/// The bearer token of a request.
pub fn bearer(headers: &HeaderMap) -> ApiResult<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "auth.missing_token", "missing bearer token".into()))
}

/// Checks that the request carries `session`'s token; returns whether the session is finished.
pub fn authorize(state: &AppState, headers: &HeaderMap, session: &str) -> ApiResult<bool> {
    let token = bearer(headers)?;
    db::session_for_token(&state.db(), session, token)?.ok_or_else(|| {
        ApiError(StatusCode::UNAUTHORIZED, "auth.wrong_token", "wrong or expired token for this session".into())
    })
}

fn admin(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    if state.is_admin(bearer(headers)?) {
        Ok(())
    } else {
        Err(ApiError(StatusCode::UNAUTHORIZED, "auth.admin_required", "admin token required".into()))
    }
}

/// JSON bodies with a clear error for malformed input.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(bad_request("request.malformed", format!("malformed request body: {}", e.body_text()))),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let uploads = Router::new()
        .route("/v1/uploads", post(tus::create).options(tus::options))
        .route(
            "/v1/uploads/{id}",
            axum::routing::head(tus::head).patch(tus::patch).delete(tus::delete).options(tus::options),
        )
        .layer(DefaultBodyLimit::max(state.max_upload_bytes.min(usize::MAX as u64) as usize));
    Router::new()
        .route("/v1/health", get(|| async { Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})) }))
        .route("/v1/server-key", get(server_key))
        .route("/v1/sessions", post(join))
        .route("/v1/sessions/{id}/events", post(events))
        .route("/v1/sessions/{id}/heartbeat", post(heartbeat))
        .route("/v1/sessions/{id}/segments", post(register_segment))
        .route("/v1/sessions/{id}/finish", post(finish))
        .route("/v1/review/sessions", get(review_sessions))
        .route("/v1/review/sessions/{id}", get(review_session))
        .route("/v1/review/sessions/{id}/instructions", post(review_instruct))
        .route("/v1/review/sessions/{id}/segments/{source}/{sequence}", get(review_segment))
        .route("/review", get(|| async { Html(include_str!("review.html")) }))
        .route("/demo-exam", get(|| async { Html(include_str!("demo-exam.html")) }))
        .merge(uploads)
        .with_state(state)
}

async fn server_key(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({"public_key": state.public_key()}))
}

async fn join(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<JoinRequest>,
) -> ApiResult<(StatusCode, Json<JoinResponse>)> {
    if !req.consent.accepted {
        return Err(bad_request("session.no_consent", "consent was not given: nothing may be recorded"));
    }
    let name = req.candidate.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(bad_request("request.invalid_name", "candidate.name must be 1-200 characters"));
    }
    let exam = db::exam(&state.db(), &req.exam_code)?.ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            "exam.unknown_code",
            format!("unknown exam code `{}`: check the code you were given", req.exam_code),
        )
    })?;
    let token = random_hex();
    if req.client_key.as_ref().is_some_and(|k| k.len() < 16 || k.len() > 128) {
        return Err(bad_request("request.invalid_client_key", "client_key must be 16-128 characters"));
    }
    let existing: Option<String> = match &req.client_key {
        Some(key) => state
            .db()
            .query_row(
                "SELECT id FROM sessions WHERE client_key = ?1 AND exam_code = ?2 AND finished_at IS NULL",
                rusqlite::params![key, req.exam_code],
                |r| r.get(0),
            )
            .ok(),
        None => None,
    };
    let id = match existing {
        Some(id) => {
            // The same client joining again (its answer was lost): same session, new token.
            state.db().execute(
                "UPDATE sessions SET token_hash = ?2 WHERE id = ?1",
                rusqlite::params![id, db::hash_token(&token)],
            )?;
            tracing::info!(session = %id, "session joined again by the same client");
            id
        }
        None => {
            let id = random_hex()[..24].to_owned();
            state.db().execute(
                "INSERT INTO sessions (id, exam_code, candidate, token_hash, consent, device, created_at, client_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![id, req.exam_code, name, db::hash_token(&token), serde_json::to_string(&req.consent).unwrap_or_default(), req.device.to_string(), vigil_core::time::now_rfc3339(), req.client_key],
            ).map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => ApiError(StatusCode::CONFLICT, "session.client_key_conflict", "this client_key belongs to another exam's session".into()),
                e => e.into(),
            })?;
            tracing::info!(session = %id, exam = %req.exam_code, "session started");
            id
        }
    };
    let upload_url = state.upload_endpoint.clone().unwrap_or_else(|| "/v1/uploads".into());
    Ok((
        StatusCode::CREATED,
        Json(JoinResponse {
            session_id: id,
            token,
            policy: SignedPolicy { policy_json: exam.policy_json, signature: exam.signature },
            upload_url,
            exam_url: exam.exam_url,
        }),
    ))
}

async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(batch): JsonBody<EventBatch>,
) -> ApiResult<Json<EventAck>> {
    authorize(&state, &headers, &id)?;
    if batch.events.len() > 10_000 {
        return Err(bad_request("events.batch_too_large", "at most 10000 events per batch"));
    }
    if batch.events.iter().any(|e| e.seq == 0) {
        return Err(bad_request("events.invalid_seq", "event seq starts at 1"));
    }
    let mut events = batch.events;
    for e in &mut events {
        if !vigil_core::event::is_accepted_kind(&e.kind) {
            return Err(bad_request(
                "events.unknown_kind",
                format!(
                    "event {} has kind `{:.64}`, which is not in schemas/event.v1.schema.json; extensions must start with `x.`",
                    e.seq, e.kind
                ),
            ));
        }
        // The limits hold here too, whoever the client is.
        e.truncated |= vigil_core::event::bound(&mut e.data, 0);
        if let Some(i) = &mut e.interval {
            if i.id.is_empty() || i.id.chars().count() > vigil_core::event::MAX_INTERVAL_ID {
                return Err(bad_request(
                    "events.invalid_interval",
                    format!("event {}: interval id must be 1-64 characters", e.seq),
                ));
            }
        }
    }
    let acked = db::add_events(&mut state.db(), &id, &events)?;
    Ok(Json(EventAck { acked }))
}

async fn heartbeat(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(_hb): JsonBody<Heartbeat>,
) -> ApiResult<Json<HeartbeatResponse>> {
    authorize(&state, &headers, &id)?;
    Ok(Json(HeartbeatResponse { instructions: db::take_instructions(&state.db(), &id)? }))
}

/// A segment the client stored on the external tus server (only with `--upload-endpoint`).
async fn register_segment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(reg): JsonBody<SegmentRegistration>,
) -> ApiResult<StatusCode> {
    authorize(&state, &headers, &id)?;
    let Some(endpoint) = &state.upload_endpoint else {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "segments.registration_disabled",
            "this server takes segments on its own tus endpoint (/v1/uploads), not by registration".into(),
        ));
    };
    if !reg.location.starts_with(endpoint.as_str()) || reg.location.len() > 2048 {
        return Err(bad_request("segments.invalid_location", format!("location must be an upload on {endpoint}")));
    }
    if !vigil_spool::is_valid_source(&reg.source) {
        return Err(bad_request("request.invalid_source", "source must be 1-32 characters of a-z, 0-9 and '-'"));
    }
    let sha256 = reg.sha256.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_request("request.invalid_sha256", "sha256 must be 64 hex digits"));
    }
    let db = state.db();
    db.execute(
        "INSERT OR IGNORE INTO segments VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            id,
            reg.source,
            reg.sequence,
            sha256,
            reg.bytes,
            reg.location,
            vigil_core::time::now_rfc3339()
        ],
    )?;
    let held: String = db.query_row(
        "SELECT sha256 FROM segments WHERE session_id = ?1 AND source = ?2 AND sequence = ?3",
        rusqlite::params![id, reg.source, reg.sequence],
        |r| r.get(0),
    )?;
    if held != sha256 {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "segments.hash_conflict",
            format!("segment {} {} is already held with another hash", reg.source, reg.sequence),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn finish(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult<Json<Receipt>> {
    authorize(&state, &headers, &id)?;
    let db = state.db();
    db.execute(
        "UPDATE sessions SET finished_at = COALESCE(finished_at, ?2) WHERE id = ?1",
        rusqlite::params![id, vigil_core::time::now_rfc3339()],
    )?;
    let finished_at: String = db.query_row("SELECT finished_at FROM sessions WHERE id = ?1", [&id], |r| r.get(0))?;
    let events: u64 = db.query_row("SELECT COUNT(*) FROM events WHERE session_id = ?1", [&id], |r| r.get(0))?;
    Ok(Json(Receipt {
        session_id: id.clone(),
        finished_at,
        segments: db::segments(&db, &id)?,
        events,
        last_event_seq: db::contiguous_events(&db, &id)?,
    }))
}

async fn review_sessions(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<serde_json::Value>> {
    admin(&state, &headers)?;
    let db = state.db();
    let mut stmt = db.prepare(
        "SELECT s.id, s.exam_code, s.candidate, s.created_at, s.finished_at,
                (SELECT COUNT(*) FROM segments g WHERE g.session_id = s.id),
                (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id)
         FROM sessions s ORDER BY s.created_at DESC",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(json!({"id": r.get::<_, String>(0)?, "exam_code": r.get::<_, String>(1)?, "candidate": r.get::<_, String>(2)?,
                "started_at": r.get::<_, String>(3)?, "finished_at": r.get::<_, Option<String>>(4)?,
                "segments": r.get::<_, u64>(5)?, "events": r.get::<_, u64>(6)?}))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({"sessions": rows})))
}

async fn review_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    admin(&state, &headers)?;
    let db = state.db();
    let session = db
        .query_row("SELECT exam_code, candidate, created_at, finished_at, consent, device FROM sessions WHERE id = ?1", [&id], |r| {
            Ok(json!({"id": id, "exam_code": r.get::<_, String>(0)?, "candidate": r.get::<_, String>(1)?, "started_at": r.get::<_, String>(2)?,
                "finished_at": r.get::<_, Option<String>>(3)?,
                "consent": serde_json::from_str::<serde_json::Value>(&r.get::<_, String>(4)?).unwrap_or_default(),
                "device": serde_json::from_str::<serde_json::Value>(&r.get::<_, String>(5)?).unwrap_or_default()}))
        })
        .map_err(|_| ApiError(StatusCode::NOT_FOUND, "session.not_found", "no such session".into()))?;
    let external = state.upload_endpoint.is_some();
    let segments: Vec<_> = db::segments(&db, &id)?
        .into_iter()
        .map(|s| {
            let mut v = json!({"source": s.source, "sequence": s.sequence, "sha256": s.sha256, "bytes": s.bytes,
                "download": format!("/v1/review/sessions/{id}/segments/{}/{}", s.source, s.sequence)});
            if external {
                v["stored_at"] = json!(db::segment_location(&db, &id, &s.source, s.sequence).ok());
            }
            v
        })
        .collect();
    let events = db::events(&db, &id)?;
    let intervals = vigil_core::protocol::intervals(&events);
    Ok(Json(json!({"session": session, "segments": segments, "events": events, "intervals": intervals})))
}

async fn review_instruct(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(ins): JsonBody<Instruction>,
) -> ApiResult<StatusCode> {
    admin(&state, &headers)?;
    let n = state.db().execute(
        "INSERT INTO instructions (session_id, body) SELECT id, ?2 FROM sessions WHERE id = ?1",
        rusqlite::params![id, serde_json::to_string(&ins).unwrap_or_default()],
    )?;
    if n == 0 {
        return Err(ApiError(StatusCode::NOT_FOUND, "session.not_found", "no such session".into()));
    }
    Ok(StatusCode::ACCEPTED)
}

async fn review_segment(
    State(state): State<AppState>,
    Path((id, source, sequence)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    admin(&state, &headers)?;
    if !vigil_spool::is_valid_source(&source) {
        return Err(bad_request("request.invalid_source", "invalid source name"));
    }
    let known: bool = state
        .db()
        .query_row(
            "SELECT 1 FROM segments WHERE session_id = ?1 AND source = ?2 AND sequence = ?3",
            rusqlite::params![id, source, sequence],
            |_| Ok(true),
        )
        .unwrap_or(false);
    if !known {
        return Err(ApiError(StatusCode::NOT_FOUND, "segment.not_found", "no such segment".into()));
    }
    let path = state.segment_path(&id, &source, sequence);
    if !path.exists() {
        let location = db::segment_location(&state.db(), &id, &source, sequence).unwrap_or_default();
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "segment.external",
            format!("this segment is stored on the external upload server: {location}"),
        ));
    }
    let mut bytes = tokio::fs::read(path).await.map_err(|e| {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "segment.unreadable", format!("segment file unreadable: {e}"))
    })?;
    if vigil_spool::seal::is_sealed(&bytes) {
        // Encrypted at rest to the exam's recipient: decrypt for the reviewer.
        let identity: String = state.db().query_row(
            "SELECT e.age_identity FROM exams e JOIN sessions s ON s.exam_code = e.code WHERE s.id = ?1",
            [&id],
            |r| r.get(0),
        )?;
        bytes = vigil_spool::seal::open_bytes(&bytes, &identity).map_err(|e| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "segment.undecryptable",
                format!("cannot decrypt the segment: {e}"),
            )
        })?;
    }
    Ok(([(header::CONTENT_TYPE, "video/mp4")], bytes).into_response())
}

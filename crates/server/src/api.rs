//! HTTP routes: the session API for clients, and the review API for proctors.

use crate::limits::*;
use crate::state::{random_hex, AppState};
use crate::{db, retention, review, review_export, review_list, review_live, review_pdf, review_work, reviewers, tus};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;
use std::net::SocketAddr;
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

/// [`authorize`], and the session must still be open: a finished session takes nothing more.
pub fn authorize_open(state: &AppState, headers: &HeaderMap, session: &str) -> ApiResult<()> {
    if authorize(state, headers, session)? {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "session.finished",
            "this session is finished: its evidence is filed and takes nothing more".into(),
        ));
    }
    Ok(())
}

/// Reads a JSON body of at most `limit` bytes; call it only once the request is authorised.
pub async fn read_json<T: serde::de::DeserializeOwned>(body: Body, limit: usize) -> ApiResult<T> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| too_large(limit))?;
    serde_json::from_slice(&bytes).map_err(|e| bad_request("request.malformed", format!("malformed request body: {e}")))
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large", format!("the request body is over {limit} bytes"))
}

/// A number that must fit SQLite's INTEGER.
pub fn stored_number(what: &str, n: u64) -> ApiResult<u64> {
    if n > MAX_STORED {
        return Err(bad_request("request.out_of_range", format!("{what} {n} is over {MAX_STORED}")));
    }
    Ok(n)
}

pub fn router(state: AppState) -> Router {
    let limits = state.config.limits.clone();
    let review = Router::new()
        .route("/v1/review/sessions", get(review_list::sessions))
        .route("/v1/review/sessions/{id}", get(review::session).delete(retention::delete))
        .route("/v1/review/deletions", get(retention::log))
        .route("/v1/review/live", get(review_live::live))
        .route("/v1/review/sessions/{id}/instructions", post(review::instruct))
        .route("/v1/review/sessions/{id}/notes", post(review_work::add_note))
        .route("/v1/review/sessions/{id}/report.json", get(review_export::report_json))
        .route("/v1/review/sessions/{id}/events.csv", get(review_export::events_csv))
        .route("/v1/review/sessions/{id}/report.pdf", get(review_pdf::report_pdf))
        .route("/v1/review/sessions/{id}/verdict", put(review_work::set_verdict))
        .route("/v1/review/sessions/{id}/flags/{seq}", put(review_work::decide_flag))
        .route("/v1/review/sessions/{id}/segments/{source}/{sequence}", get(review::segment))
        .route("/v1/review/sign-in", post(reviewers::sign_in))
        .route("/v1/review/sign-out", post(reviewers::sign_out))
        .route("/v1/review/me", get(reviewers::me))
        .route("/v1/review/audit", get(reviewers::audit_log))
        .route("/review", get(review::page))
        .route("/review.js", get(review::script))
        .route("/review-player.js", get(review::player_script))
        .route("/review.css", get(review::style))
        .layer(axum::middleware::map_response(review::security_headers));
    Router::new()
        .route("/v1/health", get(|| async { Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})) }))
        .route("/v1/server-key", get(server_key))
        .route("/v1/server-info", get(server_info))
        .route("/v1/sessions", post(join))
        .route("/v1/sessions/{id}/events", post(events))
        .route("/v1/sessions/{id}/heartbeat", post(heartbeat))
        .route("/v1/sessions/{id}/segments", post(register_segment))
        .route("/v1/sessions/{id}/finish", post(finish))
        .route("/v1/uploads", post(tus::create).options(tus::options))
        .route(
            "/v1/uploads/{id}",
            axum::routing::head(tus::head).patch(tus::patch).delete(tus::delete).options(tus::options),
        )
        .route("/demo-exam", get(|| async { Html(include_str!("demo-exam.html")) }))
        .route("/demo-exam/editor", get(|| async { Html(include_str!("demo-editor.html")) }))
        .merge(review)
        .layer(
            tower::ServiceBuilder::new()
                .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    limits.request_timeout,
                ))
                .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.request_timeout))
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(limits.max_in_flight)),
        )
        .with_state(state)
}

async fn server_key(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({"public_key": state.public_key()}))
}

#[derive(serde::Deserialize)]
struct ServerInfoQuery {
    exam: Option<String>,
}

/// Who receives the recordings, and with `?exam=CODE` what that exam derives on the device,
/// signed: the app shows both on the consent screen. A code the server does not hold counts
/// against the address like a wrong code at join.
async fn server_info(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<ServerInfoQuery>,
    headers: HeaderMap,
) -> Result<Json<SignedJson>, Response> {
    let mut info = ServerInfo {
        origin: request_origin(&state, &headers),
        organiser: state.config.organiser.clone(),
        issued_at: vigil_core::time::now_rfc3339(),
        exam: None,
    };
    if let Some(code) = query.exam {
        let address = peer.ip().to_string();
        let limited = |wait| too_many("join.rate_limited", "too many wrong exam codes from this address: wait", wait);
        state.wrong_codes.check(&address).map_err(limited)?;
        match db::exam(&state.db(), &code).map_err(|e| ApiError::from(e).into_response())? {
            Some(exam) => {
                let policy = vigil_core::ExamPolicy::parse(&exam.policy_json, vigil_core::policy::Format::Json)
                    .map_err(|e| {
                        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "exam.policy", e.to_string()).into_response()
                    })?;
                let a = &policy.analysis;
                info.exam = Some(vigil_core::protocol::ExamInventory {
                    exam_code: code,
                    flags: a.flags_on().into_iter().map(str::to_owned).collect(),
                    evidence_pictures: a.pictures && a.flags_on().iter().any(|f| *f != "speech"),
                });
            }
            None => {
                state.wrong_codes.hit(&address).map_err(limited)?;
                return Err(ApiError(
                    StatusCode::NOT_FOUND,
                    "exam.unknown_code",
                    format!("unknown exam code `{code:.64}`: check the code you were given"),
                )
                .into_response());
            }
        }
    }
    Ok(Json(SignedJson::sign(SignedKind::ServerInfo, &info, &state.key)))
}

fn too_many(code: &'static str, message: &str, retry_after: std::time::Duration) -> Response {
    let mut resp = ApiError(StatusCode::TOO_MANY_REQUESTS, code, message.to_owned()).into_response();
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
    resp
}

/// The origin this client addressed: `--public-url`, else the `Host` it sent (with the scheme a
/// proxy names in `X-Forwarded-Proto`).
fn request_origin(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(origin) = &state.config.public_origin {
        return origin.clone();
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = match headers.get("X-Forwarded-Proto").and_then(|v| v.to_str().ok()) {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{}", host.to_ascii_lowercase())
}

async fn join(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<JoinResponse>), Response> {
    let address = peer.ip().to_string();
    if let Err(wait) = state.wrong_codes.check(&address) {
        return Err(too_many("join.rate_limited", "too many wrong exam codes from this address: wait", wait));
    }
    let req: JoinRequest = read_json(body, MAX_JOIN_BODY).await.map_err(IntoResponse::into_response)?;
    let exam = db::exam(&state.db(), &req.exam_code).map_err(|e| ApiError::from(e).into_response())?;
    let exam = match exam {
        Some(exam) => exam,
        None => {
            if let Err(wait) = state.wrong_codes.hit(&address) {
                return Err(too_many("join.rate_limited", "too many wrong exam codes from this address: wait", wait));
            }
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                "exam.unknown_code",
                format!("unknown exam code `{:.64}`: check the code you were given", req.exam_code),
            )
            .into_response());
        }
    };
    if let Err(wait) = state.exam_joins.hit(&req.exam_code) {
        return Err(too_many("join.busy", "too many joins to this exam at once: try again shortly", wait));
    }
    admit(&state, &headers, req, exam).map_err(IntoResponse::into_response)
}

fn admit(
    state: &AppState,
    headers: &HeaderMap,
    req: JoinRequest,
    exam: db::Exam,
) -> ApiResult<(StatusCode, Json<JoinResponse>)> {
    if !req.consent.accepted {
        return Err(bad_request("session.no_consent", "consent was not given: nothing may be recorded"));
    }
    let name = req.candidate.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(bad_request("request.invalid_name", "candidate.name must be 1-200 characters"));
    }
    let consent = serde_json::to_string(&req.consent).unwrap_or_default();
    let device = req.device.to_string();
    if consent.len() > MAX_CONSENT_BYTES || device.len() > MAX_DEVICE_BYTES {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request.too_large",
            format!("consent is limited to {MAX_CONSENT_BYTES} bytes and device facts to {MAX_DEVICE_BYTES}"),
        ));
    }
    if req.client_key.as_ref().is_some_and(|k| k.len() < 16 || k.len() > 128) {
        return Err(bad_request("request.invalid_client_key", "client_key must be 16-128 characters"));
    }
    let token = random_hex();
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
                rusqlite::params![id, req.exam_code, name, db::hash_token(&token), consent, device, vigil_core::time::now_rfc3339(), req.client_key],
            ).map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => ApiError(StatusCode::CONFLICT, "session.client_key_conflict", "this client_key belongs to another exam's session".into()),
                e => e.into(),
            })?;
            tracing::info!(session = %id, exam = %req.exam_code, "session started");
            id
        }
    };
    let upload_url = state.config.upload_endpoint.clone().unwrap_or_else(|| "/v1/uploads".into());
    let grant = JoinGrant {
        exam_code: req.exam_code.clone(),
        session_id: id.clone(),
        policy_sha256: vigil_spool::sha256_hex(exam.policy_json.as_bytes()),
        exam_url: exam.exam_url.clone(),
        upload_url: upload_url.clone(),
        origin: request_origin(state, headers),
        organiser: state.config.organiser.clone(),
        issued_at: vigil_core::time::now_rfc3339(),
    };
    Ok((
        StatusCode::CREATED,
        Json(JoinResponse {
            session_id: id,
            token,
            policy: SignedPolicy { policy_json: exam.policy_json, signature: exam.signature },
            upload_url,
            exam_url: exam.exam_url,
            grant: SignedJson::sign(SignedKind::Join, &grant, &state.key),
        }),
    ))
}

async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<EventAck>> {
    authorize_open(&state, &headers, &id)?;
    let batch: EventBatch = read_json(body, MAX_EVENTS_BODY).await?;
    let mut events = batch.events;
    for e in &mut events {
        if e.seq == 0 {
            return Err(bad_request("events.invalid_seq", "event seq starts at 1"));
        }
        stored_number("event seq", e.seq)?;
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
        e.truncated |= vigil_core::event::bound_data(&mut e.data);
        e.time.truncate(e.time.char_indices().nth(64).map_or(e.time.len(), |(at, _)| at));
        if let Some(i) = &mut e.interval {
            if i.id.is_empty() || i.id.chars().count() > vigil_core::event::MAX_INTERVAL_ID {
                return Err(bad_request(
                    "events.invalid_interval",
                    format!("event {}: interval id must be 1-64 characters", e.seq),
                ));
            }
        }
    }
    let mut db = state.db();
    let acked = db::add_events(&mut db, &id, &events)?;
    db::seen(&db, &id)?;
    Ok(Json(EventAck { acked }))
}

async fn heartbeat(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<HeartbeatResponse>> {
    authorize_open(&state, &headers, &id)?;
    let _hb: Heartbeat = read_json(body, MAX_SMALL_BODY).await?;
    let db = state.db();
    db::seen(&db, &id)?;
    Ok(Json(HeartbeatResponse { instructions: db::take_instructions(&db, &id)? }))
}

/// Whether `location` is an upload on `endpoint`: same origin, and under its path.
fn is_upload_on(location: &str, endpoint: &str) -> bool {
    let (Ok(loc), Ok(end)) = (url::Url::parse(location), url::Url::parse(endpoint)) else { return false };
    let base = end.path().trim_end_matches('/');
    loc.origin() == end.origin()
        && loc.path().strip_prefix(base).is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
        && !loc.path().split('/').any(|part| part == ".." || part == ".")
}

/// A segment the client stored on the external tus server (only with `--upload-endpoint`).
async fn register_segment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    authorize_open(&state, &headers, &id)?;
    let reg: SegmentRegistration = read_json(body, MAX_SMALL_BODY).await?;
    let Some(endpoint) = &state.config.upload_endpoint else {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "segments.registration_disabled",
            "this server takes segments on its own tus endpoint (/v1/uploads), not by registration".into(),
        ));
    };
    if reg.location.len() > 2048 || !is_upload_on(&reg.location, endpoint) {
        return Err(bad_request("segments.invalid_location", format!("location must be an upload on {endpoint}")));
    }
    if !vigil_spool::is_valid_source(&reg.source) {
        return Err(bad_request("request.invalid_source", "source must be 1-32 characters of a-z, 0-9 and '-'"));
    }
    stored_number("sequence", reg.sequence)?;
    stored_number("bytes", reg.bytes)?;
    let sha256 = reg.sha256.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_request("request.invalid_sha256", "sha256 must be 64 hex digits"));
    }
    let time = match &reg.time {
        Some(t) => Some(
            SegmentTime::parse(&t.started_at, &t.start_ms.to_string(), &t.duration_ms.to_string())
                .map_err(|e| bad_request("segments.invalid_time", e))?,
        ),
        None => None,
    };
    let db = state.db();
    if let Some(time) = &time {
        db::record_segment_time(&db, &id, &reg.source, reg.sequence, time)?;
    }
    db::file_segment(&db, &id, &reg.source, reg.sequence, &sha256, reg.bytes, &reg.location)?;
    if db::filed_hash(&db, &id, &reg.source, reg.sequence)?.is_some_and(|held| held != sha256) {
        return Err(segment_exists(&reg.source, reg.sequence));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A filed segment is never replaced.
pub fn segment_exists(source: &str, sequence: u64) -> ApiError {
    ApiError(
        StatusCode::CONFLICT,
        "segment.exists",
        format!("segment {source} {sequence} is already filed with another hash; filed evidence is never replaced"),
    )
}

/// Finishes the session and answers its signed receipt. From then on the session takes nothing
/// more, and its token is good only for reading the receipt again.
async fn finish(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult<Json<Receipt>> {
    authorize(&state, &headers, &id)?;
    let db = state.db();
    if let Some(stored) = db::receipt(&db, &id)? {
        return Ok(Json(stored));
    }
    let body = ReceiptBody {
        session_id: id.clone(),
        finished_at: vigil_core::time::now_rfc3339(),
        segments: db::segments(&db, &id)?,
        events: db.query_row("SELECT COUNT(*) FROM events WHERE session_id = ?1", [&id], |r| r.get(0))?,
        last_event_seq: db::contiguous_events(&db, &id)?,
    };
    let receipt = Receipt::sign(body, &state.key);
    db.execute(
        "UPDATE sessions SET finished_at = ?2, receipt = ?3 WHERE id = ?1 AND finished_at IS NULL",
        rusqlite::params![id, receipt.body.finished_at, serde_json::to_string(&receipt).unwrap_or_default()],
    )?;
    tracing::info!(session = %id, segments = receipt.body.segments.len(), "session finished");
    Ok(Json(receipt))
}

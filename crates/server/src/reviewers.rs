//! Reviewers: named accounts with a role, signed in with a password (Argon2id, salted), held in
//! an HttpOnly SameSite=Strict cookie with a CSRF token for every change, and an audit log of
//! what each of them did. The admin token stays for scripts (`Authorization: Bearer`).

use crate::api::{bad_request, read_json, ApiError, ApiResult};
use crate::limits::MAX_SMALL_BODY;
use crate::state::{random_hex, AppState};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::json;

/// The cookie that carries a reviewer's sign-in.
const COOKIE: &str = "vigil_review";
/// The header that must repeat the sign-in's CSRF token on every change.
pub const CSRF_HEADER: &str = "x-vigil-csrf";
/// How long a sign-in lasts.
const SIGN_IN_HOURS: i64 = 12;
/// The longest wait after wrong passwords, in seconds.
const MAX_WAIT_S: i64 = 300;

pub fn create_tables(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS reviewers (name TEXT PRIMARY KEY, role TEXT NOT NULL, password TEXT NOT NULL,
           created_at TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS reviewer_sign_ins (token_hash TEXT PRIMARY KEY, name TEXT NOT NULL,
           csrf TEXT NOT NULL, expires_ms INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS reviewer_waits (name TEXT PRIMARY KEY, failures INTEGER NOT NULL,
           next_try_ms INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
           action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);",
    )
}

/// What a reviewer may do: admins also manage and read the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    Admin,
    Reviewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
        }
    }
}

/// Who makes a review request.
#[derive(Debug, Clone)]
pub enum Actor {
    /// The admin token (scripts).
    Token,
    Reviewer {
        name: String,
        admin: bool,
    },
}

impl Actor {
    pub fn name(&self) -> &str {
        match self {
            Actor::Token => "admin-token",
            Actor::Reviewer { name, .. } => name,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Actor::Token | Actor::Reviewer { admin: true, .. })
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn unauthorized() -> ApiError {
    ApiError(StatusCode::UNAUTHORIZED, "auth.required", "sign in, or send the admin token".into())
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// The reviewer (or the admin token) behind a request that only reads.
pub fn actor(state: &AppState, headers: &HeaderMap) -> ApiResult<Actor> {
    signed_in(state, headers).map(|(actor, _)| actor)
}

/// The same for a request that changes something: a cookie sign-in must also send its CSRF
/// token in `X-Vigil-Csrf` (a page on another site cannot read it).
pub fn actor_for_change(state: &AppState, headers: &HeaderMap) -> ApiResult<Actor> {
    let (actor, csrf) = signed_in(state, headers)?;
    if let Some(expected) = csrf {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        let same: bool = subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), expected.as_bytes()).into();
        if !same {
            return Err(ApiError(StatusCode::FORBIDDEN, "auth.csrf", "missing or wrong X-Vigil-Csrf token".into()));
        }
    }
    Ok(actor)
}

/// An admin (or the admin token).
pub fn admin(state: &AppState, headers: &HeaderMap) -> ApiResult<Actor> {
    let actor = actor(state, headers)?;
    if !actor.is_admin() {
        return Err(ApiError(StatusCode::FORBIDDEN, "auth.admin_required", "this needs an admin".into()));
    }
    Ok(actor)
}

/// The actor and, for a cookie sign-in, its CSRF token.
fn signed_in(state: &AppState, headers: &HeaderMap) -> ApiResult<(Actor, Option<String>)> {
    if let Some(token) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = token.strip_prefix("Bearer ").ok_or_else(unauthorized)?;
        return if state.is_admin(token) { Ok((Actor::Token, None)) } else { Err(unauthorized()) };
    }
    let token = cookie(headers).ok_or_else(unauthorized)?;
    let db = state.db();
    let found: Option<(String, String, String)> = db
        .query_row(
            "SELECT s.name, s.csrf, r.role FROM reviewer_sign_ins s JOIN reviewers r ON r.name = s.name
             WHERE s.token_hash = ?1 AND s.expires_ms > ?2",
            params![crate::db::hash_token(token), now_ms()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (name, csrf, role) = found.ok_or_else(unauthorized)?;
    Ok((Actor::Reviewer { name, admin: role == "admin" }, Some(csrf)))
}

/// Appends to the audit log: who did what to which session (or reviewer), when.
pub fn audit(state: &AppState, actor: &Actor, action: &str, target: &str, detail: serde_json::Value) {
    let result = state.db().execute(
        "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![vigil_core::time::now_rfc3339(), actor.name(), action, target, detail.to_string()],
    );
    if let Err(e) = result {
        tracing::error!("the audit log could not be written: {e}");
    }
}

// ---- accounts (the `vigil-server reviewer` commands) ----

/// Adds a reviewer or sets a new password and role for one.
pub fn add(db: &Connection, name: &str, role: Role, password: &str) -> anyhow::Result<()> {
    valid_name(name).map_err(|e| anyhow::anyhow!(e.2))?;
    if password.chars().count() < 12 {
        anyhow::bail!("the password must have at least 12 characters");
    }
    let hash = vigil_core::quit_password::hash(password).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    db.execute(
        "INSERT INTO reviewers VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(name) DO UPDATE SET role = excluded.role, password = excluded.password",
        params![name, role.as_str(), hash, vigil_core::time::now_rfc3339()],
    )?;
    // A new password ends the old sign-ins.
    db.execute("DELETE FROM reviewer_sign_ins WHERE name = ?1", [name])?;
    Ok(())
}

/// `(name, role, created_at)` of every reviewer.
pub fn list(db: &Connection) -> rusqlite::Result<Vec<(String, String, String)>> {
    let mut stmt = db.prepare("SELECT name, role, created_at FROM reviewers ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// Removes a reviewer and ends their sign-ins; false if there was none.
pub fn remove(db: &Connection, name: &str) -> rusqlite::Result<bool> {
    db.execute("DELETE FROM reviewer_sign_ins WHERE name = ?1", [name])?;
    Ok(db.execute("DELETE FROM reviewers WHERE name = ?1", [name])? > 0)
}

fn valid_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(bad_request("reviewer.invalid_name", "a reviewer's name is 1-64 printable characters"));
    }
    Ok(())
}

// ---- sign-in and sign-out ----

#[derive(Deserialize)]
struct SignIn {
    name: String,
    password: String,
}

/// `POST /v1/review/sign-in`: a cookie, and the CSRF token the page sends with every change.
/// Each wrong password doubles the wait before the next try for that name (2 s ... 5 min),
/// whether or not the name exists.
pub async fn sign_in(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let req: SignIn = read_json(body, MAX_SMALL_BODY).await?;
    valid_name(&req.name)?;
    let now = now_ms();
    let wait: Option<(i64, i64)> = state
        .db()
        .query_row("SELECT failures, next_try_ms FROM reviewer_waits WHERE name = ?1", [&req.name], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((_, next)) = wait.filter(|(_, next)| *next > now) {
        let secs = (next - now + 999) / 1000;
        let mut resp = ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "auth.wait",
            format!("too many wrong passwords: try again in {secs} s"),
        )
        .into_response();
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Ok(resp);
    }
    let stored: Option<(String, String)> = state
        .db()
        .query_row("SELECT password, role FROM reviewers WHERE name = ?1", [&req.name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // The hash is checked off the async threads; an unknown name costs the same.
    let password = req.password.clone();
    let phc = stored.as_ref().map(|(p, _)| p.clone());
    let right = tokio::task::spawn_blocking(move || match phc {
        Some(phc) => vigil_core::quit_password::verify(&phc, &password),
        None => {
            let _ = vigil_core::quit_password::hash(&password);
            false
        }
    })
    .await
    .unwrap_or(false);
    let Some((_, role)) = stored.filter(|_| right) else {
        let failures = wait.map_or(0, |(f, _)| f) + 1;
        let secs = (1i64 << failures.min(20)).min(MAX_WAIT_S);
        state.db().execute(
            "INSERT INTO reviewer_waits VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET failures = excluded.failures, next_try_ms = excluded.next_try_ms",
            params![req.name, failures, now + secs * 1000],
        )?;
        audit(&state, &Actor::Reviewer { name: req.name.clone(), admin: false }, "sign_in.refused", "", json!({}));
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "auth.wrong_password",
            format!("wrong name or password; the next try in {secs} s"),
        ));
    };
    let (token, csrf) = (random_hex(), random_hex());
    {
        let db = state.db();
        db.execute("DELETE FROM reviewer_waits WHERE name = ?1", [&req.name])?;
        db.execute("DELETE FROM reviewer_sign_ins WHERE expires_ms <= ?1", [now])?;
        db.execute(
            "INSERT INTO reviewer_sign_ins VALUES (?1, ?2, ?3, ?4)",
            params![crate::db::hash_token(&token), req.name, csrf, now + SIGN_IN_HOURS * 3600 * 1000],
        )?;
    }
    let actor = Actor::Reviewer { name: req.name.clone(), admin: role == "admin" };
    audit(&state, &actor, "sign_in", "", json!({}));
    // `Secure` whenever the page is served over TLS (directly or behind the public URL).
    let secure = state.config.public_origin.as_deref().is_some_and(|o| o.starts_with("https://"))
        || headers.get("x-forwarded-proto").is_some_and(|v| v == "https");
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SIGN_IN_HOURS * 3600,
        if secure { "; Secure" } else { "" }
    );
    let mut resp = Json(json!({"name": req.name, "role": role, "csrf": csrf})).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("hex and ASCII"));
    Ok(resp)
}

/// `POST /v1/review/sign-out`: ends this sign-in.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let actor = actor_for_change(&state, &headers)?;
    if let Some(token) = cookie(&headers) {
        state.db().execute("DELETE FROM reviewer_sign_ins WHERE token_hash = ?1", [crate::db::hash_token(token)])?;
    }
    audit(&state, &actor, "sign_out", "", json!({}));
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("vigil_review=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}

/// `GET /v1/review/me`: who is signed in (the page asks on load).
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<serde_json::Value>> {
    let (actor, csrf) = signed_in(&state, &headers)?;
    Ok(Json(json!({"name": actor.name(), "admin": actor.is_admin(), "csrf": csrf})))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    /// Entries after this id (the log pages forward).
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    200
}

/// `GET /v1/review/audit` (admins): who viewed, noted, instructed or signed in, and when.
pub async fn audit_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    admin(&state, &headers)?;
    let db = state.db();
    let mut stmt =
        db.prepare("SELECT id, at, actor, action, target, detail FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2")?;
    let entries = stmt
        .query_map(params![q.after, q.limit.clamp(1, 1000)], |r| {
            Ok(json!({"id": r.get::<_, i64>(0)?, "at": r.get::<_, String>(1)?, "actor": r.get::<_, String>(2)?,
                "action": r.get::<_, String>(3)?, "target": r.get::<_, String>(4)?,
                "detail": serde_json::from_str::<serde_json::Value>(&r.get::<_, String>(5)?).unwrap_or_default()}))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({"entries": entries})))
}

//! The review API and page for proctors (admin token), with security headers on every answer:
//! a CSP without inline script, no framing, no sniffing, no caching.

use crate::api::{bad_request, read_json, stored_number, ApiError, ApiResult};
use crate::db;
use crate::limits::MAX_SMALL_BODY;
use crate::reviewers::{actor, actor_for_change, audit};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::json;
use vigil_core::protocol::Instruction;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   media-src 'self' blob:; img-src 'self' blob: data:; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'self'";

/// Adds the headers every review answer carries.
pub async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

pub async fn page() -> Html<&'static str> {
    Html(include_str!("review.html"))
}

pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("review.js"))
}

pub async fn player_script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("review_player.js"))
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("review.css"))
}

pub async fn session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    let who = actor(&state, &headers)?;
    let db = state.db();
    let session = db
        .query_row("SELECT exam_code, candidate, created_at, finished_at, consent, device FROM sessions WHERE id = ?1", [&id], |r| {
            Ok(json!({"id": id, "exam_code": r.get::<_, String>(0)?, "candidate": r.get::<_, String>(1)?, "started_at": r.get::<_, String>(2)?,
                "finished_at": r.get::<_, Option<String>>(3)?,
                "consent": serde_json::from_str::<serde_json::Value>(&r.get::<_, String>(4)?).unwrap_or_default(),
                "device": serde_json::from_str::<serde_json::Value>(&r.get::<_, String>(5)?).unwrap_or_default()}))
        })
        .map_err(|_| ApiError(StatusCode::NOT_FOUND, "session.not_found", "no such session".into()))?;
    let external = state.config.upload_endpoint.is_some();
    let session_start = session["started_at"].as_str().and_then(vigil_core::time::parse_rfc3339_ms);
    let times = db::segment_times(&db, &id)?;
    let segments: Vec<_> = db::segments(&db, &id)?
        .into_iter()
        .map(|s| {
            let mut v = json!({"source": s.source, "sequence": s.sequence, "sha256": s.sha256, "bytes": s.bytes,
                "download": format!("/v1/review/sessions/{id}/segments/{}/{}", s.source, s.sequence)});
            // On one clock: the wall-clock start, its offset from the session's start, the length.
            if let Some(t) = times.get(&(s.source.clone(), s.sequence)) {
                v["started_at"] = json!(t.started_at);
                v["start_ms"] = json!(t.start_ms);
                v["duration_ms"] = json!(t.duration_ms);
                if let (Some(at), Some(start)) = (t.started_at_ms(), session_start) {
                    v["offset_ms"] = json!(at - start);
                }
            }
            if external {
                v["stored_at"] = json!(db::segment_location(&db, &id, &s.source, s.sequence).ok());
            }
            v
        })
        .collect();
    let events = db::events(&db, &id)?;
    let work = crate::review_work::work(&db, &id)?;
    drop(db);
    audit(&state, &who, "session.viewed", &id, json!({}));
    let intervals = vigil_core::protocol::intervals(&events);
    Ok(Json(json!({"session": session, "segments": segments, "events": events, "intervals": intervals,
        "notes": work["notes"], "flag_reviews": work["flag_reviews"], "verdict": work["verdict"],
        "reviewed": work["reviewed"]})))
}

pub async fn instruct(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let who = actor_for_change(&state, &headers)?;
    let ins: Instruction = read_json(body, MAX_SMALL_BODY).await?;
    let n = state.db().execute(
        "INSERT INTO instructions (session_id, body) SELECT id, ?2 FROM sessions WHERE id = ?1",
        rusqlite::params![id, serde_json::to_string(&ins).unwrap_or_default()],
    )?;
    if n == 0 {
        return Err(ApiError(StatusCode::NOT_FOUND, "session.not_found", "no such session".into()));
    }
    audit(&state, &who, "session.instructed", &id, serde_json::to_value(&ins).unwrap_or_default());
    Ok(StatusCode::ACCEPTED)
}

/// A filed segment, decrypted for the reviewer; refused if its bytes no longer match the hash
/// that was filed.
pub async fn segment(
    State(state): State<AppState>,
    Path((id, source, sequence)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    actor(&state, &headers)?;
    if !vigil_spool::is_valid_source(&source) {
        return Err(bad_request("request.invalid_source", "invalid source name"));
    }
    stored_number("sequence", sequence)?;
    let bytes = filed_bytes(&state, &id, &source, sequence).await?;
    let kind = if vigil_core::protocol::is_picture_source(&source) { "image/jpeg" } else { "video/mp4" };
    let len = bytes.len() as u64;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let mut resp = match byte_range(range, len) {
        ByteRange::Whole => ([(header::CONTENT_TYPE, kind)], bytes).into_response(),
        ByteRange::Part(first, last) => {
            let part = bytes[first as usize..=last as usize].to_vec();
            let mut r = (StatusCode::PARTIAL_CONTENT, [(header::CONTENT_TYPE, kind)], part).into_response();
            let content_range = format!("bytes {first}-{last}/{len}");
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&content_range).expect("ASCII"));
            r
        }
        ByteRange::Unsatisfiable => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            let content_range = format!("bytes */{len}");
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&content_range).expect("ASCII"));
            r
        }
    };
    resp.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(resp)
}

/// A filed segment's bytes, decrypted: refused if they no longer match the hash filed on
/// receipt, or if the segment lives on the external upload server.
pub async fn filed_bytes(state: &AppState, id: &str, source: &str, sequence: u64) -> ApiResult<Vec<u8>> {
    let filed = db::filed_hash(&state.db(), id, source, sequence)?;
    let Some(filed) = filed else {
        return Err(ApiError(StatusCode::NOT_FOUND, "segment.not_found", "no such segment".into()));
    };
    let path = state.segment_path(id, source, sequence);
    if !path.exists() {
        let location = db::segment_location(&state.db(), id, source, sequence).unwrap_or_default();
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "segment.external",
            format!("this segment is stored on the external upload server: {location}"),
        ));
    }
    let bytes = tokio::fs::read(path).await.map_err(|e| {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "segment.unreadable", format!("segment file unreadable: {e}"))
    })?;
    let actual = vigil_spool::sha256_hex(&bytes);
    if actual != filed {
        tracing::error!(session = %id, %source, sequence, "a filed segment's bytes no longer match its hash");
        return Err(ApiError(
            StatusCode::CONFLICT,
            "segment.altered",
            format!("the stored file no longer matches the hash filed on receipt (filed {filed}, now {actual})"),
        ));
    }
    if !vigil_spool::seal::is_sealed(&bytes) {
        return Ok(bytes);
    }
    // Encrypted at rest to the exam's recipient: decrypt for the reviewer.
    let code: String = state.db().query_row("SELECT exam_code FROM sessions WHERE id = ?1", [id], |r| r.get(0))?;
    let identity = state.exam_identity(&code).map_err(|e| {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "exam.identity_missing", format!("exam {code}'s key: {e}"))
    })?;
    vigil_spool::seal::open_bytes(&bytes, &identity).map_err(|e| {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "segment.undecryptable", format!("cannot decrypt the segment: {e}"))
    })
}

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum ByteRange {
    /// No range, or one this server does not serve in part (several ranges, other units): 200.
    Whole,
    /// Bytes `first..=last`: 206.
    Part(u64, u64),
    /// A range that starts past the end: 416.
    Unsatisfiable,
}

/// Reads `bytes=FIRST-LAST`, `bytes=FIRST-` and `bytes=-SUFFIX` (RFC 9110 §14.1.2).
fn byte_range(header: Option<&str>, len: u64) -> ByteRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return ByteRange::Whole };
    if spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return ByteRange::Whole };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        // The last SUFFIX bytes.
        (true, _, Some(suffix)) if suffix > 0 && len > 0 => ByteRange::Part(len.saturating_sub(suffix), len - 1),
        (true, _, _) => ByteRange::Unsatisfiable,
        (false, Some(first), _) if first >= len => ByteRange::Unsatisfiable,
        (false, Some(first), None) if last.trim().is_empty() => ByteRange::Part(first, len - 1),
        (false, Some(first), Some(last)) if last >= first => ByteRange::Part(first, last.min(len - 1)),
        _ => ByteRange::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::{byte_range, ByteRange};

    #[test]
    fn ranges_as_rfc_9110_reads_them() {
        assert_eq!(byte_range(None, 100), ByteRange::Whole);
        assert_eq!(byte_range(Some("bytes=0-9"), 100), ByteRange::Part(0, 9));
        assert_eq!(byte_range(Some("bytes=90-"), 100), ByteRange::Part(90, 99));
        assert_eq!(byte_range(Some("bytes=90-500"), 100), ByteRange::Part(90, 99));
        assert_eq!(byte_range(Some("bytes=-10"), 100), ByteRange::Part(90, 99));
        assert_eq!(byte_range(Some("bytes=-500"), 100), ByteRange::Part(0, 99));
        assert_eq!(byte_range(Some("bytes=100-"), 100), ByteRange::Unsatisfiable);
        assert_eq!(byte_range(Some("bytes=-0"), 100), ByteRange::Unsatisfiable);
        assert_eq!(byte_range(Some("bytes=0-"), 0), ByteRange::Unsatisfiable);
        // Served whole: several ranges, other units, nonsense, a backwards range.
        for whole in ["bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=9-3", "bytes=5"] {
            assert_eq!(byte_range(Some(whole), 100), ByteRange::Whole, "{whole}");
        }
    }
}

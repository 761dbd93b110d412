//! tus 1.0 resumable uploads: core, creation and termination. Metadata names the session, source,
//! sequence and SHA-256 of the segment; when the last byte arrives the hash is checked and the
//! segment is filed under its session, read-only and never replaced. A hash mismatch answers 460
//! and discards the upload; another file for a filed segment answers 409.
//!
//! Every request is authorised before its body is read, and a body is streamed to disk, at most
//! `Vigil-Max-Patch-Bytes` per PATCH (advertised on every answer).

use crate::api::{authorize, authorize_open, bad_request, segment_exists, stored_number, ApiError, ApiResult};
use crate::db;
use crate::state::{random_hex, AppState};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use vigil_core::protocol::SegmentTime;

const TUS_VERSION: &str = "1.0.0";

/// The largest PATCH body this server takes; clients send smaller chunks.
pub const MAX_PATCH_HEADER: &str = "Vigil-Max-Patch-Bytes";

fn tus_headers(state: &AppState) -> [(&'static str, HeaderValue); 5] {
    [
        ("Tus-Resumable", HeaderValue::from_static(TUS_VERSION)),
        ("Tus-Version", HeaderValue::from_static(TUS_VERSION)),
        ("Tus-Extension", HeaderValue::from_static("creation,termination")),
        ("Tus-Max-Size", HeaderValue::from(state.config.limits.max_upload_bytes)),
        (MAX_PATCH_HEADER, HeaderValue::from(state.config.limits.max_patch_bytes)),
    ]
}

fn storage_full(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INSUFFICIENT_STORAGE, "storage.full", format!("cannot store the upload: {e}"))
}

fn require_tus(headers: &HeaderMap) -> ApiResult<()> {
    match headers.get("Tus-Resumable").and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(ApiError(StatusCode::PRECONDITION_FAILED, "tus.version", "Tus-Resumable: 1.0.0 required".into())),
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> ApiResult<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad_request("tus.header", format!("missing or invalid {name}")))
}

/// `Upload-Metadata: key base64,key base64`
fn metadata(headers: &HeaderMap) -> ApiResult<HashMap<String, String>> {
    let raw = headers
        .get("Upload-Metadata")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad_request("tus.metadata", "missing Upload-Metadata"))?;
    raw.split(',')
        .map(|pair| {
            let mut it = pair.trim().splitn(2, ' ');
            let key = it.next().unwrap_or_default().to_owned();
            let value = it.next().unwrap_or_default();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| bad_request("tus.metadata", format!("Upload-Metadata `{key}` is not base64")))?;
            Ok((
                key,
                String::from_utf8(decoded).map_err(|_| bad_request("tus.metadata", "Upload-Metadata is not UTF-8"))?,
            ))
        })
        .collect()
}

pub async fn options(State(state): State<AppState>) -> Response {
    (StatusCode::NO_CONTENT, tus_headers(&state)).into_response()
}

struct Upload {
    session_id: String,
    length: u64,
    offset: u64,
    source: String,
    sequence: u64,
    sha256: String,
}

fn load(state: &AppState, id: &str) -> ApiResult<Upload> {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError(StatusCode::NOT_FOUND, "upload.not_found", "no such upload".into()));
    }
    state
        .db()
        .query_row(
            "SELECT session_id, length, offset, source, sequence, sha256 FROM uploads WHERE id = ?1",
            [id],
            |r| {
                Ok(Upload {
                    session_id: r.get(0)?,
                    length: r.get(1)?,
                    offset: r.get(2)?,
                    source: r.get(3)?,
                    sequence: r.get(4)?,
                    sha256: r.get(5)?,
                })
            },
        )
        .map_err(|_| ApiError(StatusCode::NOT_FOUND, "upload.not_found", "no such upload".into()))
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    require_tus(&headers)?;
    let meta = metadata(&headers)?;
    let get = |k: &str| {
        meta.get(k).cloned().ok_or_else(|| bad_request("tus.metadata", format!("Upload-Metadata needs `{k}`")))
    };
    let session = get("session")?;
    authorize_open(&state, &headers, &session)?;
    let length = stored_number("Upload-Length", header_u64(&headers, "Upload-Length")?)?;
    if length > state.config.limits.max_upload_bytes {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload.too_large",
            format!("Upload-Length {length} is over the limit of {} bytes", state.config.limits.max_upload_bytes),
        ));
    }
    let source = get("source")?;
    if !vigil_spool::is_valid_source(&source) {
        return Err(bad_request("request.invalid_source", "source must be 1-32 characters of a-z, 0-9 and '-'"));
    }
    let sequence: u64 =
        get("sequence")?.parse().map_err(|_| bad_request("tus.metadata", "sequence must be a number"))?;
    stored_number("sequence", sequence)?;
    let sha256 = get("sha256")?.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_request("request.invalid_sha256", "sha256 must be 64 hex digits"));
    }
    {
        let db = state.db();
        if db::filed_hash(&db, &session, &source, sequence)?.is_some_and(|held| held != sha256) {
            return Err(segment_exists(&source, sequence));
        }
        let used = db::session_bytes(&db, &session)?;
        if used.saturating_add(length) > state.config.limits.session_quota_bytes {
            return Err(ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload.quota",
                format!("this session has used {used} of its {} bytes", state.config.limits.session_quota_bytes),
            ));
        }
    }
    // When the segment starts (clients since 0.2 say): checked, kept with the segment.
    let time = match (meta.get("started_at"), meta.get("start_ms"), meta.get("duration_ms")) {
        (None, None, None) => None,
        (Some(at), Some(start), Some(duration)) => {
            Some(SegmentTime::parse(at, start, duration).map_err(|e| bad_request("tus.metadata", e))?)
        }
        _ => return Err(bad_request("tus.metadata", "started_at, start_ms and duration_ms come together")),
    };
    let id = random_hex();
    std::fs::File::create(state.upload_path(&id)).map_err(storage_full)?;
    if let Some(time) = &time {
        db::record_segment_time(&state.db(), &session, &source, sequence, time)?;
    }
    state.db().execute(
        "INSERT INTO uploads VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)",
        rusqlite::params![id, session, length, source, sequence, sha256, vigil_core::time::now_rfc3339()],
    )?;
    let mut resp = (StatusCode::CREATED, tus_headers(&state)).into_response();
    resp.headers_mut()
        .insert("Location", HeaderValue::from_str(&format!("/v1/uploads/{id}")).expect("hex is a valid header"));
    if length == 0 {
        complete(&state, &id, &load(&state, &id)?)?;
    }
    Ok(resp)
}

pub async fn head(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    require_tus(&headers)?;
    let up = load(&state, &id)?;
    authorize(&state, &headers, &up.session_id)?;
    let mut resp = (StatusCode::OK, tus_headers(&state)).into_response();
    let h = resp.headers_mut();
    h.insert("Upload-Offset", HeaderValue::from(up.offset));
    h.insert("Upload-Length", HeaderValue::from(up.length));
    h.insert("Cache-Control", HeaderValue::from_static("no-store"));
    Ok(resp)
}

pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    require_tus(&headers)?;
    let up = load(&state, &id)?;
    authorize_open(&state, &headers, &up.session_id)?;
    if headers.get("Content-Type").and_then(|v| v.to_str().ok()) != Some("application/offset+octet-stream") {
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "tus.content_type",
            "Content-Type must be application/offset+octet-stream".into(),
        ));
    }
    let offset = header_u64(&headers, "Upload-Offset")?;
    if offset != up.offset {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "upload.offset_mismatch",
            format!("Upload-Offset {offset} does not match the server's {}", up.offset),
        ));
    }
    // At most this many bytes may come, whatever the body claims.
    let room = (up.length - offset).min(state.config.limits.max_patch_bytes);
    if headers
        .get("Content-Length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > room)
    {
        return Err(over_patch(&state, up.length - offset));
    }
    let Some(written) = stream_to(&state.upload_path(&id), offset, body, room).await? else {
        return Err(over_patch(&state, up.length - offset));
    };
    let new_offset = offset + written;
    // Disk work (the offset, hashing on the last byte) runs off the async workers.
    let (st, upload_id) = (state.clone(), id.clone());
    tokio::task::spawn_blocking(move || -> ApiResult<()> {
        // Conditional, so that a retried PATCH racing the original cannot move the offset twice.
        let moved = st.db().execute(
            "UPDATE uploads SET offset = ?2 WHERE id = ?1 AND offset = ?3",
            rusqlite::params![upload_id, new_offset, offset],
        )?;
        if moved == 0 {
            return Err(ApiError(
                StatusCode::CONFLICT,
                "upload.offset_mismatch",
                "another request moved this upload's offset; ask for it with HEAD".into(),
            ));
        }
        if new_offset == up.length {
            complete(&st, &upload_id, &up)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "server.internal", format!("upload worker failed: {e}"))
    })??;
    let mut resp = (StatusCode::NO_CONTENT, tus_headers(&state)).into_response();
    resp.headers_mut().insert("Upload-Offset", HeaderValue::from(new_offset));
    Ok(resp)
}

fn over_patch(state: &AppState, left: u64) -> ApiError {
    ApiError(
        StatusCode::PAYLOAD_TOO_LARGE,
        "upload.patch_too_large",
        format!(
            "a PATCH may carry at most {} bytes ({MAX_PATCH_HEADER}) and this upload has {left} left",
            state.config.limits.max_patch_bytes
        ),
    )
}

/// Writes the body at `offset` as it arrives, never holding more than one chunk. Returns the bytes
/// written, synced to disk, or `None` (and stops reading) when the body is over `room` bytes.
async fn stream_to(path: &std::path::Path, offset: u64, body: Body, room: u64) -> ApiResult<Option<u64>> {
    use futures_util::StreamExt;
    let mut file = tokio::fs::OpenOptions::new().write(true).open(path).await.map_err(storage_full)?;
    file.seek(std::io::SeekFrom::Start(offset)).await.map_err(storage_full)?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad_request("upload.body", format!("the body broke off: {e}")))?;
        written += chunk.len() as u64;
        if written > room {
            return Ok(None);
        }
        file.write_all(&chunk).await.map_err(storage_full)?;
    }
    file.sync_data().await.map_err(storage_full)?;
    Ok(Some(written))
}

/// The last byte is in: check the hash and that the file is sealed, then file the segment,
/// read-only. A segment already filed with the same hash is an idempotent success; with another
/// hash it is refused and the new file discarded.
fn complete(state: &AppState, id: &str, up: &Upload) -> ApiResult<()> {
    let path = state.upload_path(id);
    // Drops the upload: its file and its row.
    let forget = |db: &rusqlite::Connection| -> ApiResult<()> {
        let _ = std::fs::remove_file(&path);
        db.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
        Ok(())
    };
    let actual = vigil_spool::sha256_file(&path)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "server.internal", e.to_string()))?;
    if actual != up.sha256 {
        forget(&state.db())?;
        return Err(ApiError(
            StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
            "upload.checksum_mismatch",
            format!("checksum mismatch: got {actual}, expected {}", up.sha256),
        ));
    }
    if up.length > 0 && !vigil_spool::seal::file_is_sealed(&path) {
        forget(&state.db())?;
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "upload.not_encrypted",
            "this exam encrypts its recordings: segments must be age files to its recipient".into(),
        ));
    }
    // From here to the row, one filing at a time: two uploads of the same segment completing
    // together must not both reach the disk.
    let db = state.db();
    match db::filed_hash(&db, &up.session_id, &up.source, up.sequence)? {
        Some(held) if held == up.sha256 => return forget(&db),
        Some(_) => {
            forget(&db)?;
            return Err(segment_exists(&up.source, up.sequence));
        }
        None => {}
    }
    let dest = state.segment_path(&up.session_id, &up.source, up.sequence);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(storage_full)?;
    }
    // A file there without a row is a crash's leftover between linking and filing: never filed,
    // so it may go.
    if dest.exists() {
        let _ = std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600));
        std::fs::remove_file(&dest).map_err(storage_full)?;
    }
    // A hard link never replaces an existing file, unlike a rename.
    std::fs::hard_link(&path, &dest).map_err(storage_full)?;
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o400)).map_err(storage_full)?;
    db::file_segment(&db, &up.session_id, &up.source, up.sequence, &up.sha256, up.length, id)?;
    forget(&db)
}

/// Deletes unfinished uploads older than the limit, and their files; runs every few minutes.
pub async fn expire_uploads(state: AppState) {
    loop {
        let cutoff = std::time::SystemTime::now() - state.config.limits.upload_ttl;
        let cutoff = vigil_core::time::rfc3339(cutoff);
        let expired: Vec<String> = {
            let db = state.db();
            let ids = db.prepare("SELECT id FROM uploads WHERE created_at < ?1").and_then(|mut stmt| {
                stmt.query_map([&cutoff], |r| r.get(0)).and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            });
            ids.unwrap_or_default()
        };
        for id in &expired {
            let _ = std::fs::remove_file(state.upload_path(id));
            let _ = state.db().execute("DELETE FROM uploads WHERE id = ?1", [id]);
        }
        if !expired.is_empty() {
            tracing::info!(count = expired.len(), "unfinished uploads expired");
        }
        let period = (state.config.limits.upload_ttl / 4)
            .clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(600));
        tokio::time::sleep(period).await;
    }
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    require_tus(&headers)?;
    let up = load(&state, &id)?;
    authorize_open(&state, &headers, &up.session_id)?;
    let _ = std::fs::remove_file(state.upload_path(&id));
    state.db().execute("DELETE FROM uploads WHERE id = ?1", [&id])?;
    Ok((StatusCode::NO_CONTENT, tus_headers(&state)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `Upload-Metadata` of any printable text: parsed or refused with `tus.metadata`,
        /// never a panic; well-formed pairs come back as sent.
        #[test]
        fn upload_metadata_of_any_text(raw in "[ -~]{0,300}", key in "[a-z]{1,12}", value in ".{0,100}") {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&raw) {
                headers.insert("Upload-Metadata", v);
                if let Err(e) = metadata(&headers) {
                    prop_assert_eq!(e.1, "tus.metadata");
                }
            }
            let encoded = format!("{key} {}", base64::engine::general_purpose::STANDARD.encode(&value));
            headers.insert("Upload-Metadata", HeaderValue::from_str(&encoded).unwrap());
            let parsed = metadata(&headers).unwrap();
            prop_assert_eq!(parsed.get(&key), Some(&value));
        }
    }
}

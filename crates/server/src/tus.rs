//! tus 1.0 resumable uploads: core, creation and termination. Metadata names the session, source,
//! sequence and SHA-256 of the segment; when the last byte arrives the hash is checked and the
//! segment is filed under its session. A hash mismatch answers 460 and discards the upload.

use crate::api::{authorize, bad_request, ApiError, ApiResult};
use crate::state::{random_hex, AppState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};

const TUS_VERSION: &str = "1.0.0";

fn tus_headers(state: &AppState) -> [(&'static str, HeaderValue); 4] {
    [
        ("Tus-Resumable", HeaderValue::from_static(TUS_VERSION)),
        ("Tus-Version", HeaderValue::from_static(TUS_VERSION)),
        ("Tus-Extension", HeaderValue::from_static("creation,termination")),
        ("Tus-Max-Size", HeaderValue::from(state.max_upload_bytes)),
    ]
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
    let length = header_u64(&headers, "Upload-Length")?;
    if length > state.max_upload_bytes {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload.too_large",
            format!("Upload-Length {length} is over the limit of {} bytes", state.max_upload_bytes),
        ));
    }
    let meta = metadata(&headers)?;
    let get = |k: &str| {
        meta.get(k).cloned().ok_or_else(|| bad_request("tus.metadata", format!("Upload-Metadata needs `{k}`")))
    };
    let session = get("session")?;
    authorize(&state, &headers, &session)?;
    let source = get("source")?;
    if !vigil_spool::is_valid_source(&source) {
        return Err(bad_request("request.invalid_source", "source must be 1-32 characters of a-z, 0-9 and '-'"));
    }
    let sequence: u64 =
        get("sequence")?.parse().map_err(|_| bad_request("tus.metadata", "sequence must be a number"))?;
    let sha256 = get("sha256")?.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_request("request.invalid_sha256", "sha256 must be 64 hex digits"));
    }
    let id = random_hex();
    std::fs::File::create(state.upload_path(&id)).map_err(|e| {
        ApiError(StatusCode::INSUFFICIENT_STORAGE, "storage.full", format!("cannot store the upload: {e}"))
    })?;
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
    body: Bytes,
) -> ApiResult<Response> {
    require_tus(&headers)?;
    if headers.get("Content-Type").and_then(|v| v.to_str().ok()) != Some("application/offset+octet-stream") {
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "tus.content_type",
            "Content-Type must be application/offset+octet-stream".into(),
        ));
    }
    let up = load(&state, &id)?;
    authorize(&state, &headers, &up.session_id)?;
    let offset = header_u64(&headers, "Upload-Offset")?;
    if offset != up.offset {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "upload.offset_mismatch",
            format!("Upload-Offset {offset} does not match the server's {}", up.offset),
        ));
    }
    let new_offset = offset + body.len() as u64;
    if new_offset > up.length {
        return Err(bad_request("upload.too_long", "the body goes past Upload-Length"));
    }
    // Disk work (write, fsync, hash on the last byte) runs off the async workers.
    let (st, upload_id) = (state.clone(), id.clone());
    tokio::task::spawn_blocking(move || -> ApiResult<()> {
        let path = st.upload_path(&upload_id);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().write(true).open(&path)?;
            f.seek(SeekFrom::Start(offset))?;
            f.write_all(&body)?;
            f.sync_data()
        };
        write().map_err(|e| {
            ApiError(StatusCode::INSUFFICIENT_STORAGE, "storage.full", format!("cannot store the upload: {e}"))
        })?;
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

/// The last byte is in: check the hash and file the segment (idempotently).
fn complete(state: &AppState, id: &str, up: &Upload) -> ApiResult<()> {
    let path = state.upload_path(id);
    let actual = vigil_spool::sha256_file(&path)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "server.internal", e.to_string()))?;
    if actual != up.sha256 {
        let _ = std::fs::remove_file(&path);
        let _ = state.db().execute("DELETE FROM uploads WHERE id = ?1", [id]);
        return Err(ApiError(
            StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
            "upload.checksum_mismatch",
            format!("checksum mismatch: got {actual}, expected {}", up.sha256),
        ));
    }
    let dest = state.segment_path(&up.session_id, &up.source, up.sequence);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ApiError(StatusCode::INSUFFICIENT_STORAGE, "storage.full", e.to_string()))?;
    }
    std::fs::rename(&path, &dest)
        .map_err(|e| ApiError(StatusCode::INSUFFICIENT_STORAGE, "storage.full", e.to_string()))?;
    let db = state.db();
    db.execute(
        "INSERT OR IGNORE INTO segments VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            up.session_id,
            up.source,
            up.sequence,
            up.sha256,
            up.length,
            id,
            vigil_core::time::now_rfc3339()
        ],
    )?;
    db.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
    Ok(())
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    require_tus(&headers)?;
    let up = load(&state, &id)?;
    authorize(&state, &headers, &up.session_id)?;
    let _ = std::fs::remove_file(state.upload_path(&id));
    state.db().execute("DELETE FROM uploads WHERE id = ?1", [&id])?;
    Ok((StatusCode::NO_CONTENT, tus_headers(&state)).into_response())
}

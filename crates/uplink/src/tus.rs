//! tus 1.0 uploads of segment files: creation, resuming at the server's offset, chunked PATCHes
//! no bigger than the server advertises (`Vigil-Max-Patch-Bytes`).

use crate::{check, transport, SessionInfo, Uplink, UplinkError};
use base64::Engine;
use reqwest::{StatusCode, Url};
use std::io::{Read, Seek, SeekFrom};
use vigil_core::protocol::SegmentTime;
use vigil_spool::SegmentRecord;

/// When `seg` starts and how long it lasts, as it is sent with it.
pub(crate) fn segment_time(seg: &SegmentRecord) -> SegmentTime {
    SegmentTime { started_at: seg.started_at.clone(), start_ms: seg.start_ms, duration_ms: seg.duration_ms }
}

/// The chunk a PATCH carries unless the server asks for less: an interruption costs at most one.
const CHUNK: u64 = 256 * 1024;

fn header_u64(resp: &reqwest::blocking::Response, name: &str) -> Option<u64> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
}

impl Uplink {
    /// tus request headers. The session token goes only to this backend, never to an external
    /// tus server.
    fn tus(&self, builder: reqwest::blocking::RequestBuilder, s: &SessionInfo) -> reqwest::blocking::RequestBuilder {
        let builder = builder.header("Tus-Resumable", "1.0.0");
        if self.uploads_here(s) {
            builder.bearer_auth(&s.token)
        } else {
            builder
        }
    }

    /// Whether the session's segments go to this backend's own tus endpoint (else to an external one).
    pub fn uploads_here(&self, s: &SessionInfo) -> bool {
        Url::parse(&s.upload_url).is_ok_and(|u| u.origin() == self.base.origin())
    }

    /// Uploads one segment file by tus, resuming at the server's offset when `location` names an
    /// earlier upload. `remember` is given the location of a new upload before any byte is sent.
    /// Returns the upload's URL.
    pub fn upload(
        &self,
        s: &SessionInfo,
        dir: &std::path::Path,
        seg: &SegmentRecord,
        location: Option<String>,
        remember: &dyn Fn(&str) -> Result<(), UplinkError>,
    ) -> Result<Url, UplinkError> {
        let path = dir.join(&seg.file);
        let io = |source| UplinkError::Io { path: path.display().to_string(), source };
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let length = file.metadata().map_err(io)?.len();
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let bad_url = |e: url::ParseError| UplinkError::local("uplink.bad_url", e.to_string());
        let upload_base = Url::parse(&s.upload_url).map_err(bad_url)?;
        let mut chunk = CHUNK;

        // Where to resume: the server's offset of a known upload, else a new upload.
        let mut resume = None;
        if let Some(loc) = location {
            let url = upload_base.join(&loc).map_err(bad_url)?;
            let resp = self.tus(self.http.head(url.clone()), s).send().map_err(transport)?;
            match resp.status() {
                StatusCode::OK | StatusCode::NO_CONTENT => {
                    chunk = header_u64(&resp, "Vigil-Max-Patch-Bytes").unwrap_or(CHUNK).clamp(1, CHUNK);
                    resume = header_u64(&resp, "Upload-Offset").map(|o| (url, o));
                }
                StatusCode::NOT_FOUND | StatusCode::GONE => {} // expired or already filed: start again
                _ => {
                    check(resp)?;
                }
            }
        }
        let (url, mut offset) = match resume {
            Some(r) => r,
            None => {
                let time = segment_time(seg);
                let meta = format!(
                    "session {},source {},sequence {},sha256 {},filename {},started_at {},start_ms {},duration_ms {}",
                    b64(&s.session_id),
                    b64(&seg.source),
                    b64(&seg.sequence.to_string()),
                    b64(&seg.sha256),
                    b64(&seg.file),
                    b64(&time.started_at),
                    b64(&time.start_ms.to_string()),
                    b64(&time.duration_ms.to_string()),
                );
                let resp = self
                    .tus(self.http.post(upload_base.clone()), s)
                    .header("Upload-Length", length.to_string())
                    .header("Upload-Metadata", meta)
                    .send()
                    .map_err(transport)?;
                let resp = check(resp)?;
                chunk = header_u64(&resp, "Vigil-Max-Patch-Bytes").unwrap_or(CHUNK).clamp(1, CHUNK);
                let loc = resp
                    .headers()
                    .get("Location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| UplinkError::local("tus.no_location", "tus server sent no Location"))?
                    .to_owned();
                remember(&loc)?;
                (upload_base.join(&loc).map_err(bad_url)?, 0)
            }
        };
        let mut buf = Vec::with_capacity(chunk as usize);
        while offset < length {
            let end = (offset + chunk).min(length);
            buf.clear();
            file.seek(SeekFrom::Start(offset)).map_err(io)?;
            (&mut file).take(end - offset).read_to_end(&mut buf).map_err(io)?;
            let resp = self
                .tus(self.http.patch(url.clone()), s)
                .header("Upload-Offset", offset.to_string())
                .header("Content-Type", "application/offset+octet-stream")
                .body(buf.clone())
                .send()
                .map_err(transport)?;
            if resp.status() == StatusCode::CONFLICT {
                // Our idea of the offset is stale: ask again next round. A filed-segment
                // conflict (`segment.exists`) is final.
                return match check(resp) {
                    Err(e) if e.code() == "segment.exists" => Err(e),
                    _ => Err(UplinkError::Transient("upload offset conflict; resuming".into())),
                };
            }
            let resp = check(resp)?;
            offset = header_u64(&resp, "Upload-Offset").unwrap_or(end);
        }
        Ok(url)
    }
}

//! Vigil's uplink: everything between the spool and the backend. It joins (or resumes) a session,
//! verifies the exam policy's signature against the provisioned server key, uploads finished
//! segments with tus 1.0 (resuming partly sent ones after any interruption), sends events in
//! batches, heartbeats and passes on the proctor's instructions. Network trouble is retried with
//! exponential backoff and jitter, for as long as it takes; nothing is deleted locally until the
//! backend's receipt lists it with the same hash. Knows nothing of cameras.

use base64::Engine;
use reqwest::blocking::{Client, Response};
use reqwest::{StatusCode, Url};
use std::io::Read;
use std::time::Duration;
use vigil_core::protocol::*;
use vigil_spool::{SegmentRecord, Spool, SpoolError};

#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// Worth retrying: connection refused or reset, timeout, 5xx, 429.
    #[error("the server is unreachable or busy: {0}")]
    Transient(String),
    /// Not worth retrying as is: the request or the setup is wrong. `code` is the server's
    /// (`exam.unknown_code`, `auth.wrong_token`, ...) or, for a local problem, `uplink.*`.
    #[error("{message}")]
    Rejected { code: String, message: String },
    #[error("{0}")]
    Policy(#[from] SignatureError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl UplinkError {
    pub fn is_transient(&self) -> bool {
        matches!(self, UplinkError::Transient(_))
    }

    /// A stable machine code: the server's for a rejected request, else `uplink.unreachable`,
    /// `policy.signature`, `uplink.io` or the spool's.
    pub fn code(&self) -> &str {
        match self {
            UplinkError::Transient(_) => "uplink.unreachable",
            UplinkError::Rejected { code, .. } => code,
            UplinkError::Policy(_) => "policy.signature",
            UplinkError::Spool(e) => e.code(),
            UplinkError::Io { .. } => "uplink.io",
        }
    }

    fn local(code: &str, message: impl Into<String>) -> UplinkError {
        UplinkError::Rejected { code: code.to_owned(), message: message.into() }
    }
}

/// A joined session, as kept in the spool so that a restart resumes it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    pub server: String,
    pub session_id: String,
    pub token: String,
    /// Absolute tus creation URL.
    pub upload_url: String,
    pub policy_json: String,
    pub exam_url: Option<String>,
}

/// HTTP client for one backend.
pub struct Uplink {
    http: Client,
    base: Url,
}

fn transport(e: reqwest::Error) -> UplinkError {
    UplinkError::Transient(vigil_core::error_chain(&e))
}

/// Turns a non-success answer into an error, reading the server's `{"error": ...}`.
fn check(resp: Response) -> Result<Response, UplinkError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.text().unwrap_or_default();
    let (code, msg) = match serde_json::from_str::<ErrorBody>(&body) {
        Ok(b) => (b.error.code, b.error.message),
        // Not our server's shape (a proxy, a foreign tus server): the status is all we know.
        Err(_) => (format!("http.{}", status.as_u16()), body.chars().take(500).collect()),
    };
    let message = format!("{status}: {msg}");
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT {
        Err(UplinkError::Transient(message))
    } else {
        Err(UplinkError::Rejected { code, message })
    }
}

impl Uplink {
    pub fn new(server: &str) -> Result<Uplink, UplinkError> {
        let base = Url::parse(server)
            .map_err(|e| UplinkError::local("uplink.bad_server_url", format!("server URL `{server}`: {e}")))?;
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(transport)?;
        Ok(Uplink { http, base })
    }

    fn url(&self, path: &str) -> Result<Url, UplinkError> {
        self.base.join(path).map_err(|e| UplinkError::local("uplink.bad_url", format!("bad URL {path}: {e}")))
    }

    /// Joins the exam and verifies the policy signature against `server_key` (base64 Ed25519).
    pub fn join(&self, req: &JoinRequest, server_key: &str) -> Result<SessionInfo, UplinkError> {
        let resp = check(self.http.post(self.url("/v1/sessions")?).json(req).send().map_err(transport)?)?;
        let joined: JoinResponse = resp
            .json()
            .map_err(|e| UplinkError::local("uplink.bad_answer", format!("unexpected answer to join: {e}")))?;
        joined.policy.verify(server_key)?;
        Ok(SessionInfo {
            server: self.base.to_string(),
            session_id: joined.session_id,
            token: joined.token,
            upload_url: self.url(&joined.upload_url)?.to_string(),
            policy_json: joined.policy.policy_json,
            exam_url: joined.exam_url,
        })
    }

    pub fn send_events(&self, s: &SessionInfo, events: Vec<WireEvent>) -> Result<u64, UplinkError> {
        let resp = self
            .http
            .post(self.url(&format!("/v1/sessions/{}/events", s.session_id))?)
            .bearer_auth(&s.token)
            .json(&EventBatch { events })
            .send()
            .map_err(transport)?;
        Ok(check(resp)?.json::<EventAck>().map_err(|e| UplinkError::Transient(e.to_string()))?.acked)
    }

    pub fn heartbeat(&self, s: &SessionInfo, hb: &Heartbeat) -> Result<Vec<Instruction>, UplinkError> {
        let resp = self
            .http
            .post(self.url(&format!("/v1/sessions/{}/heartbeat", s.session_id))?)
            .bearer_auth(&s.token)
            .json(hb)
            .send()
            .map_err(transport)?;
        Ok(check(resp)?.json::<HeartbeatResponse>().map_err(|e| UplinkError::Transient(e.to_string()))?.instructions)
    }

    pub fn finish(&self, s: &SessionInfo) -> Result<Receipt, UplinkError> {
        let resp = self
            .http
            .post(self.url(&format!("/v1/sessions/{}/finish", s.session_id))?)
            .bearer_auth(&s.token)
            .send()
            .map_err(transport)?;
        check(resp)?.json().map_err(|e| UplinkError::Transient(e.to_string()))
    }

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

    /// Reports a segment stored on an external tus server to the backend, which lists it in the
    /// receipt from then on.
    pub fn register_segment(&self, s: &SessionInfo, seg: &SegmentRecord, location: &Url) -> Result<(), UplinkError> {
        let body = SegmentRegistration {
            source: seg.source.clone(),
            sequence: seg.sequence,
            sha256: seg.sha256.clone(),
            bytes: seg.bytes,
            location: location.to_string(),
        };
        let resp = self
            .http
            .post(self.url(&format!("/v1/sessions/{}/segments", s.session_id))?)
            .bearer_auth(&s.token)
            .json(&body)
            .send()
            .map_err(transport)?;
        check(resp).map(|_| ())
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
        let mut data = Vec::with_capacity(seg.bytes as usize);
        std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut data)).map_err(io)?;
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let upload_base = Url::parse(&s.upload_url).map_err(|e| UplinkError::local("uplink.bad_url", e.to_string()))?;

        // Where to resume: the server's offset of a known upload, else a new upload.
        let mut resume = None;
        if let Some(loc) = location {
            let url = upload_base.join(&loc).map_err(|e| UplinkError::local("uplink.bad_url", e.to_string()))?;
            let resp = self.tus(self.http.head(url.clone()), s).send().map_err(transport)?;
            match resp.status() {
                StatusCode::OK | StatusCode::NO_CONTENT => {
                    let offset = resp
                        .headers()
                        .get("Upload-Offset")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    resume = offset.map(|o| (url, o));
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
                let meta = format!(
                    "session {},source {},sequence {},sha256 {},filename {}",
                    b64(&s.session_id),
                    b64(&seg.source),
                    b64(&seg.sequence.to_string()),
                    b64(&seg.sha256),
                    b64(&seg.file)
                );
                let resp = self
                    .tus(self.http.post(upload_base.clone()), s)
                    .header("Upload-Length", data.len().to_string())
                    .header("Upload-Metadata", meta)
                    .send()
                    .map_err(transport)?;
                let resp = check(resp)?;
                let loc = resp
                    .headers()
                    .get("Location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| UplinkError::local("tus.no_location", "tus server sent no Location"))?
                    .to_owned();
                remember(&loc)?;
                (upload_base.join(&loc).map_err(|e| UplinkError::local("uplink.bad_url", e.to_string()))?, 0)
            }
        };
        // Send in chunks so that an interruption costs at most one chunk.
        const CHUNK: usize = 256 * 1024;
        while (offset as usize) < data.len() {
            let end = (offset as usize + CHUNK).min(data.len());
            let resp = self
                .tus(self.http.patch(url.clone()), s)
                .header("Upload-Offset", offset.to_string())
                .header("Content-Type", "application/offset+octet-stream")
                .body(data[offset as usize..end].to_vec())
                .send()
                .map_err(transport)?;
            if resp.status() == StatusCode::CONFLICT {
                // Our idea of the offset is stale: ask again next round.
                return Err(UplinkError::Transient("upload offset conflict; resuming".into()));
            }
            let resp = check(resp)?;
            offset = resp
                .headers()
                .get("Upload-Offset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(end as u64);
        }
        Ok(url)
    }
}

/// Exponential backoff with jitter: 0.5 s, 1 s, 2 s, ... up to 30 s, each randomised by ±50 %.
pub fn backoff(attempt: u32) -> Duration {
    let base = (500u64 << attempt.min(6)).min(30_000);
    let jitter = jitter_fraction();
    Duration::from_millis((base as f64 * (0.5 + jitter)) as u64)
}

fn jitter_fraction() -> f64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    // A cheap hash of the clock's nanoseconds: enough to spread clients apart.
    (nanos.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0
}

/// What one pass of [`drain`] achieved.
#[derive(Debug, Default, Clone, Copy)]
pub struct DrainReport {
    pub segments_sent: usize,
    pub segments_left: usize,
    pub events_acked: u64,
    pub events_left: u64,
}

/// Sends every finished segment and every event the spool holds. Stops at the first error.
pub fn drain(up: &Uplink, spool: &Spool, s: &SessionInfo) -> Result<DrainReport, UplinkError> {
    let mut report = DrainReport::default();
    let acked_key = "events_acked";
    let mut acked: u64 = spool.get(acked_key)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    loop {
        let batch = spool.events_after(acked, 500)?;
        if batch.is_empty() {
            break;
        }
        let new_ack = up.send_events(s, batch)?;
        if new_ack <= acked {
            break; // the server is missing an earlier one; the next pass re-sends from `acked`
        }
        acked = new_ack;
        spool.set(acked_key, &acked.to_string())?;
    }
    report.events_acked = acked;
    report.events_left = spool.last_event_seq()?.saturating_sub(acked);

    let pending = spool.pending_uploads()?;
    report.segments_left = pending.len();
    for (seg, location) in pending {
        let remember = |loc: &str| spool.set_upload_location(&seg.file, Some(loc)).map_err(UplinkError::from);
        let url = up.upload(s, &spool.segments_dir(), &seg, location, &remember)?;
        if !up.uploads_here(s) {
            up.register_segment(s, &seg, &url)?;
        }
        spool.mark_uploaded(&seg.file)?;
        report.segments_sent += 1;
        report.segments_left -= 1;
    }
    Ok(report)
}

/// Checks a receipt against the spool: every local segment is listed with its hash, and every
/// event was acknowledged. Returns what is missing, if anything.
pub fn verify_receipt(spool: &Spool, receipt: &Receipt) -> Result<Vec<String>, SpoolError> {
    let mut missing = Vec::new();
    for seg in spool.segments()? {
        let held = receipt
            .segments
            .iter()
            .any(|r| r.source == seg.source && r.sequence == seg.sequence && r.sha256 == seg.sha256);
        if !held {
            missing.push(format!("segment {} ({})", seg.file, seg.sha256));
        }
    }
    let last = spool.last_event_seq()?;
    if receipt.last_event_seq < last {
        missing.push(format!("events {}..={last}", receipt.last_event_seq + 1));
    }
    Ok(missing)
}

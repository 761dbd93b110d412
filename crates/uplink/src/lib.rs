//! Vigil's uplink: everything between the spool and the backend. It joins (or resumes) a session,
//! verifies what the server signed (the policy, and the join grant that binds the exam code,
//! session, policy hash, exam and upload URLs and the server's origin) against the provisioned
//! server key, uploads finished segments with tus 1.0 (resuming partly sent ones after any
//! interruption), sends events in batches bounded in bytes, heartbeats and passes on the
//! proctor's instructions. Network trouble is retried with exponential backoff and jitter, for as
//! long as it takes; nothing is deleted locally until the backend's signed receipt lists it with
//! the same hash. Knows nothing of cameras.
//!
//! Transport rules: `https://`, or `http://` to a loopback address only unless the caller allows
//! plain HTTP explicitly; no redirects are followed; every answer's size is capped.

mod drain;
mod tus;

pub use drain::{backlog, drain, verify_receipt, DrainReport, EVENT_BATCH_BYTES};

use reqwest::blocking::{Client, Response};
use reqwest::{StatusCode, Url};
use std::io::Read;
use std::time::Duration;
use vigil_core::protocol::*;
use vigil_spool::SpoolError;

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
    Signature(#[from] SignatureError),
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
    /// `policy.signature`, `uplink.io`, the spool's, or a local one (`uplink.insecure_http`,
    /// `join.grant_mismatch`, `join.unsigned`, `receipt.wrong_session`, `uplink.answer_too_large`).
    pub fn code(&self) -> &str {
        match self {
            UplinkError::Transient(_) => "uplink.unreachable",
            UplinkError::Rejected { code, .. } => code,
            UplinkError::Signature(_) => "policy.signature",
            UplinkError::Spool(e) => e.code(),
            UplinkError::Io { .. } => "uplink.io",
        }
    }

    fn local(code: &str, message: impl Into<String>) -> UplinkError {
        UplinkError::Rejected { code: code.to_owned(), message: message.into() }
    }
}

/// A joined session, as kept in the spool so that a restart resumes it. Everything in it that
/// the server decided is covered by `policy_signature` and `grant`, checked again on every resume
/// ([`SessionInfo::verify`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    pub server: String,
    pub session_id: String,
    /// The session's bearer token; emptied once the receipt is verified.
    pub token: String,
    /// Absolute tus creation URL.
    pub upload_url: String,
    pub policy_json: String,
    pub exam_url: Option<String>,
    /// The exam code the candidate asked for (empty in spools of 0.1).
    #[serde(default)]
    pub exam_code: String,
    /// The policy's signature (empty in spools of 0.1).
    #[serde(default)]
    pub policy_signature: String,
    /// The server's signed join grant (absent in spools of 0.1).
    #[serde(default)]
    pub grant: Option<SignedJson>,
}

impl SessionInfo {
    /// Checks everything the server decided against `server_key`: the policy's signature, and
    /// that the signed grant names this exam code, session, policy, exam URL, upload URL and the
    /// server this client addressed. Returns the grant.
    pub fn verify(&self, server_key: &str) -> Result<JoinGrant, UplinkError> {
        SignedPolicy { policy_json: self.policy_json.clone(), signature: self.policy_signature.clone() }
            .verify(server_key)?;
        let signed = self.grant.as_ref().ok_or_else(|| {
            UplinkError::local("join.unsigned", "the server's answer carries no signed grant: refusing it")
        })?;
        let grant: JoinGrant = signed.open(SignedKind::Join, server_key)?;
        let server = Url::parse(&self.server).map_err(|e| UplinkError::local("uplink.bad_url", e.to_string()))?;
        let upload = server
            .join(&grant.upload_url)
            .map_err(|e| UplinkError::local("uplink.bad_url", format!("signed upload URL: {e}")))?;
        let checks = [
            ("exam code", grant.exam_code == self.exam_code, &grant.exam_code, &self.exam_code),
            ("session", grant.session_id == self.session_id, &grant.session_id, &self.session_id),
            ("server", grant.origin == server.origin().ascii_serialization(), &grant.origin, &self.server),
            ("upload URL", upload.as_str() == self.upload_url, &grant.upload_url, &self.upload_url),
        ];
        for (what, ok, signed, got) in checks {
            if !ok {
                return Err(mismatch(what, signed, got));
            }
        }
        let policy_sha256 = vigil_spool::sha256_hex(self.policy_json.as_bytes());
        if grant.policy_sha256 != policy_sha256 {
            return Err(mismatch("policy", &grant.policy_sha256, &policy_sha256));
        }
        if grant.exam_url != self.exam_url {
            return Err(mismatch(
                "exam page",
                grant.exam_url.as_deref().unwrap_or("none"),
                self.exam_url.as_deref().unwrap_or("none"),
            ));
        }
        Ok(grant)
    }
}

fn mismatch(what: &str, signed: &str, got: &str) -> UplinkError {
    UplinkError::local(
        "join.grant_mismatch",
        format!("the server signed {what} `{signed:.200}`, but the session says `{got:.200}`: refusing it"),
    )
}

/// `https://` always; `http://` only to loopback, unless `insecure_http`.
pub fn check_transport(url: &Url, insecure_http: bool) -> Result<(), UplinkError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if insecure_http || vigil_core::is_loopback(url) => Ok(()),
        "http" => Err(UplinkError::local(
            "uplink.insecure_http",
            format!(
                "{url} is plain HTTP to another machine: recordings and tokens would travel unencrypted; use https:// \
                 (or allow it explicitly with --insecure-http for a test network)"
            ),
        )),
        other => Err(UplinkError::local("uplink.bad_server_url", format!("unsupported scheme `{other}` in {url}"))),
    }
}

/// Largest answer read from the server (a receipt of a long session is well under it).
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;
/// Largest error answer read.
const MAX_ERROR_BYTES: u64 = 64 * 1024;

/// HTTP client for one backend (cheap to clone: the connection pool is shared).
#[derive(Clone)]
pub struct Uplink {
    http: Client,
    base: Url,
    insecure_http: bool,
}

fn transport(e: reqwest::Error) -> UplinkError {
    UplinkError::Transient(vigil_core::error_chain(&e))
}

/// At most `cap` bytes of an answer; an answer over it is an error, never cut silently.
fn read_capped(resp: Response, cap: u64) -> Result<Vec<u8>, UplinkError> {
    let mut body = Vec::new();
    resp.take(cap + 1).read_to_end(&mut body).map_err(|e| UplinkError::Transient(e.to_string()))?;
    if body.len() as u64 > cap {
        return Err(UplinkError::local("uplink.answer_too_large", format!("the server's answer is over {cap} bytes")));
    }
    Ok(body)
}

fn read_json<T: serde::de::DeserializeOwned>(resp: Response, what: &str) -> Result<T, UplinkError> {
    let body = read_capped(resp, MAX_ANSWER_BYTES)?;
    serde_json::from_slice(&body)
        .map_err(|e| UplinkError::local("uplink.bad_answer", format!("unexpected answer to {what}: {e}")))
}

/// Turns a non-success answer into an error, reading the server's `{"error": ...}`.
fn check(resp: Response) -> Result<Response, UplinkError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    if status.is_redirection() {
        let to = resp.headers().get("Location").and_then(|v| v.to_str().ok()).unwrap_or("?").to_owned();
        return Err(UplinkError::local(
            "uplink.redirect",
            format!("the server redirects to {to:.200}; Vigil follows no redirects: use the final address"),
        ));
    }
    let body = read_capped(resp, MAX_ERROR_BYTES).unwrap_or_default();
    let (code, msg) = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(b) => (b.error.code, b.error.message),
        // Not our server's shape (a proxy, a foreign tus server): the status is all we know.
        Err(_) => (format!("http.{}", status.as_u16()), String::from_utf8_lossy(&body).chars().take(500).collect()),
    };
    let message = format!("{status}: {msg}");
    // Too many wrong exam codes: waiting will not make the code right.
    if code == "join.rate_limited" {
        return Err(UplinkError::Rejected { code, message });
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT {
        Err(UplinkError::Transient(message))
    } else {
        Err(UplinkError::Rejected { code, message })
    }
}

impl Uplink {
    /// A client for `server`; plain HTTP to another machine only with `insecure_http`.
    pub fn new(server: &str, insecure_http: bool) -> Result<Uplink, UplinkError> {
        let base = Url::parse(server)
            .map_err(|e| UplinkError::local("uplink.bad_server_url", format!("server URL `{server}`: {e}")))?;
        check_transport(&base, insecure_http)?;
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(transport)?;
        Ok(Uplink { http, base, insecure_http })
    }

    fn url(&self, path: &str) -> Result<Url, UplinkError> {
        self.base.join(path).map_err(|e| UplinkError::local("uplink.bad_url", format!("bad URL {path}: {e}")))
    }

    /// Who receives the recordings, as the server signs it: verified against `server_key`, and
    /// naming the server this client addressed; with `exam`, also what that exam derives on the
    /// device. Sends nothing about the candidate.
    pub fn server_info(&self, server_key: &str, exam: Option<&str>) -> Result<ServerInfo, UplinkError> {
        let mut url = self.url("/v1/server-info")?;
        if let Some(code) = exam {
            url.query_pairs_mut().append_pair("exam", code);
        }
        let resp = check(self.http.get(url).send().map_err(transport)?)?;
        let signed: SignedJson = read_json(resp, "server-info")?;
        let info: ServerInfo = signed.open(SignedKind::ServerInfo, server_key)?;
        if info.origin != self.base.origin().ascii_serialization() {
            return Err(mismatch("server", &info.origin, self.base.as_str()));
        }
        let named = info.exam.as_ref().map(|e| e.exam_code.as_str());
        if let Some(code) = exam.filter(|c| named != Some(*c)) {
            return Err(mismatch("exam", named.unwrap_or(""), code));
        }
        Ok(info)
    }

    /// Joins the exam and verifies what the server signed against `server_key` (base64 Ed25519).
    pub fn join(&self, req: &JoinRequest, server_key: &str) -> Result<SessionInfo, UplinkError> {
        let resp = check(self.http.post(self.url("/v1/sessions")?).json(req).send().map_err(transport)?)?;
        let joined: JoinResponse = read_json(resp, "join")?;
        let upload_url = self.url(&joined.upload_url)?;
        check_transport(&upload_url, self.insecure_http)?;
        let info = SessionInfo {
            server: self.base.to_string(),
            session_id: joined.session_id,
            token: joined.token,
            upload_url: upload_url.to_string(),
            policy_json: joined.policy.policy_json,
            exam_url: joined.exam_url,
            exam_code: req.exam_code.clone(),
            policy_signature: joined.policy.signature,
            grant: Some(joined.grant),
        };
        info.verify(server_key)?;
        Ok(info)
    }

    pub fn send_events(&self, s: &SessionInfo, events: &[WireEvent]) -> Result<u64, UplinkError> {
        #[derive(serde::Serialize)]
        struct Batch<'a> {
            events: &'a [WireEvent],
        }
        let resp = self
            .http
            .post(self.url(&format!("/v1/sessions/{}/events", s.session_id))?)
            .bearer_auth(&s.token)
            .json(&Batch { events })
            .send()
            .map_err(transport)?;
        Ok(read_json::<EventAck>(check(resp)?, "events")?.acked)
    }

    pub fn heartbeat(&self, s: &SessionInfo, hb: &Heartbeat) -> Result<Vec<Instruction>, UplinkError> {
        let resp = self
            .http
            .post(self.url(&format!("/v1/sessions/{}/heartbeat", s.session_id))?)
            .bearer_auth(&s.token)
            .json(hb)
            .send()
            .map_err(transport)?;
        Ok(read_json::<HeartbeatResponse>(check(resp)?, "heartbeat")?.instructions)
    }

    /// Finishes the session and returns the receipt's signed body, verified against `server_key`
    /// and naming this session.
    pub fn finish(&self, s: &SessionInfo, server_key: &str) -> Result<ReceiptBody, UplinkError> {
        let resp = self
            .http
            .post(self.url(&format!("/v1/sessions/{}/finish", s.session_id))?)
            .bearer_auth(&s.token)
            .send()
            .map_err(transport)?;
        let receipt: Receipt = read_json(check(resp)?, "finish")?;
        let body = receipt.verify(server_key)?;
        if body.session_id != s.session_id {
            return Err(UplinkError::local(
                "receipt.wrong_session",
                format!("the signed receipt is for session {}, not {}", body.session_id, s.session_id),
            ));
        }
        Ok(body)
    }

    /// Reports a segment stored on an external tus server to the backend, which lists it in the
    /// receipt from then on.
    pub fn register_segment(
        &self,
        s: &SessionInfo,
        seg: &vigil_spool::SegmentRecord,
        location: &Url,
    ) -> Result<(), UplinkError> {
        let body = SegmentRegistration {
            source: seg.source.clone(),
            sequence: seg.sequence,
            sha256: seg.sha256.clone(),
            bytes: seg.bytes,
            location: location.to_string(),
            time: Some(tus::segment_time(seg)),
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

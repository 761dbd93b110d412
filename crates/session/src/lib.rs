//! A proctored session from join to receipt, shared by `vigil run --headless` and the desktop app
//! (which adds windows, not logic):
//!
//! 1. [`Session::open`] joins the exam (or resumes the unfinished session the spool holds), with
//!    the candidate's consent, and verifies the policy's signature;
//! 2. [`Session::add_photo`] files identity photos, encrypted like every segment;
//! 3. [`Session::start`] records (the media pipeline) while an upload thread sends the backlog,
//!    heartbeats and collects proctor instructions; [`Running::status`] is what a status bar shows;
//! 4. [`Session::deliver`] sends what is left, finishes, checks the receipt against the spool and
//!    only then deletes local copies.
//!
//! The spool (SQLite + segment files) is the only hand-off between capture and uplink.

mod retry;
mod running;

pub use retry::retry;
pub use running::{LiveStatus, Running};
pub use vigil_uplink::UplinkError;

use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vigil_core::protocol::{Candidate, Consent, JoinRequest, Receipt};
use vigil_core::spool::{SegmentRecord, Spool, SpoolError};
use vigil_core::ExamPolicy;
use vigil_uplink::{drain, verify_receipt, SessionInfo, Uplink};

const SESSION_KEY: &str = "session";
const RECEIPT_KEY: &str = "receipt";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("nothing is recorded without the candidate's consent")]
    NoConsent,
    #[error(transparent)]
    Uplink(#[from] UplinkError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("the exam policy from the server is invalid: {0}")]
    Policy(String),
    #[error("{0}")]
    Photo(String),
    #[error("cannot record: {0}")]
    Record(#[from] vigil_capture::recorder::RecordError),
    #[error("not everything reached the server yet ({0}); nothing is lost: the next attempt resumes")]
    NotDelivered(String),
    #[error("{what} in {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

/// Where Vigil keeps its data: the flag, else `VIGIL_DATA_DIR`, else the platform's data directory.
pub fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("VIGIL_DATA_DIR").map(PathBuf::from))
        .or_else(|| directories::ProjectDirs::from("org", "Vigil", "vigil").map(|d| d.data_dir().to_path_buf()))
        .unwrap_or_else(|| PathBuf::from(".vigil"))
}

/// What joining needs.
#[derive(Debug, Clone)]
pub struct JoinParams {
    /// Backend base URL, e.g. `http://127.0.0.1:8470`.
    pub server: String,
    /// The backend's Ed25519 public key (base64) the policy signature must match.
    pub server_key: String,
    pub exam_code: String,
    pub name: String,
    /// Vigil's data directory (the spool lives in `DIR/spool`).
    pub data_dir: PathBuf,
    /// The candidate accepted the data inventory.
    pub consent: bool,
    /// How long to keep trying to reach the server before giving up on joining.
    pub join_timeout: Duration,
}

/// A joined (or resumed) session with its spool.
pub struct Session {
    pub info: SessionInfo,
    pub policy: ExamPolicy,
    pub spool: Arc<Spool>,
    /// True when an unfinished session was found in the spool and resumed.
    pub resumed: bool,
    up: Uplink,
}

/// What [`Session::deliver`] reports while it works.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Progress {
    pub segments_total: usize,
    pub segments_left: usize,
    pub events_left: u64,
}

/// A confirmed session: the receipt, checked against the spool, and local media deleted.
#[derive(Debug, Clone, Serialize)]
pub struct Delivered {
    pub session_id: String,
    pub finished_at: String,
    pub segments: usize,
    pub bytes: u64,
    pub events: u64,
    pub last_event_seq: u64,
    pub hashes: Vec<serde_json::Value>,
    pub local_copies_deleted: bool,
}

impl Session {
    /// Joins the exam, or resumes the unfinished session in `params.data_dir` (its backlog is
    /// sent first). A spool whose last session was confirmed is cleared first.
    pub fn open(params: &JoinParams) -> Result<Session, SessionError> {
        if !params.consent {
            return Err(SessionError::NoConsent);
        }
        let dir = params.data_dir.join("spool");
        let mut spool = Spool::open(&dir)?;
        if spool.get(RECEIPT_KEY)?.is_some() {
            drop(spool);
            std::fs::remove_dir_all(&dir).map_err(|source| SessionError::Io {
                what: "clearing the last finished session",
                path: dir.clone(),
                source,
            })?;
            spool = Spool::open(&dir)?;
        }
        let up = Uplink::new(&params.server)?;
        let (info, resumed) = match spool.get(SESSION_KEY)? {
            Some(saved) => {
                let info: SessionInfo = serde_json::from_str(&saved)
                    .map_err(|e| SessionError::Policy(format!("the saved session is unreadable: {e}")))?;
                spool.add_event("session.resumed", json!({}))?;
                (info, true)
            }
            None => {
                // Kept before joining, so that a lost answer does not create a second session.
                let client_key = match spool.get("client_key")? {
                    Some(k) => k,
                    None => {
                        let k = vigil_core::spool::random_key();
                        spool.set("client_key", &k)?;
                        k
                    }
                };
                let req = JoinRequest {
                    exam_code: params.exam_code.trim().to_owned(),
                    candidate: Candidate { name: params.name.trim().to_owned() },
                    consent: Consent { accepted: true, at: vigil_core::time::now_rfc3339(), inventory_version: 1 },
                    device: device_facts(),
                    client_key: Some(client_key),
                };
                let info = retry("joining the exam", params.join_timeout, || up.join(&req, &params.server_key))?;
                spool.set(SESSION_KEY, &serde_json::to_string(&info).unwrap_or_default())?;
                spool.add_event("session.joined", json!({"exam_code": req.exam_code}))?;
                (info, false)
            }
        };
        let policy = ExamPolicy::parse(&info.policy_json, vigil_core::policy::Format::Json)
            .map_err(|e| SessionError::Policy(vigil_core::error_chain(&e)))?;
        Ok(Session { info, policy, spool: Arc::new(spool), resumed, up })
    }

    /// Files an identity photo (`kind`: `face` or `id`) as a one-picture segment, encrypted to
    /// the exam's recipient like every segment. A retake files a newer one.
    pub fn add_photo(&self, kind: &str, jpeg: &[u8]) -> Result<(), SessionError> {
        let source = format!("identity-{kind}");
        if !vigil_core::spool::is_valid_source(&source) || !jpeg.starts_with(&[0xFF, 0xD8]) {
            return Err(SessionError::Photo(format!("not a JPEG photo of kind `{kind}`")));
        }
        let recipient = self
            .policy
            .encrypt_to
            .as_deref()
            .ok_or_else(|| SessionError::Policy("the exam policy names no encryption recipient".into()))?;
        let recipient =
            vigil_core::seal::parse_recipient(recipient).map_err(|e| SessionError::Policy(e.to_string()))?;
        let sealed = vigil_core::seal::seal_bytes(jpeg, &recipient)
            .map_err(|e| SessionError::Photo(format!("cannot encrypt the photo: {e}")))?;
        let sequence = self.spool.next_sequence(&source)?;
        let file = format!("{source}-{sequence:06}.jpg.age");
        let path = self.spool.segments_dir().join(&file);
        write_durably(&path, &sealed).map_err(|source| SessionError::Io {
            what: "saving the photo",
            path: path.clone(),
            source,
        })?;
        self.spool.add_segment(&SegmentRecord {
            source: source.clone(),
            sequence,
            file,
            started_at: vigil_core::time::now_rfc3339(),
            start_ms: 0,
            duration_ms: 0,
            video_frames: 1,
            audio_frames: 0,
            width: 0,
            height: 0,
            bytes: sealed.len() as u64,
            sha256: vigil_core::spool::sha256_hex(&sealed),
            recovered: false,
        })?;
        self.spool.add_event("identity.photo", json!({"kind": kind, "sequence": sequence}))?;
        Ok(())
    }

    /// Starts recording with `options` (encrypted to the exam's recipient) and uploading.
    pub fn start(
        &self,
        mut options: vigil_capture::RecordOptions,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) -> Running {
        options.encrypt_to = self.policy.encrypt_to.clone();
        Running::start(self.spool.clone(), self.info.clone(), &self.policy, options, stop)
    }

    /// Sends what is left (reporting progress), finishes the session, checks the receipt against
    /// the spool and deletes local media. Gives up after `timeout` with nothing lost.
    pub fn deliver(&self, timeout: Duration, progress: &dyn Fn(Progress)) -> Result<Delivered, SessionError> {
        let total = self.spool.pending_uploads()?.len();
        progress(Progress { segments_total: total, segments_left: total, events_left: 0 });
        retry("sending the backlog", timeout, || {
            let r = drain(&self.up, &self.spool, &self.info)?;
            progress(Progress { segments_total: total, segments_left: r.segments_left, events_left: r.events_left });
            if r.segments_left > 0 || r.events_left > 0 {
                return Err(UplinkError::Transient(format!(
                    "{} segments and {} events left",
                    r.segments_left, r.events_left
                )));
            }
            Ok(())
        })
        .map_err(|e| SessionError::NotDelivered(e.to_string()))?;
        let receipt: Receipt = retry("finishing the session", timeout, || self.up.finish(&self.info))
            .map_err(|e| SessionError::NotDelivered(e.to_string()))?;
        let missing = verify_receipt(&self.spool, &receipt)?;
        if !missing.is_empty() {
            return Err(SessionError::NotDelivered(format!("the server's receipt is missing {}", missing.join(", "))));
        }
        for seg in self.spool.segments()? {
            let _ = std::fs::remove_file(self.spool.segments_dir().join(&seg.file));
        }
        self.spool.set(RECEIPT_KEY, &serde_json::to_string(&receipt).unwrap_or_default())?;
        Ok(Delivered {
            session_id: receipt.session_id,
            finished_at: receipt.finished_at,
            segments: receipt.segments.len(),
            bytes: receipt.segments.iter().map(|s| s.bytes).sum(),
            events: receipt.events,
            last_event_seq: receipt.last_event_seq,
            hashes: receipt
                .segments
                .iter()
                .map(|s| json!({"source": s.source, "sequence": s.sequence, "sha256": s.sha256}))
                .collect(),
            local_copies_deleted: true,
        })
    }
}

/// Writes a file atomically: temporary file, fsync, rename, directory fsync.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Device facts for the join request (from the data inventory).
pub fn device_facts() -> serde_json::Value {
    let s = vigil_watch::system::facts(Path::new("/"));
    let monitors = vigil_watch::displays::from_xcap();
    json!({
        "os": format!("{} {}", s.os, s.os_version), "kernel": s.kernel, "cpu": s.cpu_brand, "cores": s.cpu_logical_cores,
        "memory_mib": s.memory_total_mib, "local_ips": s.local_ips,
        "monitors": monitors.monitors,
    })
}

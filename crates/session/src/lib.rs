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
use vigil_core::apps::Os;
use vigil_core::event::{Event, EventKind};
use vigil_core::protocol::{Candidate, Consent, JoinRequest, ServerInfo};
use vigil_core::{CompiledPolicy, ExamPolicy, PolicyError, StopToken};
use vigil_spool::{Spool, SpoolError, Timeline};
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
    Policy(#[from] PolicyError),
    #[error("the saved session in the spool is unreadable: {0}")]
    SavedSession(String),
    #[error("refusing to resume the saved session: {0}")]
    SavedSessionRefused(UplinkError),
    #[error("the server's receipt cannot be trusted ({0}); local copies are kept")]
    Receipt(UplinkError),
    #[error("not a JPEG photo of kind `{0}`")]
    Photo(String),
    #[error("the exam policy names no encryption recipient")]
    NoRecipient,
    #[error("cannot encrypt: {0}")]
    Seal(#[from] vigil_spool::seal::SealError),
    #[error("cannot record: {0}")]
    Record(#[from] vigil_capture::RecordError),
    #[error("not everything reached the server yet ({0}); nothing is lost: the next attempt resumes")]
    NotDelivered(String),
    #[error("{what} in {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

impl SessionError {
    /// A stable machine code. From the server or the uplink: theirs (`exam.unknown_code`,
    /// `uplink.unreachable`, `policy.signature`, ...); from the spool: `spool.*`; and
    /// `session.no_consent`, `policy.invalid`, `session.saved_unreadable`, `session.saved_refused`
    /// (the saved session fails the signature check), `receipt.untrusted`, `photo.invalid`,
    /// `policy.no_recipient`, `seal.*`, `record.*`, `session.not_delivered`, `session.io`.
    pub fn code(&self) -> &str {
        match self {
            SessionError::NoConsent => "session.no_consent",
            SessionError::Uplink(e) => e.code(),
            SessionError::Spool(e) => e.code(),
            SessionError::Policy(_) => "policy.invalid",
            SessionError::SavedSession(_) => "session.saved_unreadable",
            SessionError::SavedSessionRefused(_) => "session.saved_refused",
            SessionError::Receipt(_) => "receipt.untrusted",
            SessionError::Photo(_) => "photo.invalid",
            SessionError::NoRecipient => "policy.no_recipient",
            SessionError::Seal(e) => e.code(),
            SessionError::Record(e) => e.code(),
            SessionError::NotDelivered(_) => "session.not_delivered",
            SessionError::Io { .. } => "session.io",
        }
    }
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
    /// Allow plain `http://` to a server that is not on this machine (test networks only).
    pub insecure_http: bool,
}

/// A joined (or resumed) session with its spool and timeline.
pub struct Session {
    pub info: SessionInfo,
    /// The exam's policy, compiled once: application matcher, URL rules, recipient.
    pub policy: Arc<CompiledPolicy>,
    pub spool: Arc<Spool>,
    /// Every event of this session goes through here.
    pub timeline: Arc<Timeline>,
    /// True when an unfinished session was found in the spool and resumed.
    pub resumed: bool,
    up: Uplink,
    /// The provisioned key everything the server signs is checked against.
    server_key: String,
    /// Speech flags for this candidate, or none (turned off by the policy or the accommodation).
    speech: Option<vigil_analysis::SpeechOptions>,
    /// What the candidate's consent screen listed as derived on the device, when it listed it.
    consented: Option<vigil_core::protocol::ExamInventory>,
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
        let up = Uplink::new(&params.server, params.insecure_http)?;
        let spool = Arc::new(spool);
        let timeline = Arc::new(Timeline::new(spool.clone()));
        // Kept before joining, so that a lost answer does not create a second session.
        let client_key = match spool.get("client_key")? {
            Some(k) => k,
            None => {
                let k = vigil_spool::random_key();
                spool.set("client_key", &k)?;
                k
            }
        };
        let join = |req_key: String| {
            let req = JoinRequest {
                exam_code: params.exam_code.trim().to_owned(),
                candidate: Candidate { name: params.name.trim().to_owned() },
                consent: Consent { accepted: true, at: vigil_core::time::now_rfc3339(), inventory_version: 1 },
                device: device_facts(),
                client_key: Some(req_key),
            };
            retry("joining the exam", params.join_timeout, || up.join(&req, &params.server_key))
        };
        let (info, resumed) = match spool.get(SESSION_KEY)? {
            Some(saved) => {
                let mut info: SessionInfo =
                    serde_json::from_str(&saved).map_err(|e| SessionError::SavedSession(e.to_string()))?;
                if info.grant.is_none() {
                    // Saved by 0.1, before joins were signed: the same client joining again gets
                    // the same session, now with a signed grant.
                    let again = join(client_key)?;
                    if again.session_id != info.session_id {
                        return Err(SessionError::SavedSession(format!(
                            "the server no longer knows session {}; nothing was deleted from {}",
                            info.session_id,
                            dir.display()
                        )));
                    }
                    spool.set(SESSION_KEY, &serde_json::to_string(&again).unwrap_or_default())?;
                    info = again;
                }
                // Whatever the spool says, the provisioned key must have signed it.
                info.verify(&params.server_key).map_err(SessionError::SavedSessionRefused)?;
                timeline.try_record(&Event::new(EventKind::SessionResumed, json!({})))?;
                (info, true)
            }
            None => {
                let info = join(client_key)?;
                spool.set(SESSION_KEY, &serde_json::to_string(&info).unwrap_or_default())?;
                timeline.try_record(&Event::new(EventKind::SessionJoined, json!({"exam_code": info.exam_code})))?;
                (info, false)
            }
        };
        // Compiled once, before anything is captured: a policy that does not compile stops here.
        let policy = ExamPolicy::parse(&info.policy_json, vigil_core::policy::Format::Json)?;
        // Speech flags as the policy and this candidate's accommodation ask (computed at all?).
        let speech = vigil_analysis::SpeechOptions::for_candidate(&policy, &params.name);
        let accommodations = &policy.accommodations;
        if !resumed && accommodations.screen_reader_for(&params.name) {
            // On the timeline, so that the analysis and the reviewer both see it.
            timeline.try_record(&Event::new(
                EventKind::AccommodationApplied,
                json!({"screen_reader": true, "speech_flags": accommodations.speech_flags.as_str()}),
            ))?;
        }
        let policy = Arc::new(CompiledPolicy::compile(policy, Os::current(), info.exam_url.as_deref())?);
        if let Some(recipient) = policy.recipient.as_deref() {
            seal_plain_segments(&spool, recipient)?;
        }
        Ok(Session {
            info,
            policy,
            spool,
            timeline,
            resumed,
            up,
            server_key: params.server_key.clone(),
            speech,
            consented: None,
        })
    }

    /// Holds the session to what the candidate's consent screen listed as derived on the device
    /// (the server's signed inventory of the exam): a flag the exam's policy turns on but the
    /// screen did not list is not computed.
    pub fn limit_to_consent(&mut self, consented: vigil_core::protocol::ExamInventory) {
        self.consented = Some(consented);
    }

    /// Files an identity photo (`kind`: `face` or `id`) as a one-picture segment, encrypted to
    /// the exam's recipient like every segment. A retake files a newer one.
    pub fn add_photo(&self, kind: &str, jpeg: &[u8]) -> Result<(), SessionError> {
        let source = format!("identity-{kind}");
        if !vigil_spool::is_valid_source(&source) || !jpeg.starts_with(&[0xFF, 0xD8]) {
            return Err(SessionError::Photo(kind.to_owned()));
        }
        let recipient = self.policy.recipient.as_deref().ok_or(SessionError::NoRecipient)?;
        let sealed = vigil_spool::seal::seal_bytes(jpeg, recipient)?;
        let sequence = self.spool.add_picture(&source, &sealed, true)?;
        self.timeline.try_record(&Event::new(EventKind::IdentityPhoto, json!({"kind": kind, "sequence": sequence})))?;
        Ok(())
    }

    /// Starts recording with `options` (encrypted to the exam's recipient) and uploading.
    /// `stop` ends recording (a timer, Ctrl-C, the end of the exam); the proctor's `terminate`
    /// stops it too.
    pub fn start(&self, mut options: vigil_capture::RecordOptions, stop: StopToken) -> Running {
        options.encrypt_to = self.policy.recipient.clone();
        // The flags the exam's policy asks for (none if every one is off) and the consent screen
        // listed: nothing else is computed.
        let listed = |flag: &str| self.consented.as_ref().is_none_or(|c| c.flags.iter().any(|f| f == flag));
        let mut analysis = vigil_analysis::vision::VisionOptions::from_policy(&self.policy.policy.analysis);
        analysis.face_missing &= listed("face.missing");
        analysis.face_multiple &= listed("face.multiple");
        analysis.face_turned &= listed("face.turned");
        analysis.camera_covered &= listed("camera.covered");
        analysis.camera_frozen &= listed("camera.frozen");
        analysis.pictures &= self.consented.as_ref().is_none_or(|c| c.evidence_pictures);
        options.analysis = analysis.any().then_some(analysis);
        options.speech = self.speech.filter(|_| listed("speech"));
        Running::start(self.timeline.clone(), self.info.clone(), &self.policy, options, stop, self.up.clone())
    }

    /// Sends what is left (reporting progress), finishes the session, checks the receipt against
    /// the spool and deletes local media. Gives up after `timeout` with nothing lost.
    pub fn deliver(&self, timeout: Duration, progress: &dyn Fn(Progress)) -> Result<Delivered, SessionError> {
        let total = self.spool.pending_uploads()?.len();
        progress(Progress { segments_total: total, segments_left: total, events_left: 0 });
        retry("sending the backlog", timeout, || {
            let r = drain(&self.up, &self.timeline, &self.info)?;
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
        let receipt = retry("finishing the session", timeout, || self.up.finish(&self.info, &self.server_key))
            .map_err(|e| {
                if e.is_transient() {
                    SessionError::NotDelivered(e.to_string())
                } else {
                    SessionError::Receipt(e)
                }
            })?;
        let missing = verify_receipt(&self.spool, &receipt)?;
        if !missing.is_empty() {
            return Err(SessionError::NotDelivered(format!("the server's receipt is missing {}", missing.join(", "))));
        }
        let aside = self.spool.set_aside_files()?;
        for seg in self.spool.segments()? {
            if !aside.contains(&seg.file) {
                let _ = std::fs::remove_file(self.spool.segments_dir().join(&seg.file));
            }
        }
        self.spool.set(RECEIPT_KEY, &serde_json::to_string(&receipt).unwrap_or_default())?;
        // The token is of no more use to anyone.
        let spent = SessionInfo { token: String::new(), ..self.info.clone() };
        self.spool.set(SESSION_KEY, &serde_json::to_string(&spent).unwrap_or_default())?;
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

/// Who will receive the recordings (the server's origin and organiser, signed with the server's
/// key) and, with `exam`, what that exam derives on the device, for the consent screen: one
/// request that sends nothing about the candidate.
pub fn receiver(
    server: &str,
    server_key: &str,
    exam: Option<&str>,
    insecure_http: bool,
) -> Result<ServerInfo, SessionError> {
    Ok(Uplink::new(server, insecure_http)?.server_info(server_key, exam)?)
}

/// Seals finished segments that are still in plaintext (recorded by 0.1, before segments were
/// encrypted) to the exam's recipient, so that they are delivered like every other: the server
/// refuses unencrypted media. The plaintext is deleted once the sealed copy is recorded.
fn seal_plain_segments(spool: &Spool, recipient: &age::x25519::Recipient) -> Result<(), SessionError> {
    for (seg, _) in spool.pending_uploads()? {
        let plain = spool.segments_dir().join(&seg.file);
        if !plain.exists() || vigil_spool::seal::file_is_sealed(&plain) {
            continue;
        }
        let file = format!("{}.age", seg.file);
        let sealed = spool.segments_dir().join(&file);
        vigil_spool::seal::seal_file(&plain, &sealed, recipient)?;
        let sha256 = vigil_spool::sha256_file(&sealed).map_err(|source| SessionError::Io {
            what: "hashing a sealed segment",
            path: sealed.clone(),
            source,
        })?;
        let bytes = std::fs::metadata(&sealed).map(|m| m.len()).unwrap_or(0);
        spool.replace_segment_file(&seg.file, &file, bytes, &sha256)?;
        let _ = std::fs::remove_file(&plain);
        tracing::info!(file = %seg.file, "an unencrypted segment from an older version was sealed before upload");
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

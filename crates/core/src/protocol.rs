//! The backend protocol's types, shared by the reference server and the uplink. The HTTP side is
//! documented in `openapi.yaml` at the repository root.

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// `POST /v1/sessions`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    pub exam_code: String,
    pub candidate: Candidate,
    pub consent: Consent,
    /// Device facts from the data inventory (OS, CPU, RAM, monitors, ...), as the check gathered them.
    #[serde(default)]
    pub device: serde_json::Value,
    /// A random key the client keeps with its spool: joining again with the same key (the answer
    /// was lost) returns the same session, with a fresh token, instead of a second session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Candidate {
    pub name: String,
}

/// What the candidate agreed to, and when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consent {
    pub accepted: bool,
    pub at: String,
    /// Version of the data inventory the candidate saw.
    pub inventory_version: u32,
}

/// The answer to a join: where and how to send everything.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinResponse {
    pub session_id: String,
    /// Bearer token for this session's requests. Never logged.
    pub token: String,
    pub policy: SignedPolicy,
    /// tus 1.0 creation endpoint for segments.
    pub upload_url: String,
    pub exam_url: Option<String>,
    /// A [`JoinGrant`] signed with the server's key: binds this answer to the exam code, the
    /// session, the policy, both URLs and the server's origin.
    pub grant: SignedJson,
}

/// An exam policy (JSON text) and its Ed25519 signature by the server's key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedPolicy {
    pub policy_json: String,
    /// Base64 of the 64-byte signature over the bytes of `policy_json`.
    pub signature: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignatureError {
    #[error("the signature is not valid base64 or not 64 bytes, or the signed document is unreadable")]
    Malformed,
    #[error("the server key is not a valid Ed25519 public key (32 bytes, base64)")]
    BadKey,
    #[error("the signature does not match the provisioned server key: refusing what the server sent")]
    Mismatch,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl SignedPolicy {
    pub fn sign(policy_json: String, key: &SigningKey) -> SignedPolicy {
        let signature = b64().encode(key.sign(policy_json.as_bytes()).to_bytes());
        SignedPolicy { policy_json, signature }
    }

    /// Verifies the signature against `public_key` (base64 of 32 bytes).
    pub fn verify(&self, public_key: &str) -> Result<(), SignatureError> {
        verify_bytes(public_key, self.policy_json.as_bytes(), &self.signature)
    }
}

fn verify_bytes(public_key: &str, message: &[u8], signature: &str) -> Result<(), SignatureError> {
    let key_bytes: [u8; 32] =
        b64().decode(public_key.trim()).ok().and_then(|b| b.try_into().ok()).ok_or(SignatureError::BadKey)?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| SignatureError::BadKey)?;
    let sig_bytes: [u8; 64] =
        b64().decode(signature).ok().and_then(|b| b.try_into().ok()).ok_or(SignatureError::Malformed)?;
    key.verify(message, &Signature::from_bytes(&sig_bytes)).map_err(|_| SignatureError::Mismatch)
}

/// What a [`SignedJson`] document is; part of the signed bytes, so that a signature made for one
/// kind of document can never pass for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedKind {
    /// A [`JoinGrant`].
    Join,
    /// A [`ReceiptBody`].
    Receipt,
    /// A [`ServerInfo`].
    ServerInfo,
    /// A [`DeletionBody`].
    Deletion,
}

impl SignedKind {
    fn context(self) -> &'static [u8] {
        match self {
            SignedKind::Join => b"vigil-join-v1",
            SignedKind::Receipt => b"vigil-receipt-v1",
            SignedKind::ServerInfo => b"vigil-server-info-v1",
            SignedKind::Deletion => b"vigil-deletion-v1",
        }
    }
}

/// A JSON document exactly as the server wrote it, and its Ed25519 signature over
/// `context || 0x00 || json`, where `context` names the kind (`vigil-join-v1`, `vigil-receipt-v1`,
/// `vigil-server-info-v1`, `vigil-deletion-v1`). Verify the
/// text, then parse it: the signed bytes are the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedJson {
    pub json: String,
    /// Base64 of the 64-byte signature.
    pub signature: String,
}

impl SignedJson {
    pub fn sign<T: Serialize>(kind: SignedKind, value: &T, key: &SigningKey) -> SignedJson {
        let json = serde_json::to_string(value).expect("protocol documents serialize");
        let signature = b64().encode(key.sign(&signed_bytes(kind, &json)).to_bytes());
        SignedJson { json, signature }
    }

    /// Verifies the signature against `public_key` and parses the document.
    pub fn open<T: serde::de::DeserializeOwned>(
        &self,
        kind: SignedKind,
        public_key: &str,
    ) -> Result<T, SignatureError> {
        verify_bytes(public_key, &signed_bytes(kind, &self.json), &self.signature)?;
        serde_json::from_str(&self.json).map_err(|_| SignatureError::Malformed)
    }
}

fn signed_bytes(kind: SignedKind, json: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(json.len() + 20);
    m.extend_from_slice(kind.context());
    m.push(0);
    m.extend_from_slice(json.as_bytes());
    m
}

/// `GET /v1/server-info`, signed ([`SignedKind::ServerInfo`]): who receives the recordings, for
/// the consent screen, before anything is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The server's origin as the client addressed it.
    pub origin: String,
    /// The organisation that receives the recordings (`vigil-server serve --organiser`).
    pub organiser: Option<String>,
    pub issued_at: String,
    /// With `?exam=CODE` of an exam it holds: what that exam's policy derives on the device, for
    /// the consent screen (signed, so the client can hold the exam to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exam: Option<ExamInventory>,
}

/// What an exam's policy derives on the candidate's device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExamInventory {
    pub exam_code: String,
    /// The on-device flags it computes (`face.missing`, `speech`, ...).
    pub flags: Vec<String>,
    /// Whether a camera picture is filed as evidence at each camera flag's start.
    pub evidence_pictures: bool,
}

/// The signed part of a join answer: which exam and session this is, the policy's hash, where the
/// exam page and the uploads are, and which server said so. The client checks the exam code and
/// the origin against what it asked for, and the rest against the answer it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinGrant {
    pub exam_code: String,
    pub session_id: String,
    /// SHA-256 (hex) of the policy JSON's bytes.
    pub policy_sha256: String,
    pub exam_url: Option<String>,
    /// The tus creation URL as the answer gives it (relative to the origin, or absolute).
    pub upload_url: String,
    /// The server's origin as the client addressed it (`https://exam.example.org`).
    pub origin: String,
    /// The organisation receiving the recording, as the server's operator named it.
    #[serde(default)]
    pub organiser: Option<String>,
    pub issued_at: String,
}

/// Base64 of an Ed25519 public key, as servers print it and clients are provisioned with it.
pub fn public_key_base64(key: &SigningKey) -> String {
    b64().encode(key.verifying_key().to_bytes())
}

/// One timeline event on the wire (`schemas/event.v1.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireEvent {
    pub seq: u64,
    pub time: String,
    /// A documented kind (`crate::event::EventKind`) or an `x.` extension.
    pub kind: String,
    #[serde(default)]
    pub severity: crate::event::Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<crate::event::Interval>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    pub data: serde_json::Value,
}

/// A state that lasted, from the event that opened it to the one that closed it ("AnyDesk
/// running 14.8 s to 24.8 s"). `end` is `None` while it is still open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalSpan {
    pub id: String,
    /// The kind of the opening event (`app.prohibited.started`).
    pub kind: String,
    /// The highest severity of its events.
    pub severity: crate::event::Severity,
    pub start: String,
    pub start_seq: u64,
    pub end: Option<String>,
    pub end_seq: Option<u64>,
    /// The kind of the closing event (`app.prohibited.exited`).
    pub end_kind: Option<String>,
    /// The opening event's data.
    pub data: serde_json::Value,
}

/// The intervals the events open and close, in the order they started. An interval opened again
/// before it closed (the windows over the exam changed) keeps its start.
pub fn intervals(events: &[WireEvent]) -> Vec<IntervalSpan> {
    use crate::event::Phase;
    let mut spans: Vec<IntervalSpan> = Vec::new();
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in events {
        let Some(mark) = &e.interval else { continue };
        match (at.get(mark.id.as_str()), mark.phase) {
            (None, _) => {
                at.insert(&mark.id, spans.len());
                let closed = mark.phase == Phase::Close;
                spans.push(IntervalSpan {
                    id: mark.id.clone(),
                    kind: e.kind.clone(),
                    severity: e.severity,
                    start: e.time.clone(),
                    start_seq: e.seq,
                    end: closed.then(|| e.time.clone()),
                    end_seq: closed.then_some(e.seq),
                    end_kind: closed.then(|| e.kind.clone()),
                    data: e.data.clone(),
                });
            }
            (Some(&i), phase) => {
                let span = &mut spans[i];
                span.severity = span.severity.max(e.severity);
                if phase == Phase::Close && span.end.is_none() {
                    span.end = Some(e.time.clone());
                    span.end_seq = Some(e.seq);
                    span.end_kind = Some(e.kind.clone());
                }
            }
        }
    }
    spans
}

/// The largest event batch body the server takes (413 above): clients batch below it.
pub const MAX_EVENT_BATCH_BYTES: usize = 1024 * 1024;

/// `POST /v1/sessions/{id}/events`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBatch {
    pub events: Vec<WireEvent>,
}

/// The server holds every event up to and including `acked` (contiguous from 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventAck {
    pub acked: u64,
}

/// `POST /v1/sessions/{id}/heartbeat`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Heartbeat {
    pub backlog_segments: u64,
    pub backlog_events: u64,
}

/// What the proctor wants the client to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Instruction {
    Message { text: String },
    Warning { text: String },
    Pause,
    Terminate { reason: String },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub instructions: Vec<Instruction>,
}

/// One segment as the server holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptSegment {
    pub source: String,
    pub sequence: u64,
    pub sha256: String,
    pub bytes: u64,
}

/// `POST /v1/sessions/{id}/segments`: a segment the client stored on the external tus server the
/// backend named (`vigil-server serve --upload-endpoint`), reported once its last byte is in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRegistration {
    pub source: String,
    pub sequence: u64,
    pub sha256: String,
    pub bytes: u64,
    /// The upload's absolute URL on the external tus server.
    pub location: String,
    /// When the segment's media starts and how long it lasts (absent from 0.1 clients).
    #[serde(default, flatten)]
    pub time: Option<SegmentTime>,
}

/// When a segment's media starts and how long it lasts, as the recorder saw it. Sent with each
/// segment (tus `Upload-Metadata` keys `started_at`, `start_ms`, `duration_ms`, or in a
/// [`SegmentRegistration`]), so that a reviewer's player can put every track on one clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentTime {
    /// Wall-clock start, `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub started_at: String,
    /// Start on the recording's media timeline, in milliseconds.
    pub start_ms: u64,
    pub duration_ms: u64,
}

impl SegmentTime {
    /// Checked values from untrusted text: an RFC 3339 UTC time and numbers SQLite can hold.
    pub fn parse(started_at: &str, start_ms: &str, duration_ms: &str) -> Result<SegmentTime, String> {
        crate::time::parse_rfc3339_ms(started_at).ok_or("started_at must be YYYY-MM-DDTHH:MM:SS.mmmZ")?;
        let number = |name: &str, v: &str| -> Result<u64, String> {
            v.parse::<u64>().ok().filter(|n| *n <= i64::MAX as u64).ok_or(format!("{name} must be a whole number"))
        };
        Ok(SegmentTime {
            started_at: started_at.to_owned(),
            start_ms: number("start_ms", start_ms)?,
            duration_ms: number("duration_ms", duration_ms)?,
        })
    }

    /// The wall-clock start in milliseconds since the epoch.
    pub fn started_at_ms(&self) -> Option<i64> {
        crate::time::parse_rfc3339_ms(&self.started_at)
    }
}

/// What the server deleted of a session and why: the deletion log's entry, signed as a deletion
/// receipt (context `vigil-deletion-v1`). It keeps what proves what was held (hashes, counts),
/// never the candidate's name or media.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletionBody {
    pub session_id: String,
    pub exam_code: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub deleted_at: String,
    /// `retention` (the exam's retention period ran out) or `request` (an admin deleted it).
    pub reason: String,
    /// Who: `retention`, a reviewer's name or `admin-token`.
    pub by: String,
    pub segments: Vec<ReceiptSegment>,
    pub events: u64,
}

/// What the server holds for a finished session; signed as the receipt's `signed` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptBody {
    pub session_id: String,
    pub finished_at: String,
    pub segments: Vec<ReceiptSegment>,
    pub events: u64,
    pub last_event_seq: u64,
}

/// `POST /v1/sessions/{id}/finish`: everything the server holds for the session, and the same as
/// a [`SignedJson`] ([`SignedKind::Receipt`]) that the client verifies before deleting anything.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    #[serde(flatten)]
    pub body: ReceiptBody,
    pub signed: SignedJson,
}

impl Receipt {
    pub fn sign(body: ReceiptBody, key: &SigningKey) -> Receipt {
        let signed = SignedJson::sign(SignedKind::Receipt, &body, key);
        Receipt { body, signed }
    }

    /// The signed body, if the signature matches `public_key` (the readable copy is ignored).
    pub fn verify(&self, public_key: &str) -> Result<ReceiptBody, SignatureError> {
        self.signed.open(SignedKind::Receipt, public_key)
    }
}

/// Every error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable machine `code` (`exam.unknown_code`, `auth.wrong_token`, ...) and a
/// message for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// Whether a source's segments are single JPEG pictures (identity photos, flags' evidence from
/// the camera) rather than fMP4 video.
pub fn is_picture_source(source: &str) -> bool {
    source.starts_with("identity-") || source.starts_with("evidence-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_pair_open_and_close_by_id() {
        use crate::event::{Interval, Phase, Severity};
        let ev = |seq: u64, kind: &str, id: Option<(&str, Phase)>| WireEvent {
            seq,
            time: format!("2026-01-01T00:00:{seq:02}.000Z"),
            kind: kind.into(),
            severity: if kind.ends_with("started") { Severity::Warning } else { Severity::Info },
            interval: id.map(|(id, phase)| Interval { id: id.into(), phase }),
            truncated: false,
            data: serde_json::json!({"seq": seq}),
        };
        let events = vec![
            ev(1, "app.prohibited.started", Some(("a", Phase::Open))),
            ev(2, "navigation", None),
            ev(3, "focus.lost", Some(("f", Phase::Open))),
            ev(4, "app.prohibited.exited", Some(("a", Phase::Close))),
        ];
        let spans = intervals(&events);
        assert_eq!(spans.len(), 2);
        assert_eq!((spans[0].start_seq, spans[0].end_seq), (1, Some(4)));
        assert_eq!(spans[0].end_kind.as_deref(), Some("app.prohibited.exited"));
        assert_eq!(spans[0].severity, Severity::Warning);
        assert_eq!(spans[1].end, None, "focus is still lost");
    }

    #[test]
    fn signed_policy_verifies_and_tampering_is_caught() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = public_key_base64(&key);
        let signed = SignedPolicy::sign(r#"{"schema":1}"#.into(), &key);
        assert_eq!(signed.verify(&public), Ok(()));
        let mut tampered = signed.clone();
        tampered.policy_json = r#"{"schema":1,"name":"x"}"#.into();
        assert_eq!(tampered.verify(&public), Err(SignatureError::Mismatch));
        let other = public_key_base64(&SigningKey::from_bytes(&[8u8; 32]));
        assert_eq!(signed.verify(&other), Err(SignatureError::Mismatch));
        assert_eq!(signed.verify("not base64!"), Err(SignatureError::BadKey));
    }
}

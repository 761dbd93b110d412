//! Sending the spool's backlog so that no single item can block the rest: events go in batches
//! bounded in bytes (split when the server still finds one too large, a lone event that never
//! fits replaced on the wire by a stub with its size and hash), segments go independently of
//! events, and a segment the server refuses for good is hashed again, reported as a `critical`
//! event, set aside and skipped.

use crate::{SessionInfo, Uplink, UplinkError};
use serde_json::json;
use vigil_core::event::{Event, EventKind};
use vigil_core::protocol::{ReceiptBody, WireEvent, MAX_EVENT_BATCH_BYTES};
use vigil_spool::{Spool, SpoolError, Timeline};

/// The bytes of events one batch carries at most: half the server's limit, for the envelope and
/// for servers that count differently.
pub const EVENT_BATCH_BYTES: usize = MAX_EVENT_BATCH_BYTES / 2;
/// Events read from the spool per round.
const EVENT_BATCH_COUNT: usize = 500;
const ACKED_KEY: &str = "events_acked";

/// Server codes that refuse one segment for good (anything else is about the session or the
/// network, and is retried).
const SEGMENT_REFUSALS: &[&str] =
    &["upload.checksum_mismatch", "segment.exists", "upload.not_encrypted", "upload.too_large", "http.460"];

/// What one pass of [`drain`] achieved.
#[derive(Debug, Default, Clone, Copy)]
pub struct DrainReport {
    pub segments_sent: usize,
    pub segments_left: usize,
    pub segments_set_aside: usize,
    pub events_acked: u64,
    pub events_left: u64,
}

/// Sends every finished segment and every event the spool holds. Events and segments go
/// independently: an error in one does not hold back the other. Returns the first error after
/// both were tried.
pub fn drain(up: &Uplink, timeline: &Timeline, s: &SessionInfo) -> Result<DrainReport, UplinkError> {
    let spool = timeline.spool();
    let mut report = DrainReport::default();
    let mut events = send_events(up, spool, s, &mut report);
    let segments = send_segments(up, timeline, s, &mut report);
    if report.segments_set_aside > 0 && events.is_ok() {
        events = send_events(up, spool, s, &mut report); // the set-aside events, at once
    }
    events.and(segments).map(|()| report)
}

fn send_events(up: &Uplink, spool: &Spool, s: &SessionInfo, report: &mut DrainReport) -> Result<(), UplinkError> {
    let mut acked: u64 = spool.get(ACKED_KEY)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let result = (|| loop {
        let events = spool.events_after(acked, EVENT_BATCH_COUNT)?;
        if events.is_empty() {
            return Ok(());
        }
        let batch = &events[..fitting(&events, EVENT_BATCH_BYTES)];
        let new_ack = send_split(up, s, batch)?;
        if new_ack <= acked {
            return Ok(()); // the server is missing an earlier one; the next pass re-sends from `acked`
        }
        acked = new_ack;
        spool.set(ACKED_KEY, &acked.to_string())?;
    })();
    report.events_acked = acked;
    report.events_left = spool.last_event_seq()?.saturating_sub(acked);
    result
}

/// How many of `events` (at least one) fit in `budget` bytes of JSON.
fn fitting(events: &[WireEvent], budget: usize) -> usize {
    let mut used = 0;
    for (n, e) in events.iter().enumerate() {
        used += serde_json::to_vec(e).map(|v| v.len() + 1).unwrap_or(0);
        if used > budget && n > 0 {
            return n;
        }
    }
    events.len()
}

/// Sends `batch`; when the server finds it too large (413), sends it in halves, and a single
/// event that is still too large as a stub.
fn send_split(up: &Uplink, s: &SessionInfo, batch: &[WireEvent]) -> Result<u64, UplinkError> {
    match up.send_events(s, batch) {
        Err(e) if is_too_large(&e) && batch.len() > 1 => {
            let (first, second) = batch.split_at(batch.len() / 2);
            let acked = send_split(up, s, first)?;
            send_split(up, s, second).map(|a| a.max(acked))
        }
        Err(e) if is_too_large(&e) => {
            let e = &batch[0];
            tracing::warn!(seq = e.seq, kind = %e.kind, "an event too large for the server is sent as a stub");
            up.send_events(s, &[stub(e)])
        }
        other => other,
    }
}

fn is_too_large(e: &UplinkError) -> bool {
    matches!(e.code(), "request.too_large" | "http.413")
}

/// The event with its data replaced by its size and hash; the full event stays in the spool.
fn stub(e: &WireEvent) -> WireEvent {
    let json = serde_json::to_vec(&e.data).unwrap_or_default();
    WireEvent { truncated: true, data: vigil_core::event::omitted(&json), ..e.clone() }
}

fn send_segments(
    up: &Uplink,
    timeline: &Timeline,
    s: &SessionInfo,
    report: &mut DrainReport,
) -> Result<(), UplinkError> {
    let spool = timeline.spool();
    let pending = spool.pending_uploads()?;
    report.segments_left = pending.len();
    for (seg, location) in pending {
        let remember = |loc: &str| spool.set_upload_location(&seg.file, Some(loc)).map_err(UplinkError::from);
        let sent = up.upload(s, &spool.segments_dir(), &seg, location, &remember).and_then(|url| {
            if !up.uploads_here(s) {
                up.register_segment(s, &seg, &url)?;
            }
            Ok(())
        });
        match sent {
            Ok(()) => {
                spool.mark_uploaded(&seg.file)?;
                report.segments_sent += 1;
            }
            Err(e) if SEGMENT_REFUSALS.contains(&e.code()) => {
                set_aside(timeline, &seg, &e)?;
                report.segments_set_aside += 1;
            }
            Err(e) => return Err(e),
        }
        report.segments_left -= 1;
    }
    Ok(())
}

/// Keeps a refused segment on disk, out of the queue, with a `critical` event that says why and
/// what its bytes hash to now.
fn set_aside(timeline: &Timeline, seg: &vigil_spool::SegmentRecord, e: &UplinkError) -> Result<(), UplinkError> {
    let spool = timeline.spool();
    let now =
        vigil_spool::sha256_file(&spool.segments_dir().join(&seg.file)).unwrap_or_else(|e| format!("unreadable: {e}"));
    tracing::error!(file = %seg.file, code = e.code(), "the server refused a segment for good; it is set aside");
    timeline.try_record(&Event::new(
        EventKind::UploadSetAside,
        json!({"file": seg.file, "source": seg.source, "sequence": seg.sequence, "code": e.code(),
               "error": e.to_string(), "sha256_recorded": seg.sha256, "sha256_now": now}),
    ))?;
    spool.set_aside(&seg.file)?;
    Ok(())
}

/// What the spool still has to send: segments, events.
pub fn backlog(spool: &Spool) -> Result<(u64, u64), SpoolError> {
    let acked: u64 = spool.get(ACKED_KEY)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok((spool.pending_uploads()?.len() as u64, spool.last_event_seq()?.saturating_sub(acked)))
}

/// Checks a receipt against the spool: every local segment (except those set aside, which the
/// timeline reports) is listed with its hash, and every event was acknowledged. Returns what is
/// missing, if anything.
pub fn verify_receipt(spool: &Spool, receipt: &ReceiptBody) -> Result<Vec<String>, SpoolError> {
    let aside = spool.set_aside_files()?;
    let mut missing = Vec::new();
    for seg in spool.segments()? {
        if aside.contains(&seg.file) {
            continue;
        }
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

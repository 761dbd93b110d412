//! The video source trait, and the thread that paces a source: it grabs a frame every period and
//! hands it to the encoder through a bounded queue. When the queue is full the frame is dropped
//! and counted; the source never blocks on the encoder and memory never grows.

use crate::frame::{CaptureError, VideoFrame};
use crossbeam_channel::{Sender, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_core::StopToken;

/// Something that produces pictures on demand: a camera, a monitor, a synthetic pattern.
pub trait VideoSource: Send {
    /// Stable id, used in segment names (`camera`, `screen-0`).
    fn id(&self) -> &str;
    fn size(&self) -> (u32, u32);
    /// The next picture. A camera may block up to one frame period.
    fn grab(&mut self) -> Result<VideoFrame, CaptureError>;
}

/// Counters shared between a source thread and whoever reports on it.
#[derive(Debug, Default)]
pub struct SourceStats {
    pub grabbed: AtomicU64,
    pub dropped: AtomicU64,
}

/// Why a pacing loop ended.
#[derive(Debug)]
pub enum PaceEnd {
    Stopped,
    Failed(CaptureError),
}

/// Grabs from `source` every `period` until `stop` is stopped, the receiver is gone, or the source
/// fails. Frames are stamped with the time since `epoch`.
pub fn pace(
    mut source: Box<dyn VideoSource>,
    period: Duration,
    epoch: Instant,
    tx: Sender<VideoFrame>,
    stop: StopToken,
    stats: Arc<SourceStats>,
) -> PaceEnd {
    let mut next = Instant::now();
    while !stop.is_stopped() {
        let now = Instant::now();
        if now < next {
            stop.wait_until(next);
            continue;
        }
        // Stay on the grid; if we fell behind by more than a period, skip ahead (and count it).
        next += period;
        if next + period < now {
            let missed = ((now - next).as_nanos() / period.as_nanos().max(1)) as u64;
            stats.dropped.fetch_add(missed, Ordering::Relaxed);
            next += period * missed as u32;
        }
        let at = epoch.elapsed();
        let mut frame = match source.grab() {
            Ok(f) => f,
            Err(e) => return PaceEnd::Failed(e),
        };
        frame.captured = at;
        stats.grabbed.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => break,
        }
    }
    PaceEnd::Stopped
}

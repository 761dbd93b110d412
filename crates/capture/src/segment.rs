//! Crash-safe segments: each one an independently playable fragmented MP4 (its own init segment,
//! starting on a key frame), about 10 s long, written as fragments of about 2 s.
//!
//! While a segment is open it lives in `NAME.mp4.partial`; after every fragment the file is
//! fsync'd and a sidecar `NAME.mp4.partial.json` records how many bytes are valid and what they
//! hold. Closing a segment: final flush, fsync, SHA-256, rename to `NAME.mp4`, fsync of the
//! directory, manifest row in the spool, sidecar removed. After a crash, [`recover`] truncates
//! each partial file to its last complete fragment and finishes it, so a `kill -9` loses at most
//! the fragment in flight.

use crate::encode::H264Config;
use muxide::api::AudioCodec;
use muxide::fragmented::{FragmentAudioConfig, FragmentConfig, FragmentedMuxer};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vigil_spool::{segment_file_name, sha256_file, SegmentRecord, Spool, SpoolError};

/// How long after a segment's end its sound may still come (a fragment of the microphone and the
/// sound server's latency, with room to spare); later sound is not waited for.
const MAX_SOUND_DELAY_MS: u64 = 1_000;

/// Video timescale (90 kHz, as usual for MP4 video).
pub const VIDEO_TIMESCALE: u64 = 90_000;
/// Audio timescale: Opus is always 48 kHz.
pub const AUDIO_RATE: u64 = 48_000;

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("writing {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("muxing {source_id}: {message}")]
    Mux { source_id: String, message: String },
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

impl SegmentError {
    /// A stable machine code: `segment.disk_full`, `segment.io`, `segment.mux`, or the spool's.
    pub fn code(&self) -> &'static str {
        match self {
            e if e.is_disk_full() => "segment.disk_full",
            SegmentError::Io { .. } => "segment.io",
            SegmentError::Mux { .. } => "segment.mux",
            SegmentError::Spool(e) => e.code(),
        }
    }

    /// The disk is full (or the quota is exhausted): capture should stop cleanly.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, SegmentError::Io { source, .. } if source.raw_os_error() == Some(28) || source.raw_os_error() == Some(122))
    }
}

/// Segment and fragment lengths.
#[derive(Debug, Clone, Copy)]
pub struct SegmentPlan {
    pub segment_ms: u64,
    pub fragment_ms: u64,
}

impl Default for SegmentPlan {
    fn default() -> Self {
        SegmentPlan { segment_ms: 10_000, fragment_ms: 2_000 }
    }
}

/// What the sidecar of an open segment says.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sidecar {
    source: String,
    sequence: u64,
    started_at: String,
    start_ms: u64,
    width: u32,
    height: u32,
    valid_bytes: u64,
    video_frames: u64,
    audio_frames: u64,
    duration_ms: u64,
}

struct OpenSegment {
    muxer: FragmentedMuxer,
    file: File,
    partial: PathBuf,
    meta: Sidecar,
    last_flush_ms: u64,
    /// Frames and duration queued in the muxer but not yet in a flushed fragment.
    queued_video: u64,
    queued_audio: u64,
    last_video_ms: u64,
    /// How far into the segment its first sound packet starts (under one packet, as packets
    /// straddle the segment's start). The muxer puts a track's first fragment at the segment's
    /// start whatever its first packet's time, so every packet of the segment is written this
    /// much earlier: the sound stays whole, never more than a packet early.
    audio_offset: Option<u64>,
}

/// Writes one source's segments (`camera`, `screen-0`, ...): video, plus audio when configured.
pub struct TrackWriter {
    spool: Arc<Spool>,
    seal: Option<Arc<age::x25519::Recipient>>,
    source: String,
    width: u32,
    height: u32,
    frame_ms: u64,
    with_audio: bool,
    plan: SegmentPlan,
    next_sequence: u64,
    open: Option<OpenSegment>,
    /// The segment a key frame has just ended, still taking the sound captured before that key
    /// frame: it arrives a fragment and the sound server's latency after the picture.
    ending: Option<OpenSegment>,
    /// Where the open segment is announced (the recorder's status).
    status: Option<crate::recorder::RecorderStatus>,
    /// Finished segments, for the summary.
    pub finished: Vec<SegmentRecord>,
}

impl TrackWriter {
    /// `seal`: encrypt finished segments to this recipient (the exam's, from its signed policy).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spool: Arc<Spool>,
        seal: Option<Arc<age::x25519::Recipient>>,
        source: &str,
        width: u32,
        height: u32,
        fps: f32,
        with_audio: bool,
        plan: SegmentPlan,
    ) -> Result<TrackWriter, SegmentError> {
        let next_sequence = spool.next_sequence(source)?;
        Ok(TrackWriter {
            spool,
            seal,
            source: source.to_owned(),
            width,
            height,
            frame_ms: (1000.0 / fps.max(0.01)) as u64,
            with_audio,
            plan,
            next_sequence,
            open: None,
            ending: None,
            status: None,
            finished: Vec::new(),
        })
    }

    /// Announces each open segment in `status` while it is open.
    pub fn with_status(mut self, status: crate::recorder::RecorderStatus) -> TrackWriter {
        self.status = Some(status);
        self
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where the open segment starts, in 48 kHz samples of the recording clock (none before the
    /// first key frame).
    pub fn open_start_samples(&self) -> Option<u64> {
        self.open.as_ref().map(|seg| seg.meta.start_ms * AUDIO_RATE / 1000)
    }

    /// Whether the frame at `at_ms` must be a key frame (it starts a new segment).
    pub fn wants_keyframe(&self, at_ms: u64) -> bool {
        match &self.open {
            None => true,
            Some(seg) => at_ms >= seg.meta.start_ms + self.plan.segment_ms,
        }
    }

    /// Adds an encoded picture taken at `at_ms` on the recording clock. A key frame at a segment
    /// boundary closes the current segment and opens the next.
    pub fn write_video(
        &mut self,
        at_ms: u64,
        avcc: &[u8],
        keyframe: bool,
        config: &H264Config,
    ) -> Result<(), SegmentError> {
        if keyframe && self.wants_keyframe(at_ms) {
            self.finish_ending()?;
            if let Some(seg) = self.take_open() {
                if self.with_audio {
                    self.ending = Some(seg);
                } else {
                    self.finish_segment(seg)?;
                }
            }
            self.open_segment(at_ms, config)?;
        }
        if self.open.as_ref().is_some_and(|seg| at_ms >= seg.meta.start_ms + MAX_SOUND_DELAY_MS) {
            self.finish_ending()?; // the sound stopped coming (the microphone lost, say)
        }
        let Some(seg) = self.open.as_mut() else { return Ok(()) }; // no key frame yet
        if at_ms >= seg.last_flush_ms + self.plan.fragment_ms {
            Self::flush_fragment(seg, self.frame_ms)?;
            seg.last_flush_ms = at_ms;
        }
        let t = (at_ms - seg.meta.start_ms) * VIDEO_TIMESCALE / 1000;
        seg.muxer.write_video(t, t, avcc, keyframe).map_err(|e| mux_err(&self.source, e))?;
        seg.queued_video += 1;
        seg.last_video_ms = at_ms;
        Ok(())
    }

    /// Adds an Opus packet whose first sample was captured at `at_samples` (48 kHz recording clock).
    pub fn write_audio(&mut self, at_samples: u64, packet: &[u8]) -> Result<(), SegmentError> {
        if !self.with_audio {
            return Ok(());
        }
        // Sound from before the open segment's start belongs to the one just ended.
        if self.ending.is_some() {
            match self.open_start_samples() {
                Some(start) if at_samples >= start => self.finish_ending()?,
                _ => {
                    let Some(seg) = self.ending.as_mut() else { return Ok(()) };
                    return Self::push_audio(seg, &self.source, at_samples, packet);
                }
            }
        }
        let Some(seg) = self.open.as_mut() else { return Ok(()) };
        Self::push_audio(seg, &self.source, at_samples, packet)
    }

    /// Adds an Opus packet to `seg`, unless it began before the segment did.
    fn push_audio(seg: &mut OpenSegment, source: &str, at_samples: u64, packet: &[u8]) -> Result<(), SegmentError> {
        let seg_start = seg.meta.start_ms * AUDIO_RATE / 1000;
        if at_samples < seg_start {
            return Ok(());
        }
        let t = at_samples - seg_start;
        let t = t - *seg.audio_offset.get_or_insert(t);
        seg.muxer.write_audio(t, t, packet).map_err(|e| mux_err(source, e))?;
        seg.queued_audio += 1;
        Ok(())
    }

    fn open_segment(&mut self, at_ms: u64, config: &H264Config) -> Result<(), SegmentError> {
        let mut video = FragmentConfig::new(self.width, self.height, VIDEO_TIMESCALE as u32)
            .with_fragment_duration_ms(self.plan.fragment_ms as u32);
        video.sps = config.sps.clone();
        video.pps = config.pps.clone();
        let mut muxer = if self.with_audio {
            FragmentedMuxer::new_with_audio(
                video,
                FragmentAudioConfig { codec: AudioCodec::Opus, sample_rate: AUDIO_RATE as u32, channels: 1 },
            )
        } else {
            FragmentedMuxer::new(video)
        }
        .map_err(|e| mux_err(&self.source, e))?;
        let sequence = self.next_sequence;
        let name = segment_file_name(&self.source, sequence);
        let partial = self.spool.segments_dir().join(format!("{name}.partial"));
        let io = |source| SegmentError::Io { path: partial.clone(), source };
        let mut file = OpenOptions::new().create(true).truncate(true).write(true).open(&partial).map_err(io)?;
        let init = muxer.init_segment();
        file.write_all(&init).map_err(io)?;
        let meta = Sidecar {
            source: self.source.clone(),
            sequence,
            started_at: vigil_core::time::now_rfc3339(),
            start_ms: at_ms,
            width: self.width,
            height: self.height,
            valid_bytes: init.len() as u64,
            video_frames: 0,
            audio_frames: 0,
            duration_ms: 0,
        };
        self.next_sequence += 1;
        if let Some(status) = &self.status {
            status.opened(&self.source, &name);
        }
        self.open = Some(OpenSegment {
            muxer,
            file,
            partial,
            meta,
            last_flush_ms: at_ms,
            queued_video: 0,
            queued_audio: 0,
            last_video_ms: at_ms,
            audio_offset: None,
        });
        Ok(())
    }

    /// Appends the queued samples as one fragment, makes it durable, and records it in the sidecar.
    fn flush_fragment(seg: &mut OpenSegment, frame_ms: u64) -> Result<(), SegmentError> {
        let Some(fragment) = seg.muxer.flush_segment() else { return Ok(()) };
        let io = |source| SegmentError::Io { path: seg.partial.clone(), source };
        seg.file.write_all(&fragment).map_err(io)?;
        seg.file.sync_data().map_err(io)?;
        seg.meta.valid_bytes += fragment.len() as u64;
        seg.meta.video_frames += seg.queued_video;
        seg.meta.audio_frames += seg.queued_audio;
        if seg.queued_video > 0 {
            seg.meta.duration_ms = seg.last_video_ms + frame_ms - seg.meta.start_ms;
        }
        seg.queued_video = 0;
        seg.queued_audio = 0;
        write_sidecar(&sidecar_path(&seg.partial), &seg.meta)
    }

    /// Finishes the segments still open: the one ending, then the open one (its record is
    /// returned): last fragment, fsync, hash, rename, manifest.
    pub fn close(&mut self) -> Result<Option<SegmentRecord>, SegmentError> {
        self.finish_ending()?;
        match self.take_open() {
            Some(seg) => self.finish_segment(seg).map(Some),
            None => Ok(None),
        }
    }

    /// The open segment, no longer announced as open.
    fn take_open(&mut self) -> Option<OpenSegment> {
        let seg = self.open.take()?;
        if let Some(status) = &self.status {
            status.closed(&self.source);
        }
        Some(seg)
    }

    /// Finishes the segment still taking its last sound, if any.
    fn finish_ending(&mut self) -> Result<(), SegmentError> {
        match self.ending.take() {
            Some(seg) => self.finish_segment(seg).map(drop),
            None => Ok(()),
        }
    }

    fn finish_segment(&mut self, mut seg: OpenSegment) -> Result<SegmentRecord, SegmentError> {
        Self::flush_fragment(&mut seg, self.frame_ms)?;
        drop(seg.file);
        let record = finish(&self.spool, &seg.partial, &seg.meta, false, self.seal.as_deref())?;
        self.finished.push(record.clone());
        Ok(record)
    }
}

fn mux_err(source: &str, e: impl std::fmt::Display) -> SegmentError {
    SegmentError::Mux { source_id: source.to_owned(), message: e.to_string() }
}

fn sidecar_path(partial: &Path) -> PathBuf {
    let mut s = partial.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

fn write_sidecar(path: &Path, meta: &Sidecar) -> Result<(), SegmentError> {
    let io = |source| SegmentError::Io { path: path.to_path_buf(), source };
    let tmp = path.with_extension("json.tmp");
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(&serde_json::to_vec(meta).unwrap_or_default()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The final file name of a segment: `camera-000003.mp4`, or `camera-000003.mp4.age` when sealed.
fn final_name(meta: &Sidecar, sealed: bool) -> String {
    let name = segment_file_name(&meta.source, meta.sequence);
    if sealed {
        format!("{name}.age")
    } else {
        name
    }
}

/// Moves a complete partial file into place (encrypting it first when `seal` is given) and
/// records it. The sidecar is removed last, so a crash anywhere in here is finished again by
/// [`recover`].
fn finish(
    spool: &Spool,
    partial: &Path,
    meta: &Sidecar,
    recovered: bool,
    seal: Option<&age::x25519::Recipient>,
) -> Result<SegmentRecord, SegmentError> {
    let name = final_name(meta, seal.is_some());
    let dir = spool.segments_dir();
    let final_path = dir.join(&name);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SegmentError::Io { path, source }
    };
    if partial.exists() {
        match seal {
            Some(recipient) => {
                let tmp = dir.join(format!("{name}.tmp"));
                vigil_spool::seal::seal_file(partial, &tmp, recipient).map_err(|e| SegmentError::Io {
                    path: tmp.clone(),
                    source: match e {
                        vigil_spool::seal::SealError::Io(io) => io,
                        other => std::io::Error::other(other.to_string()),
                    },
                })?;
                std::fs::rename(&tmp, &final_path).map_err(io(&final_path))?;
                File::open(&dir).and_then(|d| d.sync_all()).map_err(io(&dir))?;
                std::fs::remove_file(partial).map_err(io(partial))?;
            }
            None => {
                std::fs::rename(partial, &final_path).map_err(io(&final_path))?;
            }
        }
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io(&dir))?;
    }
    let record = SegmentRecord {
        source: meta.source.clone(),
        sequence: meta.sequence,
        file: name,
        started_at: meta.started_at.clone(),
        start_ms: meta.start_ms,
        duration_ms: meta.duration_ms,
        video_frames: meta.video_frames,
        audio_frames: meta.audio_frames,
        width: meta.width,
        height: meta.height,
        bytes: std::fs::metadata(&final_path).map_err(io(&final_path))?.len(),
        sha256: sha256_file(&final_path).map_err(io(&final_path))?,
        recovered,
    };
    spool.add_segment(&record)?;
    let _ = std::fs::remove_file(sidecar_path(partial));
    Ok(record)
}

/// Finishes what a crash left behind in the spool: partial segments are cut back to their last
/// complete fragment and recorded; renamed segments whose manifest row is missing are recorded.
/// Returns the recovered segments.
pub fn recover(spool: &Spool, seal: Option<&age::x25519::Recipient>) -> Result<Vec<SegmentRecord>, SegmentError> {
    let dir = spool.segments_dir();
    let io = |source| SegmentError::Io { path: dir.clone(), source };
    let mut sidecars: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".partial.json"))
        .collect();
    sidecars.sort();
    let mut recovered = Vec::new();
    for sidecar in sidecars {
        let Some(meta) = std::fs::read(&sidecar).ok().and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok()) else {
            tracing::warn!(file = %sidecar.display(), "unreadable segment sidecar; left in place");
            continue;
        };
        let partial = PathBuf::from(sidecar.to_string_lossy().trim_end_matches(".json").to_owned());
        let final_path = dir.join(final_name(&meta, seal.is_some()));
        if partial.exists() {
            let f = OpenOptions::new()
                .write(true)
                .open(&partial)
                .map_err(|source| SegmentError::Io { path: partial.clone(), source })?;
            f.set_len(meta.valid_bytes)
                .and_then(|_| f.sync_all())
                .map_err(|source| SegmentError::Io { path: partial.clone(), source })?;
            if meta.video_frames == 0 {
                // Only the init segment made it: nothing to keep.
                let _ = std::fs::remove_file(&partial);
                let _ = std::fs::remove_file(&sidecar);
                continue;
            }
        } else if !final_path.exists() {
            let _ = std::fs::remove_file(&sidecar);
            continue;
        }
        let record = finish(spool, &partial, &meta, true, seal)?;
        recovered.push(record);
    }
    Ok(recovered)
}

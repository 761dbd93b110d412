//! A headless recording: camera (+ microphone in the same file) and every monitor, each source on
//! its own thread with a bounded queue, encoded into segments in the spool. Monitors that appear
//! get a track from then on; monitors that go away end theirs; both are events with a time.

use crate::encode::{Content, OpenH264Encoder, OpusEncoder, VideoEncoder};
use crate::frame::VideoFrame;
use crate::microphone::{self, MicChunk};
use crate::screen::{self, MonitorId, ScreenSource};
use crate::segment::{self, SegmentError, SegmentPlan, TrackWriter};
use crate::source::{pace, PaceEnd, SourceStats, VideoSource};
use crossbeam_channel::{bounded, select, Receiver};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vigil_analysis::vision::{Grey, VisionAnalyzer, VisionOptions};
use vigil_analysis::{Edge, SpeechDetector, SpeechOptions};
use vigil_core::compiled::Recipient;
use vigil_core::event::{Event, EventKind};
use vigil_core::StopToken;
use vigil_spool::{SegmentRecord, Spool, Timeline};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraMode {
    /// The first real camera; without one, recording goes on without a camera.
    Auto,
    Synthetic,
    /// A raw video file (YUV4MPEG2) played in a loop at its own frame rate: a labelled clip
    /// standing in for the camera in tests and demonstrations.
    File(std::path::PathBuf),
    None,
}

#[derive(Debug, Clone)]
pub struct RecordOptions {
    pub camera: CameraMode,
    pub camera_size: (u32, u32),
    pub camera_fps: f32,
    pub microphone: bool,
    pub screens: bool,
    pub screen_fps: f32,
    pub plan: SegmentPlan,
    /// How often the set of monitors is checked.
    pub monitor_poll: Duration,
    /// Encrypt finished segments to this age recipient (the exam's, from its compiled policy).
    pub encrypt_to: Option<Arc<Recipient>>,
    /// The camera flags to compute on the device (the exam policy's `[analysis]`), or none.
    pub analysis: Option<VisionOptions>,
    /// Speech flags from the microphone (the policy's `[analysis] speech` and the candidate's
    /// accommodation), or none.
    pub speech: Option<SpeechOptions>,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            camera: CameraMode::Auto,
            camera_size: (640, 480),
            camera_fps: 15.0,
            microphone: true,
            screens: true,
            screen_fps: 1.0,
            plan: SegmentPlan::default(),
            monitor_poll: Duration::from_millis(500),
            encrypt_to: None,
            analysis: None,
            speech: None,
        }
    }
}

/// Per source, what the recording produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceSummary {
    pub source: String,
    pub description: String,
    pub segments: usize,
    pub video_frames: u64,
    pub audio_frames: u64,
    pub dropped_frames: u64,
    pub bytes: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordSummary {
    pub seconds: f64,
    pub sources: Vec<SourceSummary>,
    /// Segments finished by crash recovery at the start.
    pub recovered: Vec<SegmentRecord>,
    /// Things the candidate or operator should know (device missing, disk full, ...).
    pub messages: Vec<String>,
    /// The disk filled up and capture stopped early (what was recorded is kept).
    pub disk_full: bool,
    /// Capture or encoder threads that died (panicked); their tracks ended early.
    pub failed_threads: Vec<String>,
    /// Screens were asked for but none could be recorded, or every screen recorded only black
    /// for [`crate::blank::BLANK_AFTER_MS`]: the recording does not show what the candidate saw.
    pub blind: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Segment(#[from] SegmentError),
    #[error(transparent)]
    Spool(#[from] vigil_spool::SpoolError),
    #[error("cannot start a capture thread: {0}")]
    Thread(std::io::Error),
    #[error("the recorder thread died: {0}")]
    Panicked(String),
}

impl RecordError {
    /// A stable machine code: `record.disk_full`, `record.write`, `record.spool.*`, `record.thread`, `record.panicked`.
    pub fn code(&self) -> &'static str {
        match self {
            RecordError::Segment(e) if e.is_disk_full() => "record.disk_full",
            RecordError::Segment(_) => "record.write",
            RecordError::Spool(e) => match e.code() {
                "spool.full" => "record.disk_full",
                "spool.read_only" => "record.spool_read_only",
                _ => "record.spool",
            },
            RecordError::Thread(_) => "record.thread",
            RecordError::Panicked(_) => "record.panicked",
        }
    }
}

/// What the recorder is doing right now, for a status bar: each recording source and the
/// segment it has open, and the on-device flags open now. Cheap to clone; shared with the
/// recorder's threads.
#[derive(Debug, Clone, Default)]
pub struct RecorderStatus(Arc<Mutex<StatusNow>>);

#[derive(Debug, Default)]
struct StatusNow {
    segments: BTreeMap<String, String>,
    flags: std::collections::BTreeSet<&'static str>,
}

impl RecorderStatus {
    fn now(&self) -> std::sync::MutexGuard<'_, StatusNow> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sources with a segment open now (`camera`, `screen-0`, ...), sorted.
    pub fn recording(&self) -> Vec<String> {
        self.now().segments.keys().cloned().collect()
    }

    /// Per source, the file name of its open segment.
    pub fn open_segments(&self) -> BTreeMap<String, String> {
        self.now().segments.clone()
    }

    /// The on-device flags open now (`face.missing`, `speech`, ...), sorted.
    pub fn open_flags(&self) -> Vec<&'static str> {
        self.now().flags.iter().copied().collect()
    }

    pub(crate) fn opened(&self, source: &str, file: &str) {
        self.now().segments.insert(source.to_owned(), file.to_owned());
    }

    pub(crate) fn closed(&self, source: &str) {
        self.now().segments.remove(source);
    }

    fn flag(&self, edge: &Edge) {
        match edge {
            Edge::Open { kind, .. } => self.now().flags.insert(kind),
            Edge::Close(f) => self.now().flags.remove(f.kind),
        };
    }
}

/// Shared by every track: the spool and timeline, the clock, the global stop, and a place for
/// messages.
struct Shared {
    spool: Arc<Spool>,
    timeline: Arc<Timeline>,
    epoch: Instant,
    stop: StopToken,
    plan: SegmentPlan,
    seal: Option<Arc<Recipient>>,
    status: RecorderStatus,
    messages: Mutex<Vec<String>>,
    failed_threads: Mutex<Vec<String>>,
    disk_full: std::sync::atomic::AtomicBool,
    blank: Mutex<crate::blank::BlankWatch>,
    analysis: Option<VisionOptions>,
    speech: Option<SpeechOptions>,
}

/// What a screen track says of its screen.
#[derive(Debug, Clone, Copy)]
enum ScreenSeen {
    /// A picture, black everywhere or not.
    Picture { dark: bool },
    /// Its monitor was unplugged: it no longer counts.
    Unplugged,
    /// Its capture failed while the monitor is there: Vigil cannot see it.
    Lost,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Records an event on the timeline and, when it matters to a person, a message.
    fn event(&self, kind: EventKind, mut data: serde_json::Value, message: Option<String>) {
        data["at_ms"] = json!(self.now_ms());
        self.timeline.record(Event::new(kind, data));
        if let Some(m) = message {
            tracing::warn!("{m}");
            self.messages.lock().unwrap_or_else(|p| p.into_inner()).push(m);
        }
    }

    /// A screen's picture at `at_ms`, dark or not; or (`None`) its track ended.
    fn screen_seen(&self, source: &str, seen: ScreenSeen, at_ms: u64) {
        use crate::blank::Change;
        let changes = {
            let mut watch = self.blank.lock().unwrap_or_else(|p| p.into_inner());
            match seen {
                ScreenSeen::Picture { dark } => watch.frame(source, dark, at_ms),
                ScreenSeen::Unplugged => watch.gone(source, at_ms),
                ScreenSeen::Lost => watch.lost(source, at_ms),
            }
        };
        for change in changes {
            let (event, message) = match change {
                Change::Blank { source, since_ms } => (
                    Event::new(EventKind::CaptureScreenBlank, json!({"source": source, "since_ms": since_ms}))
                        .opens(&format!("blank-{source}")),
                    Some(format!("{source} has recorded only black for 10 s: Vigil cannot see that screen")),
                ),
                Change::Visible { source, blank_ms } => (
                    Event::new(EventKind::CaptureScreenVisible, json!({"source": source, "blank_ms": blank_ms}))
                        .closes(&format!("blank-{source}")),
                    None,
                ),
                Change::Blind { screens } => (
                    Event::new(EventKind::CaptureBlind, json!({"screens": screens})).opens("blind"),
                    Some("Every screen is lost or has recorded only black: the recording does not show what is on screen".into()),
                ),
                Change::Sighted { blind_ms } => {
                    (Event::new(EventKind::CaptureSighted, json!({"blind_ms": blind_ms})).closes("blind"), None)
                }
            };
            let mut event = event;
            event.data["at_ms"] = json!(at_ms);
            self.timeline.record(event);
            if let Some(m) = message {
                tracing::warn!("{m}");
                self.messages.lock().unwrap_or_else(|p| p.into_inner()).push(m);
            }
        }
    }

    /// An on-device flag opening or closing, as an interval event (`start_ms` on the recording
    /// clock is where its condition began; the event is written when the hysteresis decided).
    /// `extra` goes into the event's data (an evidence picture, an accommodation).
    fn flag(&self, edge: Edge, extra: serde_json::Value) {
        let kinds = match edge.kind() {
            "face.missing" => (EventKind::FaceMissing, EventKind::FaceFound),
            "face.multiple" => (EventKind::FaceMultiple, EventKind::FaceSingle),
            "face.turned" => (EventKind::FaceTurned, EventKind::FaceFacing),
            "camera.covered" => (EventKind::CameraCovered, EventKind::CameraUncovered),
            "camera.frozen" => (EventKind::CameraFrozen, EventKind::CameraMoving),
            "speech" => (EventKind::SpeechHeard, EventKind::SpeechEnded),
            _ => return,
        };
        self.status.flag(&edge);
        let mut event = match edge {
            Edge::Open { kind, start_ms } => {
                Event::new(kinds.0, json!({"start_ms": start_ms})).opens(&format!("{kind}-{start_ms}"))
            }
            Edge::Close(f) => {
                let event = Event::new(kinds.1, json!({"start_ms": f.start_ms, "end_ms": f.end_ms, "peak": f.peak}));
                event.closes(&format!("{}-{}", f.kind, f.start_ms))
            }
        };
        if extra.get("accommodation").is_some() {
            event = event.with_severity(vigil_core::event::Severity::Info);
        }
        if let (Some(data), Some(more)) = (event.data.as_object_mut(), extra.as_object()) {
            data.extend(more.clone());
        }
        event.data["at_ms"] = json!(self.now_ms());
        self.timeline.record(event);
    }

    /// A thread of `source` that panicked: a `critical` event, a message, and the error text.
    fn thread_died(&self, source: &str, thread: &str, panic: &(dyn std::any::Any + Send)) -> String {
        let error = format!("{thread} thread died: {}", vigil_core::panic_message(panic));
        self.status.closed(source);
        self.failed_threads.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{source}: {error}"));
        self.event(
            EventKind::CaptureThreadFailed,
            json!({"source": source, "error": error}),
            Some(format!("{source}: recording ended: {error}")),
        );
        error
    }

    /// A write error: a full disk stops all capture (what is on disk stays); others end the track.
    fn write_failed(&self, source: &str, e: &SegmentError) {
        if e.is_disk_full() {
            self.event(
                EventKind::CaptureDiskFull,
                json!({"source": source, "error": e.to_string()}),
                Some(format!(
                    "The disk is full: recording stopped. Everything recorded so far is kept. Free some space ({e})."
                )),
            );
            self.disk_full.store(true, Ordering::Relaxed);
            self.stop.stop();
        } else {
            self.event(
                EventKind::CaptureWriteFailed,
                json!({"source": source, "error": e.to_string()}),
                Some(format!("{source}: recording stopped: {e}")),
            );
        }
    }
}

/// One running video track: a pacing thread and an encoding thread.
struct Track {
    source: String,
    description: String,
    stop: StopToken,
    stats: Arc<SourceStats>,
    /// Until [`Track::stop_pictures`] has joined it.
    pacer: Option<JoinHandle<PaceEnd>>,
    /// Why the capture ended, when it failed.
    error: Option<String>,
    encoder: JoinHandle<(Vec<SegmentRecord>, u64, Option<String>)>,
    /// The on-device analysis of the camera and the microphone, fed by the encoder; it ends
    /// when the encoder does.
    analysis: Vec<JoinHandle<()>>,
}

impl Track {
    fn start(
        shared: &Arc<Shared>,
        source: Box<dyn VideoSource>,
        description: String,
        content: Content,
        fps: f32,
        audio: Option<Receiver<MicChunk>>,
    ) -> Result<Track, RecordError> {
        let id = source.id().to_owned();
        let (w, h) = source.size();
        let writer =
            TrackWriter::new(shared.spool.clone(), shared.seal.clone(), &id, w, h, fps, audio.is_some(), shared.plan)?
                .with_status(shared.status.clone());
        // Screen frames are large and rare: one in the queue is enough. Camera frames: a few.
        let (tx, rx) = bounded::<VideoFrame>(if content == Content::Screen { 1 } else { 3 });
        let stop = shared.stop.child();
        let stats = Arc::new(SourceStats::default());
        let period = Duration::from_secs_f32(1.0 / fps);
        let pacer = {
            let (stop, stats, epoch) = (stop.clone(), stats.clone(), shared.epoch);
            std::thread::Builder::new()
                .name(format!("grab-{id}"))
                .spawn(move || pace(source, period, epoch, tx, stop, stats))
                .map_err(RecordError::Thread)?
        };
        // The camera's pictures, a few a second, and the microphone's sound to the analysis
        // threads (a picture is dropped while its thread is busy).
        let mut taps = Taps::default();
        let mut analysis = Vec::new();
        if content == Content::Camera {
            if let Some(opts) = shared.analysis.clone() {
                let (tx, rx) = bounded::<VideoFrame>(1);
                let shared = shared.clone();
                taps.camera = Some((tx, (1000.0 / opts.fps.max(0.1)) as u64));
                analysis.push(
                    std::thread::Builder::new()
                        .name("analysis-camera".into())
                        .spawn(move || analyse_camera(&shared, opts, rx))
                        .map_err(RecordError::Thread)?,
                );
            }
            if let Some(opts) = shared.speech.filter(|_| audio.is_some()) {
                let (tx, rx) = bounded::<MicChunk>(256);
                let shared = shared.clone();
                taps.speech = Some(tx);
                analysis.push(
                    std::thread::Builder::new()
                        .name("analysis-speech".into())
                        .spawn(move || analyse_speech(&shared, opts, rx))
                        .map_err(RecordError::Thread)?,
                );
            }
        }
        let encoder = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("encode-{id}"))
                .spawn(move || encode_track(&shared, writer, content, fps, (w, h), rx, audio, taps))
                .map_err(RecordError::Thread)?
        };
        Ok(Track { source: id, description, stop, stats, pacer: Some(pacer), error: None, encoder, analysis })
    }

    /// Stops taking pictures and waits for the last one; a capture that had failed is said now.
    fn stop_pictures(&mut self, shared: &Shared) {
        self.stop.stop();
        let Some(pacer) = self.pacer.take() else { return };
        match pacer.join() {
            Ok(PaceEnd::Failed(e)) => {
                shared.event(
                    EventKind::DeviceLost,
                    json!({"source": self.source, "error": e.to_string()}),
                    Some(format!("{e}: its recording ended, the others go on")),
                );
                self.error = Some(e.to_string());
            }
            Ok(PaceEnd::Stopped) => {}
            Err(panic) => self.error = Some(shared.thread_died(&self.source, "capture", &*panic)),
        }
    }

    /// Stops the track and waits for its segments and its analysis.
    fn finish(mut self, shared: &Shared) -> SourceSummary {
        self.stop_pictures(shared);
        let (segments, audio_frames, enc_error) = match self.encoder.join() {
            Ok(done) => done,
            Err(panic) => {
                // What the encoder had finished is in the spool; the open segment is recovered
                // at the next start.
                (Vec::new(), 0, Some(shared.thread_died(&self.source, "encoder", &*panic)))
            }
        };
        for handle in self.analysis {
            if let Err(panic) = handle.join() {
                shared.thread_died(&self.source, "analysis", &*panic);
            }
        }
        let dropped = self.stats.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            shared.event(EventKind::CaptureDroppedFrames, json!({"source": self.source, "frames": dropped}), None);
        }
        SourceSummary {
            source: self.source,
            description: self.description,
            segments: segments.len(),
            video_frames: segments.iter().map(|s| s.video_frames).sum(),
            audio_frames,
            dropped_frames: dropped,
            bytes: segments.iter().map(|s| s.bytes).sum(),
            error: self.error.or(enc_error),
        }
    }
}

/// Encodes frames (and, for the camera, microphone audio) into the track's segments until the
/// pacer stops and the queues are drained.
#[allow(clippy::too_many_arguments)]
fn encode_track(
    shared: &Shared,
    mut writer: TrackWriter,
    content: Content,
    fps: f32,
    (w, h): (u32, u32),
    video: Receiver<VideoFrame>,
    audio: Option<Receiver<MicChunk>>,
    taps: Taps,
) -> (Vec<SegmentRecord>, u64, Option<String>) {
    let mut next_tap_ms = 0;
    let source = writer.source().to_owned();
    let mut encoder = match OpenH264Encoder::new(content, w, h, fps) {
        Ok(e) => e,
        Err(e) => return (Vec::new(), 0, Some(format!("H.264 encoder: {e}"))),
    };
    let mut opus = match audio.as_ref().map(|_| OpusEncoder::new()).transpose() {
        Ok(o) => o,
        Err(e) => return (Vec::new(), 0, Some(format!("Opus encoder: {e}"))),
    };
    let never = crossbeam_channel::never();
    let audio_rx = audio.as_ref().unwrap_or(&never);
    let (mut audio_pos, mut audio_frames, mut last_print) = (None::<u64>, 0u64, None::<u64>);
    let mut failed: Option<String> = None;
    let mut video_open = true;
    let mut audio_open = audio.is_some();
    let mut dark = false;
    while video_open || audio_open {
        let result: Result<(), SegmentError> = select! {
            recv(video) -> msg => match msg {
                Ok(frame) => {
                    let at_ms = frame.captured.as_millis() as u64;
                    // Unchanged: the source said so (X11 damage), or the picture hashes the same.
                    let same = frame.unchanged || {
                        let print = (content == Content::Screen).then(|| screen::fingerprint(&frame.data));
                        let same = print.is_some() && print == last_print;
                        last_print = print;
                        same
                    };
                    if let Some((tx, every_ms)) = taps.camera.as_ref().filter(|_| at_ms >= next_tap_ms) {
                        next_tap_ms = at_ms + every_ms;
                        let _ = tx.try_send(frame.clone());
                    }
                    if content == Content::Screen {
                        // An unchanged picture is as dark as the last one.
                        if !frame.unchanged {
                            dark = crate::blank::is_dark(&frame);
                        }
                        shared.screen_seen(&source, ScreenSeen::Picture { dark }, at_ms);
                    }
                    let key = writer.wants_keyframe(at_ms);
                    match encoder.encode(frame, key, same) {
                        Ok(enc) => match encoder.config() {
                            Some(cfg) => writer.write_video(at_ms, &enc.avcc, enc.keyframe, &cfg.clone()),
                            None => Ok(()),
                        },
                        Err(e) => { failed = Some(format!("H.264 encoder: {e}")); break; }
                    }
                }
                Err(_) => { video_open = false; Ok(()) }
            },
            recv(audio_rx) -> msg => match msg {
                Ok(chunk) => {
                    if let Some(tx) = taps.speech.as_ref() {
                        let _ = tx.try_send(MicChunk { at_samples: chunk.at_samples, samples: chunk.samples.clone() });
                    }
                    let Some(enc) = opus.as_mut() else { continue };
                    // The sound's first chunk, later than the segment's first picture: silence
                    // before it, so that the sound starts where the segment does (the muxer puts
                    // a track's first fragment at its start whatever its first packet's time,
                    // which would play the sound early and leave a hole after it).
                    let lead_in = match (audio_pos, writer.open_start_samples()) {
                        (None, Some(start)) => chunk.at_samples.saturating_sub(start) as usize,
                        _ => 0,
                    };
                    // The position of the next packet: where this chunk starts, minus what is
                    // still buffered in the encoder.
                    let pos = *audio_pos.get_or_insert(chunk.at_samples - lead_in as u64);
                    let pushed = if lead_in > 0 {
                        enc.push(&vec![0.0; lead_in]).and_then(|mut silence| {
                            silence.extend(enc.push(&chunk.samples)?);
                            Ok(silence)
                        })
                    } else {
                        enc.push(&chunk.samples)
                    };
                    match pushed {
                        Ok(packets) => {
                            let mut r = Ok(());
                            for (i, p) in packets.iter().enumerate() {
                                r = r.and_then(|_| writer.write_audio(pos + (i * crate::encode::OPUS_FRAME) as u64, p));
                            }
                            audio_pos = Some(pos + (packets.len() * crate::encode::OPUS_FRAME) as u64);
                            audio_frames += packets.len() as u64;
                            r
                        }
                        Err(e) => { failed = Some(format!("Opus encoder: {e}")); break; }
                    }
                }
                Err(_) => { audio_open = false; Ok(()) }
            },
        };
        if let Err(e) = result {
            shared.write_failed(&source, &e);
            failed = Some(e.to_string());
            break;
        }
    }
    // The sound's last packets, up to where the microphone stopped.
    if let (Some(enc), Some(pos), None) = (opus.as_mut(), audio_pos, failed.as_ref()) {
        let written = enc.finish().map_err(|e| format!("Opus encoder: {e}")).and_then(|packets| {
            audio_frames += packets.len() as u64;
            packets.iter().enumerate().try_for_each(|(i, p)| {
                let at = pos + (i * crate::encode::OPUS_FRAME) as u64;
                writer.write_audio(at, p).map_err(|e| {
                    shared.write_failed(&source, &e);
                    e.to_string()
                })
            })
        });
        failed = written.err();
    }
    if let Err(e) = writer.close() {
        shared.write_failed(&source, &e);
        failed.get_or_insert(e.to_string());
    }
    (std::mem::take(&mut writer.finished), audio_frames, failed)
}

/// A small grey copy of a camera picture, for the analysis.
fn grey(frame: &VideoFrame) -> Grey {
    use crate::frame::PixelFormat;
    let (w, h) = (frame.width, frame.height);
    match frame.format {
        PixelFormat::I420 => Grey::from_luma(&frame.data, w, h, w as usize),
        PixelFormat::Rgb8 => Grey::from_rgb(&frame.data, w, h, 3),
        PixelFormat::Rgba8 => Grey::from_rgb(&frame.data, w, h, 4),
        PixelFormat::Bgrx8 => {
            let rgb: Vec<u8> = frame.data.chunks_exact(4).flat_map(|p| [p[2], p[1], p[0]]).collect();
            Grey::from_rgb(&rgb, w, h, 3)
        }
    }
}

/// The camera's flags: pictures in, interval events out. Without its model the face flags are
/// off (said once, as `analysis.unavailable`); the camera flags go on. With `pictures` on, each
/// flag's opening event points to a small picture of the camera at that moment, filed like the
/// identity photos (source `evidence-camera`).
fn analyse_camera(shared: &Shared, opts: VisionOptions, pictures: Receiver<VideoFrame>) {
    use vigil_analysis::{head, mesh, vision};
    let dir = vision::models_dir();
    // A model that cannot load turns its flags off, said once; the other flags go on.
    let unavailable = |model: &str, e: &vision::ModelError| {
        let flags = opts.flags_of(model);
        let effect = if model == mesh::MESH_MODEL && opts.face_turned {
            "a raised head is not judged, nor a faint face confirmed, and a turned one less surely (by the detectors' \
                 key points; a bowed one as before)"
                .to_string()
        } else if model == mesh::MESH_MODEL {
            "a faint face is not confirmed (only faces the detectors are sure of count)".to_string()
        } else if flags.is_empty() {
            "faces too small for the near detector may count as missing, and a second one go unflagged".to_string()
        } else {
            format!("{} off for this session", flags.join(", "))
        };
        shared.event(
            EventKind::AnalysisUnavailable,
            json!({"flags": flags, "code": e.code(), "error": e.to_string()}),
            Some(format!("{e}: {effect}; recording goes on")),
        );
    };
    let faces = opts
        .wants_faces()
        .then(|| vision::FaceDetector::load(&dir))
        .and_then(|r| r.map_err(|e| unavailable(vision::FACE_MODEL, &e)).ok());
    let heads = faces
        .is_some()
        .then(|| head::HeadDetector::load(&dir))
        .and_then(|r| r.map_err(|e| unavailable(head::HEAD_MODEL, &e)).ok());
    let face_mesh = heads
        .is_some()
        .then(|| mesh::FaceMesh::load(&dir))
        .and_then(|r| r.map_err(|e| unavailable(mesh::MESH_MODEL, &e)).ok());
    let with_pictures = opts.pictures;
    // Every face flag needs the near model.
    let face_flags = opts.flags_of(vision::FACE_MODEL);
    let mut analyzer = VisionAnalyzer::new(opts, faces, heads).with_mesh(face_mesh);
    let mut last = 0;
    for frame in pictures {
        let at_ms = frame.captured.as_millis() as u64;
        last = at_ms;
        for edge in analyzer.push(at_ms, grey(&frame)) {
            let picture = match &edge {
                Edge::Open { .. } if with_pictures => file_evidence(shared, &frame),
                _ => None,
            };
            shared.flag(edge, picture.map_or(json!({}), |sequence| json!({"picture": sequence})));
        }
        if let Some((e, _)) = analyzer.take_failure() {
            // Said once: such pictures are skipped, never taken for "no face".
            shared.event(
                EventKind::AnalysisUnavailable,
                json!({"flags": face_flags, "code": e.code(), "error": e.to_string()}),
                Some(format!("{e}: the face flags skip such pictures; recording goes on")),
            );
        }
    }
    for edge in analyzer.finish(last) {
        shared.flag(edge, json!({}));
    }
    tracing::debug!(
        "camera analysis: faces looked for in {} pictures, by the far detector in {}",
        analyzer.detections(),
        analyzer.head_detections()
    );
}

/// Files a 320-pixel-wide JPEG of `frame` as evidence (sealed when the recording is); its
/// sequence number, or `None` (logged) when it could not be made or written.
fn file_evidence(shared: &Shared, frame: &VideoFrame) -> Option<u64> {
    let jpeg = match frame.thumbnail_jpeg(320)? {
        Ok(jpeg) => jpeg,
        Err(e) => {
            tracing::warn!("evidence picture: {e}");
            return None;
        }
    };
    let (bytes, sealed) = match shared.seal.as_deref() {
        Some(recipient) => match vigil_spool::seal::seal_bytes(&jpeg, recipient) {
            Ok(sealed) => (sealed, true),
            Err(e) => {
                tracing::warn!("evidence picture not sealed, not filed: {e}");
                return None;
            }
        },
        None => (jpeg, false),
    };
    shared
        .spool
        .add_picture(EVIDENCE_SOURCE, &bytes, sealed)
        .map_err(|e| tracing::warn!("evidence picture not filed: {e}"))
        .ok()
}

/// The source of the camera pictures filed as flags' evidence.
pub const EVIDENCE_SOURCE: &str = "evidence-camera";

/// Speech in the microphone: 48 kHz chunks in, `speech` intervals out, on the recording's clock.
fn analyse_speech(shared: &Shared, opts: SpeechOptions, chunks: Receiver<MicChunk>) {
    let note = if opts.screen_reader_note { json!({"accommodation": "screen_reader"}) } else { json!({}) };
    let mut detector = SpeechDetector::new(opts);
    let mut origin_ms = None;
    let mut resampler = To16k::default();
    for chunk in chunks {
        let origin = *origin_ms.get_or_insert(chunk.at_samples / 48);
        for edge in detector.push(&resampler.push(&chunk.samples)) {
            shared.flag(edge.shifted(origin), note.clone());
        }
    }
    if let (Some(flag), Some(origin)) = (detector.end(), origin_ms) {
        shared.flag(Edge::Close(flag).shifted(origin), note);
    }
}

/// 48 kHz float samples to 16 kHz 16-bit: the mean of each three (a low-pass good enough for a
/// voice detector).
#[derive(Default)]
struct To16k {
    carry: Vec<f32>,
}

impl To16k {
    fn push(&mut self, samples: &[f32]) -> Vec<i16> {
        self.carry.extend_from_slice(samples);
        let whole = self.carry.len() / 3 * 3;
        let out = self.carry[..whole]
            .chunks_exact(3)
            .map(|t| ((t[0] + t[1] + t[2]) / 3.0 * 32767.0).clamp(-32768.0, 32767.0) as i16)
            .collect();
        self.carry.drain(..whole);
        out
    }
}

/// What an encoder hands the on-device analysis: a copy of a camera picture every so many
/// milliseconds, and a copy of each microphone chunk.
#[derive(Default)]
struct Taps {
    camera: Option<(crossbeam_channel::Sender<VideoFrame>, u64)>,
    speech: Option<crossbeam_channel::Sender<MicChunk>>,
}

/// Records until `stop` is stopped (by the caller: a timer, Ctrl-C, the end of the exam) or the
/// disk is full. Recovers what an earlier crash left in the spool first. Events go to `timeline`,
/// segments to its spool; `status` tells which sources record now.
pub fn record(
    timeline: Arc<Timeline>,
    opts: &RecordOptions,
    stop: StopToken,
    status: &RecorderStatus,
) -> Result<RecordSummary, RecordError> {
    let spool = timeline.spool().clone();
    let seal = opts.encrypt_to.clone();
    let recovered = segment::recover(&spool, seal.as_deref())?;
    let shared = Arc::new(Shared {
        spool,
        timeline,
        epoch: Instant::now(),
        stop,
        plan: opts.plan,
        seal,
        status: status.clone(),
        messages: Mutex::new(Vec::new()),
        failed_threads: Mutex::new(Vec::new()),
        disk_full: std::sync::atomic::AtomicBool::new(false),
        blank: Mutex::new(crate::blank::BlankWatch::default()),
        analysis: opts.analysis.clone(),
        speech: opts.speech,
    });
    for r in &recovered {
        shared.event(
            EventKind::SegmentRecovered,
            json!({"source": r.source, "sequence": r.sequence, "frames": r.video_frames, "duration_ms": r.duration_ms}),
            None,
        );
    }
    shared.event(
        EventKind::CaptureStarted,
        json!({"camera": format!("{:?}", opts.camera), "microphone": opts.microphone, "screens": opts.screens}),
        None,
    );

    // Microphone first, so that the camera track can carry it.
    let mic_dropped = Arc::new(AtomicU64::new(0));
    let (mut mic, mic_rx) = if opts.microphone {
        let (tx, rx) = bounded::<MicChunk>(256);
        match microphone::start_stream(tx, shared.epoch, mic_dropped.clone()) {
            Ok(stream) => (Some(stream), Some(rx)),
            Err(e) => {
                shared.event(
                    EventKind::DeviceMissing,
                    json!({"device": "microphone", "error": e.to_string()}),
                    Some(format!("microphone: {e}; recording goes on without sound")),
                );
                (None, None)
            }
        }
    } else {
        (None, None)
    };
    let mic_name = mic.as_ref().map(|m| m.device.clone());

    let mut finished: Vec<SourceSummary> = Vec::new();
    let mut tracks: Vec<Track> = Vec::new();
    let camera = match crate::camera::open(opts.camera.clone(), opts.camera_size, opts.camera_fps as u32) {
        Ok(c) => c,
        Err(e) => {
            shared.event(
                EventKind::DeviceMissing,
                json!({"device": "camera", "error": e.to_string()}),
                Some(format!("{e}; recording goes on without a camera")),
            );
            None
        }
    };
    let mut mic_rx = mic_rx;
    if let Some((source, name)) = camera {
        let desc = match &mic_name {
            Some(m) => format!("{name} + {m}"),
            None => name,
        };
        tracks.push(Track::start(&shared, source, desc, Content::Camera, opts.camera_fps, mic_rx.take())?);
    }
    if let Some(rx) = mic_rx.take() {
        // No camera: the microphone gets a track of its own? Not in this version: the audio
        // rides with the camera. Say so rather than record silence.
        drop(rx);
        mic = None;
        shared.event(
            EventKind::CaptureAudioWithoutCamera,
            json!({}),
            Some("microphone: not recorded, since there is no camera track to carry it".into()),
        );
    }

    // Screens: one track per monitor, following hot-plug.
    let mut screens: HashMap<MonitorId, usize> = HashMap::new();
    let mut refused: std::collections::HashSet<MonitorId> = std::collections::HashSet::new();
    let mut next_screen = 0usize;
    // Monitors unplugged during the recording, by name and position: one that comes back keeps
    // its source (`screen-N`), and its segments go on from the next sequence number.
    let mut unplugged: HashMap<(String, i32, i32), usize> = HashMap::new();
    let mut last_poll = None::<Instant>;
    // On X11 the monitor list is re-read when RandR says the layout changed (and once a minute
    // in case a notification is missed); elsewhere on every poll.
    #[cfg(target_os = "linux")]
    let mut layout = if opts.screens { crate::x11::LayoutChanges::new().ok() } else { None };
    #[cfg(target_os = "linux")]
    let mut last_read = Instant::now();
    while !shared.stop.is_stopped() {
        // A screen whose capture failed while its monitor is still there (screen sharing
        // stopped, say): its track ends now, and it counts as a screen Vigil cannot see.
        if let Some(pos) = tracks
            .iter()
            .position(|t| t.source.starts_with("screen-") && t.pacer.as_ref().is_some_and(|p| p.is_finished()))
        {
            let track = tracks.remove(pos);
            let source = track.source.clone();
            finished.push(track.finish(&shared));
            shared.screen_seen(&source, ScreenSeen::Lost, shared.now_ms());
        }
        if let Some(m) = mic.as_ref() {
            if let Ok(err) = m.errors.try_recv() {
                shared.event(
                    EventKind::DeviceLost,
                    json!({"device": "microphone", "error": err}),
                    Some(format!("microphone lost: {err}; recording goes on without sound")),
                );
                mic = None;
            }
        }
        #[allow(unused_mut)]
        let mut due = opts.screens && last_poll.is_none_or(|t| t.elapsed() >= opts.monitor_poll);
        #[cfg(target_os = "linux")]
        if due && last_poll.is_some() {
            if let Some(l) = layout.as_mut() {
                due = l.changed() || last_read.elapsed() >= Duration::from_secs(60);
                if !due {
                    last_poll = Some(Instant::now());
                }
            }
        }
        if due {
            #[cfg(target_os = "linux")]
            {
                last_read = Instant::now();
            }
            // Monitors present at the start are "recorded"; any later one was "added".
            let initial = last_poll.is_none();
            last_poll = Some(Instant::now());
            match screen::monitors() {
                Ok(now) => {
                    // Monitors the candidate left out of the desktop's sharing dialog: said once.
                    #[cfg(target_os = "linux")]
                    if initial {
                        for name in crate::portal::unshared() {
                            let error = "not shared in the desktop's screen-sharing dialog: Vigil cannot see it";
                            shared.event(
                                EventKind::DeviceMissing,
                                json!({"device": format!("monitor {name}"), "error": error}),
                                Some(format!("monitor {name}: {error}")),
                            );
                        }
                    }
                    let present: Vec<&MonitorId> = now.iter().collect();
                    // Gone: end their tracks.
                    let gone: Vec<MonitorId> = screens.keys().filter(|k| !present.contains(k)).cloned().collect();
                    for id in gone {
                        let index = screens.remove(&id);
                        if let Some(i) = index {
                            unplugged.insert((id.name.clone(), id.x, id.y), i);
                        }
                        if let Some(source) = index.map(|src| format!("screen-{src}")) {
                            // Its track may have ended already, its capture failing first.
                            if let Some(pos) = tracks.iter().position(|t| t.source == source) {
                                finished.push(tracks.remove(pos).finish(&shared));
                            }
                            shared.screen_seen(&source, ScreenSeen::Unplugged, shared.now_ms());
                            shared.event(EventKind::MonitorRemoved, json!({"source": source, "name": id.name, "x": id.x, "y": id.y, "width": id.width, "height": id.height}),
                                Some(format!("monitor {} removed", id.name)));
                        }
                    }
                    for id in now {
                        if screens.contains_key(&id) || refused.contains(&id) {
                            continue;
                        }
                        let returned = unplugged.remove(&(id.name.clone(), id.x, id.y));
                        let index = returned.unwrap_or(next_screen);
                        let source = format!("screen-{index}");
                        let desc = format!("monitor {} {}x{} at ({},{})", id.name, id.width, id.height, id.x, id.y);
                        let src = match ScreenSource::open(source.clone(), &id) {
                            Ok(s) => s,
                            Err(e) => {
                                // Said once: a monitor this desktop does not let Vigil see (Xwayland)
                                // is not tried again at every poll.
                                shared.event(
                                    EventKind::DeviceMissing,
                                    json!({"device": format!("monitor {}", id.name), "error": e.to_string()}),
                                    Some(format!("{e}; it is not recorded")),
                                );
                                refused.insert(id);
                                continue;
                            }
                        };
                        tracks.push(Track::start(
                            &shared,
                            Box::new(src),
                            desc,
                            Content::Screen,
                            opts.screen_fps,
                            None,
                        )?);
                        shared.event(if initial { EventKind::MonitorRecorded } else { EventKind::MonitorAdded },
                            json!({"source": source, "name": id.name, "x": id.x, "y": id.y, "width": id.width, "height": id.height,
                                "returned": returned.is_some()}), None);
                        screens.insert(id, index);
                        if returned.is_none() {
                            next_screen += 1;
                        }
                    }
                }
                Err(e) if screens.is_empty() && next_screen == 0 => {
                    shared.event(
                        EventKind::DeviceMissing,
                        json!({"device": "monitors", "error": e.to_string()}),
                        Some(format!("{e}; recording goes on without screens")),
                    );
                    last_poll = Some(Instant::now() + Duration::from_secs(3600));
                }
                Err(e) => tracing::warn!(error = %e, "cannot list monitors"),
            }
        }
        shared.stop.wait(Duration::from_millis(50));
    }

    // The pictures stop first and the sound after them, so that the sound goes on to the camera's
    // last picture. Dropping the microphone ends the audio queue: the camera track drains, closes.
    for track in &mut tracks {
        track.stop_pictures(&shared);
    }
    drop(mic);
    let seconds = shared.epoch.elapsed().as_secs_f64();
    finished.extend(tracks.into_iter().map(|t| t.finish(&shared)));
    shared.event(EventKind::CaptureStopped, json!({"seconds": seconds}), None);
    let messages = std::mem::take(&mut *shared.messages.lock().unwrap_or_else(|p| p.into_inner()));
    let failed_threads = std::mem::take(&mut *shared.failed_threads.lock().unwrap_or_else(|p| p.into_inner()));
    let disk_full = shared.disk_full.load(Ordering::Relaxed);
    let ever_blind = shared.blank.lock().unwrap_or_else(|p| p.into_inner()).ever_blind;
    let blind = ever_blind || (opts.screens && next_screen == 0);
    Ok(RecordSummary { seconds, sources: finished, recovered, messages, disk_full, failed_threads, blind })
}

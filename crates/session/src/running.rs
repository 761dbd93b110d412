//! A session while it records: the recorder thread, the upload thread, and the live status both
//! keep current (what a status bar shows).

use serde::Serialize;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vigil_capture::{RecordError, RecordOptions, RecordSummary, RecorderStatus};
use vigil_core::event::{interval_id, Event, EventKind};
use vigil_core::protocol::{Heartbeat, Instruction};
use vigil_core::{CompiledPolicy, StopToken};
use vigil_spool::timeline::TimelineFailures;
use vigil_spool::Timeline;
use vigil_uplink::{backlog, backoff, drain, SessionInfo, Uplink};
use vigil_watch::live::{Alert, AlertSink, LiveWatchers, WatchRules};

/// What the candidate's status bar shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveStatus {
    /// Sources with a segment open right now (`camera`, `screen-0`, ...).
    pub recording: Vec<String>,
    pub elapsed_secs: u64,
    /// The last contact with the server succeeded.
    pub online: bool,
    /// Why the backlog is not going out while the server answers ("online, not delivering").
    pub delivery_error: Option<String>,
    pub backlog_segments: u64,
    pub backlog_events: u64,
    /// Proctor instructions received so far, oldest first.
    pub messages: Vec<Instruction>,
    /// Set when the proctor ended the exam.
    pub terminated: Option<String>,
    /// Set when recording stopped on its own (disk full, ...).
    pub recording_error: Option<String>,
    /// Rules broken right now (prohibited application running, monitor rule), for the candidate.
    pub warnings: Vec<Alert>,
    /// A warning that must be resolved before the exam goes on (`require_close`).
    pub blocked: bool,
    /// Events that could not be written to the spool (the record is incomplete).
    pub timeline_failures: TimelineFailures,
    /// On-device flags open now (`face.missing`, `speech`, ...), for a gentle prompt to the
    /// candidate; empty when the policy's `[analysis] prompts` is off.
    pub prompts: Vec<&'static str>,
}

/// Alerts from the watchers: an event on the timeline, a warning on screen while it lasts.
struct SessionSink {
    timeline: Arc<Timeline>,
    status: Arc<Mutex<LiveStatus>>,
}

impl AlertSink for SessionSink {
    fn alert(&self, alert: Alert) {
        self.timeline.record(alert.event());
        tracing::warn!(kind = %alert.kind, data = %alert.data, "exam rule");
        let mut s = lock(&self.status);
        // A warning lasts until the end of its interval.
        if alert.active {
            s.warnings.push(alert);
        } else if let Some(id) = &alert.interval {
            s.warnings.retain(|w| w.interval.as_ref() != Some(id));
        }
        s.blocked = s.warnings.iter().any(|w| w.blocking);
    }
}

/// A recording session; [`stop`](Running::stop) ends recording and uploading (not delivery).
pub struct Running {
    stop: StopToken,
    uploads_done: StopToken,
    status: Arc<Mutex<LiveStatus>>,
    recorder: Option<JoinHandle<Result<RecordSummary, RecordError>>>,
    recorder_status: RecorderStatus,
    uploader: Option<JoinHandle<()>>,
    timeline: Arc<Timeline>,
    started: Instant,
    prompts: bool,
    /// Speech is a note for this candidate (the screen-reader accommodation): never prompted.
    quiet_speech: bool,
    _watchers: LiveWatchers,
}

impl Running {
    pub(crate) fn start(
        timeline: Arc<Timeline>,
        info: SessionInfo,
        policy: &Arc<CompiledPolicy>,
        options: RecordOptions,
        stop: StopToken,
        up: Uplink,
    ) -> Running {
        let options_speech_note = options.speech.is_some_and(|o| o.screen_reader_note);
        let status = Arc::new(Mutex::new(LiveStatus::default()));
        let sink = Arc::new(SessionSink { timeline: timeline.clone(), status: status.clone() });
        let watchers = LiveWatchers::start(WatchRules::from_policy(policy), sink);
        let uploads_done = StopToken::new();
        let recorder_status = RecorderStatus::default();
        let recorder = {
            let (timeline, stop, status, recorder_status) =
                (timeline.clone(), stop.clone(), status.clone(), recorder_status.clone());
            std::thread::spawn(move || {
                let result = vigil_capture::record(timeline, &options, stop, &recorder_status);
                if let Err(e) = &result {
                    lock(&status).recording_error = Some(e.to_string());
                }
                result
            })
        };
        let uploader = {
            let (stop, done, status) = (stop.clone(), uploads_done.clone(), status.clone());
            let timeline = timeline.clone();
            std::thread::spawn(move || upload_loop(&up, &timeline, &info, &stop, &done, &status))
        };
        Running {
            stop,
            uploads_done,
            status,
            recorder: Some(recorder),
            recorder_status,
            uploader: Some(uploader),
            timeline,
            started: Instant::now(),
            prompts: policy.policy.analysis.prompts,
            // A screen reader's own voice is not something to put right.
            quiet_speech: options_speech_note,
            _watchers: watchers,
        }
    }

    /// The live status: what records now (from the recorder), time, connection, warnings, and
    /// the events that could not be written.
    pub fn status(&self) -> LiveStatus {
        let mut s = lock(&self.status).clone();
        s.recording = self.recorder_status.recording();
        s.elapsed_secs = self.started.elapsed().as_secs();
        s.timeline_failures = self.timeline.failures();
        if self.prompts {
            s.prompts = self.recorder_status.open_flags();
            s.prompts.retain(|kind| !(self.quiet_speech && *kind == "speech"));
        }
        s
    }

    /// Whether recording has ended (stopped, terminated by the proctor, or failed).
    pub fn is_finished(&self) -> bool {
        self.recorder.as_ref().is_none_or(|r| r.is_finished())
    }

    /// Stops recording and the upload thread; returns what was recorded. A recorder thread that
    /// panicked is an error (and a `critical` event), never an empty success.
    pub fn stop(mut self) -> Result<RecordSummary, RecordError> {
        self.stop.stop();
        let summary = match self.recorder.take().map(|r| r.join()) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => {
                let what = vigil_core::panic_message(&*panic);
                self.timeline
                    .record(Event::new(EventKind::CaptureThreadFailed, json!({"source": "recorder", "error": what})));
                Err(RecordError::Panicked(what))
            }
            None => Ok(RecordSummary::default()),
        };
        self.uploads_done.stop();
        if let Some(u) = self.uploader.take() {
            let _ = u.join();
        }
        summary
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.stop();
        self.uploads_done.stop();
    }
}

fn lock(m: &Mutex<LiveStatus>) -> std::sync::MutexGuard<'_, LiveStatus> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps the backend current while recording: backlog, heartbeat, proctor instructions. The
/// heartbeat goes on while delivery fails, so the proctor sees "online, not delivering".
fn upload_loop(
    up: &Uplink,
    timeline: &Timeline,
    session: &SessionInfo,
    stop: &StopToken,
    done: &StopToken,
    status: &Mutex<LiveStatus>,
) {
    let mut attempt = 0;
    let mut next_heartbeat = Instant::now();
    let mut online = true;
    let mut offline: Option<String> = None;
    while !done.is_stopped() {
        let delivered = drain(up, timeline, session);
        let (backlog_segments, backlog_events) = match &delivered {
            Ok(r) => (r.segments_left as u64, r.events_left),
            Err(_) => backlog(timeline.spool()).unwrap_or_default(),
        };
        if delivered.is_err() || Instant::now() >= next_heartbeat {
            next_heartbeat = Instant::now() + Duration::from_secs(5);
            let hb = Heartbeat { backlog_segments, backlog_events };
            online = match up.heartbeat(session, &hb) {
                Ok(instructions) => {
                    for ins in instructions {
                        obey(timeline, stop, status, ins);
                    }
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed");
                    false
                }
            };
        } else if delivered.is_ok() {
            online = true;
        }
        // Offline is an interval, from the first failure to the next success.
        match (&offline, online) {
            (None, false) => {
                let id = interval_id("network");
                timeline.record(Event::new(EventKind::NetworkOffline, json!({})).opens(&id));
                offline = Some(id);
            }
            (Some(id), true) => {
                timeline.record(Event::new(EventKind::NetworkOnline, json!({})).closes(id));
                offline = None;
            }
            _ => {}
        }
        {
            let mut s = lock(status);
            s.online = online;
            s.backlog_segments = backlog_segments;
            s.backlog_events = backlog_events;
            s.delivery_error = delivered.as_ref().err().map(|e| e.to_string());
        }
        let wait = match &delivered {
            Ok(_) => {
                attempt = 0;
                Duration::from_millis(500)
            }
            Err(e) => {
                tracing::warn!(error = %e, "upload paused; will retry");
                attempt += 1;
                backoff(attempt)
            }
        };
        done.wait(wait);
    }
}

fn obey(timeline: &Timeline, stop: &StopToken, status: &Mutex<LiveStatus>, ins: Instruction) {
    timeline
        .record(Event::new(EventKind::ProctorInstruction, serde_json::to_value(&ins).unwrap_or_else(|_| json!({}))));
    match &ins {
        Instruction::Message { text } => tracing::info!("message from the proctor: {text}"),
        Instruction::Warning { text } => tracing::warn!("warning from the proctor: {text}"),
        Instruction::Pause => tracing::info!("the proctor paused the exam"),
        Instruction::Terminate { reason } => {
            tracing::warn!("the proctor ended the exam: {reason}");
            lock(status).terminated = Some(reason.clone());
            stop.stop();
        }
    }
    lock(status).messages.push(ins);
}

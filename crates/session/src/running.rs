//! A session while it records: the recorder thread, the upload thread, and the live status both
//! keep current (what a status bar shows).

use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vigil_capture::{RecordOptions, RecordSummary};
use vigil_core::protocol::{Heartbeat, Instruction};
use vigil_core::spool::Spool;
use vigil_uplink::{backoff, drain, SessionInfo, Uplink};
use vigil_watch::live::{Alert, AlertSink, LiveWatchers, WatchRules};

/// What the candidate's status bar shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveStatus {
    /// Sources with a segment open right now (`camera`, `screen-0`, ...).
    pub recording: Vec<String>,
    pub elapsed_secs: u64,
    /// The last contact with the server succeeded.
    pub online: bool,
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
}

/// Alerts from the watchers: an event in the spool, a warning on screen while it lasts.
struct SessionSink {
    spool: Arc<Spool>,
    status: Arc<Mutex<LiveStatus>>,
}

impl AlertSink for SessionSink {
    fn alert(&self, alert: Alert) {
        if let Err(e) = self.spool.add_event(&alert.kind, alert.data.clone()) {
            tracing::error!(error = %e, kind = %alert.kind, "cannot record an alert");
        }
        tracing::warn!(kind = %alert.kind, data = %alert.data, "exam rule");
        let mut s = lock(&self.status);
        let pid = alert.data.get("pid").cloned();
        if alert.active {
            s.warnings.push(alert);
        } else if alert.kind == "monitor.rule_ok" {
            s.warnings.retain(|w| w.kind != "monitor.rule_broken");
        } else if pid.is_some() {
            s.warnings.retain(|w| w.data.get("pid") != pid.as_ref());
        }
        s.blocked = s.warnings.iter().any(|w| w.blocking);
    }
}

/// A recording session; [`stop`](Running::stop) ends recording and uploading (not delivery).
pub struct Running {
    stop: Arc<AtomicBool>,
    uploads_done: Arc<AtomicBool>,
    status: Arc<Mutex<LiveStatus>>,
    recorder: Option<JoinHandle<Result<RecordSummary, vigil_capture::recorder::RecordError>>>,
    uploader: Option<JoinHandle<()>>,
    spool: Arc<Spool>,
    started: Instant,
    _watchers: Option<LiveWatchers>,
}

impl Running {
    pub(crate) fn start(
        spool: Arc<Spool>,
        info: SessionInfo,
        policy: &vigil_core::ExamPolicy,
        options: RecordOptions,
        stop: Arc<AtomicBool>,
    ) -> Running {
        let status = Arc::new(Mutex::new(LiveStatus::default()));
        let watchers = match WatchRules::from_policy(policy) {
            Ok(rules) => {
                Some(LiveWatchers::start(rules, Arc::new(SessionSink { spool: spool.clone(), status: status.clone() })))
            }
            Err(e) => {
                tracing::error!(error = %e, "the exam's application rules do not compile; watchers are off");
                None
            }
        };
        let uploads_done = Arc::new(AtomicBool::new(false));
        let recorder = {
            let (spool, stop, status) = (spool.clone(), stop.clone(), status.clone());
            std::thread::spawn(move || {
                let result = vigil_capture::record(spool, &options, stop);
                if let Err(e) = &result {
                    lock(&status).recording_error = Some(e.to_string());
                }
                result
            })
        };
        let uploader = {
            let (spool, stop, done, status) = (spool.clone(), stop.clone(), uploads_done.clone(), status.clone());
            std::thread::spawn(move || upload_loop(&spool, &info, &stop, &done, &status))
        };
        Running {
            stop,
            uploads_done,
            status,
            recorder: Some(recorder),
            uploader: Some(uploader),
            spool,
            started: Instant::now(),
            _watchers: watchers,
        }
    }

    /// The live status, with the open segments read from the spool right now.
    pub fn status(&self) -> LiveStatus {
        let mut s = lock(&self.status).clone();
        s.recording = open_sources(&self.spool);
        s.elapsed_secs = self.started.elapsed().as_secs();
        s
    }

    /// Whether recording has ended (stopped, terminated by the proctor, or failed).
    pub fn is_finished(&self) -> bool {
        self.recorder.as_ref().is_none_or(|r| r.is_finished())
    }

    /// Stops recording and the upload thread; returns what was recorded.
    pub fn stop(mut self) -> Result<RecordSummary, vigil_capture::recorder::RecordError> {
        self.stop.store(true, Ordering::Relaxed);
        let summary = match self.recorder.take().map(|r| r.join()) {
            Some(Ok(result)) => result,
            _ => Ok(RecordSummary::default()),
        };
        self.uploads_done.store(true, Ordering::Relaxed);
        if let Some(u) = self.uploader.take() {
            let _ = u.join();
        }
        summary
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.uploads_done.store(true, Ordering::Relaxed);
    }
}

fn lock(m: &Mutex<LiveStatus>) -> std::sync::MutexGuard<'_, LiveStatus> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sources whose segment is being written (`NAME-000003.mp4.partial`).
fn open_sources(spool: &Spool) -> Vec<String> {
    let mut sources: Vec<String> = std::fs::read_dir(spool.segments_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let stem = name.strip_suffix(".partial")?.strip_suffix(".mp4")?;
                    Some(stem.rsplit_once('-')?.0.to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    sources.sort();
    sources.dedup();
    sources
}

/// Keeps the backend current while recording: backlog, heartbeat, proctor instructions.
fn upload_loop(spool: &Spool, session: &SessionInfo, stop: &AtomicBool, done: &AtomicBool, status: &Mutex<LiveStatus>) {
    let Ok(up) = Uplink::new(&session.server) else { return };
    let mut attempt = 0;
    let mut next_heartbeat = Instant::now();
    let mut was_online = true;
    while !done.load(Ordering::Relaxed) {
        let backlog_segments = spool.pending_uploads().map(|p| p.len() as u64).unwrap_or(0);
        let mut result = drain(&up, spool, session).map(|r| {
            let mut s = lock(status);
            s.backlog_segments = r.segments_left as u64;
            s.backlog_events = r.events_left;
        });
        if result.is_ok() && Instant::now() >= next_heartbeat {
            next_heartbeat = Instant::now() + Duration::from_secs(5);
            let hb = Heartbeat { backlog_segments, backlog_events: 0 };
            result = up.heartbeat(session, &hb).map(|instructions| {
                for ins in instructions {
                    obey(spool, stop, status, ins);
                }
            });
        }
        let online = result.is_ok();
        if online != was_online {
            let _ = spool.add_event(if online { "network.online" } else { "network.offline" }, json!({}));
            was_online = online;
        }
        let wait = match result {
            Ok(()) => {
                attempt = 0;
                lock(status).online = true;
                Duration::from_millis(500)
            }
            Err(e) => {
                tracing::warn!(error = %e, "upload paused; will retry");
                let mut s = lock(status);
                s.online = false;
                s.backlog_segments = backlog_segments;
                attempt += 1;
                backoff(attempt)
            }
        };
        let until = Instant::now() + wait;
        while Instant::now() < until && !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn obey(spool: &Spool, stop: &AtomicBool, status: &Mutex<LiveStatus>, ins: Instruction) {
    let _ = spool.add_event("proctor.instruction", serde_json::to_value(&ins).unwrap_or_else(|_| json!({})));
    match &ins {
        Instruction::Message { text } => tracing::info!("message from the proctor: {text}"),
        Instruction::Warning { text } => tracing::warn!("warning from the proctor: {text}"),
        Instruction::Pause => tracing::info!("the proctor paused the exam"),
        Instruction::Terminate { reason } => {
            tracing::warn!("the proctor ended the exam: {reason}");
            lock(status).terminated = Some(reason.clone());
            stop.store(true, Ordering::Relaxed);
        }
    }
    lock(status).messages.push(ins);
}

//! Watchers that run during a session and report what breaks the exam's rules, as [`Alert`]s:
//! prohibited applications (started, still running, closed, gone), the monitor rule, programs
//! recording the sound output, virtual cameras and the like ([`crate::hidden`]), and rules that
//! hide windows from capture ([`crate::hiding_rules`]). They live here, not in the
//! app, so that `vigil run --headless` has them too.
//!
//! Processes are found by polling the `/proc` directory (a cheap `readdir`); only new process ids
//! are looked at (`/proc/PID/exe`, `/proc/PID/comm`), so a poll costs well under a millisecond.
//! Other platforms fall back to a full sysinfo snapshot.

use serde::Serialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_core::apps::AppMatcher;
use vigil_core::event::{interval_id, Event, EventKind};
use vigil_core::lockdown::AppAction;
use vigil_core::{CompiledPolicy, StopToken};

/// Something the candidate should see and the proctor will find on the timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    /// `app.prohibited.started`, `.running`, `.closed`, `.exited`, `monitor.rule_broken`,
    /// `monitor.rule_ok`; a broken rule opens an interval, its end closes it.
    #[serde(serialize_with = "kind_name")]
    pub kind: EventKind,
    /// The interval this alert opens or closes (the rule broken, until it is not).
    pub interval: Option<String>,
    /// The rule is being broken right now (false for "it stopped").
    pub active: bool,
    /// The exam must not go on until this is resolved (`require_close`).
    pub blocking: bool,
    pub data: serde_json::Value,
}

fn kind_name<S: serde::Serializer>(kind: &EventKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

impl Alert {
    /// The timeline event this alert is.
    pub fn event(&self) -> Event {
        let event = Event::new(self.kind, self.data.clone());
        match (&self.interval, self.active) {
            (Some(id), true) => event.opens(id),
            (Some(id), false) => event.closes(id),
            (None, _) => event,
        }
    }
}

/// Where alerts go: the session's spool (as events) and the candidate's screen.
pub trait AlertSink: Send + Sync {
    fn alert(&self, alert: Alert);
}

/// What the watchers enforce, from the exam policy.
pub struct WatchRules {
    pub apps: Apps,
    pub app_action: AppAction,
    pub min_monitors: u32,
    pub max_monitors: u32,
    /// How often processes are polled (monitors: every other poll).
    pub poll: Duration,
}

impl WatchRules {
    /// The rules of a compiled policy (its application matcher is shared, not compiled again).
    pub fn from_policy(policy: &Arc<CompiledPolicy>) -> WatchRules {
        WatchRules {
            apps: Apps::Compiled(policy.clone()),
            app_action: policy.policy.lockdown.prohibited_app_action,
            min_monitors: policy.policy.requirements.min_monitors,
            max_monitors: policy.policy.requirements.max_monitors,
            poll: Duration::from_millis(250),
        }
    }
}

/// The application matcher: a compiled policy's, or one of its own (tests, benchmarks).
pub enum Apps {
    Compiled(Arc<CompiledPolicy>),
    Own(AppMatcher),
}

impl Apps {
    fn matcher(&self) -> &AppMatcher {
        match self {
            Apps::Compiled(p) => &p.apps,
            Apps::Own(m) => m,
        }
    }
}

/// The running watchers; dropping them stops them.
pub struct LiveWatchers {
    stop: StopToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveWatchers {
    pub fn start(rules: WatchRules, sink: Arc<dyn AlertSink>) -> LiveWatchers {
        let stop = StopToken::new();
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new().name("watchers".into()).spawn(move || run(rules, sink, &stop)).ok()
        };
        LiveWatchers { stop, thread }
    }
}

impl Drop for LiveWatchers {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A prohibited process being tracked.
struct Flagged {
    app_id: String,
    app_name: String,
    exe: Option<String>,
    /// The interval its alerts share.
    interval: String,
}

fn run(rules: WatchRules, sink: Arc<dyn AlertSink>, stop: &StopToken) {
    let own = std::process::id();
    let mut known: HashSet<u32> = HashSet::new();
    let mut flagged: HashMap<u32, Flagged> = HashMap::new();
    let mut first = true;
    let mut monitors_ok: Option<bool> = None;
    let mut monitor_interval = String::new();
    let mut tick = 0u64;
    let mut signals = SignalWatch::start();
    while !stop.is_stopped() {
        let began = Instant::now();
        let pids = list_pids();
        // Processes that appeared since the last poll (all of them on the first).
        for &pid in pids.difference(&known) {
            if pid == own {
                continue;
            }
            let Some((name, exe)) = describe(pid) else { continue };
            let Some((rule, matched_by)) = rules.apps.matcher().find(exe.as_deref(), &name) else { continue };
            let data = json!({"pid": pid, "process_name": name, "exe": exe, "app_id": rule.id, "app_name": rule.name, "matched_by": matched_by, "action": rules.app_action});
            let kind = if first { EventKind::AppProhibitedRunning } else { EventKind::AppProhibitedStarted };
            let interval = interval_id(&format!("app-{pid}"));
            sink.alert(Alert {
                kind,
                interval: Some(interval.clone()),
                active: true,
                blocking: rules.app_action == AppAction::RequireClose,
                data,
            });
            if rules.app_action == AppAction::Close {
                // SAFETY: kill(2) with a pid we just read and a plain signal; no memory involved.
                let ok = unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) } == 0;
                sink.alert(Alert {
                    kind: EventKind::AppProhibitedClosed,
                    interval: None,
                    active: false,
                    blocking: false,
                    data: json!({"pid": pid, "app_id": rule.id, "app_name": rule.name, "signal_sent": ok}),
                });
            }
            flagged.insert(pid, Flagged { app_id: rule.id.clone(), app_name: rule.name.clone(), exe, interval });
        }
        // Prohibited processes that are gone (a zombie waiting for its parent is gone too).
        let gone: Vec<u32> = flagged.keys().copied().filter(|p| !pids.contains(p) || is_zombie(*p)).collect();
        for pid in gone {
            if let Some(f) = flagged.remove(&pid) {
                sink.alert(Alert {
                    kind: EventKind::AppProhibitedExited,
                    interval: Some(f.interval),
                    active: false,
                    blocking: false,
                    data: json!({"pid": pid, "app_id": f.app_id, "app_name": f.app_name, "exe": f.exe}),
                });
            }
        }
        known = pids;
        first = false;

        // The monitor rule, every other poll.
        if tick.is_multiple_of(2) {
            let count = crate::displays::count();
            if let Some(count) = count {
                let ok = (rules.min_monitors..=rules.max_monitors).contains(&(count as u32));
                if monitors_ok != Some(ok) {
                    if !ok || monitors_ok.is_some() {
                        let kind = if ok { EventKind::MonitorRuleOk } else { EventKind::MonitorRuleBroken };
                        if !ok {
                            monitor_interval = interval_id("monitor-rule");
                        }
                        sink.alert(Alert {
                            kind,
                            interval: Some(monitor_interval.clone()),
                            active: !ok,
                            blocking: false,
                            data: json!({"monitors": count, "min": rules.min_monitors, "max": rules.max_monitors}),
                        });
                    }
                    monitors_ok = Some(ok);
                }
            }
        }
        signals.poll(tick, &*sink);
        tick += 1;
        stop.wait(rules.poll.saturating_sub(began.elapsed()));
    }
}

/// Programs recording the sound output (read again when the sound server says a recording
/// stream came or went), programs receiving a screen cast (every 4 polls), virtual cameras,
/// capture devices, virtual displays and the compositor's rules that hide windows from capture
/// (every 20 polls), each an interval while it lasts.
struct SignalWatch {
    /// The compositor whose configuration is read for hiding rules.
    compositor: Option<&'static str>,
    hiding_rules: HashMap<vigil_core::facts::HidingRule, String>,
    sound: Option<crate::hidden::SoundStreamChanges>,
    recorders: HashMap<vigil_core::facts::SoundRecorder, String>,
    cameras: HashMap<vigil_core::facts::VirtualCamera, String>,
    capture_devices: HashMap<vigil_core::facts::CaptureDevice, String>,
    screen_casts: HashMap<vigil_core::facts::ScreenCast, String>,
}

impl SignalWatch {
    fn start() -> SignalWatch {
        let sound = crate::hidden::SoundStreamChanges::start()
            .map_err(|e| tracing::warn!("cannot follow the sound server's recording streams: {e}"))
            .ok();
        let processes = crate::processes::snapshot().unwrap_or_default();
        SignalWatch {
            compositor: crate::desktop::compositor(&crate::desktop::env_var, &processes).map(|(name, _)| name),
            hiding_rules: HashMap::new(),
            sound,
            recorders: HashMap::new(),
            cameras: HashMap::new(),
            capture_devices: HashMap::new(),
            screen_casts: HashMap::new(),
        }
    }

    fn poll(&mut self, tick: u64, sink: &dyn AlertSink) {
        if tick == 0 || self.sound.as_ref().is_some_and(|s| s.changed()) {
            if let Ok(now) = crate::hidden::sound_output_recorders() {
                let kinds = (EventKind::AudioOutputRecorded, EventKind::AudioOutputReleased);
                follow(&mut self.recorders, now, kinds, "sound-recorder", sink);
            }
        }
        // PipeWire's graph, every 4 polls (a second): a screen shared with another program.
        if tick.is_multiple_of(4) {
            if let Ok(now) = crate::hidden::screen_casts() {
                let kinds = (EventKind::DisplayScreenCast, EventKind::DisplayScreenCastEnded);
                follow(&mut self.screen_casts, now, kinds, "screen-cast", sink);
            }
        }
        if tick.is_multiple_of(20) {
            let sys = std::path::Path::new("/sys");
            let now = crate::hidden::virtual_cameras(sys);
            follow(&mut self.cameras, now, (EventKind::CameraVirtual, EventKind::CameraVirtualGone), "camera", sink);
            let now = crate::hidden::capture_devices(sys);
            let kinds = (EventKind::DisplayCaptureDevice, EventKind::DisplayCaptureDeviceGone);
            follow(&mut self.capture_devices, now, kinds, "capture-device", sink);
            if let Some(compositor) = self.compositor {
                let now = crate::hiding_rules::read(compositor, &crate::desktop::env_var);
                let kinds = (EventKind::DesktopHidingRule, EventKind::DesktopHidingRuleRemoved);
                follow(&mut self.hiding_rules, now, kinds, "hiding-rule", sink);
            }
        }
    }
}

/// Opens an interval for each item of `now` not seen before, closes those no longer there.
fn follow<T: Serialize + Eq + std::hash::Hash + Clone>(
    known: &mut HashMap<T, String>,
    now: Vec<T>,
    (open, close): (EventKind, EventKind),
    prefix: &str,
    sink: &dyn AlertSink,
) {
    let alert = |kind, interval: &String, active, item: &T| Alert {
        kind,
        interval: Some(interval.clone()),
        active,
        blocking: false,
        data: serde_json::to_value(item).unwrap_or_default(),
    };
    let gone: Vec<T> = known.keys().filter(|k| !now.contains(k)).cloned().collect();
    for item in gone {
        if let Some(interval) = known.remove(&item) {
            sink.alert(alert(close, &interval, false, &item));
        }
    }
    for item in now {
        if let std::collections::hash_map::Entry::Vacant(entry) = known.entry(item) {
            let interval = interval_id(prefix);
            sink.alert(alert(open, &interval, true, entry.key()));
            entry.insert(interval);
        }
    }
}

/// Process ids from `/proc` (Linux), or a sysinfo snapshot elsewhere.
fn list_pids() -> HashSet<u32> {
    match std::fs::read_dir("/proc") {
        Ok(dir) => dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect(),
        Err(_) => crate::processes::snapshot().map(|s| s.into_iter().map(|p| p.pid).collect()).unwrap_or_default(),
    }
}

/// Whether a process has ended and only waits for its parent to collect it.
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Kernel name and executable path of a process (None if it is gone or a kernel thread).
fn describe(pid: u32) -> Option<(String, Option<String>)> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.display().to_string().trim_end_matches(" (deleted)").to_owned());
    if exe.is_none() && std::fs::read_to_string(format!("/proc/{pid}/cmdline")).map(|c| c.is_empty()).unwrap_or(true) {
        return None; // kernel thread
    }
    Some((comm.trim_end().to_owned(), exe))
}

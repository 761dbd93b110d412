//! The typed timeline: every observation during a session is an [`Event`] of a known
//! [`EventKind`], with a [`Severity`], bounded data, and optionally an [`Interval`] mark shared by
//! the event that opens a state ("AnyDesk running") and the one that closes it.
//!
//! The kinds, their severity and their data are listed once, in [`EVENT_KINDS`]; the JSON Schema
//! `schemas/event.v1.schema.json` and the README's table are generated from that list (a test
//! keeps them equal). Kinds outside the list travel only under the `x.` prefix ([`is_extension`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How much a reviewer should care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Routine facts (capture started, a page loaded).
    #[default]
    Info,
    /// Worth a look in context (a monitor added, a shortcut blocked).
    Notice,
    /// A rule broken or evidence missing (a prohibited application, focus lost).
    Warning,
    /// The record itself is damaged (disk full, a capture thread died).
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// The severity named `s` (`info`, `notice`, `warning`, `critical`).
    pub fn parse(s: &str) -> Option<Severity> {
        [Severity::Info, Severity::Notice, Severity::Warning, Severity::Critical].into_iter().find(|v| v.as_str() == s)
    }
}

/// Whether an event opens or closes an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Open,
    Close,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Open => "open",
            Phase::Close => "close",
        }
    }
}

/// The interval an event opens or closes; both events carry the same `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    pub id: String,
    pub phase: Phase,
}

impl Interval {
    /// From the two columns it is stored in (`interval_id`, `interval_phase`).
    pub fn from_columns(id: Option<String>, phase: Option<String>) -> Option<Interval> {
        Some(Interval { id: id?, phase: if phase.as_deref() == Some("close") { Phase::Close } else { Phase::Open } })
    }

    /// The two columns it is stored in.
    pub fn columns(interval: Option<&Interval>) -> (Option<&str>, Option<&'static str>) {
        match interval {
            Some(i) => (Some(i.id.as_str()), Some(i.phase.as_str())),
            None => (None, None),
        }
    }
}

macro_rules! event_kinds {
    ($( $variant:ident = $name:literal, $severity:ident, $interval:literal, $doc:literal, $data:literal; )*) => {
        /// Every kind of event Vigil itself writes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $( #[doc = $doc] $variant, )*
        }

        /// One row of the documented list of kinds.
        #[derive(Debug, Clone, Copy)]
        pub struct KindInfo {
            pub kind: EventKind,
            /// The stable dotted name on the wire.
            pub name: &'static str,
            pub severity: Severity,
            /// `open`, `close` or empty: the interval role events of this kind take.
            pub interval: &'static str,
            pub description: &'static str,
            /// The fields of `data`.
            pub data: &'static str,
        }

        /// The documented kinds, in the order of the schema and the README.
        pub const EVENT_KINDS: &[KindInfo] = &[
            $( KindInfo { kind: EventKind::$variant, name: $name, severity: Severity::$severity, interval: $interval, description: $doc, data: $data }, )*
        ];

        impl EventKind {
            /// The stable dotted name (`app.prohibited.started`).
            pub fn as_str(self) -> &'static str {
                match self { $( EventKind::$variant => $name, )* }
            }

            /// The severity events of this kind get unless the writer says otherwise.
            pub fn severity(self) -> Severity {
                match self { $( EventKind::$variant => Severity::$severity, )* }
            }

            /// The kind with this dotted name, if Vigil knows it.
            pub fn parse(name: &str) -> Option<EventKind> {
                match name { $( $name => Some(EventKind::$variant), )* _ => None }
            }
        }
    };
}

event_kinds! {
    SessionJoined = "session.joined", Info, "", "The candidate joined the exam (after consent).", "exam_code";
    AccommodationApplied = "accommodation.applied", Info, "", "The organiser's screen-reader accommodation applies to this candidate: speech the microphone hears is noted (or not flagged), never a risk.", "screen_reader, speech_flags (note | off)";
    SessionResumed = "session.resumed", Notice, "", "An unfinished session was resumed after the app or the machine stopped.", "";
    IdentityPhoto = "identity.photo", Info, "", "An identity photo was filed (encrypted, uploaded like a segment).", "kind (face | id), sequence";
    CaptureStarted = "capture.started", Info, "", "Recording started.", "camera, microphone, screens, at_ms";
    CaptureStopped = "capture.stopped", Info, "", "Recording stopped.", "seconds, at_ms";
    CaptureDiskFull = "capture.disk_full", Critical, "", "The disk filled up: all capture stopped; what was recorded is kept.", "source, error, at_ms";
    CaptureWriteFailed = "capture.write_failed", Critical, "", "A track could not be written and ended.", "source, error, at_ms";
    CaptureThreadFailed = "capture.thread_failed", Critical, "", "A capture or encoder thread died (panicked); its track ended.", "source, error, at_ms";
    CaptureDroppedFrames = "capture.dropped_frames", Notice, "", "A source's queue was full and frames were dropped.", "source, frames, at_ms";
    CaptureAudioWithoutCamera = "capture.audio_without_camera", Warning, "", "The microphone was not recorded since there is no camera track to carry it.", "at_ms";
    CaptureScreenBlank = "capture.screen_blank", Warning, "open", "A screen's recording has shown only black for 10 s: Vigil cannot see that screen (a display served through Xwayland, a screen that is off, a desktop that blocks capture).", "source, since_ms, at_ms";
    CaptureScreenVisible = "capture.screen_visible", Info, "close", "A screen that was recorded as black shows a picture again.", "source, blank_ms, at_ms";
    CaptureBlind = "capture.blind", Critical, "open", "Every screen is lost or has shown only black for 10 s: the recording does not show what the candidate sees.", "screens, at_ms";
    CaptureSighted = "capture.sighted", Info, "close", "A screen shows a picture again after every screen was black or lost.", "blind_ms, at_ms";
    FaceMissing = "face.missing", Warning, "open", "No face in front of the camera (on-device analysis; the interval starts where the face went).", "start_ms, picture (its evidence: sequence of evidence-camera), at_ms";
    FaceFound = "face.found", Info, "close", "A face is in front of the camera again.", "start_ms, end_ms, peak, at_ms";
    FaceMultiple = "face.multiple", Warning, "open", "More than one face in front of the camera (on-device analysis).", "start_ms, picture, at_ms";
    FaceSingle = "face.single", Info, "close", "One face again.", "start_ms, end_ms, peak, at_ms";
    FaceTurned = "face.turned", Warning, "open", "The head is turned away from the camera, left or right, by at least the policy's `turned_degrees`, bowed by at least its `bowed_degrees`, or raised by at least its `raised_degrees` (on-device analysis: MediaPipe's face mesh on the lone face, or where it cannot read it, the key points of the one face the near detector sees or of the far detector's lone head; for a bow, the far detector's key points).", "start_ms, picture, at_ms";
    FaceFacing = "face.facing", Info, "close", "The head faces the camera again (or left the picture).", "start_ms, end_ms, peak, at_ms";
    CameraCovered = "camera.covered", Warning, "open", "The camera is covered or in the dark (on-device analysis).", "start_ms, picture, at_ms";
    CameraUncovered = "camera.uncovered", Info, "close", "The camera shows a picture again.", "start_ms, end_ms, peak, at_ms";
    CameraFrozen = "camera.frozen", Warning, "open", "The camera shows exactly the same picture for seconds: a still image or a broken virtual camera (on-device analysis).", "start_ms, picture, at_ms";
    CameraMoving = "camera.moving", Info, "close", "The camera's picture changes again.", "start_ms, end_ms, peak, at_ms";
    SpeechHeard = "speech.heard", Warning, "open", "Speech in the microphone (on-device analysis; the interval starts where the speech began). With the screen-reader accommodation it is a note (info).", "start_ms, accommodation, at_ms";
    SpeechEnded = "speech.ended", Info, "close", "The speech stopped.", "start_ms, end_ms, peak, at_ms";
    AnalysisUnavailable = "analysis.unavailable", Warning, "", "A flag the policy asks for cannot be computed, or not on every picture (its model is missing or corrupt, or fails on a picture, which is then skipped, never taken for no face); the recording and the other flags go on.", "flags, code, error, at_ms";
    SegmentRecovered = "segment.recovered", Notice, "", "A segment cut short by a crash was recovered up to its last complete fragment.", "source, sequence, frames, duration_ms, at_ms";
    DeviceMissing = "device.missing", Warning, "", "A device was not there at the start; recording goes on without it.", "device, error, at_ms";
    DeviceLost = "device.lost", Warning, "", "A device stopped working during the recording.", "device or source, error, at_ms";
    MonitorRecorded = "monitor.recorded", Info, "", "A monitor present at the start is recorded.", "source, name, x, y, width, height, at_ms";
    MonitorAdded = "monitor.added", Notice, "", "A monitor was connected while recording; it gets its own track, or its old one back when it was unplugged before (same name and position: returned).", "source, name, x, y, width, height, returned, at_ms";
    MonitorRemoved = "monitor.removed", Notice, "", "A monitor was disconnected; its track ended.", "source, name, x, y, width, height, at_ms";
    MonitorRuleBroken = "monitor.rule_broken", Warning, "open", "The number of monitors is outside the policy's range.", "monitors, min, max";
    MonitorRuleOk = "monitor.rule_ok", Info, "close", "The number of monitors is within the policy's range again.", "monitors, min, max";
    AppProhibitedRunning = "app.prohibited.running", Warning, "open", "A prohibited application was already running when the exam started.", "pid, process_name, exe, app_id, app_name, matched_by, action";
    AppProhibitedStarted = "app.prohibited.started", Warning, "open", "A prohibited application started during the exam.", "pid, process_name, exe, app_id, app_name, matched_by, action";
    AppProhibitedClosed = "app.prohibited.closed", Notice, "", "Vigil asked a prohibited application to end (policy action `close`).", "pid, app_id, app_name, signal_sent";
    AppProhibitedExited = "app.prohibited.exited", Info, "close", "A prohibited application is gone.", "pid, app_id, app_name, exe";
    AudioOutputRecorded = "audio.output_recorded", Warning, "open", "Another program records this computer's sound output (what the speakers play), as AI interview assistants do to hear the interviewer.", "app, pid, binary, source";
    AudioOutputReleased = "audio.output_released", Info, "close", "That program stopped recording the sound output.", "app, pid, binary, source";
    CameraVirtual = "camera.virtual", Warning, "open", "A camera that is not a physical device is present (v4l2loopback, OBS's or DroidCam's virtual camera): it can show a recorded face.", "device, name, driver, reason";
    CameraVirtualGone = "camera.virtual_gone", Info, "close", "That virtual camera is gone.", "device, name, driver, reason";
    DisplayCaptureDevice = "display.capture_device", Warning, "open", "An HDMI capture device is plugged in, or an output is a capture device, a virtual display (evdi) or has no EDID: the screen can be carried to another machine.", "kind, device, name, reason";
    DisplayCaptureDeviceGone = "display.capture_device_gone", Info, "close", "That capture device or virtual display is gone.", "kind, device, name, reason";
    DisplayScreenCast = "display.screen_cast", Warning, "open", "Another program receives a screen cast (a shared screen or window) through PipeWire: a video call sharing the screen, a helper watching it.", "source, app, pid, binary";
    DisplayScreenCastEnded = "display.screen_cast_ended", Info, "close", "That program no longer receives the screen cast.", "source, app, pid, binary";
    DesktopHidingRule = "desktop.hiding_rule", Warning, "open", "A rule in the compositor's configuration hides windows from screen capture (Hyprland, niri and KWin apply a changed configuration at once, so it is read again every 5 s).", "compositor, file, line, windows, from";
    DesktopHidingRuleRemoved = "desktop.hiding_rule_removed", Info, "close", "That rule is no longer in the compositor's configuration.", "compositor, file, line, windows, from";
    FocusLost = "focus.lost", Warning, "open", "The exam window lost the focus (for longer than the grace time).", "since_ms_ago";
    FocusRegained = "focus.regained", Info, "close", "The exam window has the focus again.", "away_ms";
    WindowOverExam = "window.over_exam", Warning, "open", "Another window is stacked over the exam window (X11).", "windows";
    WindowOverExamCleared = "window.over_exam_cleared", Info, "close", "No window is over the exam window any more.", "";
    Navigation = "navigation", Info, "", "The exam window went to an address the rules allow.", "url";
    NavigationBlocked = "navigation.blocked", Warning, "", "The rules stopped the exam window from going to an address.", "url, rule";
    NavigationNewWindowBlocked = "navigation.new_window_blocked", Notice, "", "The exam page tried to open a new window.", "url";
    NavigationDownloadBlocked = "navigation.download_blocked", Notice, "", "The exam page tried to download a file.", "url";
    ClipboardCleared = "clipboard.cleared", Info, "", "The clipboard was emptied at the start of the exam.", "";
    ClipboardCopy = "clipboard.copy", Notice, "", "Copy in the exam page (policy `log`).", "";
    ClipboardCut = "clipboard.cut", Notice, "", "Cut in the exam page (policy `log`).", "";
    ClipboardPaste = "clipboard.paste", Notice, "", "Paste in the exam page (policy `log`).", "";
    ClipboardCopyBlocked = "clipboard.copy.blocked", Warning, "", "Copy in the exam page was blocked.", "";
    ClipboardCutBlocked = "clipboard.cut.blocked", Warning, "", "Cut in the exam page was blocked.", "";
    ClipboardPasteBlocked = "clipboard.paste.blocked", Warning, "", "Paste into the exam page was blocked.", "";
    ClipboardTaken = "clipboard.taken", Notice, "", "Another program took the clipboard during the exam (a copy outside it); with the policy's `block` Vigil takes it back.", "selection, taken_back";
    KeyboardShortcutBlocked = "keyboard.shortcut_blocked", Notice, "", "A system shortcut taken by the lockdown was pressed.", "shortcut";
    LockdownKeyboard = "lockdown.keyboard", Info, "", "How many shortcut grabs the lockdown holds.", "grabs";
    LockdownUnsupported = "lockdown.unsupported", Warning, "", "A lockdown step this platform or desktop cannot do.", "feature, error";
    LockdownLimited = "lockdown.limited", Warning, "", "This desktop refused lockdown steps the policy asks for (on Wayland: shortcuts and window stacking); one event names them all with their reasons, after the lockdown was applied.", "platform, limits";
    LockdownReleased = "lockdown.released", Info, "", "The lockdown's steps were undone, in reverse order.", "steps";
    NetworkOffline = "network.offline", Notice, "open", "The backend could not be reached; everything is kept and sent later.", "";
    NetworkOnline = "network.online", Info, "close", "The backend is reachable again.", "";
    UploadSetAside = "upload.set_aside", Critical, "", "The server refused a segment for good (its bytes changed on this disk since it was recorded, or the server holds another file under its name); it is kept locally, set aside, and the rest goes on.", "file, source, sequence, code, error, sha256_recorded, sha256_now";
    ExamPageLoaded = "exam.page_loaded", Info, "", "The exam page loaded in the exam window.", "url";
    ExamCloseBlocked = "exam.close_blocked", Notice, "", "Closing the exam window was refused.", "";
    ExamQuitWithPassword = "exam.quit_with_password", Notice, "", "A proctor ended the exam early with the quit password; what was recorded is delivered.", "";
    ExamQuitPasswordWrong = "exam.quit_password_wrong", Warning, "", "A wrong quit password was given; the next attempt waits twice as long.", "wait_s";
    ProctorInstruction = "proctor.instruction", Info, "", "An instruction from the proctor reached the candidate.", "kind (message | warning | pause | terminate), text or reason";
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Whether `name` is an extension kind (`x.something`): accepted on the wire, not documented here.
pub fn is_extension(name: &str) -> bool {
    name.strip_prefix("x.").is_some_and(|rest| {
        (1..=60).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
    })
}

/// Whether the server accepts events of this kind: a documented one, or an `x.` extension.
pub fn is_accepted_kind(name: &str) -> bool {
    EventKind::parse(name).is_some() || is_extension(name)
}

/// The longest string (in characters) an event's data may hold; longer ones are cut.
pub const MAX_STRING_CHARS: usize = 1024;
/// The most items an array in an event's data may hold; further ones are dropped.
pub const MAX_ARRAY_ITEMS: usize = 64;
/// The most keys an object in an event's data may hold; further ones are dropped.
pub const MAX_OBJECT_KEYS: usize = 64;
/// How deep objects and arrays may nest; deeper values become `null`.
pub const MAX_DEPTH: usize = 8;
/// The longest interval id.
pub const MAX_INTERVAL_ID: usize = 64;
/// The most bytes an event's data may take as JSON, after the other limits; bigger data is
/// replaced by [`omitted`].
pub const MAX_DATA_BYTES: usize = 32 * 1024;

/// What stands for data that was too big to keep: `{"omitted": {"bytes": N, "sha256": HEX}}`,
/// the size and SHA-256 of its JSON text.
pub fn omitted(json: &[u8]) -> Value {
    use sha2::Digest;
    serde_json::json!({"omitted": {"bytes": json.len(), "sha256": hex::encode(sha2::Sha256::digest(json))}})
}

/// Cuts `data` to the documented limits ([`bound`]), then replaces it by [`omitted`] if its JSON
/// is still over [`MAX_DATA_BYTES`]; true if anything was cut.
pub fn bound_data(data: &mut Value) -> bool {
    let mut cut = bound(data, 0);
    let json = serde_json::to_vec(data).unwrap_or_default();
    if json.len() > MAX_DATA_BYTES {
        *data = omitted(&json);
        cut = true;
    }
    cut
}

/// One observation, before the spool gives it a sequence number and a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub severity: Severity,
    pub interval: Option<Interval>,
    pub data: Value,
    /// Some value in `data` was over a limit and was cut.
    pub truncated: bool,
}

impl Event {
    /// An event of `kind` with its default severity; `data` is cut to the limits.
    pub fn new(kind: EventKind, data: Value) -> Event {
        let mut data = data;
        let truncated = bound_data(&mut data);
        Event { kind, severity: kind.severity(), interval: None, data, truncated }
    }

    /// The same event with another severity.
    pub fn with_severity(mut self, severity: Severity) -> Event {
        self.severity = severity;
        self
    }

    /// This event opens the interval `id`.
    pub fn opens(self, id: &str) -> Event {
        self.mark(id, Phase::Open)
    }

    /// This event closes the interval `id`.
    pub fn closes(self, id: &str) -> Event {
        self.mark(id, Phase::Close)
    }

    fn mark(mut self, id: &str, phase: Phase) -> Event {
        let id: String = id.chars().take(MAX_INTERVAL_ID).collect();
        self.interval = Some(Interval { id, phase });
        self
    }
}

/// A new interval id, unique within a session: `PREFIX-UNIXMS-N`.
pub fn interval_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    format!("{prefix}-{ms}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Cuts `value` to the documented limits; true if anything was cut.
pub fn bound(value: &mut Value, depth: usize) -> bool {
    if depth >= MAX_DEPTH && (value.is_object() || value.is_array()) {
        *value = Value::Null;
        return true;
    }
    match value {
        Value::String(s) => cut(s, MAX_STRING_CHARS),
        Value::Array(items) => {
            let mut cut_any = items.len() > MAX_ARRAY_ITEMS;
            items.truncate(MAX_ARRAY_ITEMS);
            for item in items.iter_mut() {
                cut_any |= bound(item, depth + 1);
            }
            cut_any
        }
        Value::Object(map) => {
            let mut cut_any = false;
            if map.len() > MAX_OBJECT_KEYS {
                let extra: Vec<String> = map.keys().skip(MAX_OBJECT_KEYS).cloned().collect();
                for k in extra {
                    map.remove(&k);
                }
                cut_any = true;
            }
            let long_keys: Vec<String> = map.keys().filter(|k| k.chars().count() > 64).cloned().collect();
            for k in long_keys {
                if let Some(v) = map.remove(&k) {
                    map.insert(k.chars().take(64).collect(), v);
                }
                cut_any = true;
            }
            for v in map.values_mut() {
                cut_any |= bound(v, depth + 1);
            }
            cut_any
        }
        _ => false,
    }
}

/// Cuts a string to `max` characters; true if it was longer.
fn cut(s: &mut String, max: usize) -> bool {
    match s.char_indices().nth(max) {
        Some((at, _)) => {
            s.truncate(at);
            true
        }
        None => false,
    }
}

/// The JSON Schema of one event on the wire (`schemas/event.v1.schema.json`).
pub fn schema() -> Value {
    let kinds: Vec<Value> = EVENT_KINDS
        .iter()
        .map(|k| {
            let mut d = format!("{} Severity: {}.", k.description, k.severity.as_str());
            if !k.interval.is_empty() {
                d.push_str(&format!(" Interval: {}.", k.interval));
            }
            if !k.data.is_empty() {
                d.push_str(&format!(" Data: {}.", k.data));
            }
            serde_json::json!({"const": k.name, "description": d})
        })
        .chain(std::iter::once(serde_json::json!({
            "type": "string",
            "pattern": "^x\\.[a-z0-9._-]{1,60}$",
            "description": "An extension kind, not documented by Vigil."
        })))
        .collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.invalid/vigil/schemas/event.v1.schema.json",
        "title": "Vigil timeline event (v1)",
        "description": format!(
            "One event on a session's timeline, as the client sends it (POST /v1/sessions/{{id}}/events) and the review API returns it. Every string in `data` is at most {MAX_STRING_CHARS} characters, arrays at most {MAX_ARRAY_ITEMS} items, objects at most {MAX_OBJECT_KEYS} keys, nesting at most {MAX_DEPTH} levels; a longer value is cut and the event says `truncated`. Generated from crates/core/src/event.rs."
        ),
        "type": "object",
        "required": ["seq", "time", "kind", "data"],
        "properties": {
            "seq": {"type": "integer", "minimum": 1, "description": "Per session, from 1, without gaps."},
            "time": {"type": "string", "description": "When it was observed (RFC 3339, UTC)."},
            "kind": {"anyOf": kinds},
            "severity": {"enum": ["info", "notice", "warning", "critical"], "default": "info"},
            "interval": {
                "type": "object",
                "required": ["id", "phase"],
                "additionalProperties": false,
                "description": "The interval this event opens or closes; the other end carries the same id.",
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": MAX_INTERVAL_ID},
                    "phase": {"enum": ["open", "close"]}
                }
            },
            "truncated": {"type": "boolean", "default": false, "description": "A value in `data` was over a limit and was cut."},
            "data": {"type": "object"}
        },
        "additionalProperties": false
    })
}

/// The README's table of kinds (Markdown), generated from [`EVENT_KINDS`].
pub fn markdown_table() -> String {
    let mut out = String::from("| kind | severity | interval | when | data |\n|---|---|---|---|---|\n");
    for k in EVENT_KINDS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            k.name,
            k.severity.as_str(),
            k.interval,
            k.description,
            k.data
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in EVENT_KINDS {
            assert_eq!(EventKind::parse(k.name), Some(k.kind));
            assert_eq!(k.kind.as_str(), k.name);
            assert!(seen.insert(k.name), "{} twice", k.name);
            assert!(!is_extension(k.name));
        }
        assert_eq!(EventKind::parse("app.prohibited.nope"), None);
        assert!(is_accepted_kind("x.lms.quiz_submitted"));
        assert!(!is_accepted_kind("x."));
        assert!(!is_accepted_kind("made.up"));
        assert!(!is_accepted_kind("x.UPPER"));
    }

    #[test]
    fn long_values_are_cut_and_marked() {
        let long = "é".repeat(MAX_STRING_CHARS + 10);
        let e = Event::new(EventKind::NavigationBlocked, json!({"url": long, "rule": "x"}));
        assert!(e.truncated);
        assert_eq!(e.data["url"].as_str().unwrap().chars().count(), MAX_STRING_CHARS);
        assert_eq!(e.data["rule"], "x");
        let e = Event::new(EventKind::WindowOverExam, json!({"windows": (0..200).collect::<Vec<_>>()}));
        assert!(e.truncated);
        assert_eq!(e.data["windows"].as_array().unwrap().len(), MAX_ARRAY_ITEMS);
        let e = Event::new(EventKind::Navigation, json!({"url": "https://a.example/"}));
        assert!(!e.truncated);
        let mut deep = json!(1);
        for _ in 0..20 {
            deep = json!([deep]);
        }
        assert!(Event::new(EventKind::Navigation, json!({ "d": deep })).truncated);
    }

    #[test]
    fn intervals_and_severity() {
        let id = interval_id("app");
        let open = Event::new(EventKind::AppProhibitedStarted, json!({})).opens(&id);
        let close = Event::new(EventKind::AppProhibitedExited, json!({})).closes(&id);
        assert_eq!(open.interval.as_ref().unwrap().id, close.interval.as_ref().unwrap().id);
        assert_eq!(open.severity, Severity::Warning);
        assert_ne!(interval_id("app"), interval_id("app"));
        assert_eq!(
            Event::new(EventKind::Navigation, json!({})).with_severity(Severity::Critical).severity,
            Severity::Critical
        );
    }
}

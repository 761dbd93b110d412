//! The exam policy: what a system check (and later a session) requires, and which verdict each
//! finding gets. Written by the institution as JSON or TOML; see `policies/` and
//! `schemas/policy.v1.schema.json` at the repository root.

use crate::apps::{self, AppRule, Os};
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// The only policy schema version this build understands.
pub const POLICY_SCHEMA: u32 = 1;

/// An exam policy. Every section has defaults, so `schema = 1` alone is a valid policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExamPolicy {
    /// Policy schema version; must be 1.
    pub schema: u32,
    /// A human-readable name, shown in reports.
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default)]
    pub requirements: Requirements,
    #[serde(default)]
    pub verdicts: Verdicts,
    #[serde(default)]
    pub applications: Applications,
    /// What happens during the exam: navigation, prohibited applications, keyboard, clipboard.
    #[serde(default)]
    pub lockdown: crate::lockdown::Lockdown,
    /// What the organiser grants candidates who need it (a screen reader in use).
    #[serde(default)]
    pub accommodations: Accommodations,
    /// How the reviewer's workspace ranks sessions.
    #[serde(default)]
    pub review: Review,
    /// Which flags the candidate's device computes from the camera, and how long a condition
    /// must last before it is one.
    #[serde(default)]
    pub analysis: Analysis,
    /// The age X25519 recipient (`age1...`) segments are encrypted to. Set by the backend when
    /// it signs the exam's policy; its identity stays on the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt_to: Option<String>,
}

/// `[review]`: how much each kind of event weighs in a session's risk score (0-100). Kinds not
/// named weigh by their severity: critical 40, warning 15, notice 3, info 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Review {
    /// Event kind (`app.prohibited.running`) to its weight, 0-100, per occurrence.
    pub weights: std::collections::BTreeMap<String, u32>,
}

impl Review {
    /// The weight of one event of `kind` with `severity` (`info`, `notice`, `warning`,
    /// `critical`).
    pub fn weight(&self, kind: &str, severity: &str) -> u32 {
        self.weights.get(kind).copied().unwrap_or(match severity {
            "critical" => 40,
            "warning" => 15,
            "notice" => 3,
            _ => 0,
        })
    }
}

/// `[analysis]`: the on-device flags (camera and microphone). A flag turned off is not computed
/// at all, and the consent screen does not list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Analysis {
    /// No face in front of the camera.
    pub face_missing: bool,
    /// More than one face.
    pub face_multiple: bool,
    /// A head turned away from the camera by at least `turned_degrees`, left or right, bowed
    /// by at least `bowed_degrees` (looking down: at a phone or notes in the lap), or raised by
    /// at least `raised_degrees`.
    pub face_turned: bool,
    /// The camera covered or in the dark.
    pub camera_covered: bool,
    /// The same picture for `frozen_seconds` (a still image, a broken virtual camera).
    pub camera_frozen: bool,
    /// Speech in the microphone (the screen-reader accommodation can make it a note or turn it off).
    pub speech: bool,
    /// At each camera flag's start, a small picture of the camera (320x240 JPEG), sealed and
    /// uploaded like the identity photos, as the flag's evidence.
    pub pictures: bool,
    /// A gentle prompt on the candidate's screen while a flag lasts ("we cannot see your face"),
    /// so they can put it right before it becomes evidence.
    pub prompts: bool,
    /// How long a face condition must last before it is a flag (0.5-60 s).
    pub min_seconds: f32,
    /// How long a picture must stay the same to be frozen (1-600 s).
    pub frozen_seconds: f32,
    /// Camera pictures analysed per second (0.5-10).
    pub camera_fps: f32,
    /// How far a head must be turned, left or right, to be turned away (15-80 degrees).
    pub turned_degrees: f32,
    /// How far a head must be bowed to be turned away (20-80 degrees; a glance at the keyboard
    /// is about 20).
    pub bowed_degrees: f32,
    /// How far a head must be raised (looking up, above the screen) to be turned away (20-80
    /// degrees).
    pub raised_degrees: f32,
}

impl Default for Analysis {
    fn default() -> Analysis {
        Analysis {
            face_missing: true,
            face_multiple: true,
            face_turned: true,
            camera_covered: true,
            camera_frozen: true,
            speech: true,
            pictures: true,
            prompts: true,
            min_seconds: 3.0,
            frozen_seconds: 5.0,
            camera_fps: 2.0,
            turned_degrees: 35.0,
            bowed_degrees: 35.0,
            raised_degrees: 25.0,
        }
    }
}

impl Analysis {
    pub fn min_seconds_ms(&self) -> u64 {
        (self.min_seconds * 1000.0) as u64
    }

    pub fn frozen_seconds_ms(&self) -> u64 {
        (self.frozen_seconds * 1000.0) as u64
    }

    /// The flags that are on, by event kind (for the consent screen and the README).
    pub fn flags_on(&self) -> Vec<&'static str> {
        [
            (self.face_missing, "face.missing"),
            (self.face_multiple, "face.multiple"),
            (self.face_turned, "face.turned"),
            (self.camera_covered, "camera.covered"),
            (self.camera_frozen, "camera.frozen"),
            (self.speech, "speech"),
        ]
        .into_iter()
        .filter_map(|(on, kind)| on.then_some(kind))
        .collect()
    }
}

/// Accommodations the organiser grants, for every candidate or for named ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Accommodations {
    /// Candidates who use a screen reader, by the name they join with (compared without case
    /// and surrounding spaces); `"*"` grants it to every candidate of the exam.
    pub screen_reader: Vec<String>,
    /// What speech heard by the microphone means for them: a flag that carries this
    /// accommodation as a note instead of a warning, or no speech flags at all.
    pub speech_flags: SpeechFlags,
}

/// How speech flags treat a candidate with the screen-reader accommodation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeechFlags {
    /// Speech is flagged, marked "screen reader in use", and is not a risk.
    #[default]
    Note,
    /// Speech is not flagged at all.
    Off,
}

impl SpeechFlags {
    pub fn as_str(self) -> &'static str {
        match self {
            SpeechFlags::Note => "note",
            SpeechFlags::Off => "off",
        }
    }
}

impl Accommodations {
    /// Whether `candidate` (the name they joined with) has the screen-reader accommodation.
    pub fn screen_reader_for(&self, candidate: &str) -> bool {
        let candidate = candidate.trim().to_lowercase();
        self.screen_reader.iter().any(|n| n == "*" || n.trim().to_lowercase() == candidate)
    }
}

/// Thresholds the machine must meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Requirements {
    pub min_monitors: u32,
    pub max_monitors: u32,
    pub min_memory_mib: u64,
    pub min_free_disk_mib: u64,
    /// With `--mic-probe`: an RMS level below this (dBFS) counts as a silent microphone.
    pub min_microphone_dbfs: f64,
    /// Desktop sessions the exam may be taken in (`x11`, `wayland`): on Wayland Vigil cannot
    /// see which window is on top nor hold the keyboard's shortcuts.
    pub session_types: Vec<SessionType>,
}

/// A kind of desktop session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionType {
    X11,
    Wayland,
}

impl SessionType {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionType::X11 => "x11",
            SessionType::Wayland => "wayland",
        }
    }
}

impl Default for Requirements {
    fn default() -> Self {
        Requirements {
            min_monitors: 1,
            max_monitors: 1,
            min_memory_mib: 2048,
            min_free_disk_mib: 1024,
            min_microphone_dbfs: -50.0,
            session_types: vec![SessionType::X11, SessionType::Wayland],
        }
    }
}

/// The verdict each kind of finding gets when its condition holds (`ok` makes it informational).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Verdicts {
    pub camera_missing: Verdict,
    pub microphone_missing: Verdict,
    pub microphone_silent: Verdict,
    pub monitor_count: Verdict,
    pub display_mismatch: Verdict,
    pub screen_capture: Verdict,
    /// Another program records the computer's sound output.
    pub sound_recorder: Verdict,
    /// A camera that is not a physical device (v4l2loopback, OBS's virtual camera).
    pub virtual_camera: Verdict,
    /// An HDMI capture device, or an output that is one, virtual (evdi) or without an EDID.
    pub capture_device: Verdict,
    /// Another program receives a screen cast (a shared screen or window) through PipeWire.
    pub screen_cast: Verdict,
    /// The compositor can hide chosen windows from screen capture (Hyprland, niri, KWin 6).
    pub hiding_compositor: Verdict,
    /// The compositor's configuration has rules that hide windows from screen capture.
    pub hiding_rules: Verdict,
    pub virtual_machine: Verdict,
    pub remote_session: Verdict,
    pub prohibited_application: Verdict,
    pub low_memory: Verdict,
    pub low_disk: Verdict,
    pub backend_unreachable: Verdict,
    pub insecure_connection: Verdict,
}

impl Default for Verdicts {
    fn default() -> Self {
        use Verdict::*;
        Verdicts {
            camera_missing: Fail,
            microphone_missing: Fail,
            microphone_silent: Warn,
            monitor_count: Fail,
            display_mismatch: Warn,
            screen_capture: Fail,
            sound_recorder: Warn,
            virtual_camera: Warn,
            capture_device: Warn,
            screen_cast: Warn,
            hiding_compositor: Warn,
            hiding_rules: Warn,
            virtual_machine: Warn,
            remote_session: Fail,
            prohibited_application: Fail,
            low_memory: Warn,
            low_disk: Warn,
            backend_unreachable: Fail,
            insecure_connection: Fail,
        }
    }
}

/// Prohibited and allowed applications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Applications {
    /// Start from Vigil's built-in list for the running OS (`data/prohibited-apps/`).
    pub use_default_list: bool,
    /// Extra rules, added to (or, with the same id, replacing) the default ones.
    pub prohibited: Vec<AppRule>,
    /// Ids of rules that are allowed for this exam (removed from the list).
    pub allowed: Vec<String>,
}

impl Default for Applications {
    fn default() -> Self {
        Applications { use_default_list: true, prohibited: Vec::new(), allowed: Vec::new() }
    }
}

fn default_name() -> String {
    "Vigil default policy".to_owned()
}

impl Default for ExamPolicy {
    fn default() -> Self {
        ExamPolicy {
            schema: POLICY_SCHEMA,
            name: default_name(),
            requirements: Requirements::default(),
            verdicts: Verdicts::default(),
            applications: Applications::default(),
            lockdown: crate::lockdown::Lockdown::default(),
            accommodations: Accommodations::default(),
            review: Review::default(),
            analysis: Analysis::default(),
            encrypt_to: None,
        }
    }
}

/// Why a policy was rejected: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct PolicyError {
    /// Dotted path of the offending field (`verdicts.virtual_machine`, `applications.prohibited[2].executables[0]`),
    /// or `None` for a syntax error that has no field.
    pub field: Option<String>,
    pub message: String,
}

impl PolicyError {
    fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError { field: Some(field.into()), message: message.into() }
    }
}

/// The text format of a policy file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Toml,
}

impl Format {
    /// By file extension (`.json`, `.toml`), else by content: JSON starts with `{`.
    pub fn detect(path: Option<&Path>, text: &str) -> Format {
        match path.and_then(|p| p.extension()).and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
            Some(e) if e.eq_ignore_ascii_case("toml") => Format::Toml,
            _ if text.trim_start().starts_with('{') => Format::Json,
            _ => Format::Toml,
        }
    }
}

impl ExamPolicy {
    /// Parses and validates a policy. Every error names the field it is about.
    pub fn parse(text: &str, format: Format) -> Result<ExamPolicy, PolicyError> {
        let policy: ExamPolicy = match format {
            Format::Json => {
                let mut de = serde_json::Deserializer::from_str(text);
                serde_path_to_error::deserialize(&mut de).map_err(|e| {
                    let inner = e.inner();
                    let message = format!("{inner}");
                    field_error(e.path().to_string(), message)
                })?
            }
            Format::Toml => {
                let de = toml::Deserializer::parse(text)
                    .map_err(|e| PolicyError { field: None, message: one_line(&e.to_string()) })?;
                serde_path_to_error::deserialize(de).map_err(|e| {
                    let message = one_line(&e.inner().to_string());
                    field_error(e.path().to_string(), message)
                })?
            }
        };
        policy.validate()?;
        Ok(policy)
    }

    /// Checks what types alone cannot: version, ranges, consistency, application rules.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.schema != POLICY_SCHEMA {
            return Err(PolicyError::at(
                "schema",
                format!("unsupported policy schema {}; this Vigil reads schema {POLICY_SCHEMA}", self.schema),
            ));
        }
        let r = &self.requirements;
        if r.max_monitors == 0 {
            return Err(PolicyError::at("requirements.max_monitors", "must be at least 1"));
        }
        if r.min_monitors > r.max_monitors {
            return Err(PolicyError::at(
                "requirements.min_monitors",
                format!("{} is more than requirements.max_monitors ({})", r.min_monitors, r.max_monitors),
            ));
        }
        if r.session_types.is_empty() {
            return Err(PolicyError::at(
                "requirements.session_types",
                "lists no session type: no one could take the exam",
            ));
        }
        if !(-120.0..=0.0).contains(&r.min_microphone_dbfs) {
            return Err(PolicyError::at(
                "requirements.min_microphone_dbfs",
                format!("{} is outside -120..0 dBFS", r.min_microphone_dbfs),
            ));
        }
        if let Some(i) = self.accommodations.screen_reader.iter().position(|n| n.trim().is_empty()) {
            return Err(PolicyError::at(
                format!("accommodations.screen_reader[{i}]"),
                "a candidate's name is empty; use \"*\" for every candidate",
            ));
        }
        let a = &self.analysis;
        for (field, value, range) in [
            ("analysis.min_seconds", a.min_seconds, 0.5..=60.0),
            ("analysis.frozen_seconds", a.frozen_seconds, 1.0..=600.0),
            ("analysis.camera_fps", a.camera_fps, 0.5..=10.0),
            ("analysis.turned_degrees", a.turned_degrees, 15.0..=80.0),
            ("analysis.bowed_degrees", a.bowed_degrees, 20.0..=80.0),
            ("analysis.raised_degrees", a.raised_degrees, 20.0..=80.0),
        ] {
            if !range.contains(&value) {
                return Err(PolicyError::at(field, format!("{value} is outside {}-{}", range.start(), range.end())));
            }
        }
        if let Some((kind, w)) = self.review.weights.iter().find(|(k, w)| k.is_empty() || **w > 100) {
            return Err(PolicyError::at(format!("review.weights.{kind}"), format!("{w} is not a weight of 0-100")));
        }
        if let Some(r) = &self.encrypt_to {
            crate::compiled::parse_recipient(r).map_err(|e| PolicyError::at("encrypt_to", e.to_string()))?;
        }
        let l = &self.lockdown;
        if let Some(h) = &l.quit_password {
            crate::quit_password::validate(h).map_err(|e| {
                PolicyError::at("lockdown.quit_password", format!("{e}; make one with `vigil policy hash-password`"))
            })?;
        }
        if let Err(e) = crate::url_rules::UrlRules::new(&l.navigation, None) {
            return Err(PolicyError::at(
                format!("lockdown.navigation.{}[{}]", e.list, e.index),
                format!("invalid rule `{}`: {}", e.pattern, e.message),
            ));
        }
        let mut ids = HashSet::new();
        for (i, rule) in self.applications.prohibited.iter().enumerate() {
            rule.validate()
                .map_err(|(field, msg)| PolicyError::at(format!("applications.prohibited[{i}]{field}"), msg))?;
            if !ids.insert(rule.id.to_ascii_lowercase()) {
                return Err(PolicyError::at(
                    format!("applications.prohibited[{i}].id"),
                    format!("duplicate id `{}`", rule.id),
                ));
            }
            let alone = apps::AppMatcher::new(vec![rule.clone()])
                .map_err(|e| PolicyError::at(format!("applications.prohibited[{i}]"), e.to_string()))?;
            if let Some((name, path)) = apps::prohibits_assistive_technology(&alone) {
                return Err(PolicyError::at(
                    format!("applications.prohibited[{i}]"),
                    format!(
                        "rule `{}` would prohibit assistive technology ({name}, {path}): screen readers, magnifiers \
                         and on-screen keyboards are always allowed",
                        rule.id
                    ),
                ));
            }
        }
        let known: HashSet<String> = Os::ALL
            .iter()
            .flat_map(|os| apps::default_list(*os))
            .chain(self.applications.prohibited.iter().cloned())
            .map(|r| r.id.to_ascii_lowercase())
            .collect();
        for (i, id) in self.applications.allowed.iter().enumerate() {
            if !known.contains(&id.to_ascii_lowercase()) {
                return Err(PolicyError::at(
                    format!("applications.allowed[{i}]"),
                    format!("no application with id `{id}` in the default lists or applications.prohibited"),
                ));
            }
        }
        Ok(())
    }

    /// The effective prohibited-application rules on `os`: the default list (if used), plus the
    /// policy's own rules (which replace a default rule with the same id), minus the allowed ids.
    pub fn prohibited_apps(&self, os: Os) -> Vec<AppRule> {
        let apps = &self.applications;
        let mut rules: Vec<AppRule> = if apps.use_default_list { apps::default_list(os) } else { Vec::new() };
        for own in &apps.prohibited {
            rules.retain(|r| !r.id.eq_ignore_ascii_case(&own.id));
            rules.push(own.clone());
        }
        rules.retain(|r| !apps.allowed.iter().any(|a| a.eq_ignore_ascii_case(&r.id)));
        rules
    }
}

fn field_error(path: String, message: String) -> PolicyError {
    // serde_path_to_error renders the root as "."; a missing top-level field is reported there.
    let field = if path == "." { None } else { Some(path) };
    PolicyError { field, message }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, format: Format) -> PolicyError {
        ExamPolicy::parse(text, format).expect_err("policy should be rejected")
    }

    #[test]
    fn screen_reader_accommodation_names_candidates_or_everyone() {
        let p = ExamPolicy::parse("schema = 1\n[accommodations]\nscreen_reader = [\" Aigerim S. \"]", Format::Toml)
            .unwrap();
        assert!(p.accommodations.screen_reader_for("aigerim s."));
        assert!(!p.accommodations.screen_reader_for("Bolat"));
        assert_eq!(p.accommodations.speech_flags, SpeechFlags::Note);
        let all = ExamPolicy::parse(
            "schema = 1\n[accommodations]\nscreen_reader = [\"*\"]\nspeech_flags = \"off\"",
            Format::Toml,
        )
        .unwrap();
        assert!(all.accommodations.screen_reader_for("anyone"));
        assert_eq!(all.accommodations.speech_flags, SpeechFlags::Off);
        assert!(!ExamPolicy::parse("schema = 1", Format::Toml).unwrap().accommodations.screen_reader_for("x"));
        let e = err("schema = 1\n[accommodations]\nscreen_reader = [\"  \"]", Format::Toml);
        assert_eq!(e.field.as_deref(), Some("accommodations.screen_reader[0]"));
        let e = err("schema = 1\n[accommodations]\nspeech_flags = \"loud\"", Format::Toml);
        assert!(e.message.contains("loud"), "{}", e.message);
    }

    #[test]
    fn minimal_policy_gets_defaults() {
        let p = ExamPolicy::parse("schema = 1", Format::Toml).unwrap();
        assert_eq!(p, ExamPolicy::default());
        let p = ExamPolicy::parse(r#"{"schema": 1}"#, Format::Json).unwrap();
        assert_eq!(p, ExamPolicy::default());
    }

    #[test]
    fn wrong_verdict_names_the_field() {
        let e = err("schema = 1\n[verdicts]\nvirtual_machine = \"maybe\"\n", Format::Toml);
        assert_eq!(e.field.as_deref(), Some("verdicts.virtual_machine"));
        assert!(e.message.contains("maybe"), "{e}");
        let e = err(r#"{"schema":1,"requirements":{"max_monitors":"two"}}"#, Format::Json);
        assert_eq!(e.field.as_deref(), Some("requirements.max_monitors"));
    }

    #[test]
    fn unknown_field_is_rejected_with_its_path() {
        let e = err(r#"{"schema":1,"requirements":{"max_monitor":2}}"#, Format::Json);
        assert_eq!(e.field.as_deref(), Some("requirements.max_monitor"));
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn missing_schema_and_wrong_schema() {
        let e = err("name = \"x\"", Format::Toml);
        assert!(e.message.contains("schema"), "{e}");
        let e = err("schema = 2", Format::Toml);
        assert_eq!(e.field.as_deref(), Some("schema"));
    }

    #[test]
    fn inconsistent_monitor_range() {
        let e = err("schema = 1\n[requirements]\nmin_monitors = 3\nmax_monitors = 2\n", Format::Toml);
        assert_eq!(e.field.as_deref(), Some("requirements.min_monitors"));
    }

    #[test]
    fn analysis_thresholds_outside_their_range() {
        for (field, value) in [("raised_degrees", "10"), ("bowed_degrees", "90"), ("turned_degrees", "5")] {
            let e = err(&format!("schema = 1\n[analysis]\n{field} = {value}\n"), Format::Toml);
            assert_eq!(e.field.as_deref(), Some(format!("analysis.{field}").as_str()), "{e}");
            assert!(e.message.contains("outside"), "{e}");
        }
        let policy = ExamPolicy::parse("schema = 1\n[analysis]\nraised_degrees = 40\n", Format::Toml).unwrap();
        assert_eq!((policy.analysis.raised_degrees, Analysis::default().raised_degrees), (40.0, 25.0));
    }

    #[test]
    fn assistive_technology_can_never_be_prohibited() {
        let rule = |field: &str, glob: &str| {
            format!("schema = 1\n[[applications.prohibited]]\nid = \"r\"\nname = \"R\"\ncategory = \"other\"\n{field} = [\"{glob}\"]\n")
        };
        for (field, glob, what) in [
            ("executables", "orca", "Orca"),
            ("executables", "NVDA*", "NVDA"),
            ("executables", "*", "Orca"),
            ("paths", "*/VoiceOver.app/*", "VoiceOver"),
            ("executables", "osk.exe", "On-Screen Keyboard"),
        ] {
            let e = err(&rule(field, glob), Format::Toml);
            assert_eq!(e.field.as_deref(), Some("applications.prohibited[0]"), "{glob}: {e}");
            assert!(e.message.contains(what) && e.message.contains("always allowed"), "{glob}: {e}");
        }
        assert!(ExamPolicy::parse(&rule("executables", "anydesk*"), Format::Toml).is_ok());
    }

    #[test]
    fn bad_application_rules() {
        let e = err(
            "schema = 1\n[[applications.prohibited]]\nid = \"x\"\nname = \"X\"\ncategory = \"other\"\nexecutables = [\"[bad\"]\n",
            Format::Toml,
        );
        assert_eq!(e.field.as_deref(), Some("applications.prohibited[0].executables[0]"));
        let e = err(
            "schema = 1\n[[applications.prohibited]]\nid = \"x\"\nname = \"X\"\ncategory = \"other\"\n",
            Format::Toml,
        );
        assert_eq!(e.field.as_deref(), Some("applications.prohibited[0]"));
        let e = err("schema = 1\n[applications]\nallowed = [\"no-such-app\"]\n", Format::Toml);
        assert_eq!(e.field.as_deref(), Some("applications.allowed[0]"));
    }

    #[test]
    fn syntax_error_is_reported() {
        let e = err("schema = = 1", Format::Toml);
        assert!(e.field.is_none());
        assert!(!e.message.is_empty());
        let e = err("{\"schema\": 1,", Format::Json);
        assert!(e.message.contains("EOF"), "{e}");
    }

    #[test]
    fn allowed_and_own_rules_shape_the_effective_list() {
        let p = ExamPolicy::parse(
            r#"schema = 1
[applications]
allowed = ["zoom"]
[[applications.prohibited]]
id = "anydesk"
name = "AnyDesk (exam override)"
category = "remote_access"
executables = ["anydesk"]
"#,
            Format::Toml,
        )
        .unwrap();
        let rules = p.prohibited_apps(Os::Linux);
        assert!(!rules.iter().any(|r| r.id == "zoom"));
        let anydesk: Vec<_> = rules.iter().filter(|r| r.id == "anydesk").collect();
        assert_eq!(anydesk.len(), 1);
        assert_eq!(anydesk[0].name, "AnyDesk (exam override)");
        assert!(rules.len() > 10, "default list should still be there");
    }

    #[test]
    fn format_detection() {
        assert_eq!(Format::detect(Some(Path::new("p.JSON")), ""), Format::Json);
        assert_eq!(Format::detect(Some(Path::new("p.toml")), "{"), Format::Toml);
        assert_eq!(Format::detect(None, "  {\"schema\":1}"), Format::Json);
        assert_eq!(Format::detect(None, "schema = 1"), Format::Toml);
    }
}

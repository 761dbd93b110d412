//! What the operating system does during the exam, behind one trait ([`PlatformLockdown`]), and a
//! guard ([`LockdownGuard`]) that undoes every step it applied, in reverse order, when it is
//! dropped: at the end of the exam, on an error, and while a panic unwinds.
//!
//! Implementations: X11 (`x11.rs`: passive grabs of the switching shortcuts, ownership of the
//! clipboard selections, windows stacked over the exam window), and [`Unsupported`] wherever
//! nothing is built yet, which says so on the timeline instead of pretending. The Windows and
//! macOS implementations ([`windows::WindowsLockdown`], [`macos::MacosLockdown`]) are stubs that
//! name the calls they will make; they compile everywhere so that the seam stays honest.
//!
//! Assistive technology keeps working: the keyboard is never grabbed as a whole, only the
//! shortcuts that switch away from the exam.

pub mod macos;
pub mod windows;
#[cfg(target_os = "linux")]
mod x11;

use serde_json::json;
use std::sync::Arc;
use vigil_core::event::{Event, EventKind};
use vigil_spool::Timeline;

/// Why a lockdown step could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum LockdownError {
    #[error("{feature} is not available on this platform or desktop yet")]
    Unsupported { feature: &'static str },
    #[error("X11 {what}: {message}")]
    X11 { what: &'static str, message: String },
    #[error("cannot start the lockdown's {what} thread: {source}")]
    Thread { what: &'static str, source: std::io::Error },
}

impl LockdownError {
    /// A stable machine code: `lockdown.unsupported`, `lockdown.x11`, `lockdown.thread`.
    pub fn code(&self) -> &'static str {
        match self {
            LockdownError::Unsupported { .. } => "lockdown.unsupported",
            LockdownError::X11 { .. } => "lockdown.x11",
            LockdownError::Thread { .. } => "lockdown.thread",
        }
    }
}

/// A step that was applied, and how to undo it.
pub struct Step {
    name: &'static str,
    undo: Box<dyn FnOnce() + Send>,
}

impl Step {
    pub fn new(name: &'static str, undo: impl FnOnce() + Send + 'static) -> Step {
        Step { name, undo: Box::new(undo) }
    }
}

/// What the operating system does for the lockdown. Each call applies one step and returns how
/// to undo it; [`LockdownGuard`] keeps them.
pub trait PlatformLockdown: Send {
    /// Which implementation this is (`x11`, `windows`, `macos`, `unsupported`).
    fn name(&self) -> &'static str;
    /// Takes system shortcuts (Alt+Tab, the Super key, Alt+F4, workspace switching) away from the
    /// desktop while the exam runs. Assistive technology keeps its own keys.
    fn grab_shortcuts(&mut self, timeline: &Arc<Timeline>) -> Result<Step, LockdownError>;
    /// Empties the system clipboard (`clipboard.cleared`) and reports another program taking it
    /// (`clipboard.taken`); with `hold` (the policy's `block`), takes it back at once.
    fn clear_clipboard(&mut self, timeline: &Arc<Timeline>, hold: bool) -> Result<Step, LockdownError>;
    /// Reports windows shown over the exam window (titled `exam_title`): `window.over_exam`
    /// opens an interval, `window.over_exam_cleared` closes it.
    fn watch_windows_over(&mut self, timeline: &Arc<Timeline>, exam_title: &str) -> Result<Step, LockdownError>;
}

/// The implementation for this platform and display server.
pub fn platform() -> Box<dyn PlatformLockdown> {
    #[cfg(target_os = "linux")]
    {
        // An empty variable is no Wayland display (test harnesses and some launchers set it so).
        let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
            || std::env::var("XDG_SESSION_TYPE").is_ok_and(|t| t.eq_ignore_ascii_case("wayland"));
        if let Some(p) = linux_platform(wayland, std::env::var_os("DISPLAY").is_some()) {
            return p;
        }
    }
    #[cfg(target_os = "windows")]
    return Box::new(windows::WindowsLockdown);
    #[cfg(target_os = "macos")]
    return Box::new(macos::MacosLockdown);
    #[allow(unreachable_code)]
    Box::new(Unsupported)
}

/// On Linux: a Wayland session gets what Wayland allows (never the X11 steps run against
/// Xwayland, which would only pretend); an X11 session the X11 lockdown.
#[cfg(target_os = "linux")]
fn linux_platform(wayland: bool, display: bool) -> Option<Box<dyn PlatformLockdown>> {
    match (wayland, display) {
        (true, _) => Some(Box::new(WaylandLockdown { xwayland: display })),
        (false, true) => Some(Box::new(x11::X11Lockdown)),
        (false, false) => None,
    }
}

/// A Wayland desktop lets no program take its shortcuts or see other programs' windows, so those
/// steps are refused with the reason (each a `lockdown.unsupported` event the reviewer sees). The
/// clipboard is cleared and watched through Xwayland, which bridges it, when there is one.
#[cfg(target_os = "linux")]
pub struct WaylandLockdown {
    xwayland: bool,
}

#[cfg(target_os = "linux")]
impl PlatformLockdown for WaylandLockdown {
    fn name(&self) -> &'static str {
        "wayland"
    }

    fn grab_shortcuts(&mut self, _: &Arc<Timeline>) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported { feature: "keyboard (a Wayland desktop gives no program its shortcuts)" })
    }

    fn clear_clipboard(&mut self, timeline: &Arc<Timeline>, hold: bool) -> Result<Step, LockdownError> {
        if !self.xwayland {
            return Err(LockdownError::Unsupported { feature: "clipboard (no Xwayland to reach it through)" });
        }
        x11::X11Lockdown.clear_clipboard(timeline, hold)
    }

    fn watch_windows_over(&mut self, _: &Arc<Timeline>, _: &str) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported {
            feature: "window stacking (a Wayland desktop shows no program the other windows)",
        })
    }
}

/// Where nothing is implemented: every step is refused (and the guard says so on the timeline).
pub struct Unsupported;

impl PlatformLockdown for Unsupported {
    fn name(&self) -> &'static str {
        "unsupported"
    }
    fn grab_shortcuts(&mut self, _: &Arc<Timeline>) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported { feature: "keyboard" })
    }
    fn clear_clipboard(&mut self, _: &Arc<Timeline>, _: bool) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported { feature: "clipboard" })
    }
    fn watch_windows_over(&mut self, _: &Arc<Timeline>, _: &str) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported { feature: "window stacking" })
    }
}

/// The lockdown while it holds: every applied step, undone in reverse order on drop.
pub struct LockdownGuard {
    platform: Box<dyn PlatformLockdown>,
    timeline: Arc<Timeline>,
    steps: Vec<Step>,
    /// Steps this desktop refused, with the reason, until `report_limits` says so.
    refused: Vec<(&'static str, String)>,
}

impl LockdownGuard {
    pub fn new(platform: Box<dyn PlatformLockdown>, timeline: Arc<Timeline>) -> LockdownGuard {
        LockdownGuard { platform, timeline, steps: Vec::new(), refused: Vec::new() }
    }

    /// Applies one step; one that fails is a `lockdown.unsupported` event and the error.
    fn apply(
        &mut self,
        feature: &'static str,
        step: impl FnOnce(&mut dyn PlatformLockdown, &Arc<Timeline>) -> Result<Step, LockdownError>,
    ) -> Result<(), LockdownError> {
        match step(self.platform.as_mut(), &self.timeline) {
            Ok(s) => {
                self.steps.push(s);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(feature, code = e.code(), error = %e, "lockdown step not applied");
                self.timeline.record(Event::new(
                    EventKind::LockdownUnsupported,
                    json!({"feature": feature, "platform": self.platform.name(), "error": e.to_string()}),
                ));
                self.refused.push((feature, e.to_string()));
                Err(e)
            }
        }
    }

    pub fn grab_shortcuts(&mut self) -> Result<(), LockdownError> {
        self.apply("keyboard", |p, t| p.grab_shortcuts(t))
    }

    /// Empties the clipboard; with `hold`, takes it back whenever another program takes it.
    pub fn clear_clipboard(&mut self, hold: bool) -> Result<(), LockdownError> {
        self.apply("clipboard", |p, t| p.clear_clipboard(t, hold))
    }

    pub fn watch_windows_over(&mut self, exam_title: &str) -> Result<(), LockdownError> {
        self.apply("window stacking", |p, t| p.watch_windows_over(t, exam_title))
    }

    /// Once every step the policy asks for was tried: when this desktop refused any since the last
    /// report, one `lockdown.limited` event names them with their reasons, so that a reviewer
    /// sees at a glance what this exam's lockdown could not hold.
    pub fn report_limits(&mut self) {
        if self.refused.is_empty() {
            return;
        }
        let limits: Vec<_> =
            self.refused.drain(..).map(|(feature, reason)| json!({"feature": feature, "reason": reason})).collect();
        tracing::warn!(platform = self.platform.name(), ?limits, "lockdown limited on this desktop");
        self.timeline.record(Event::new(
            EventKind::LockdownLimited,
            json!({"platform": self.platform.name(), "limits": limits}),
        ));
    }

    /// The steps held now, in the order they were applied.
    pub fn steps(&self) -> Vec<&'static str> {
        self.steps.iter().map(|s| s.name).collect()
    }
}

impl Drop for LockdownGuard {
    fn drop(&mut self) {
        let mut undone = Vec::new();
        while let Some(step) = self.steps.pop() {
            (step.undo)();
            undone.push(step.name);
        }
        if !undone.is_empty() {
            tracing::info!(steps = ?undone, "lockdown released");
            self.timeline.record(Event::new(EventKind::LockdownReleased, json!({ "steps": undone })));
        }
    }
}

#[cfg(test)]
mod tests {

    #[cfg(target_os = "linux")]
    #[test]
    fn wayland_never_gets_the_x11_lockdown() {
        assert_eq!(super::linux_platform(true, true).map(|p| p.name()), Some("wayland"));
        assert_eq!(super::linux_platform(true, false).map(|p| p.name()), Some("wayland"));
        assert_eq!(super::linux_platform(false, true).map(|p| p.name()), Some("x11"));
        assert!(super::linux_platform(false, false).is_none());
    }

    use super::*;
    use std::sync::Mutex;

    /// Records the order in which its steps are applied and undone.
    struct Recording(Arc<Mutex<Vec<String>>>);

    impl Recording {
        fn step(&self, name: &'static str) -> Result<Step, LockdownError> {
            self.0.lock().unwrap().push(format!("apply {name}"));
            let log = self.0.clone();
            Ok(Step::new(name, move || log.lock().unwrap().push(format!("undo {name}"))))
        }
    }

    impl PlatformLockdown for Recording {
        fn name(&self) -> &'static str {
            "recording"
        }
        fn grab_shortcuts(&mut self, _: &Arc<Timeline>) -> Result<Step, LockdownError> {
            self.step("keyboard")
        }
        fn clear_clipboard(&mut self, _: &Arc<Timeline>, _: bool) -> Result<Step, LockdownError> {
            self.step("clipboard")
        }
        fn watch_windows_over(&mut self, _: &Arc<Timeline>, _: &str) -> Result<Step, LockdownError> {
            Err(LockdownError::Unsupported { feature: "window stacking" })
        }
    }

    fn timeline() -> (tempfile::TempDir, Arc<Timeline>) {
        let dir = tempfile::tempdir().unwrap();
        let spool = Arc::new(vigil_spool::Spool::open(dir.path()).unwrap());
        (dir, Arc::new(Timeline::new(spool)))
    }

    #[test]
    fn steps_are_undone_in_reverse_order_also_when_a_panic_unwinds() {
        let (_dir, timeline) = timeline();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l, t) = (log.clone(), timeline.clone());
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let mut guard = LockdownGuard::new(Box::new(Recording(l)), t);
            guard.grab_shortcuts().unwrap();
            guard.clear_clipboard(false).unwrap();
            assert!(guard.watch_windows_over("Vigil exam").is_err());
            assert_eq!(guard.steps(), ["keyboard", "clipboard"]);
            panic!("the exam ends by a panic");
        }));
        assert!(result.is_err());
        assert_eq!(*log.lock().unwrap(), ["apply keyboard", "apply clipboard", "undo clipboard", "undo keyboard"]);
        let kinds: Vec<String> = timeline.spool().events().unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["lockdown.unsupported", "lockdown.released"]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_wayland_desktop_records_what_its_lockdown_cannot_hold_once() {
        let (_dir, timeline) = timeline();
        let mut guard = LockdownGuard::new(Box::new(WaylandLockdown { xwayland: false }), timeline.clone());
        assert!(guard.grab_shortcuts().is_err());
        assert!(guard.clear_clipboard(true).is_err());
        assert!(guard.watch_windows_over("Vigil exam").is_err());
        guard.report_limits();
        guard.report_limits();
        drop(guard);
        let events = timeline.spool().events().unwrap();
        let limited: Vec<_> = events.iter().filter(|e| e.kind == "lockdown.limited").collect();
        assert_eq!(limited.len(), 1, "{events:?}");
        assert_eq!(limited[0].data["platform"], "wayland");
        let limits = limited[0].data["limits"].as_array().unwrap();
        let features: Vec<_> = limits.iter().map(|l| l["feature"].as_str().unwrap()).collect();
        assert_eq!(features, ["keyboard", "clipboard", "window stacking"]);
        assert!(limits[0]["reason"].as_str().unwrap().contains("shortcuts"), "{limits:?}");
        // Nothing was applied, so there is nothing to release.
        assert!(events.iter().all(|e| e.kind != "lockdown.released"));
    }

    #[test]
    fn a_lockdown_that_holds_reports_no_limits() {
        let (_dir, timeline) = timeline();
        let mut guard = LockdownGuard::new(Box::new(Recording(Default::default())), timeline.clone());
        guard.grab_shortcuts().unwrap();
        guard.report_limits();
        drop(guard);
        assert!(timeline.spool().events().unwrap().iter().all(|e| e.kind != "lockdown.limited"));
    }
}

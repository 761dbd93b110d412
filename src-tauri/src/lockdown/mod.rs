//! Lockdown of the exam window. The window itself (full screen, on top, no decorations, the
//! navigation rules, no new windows or downloads, focus tracking, closing only by finishing or
//! with the quit password) is Tauri and the same everywhere: [`exam_window`]. What the operating
//! system must do is behind [`PlatformLockdown`]; the X11 implementation is in `x11.rs`.
//!
//! Seams for other platforms (not built yet): Windows — `SetWindowDisplayAffinity`
//! (content protection; Tauri's `content_protected`), a low-level keyboard hook
//! (`WH_KEYBOARD_LL`) for Alt+Tab and the Windows key, clipboard via `EmptyClipboard`; macOS —
//! `NSWindow.sharingType = none` (content protection), Automatic Assessment Configuration
//! (`AEAssessmentSession`) for the keyboard and other apps, `NSPasteboard.clearContents`.

#[cfg(target_os = "linux")]
mod x11;

use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tauri::webview::{DownloadEvent, NewWindowResponse, PageLoadEvent};
use tauri::{AppHandle, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent};
use vigil_core::lockdown::{ClipboardRule, Decision, Lockdown, UrlRules};
use vigil_core::spool::Spool;

/// What the operating system does for the lockdown.
pub trait PlatformLockdown: Send {
    /// Takes system shortcuts (Alt+Tab, the Super key, Alt+F4, workspace switching) away from the
    /// desktop while the exam runs. Assistive technology keeps its own keys.
    fn grab_shortcuts(&mut self) -> Result<(), String>;
    /// Empties the system clipboard (and keeps it empty while the exam runs).
    fn clear_clipboard(&mut self) -> Result<(), String>;
    /// Reports windows shown over the exam window (titled `exam_title`) while the exam runs:
    /// `window.over_exam` with their titles, `window.over_exam_cleared` when none is left.
    fn watch_windows_over(&mut self, exam_title: &str) -> Result<(), String>;
    /// Gives everything back.
    fn release(&mut self);
}

/// The implementation for this platform and display server.
pub fn platform(spool: Arc<Spool>) -> Box<dyn PlatformLockdown> {
    #[cfg(target_os = "linux")]
    if std::env::var_os("DISPLAY").is_some() {
        return Box::new(x11::X11Lockdown::new(spool));
    }
    Box::new(Unsupported(spool))
}

/// Where nothing is implemented yet: says so on the timeline instead of pretending.
struct Unsupported(Arc<Spool>);

impl PlatformLockdown for Unsupported {
    fn grab_shortcuts(&mut self) -> Result<(), String> {
        let _ = self.0.add_event("lockdown.unsupported", json!({"feature": "keyboard"}));
        Err("keyboard lockdown is not available on this platform yet".into())
    }
    fn clear_clipboard(&mut self) -> Result<(), String> {
        let _ = self.0.add_event("lockdown.unsupported", json!({"feature": "clipboard"}));
        Err("clipboard control is not available on this platform yet".into())
    }
    fn watch_windows_over(&mut self, _exam_title: &str) -> Result<(), String> {
        let _ = self.0.add_event("lockdown.unsupported", json!({"feature": "window stacking"}));
        Err("watching the window stacking is not available on this platform yet".into())
    }
    fn release(&mut self) {}
}

/// The exam window's title (the X11 stacking watcher finds the window by it).
pub const EXAM_TITLE: &str = "Vigil exam";

/// Shared between the exam window's handlers and the app.
#[derive(Default)]
pub struct ExamWindowState {
    /// The exam page's address once loaded.
    pub loaded: Option<String>,
    /// Set when the exam is being finished (or the quit password was given): the window may close.
    pub may_close: bool,
    /// Since when the exam window has not had the focus.
    pub unfocused_since: Option<Instant>,
    /// A `focus.lost` event was recorded for the current absence.
    pub focus_lost_recorded: bool,
    /// The last URLs the rules blocked, for the candidate's screen.
    pub blocked: Vec<String>,
}

/// How long the exam window must be without focus before it counts as lost.
const FOCUS_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

fn lock(m: &Mutex<ExamWindowState>) -> std::sync::MutexGuard<'_, ExamWindowState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Script put into every page of the exam window: no context menu; copy, cut and paste blocked
/// or logged per policy. The page has no IPC, so it reports by asking to navigate to a
/// `vigil-event:` address, which the navigation handler records and cancels.
fn page_script(clipboard: ClipboardRule, release: bool) -> String {
    let block = matches!(clipboard, ClipboardRule::Block);
    let log = !matches!(clipboard, ClipboardRule::Allow);
    format!(
        r#"(() => {{
  const report = (what) => {{ try {{ window.location.href = "vigil-event:" + what; }} catch (e) {{}} }};
  for (const kind of ["copy", "cut", "paste"]) {{
    document.addEventListener(kind, (e) => {{
      if ({block}) e.preventDefault();
      if ({log}) report("clipboard." + kind + ({block} ? ".blocked" : ""));
    }}, true);
  }}
  if ({release}) document.addEventListener("contextmenu", (e) => e.preventDefault(), true);
}})();"#
    )
}

/// Opens the exam page in the locked exam window.
pub fn exam_window(
    app: &AppHandle,
    url: tauri::Url,
    lockdown: &Lockdown,
    spool: Arc<Spool>,
    state: Arc<Mutex<ExamWindowState>>,
) -> Result<WebviewWindow, String> {
    let rules = UrlRules::new(&lockdown.navigation, Some(url.as_str()))?;
    let release = !cfg!(debug_assertions);
    let (nav_spool, nav_state) = (spool.clone(), state.clone());
    let (load_spool, load_state) = (spool.clone(), state.clone());
    let (new_spool, dl_spool) = (spool.clone(), spool.clone());
    let window = WebviewWindowBuilder::new(app, "exam", WebviewUrl::External(url))
        .title(EXAM_TITLE)
        .inner_size(1024.0, 700.0)
        .fullscreen(lockdown.fullscreen)
        .always_on_top(lockdown.fullscreen)
        .decorations(!lockdown.fullscreen)
        .content_protected(true)
        .focused(true)
        .initialization_script(page_script(lockdown.clipboard, release))
        .on_navigation(move |url| {
            if url.scheme() == "vigil-event" {
                // Only the page script's own reports are recorded; anything else is dropped.
                let kind = url.path();
                if kind.starts_with("clipboard.")
                    && kind.len() < 40
                    && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'.')
                {
                    let _ = nav_spool.add_event(kind, json!({}));
                }
                return false;
            }
            match rules.decide(url.as_str()) {
                Decision::Allow(_) => {
                    let _ = nav_spool.add_event("navigation", json!({"url": url.as_str()}));
                    true
                }
                Decision::Block(rule) => {
                    tracing::warn!(url = %url, %rule, "navigation blocked");
                    let _ = nav_spool.add_event("navigation.blocked", json!({"url": url.as_str(), "rule": rule}));
                    let mut s = lock(&nav_state);
                    s.blocked.push(url.to_string());
                    let excess = s.blocked.len().saturating_sub(5);
                    s.blocked.drain(..excess);
                    false
                }
            }
        })
        .on_new_window(move |url, _| {
            let _ = new_spool.add_event("navigation.new_window_blocked", json!({"url": url.as_str()}));
            NewWindowResponse::Deny
        })
        .on_download(move |_, event| {
            if let DownloadEvent::Requested { url, .. } = event {
                let _ = dl_spool.add_event("navigation.download_blocked", json!({"url": url.as_str()}));
            }
            false
        })
        .on_page_load(move |_, payload| {
            if payload.event() == PageLoadEvent::Finished {
                let url = payload.url().to_string();
                let _ = load_spool.add_event("exam.page_loaded", json!({"url": url}));
                lock(&load_state).loaded = Some(url);
            }
        })
        .build()
        .map_err(|e| e.to_string())?;
    if lockdown.fullscreen {
        // Full screen needs a window manager's help; without one (a kiosk X session), cover the
        // monitor by hand as well.
        if let Ok(Some(m)) = window.current_monitor() {
            let _ = window.set_position(*m.position());
            let _ = window.set_size(*m.size());
        }
    }
    let (ev_spool, ev_state, ev_window) = (spool, state, window.clone());
    window.on_window_event(move |event| match event {
        WindowEvent::Focused(false) => {
            // A blocked shortcut's key grab takes the focus for a moment: only an absence that
            // lasts FOCUS_GRACE counts (and is stamped from its start).
            let since = *lock(&ev_state).unfocused_since.get_or_insert_with(Instant::now);
            let (spool, state) = (ev_spool.clone(), ev_state.clone());
            std::thread::spawn(move || {
                std::thread::sleep(FOCUS_GRACE);
                let mut s = lock(&state);
                if s.unfocused_since == Some(since) && !s.focus_lost_recorded {
                    s.focus_lost_recorded = true;
                    let _ = spool.add_event("focus.lost", json!({"since_ms_ago": since.elapsed().as_millis() as u64}));
                }
            });
        }
        WindowEvent::Focused(true) => {
            let mut s = lock(&ev_state);
            if let Some(since) = s.unfocused_since.take() {
                if std::mem::take(&mut s.focus_lost_recorded) {
                    let _ =
                        ev_spool.add_event("focus.regained", json!({"away_ms": since.elapsed().as_millis() as u64}));
                }
            }
        }
        WindowEvent::CloseRequested { api, .. } => {
            if !lock(&ev_state).may_close {
                api.prevent_close();
                let _ = ev_spool.add_event("exam.close_blocked", json!({}));
                let _ = ev_window.set_focus();
            }
        }
        _ => {}
    });
    Ok(window)
}

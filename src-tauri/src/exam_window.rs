//! The exam window: full screen, on top, no decorations, the navigation rules, no new windows or
//! downloads, focus tracking, closing only by finishing or with the quit password. This is Tauri
//! and the same on every platform; what the operating system must do (shortcuts, clipboard,
//! windows over the exam) is `vigil-lockdown`'s.

use crate::page_reports::PageReports;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tauri::webview::{DownloadEvent, NewWindowResponse, PageLoadEvent};
use tauri::{AppHandle, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent};
use vigil_core::event::{interval_id, Event, EventKind};
use vigil_core::lockdown::ClipboardRule;
use vigil_core::url_rules::Decision;
use vigil_core::CompiledPolicy;
use vigil_spool::Timeline;

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
    /// The interval of the current absence, once `focus.lost` was recorded.
    pub focus_interval: Option<String>,
    /// The last URLs the rules blocked, for the candidate's screen.
    pub blocked: Vec<String>,
}

/// How long the exam window must be without focus before it counts as lost.
const FOCUS_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

fn lock(m: &Mutex<ExamWindowState>) -> std::sync::MutexGuard<'_, ExamWindowState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock_reports(m: &Mutex<PageReports>) -> std::sync::MutexGuard<'_, PageReports> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Script put into every frame of every page of the exam window, before the page's own
/// scripts: no context menu; copy, cut and paste blocked or logged per policy. The page has no
/// IPC, so it reports by asking to navigate to `vigil-event:TOKEN/KIND` (see [`PageReports`]);
/// the token lives only in this closure, and only trusted events (a real key press or menu, not
/// a script's `dispatchEvent`) are reported.
fn page_script(clipboard: ClipboardRule, release: bool, token: &str) -> String {
    let block = matches!(clipboard, ClipboardRule::Block);
    let log = !matches!(clipboard, ClipboardRule::Allow);
    format!(
        r#"(() => {{
  const token = "{token}";
  const frame = window.top === window ? "main" : "sub";
  const report = (what) => {{ try {{ window.location.href = "vigil-event:" + token + "/" + what + "?frame=" + frame; }} catch (e) {{}} }};
  // A page listening to the Navigation API must not read the token off a report.
  if (window.navigation) window.navigation.addEventListener("navigate", (e) => {{
    if (String(e.destination && e.destination.url).startsWith("vigil-event:")) e.stopImmediatePropagation();
  }}, true);
  for (const kind of ["copy", "cut", "paste"]) {{
    document.addEventListener(kind, (e) => {{
      if ({block}) e.preventDefault();
      if ({log} && e.isTrusted) report("clipboard." + kind + ({block} ? ".blocked" : ""));
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
    policy: Arc<CompiledPolicy>,
    timeline: Arc<Timeline>,
    state: Arc<Mutex<ExamWindowState>>,
) -> tauri::Result<WebviewWindow> {
    let lockdown = &policy.policy.lockdown;
    let release = !cfg!(debug_assertions);
    let (nav_timeline, nav_state, rules) = (timeline.clone(), state.clone(), policy.clone());
    let (load_timeline, load_state) = (timeline.clone(), state.clone());
    let (new_timeline, dl_timeline) = (timeline.clone(), timeline.clone());
    let reports = Mutex::new(PageReports::new());
    let script = page_script(lockdown.clipboard, release, lock_reports(&reports).token());
    let window = WebviewWindowBuilder::new(app, "exam", WebviewUrl::External(url))
        .title(EXAM_TITLE)
        .inner_size(1024.0, 700.0)
        .fullscreen(lockdown.fullscreen)
        .always_on_top(lockdown.fullscreen)
        .decorations(!lockdown.fullscreen)
        .content_protected(true)
        .focused(true)
        .initialization_script_for_all_frames(script)
        .on_navigation(move |url| {
            if url.scheme() == "vigil-event" {
                // Only the page script's own reports are recorded; anything else is dropped.
                if let Some(event) = lock_reports(&reports).accept(url, Instant::now()) {
                    nav_timeline.record(event);
                }
                return false;
            }
            match rules.navigation.decide(url.as_str()) {
                Decision::Allow(_) => {
                    nav_timeline.record(Event::new(EventKind::Navigation, json!({"url": url.as_str()})));
                    true
                }
                Decision::Block(rule) => {
                    tracing::warn!(url = %url, %rule, "navigation blocked");
                    nav_timeline
                        .record(Event::new(EventKind::NavigationBlocked, json!({"url": url.as_str(), "rule": rule})));
                    let mut s = lock(&nav_state);
                    s.blocked.push(url.to_string());
                    let excess = s.blocked.len().saturating_sub(5);
                    s.blocked.drain(..excess);
                    false
                }
            }
        })
        .on_new_window(move |url, _| {
            new_timeline.record(Event::new(EventKind::NavigationNewWindowBlocked, json!({"url": url.as_str()})));
            NewWindowResponse::Deny
        })
        .on_download(move |_, event| {
            if let DownloadEvent::Requested { url, .. } = event {
                dl_timeline.record(Event::new(EventKind::NavigationDownloadBlocked, json!({"url": url.as_str()})));
            }
            false
        })
        .on_page_load(move |_, payload| {
            if payload.event() == PageLoadEvent::Finished {
                let url = payload.url().to_string();
                load_timeline.record(Event::new(EventKind::ExamPageLoaded, json!({ "url": url })));
                lock(&load_state).loaded = Some(url);
            }
        })
        .build()?;
    if lockdown.fullscreen {
        // Full screen needs a window manager's help; without one (a kiosk X session), cover the
        // monitor by hand as well.
        if let Ok(Some(m)) = window.current_monitor() {
            let _ = window.set_position(*m.position());
            let _ = window.set_size(*m.size());
        }
    }
    let (ev_timeline, ev_state, ev_window) = (timeline, state, window.clone());
    window.on_window_event(move |event| match event {
        WindowEvent::Focused(false) => {
            // A blocked shortcut's key grab takes the focus for a moment: only an absence that
            // lasts FOCUS_GRACE counts (and is stamped from its start).
            let since = *lock(&ev_state).unfocused_since.get_or_insert_with(Instant::now);
            let (timeline, state) = (ev_timeline.clone(), ev_state.clone());
            std::thread::spawn(move || {
                std::thread::sleep(FOCUS_GRACE);
                let mut s = lock(&state);
                if s.unfocused_since == Some(since) && s.focus_interval.is_none() {
                    let id = interval_id("focus");
                    let since_ms_ago = since.elapsed().as_millis() as u64;
                    timeline
                        .record(Event::new(EventKind::FocusLost, json!({ "since_ms_ago": since_ms_ago })).opens(&id));
                    s.focus_interval = Some(id);
                }
            });
        }
        WindowEvent::Focused(true) => {
            let mut s = lock(&ev_state);
            if let Some(since) = s.unfocused_since.take() {
                if let Some(id) = s.focus_interval.take() {
                    let away_ms = since.elapsed().as_millis() as u64;
                    ev_timeline.record(Event::new(EventKind::FocusRegained, json!({ "away_ms": away_ms })).closes(&id));
                }
            }
        }
        WindowEvent::CloseRequested { api, .. } if !lock(&ev_state).may_close => {
            api.prevent_close();
            ev_timeline.record(Event::new(EventKind::ExamCloseBlocked, json!({})));
            let _ = ev_window.set_focus();
        }
        _ => {}
    });
    Ok(window)
}

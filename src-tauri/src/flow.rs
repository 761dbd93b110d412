//! The candidate's flow as IPC commands, in order: join (after consent), system check, preview
//! and identity photos, exam (recording + the exam window), finish (delivery and receipt). Every
//! step calls the same crates as `vigil run --headless`; this module only keeps the state between
//! screens. Errors reach the UI as a stable `code` (translated there) and a technical `detail`.

use crate::exam_window::ExamWindowState;
use base64::Engine;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Manager, State};
use vigil_capture::preview::Preview;
use vigil_capture::{CameraMode, RecordOptions};
use vigil_core::event::{Event, EventKind};
use vigil_core::{Report, StopToken};
use vigil_lockdown::LockdownGuard;
use vigil_session::{Delivered, JoinParams, LiveStatus, Progress, Running, Session, SessionError};
use vigil_watch::CheckOptions;

/// An error for the UI: `code` picks the translated sentence, `detail` says what exactly.
#[derive(Debug, Clone, Serialize)]
pub struct UiError {
    pub code: &'static str,
    pub detail: String,
}

impl UiError {
    fn new(code: &'static str, detail: impl std::fmt::Display) -> UiError {
        UiError { code, detail: detail.to_string() }
    }
}

type UiResult<T> = Result<T, UiError>;

/// What the app keeps between screens.
pub struct Flow {
    pub data_dir: PathBuf,
    pub capture: RecordOptions,
    pub launch: crate::launch::Launch,
    session: Mutex<Option<Arc<Session>>>,
    preview: Mutex<Option<Preview>>,
    photos: Mutex<BTreeMap<String, Vec<u8>>>,
    running: Mutex<Option<Running>>,
    exam_window: Arc<Mutex<ExamWindowState>>,
    /// The operating system's part of the lockdown while the exam runs; dropping it undoes it.
    lockdown: Mutex<Option<LockdownGuard>>,
    finish: Arc<Mutex<FinishState>>,
    /// Wrong quit passwords so far, and when the next may be checked.
    quit_gate: Mutex<vigil_core::quit_password::QuitGate>,
    /// What the consent screen listed as derived on the device (signed by the server): the
    /// session computes nothing beyond it.
    consented: Mutex<Option<vigil_core::protocol::ExamInventory>>,
}

/// The finish screen's state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FinishState {
    pub started: bool,
    pub progress: Option<Progress>,
    pub receipt: Option<Delivered>,
    pub error: Option<UiError>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Flow {
    pub fn new(data_dir: PathBuf, capture: RecordOptions, launch: crate::launch::Launch) -> Flow {
        Flow {
            data_dir,
            capture,
            launch,
            session: Mutex::new(None),
            preview: Mutex::new(None),
            photos: Mutex::new(BTreeMap::new()),
            running: Mutex::new(None),
            exam_window: Arc::new(Mutex::new(ExamWindowState::default())),
            lockdown: Mutex::new(None),
            finish: Arc::new(Mutex::new(FinishState::default())),
            quit_gate: Mutex::default(),
            consented: Mutex::new(None),
        }
    }

    fn session(&self) -> UiResult<Arc<Session>> {
        lock(&self.session).clone().ok_or_else(|| UiError::new("flow.not_joined", "join the exam first"))
    }
}

/// Capture settings from the environment (for IT and tests): `VIGIL_CAMERA=auto|synthetic|none`,
/// `VIGIL_MIC=auto|none`, `VIGIL_SCREENS=all|none`.
pub fn capture_from_env() -> RecordOptions {
    let var = |name: &str| std::env::var(name).unwrap_or_default().to_ascii_lowercase();
    RecordOptions {
        camera: match var("VIGIL_CAMERA").as_str() {
            "synthetic" => CameraMode::Synthetic,
            "none" => CameraMode::None,
            _ => CameraMode::Auto,
        },
        microphone: var("VIGIL_MIC") != "none",
        screens: var("VIGIL_SCREENS") != "none",
        ..RecordOptions::default()
    }
}

#[tauri::command]
pub fn launch_info(flow: State<'_, Flow>) -> crate::launch::Launch {
    flow.launch.clone()
}

#[derive(Serialize)]
pub struct Joined {
    session_id: String,
    policy_name: String,
    exam_url: Option<String>,
    resumed: bool,
}

/// On a provisioned computer, the provisioned server and key only.
fn provisioned_only(l: &crate::launch::Launch, server: &str, server_key: &str) -> UiResult<()> {
    if l.provisioned
        && (l.server.as_deref().map(str::trim) != Some(server.trim())
            || l.server_key.as_deref().map(str::trim) != Some(server_key.trim()))
    {
        return Err(UiError::new(
            "join.not_provisioned",
            format!("this computer is set up for {} only", l.server.as_deref().unwrap_or_default()),
        ));
    }
    Ok(())
}

/// Who receives the recordings: the server's host and its organiser, signed by the server's key;
/// and what the exam derives on the device (its flags, and whether pictures are their evidence).
#[derive(Serialize)]
pub struct Receiver {
    host: String,
    organiser: Option<String>,
    flags: Option<Vec<String>>,
    evidence_pictures: bool,
}

/// Asks the server who it is, before consent (nothing about the candidate is sent), so that the
/// consent screen can name who receives the recordings.
#[tauri::command]
pub async fn server_identity(
    flow: State<'_, Flow>,
    server: String,
    server_key: String,
    exam_code: Option<String>,
) -> UiResult<Receiver> {
    provisioned_only(&flow.launch, &server, &server_key)?;
    if server_key.trim().is_empty() {
        return Err(UiError::new(
            "join.no_key",
            "no server key: use the join link or provisioning file from the exam organiser",
        ));
    }
    let insecure_http = flow.launch.insecure_http;
    let info = tauri::async_runtime::spawn_blocking(move || {
        let code = exam_code.as_deref().map(str::trim).filter(|c| !c.is_empty());
        vigil_session::receiver(server.trim(), server_key.trim(), code, insecure_http)
    })
    .await
    .map_err(|e| UiError::new("join.failed", e))?
    .map_err(join_error)?;
    let host =
        tauri::Url::parse(&info.origin).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or(info.origin);
    *lock(&flow.consented) = info.exam.clone();
    let evidence_pictures = info.exam.as_ref().is_some_and(|e| e.evidence_pictures);
    Ok(Receiver { host, organiser: info.organiser, flags: info.exam.map(|e| e.flags), evidence_pictures })
}

/// The UI's error for a failed join, chosen by the error's code (never by its text).
fn join_error(e: SessionError) -> UiError {
    let code = match e.code() {
        "session.no_consent" => "join.no_consent",
        "uplink.unreachable" => "join.unreachable",
        "policy.signature" | "join.grant_mismatch" | "join.unsigned" | "session.saved_refused" => "join.bad_signature",
        "uplink.insecure_http" => "join.insecure_http",
        "join.rate_limited" => "join.rate_limited",
        "exam.unknown_code" => "join.unknown_code",
        "uplink.bad_server_url" => "join.bad_server",
        "policy.invalid" => "join.bad_policy",
        c if c.starts_with("spool.") || c == "session.io" => "join.disk",
        _ => "join.failed",
    };
    UiError::new(code, format!("[{}] {}", e.code(), vigil_core::error_chain(&e)))
}

/// Joins the exam once the candidate accepted the data inventory. Nothing is stored or sent
/// before this.
#[tauri::command]
pub async fn join(
    flow: State<'_, Flow>,
    server: String,
    server_key: String,
    exam_code: String,
    name: String,
    consent: bool,
) -> UiResult<Joined> {
    if !consent {
        return Err(UiError::new("join.no_consent", "consent was not given"));
    }
    if server.trim().is_empty() || exam_code.trim().is_empty() || name.trim().is_empty() {
        return Err(UiError::new("join.missing_fields", "server, exam code and name are required"));
    }
    provisioned_only(&flow.launch, &server, &server_key)?;
    if server_key.trim().is_empty() {
        return Err(UiError::new(
            "join.no_key",
            "no server key: use the join link or provisioning file from the exam organiser",
        ));
    }
    let params = JoinParams {
        server: server.trim().to_owned(),
        server_key: server_key.trim().to_owned(),
        exam_code,
        name,
        data_dir: flow.data_dir.clone(),
        consent,
        join_timeout: Duration::from_secs(10),
        insecure_http: flow.launch.insecure_http,
    };
    let consented = lock(&flow.consented).clone().filter(|c| c.exam_code == params.exam_code.trim());
    let mut session = tauri::async_runtime::spawn_blocking(move || Session::open(&params))
        .await
        .map_err(|e| UiError::new("join.failed", e))?
        .map_err(join_error)?;
    if let Some(consented) = consented {
        session.limit_to_consent(consented);
    }
    let joined = Joined {
        session_id: session.info.session_id.clone(),
        policy_name: session.policy.policy.name.clone(),
        exam_url: session.info.exam_url.clone(),
        resumed: session.resumed,
    };
    *lock(&flow.session) = Some(Arc::new(session));
    Ok(joined)
}

/// Whether the check will make the desktop ask the candidate to share the screens (a Wayland
/// desktop that shares them through its portal), so that the check screen says so first.
#[tauri::command]
pub fn screen_sharing_asked() -> bool {
    vigil_capture::screen::asks_to_share()
}

/// The system check with the exam's policy (the built-in one before joining), including the
/// connection to the server.
#[tauri::command]
pub async fn system_check(flow: State<'_, Flow>) -> UiResult<Report> {
    let (policy, server) = match lock(&flow.session).as_ref() {
        Some(s) => (s.policy.policy.clone(), Some(s.info.server.clone())),
        None => (vigil_core::ExamPolicy::default(), None),
    };
    let data_dir = flow.data_dir.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let source = if server.is_some() { "exam" } else { "built-in" };
        let joined = server.is_some();
        let opts = CheckOptions { policy, data_dir, server };
        let mut facts = vigil_watch::gather(&opts);
        // One picture from each monitor, to know the recording will show something; only after
        // the candidate consented (joined), and never kept.
        if joined {
            facts.screen_capture = Some(vigil_capture::screen::probe_all());
        }
        Report::new(facts, &opts.policy, source, started.elapsed().as_millis() as u64)
    })
    .await
    .map_err(|e| UiError::new("check.failed", e))
}

/// Starts the camera preview and microphone meter (only after joining, i.e. after consent).
#[tauri::command]
pub fn preview_start(flow: State<'_, Flow>) -> UiResult<()> {
    flow.session()?;
    let mut p = lock(&flow.preview);
    if p.is_none() {
        *p = Some(Preview::start(flow.capture.camera.clone(), flow.capture.microphone));
    }
    Ok(())
}

/// What the check screen shows: the camera picture as a data URL, the microphone level.
#[derive(Serialize)]
pub struct PreviewFrame {
    /// `data:image/jpeg;base64,...`, when the camera delivered a picture.
    image: Option<String>,
    camera_error: Option<String>,
    mic_dbfs: Option<f64>,
    mic_error: Option<String>,
}

fn data_url(jpeg: &[u8]) -> String {
    format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg))
}

#[tauri::command]
pub fn preview_frame(flow: State<'_, Flow>) -> Option<PreviewFrame> {
    lock(&flow.preview).as_ref().map(Preview::frame).map(|f| PreviewFrame {
        image: f.jpeg.as_deref().map(data_url),
        camera_error: f.camera_error,
        mic_dbfs: f.mic_dbfs,
        mic_error: f.mic_error,
    })
}

/// Takes an identity photo (`face` or `id`) from the preview; returns it for the candidate to
/// look at. Taking it again replaces it (retake).
#[tauri::command]
pub fn take_photo(flow: State<'_, Flow>, kind: String) -> UiResult<String> {
    if kind != "face" && kind != "id" {
        return Err(UiError::new("photo.failed", format!("unknown photo kind `{kind}`")));
    }
    let jpeg = lock(&flow.preview)
        .as_ref()
        .and_then(Preview::snapshot)
        .ok_or_else(|| UiError::new("photo.no_camera", "the camera has not delivered a picture"))?;
    let url = data_url(&jpeg);
    lock(&flow.photos).insert(kind, jpeg);
    Ok(url)
}

/// Files the photos taken (encrypted, uploaded like segments).
#[tauri::command]
pub async fn confirm_photos(flow: State<'_, Flow>) -> UiResult<()> {
    let session = flow.session()?;
    let photos = std::mem::take(&mut *lock(&flow.photos));
    for kind in ["face", "id"] {
        if !photos.contains_key(kind) {
            *lock(&flow.photos) = photos;
            return Err(UiError::new("photo.missing", kind));
        }
    }
    tauri::async_runtime::spawn_blocking(move || {
        photos.iter().try_for_each(|(kind, jpeg)| session.add_photo(kind, jpeg))
    })
    .await
    .map_err(|e| UiError::new("photo.failed", e))?
    .map_err(|e| UiError::new("photo.failed", vigil_core::error_chain(&e)))
}

/// Starts recording and opens the exam page in its own window. The exam window gets no IPC:
/// the capability for the app's commands names the `main` window only.
#[tauri::command]
pub async fn start_exam(app: AppHandle, flow: State<'_, Flow>) -> UiResult<Option<String>> {
    let session = flow.session()?;
    // The recorder needs the camera and microphone the preview holds.
    let preview = lock(&flow.preview).take();
    tauri::async_runtime::spawn_blocking(move || drop(preview)).await.ok();
    {
        let mut running = lock(&flow.running);
        if running.is_none() {
            *running = Some(session.start(flow.capture.clone(), StopToken::new()));
        }
    }
    // The operating system's part of the lockdown: shortcuts and clipboard, per policy. A step
    // this desktop cannot do is an event on the timeline; the exam goes on.
    {
        let mut guard = lock(&flow.lockdown);
        if guard.is_none() {
            let mut g = LockdownGuard::new(vigil_lockdown::platform(), session.timeline.clone());
            let l = &session.policy.policy.lockdown;
            if l.grab_keyboard {
                let _ = g.grab_shortcuts();
            }
            if l.clipboard != vigil_core::lockdown::ClipboardRule::Allow {
                let _ = g.clear_clipboard(l.clipboard == vigil_core::lockdown::ClipboardRule::Block);
            }
            *guard = Some(g);
        }
    }
    // What this desktop refused, in one event, once the steps it will get were tried.
    let report_limits = || lock(&flow.lockdown).as_mut().map(LockdownGuard::report_limits);
    let Some(url) = session.info.exam_url.clone() else {
        report_limits();
        return Ok(None);
    };
    let parsed: tauri::Url = url.parse().map_err(|e| UiError::new("exam.bad_url", format!("{url}: {e}")))?;
    if app.get_webview_window("exam").is_none() {
        crate::exam_window::exam_window(
            &app,
            parsed,
            session.policy.clone(),
            session.timeline.clone(),
            flow.exam_window.clone(),
        )
        .map_err(|e| UiError::new("exam.window", e))?;
        if let Some(g) = lock(&flow.lockdown).as_mut() {
            let _ = g.watch_windows_over(crate::exam_window::EXAM_TITLE);
        }
    }
    report_limits();
    Ok(Some(url))
}

#[derive(Serialize)]
pub struct ExamStatus {
    #[serde(flatten)]
    live: LiveStatus,
    /// The exam page's address once it has loaded.
    exam_page: Option<String>,
    /// Addresses the navigation rules blocked lately.
    blocked_urls: Vec<String>,
    recording_ended: bool,
}

#[tauri::command]
pub fn exam_status(flow: State<'_, Flow>) -> UiResult<ExamStatus> {
    let running = lock(&flow.running);
    let r = running.as_ref().ok_or_else(|| UiError::new("flow.not_recording", "the exam has not started"))?;
    let w = lock(&flow.exam_window);
    Ok(ExamStatus {
        live: r.status(),
        exam_page: w.loaded.clone(),
        blocked_urls: w.blocked.clone(),
        recording_ended: r.is_finished(),
    })
}

/// Shows the candidate's current warnings (already translated by the UI) as a banner over the
/// exam page, which covers the screen. The page gets text, not IPC. With `blocking` (a rule the
/// policy says must be resolved first, e.g. `require_close`) the banner covers the whole page,
/// so the exam cannot go on until the warning is gone.
///
/// A new warning takes the focus, so that a screen reader speaks it (Orca 43 ignores alerts that
/// appear in WebKitGTK pages); Escape (`hint` says so) gives the focus back to where the
/// candidate was, and so does the warning's end. `notes` (the gentle prompts of the on-device
/// flags) are a quiet bar at the bottom that never takes the focus from the candidate's work.
#[tauri::command]
pub fn exam_banner(
    app: AppHandle,
    lines: Vec<String>,
    notes: Option<Vec<String>>,
    blocking: bool,
    hint: Option<String>,
) -> UiResult<()> {
    let Some(w) = app.get_webview_window("exam") else { return Ok(()) };
    let text = serde_json::to_string(&lines).unwrap_or_else(|_| "[]".into());
    let notes = serde_json::to_string(&notes.unwrap_or_default()).unwrap_or_else(|_| "[]".into());
    let hint = serde_json::to_string(&hint.unwrap_or_default()).unwrap_or_else(|_| "\"\"".into());
    let script = format!(
        r#"(() => {{
  const lines = {text};
  const notes = {notes};
  // The gentle prompts: a quiet bar at the bottom, apart from the warnings.
  let q = document.getElementById("vigil-prompt");
  if (!notes.length) {{ if (q) q.remove(); }} else {{
    if (!q) {{
      q = document.createElement("div");
      q.id = "vigil-prompt";
      q.setAttribute("role", "status");
      q.style.cssText = "position:fixed;bottom:0;left:0;right:0;z-index:2147483646;background:#1e3a5f;color:#fff;font:16px system-ui,sans-serif;padding:8px 16px";
      document.documentElement.appendChild(q);
    }}
    q.replaceChildren(...notes.map((l) => {{ const p = document.createElement("div"); p.textContent = l; return p; }}));
  }}
  let b = document.getElementById("vigil-banner");
  const back = () => {{ const el = b && b.vigilReturnTo; if (el && el.isConnected) el.focus(); }};
  if (!lines.length) {{ if (b) {{ if (document.activeElement === b) back(); b.remove(); }} return; }}
  // Only a line that was not there before takes the focus (one that ends does not).
  const before = JSON.parse((b && b.dataset.lines) || "[]");
  const fresh = lines.some((l) => !before.includes(l));
  let returnTo = document.activeElement;
  // A banner that has the focus already is replaced: focusing it again is no focus change, and a
  // screen reader would not speak the new line.
  if (b && fresh && document.activeElement === b) {{ returnTo = b.vigilReturnTo; b.remove(); b = null; }}
  if (!b) {{
    b = document.createElement("div");
    b.id = "vigil-banner";
    b.setAttribute("role", "alert");
    b.tabIndex = -1;
    b.addEventListener("keydown", (e) => {{ if (e.key === "Escape") {{ e.preventDefault(); back(); }} }});
    document.documentElement.appendChild(b);
  }}
  b.dataset.blocking = {blocking};
  b.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:2147483647;background:#7f1d1d;color:#fff;font:600 18px system-ui,sans-serif;padding:10px 16px;box-shadow:0 2px 6px #0006;outline:none" + ({blocking} ? ";bottom:0;padding-top:30vh;text-align:center" : "");
  const line = (l) => {{ const p = document.createElement("div"); p.textContent = l; return p; }};
  b.replaceChildren(...lines.map(line));
  const hint = {hint};
  if (hint) {{ const h = line(hint); h.style.cssText = "font-weight:400;font-size:15px"; b.append(h); }}
  b.setAttribute("aria-label", [...lines, hint].filter(Boolean).join(" "));
  b.dataset.lines = JSON.stringify(lines);
  if (!fresh) return;
  if (document.activeElement !== b) b.vigilReturnTo = returnTo;
  b.focus();
}})();"#
    );
    w.eval(&script).map_err(|e| UiError::new("exam.window", e))
}

/// Ends the exam early with the proctor's quit password (its Argon2id hash is in the policy)
/// and delivers what was recorded, like finishing. Each wrong attempt doubles the wait before
/// the next one is checked.
#[tauri::command]
pub async fn quit_exam(app: AppHandle, flow: State<'_, Flow>, password: String) -> UiResult<()> {
    let session = flow.session()?;
    if let Some(wait) = lock(&flow.quit_gate).wait(Instant::now()) {
        return Err(UiError::new("exam.quit_wait", format!("the next attempt in {} s", wait.as_secs() + 1)));
    }
    let lockdown = session.policy.policy.lockdown.clone();
    // About 100 ms of hashing: off the main thread.
    let right =
        tauri::async_runtime::spawn_blocking(move || vigil_core::lockdown::quit_password_matches(&lockdown, &password))
            .await
            .unwrap_or(false);
    if !right {
        let wait = lock(&flow.quit_gate).failed(Instant::now());
        session.timeline.record(Event::new(EventKind::ExamQuitPasswordWrong, json!({"wait_s": wait.as_secs()})));
        return Err(UiError::new(
            "exam.wrong_password",
            format!("the quit password is not right; the next attempt in {} s", wait.as_secs()),
        ));
    }
    session.timeline.record(Event::new(EventKind::ExamQuitWithPassword, json!({})));
    finish_exam(app, flow)
}

/// Ends the exam: stops capture, closes the exam window, and delivers everything in the
/// background; `finish_status` reports the progress and then the receipt.
#[tauri::command]
pub fn finish_exam(app: AppHandle, flow: State<'_, Flow>) -> UiResult<()> {
    let session = flow.session()?;
    lock(&flow.exam_window).may_close = true;
    if let Some(w) = app.get_webview_window("exam") {
        let _ = w.destroy();
    }
    // Undone in reverse order of applying.
    drop(lock(&flow.lockdown).take());
    let running = lock(&flow.running).take();
    let state = flow.finish.clone();
    {
        let mut s = lock(&state);
        if s.started && s.error.is_none() {
            return Ok(()); // already delivering
        }
        *s = FinishState { started: true, ..Default::default() };
    }
    std::thread::spawn(move || {
        if let Some(r) = running {
            if let Err(e) = r.stop() {
                tracing::warn!(error = %e, "recording ended with an error");
            }
        }
        let progress_state = state.clone();
        let result = session.deliver(Duration::from_secs(600), &move |p| lock(&progress_state).progress = Some(p));
        let mut s = lock(&state);
        match result {
            Ok(d) => s.receipt = Some(d),
            Err(e) => s.error = Some(UiError::new("finish.not_delivered", vigil_core::error_chain(&e))),
        }
    });
    Ok(())
}

#[tauri::command]
pub fn finish_status(flow: State<'_, Flow>) -> FinishState {
    lock(&flow.finish).clone()
}

//! Wayland screens through the desktop portal: the ScreenCast interface of xdg-desktop-portal
//! (GNOME, KDE, and wlroots compositors through xdg-desktop-portal-wlr), with PipeWire carrying
//! the pictures. It is how a Wayland desktop without wlroots' screencopy lets a program see the
//! screen, and only after the candidate agrees in the desktop's own sharing dialog.
//!
//! One portal session holds every shared monitor for the life of the process, so the dialog is
//! answered once (the app opens it at the system check, before the exam; the recording reuses
//! it). The portal's restore token is kept in `$XDG_STATE_HOME/vigil/screencast-token` (0600) and
//! offered the next time, so that `vigil record` after `vigil check`, or a resumed exam, does not
//! ask again while the desktop keeps the permission. A monitor the candidate did not share is
//! reported by name ([`unshared`]), never silently left out.

use crate::frame::{CaptureError, PixelFormat, VideoFrame};
use crate::screen::MonitorId;
use ashpd::desktop::screencast::{CursorMode, Screencast, SelectSourcesOptions, SourceType};
use ashpd::desktop::{PersistMode, Session};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long the first picture of every shared monitor may take after the dialog was answered.
const FIRST_PICTURE: Duration = Duration::from_secs(10);

fn portal_err(message: impl std::fmt::Display) -> CaptureError {
    CaptureError::Device { device: "screen sharing (desktop portal)".into(), message: message.to_string() }
}

/// The latest picture of one shared monitor, as PipeWire delivered it.
#[derive(Default)]
struct Latest {
    /// BGRx or BGRA rows, `stride` bytes apart.
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    stride: usize,
    /// Pictures delivered so far.
    count: u64,
    /// Why the stream ended, once it has (the candidate stopped sharing, the monitor went).
    ended: Option<String>,
}

/// Where the PipeWire thread leaves one stream's pictures for its screen's thread.
#[derive(Default)]
pub(crate) struct StreamSlot {
    latest: Mutex<Latest>,
    changed: Condvar,
}

impl StreamSlot {
    /// The stream ended or failed: every later grab says why.
    pub(crate) fn end(&self, why: String) {
        if let Ok(mut l) = self.latest.lock() {
            l.ended.get_or_insert(why);
        }
        self.changed.notify_all();
    }
}

/// One shared monitor.
struct SharedMonitor {
    id: MonitorId,
    slot: Arc<StreamSlot>,
}

/// The portal session and its streams.
pub struct PortalSession {
    monitors: Vec<SharedMonitor>,
    /// Outputs the compositor has that the candidate did not share.
    unshared: Vec<String>,
    // The portal ends the session when this connection closes: both live as long as the session.
    _session: Session<Screencast>,
    _proxy: Screencast,
}

/// The process's portal session: opened at the first need, kept for the exam. A failed opening
/// (no portal, the dialog cancelled) is remembered so that polling does not raise the dialog
/// again; [`retry`] lets the next need ask again (the system check's "check again").
static SESSION: Mutex<Option<Result<Arc<PortalSession>, String>>> = Mutex::new(None);

/// The portal session, opening it (and so asking the candidate) if none was tried yet.
pub fn session() -> Result<Arc<PortalSession>, CaptureError> {
    let mut slot = SESSION.lock().map_err(|_| portal_err("poisoned"))?;
    if slot.is_none() {
        let opened = open().map(Arc::new);
        if let Err(e) = &opened {
            tracing::warn!(error = %e, "screen sharing through the desktop portal failed");
        }
        *slot = Some(opened);
    }
    match slot.as_ref() {
        Some(Ok(s)) => Ok(s.clone()),
        Some(Err(e)) => Err(portal_err(e)),
        None => Err(portal_err("not opened")),
    }
}

/// Whether a portal session is open (so the desktop will not ask again in this process).
pub fn is_open() -> bool {
    SESSION.lock().is_ok_and(|s| matches!(s.as_ref(), Some(Ok(_))))
}

/// Forgets a failed opening, so that the next [`session`] asks the candidate again.
pub fn retry() {
    if let Ok(mut slot) = SESSION.lock() {
        if matches!(slot.as_ref(), Some(Err(_))) {
            *slot = None;
        }
    }
}

/// The shared monitors, at their real pixel sizes.
pub fn monitors() -> Result<Vec<MonitorId>, CaptureError> {
    Ok(session()?.monitors.iter().map(|m| m.id.clone()).collect())
}

/// Outputs the compositor has that were not shared in the dialog (empty before it was answered).
pub fn unshared() -> Vec<String> {
    match SESSION.lock().ok().as_deref() {
        Some(Some(Ok(s))) => s.unshared.clone(),
        _ => Vec::new(),
    }
}

/// Where the restore token is kept: `$XDG_STATE_HOME/vigil`, else `~/.local/state/vigil`.
fn token_file() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("vigil").join("screencast-token"))
}

fn save_token(token: &str) {
    let Some(file) = token_file() else { return };
    let write = || -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&file)?;
        std::io::Write::write_all(&mut f, token.as_bytes())
    };
    if let Err(e) = write() {
        tracing::warn!(error = %e, file = %file.display(), "cannot keep the screen-sharing permission");
    }
}

/// Asks the portal for every monitor, starts the PipeWire streams and waits for each one's first
/// picture, which gives its real pixel size.
fn open() -> Result<PortalSession, String> {
    let token = token_file().and_then(|f| std::fs::read_to_string(f).ok()).filter(|t| !t.trim().is_empty());
    let (proxy, session, streams, fd) = futures_lite::future::block_on(async {
        let proxy = Screencast::new().await.map_err(|e| format!("no ScreenCast portal: {e}"))?;
        let session = proxy.create_session(Default::default()).await.map_err(|e| e.to_string())?;
        let cursor = match proxy.available_cursor_modes().await {
            Ok(modes) if modes.contains(CursorMode::Embedded) => CursorMode::Embedded,
            _ => CursorMode::Hidden,
        };
        proxy
            .select_sources(
                &session,
                SelectSourcesOptions::default()
                    .set_cursor_mode(cursor)
                    .set_sources(ashpd::enumflags2::BitFlags::from(SourceType::Monitor))
                    .set_multiple(true)
                    .set_persist_mode(PersistMode::ExplicitlyRevoked)
                    .set_restore_token(token.as_deref().map(str::trim)),
            )
            .await
            .map_err(|e| e.to_string())?
            .response()
            .map_err(|e| e.to_string())?;
        let started = proxy
            .start(&session, None, Default::default())
            .await
            .map_err(|e| e.to_string())?
            .response()
            .map_err(|e| format!("screen sharing was not allowed: {e}"))?;
        if let Some(t) = started.restore_token() {
            save_token(t);
        }
        let fd = proxy.open_pipe_wire_remote(&session, Default::default()).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((proxy, session, started.streams().to_vec(), fd))
    })?;
    if streams.is_empty() {
        return Err("no monitor was shared".into());
    }
    let nodes: Vec<u32> = streams.iter().map(|s| s.pipe_wire_node_id()).collect();
    let slots = crate::pipewire_video::start(fd, &nodes).map_err(|e| e.to_string())?;

    // The compositor's outputs, to name each shared monitor and to tell which were not shared.
    let outputs = vigil_wayland::outputs().unwrap_or_default();
    let mut named = Vec::new();
    let mut monitors = Vec::new();
    let deadline = Instant::now() + FIRST_PICTURE;
    for (i, (stream, slot)) in streams.iter().zip(slots).enumerate() {
        let (width, height) = first_picture(&slot, deadline)
            .map_err(|e| format!("shared monitor {i} (PipeWire node {}): {e}", nodes[i]))?;
        let (x, y) = stream.position().unwrap_or_default();
        let logical = stream.size().unwrap_or((width as i32, height as i32));
        // The output at the stream's position, else the only one of that logical size.
        let output = outputs.iter().find(|o| stream.position() == Some((o.x, o.y))).or_else(|| {
            let same: Vec<_> = outputs.iter().filter(|o| o.logical_size() == logical).collect();
            (same.len() == 1).then(|| same[0])
        });
        let name = output.map(|o| o.name.clone()).unwrap_or_else(|| format!("PORTAL-{i}"));
        named.push(name.clone());
        let id = MonitorId { name, x, y, width: width & !1, height: height & !1 };
        tracing::info!(monitor = ?id, node = nodes[i], "monitor shared through the desktop portal");
        monitors.push(SharedMonitor { id, slot });
    }
    let unshared = outputs.into_iter().map(|o| o.name).filter(|n| !named.contains(n)).collect();
    Ok(PortalSession { monitors, unshared, _session: session, _proxy: proxy })
}

fn first_picture(slot: &StreamSlot, deadline: Instant) -> Result<(u32, u32), String> {
    let mut l = slot.latest.lock().map_err(|_| "poisoned".to_string())?;
    loop {
        if let Some(why) = &l.ended {
            return Err(why.clone());
        }
        if l.count > 0 {
            return Ok((l.width, l.height));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no picture within {} s", FIRST_PICTURE.as_secs()));
        }
        l = slot.changed.wait_timeout(l, left).map_err(|_| "poisoned".to_string())?.0;
    }
}

/// One shared monitor, read from its PipeWire stream's latest picture.
pub struct PortalScreen {
    name: String,
    slot: Arc<StreamSlot>,
    /// Keeps the session (and so the stream) alive while this screen records.
    _session: Arc<PortalSession>,
    /// The picture count at the last grab, and its pixels' fingerprint.
    last: Option<(u64, u64)>,
}

impl PortalScreen {
    /// The shared monitor named `name`.
    pub fn open(name: &str) -> Result<PortalScreen, CaptureError> {
        let session = session()?;
        let slot = session.monitors.iter().find(|m| m.id.name == name).map(|m| m.slot.clone()).ok_or_else(|| {
            CaptureError::Lost {
                device: format!("monitor {name}"),
                message: "not shared in the desktop's dialog".into(),
            }
        })?;
        Ok(PortalScreen { name: name.to_owned(), slot, _session: session, last: None })
    }

    /// The latest picture as I420, `width` x `height`; an `unchanged` frame without pixels when
    /// no new picture came (the desktop sends one only when the screen changes) or it shows the
    /// same pixels.
    pub fn grab(&mut self, width: u32, height: u32) -> Result<VideoFrame, CaptureError> {
        let lost = |message: String| CaptureError::Lost { device: format!("monitor {}", self.name), message };
        let l = self.slot.latest.lock().map_err(|_| lost("poisoned".into()))?;
        if let Some(why) = &l.ended {
            return Err(lost(why.clone()));
        }
        if self.last.is_some_and(|(count, _)| count == l.count) {
            return Ok(VideoFrame::unchanged(width, height));
        }
        if l.width & !1 != width || l.height & !1 != height {
            return Err(lost(format!("the monitor is now {}x{}, it was {width}x{height}", l.width, l.height)));
        }
        let print = crate::screen::fingerprint(&l.pixels);
        let same = self.last.is_some_and(|(_, p)| p == print);
        self.last = Some((l.count, print));
        if same {
            return Ok(VideoFrame::unchanged(width, height));
        }
        let data = crate::yuv::bgrx_to_i420(&l.pixels, width, height, l.stride).map_err(|e| lost(e.to_string()))?;
        Ok(VideoFrame { width, height, format: PixelFormat::I420, data, captured: Duration::ZERO, unchanged: false })
    }
}

impl StreamSlot {
    /// Stores a delivered picture (`rows` holds `height` rows `stride` bytes apart).
    pub(crate) fn deliver(&self, rows: &[u8], width: u32, height: u32, stride: usize) {
        let Ok(mut l) = self.latest.lock() else { return };
        l.pixels.clear();
        l.pixels.extend_from_slice(rows);
        (l.width, l.height, l.stride) = (width, height, stride);
        l.count += 1;
        drop(l);
        self.changed.notify_all();
    }
}

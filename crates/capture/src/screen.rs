//! Monitors: one source per monitor, through the X11 fast path, on Wayland wlroots' screencopy
//! ([`crate::wlr`]) or the desktop portal ([`crate::portal`]), elsewhere xcap, and change detection so that an unchanged screen is not converted
//! again (the encoder then emits a tiny all-skip frame).

use crate::frame::{CaptureError, PixelFormat, VideoFrame};
use crate::source::VideoSource;
use std::time::Duration;

/// A monitor as the recorder tracks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MonitorId {
    pub name: String,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

use vigil_core::xcap_lock::xcap_lock;

/// How Vigil sees a Wayland desktop's screens.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaylandCapture {
    /// wlroots' screencopy when the compositor offers it, else the desktop portal.
    Auto,
    Screencopy,
    Portal,
}

#[cfg(target_os = "linux")]
impl WaylandCapture {
    /// From `VIGIL_WAYLAND_CAPTURE` (`auto`, `screencopy`, `portal`; for IT and tests), else auto.
    pub fn from_env() -> WaylandCapture {
        match std::env::var("VIGIL_WAYLAND_CAPTURE").as_deref() {
            Ok("portal") => WaylandCapture::Portal,
            Ok("screencopy") => WaylandCapture::Screencopy,
            _ => WaylandCapture::Auto,
        }
    }
}

/// Whether seeing the screens will make the desktop ask the candidate to share them (a Wayland
/// desktop without screencopy, before the portal session is open): the app says so first.
pub fn asks_to_share() -> bool {
    #[cfg(target_os = "linux")]
    {
        let how = WaylandCapture::from_env();
        crate::wlr::is_wayland()
            && how != WaylandCapture::Screencopy
            && !crate::portal::is_open()
            && (how == WaylandCapture::Portal || crate::wlr::monitors().is_ok_and(|m| m.is_none()))
    }
    #[cfg(not(target_os = "linux"))]
    false
}

/// The monitors there are now. On Wayland: a wlroots compositor's outputs when it offers
/// screencopy, else the monitors shared through the desktop portal (which asks the candidate
/// once); elsewhere as xcap sees them.
pub fn monitors() -> Result<Vec<MonitorId>, CaptureError> {
    #[cfg(target_os = "linux")]
    if crate::wlr::is_wayland() {
        let how = WaylandCapture::from_env();
        if how != WaylandCapture::Portal {
            if let Some(list) = crate::wlr::monitors()? {
                return Ok(list);
            }
        }
        if how == WaylandCapture::Screencopy {
            return Err(CaptureError::Unsupported {
                device: "monitors".into(),
                message: "this compositor offers no screencopy (VIGIL_WAYLAND_CAPTURE=screencopy)".into(),
            });
        }
        return crate::portal::monitors();
    }
    let _xcap = xcap_lock();
    let err = |e: xcap::XCapError| CaptureError::Device { device: "monitors".into(), message: e.to_string() };
    let all = xcap::Monitor::all().map_err(err)?;
    all.iter()
        .map(|m| {
            Ok(MonitorId {
                name: m.name().map_err(err)?,
                x: m.x().map_err(err)?,
                y: m.y().map_err(err)?,
                width: m.width().map_err(err)?,
                height: m.height().map_err(err)?,
            })
        })
        .collect()
}

/// One picture from every monitor, grabbed the way the recorder grabs it: its size, whether it
/// is black everywhere, or why it could not be had. For the system check (`monitors.capture`).
pub fn probe_all() -> Vec<vigil_core::facts::ScreenProbe> {
    // The check may ask again for screen sharing the candidate refused before.
    #[cfg(target_os = "linux")]
    crate::portal::retry();
    let list = match monitors() {
        Ok(list) => list,
        // Refused screen sharing is this check's failure; no monitors to list is `monitors.count`'s.
        #[cfg(target_os = "linux")]
        Err(e) if crate::wlr::is_wayland() => {
            return vec![vigil_core::facts::ScreenProbe {
                monitor: "every monitor".into(),
                error: Some(e.to_string()),
                ..Default::default()
            }]
        }
        Err(_) => return Vec::new(),
    };
    #[cfg(target_os = "linux")]
    let unshared = crate::portal::unshared().into_iter().map(|name| vigil_core::facts::ScreenProbe {
        monitor: name,
        error: Some("not shared in the desktop's screen-sharing dialog: Vigil cannot see it".into()),
        ..Default::default()
    });
    #[cfg(not(target_os = "linux"))]
    let unshared = std::iter::empty();
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let mut probe = vigil_core::facts::ScreenProbe {
                monitor: m.name.clone(),
                width: m.width,
                height: m.height,
                ..Default::default()
            };
            match ScreenSource::open(format!("screen-{i}"), m).and_then(|mut s| s.grab()) {
                Ok(frame) => {
                    probe.grabbed_width = frame.width;
                    probe.grabbed_height = frame.height;
                    probe.dark = crate::blank::is_dark(&frame);
                }
                Err(e) => probe.error = Some(e.to_string()),
            }
            probe
        })
        .chain(unshared)
        .collect()
}

/// One monitor, captured through xcap. Creating, using and dropping the xcap monitor all happen
/// under the xcap lock.
pub struct ScreenSource {
    id: String,
    monitor: Option<xcap::Monitor>,
    /// The X11 fast path (shared memory + damage), when available.
    #[cfg(target_os = "linux")]
    x11: Option<crate::x11::X11Grabber>,
    /// wlroots' screencopy on Wayland, when the compositor offers it (then there is no xcap monitor).
    #[cfg(target_os = "linux")]
    wlr: Option<crate::wlr::WlrScreen>,
    /// The desktop portal's stream on other Wayland desktops.
    #[cfg(target_os = "linux")]
    portal: Option<crate::portal::PortalScreen>,
    name: String,
    width: u32,
    height: u32,
}

impl ScreenSource {
    /// Opens the monitor named `info.name`.
    pub fn open(id: String, info: &MonitorId) -> Result<ScreenSource, CaptureError> {
        // H.264 wants even dimensions.
        let (width, height) = (info.width & !1, info.height & !1);
        #[cfg(target_os = "linux")]
        if crate::wlr::is_wayland() {
            let (name, how) = (info.name.clone(), WaylandCapture::from_env());
            let wlr = match how {
                WaylandCapture::Portal => None,
                _ => crate::wlr::WlrScreen::open(&info.name)?,
            };
            let portal = match (&wlr, how) {
                (None, WaylandCapture::Auto | WaylandCapture::Portal) => {
                    Some(crate::portal::PortalScreen::open(&name)?)
                }
                _ => None,
            };
            if wlr.is_none() && portal.is_none() {
                return Err(CaptureError::Unsupported {
                    device: format!("monitor {name}"),
                    message: "this compositor offers no screencopy (VIGIL_WAYLAND_CAPTURE=screencopy)".into(),
                });
            }
            return Ok(ScreenSource { id, monitor: None, x11: None, wlr, portal, name, width, height });
        }
        let _xcap = xcap_lock();
        let lost = |message: String| CaptureError::Lost { device: format!("monitor {}", info.name), message };
        let monitor = xcap::Monitor::all()
            .map_err(|e| lost(e.to_string()))?
            .into_iter()
            .find(|m| m.name().is_ok_and(|n| n == info.name))
            .ok_or_else(|| lost("no longer connected".into()))?;
        #[cfg(target_os = "linux")]
        let x11 = if std::env::var_os("WAYLAND_DISPLAY").is_none_or(|v| v.is_empty()) {
            // Never the root of Xwayland: it is black, whatever the Wayland desktop shows. Xwayland
            // before 23.1 has no XWAYLAND extension, but names its outputs XWAYLAND0, 1, ...
            if crate::x11::is_xwayland().unwrap_or(false) || info.name.starts_with("XWAYLAND") {
                return Err(CaptureError::Unsupported {
                    device: format!("monitor {}", info.name),
                    message: "DISPLAY is served by Xwayland, whose screen is black: Vigil must run in the Wayland \
                              session itself (WAYLAND_DISPLAY set) to see this desktop"
                        .into(),
                });
            }
            crate::x11::X11Grabber::new(info.x, info.y, width, height)
                .map_err(|e| tracing::info!(error = %e, monitor = %info.name, "X11 fast path unavailable; capturing through xcap"))
                .ok()
        } else {
            None
        };
        Ok(ScreenSource {
            id,
            monitor: Some(monitor),
            #[cfg(target_os = "linux")]
            x11,
            #[cfg(target_os = "linux")]
            wlr: None,
            #[cfg(target_os = "linux")]
            portal: None,
            name: info.name.clone(),
            width,
            height,
        })
    }
}

impl Drop for ScreenSource {
    fn drop(&mut self) {
        let _xcap = xcap_lock();
        self.monitor.take();
    }
}

impl VideoSource for ScreenSource {
    fn id(&self) -> &str {
        &self.id
    }

    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn grab(&mut self) -> Result<VideoFrame, CaptureError> {
        let lost = |message: String| CaptureError::Lost { device: format!("monitor {}", self.name), message };
        #[cfg(target_os = "linux")]
        if let Some(wlr) = self.wlr.as_mut() {
            return wlr.grab(self.width, self.height);
        }
        #[cfg(target_os = "linux")]
        if let Some(portal) = self.portal.as_mut() {
            return portal.grab(self.width, self.height);
        }
        #[cfg(target_os = "linux")]
        if let Some(x11) = self.x11.as_mut() {
            // Converted to I420 right out of the shared memory: 3 MB per queued 1080p frame
            // instead of 8, and no copy of the raw pixels.
            let w = self.width as usize;
            let frame = |data: Vec<u8>, unchanged| VideoFrame {
                width: self.width,
                height: self.height,
                format: PixelFormat::I420,
                data,
                captured: Duration::ZERO,
                unchanged,
            };
            return match x11.changed() {
                Ok(false) => Ok(frame(Vec::new(), true)),
                Ok(true) => {
                    match x11.grab_with(|bgrx| crate::yuv::bgrx_to_i420(bgrx, self.width, self.height, w * 4)) {
                        Ok(Ok(data)) => Ok(frame(data, false)),
                        Ok(Err(e)) => Err(lost(e.to_string())),
                        Err(e) => Err(lost(e.to_string())),
                    }
                }
                Err(e) => Err(lost(e.to_string())),
            };
        }
        // xcap opens a new X connection per capture; an X server that resets when its last client
        // leaves (a bare Xvfb) refuses connections for a moment, so a failed capture is retried
        // before the monitor is declared lost.
        let mut attempt = 0;
        let image = loop {
            let result = {
                let _xcap = xcap_lock();
                self.monitor.as_ref().ok_or_else(|| lost("closed".into()))?.capture_image()
            };
            match result {
                Ok(image) => break image,
                Err(e) if attempt < 3 => {
                    tracing::debug!(error = %e, attempt, monitor = %self.name, "capture failed; retrying");
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(lost(e.to_string())),
            }
        };
        let (w, h) = (image.width(), image.height());
        let mut data = image.into_raw();
        if (w, h) != (self.width, self.height) {
            data = crop_rgba(&data, w, h, self.width, self.height)
                .ok_or_else(|| lost(format!("size changed to {w}x{h}")))?;
        }
        Ok(VideoFrame {
            width: self.width,
            height: self.height,
            format: PixelFormat::Rgba8,
            data,
            captured: Duration::ZERO,
            unchanged: false,
        })
    }
}

/// The top-left `w`x`h` of an RGBA image of `sw`x`sh` (None if it is smaller).
fn crop_rgba(data: &[u8], sw: u32, sh: u32, w: u32, h: u32) -> Option<Vec<u8>> {
    if w > sw || h > sh {
        return None;
    }
    let mut out = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h as usize {
        let start = y * sw as usize * 4;
        out.extend_from_slice(&data[start..start + w as usize * 4]);
    }
    Some(out)
}

/// A cheap fingerprint of a picture (FNV-1a over 8-byte words), to notice an unchanged screen.
pub fn fingerprint(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        hash ^= u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    for &b in chunks.remainder() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

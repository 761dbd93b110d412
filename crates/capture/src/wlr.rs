//! Wayland screens through wlroots' screencopy protocol (sway, Hyprland, river, labwc, Wayfire):
//! each output is copied into a shared-memory buffer at its real pixel size (its mode, whatever
//! its scale), with its position in the compositor's layout. Used when the compositor offers
//! `zwlr_screencopy_manager_v1`; GNOME and KDE do not (their path is the desktop portal).
//!
//! Each screen keeps its own connection, so that every track grabs on its own thread.

use crate::frame::{CaptureError, PixelFormat, VideoFrame};
use crate::screen::MonitorId;
use std::time::Duration;
use wayland_client::protocol::{wl_buffer, wl_output, wl_shm, wl_shm_pool};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1 as frame, zwlr_screencopy_manager_v1 as manager,
};

pub use vigil_wayland::is_wayland;

/// What the frame being copied has said so far.
#[derive(Debug, Default)]
struct FrameState {
    /// A shared-memory format it offers: (format, width, height, stride).
    shm: Option<(wl_shm::Format, u32, u32, u32)>,
    buffers_done: bool,
    y_invert: bool,
    ready: bool,
    failed: bool,
}

#[derive(Default)]
struct State {
    outputs: vigil_wayland::Outputs,
    frame: FrameState,
}

impl AsMut<vigil_wayland::Outputs> for State {
    fn as_mut(&mut self) -> &mut vigil_wayland::Outputs {
        &mut self.outputs
    }
}

vigil_wayland::delegate_outputs!(State);

/// A connection to the compositor with its screencopy manager and outputs.
struct Session {
    queue: EventQueue<State>,
    state: State,
    shm: wl_shm::WlShm,
    manager: manager::ZwlrScreencopyManagerV1,
}

fn device_err(message: String) -> CaptureError {
    CaptureError::Device { device: "Wayland screens".into(), message }
}

impl Session {
    /// Connects, or `Ok(None)` when the compositor has no screencopy.
    fn connect() -> Result<Option<Session>, CaptureError> {
        let (globals, queue, state) = vigil_wayland::connect::<State>().map_err(device_err)?;
        let qh = queue.handle();
        let Ok(manager) = globals.bind::<manager::ZwlrScreencopyManagerV1, _, _>(&qh, 1..=3, ()) else {
            return Ok(None);
        };
        let shm = globals
            .bind::<wl_shm::WlShm, _, _>(&qh, 1..=1, ())
            .map_err(|e| device_err(format!("no shared memory: {e}")))?;
        Ok(Some(Session { queue, state, shm, manager }))
    }

    fn monitors(&self) -> Vec<MonitorId> {
        // Screencopy hands over an output's buffer: its mode, before its transform.
        self.state
            .outputs
            .list()
            .into_iter()
            .map(|o| MonitorId { name: o.name, x: o.x, y: o.y, width: o.mode.0, height: o.mode.1 })
            .collect()
    }
}

/// The monitors of a wlroots compositor, or `Ok(None)` when it has no screencopy.
pub fn monitors() -> Result<Option<Vec<MonitorId>>, CaptureError> {
    Ok(Session::connect()?.map(|s| s.monitors()))
}

/// One output, grabbed by screencopy into a reused shared-memory buffer.
pub struct WlrScreen {
    session: Session,
    output: wl_output::WlOutput,
    name: String,
    buffer: Option<ShmBuffer>,
    /// The fingerprint of the last picture's pixels, to notice an unchanged screen.
    last_print: Option<u64>,
}

impl WlrScreen {
    /// The output named `name`, or `Ok(None)` when the compositor has no screencopy.
    pub fn open(name: &str) -> Result<Option<WlrScreen>, CaptureError> {
        let Some(session) = Session::connect()? else { return Ok(None) };
        let output = session.state.outputs.proxy(name).cloned().ok_or_else(|| CaptureError::Lost {
            device: format!("monitor {name}"),
            message: "no longer connected".into(),
        })?;
        Ok(Some(WlrScreen { session, output, name: name.to_owned(), buffer: None, last_print: None }))
    }

    /// One picture as I420, `width` x `height` (the output's pixels; cut to even sizes), or an
    /// `unchanged` frame without pixels when they are the same as the last picture's.
    pub fn grab(&mut self, width: u32, height: u32) -> Result<VideoFrame, CaptureError> {
        let lost = |message: String| CaptureError::Lost { device: format!("monitor {}", self.name), message };
        let s = &mut self.session;
        let qh = s.queue.handle();
        s.state.frame = FrameState::default();
        let frame = s.manager.capture_output(0, &self.output, &qh, ());
        let started = std::time::Instant::now();
        let wait = |s: &mut Session, done: &dyn Fn(&FrameState) -> bool| -> Result<(), String> {
            while !done(&s.state.frame) && !s.state.frame.failed {
                if started.elapsed() > Duration::from_secs(5) {
                    return Err("the compositor did not answer within 5 s".into());
                }
                s.queue.blocking_dispatch(&mut s.state).map_err(|e| e.to_string())?;
            }
            if s.state.frame.failed {
                return Err("the compositor refused the copy".into());
            }
            Ok(())
        };
        // Version 3 ends the list of buffer types with buffer_done; earlier ones send shm only.
        let v3 = s.manager.version() >= 3;
        let result = wait(s, &|f| f.shm.is_some() && (f.buffers_done || !v3)).and_then(|()| {
            let (format, w, h, stride) = s.state.frame.shm.ok_or("no shared-memory buffer offered")?;
            if !matches!(format, wl_shm::Format::Xrgb8888 | wl_shm::Format::Argb8888) {
                return Err(format!("buffer format {format:?} is not handled"));
            }
            let size = stride as usize * h as usize;
            if self.buffer.as_ref().is_none_or(|b| b.size != size || b.format != (format, w, h, stride)) {
                self.buffer = Some(ShmBuffer::new(&s.shm, &qh, (format, w, h, stride))?);
            }
            let buffer = self.buffer.as_ref().ok_or("no buffer")?;
            frame.copy(&buffer.buffer);
            wait(s, &|f| f.ready)?;
            Ok((w, h, stride))
        });
        frame.destroy();
        let (w, h, stride) = result.map_err(lost)?;
        if w & !1 != width || h & !1 != height {
            return Err(lost(format!("the output is now {w}x{h}, it was {width}x{height}")));
        }
        let pixels = self.buffer.as_ref().map(|b| b.bytes()).unwrap_or_default();
        // The same pixels as last time: neither converted nor encoded again.
        let print = crate::screen::fingerprint(pixels);
        if self.last_print.replace(print) == Some(print) {
            return Ok(VideoFrame::unchanged(width, height));
        }
        let (row, stride) = (width as usize * 4, stride as usize);
        let data = if s.state.frame.y_invert {
            let mut bgrx = Vec::with_capacity(row * height as usize);
            for y in (0..height as usize).map(|y| h as usize - 1 - y) {
                bgrx.extend_from_slice(&pixels[y * stride..y * stride + row]);
            }
            crate::yuv::bgrx_to_i420(&bgrx, width, height, row)
        } else {
            crate::yuv::bgrx_to_i420(pixels, width, height, stride)
        }
        .map_err(|e| lost(e.to_string()))?;
        Ok(VideoFrame { width, height, format: PixelFormat::I420, data, captured: Duration::ZERO, unchanged: false })
    }
}

/// A `wl_buffer` over an anonymous shared-memory file, mapped here.
struct ShmBuffer {
    buffer: wl_buffer::WlBuffer,
    format: (wl_shm::Format, u32, u32, u32),
    map: *mut libc::c_void,
    size: usize,
}

// SAFETY: the mapping is owned by this buffer and only read through `&self` on the thread that
// owns the screen.
unsafe impl Send for ShmBuffer {}

impl ShmBuffer {
    fn new(
        shm: &wl_shm::WlShm,
        qh: &QueueHandle<State>,
        format: (wl_shm::Format, u32, u32, u32),
    ) -> Result<ShmBuffer, String> {
        use std::os::fd::{AsFd, FromRawFd, OwnedFd};
        let (pixel_format, w, h, stride) = format;
        let size = stride as usize * h as usize;
        // SAFETY: memfd_create with a static name; the result is checked before use.
        let raw = unsafe { libc::memfd_create(c"vigil-screen".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a file descriptor we just opened and own from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let file = std::fs::File::from(fd.try_clone().map_err(|e| e.to_string())?);
        file.set_len(size as u64).map_err(|e| format!("sizing the screen buffer: {e}"))?;
        // SAFETY: a shared read mapping of `size` bytes of a file of that size.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()));
        }
        let pool = shm.create_pool(fd.as_fd(), size as i32, qh, ());
        let buffer = pool.create_buffer(0, w as i32, h as i32, stride as i32, pixel_format, qh, ());
        pool.destroy();
        Ok(ShmBuffer { buffer, format, map, size })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `map` is a live mapping of `size` bytes until drop.
        unsafe { std::slice::from_raw_parts(self.map as *const u8, self.size) }
    }
}

impl Drop for ShmBuffer {
    fn drop(&mut self) {
        self.buffer.destroy();
        // SAFETY: unmapping the mapping made in `new`, once.
        unsafe { libc::munmap(self.map, self.size) };
    }
}

impl Dispatch<frame::ZwlrScreencopyFrameV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &frame::ZwlrScreencopyFrameV1,
        event: frame::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let f = &mut state.frame;
        match event {
            frame::Event::Buffer { format: WEnum::Value(format), width, height, stride } => {
                // 32-bit RGB, XRGB preferred.
                let usable = matches!(format, wl_shm::Format::Xrgb8888 | wl_shm::Format::Argb8888);
                if usable && (f.shm.is_none() || format == wl_shm::Format::Xrgb8888) {
                    f.shm = Some((format, width, height, stride));
                }
            }
            frame::Event::BufferDone => f.buffers_done = true,
            frame::Event::Flags { flags: WEnum::Value(flags) } => f.y_invert = flags.contains(frame::Flags::YInvert),
            frame::Event::Ready { .. } => f.ready = true,
            frame::Event::Failed => f.failed = true,
            _ => {}
        }
    }
}

wayland_client::delegate_noop!(State: ignore wl_shm::WlShm);
wayland_client::delegate_noop!(State: ignore wl_shm_pool::WlShmPool);
wayland_client::delegate_noop!(State: ignore wl_buffer::WlBuffer);
wayland_client::delegate_noop!(State: ignore manager::ZwlrScreencopyManagerV1);

//! Wayland screens through wlroots' screencopy protocol (sway, Hyprland, river, labwc, Wayfire):
//! each output is copied into a shared-memory buffer at its real pixel size (its mode, whatever
//! its scale), with its position in the compositor's layout. Used when the compositor offers
//! `zwlr_screencopy_manager_v1`; GNOME and KDE do not (their path is the desktop portal).
//!
//! Each screen keeps its own connection, so that every track grabs on its own thread.

use crate::frame::{CaptureError, PixelFormat, VideoFrame};
use crate::screen::MonitorId;
use std::time::Duration;
use wayland_client::globals::{registry_queue_init, GlobalList, GlobalListContents};
use wayland_client::protocol::{wl_buffer, wl_output, wl_registry, wl_shm, wl_shm_pool};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum};
use wayland_protocols::xdg::xdg_output::zv1::client::{zxdg_output_manager_v1, zxdg_output_v1};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1 as frame, zwlr_screencopy_manager_v1 as manager,
};

/// Whether this session is Wayland (a non-empty `WAYLAND_DISPLAY`).
pub fn is_wayland() -> bool {
    std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
}

#[derive(Debug, Default, Clone)]
struct Output {
    name: Option<String>,
    x: i32,
    y: i32,
    width: i32,
    height: i32,
    scale: i32,
    /// xdg-output's layout position (wlroots says 0,0 in `wl_output`'s geometry).
    logical_position: Option<(i32, i32)>,
}

impl Output {
    /// Its position in the compositor's layout.
    fn position(&self) -> (i32, i32) {
        self.logical_position.unwrap_or((self.x, self.y))
    }
}

/// An output as any Wayland compositor announces it: its name, and its place and size in the
/// layout's (logical) coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputInfo {
    pub name: String,
    pub x: i32,
    pub y: i32,
    pub logical_width: i32,
    pub logical_height: i32,
}

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
    outputs: Vec<(wl_output::WlOutput, Output)>,
    frame: FrameState,
}

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

/// Connects to the compositor and reads its outputs.
fn connect_outputs() -> Result<(GlobalList, EventQueue<State>, State), CaptureError> {
    let conn = Connection::connect_to_env().map_err(|e| device_err(format!("cannot reach the compositor: {e}")))?;
    let (globals, mut queue) =
        registry_queue_init::<State>(&conn).map_err(|e| device_err(format!("compositor registry: {e}")))?;
    let qh = queue.handle();
    let mut state = State::default();
    for global in globals.contents().clone_list() {
        if global.interface == "wl_output" {
            let output: wl_output::WlOutput = globals.registry().bind(global.name, global.version.min(4), &qh, ());
            state.outputs.push((output, Output { scale: 1, ..Output::default() }));
        }
    }
    if let Ok(manager) = globals.bind::<zxdg_output_manager_v1::ZxdgOutputManagerV1, _, _>(&qh, 1..=3, ()) {
        for (i, (output, _)) in state.outputs.iter().enumerate() {
            manager.get_xdg_output(output, &qh, i);
        }
    }
    queue.roundtrip(&mut state).map_err(|e| device_err(e.to_string()))?;
    queue.roundtrip(&mut state).map_err(|e| device_err(e.to_string()))?;
    Ok((globals, queue, state))
}

/// Every output of this Wayland session's compositor, whichever it is.
pub fn outputs() -> Result<Vec<OutputInfo>, CaptureError> {
    let (_, _, state) = connect_outputs()?;
    Ok(state
        .outputs
        .iter()
        .enumerate()
        .map(|(i, (_, o))| OutputInfo {
            name: o.name.clone().unwrap_or_else(|| format!("WL-{i}")),
            x: o.position().0,
            y: o.position().1,
            logical_width: o.width / o.scale.max(1),
            logical_height: o.height / o.scale.max(1),
        })
        .collect())
}

impl Session {
    /// Connects, or `Ok(None)` when the compositor has no screencopy.
    fn connect() -> Result<Option<Session>, CaptureError> {
        let (globals, queue, state) = connect_outputs()?;
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
        self.state
            .outputs
            .iter()
            .enumerate()
            .map(|(i, (_, o))| MonitorId {
                name: o.name.clone().unwrap_or_else(|| format!("WL-{i}")),
                x: o.position().0,
                y: o.position().1,
                width: o.width.max(0) as u32,
                height: o.height.max(0) as u32,
            })
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
        let index = session.monitors().iter().position(|m| m.name == name);
        let output = index.map(|i| session.state.outputs[i].0.clone()).ok_or_else(|| CaptureError::Lost {
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

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wl_output::WlOutput, ()> for State {
    fn event(
        state: &mut Self,
        proxy: &wl_output::WlOutput,
        event: wl_output::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some((_, o)) = state.outputs.iter_mut().find(|(p, _)| p == proxy) else { return };
        match event {
            wl_output::Event::Geometry { x, y, .. } => (o.x, o.y) = (x, y),
            wl_output::Event::Mode { flags: WEnum::Value(flags), width, height, .. }
                if flags.contains(wl_output::Mode::Current) =>
            {
                (o.width, o.height) = (width, height)
            }
            wl_output::Event::Name { name } => o.name = Some(name),
            wl_output::Event::Scale { factor } => o.scale = factor,
            _ => {}
        }
    }
}

impl Dispatch<zxdg_output_manager_v1::ZxdgOutputManagerV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &zxdg_output_manager_v1::ZxdgOutputManagerV1,
        _: zxdg_output_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<zxdg_output_v1::ZxdgOutputV1, usize> for State {
    fn event(
        state: &mut Self,
        _: &zxdg_output_v1::ZxdgOutputV1,
        event: zxdg_output_v1::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let (zxdg_output_v1::Event::LogicalPosition { x, y }, Some((_, o))) = (event, state.outputs.get_mut(*index))
        {
            o.logical_position = Some((x, y));
        }
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

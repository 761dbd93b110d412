//! Direct X11 screen grabbing for one monitor: MIT-SHM `GetImage` into shared memory (no copy
//! through the socket; the caller reads the BGRX pixels in place), one segment for all monitors,
//! used in turn, and the DAMAGE extension to know whether anything in the monitor's rectangle
//! changed since the last grab, so that a static screen is not grabbed at all.
//!
//! xcap still enumerates monitors (and captures on Wayland, Windows and macOS); this is only the
//! X11 fast path, used when the server offers 24-bit depth in 32-bit pixels.

use xcb::{damage, shm, x, xfixes, Xid};

#[derive(Debug, thiserror::Error)]
#[error("X11 capture: {0}")]
pub struct X11Error(pub String);

fn err(e: impl std::fmt::Display) -> X11Error {
    X11Error(e.to_string())
}

/// Whether the X server behind `DISPLAY` is Xwayland (it offers the `XWAYLAND` extension). Its
/// root window holds no picture of the Wayland desktop, so grabbing it records black.
pub fn is_xwayland() -> Result<bool, X11Error> {
    let (conn, _) = xcb::Connection::connect(None).map_err(err)?;
    let reply = conn.wait_for_reply(conn.send_request(&x::QueryExtension { name: b"XWAYLAND" })).map_err(err)?;
    Ok(reply.present())
}

/// A System V shared-memory segment mapped into this process, which every monitor's grabber
/// attaches to the X server on its own connection and uses in turn: one image's worth of memory
/// for all monitors (a 1080p one is 8 MiB, a 4K one 32 MiB), not one per monitor. Grabs hold
/// `turn` from the request until their pixels are consumed; monitors grabbed about once a second
/// wait a few milliseconds for each other at most.
struct Segment {
    id: i32,
    addr: *mut libc::c_void,
    size: usize,
    turn: std::sync::Mutex<()>,
}

// SAFETY: the memory is read only while holding `turn`; the pointer itself is never written.
unsafe impl Send for Segment {}
unsafe impl Sync for Segment {}

impl Segment {
    /// The segment in use if it holds `size` bytes, else a new one (grabbers of smaller monitors
    /// keep the one they have).
    fn at_least(size: usize) -> Option<std::sync::Arc<Segment>> {
        static CURRENT: std::sync::Mutex<std::sync::Weak<Segment>> = std::sync::Mutex::new(std::sync::Weak::new());
        let mut current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(segment) = current.upgrade().filter(|s| s.size >= size) {
            return Some(segment);
        }
        // SAFETY: plain System V shared memory calls. The id is marked for removal at once, so
        // the segment goes when the last side detaches, even if this process is killed; Linux
        // still lets the X server attach it for each grabber's connection.
        let segment = unsafe {
            let id = libc::shmget(libc::IPC_PRIVATE, size, libc::IPC_CREAT | 0o600);
            if id < 0 {
                return None;
            }
            let addr = libc::shmat(id, std::ptr::null(), 0);
            libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut());
            if addr as isize == -1 {
                return None;
            }
            std::sync::Arc::new(Segment { id, addr, size, turn: std::sync::Mutex::new(()) })
        };
        *current = std::sync::Arc::downgrade(&segment);
        Some(segment)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: mapped in `at_least`, unmapped once, after every grabber let it go.
        unsafe { libc::shmdt(self.addr) };
    }
}

/// The shared segment as attached to the X server on one connection.
struct SharedImage {
    seg: shm::Seg,
    segment: std::sync::Arc<Segment>,
}

pub struct X11Grabber {
    conn: xcb::Connection,
    root: x::Window,
    damage: damage::Damage,
    rect: (i16, i16, u16, u16),
    shm: Option<SharedImage>,
    dirty: bool,
}

impl X11Grabber {
    /// Prepares grabbing the rectangle `x, y, width, height` of the default screen.
    pub fn new(x: i32, y: i32, width: u32, height: u32) -> Result<X11Grabber, X11Error> {
        let (conn, screen) = xcb::Connection::connect_with_extensions(
            None,
            &[xcb::Extension::Damage, xcb::Extension::XFixes],
            &[xcb::Extension::Shm],
        )
        .map_err(err)?;
        let setup = conn.get_setup();
        let root_screen = setup.roots().nth(screen as usize).ok_or_else(|| X11Error("no X screen".into()))?;
        let root = root_screen.root();
        let pixels_ok = root_screen.root_depth() == 24
            && setup.pixmap_formats().iter().any(|f| f.depth() == 24 && f.bits_per_pixel() == 32)
            && setup.image_byte_order() == x::ImageOrder::LsbFirst;
        if !pixels_ok {
            return Err(X11Error("the X server's pixel format is not 24-bit BGRX".into()));
        }
        conn.wait_for_reply(
            conn.send_request(&xfixes::QueryVersion { client_major_version: 5, client_minor_version: 0 }),
        )
        .map_err(err)?;
        conn.wait_for_reply(
            conn.send_request(&damage::QueryVersion { client_major_version: 1, client_minor_version: 1 }),
        )
        .map_err(err)?;
        let dmg: damage::Damage = conn.generate_id();
        conn.send_and_check_request(&damage::Create {
            damage: dmg,
            drawable: x::Drawable::Window(root),
            level: damage::ReportLevel::BoundingBox,
        })
        .map_err(err)?;
        let rect = (x as i16, y as i16, width as u16, height as u16);
        let mut grabber = X11Grabber { conn, root, damage: dmg, rect, shm: None, dirty: true };
        grabber.shm = grabber.attach_shm((width as usize) * (height as usize) * 4);
        Ok(grabber)
    }

    fn attach_shm(&self, size: usize) -> Option<SharedImage> {
        if self.conn.active_extensions().all(|e| e != xcb::Extension::Shm) {
            return None;
        }
        let segment = Segment::at_least(size)?;
        let seg: shm::Seg = self.conn.generate_id();
        self.conn
            .send_and_check_request(&shm::Attach { shmseg: seg, shmid: segment.id as u32, read_only: false })
            .ok()?;
        Some(SharedImage { seg, segment })
    }

    /// Whether anything in the rectangle changed since the last [`grab`](Self::grab).
    pub fn changed(&mut self) -> Result<bool, X11Error> {
        while let Some(event) = self.conn.poll_for_event().map_err(err)? {
            if let xcb::Event::Damage(damage::Event::Notify(n)) = event {
                let a = n.area();
                let (x, y, w, h) = self.rect;
                let overlaps = (a.x as i32) < x as i32 + w as i32
                    && (a.x as i32 + a.width as i32) > x as i32
                    && (a.y as i32) < y as i32 + h as i32
                    && (a.y as i32 + a.height as i32) > y as i32;
                self.dirty |= overlaps;
            }
        }
        Ok(self.dirty)
    }

    /// Calls `f` with the rectangle's pixels as BGRX, 4 bytes each, row after row (straight from
    /// the shared memory when MIT-SHM is there: no copy).
    pub fn grab_with<T>(&mut self, f: impl FnOnce(&[u8]) -> T) -> Result<T, X11Error> {
        // Reset the damage first: a change during the grab is reported for the next one.
        self.conn
            .send_and_check_request(&damage::Subtract {
                damage: self.damage,
                repair: xfixes::Region::none(),
                parts: xfixes::Region::none(),
            })
            .map_err(err)?;
        self.dirty = false;
        let (x, y, width, height) = self.rect;
        let drawable = x::Drawable::Window(self.root);
        if let Some(shm) = &self.shm {
            let _turn = shm.segment.turn.lock().unwrap_or_else(|e| e.into_inner());
            let cookie = self.conn.send_request(&shm::GetImage {
                drawable,
                x,
                y,
                width,
                height,
                plane_mask: u32::MAX,
                format: x::ImageFormat::ZPixmap as u8,
                shmseg: shm.seg,
                offset: 0,
            });
            self.conn.wait_for_reply(cookie).map_err(err)?;
            // SAFETY: the server has finished writing (we have its reply), no other grab can start
            // before `turn` is released; the segment maps at least `len` bytes.
            let len = (width as usize * height as usize * 4).min(shm.segment.size);
            let pixels = unsafe { std::slice::from_raw_parts(shm.segment.addr as *const u8, len) };
            return Ok(f(pixels));
        }
        let reply = self
            .conn
            .wait_for_reply(self.conn.send_request(&x::GetImage {
                format: x::ImageFormat::ZPixmap,
                drawable,
                x,
                y,
                width,
                height,
                plane_mask: u32::MAX,
            }))
            .map_err(err)?;
        Ok(f(reply.data()))
    }
}

impl Drop for X11Grabber {
    fn drop(&mut self) {
        if let Some(shm) = self.shm.take() {
            let _ = self.conn.send_and_check_request(&shm::Detach { shmseg: shm.seg });
        }
        let _ = self.conn.send_and_check_request(&damage::Destroy { damage: self.damage });
    }
}

/// Tells when the X server's monitor layout may have changed (RandR notifications), so that the
/// monitor list is only re-read then instead of on every poll.
pub struct LayoutChanges {
    conn: xcb::Connection,
}

impl LayoutChanges {
    pub fn new() -> Result<LayoutChanges, X11Error> {
        let (conn, screen) =
            xcb::Connection::connect_with_extensions(None, &[xcb::Extension::RandR], &[]).map_err(err)?;
        let root = conn.get_setup().roots().nth(screen as usize).ok_or_else(|| X11Error("no X screen".into()))?.root();
        conn.wait_for_reply(conn.send_request(&xcb::randr::QueryVersion { major_version: 1, minor_version: 5 }))
            .map_err(err)?;
        conn.send_and_check_request(&xcb::randr::SelectInput {
            window: root,
            enable: xcb::randr::NotifyMask::SCREEN_CHANGE
                | xcb::randr::NotifyMask::OUTPUT_CHANGE
                | xcb::randr::NotifyMask::CRTC_CHANGE,
        })
        .map_err(err)?;
        Ok(LayoutChanges { conn })
    }

    /// Whether any layout notification arrived since the last call (drains them all).
    pub fn changed(&mut self) -> bool {
        let mut any = false;
        while let Ok(Some(_)) = self.conn.poll_for_event() {
            any = true;
        }
        any
    }
}

//! X displays: one monitor under Xvfb, several under TigerVNC (resized with an RFB
//! `SetDesktopSize` message, which RandR then shows as outputs VNC-0, VNC-1, ...).

use crate::{wait_until, Guard};
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One monitor of a multi-monitor desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
}

impl Screen {
    pub const fn new(x: u16, y: u16, width: u16, height: u16) -> Screen {
        Screen { x, y, width, height }
    }
}

/// Whether a lock file names a process that is gone (an X server or a test killed earlier).
fn stale(lock: &Path) -> bool {
    std::fs::read_to_string(lock)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

/// Makes the directory of X servers' sockets, world-writable and sticky, before any server starts.
/// On a fresh machine it does not exist yet, and two X servers started together (tests run in
/// parallel) race to create it: the loser then runs listening only on its abstract socket, with no
/// socket file for a test to wait for (seen in 4 of 5 tries of two Xvfb started at once).
fn socket_dir() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    static MADE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if *made {
        return Ok(());
    }
    let dir = Path::new("/tmp/.X11-unix");
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))
            .with_context(|| format!("making {} world-writable", dir.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    *made = true;
    Ok(())
}

/// A display number nobody uses (no socket, no lock file), starting at `from`, reserved for this
/// fixture by a lock file created atomically, so that tests running in parallel (threads or
/// processes) never pick the same one. Locks left by killed X servers or tests are cleared.
fn reserve_display(from: u32) -> Result<(u32, Reservation)> {
    socket_dir()?;
    for n in from..from + 200 {
        let x_lock = std::path::PathBuf::from(format!("/tmp/.X{n}-lock"));
        let socket = format!("/tmp/.X11-unix/X{n}");
        if stale(&x_lock) {
            let _ = std::fs::remove_file(&x_lock);
            let _ = std::fs::remove_file(&socket);
        }
        if Path::new(&socket).exists() || x_lock.exists() {
            continue;
        }
        let lock = std::env::temp_dir().join(format!("vigil-testkit-display-{n}.lock"));
        if stale(&lock) {
            let _ = std::fs::remove_file(&lock);
        }
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            use std::io::Write;
            let _ = write!(f, "{}", std::process::id());
            return Ok((n, Reservation(lock, n)));
        }
    }
    bail!("no free X display number in {from}..{}", from + 200)
}

/// Removes the display reservation when the fixture goes away.
/// Dropped after the X server (field order): removes the reservation, and the lock file and
/// socket the killed server left behind.
struct Reservation(std::path::PathBuf, u32);

impl Drop for Reservation {
    fn drop(&mut self) {
        let x_lock = std::path::PathBuf::from(format!("/tmp/.X{}-lock", self.1));
        if stale(&x_lock) {
            let _ = std::fs::remove_file(&x_lock);
            let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{}", self.1));
        }
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Waits for the server's socket, or for the server to exit (then says so at once). On a machine
/// that has just booted, with two cores busy starting apps, Xvfb has taken over 15 s once.
fn wait_for_socket(n: u32, server: &mut Guard) -> Result<()> {
    let socket = format!("/tmp/.X11-unix/X{n}");
    wait_until(Duration::from_secs(90), &format!("X server socket {socket}"), || {
        Path::new(&socket).exists() || !matches!(server.child.try_wait(), Ok(None))
    })?;
    server.ensure_running()
}

/// An Xvfb server with one screen.
pub struct XvfbDisplay {
    pub display: String,
    _server: Guard,
    _reservation: Reservation,
}

impl XvfbDisplay {
    pub fn start(width: u32, height: u32) -> Result<XvfbDisplay> {
        let (n, reservation) = reserve_display(140)?;
        let mut server = Guard::spawn(
            Command::new("Xvfb")
                .args([format!(":{n}"), "-screen".into(), "0".into(), format!("{width}x{height}x24")])
                // Like a real desktop session, the server must not reset when its last client
                // disconnects (xcap connects and disconnects for every capture).
                .args(["-nolisten", "tcp", "-noreset"])
                // A desktop shows something: the classic grey weave, not an all-black root that
                // Vigil rightly reports as a screen it cannot see.
                .arg("-retro")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "Xvfb",
        )?;
        wait_for_socket(n, &mut server)?;
        Ok(XvfbDisplay { display: format!(":{n}"), _server: server, _reservation: reservation })
    }
}

/// A TigerVNC X server whose desktop is split into several monitors.
pub struct VncDisplay {
    pub display: String,
    rfb_port: u16,
    _server: Guard,
    _reservation: Reservation,
}

impl VncDisplay {
    pub fn start(screens: &[Screen]) -> Result<VncDisplay> {
        let (n, reservation) = reserve_display(240)?;
        let rfb_port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut server = Guard::spawn(
            Command::new("Xtigervnc")
                .arg(format!(":{n}"))
                .args(["-geometry", "1920x1080", "-depth", "24", "-SecurityTypes", "None", "-localhost"])
                .args(["-rfbport", &rfb_port.to_string(), "-nolisten", "tcp", "-AcceptSetDesktopSize=1"])
                .arg("-retro") // a grey weave, not black (see XvfbDisplay)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "Xtigervnc",
        )?;
        wait_for_socket(n, &mut server)?;
        let vnc = VncDisplay { display: format!(":{n}"), rfb_port, _server: server, _reservation: reservation };
        vnc.set_screens(screens)?;
        Ok(vnc)
    }

    /// Re-arranges the monitors (hot-plug: pass one more or one fewer) and waits until RandR
    /// shows the new count.
    pub fn set_screens(&self, screens: &[Screen]) -> Result<()> {
        set_desktop_size(self.rfb_port, screens)?;
        let want = screens.len();
        wait_until(Duration::from_secs(10), &format!("{want} monitors in xrandr"), || {
            self.monitor_count().is_ok_and(|c| c == want)
        })
    }

    /// Active monitors as `xrandr --listactivemonitors` counts them.
    pub fn monitor_count(&self) -> Result<usize> {
        let out = Command::new("xrandr")
            .args(["--listactivemonitors"])
            .env("DISPLAY", &self.display)
            .output()
            .with_context(|| crate::install_hint("xrandr"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next().unwrap_or_default();
        // "Monitors: 2"
        first
            .rsplit(' ')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .with_context(|| format!("unexpected xrandr output: {text}"))
    }
}

/// RFB 3.8 client: handshake with security type None, ClientInit, SetEncodings, then
/// SetDesktopSize (type 251). Xtigervnc lays out screens of equal size reliably; other sizes
/// may be replaced by its own choice.
fn set_desktop_size(port: u16, screens: &[Screen]) -> Result<()> {
    if screens.is_empty() || screens.len() > 255 {
        bail!("need 1..=255 screens");
    }
    // Xtigervnc may make its X socket (what `start` waits for) before it listens for RFB.
    let mut connected = None;
    wait_until(Duration::from_secs(10), &format!("the VNC server on port {port}"), || {
        connected = TcpStream::connect(("127.0.0.1", port)).ok();
        connected.is_some()
    })?;
    let Some(mut s) = connected else { bail!("connecting to the VNC server on port {port}") };
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut version = [0u8; 12];
    s.read_exact(&mut version)?;
    if !version.starts_with(b"RFB 003.") {
        bail!("not an RFB server: {:?}", String::from_utf8_lossy(&version));
    }
    s.write_all(b"RFB 003.008\n")?;
    let mut count = [0u8; 1];
    s.read_exact(&mut count)?;
    let mut types = vec![0u8; count[0] as usize];
    s.read_exact(&mut types)?;
    if !types.contains(&1) {
        bail!("VNC server does not offer security type None (offers {types:?}); start it with -SecurityTypes None");
    }
    s.write_all(&[1])?;
    let mut result = [0u8; 4];
    s.read_exact(&mut result)?;
    if result != [0, 0, 0, 0] {
        bail!("VNC security handshake failed");
    }
    s.write_all(&[1])?; // ClientInit, shared
    let mut init = [0u8; 24];
    s.read_exact(&mut init)?;
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    let mut name = vec![0u8; name_len];
    s.read_exact(&mut name)?;

    // SetEncodings with the ExtendedDesktopSize pseudo-encoding (-308): without it Xtigervnc
    // crashes on SetDesktopSize.
    let mut enc = vec![2u8, 0];
    enc.extend(1u16.to_be_bytes());
    enc.extend((-308i32).to_be_bytes());
    s.write_all(&enc)?;

    let width = screens.iter().map(|sc| sc.x + sc.width).max().unwrap_or(0);
    let height = screens.iter().map(|sc| sc.y + sc.height).max().unwrap_or(0);
    let mut msg = vec![251u8, 0];
    msg.extend(width.to_be_bytes());
    msg.extend(height.to_be_bytes());
    msg.push(screens.len() as u8);
    msg.push(0);
    for (i, sc) in screens.iter().enumerate() {
        msg.extend((i as u32 + 1).to_be_bytes());
        for v in [sc.x, sc.y, sc.width, sc.height] {
            msg.extend(v.to_be_bytes());
        }
        msg.extend(0u32.to_be_bytes());
    }
    s.write_all(&msg)?;
    s.flush()?;
    // Give the server a moment to apply it before the connection closes.
    std::thread::sleep(Duration::from_millis(200));
    Ok(())
}

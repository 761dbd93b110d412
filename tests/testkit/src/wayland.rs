//! A headless Wayland desktop: sway with the pixman renderer, outputs of given sizes, positions,
//! scales and solid background colours (swaybg). sway refuses to run as root, so as root it runs
//! as a system user `vigil-sway` (made on first use) with a private runtime directory; clients
//! (root may connect to any socket) use the absolute socket path as `WAYLAND_DISPLAY`.

use crate::{install_hint, private_dir, wait_until, Guard};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One output of the headless desktop.
#[derive(Debug, Clone, Copy)]
pub struct WaylandOutput {
    pub x: i32,
    pub y: i32,
    /// Its mode, in pixels.
    pub width: u32,
    pub height: u32,
    pub scale: u32,
    /// The background, `#rrggbb`.
    pub colour: &'static str,
}

pub struct SwayDisplay {
    _sway: Guard,
    dir: tempfile::TempDir,
    /// The socket's absolute path: the value of `WAYLAND_DISPLAY`.
    pub socket: PathBuf,
}

const USER: &str = "vigil-sway";

impl SwayDisplay {
    /// A desktop with `outputs`; with `xwayland`, X clients are served too (see [`Self::x_display`]).
    pub fn start(outputs: &[WaylandOutput], xwayland: bool) -> Result<SwayDisplay> {
        let dir = private_dir("vigil-sway-")?;
        let root = is_root();
        if root {
            let known = Command::new("id").arg(USER).stdout(Stdio::null()).stderr(Stdio::null()).status()?;
            if !known.success() {
                let made = Command::new("useradd")
                    .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER])
                    .status()
                    .context("useradd")?;
                if !made.success() {
                    bail!("cannot make the user {USER} that sway runs as");
                }
            }
            let chown = Command::new("chown").arg(USER).arg(dir.path()).status()?;
            if !chown.success() {
                bail!("chown {USER} {}", dir.path().display());
            }
        }
        // Windows without borders or title bars, so that a window fills its output.
        let mut config = format!("xwayland {}\ndefault_border none\n", if xwayland { "enable" } else { "disable" });
        for (i, o) in outputs.iter().enumerate() {
            config.push_str(&format!(
                "output HEADLESS-{} resolution {}x{} position {} {} scale {} bg {} solid_color\n",
                i + 1,
                o.width,
                o.height,
                o.x,
                o.y,
                o.scale,
                o.colour
            ));
        }
        let config_file = dir.path().join("config");
        std::fs::write(&config_file, config)?;
        let mut cmd = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", USER, "--", "env"]);
            c
        } else {
            Command::new("env")
        };
        cmd.arg("-i")
            .arg(format!("XDG_RUNTIME_DIR={}", dir.path().display()))
            .args(["WLR_BACKENDS=headless", "WLR_RENDERER=pixman", "WLR_LIBINPUT_NO_DEVICES=1", "PATH=/usr/bin:/bin"])
            .arg(format!("WLR_HEADLESS_OUTPUTS={}", outputs.len()))
            .arg("sway")
            .arg("-c")
            .arg(&config_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let sway = Guard::spawn(&mut cmd, "sway").with_context(|| install_hint("sway"))?;
        let socket = dir.path().join("wayland-1");
        wait_until(Duration::from_secs(10), "sway's socket", || socket.exists())?;
        // swaybg paints the backgrounds a moment after the outputs appear.
        let grim = |o: &str| {
            Command::new("grim")
                .args(["-o", o, "-"])
                .env("WAYLAND_DISPLAY", &socket)
                .output()
                .is_ok_and(|out| out.status.success())
        };
        wait_until(Duration::from_secs(10), "sway's outputs", || {
            (1..=outputs.len()).all(|i| grim(&format!("HEADLESS-{i}")))
        })?;
        std::thread::sleep(Duration::from_millis(500));
        Ok(SwayDisplay { _sway: sway, dir, socket })
    }

    /// The runtime directory (sway's IPC socket is there too).
    pub fn runtime_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The X display Xwayland serves in this desktop (`:1`), as sway gives it to the programs it
    /// starts; Xwayland itself starts with the first X client. Xwayland admits only its own user:
    /// this user (root, in CI) is let in with `xhost`, as the candidate's own session would be.
    pub fn x_display(&self) -> Result<String> {
        let file = self.dir.path().join("x-display");
        let me = String::from_utf8(Command::new("id").arg("-un").output()?.stdout)?;
        // A script file: sway would split a command line at its `;`.
        let script = self.dir.path().join("x-display.sh");
        std::fs::write(
            &script,
            format!("xhost +si:localuser:{} >/dev/null\nprintf %s \"$DISPLAY\" > {}\n", me.trim(), file.display()),
        )?;
        self.swaymsg(&["exec", &format!("sh {}", script.display())])?;
        wait_until(Duration::from_secs(10), "sway's DISPLAY", || std::fs::metadata(&file).is_ok_and(|m| m.len() > 0))?;
        Ok(std::fs::read_to_string(&file)?)
    }

    /// Starts `command` (a shell command line, run as sway's user with sway's environment: its
    /// `WAYLAND_DISPLAY`, and `DISPLAY` for Xwayland) with output `output` focused, so that its
    /// window opens there.
    pub fn start_on(&self, output: &str, command: &str) -> Result<()> {
        self.swaymsg(&["focus", "output", output])?;
        // A script file (sway would split a command line at its `;`), readable by sway's user.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let script = self.dir.path().join(format!("start-{n}.sh"));
        std::fs::write(&script, format!("{command}\n"))?;
        self.swaymsg(&["exec", &format!("sh {}", script.display())])
    }

    /// The colour of the pixel at (`x`, `y`) in the desktop's layout (logical) coordinates, as
    /// grim sees it.
    pub fn pixel(&self, x: i32, y: i32) -> Result<[u8; 3]> {
        let out = Command::new("grim")
            .args(["-g", &format!("{x},{y} 1x1"), "-t", "ppm", "-"])
            .env("WAYLAND_DISPLAY", &self.socket)
            .output()?;
        // A binary PPM: "P6\n1 1\n255\n" then three bytes.
        match out.stdout.len().checked_sub(3).map(|at| &out.stdout[at..]) {
            Some(&[r, g, b]) if out.status.success() => Ok([r, g, b]),
            _ => bail!("grim: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }

    /// A command to sway over its IPC socket (`output HEADLESS-1 bg #204080 solid_color`).
    pub fn swaymsg(&self, args: &[&str]) -> Result<()> {
        let ipc = std::fs::read_dir(self.dir.path())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("sway-ipc.")))
            .context("sway's IPC socket")?;
        let status = Command::new("swaymsg").arg("-s").arg(&ipc).args(args).stdout(Stdio::null()).status()?;
        if !status.success() {
            bail!("swaymsg {args:?} failed ({status})");
        }
        Ok(())
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

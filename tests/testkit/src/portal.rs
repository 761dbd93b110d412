//! The desktop portal of a headless sway desktop: a private session bus, PipeWire with its session
//! manager (WirePlumber), xdg-desktop-portal, and a ScreenCast backend: either the real
//! xdg-desktop-portal-wlr (which cannot screencast without a GPU, see below) or
//! `vigil-test-portal`, which stands in for the desktop's backend with a scripted sharing dialog.
//! Everything runs as this user; programs under test get [`PortalDesktop::env`].

use crate::{private_dir, wait_until, workspace_bin, Guard, SwayDisplay, WaylandOutput};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the candidate does in the desktop's sharing dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialog {
    /// Shares every output.
    ShareAll,
    /// Shares only the first N outputs.
    Share(usize),
    /// Cancels.
    Refuse,
}

/// Which ScreenCast backend serves the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `vigil-test-portal`: pictures of each output through PipeWire, the dialog as given.
    Test(Dialog),
    /// xdg-desktop-portal-wlr as Debian ships it. On a compositor with screencopy v3 and no GPU
    /// (sway's pixman renderer) it refuses every `Start` (no DMA-BUF format; upstream #289).
    Wlr,
}

pub struct PortalDesktop {
    // Dropped in reverse order of starting: the portal before its backend before PipeWire.
    _portal: Guard,
    backend: Option<Guard>,
    _session_manager: Guard,
    _pipewire: Guard,
    _bus: Guard,
    dir: tempfile::TempDir,
}

impl PortalDesktop {
    /// Starts the portal for `sway`, whose outputs are `outputs` (as `SwayDisplay::start` got them).
    pub fn start(sway: &SwayDisplay, outputs: &[WaylandOutput], backend: Backend) -> Result<PortalDesktop> {
        let dir = private_dir("vigil-portal-")?;
        let runtime = dir.path().join("run");
        std::fs::create_dir(&runtime)?;
        let bus_socket = dir.path().join("bus");
        let env = |cmd: &mut Command| {
            cmd.env("XDG_RUNTIME_DIR", &runtime)
                .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", bus_socket.display()))
                .env("WAYLAND_DISPLAY", &sway.socket)
                .env("XDG_CURRENT_DESKTOP", "sway")
                .env_remove("DISPLAY")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        };
        // A session bus that can start only the permission store (where the portal keeps restore
        // tokens): no document portal, no other backend started behind the test's back.
        let services = dir.path().join("services");
        std::fs::create_dir(&services)?;
        std::fs::write(
            services.join("org.freedesktop.impl.portal.PermissionStore.service"),
            "[D-BUS Service]\nName=org.freedesktop.impl.portal.PermissionStore\nExec=/usr/libexec/xdg-permission-store\n",
        )?;
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                "<busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\
                 <servicedir>{}</servicedir><policy context=\"default\">\
                 <allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>\
                 <allow own=\"*\"/></policy></busconfig>",
                bus_socket.display(),
                services.display()
            ),
        )?;
        let bus = Guard::spawn(
            Command::new("dbus-daemon")
                .args(["--nofork", "--nopidfile"])
                .arg(format!("--config-file={}", config.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "dbus-daemon",
        )?;
        wait_until(Duration::from_secs(10), "the session bus", || bus_socket.exists())?;
        let mut cmd = Command::new("pipewire");
        env(&mut cmd);
        let pipewire = Guard::spawn(&mut cmd, "pipewire")?;
        wait_until(Duration::from_secs(10), "PipeWire's socket", || runtime.join("pipewire-0").exists())?;
        let mut cmd = Command::new("wireplumber");
        env(&mut cmd);
        let session_manager = Guard::spawn(&mut cmd, "wireplumber")?;

        let portals = dir.path().join("portals");
        std::fs::create_dir(&portals)?;
        let (mut cmd, name) = match backend {
            Backend::Test(dialog) => {
                std::fs::write(
                    portals.join("vigiltest.portal"),
                    "[portal]\nDBusName=org.freedesktop.impl.portal.desktop.vigiltest\n\
                     Interfaces=org.freedesktop.impl.portal.ScreenCast;\nUseIn=sway\n",
                )?;
                let mut cmd = Command::new(workspace_bin("vigil-test-portal"));
                for (i, o) in outputs.iter().enumerate() {
                    let scale = o.scale.max(1);
                    cmd.arg("--output").arg(format!(
                        "HEADLESS-{}@{},{},{},{}",
                        i + 1,
                        o.x,
                        o.y,
                        o.width / scale,
                        o.height / scale
                    ));
                }
                match dialog {
                    Dialog::ShareAll => {}
                    Dialog::Share(n) => {
                        cmd.args(["--share", &n.to_string()]);
                    }
                    Dialog::Refuse => {
                        cmd.arg("--refuse");
                    }
                }
                cmd.arg("--dialog-log").arg(dir.path().join("dialogs"));
                (cmd, "org.freedesktop.impl.portal.desktop.vigiltest")
            }
            Backend::Wlr => {
                // Without a chooser: the first output, as a candidate's click would pick it.
                let config = dir.path().join("xdpw.conf");
                std::fs::write(&config, "[screencast]\nchooser_type=none\n")?;
                std::fs::write(
                    portals.join("wlr.portal"),
                    std::fs::read_to_string("/usr/share/xdg-desktop-portal/portals/wlr.portal")
                        .context("xdg-desktop-portal-wlr is not installed")?,
                )?;
                let mut cmd = Command::new("/usr/libexec/xdg-desktop-portal-wlr");
                cmd.arg("-c").arg(config);
                (cmd, "org.freedesktop.impl.portal.desktop.wlr")
            }
        };
        env(&mut cmd);
        let backend = Guard::spawn(&mut cmd, name)?;
        // A name some process owns now (not one the bus could only start on demand).
        let on_bus = |name: &str| {
            Command::new("busctl")
                .arg(format!("--address=unix:path={}", bus_socket.display()))
                .args(["list", "--no-legend"])
                .output()
                .is_ok_and(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .any(|l| l.split_whitespace().next() == Some(name) && !l.contains("(activatable)"))
                })
        };
        wait_until(Duration::from_secs(10), "the portal backend on the bus", || on_bus(name))?;
        let mut cmd = Command::new("/usr/libexec/xdg-desktop-portal");
        env(&mut cmd);
        cmd.env("XDG_DESKTOP_PORTAL_DIR", &portals);
        let portal = Guard::spawn(&mut cmd, "xdg-desktop-portal")?;
        wait_until(Duration::from_secs(10), "xdg-desktop-portal on the bus", || {
            on_bus("org.freedesktop.portal.Desktop")
        })?;
        Ok(PortalDesktop {
            _portal: portal,
            backend: Some(backend),
            _session_manager: session_manager,
            _pipewire: pipewire,
            _bus: bus,
            dir,
        })
    }

    /// The desktop ends screen sharing (its "Stop sharing" button, or the backend crashing): the
    /// backend goes, and with it every shared stream.
    pub fn stop_sharing(&mut self) {
        self.backend.take();
    }

    /// What a program needs to use this portal and its PipeWire, and to keep its screen-sharing
    /// permission here (`XDG_STATE_HOME`); Vigil is told to use the portal even though sway has
    /// screencopy.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), format!("unix:path={}", self.dir.path().join("bus").display())),
            ("XDG_RUNTIME_DIR".into(), self.dir.path().join("run").display().to_string()),
            ("XDG_STATE_HOME".into(), self.state_home().display().to_string()),
            ("VIGIL_WAYLAND_CAPTURE".into(), "portal".into()),
        ]
    }

    fn state_home(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// How many times the sharing dialog was shown (the test backend only).
    pub fn dialogs(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("dialogs")).map(|s| s.lines().count()).unwrap_or(0)
    }

    /// Where the portal's restore token is kept for the programs started with [`Self::env`].
    pub fn token_file(&self) -> PathBuf {
        Path::new(&self.state_home()).join("vigil").join("screencast-token")
    }
}

//! The desktop session: its type (Wayland or X11, from `XDG_SESSION_TYPE`, then the display
//! variables), the desktop, the compositor that runs it with its version, and whether that
//! compositor can hide chosen windows from screen capture (Hyprland's `noscreenshare` rule, niri's
//! `block-out-from`, KDE Plasma 6's per-window setting): then a recording may not show every
//! window, and the check says so, with the rules its configuration has ([`crate::hiding_rules`]).

use crate::processes::ProcessInfo;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_core::facts::DesktopFacts;

/// Compositors Vigil knows, by the file name of their program: (program, name).
const COMPOSITORS: &[(&str, &str)] = &[
    ("gnome-shell", "GNOME Shell"),
    ("kwin_wayland", "KWin"),
    ("kwin_x11", "KWin"),
    ("sway", "sway"),
    ("Hyprland", "Hyprland"),
    ("niri", "niri"),
    ("weston", "Weston"),
    ("labwc", "labwc"),
    ("wayfire", "Wayfire"),
    ("river", "river"),
    ("cage", "cage"),
    ("mutter", "Mutter"),
];

pub fn facts(snapshot: &[ProcessInfo]) -> DesktopFacts {
    detect_with(&env_var, snapshot, &version_of)
}

/// A non-empty environment variable.
pub fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// Detection with a given environment, process list and version probe (for tests).
pub fn detect_with(
    env: &dyn Fn(&str) -> Option<String>,
    snapshot: &[ProcessInfo],
    version: &dyn Fn(&str) -> Option<String>,
) -> DesktopFacts {
    let session_type = match env("XDG_SESSION_TYPE").as_deref() {
        Some(t @ ("wayland" | "x11" | "tty")) => t.to_owned(),
        _ if env("WAYLAND_DISPLAY").is_some() => "wayland".into(),
        _ if env("DISPLAY").is_some() => "x11".into(),
        _ => "none".into(),
    };
    let (compositor, compositor_version) = match compositor(env, snapshot) {
        Some((name, Some(exe))) => (Some(name.to_owned()), version(&exe)),
        Some((name, None)) => (Some(name.to_owned()), None),
        None => (None, None),
    };
    let hides_windows = compositor.as_deref().and_then(|c| hiding_rule(c, compositor_version.as_deref()));
    let hiding_rules = match (&hides_windows, &compositor) {
        (Some(_), Some(c)) => crate::hiding_rules::read(c, env),
        _ => Vec::new(),
    };
    DesktopFacts {
        session_type,
        desktop: env("XDG_CURRENT_DESKTOP"),
        compositor,
        compositor_version,
        hides_windows,
        hiding_rules,
    }
}

/// The compositor of this session and its program: by a running program Vigil knows, else by the
/// variable Hyprland (`HYPRLAND_INSTANCE_SIGNATURE`) or niri (`NIRI_SOCKET`) gives its clients.
pub fn compositor(
    env: &dyn Fn(&str) -> Option<String>,
    snapshot: &[ProcessInfo],
) -> Option<(&'static str, Option<String>)> {
    let running = snapshot.iter().find_map(|p| {
        let file = p.exe.as_deref().and_then(|e| e.rsplit('/').next()).unwrap_or(&p.name);
        COMPOSITORS.iter().find(|(program, _)| *program == file || *program == p.name).map(|c| (c, p))
    });
    match running {
        Some(((program, name), p)) => Some((*name, Some(p.exe.clone().unwrap_or_else(|| (*program).to_owned())))),
        None if env("HYPRLAND_INSTANCE_SIGNATURE").is_some() => Some(("Hyprland", None)),
        None if env("NIRI_SOCKET").is_some() => Some(("niri", None)),
        None => None,
    }
}

/// How `compositor` (at `version`) lets a window hide from screen capture, if it can.
fn hiding_rule(compositor: &str, version: Option<&str>) -> Option<String> {
    match compositor {
        "Hyprland" => Some("a window rule (noscreenshare) hides chosen windows from screen capture".into()),
        "niri" => Some("a window rule (block-out-from \"screencast\") hides chosen windows from screen capture".into()),
        "KWin" => {
            // Plasma 6 (KWin 6) can exclude a window from screencasts; 5 could not.
            let major = version.and_then(|v| v.split('.').next()?.parse::<u32>().ok());
            (major.is_none_or(|m| m >= 6))
                .then(|| "KWin 6 can exclude chosen windows from screen capture (a window's setting)".into())
        }
        _ => None,
    }
}

/// The version a program prints with `--version` (the first dotted number), within 2 s.
fn version_of(exe: &str) -> Option<String> {
    let mut child = Command::new(exe)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let began = Instant::now();
    while child.try_wait().ok()?.is_none() {
        if began.elapsed() > Duration::from_secs(2) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().ok()?;
    first_version(&String::from_utf8_lossy(&out.stdout))
}

/// `sway version 1.7` -> `1.7`; `Hyprland 0.45.2 built from branch` -> `0.45.2`.
fn first_version(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|w| w.contains('.') && w.starts_with(|c: char| c.is_ascii_digit()))
        .map(|w| w.trim_end_matches('.').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(name: &str, exe: &str) -> ProcessInfo {
        ProcessInfo { pid: 7, name: name.into(), exe: Some(exe.into()), cmd: vec![exe.into()] }
    }

    fn detect(vars: &[(&str, &str)], procs: &[ProcessInfo], version: &str) -> DesktopFacts {
        let env = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        detect_with(&env, procs, &|_| first_version(version))
    }

    #[test]
    fn session_type_compositor_and_what_it_can_hide() {
        let sway = detect(
            &[("XDG_SESSION_TYPE", "wayland"), ("DISPLAY", ":0")],
            &[process("sway", "/usr/bin/sway")],
            "sway version 1.7",
        );
        assert_eq!(
            (sway.session_type.as_str(), sway.compositor.as_deref(), sway.compositor_version.as_deref()),
            ("wayland", Some("sway"), Some("1.7"))
        );
        assert!(sway.hides_windows.is_none());

        let hypr = detect(
            &[("WAYLAND_DISPLAY", "wayland-1")],
            &[process("Hyprland", "/usr/bin/Hyprland")],
            "Hyprland 0.45.2 built",
        );
        assert_eq!(hypr.session_type, "wayland");
        assert!(hypr.hides_windows.unwrap().contains("noscreenshare"));

        let plasma5 = detect(&[], &[process("kwin_wayland", "/usr/bin/kwin_wayland")], "kwin 5.27.5");
        assert!(plasma5.hides_windows.is_none());
        let plasma6 = detect(&[], &[process("kwin_wayland", "/usr/bin/kwin_wayland")], "kwin 6.2.4");
        assert!(plasma6.hides_windows.is_some());
        assert_eq!(plasma6.session_type, "none");

        let x = detect(&[("DISPLAY", ":99")], &[process("Xvfb", "/usr/bin/Xvfb")], "");
        assert_eq!((x.session_type.as_str(), x.compositor), ("x11", None));

        // In a sandbox that does not show the compositor's process, its variable names it.
        let niri = detect(&[("WAYLAND_DISPLAY", "wayland-1"), ("NIRI_SOCKET", "/run/user/1000/niri.sock")], &[], "");
        assert_eq!((niri.compositor.as_deref(), niri.compositor_version), (Some("niri"), None));
        assert!(niri.hides_windows.is_some());
    }
}

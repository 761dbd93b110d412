//! Remote and virtual session signals: SSH and XRDP environments, the display server and the X
//! server program behind `DISPLAY` (Xvfb, Xvnc), and remote-access servers that are running.

use crate::processes::ProcessInfo;
use vigil_core::apps::AppCategory;
use vigil_core::facts::{Evidence, ProcessMatch, RemoteFacts};

pub fn detect(snapshot: &[ProcessInfo], prohibited: &[ProcessMatch]) -> RemoteFacts {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    detect_with(&env, snapshot, prohibited)
}

/// Detection with a given environment lookup (for tests).
pub fn detect_with(
    env: &dyn Fn(&str) -> Option<String>,
    snapshot: &[ProcessInfo],
    prohibited: &[ProcessMatch],
) -> RemoteFacts {
    let mut evidence = Vec::new();
    let mut add = |signal: &str, detail: String| evidence.push(Evidence { signal: signal.into(), detail });

    if let Some(conn) = env("SSH_CONNECTION").or_else(|| env("SSH_CLIENT")) {
        add("ssh", format!("SSH session from {}", conn.split_whitespace().next().unwrap_or("?")));
    } else if env("SSH_TTY").is_some() {
        add("ssh", "SSH terminal".into());
    }
    if env("XRDP_SESSION").is_some() || env("XRDP_SOCKET_PATH").is_some() {
        add("xrdp", "XRDP session environment".into());
    }

    let display_server = if env("WAYLAND_DISPLAY").is_some() {
        "wayland"
    } else if env("DISPLAY").is_some() {
        "x11"
    } else {
        "none"
    };
    let x_server = env("DISPLAY").and_then(|d| x_server_for(&d, snapshot));
    if let Some(x) = &x_server {
        match x.as_str() {
            "Xvfb" => add("display", "virtual framebuffer X server (Xvfb): no physical screen".into()),
            "Xvnc" | "Xtigervnc" | "Xtightvnc" => {
                add("display", format!("VNC X server ({x}): the screen is served over the network"))
            }
            "Xephyr" | "Xnest" => add("display", format!("nested X server ({x})")),
            _ => {}
        }
    }
    for m in prohibited.iter().filter(|m| m.category == AppCategory::RemoteAccess) {
        add("process", format!("remote-access software running: {} (pid {})", m.app_name, m.pid));
    }
    RemoteFacts { display_server: display_server.into(), x_server, detected: !evidence.is_empty(), evidence }
}

/// The program of the X server that serves `display` (`:99`, `localhost:10.0`), found by its
/// command line (`Xvfb :99 ...`). `None` when it runs elsewhere or cannot be seen.
fn x_server_for(display: &str, snapshot: &[ProcessInfo]) -> Option<String> {
    let (host, rest) = display.split_once(':')?;
    if !(host.is_empty() || host == "unix") {
        return None; // forwarded display (ssh -X): the server is on another machine
    }
    let number = rest.split('.').next()?;
    let wanted = format!(":{number}");
    snapshot.iter().find_map(|p| {
        let program = p.exe.as_deref().or(p.cmd.first().map(String::as_str))?;
        let file = program.rsplit('/').next()?;
        let is_x = matches!(
            file,
            "Xorg" | "X" | "Xvfb" | "Xvnc" | "Xtigervnc" | "Xtightvnc" | "Xwayland" | "Xephyr" | "Xnest"
        ) || file.starts_with("Xorg");
        (is_x && p.cmd.iter().skip(1).any(|a| a == &wanted)).then(|| file.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_(pid: u32, exe: &str, args: &[&str]) -> ProcessInfo {
        let mut cmd = vec![exe.to_owned()];
        cmd.extend(args.iter().map(|a| a.to_string()));
        ProcessInfo { pid, name: exe.rsplit('/').next().unwrap().into(), exe: Some(exe.into()), cmd }
    }

    #[test]
    fn local_x11_session_is_not_remote() {
        let env = |k: &str| (k == "DISPLAY").then(|| ":0".to_owned());
        let snap = [proc_(10, "/usr/lib/xorg/Xorg", &[":0", "-seat", "seat0"]), proc_(11, "/usr/bin/Xvfb", &[":99"])];
        let f = detect_with(&env, &snap, &[]);
        assert!(!f.detected, "{:?}", f.evidence);
        assert_eq!(f.display_server, "x11");
        assert_eq!(f.x_server.as_deref(), Some("Xorg"));
    }

    #[test]
    fn ssh_and_vnc_display_are_remote() {
        let env = |k: &str| match k {
            "DISPLAY" => Some(":96".to_owned()),
            "SSH_CONNECTION" => Some("203.0.113.9 5555 10.0.0.2 22".to_owned()),
            _ => None,
        };
        let snap = [proc_(20, "/usr/bin/Xtigervnc", &[":96", "-geometry", "1920x1080"])];
        let f = detect_with(&env, &snap, &[]);
        assert!(f.detected);
        assert_eq!(f.x_server.as_deref(), Some("Xtigervnc"));
        let signals: Vec<&str> = f.evidence.iter().map(|e| e.signal.as_str()).collect();
        assert_eq!(signals, ["ssh", "display"]);
        assert!(f.evidence[0].detail.contains("203.0.113.9"));
    }

    #[test]
    fn forwarded_display_has_no_local_server() {
        let env = |k: &str| (k == "DISPLAY").then(|| "localhost:10.0".to_owned());
        let snap = [proc_(10, "/usr/bin/Xvfb", &[":10"])];
        assert_eq!(detect_with(&env, &snap, &[]).x_server, None);
    }
}

//! Wayland screens through wlroots' screencopy, on a headless sway desktop: two outputs side by
//! side, the second at scale 2, each with a solid background of its own colour. `vigil check`
//! lists both at their real pixel sizes and its test picture of each passes; `vigil record`
//! records each as its own track at that size, and a decoded frame of each shows its colour over
//! the whole picture (not black, not the top-left quarter of a scaled screen). Started with only
//! `DISPLAY` (Xwayland's), Vigil refuses the black Xwayland root: the check fails
//! `monitors.capture` and the recording exits non-zero. The same desktop through the ScreenCast
//! portal and PipeWire, as GNOME and KDE offer it: one sharing dialog, every monitor, honest
//! failures when the candidate shares less or nothing.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use vigil_testkit::portal::{Backend, Dialog};
use vigil_testkit::{PortalDesktop, SwayDisplay, WaylandOutput};

const OUTPUTS: [WaylandOutput; 2] = [
    WaylandOutput { x: 0, y: 0, width: 640, height: 480, scale: 1, colour: "#d02020" },
    WaylandOutput { x: 640, y: 0, width: 1280, height: 720, scale: 2, colour: "#20a040" },
];

/// `vigil` in the sway session, with `env` added (a portal's, say).
fn vigil(sway: &SwayDisplay, env: &[(String, String)], args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("WAYLAND_DISPLAY", &sway.socket)
        .env("XDG_SESSION_TYPE", "wayland")
        .env_remove("DISPLAY")
        .env_remove("PULSE_SERVER")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

/// `vigil check --json`'s report and exit code.
fn check(sway: &SwayDisplay, env: &[(String, String)]) -> (Value, Option<i32>) {
    let out = vigil(sway, env, &["check", "--json"]);
    (serde_json::from_slice(&out.stdout).unwrap(), out.status.code())
}

fn finding<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["findings"].as_array().unwrap().iter().find(|f| f["id"] == id).unwrap()
}

/// `seconds` of the screens alone (no camera, no microphone), in a new spool directory.
fn record_screens(
    sway: &SwayDisplay,
    env: &[(String, String)],
    seconds: u32,
) -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let out = vigil(
        sway,
        env,
        &[
            "record",
            "--json",
            "--out",
            dir.path().to_str().unwrap(),
            "--camera",
            "none",
            "--mic",
            "none",
            "--duration",
            &seconds.to_string(),
        ],
    );
    (dir, out)
}

/// Another program casting the screen through the portal for up to 30 s (a Vigil recording, its
/// spool in `dir`), until dropped.
fn portal_cast(sway: &SwayDisplay, portal: &PortalDesktop, dir: &std::path::Path) -> vigil_testkit::Guard {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.args(["record", "--out", dir.to_str().unwrap(), "--camera", "none", "--mic", "none", "--duration", "30"])
        .env("WAYLAND_DISPLAY", &sway.socket)
        .env_remove("DISPLAY")
        .envs(portal.env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    vigil_testkit::Guard::spawn(&mut cmd, "vigil record").unwrap()
}

/// The check grabbed both outputs of `OUTPUTS` at their pixel sizes, and passes.
fn assert_both_outputs_checked(report: &Value) {
    let probes = report["facts"]["screen_capture"].as_array().expect("the check grabbed the screens");
    let sizes: Vec<(u64, u64)> =
        probes.iter().map(|p| (p["grabbed_width"].as_u64().unwrap(), p["grabbed_height"].as_u64().unwrap())).collect();
    assert_eq!(sizes, [(640, 480), (1280, 720)], "{probes:?}");
    let capture = finding(report, "monitors.capture");
    assert_eq!(capture["verdict"], "ok", "{capture}");
}

/// Each output of `OUTPUTS` is its own track at its pixel size, showing its colour whole.
fn assert_both_outputs_recorded(dir: &Path) {
    for (source, want, size) in
        [("screen-0", (208.0, 32.0, 32.0), (640, 480)), ("screen-1", (32.0, 160.0, 64.0), (1280, 720))]
    {
        let segment = dir.join("segments").join(format!("{source}-000000.mp4"));
        let (rgb, got) = colour_of(&segment);
        println!("{source}: {got:?}, mean colour {rgb:.0?}");
        assert_eq!(got, size, "{source}");
        let near = |a: f64, b: f64| (a - b).abs() < 20.0;
        assert!(near(rgb.0, want.0) && near(rgb.1, want.1) && near(rgb.2, want.2), "{source}: {rgb:?}, want {want:?}");
    }
}

/// The mean RGB of a frame 1 s into `segment`, and its size.
fn colour_of(segment: &Path) -> ((f64, f64, f64), (u64, u64)) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", "1", "-i"])
        .arg(segment)
        .args(["-frames:v", "1", "-vf", "scale=64:36", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.len() == 64 * 36 * 3, "{}", String::from_utf8_lossy(&out.stderr));
    let n = (64 * 36) as f64;
    let sum = |c: usize| out.stdout.chunks_exact(3).map(|p| f64::from(p[c])).sum::<f64>() / n;
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-show_entries", "stream=width,height", "-of", "json"])
        .arg(segment)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&probe.stdout).unwrap();
    let s = &v["streams"][0];
    ((sum(0), sum(1), sum(2)), (s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap()))
}

#[test]
fn two_outputs_one_scaled_are_recorded_whole_at_their_pixel_sizes() {
    let sway = SwayDisplay::start(&OUTPUTS, false).unwrap();

    let (report, _) = check(&sway, &[]);
    assert_both_outputs_checked(&report);
    assert_eq!(report["facts"]["desktop"]["session_type"], "wayland");
    assert_eq!(report["facts"]["desktop"]["compositor"], "sway");
    // The compositor's own list: pixel sizes at layout positions, not Xwayland's scaled view.
    let listed = finding(&report, "monitors.count")["message"].as_str().unwrap().to_owned();
    assert!(listed.contains("640x480 at (0,0), HEADLESS-2 1280x720 at (640,0)"), "{listed}");
    assert_eq!(report["facts"]["monitors"]["wayland"]["monitors"][1]["scale_factor"], 2.0);

    let (dir, out) = record_screens(&sway, &[], 4);
    assert!(out.status.success(), "vigil record: {}", String::from_utf8_lossy(&out.stderr));
    assert_both_outputs_recorded(dir.path());
}

#[test]
fn only_xwaylands_display_is_refused_not_recorded_black() {
    let sway = SwayDisplay::start(&OUTPUTS[..1], true).unwrap();
    let display = sway.x_display().unwrap();
    let vigil = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(args)
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("PULSE_SERVER")
            .output()
            .unwrap()
    };
    let out = vigil(&["check", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let capture = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "monitors.capture").unwrap();
    assert_eq!(capture["verdict"], "fail", "{capture}");
    assert!(capture["message"].as_str().unwrap().contains("Xwayland"), "{capture}");
    assert_eq!(out.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let out = vigil(&[
        "record",
        "--out",
        dir.path().to_str().unwrap(),
        "--camera",
        "none",
        "--mic",
        "none",
        "--duration",
        "3",
    ]);
    assert!(!out.status.success(), "a recording that cannot see the screen must not pass");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Xwayland"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Windows, not only backgrounds: a native Wayland window (foot, a terminal painted in one
/// colour) on the first output and an Xwayland window (xmessage in another colour) on the
/// second, scaled, output are both in the recorded frames.
#[test]
fn native_wayland_and_xwayland_windows_are_both_recorded() {
    let sway = SwayDisplay::start(&OUTPUTS, true).unwrap();
    let (native, x) = ([0x20u8, 0x40, 0xc0], [0xc0u8, 0x40, 0x80]);
    sway.start_on(
        "HEADLESS-1",
        "foot -o colors.background=2040c0 -o colors.foreground=2040c0 -o 'cursor.color=2040c0 2040c0' sleep 600",
    )
    .unwrap();
    sway.start_on("HEADLESS-2", "xmessage -bg '#c04080' -fg '#c04080' -bd '#c04080' -buttons '' ' '").unwrap();
    // Each window is up when the middle of its output shows its colour (the second output is
    // 640x360 in layout coordinates at scale 2).
    let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(&p, q)| p.abs_diff(q) < 24);
    let shown =
        || sway.pixel(320, 240).is_ok_and(|p| near(p, native)) && sway.pixel(960, 180).is_ok_and(|p| near(p, x));
    vigil_testkit::wait_until(std::time::Duration::from_secs(20), "foot and xmessage to show", shown)
        .unwrap_or_else(|e| panic!("{e}: {:?} {:?}", sway.pixel(320, 240), sway.pixel(960, 180)));

    let (dir, out) = record_screens(&sway, &[], 4);
    assert!(out.status.success(), "vigil record: {}", String::from_utf8_lossy(&out.stderr));
    for (source, want) in [("screen-0", native), ("screen-1", x)] {
        let segment = dir.path().join("segments").join(format!("{source}-000000.mp4"));
        let (rgb, _) = colour_of(&segment);
        println!("{source}: mean colour {rgb:.0?}, the window's {want:?}");
        let close = |a: f64, b: u8| (a - f64::from(b)).abs() < 24.0;
        assert!(close(rgb.0, want[0]) && close(rgb.1, want[1]) && close(rgb.2, want[2]), "{source}: {rgb:?}");
    }
}

/// GNOME's and KDE's way: the ScreenCast portal with PipeWire (here behind the real
/// xdg-desktop-portal, PipeWire and WirePlumber, with `vigil-test-portal` as the desktop's
/// backend). The system check asks once; both outputs are shared, checked and recorded whole at
/// their pixel sizes; the recording after it is not asked again (the restore token).
#[test]
fn the_portal_shares_every_monitor_with_one_dialog_for_check_and_recording() {
    let sway = SwayDisplay::start(&OUTPUTS, false).unwrap();
    let portal = PortalDesktop::start(&sway, &OUTPUTS, Backend::Test(Dialog::ShareAll)).unwrap();
    let env = portal.env();

    let out = vigil(&sway, &env, &["check", "--json"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("your desktop will ask you to share your screens"), "said first: {said}");
    assert_both_outputs_checked(&serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(portal.dialogs(), 1, "the check asks once");
    assert!(portal.token_file().exists(), "the permission is kept for the recording");

    let (dir, out) = record_screens(&sway, &env, 4);
    assert!(out.status.success(), "vigil record: {}", String::from_utf8_lossy(&out.stderr));
    assert_both_outputs_recorded(dir.path());
    assert_eq!(portal.dialogs(), 1, "the recording reuses the permission: no second dialog");
}

/// A candidate who shares one monitor of two in the dialog: the other is named as unseen, and
/// the check fails.
#[test]
fn a_monitor_left_out_of_the_sharing_dialog_fails_the_check() {
    let sway = SwayDisplay::start(&OUTPUTS, false).unwrap();
    let portal = PortalDesktop::start(&sway, &OUTPUTS, Backend::Test(Dialog::Share(1))).unwrap();
    let (report, code) = check(&sway, &portal.env());
    let capture = finding(&report, "monitors.capture");
    assert_eq!(capture["verdict"], "fail", "{capture}");
    let message = capture["message"].as_str().unwrap();
    assert!(message.contains("HEADLESS-2") && message.contains("not shared"), "{message}");
    assert_eq!(code, Some(2));

    // The recording records what was shared and says, on the timeline, what was not.
    let (dir, out) = record_screens(&sway, &portal.env(), 4);
    assert!(out.status.success(), "vigil record: {}", String::from_utf8_lossy(&out.stderr));
    let events = vigil_spool::Spool::open(dir.path()).unwrap().events().unwrap();
    let missing = events.iter().find(|e| e.kind == "device.missing").expect("the unshared monitor is named");
    assert_eq!(missing.data["device"], "monitor HEADLESS-2");
    assert_eq!(events.iter().filter(|e| e.kind == "monitor.recorded").count(), 1);
}

/// Sharing refused in the dialog: the check fails saying so, and a recording, which sees no
/// screen, exits non-zero.
#[test]
fn refused_sharing_fails_the_check_and_the_recording() {
    let sway = SwayDisplay::start(&OUTPUTS[..1], false).unwrap();
    let portal = PortalDesktop::start(&sway, &OUTPUTS[..1], Backend::Test(Dialog::Refuse)).unwrap();
    let (report, code) = check(&sway, &portal.env());
    let capture = finding(&report, "monitors.capture");
    assert_eq!(capture["verdict"], "fail", "{capture}");
    assert!(capture["message"].as_str().unwrap().contains("not allowed"), "{capture}");
    assert_eq!(code, Some(2));
    let (_dir, out) = record_screens(&sway, &portal.env(), 4);
    assert!(!out.status.success(), "a recording that sees no screen must not pass");
}

/// The desktop stops sharing in the middle of a recording: each screen's track ends as lost
/// (`device.lost`), the recording is blind (`capture.blind`, critical) and exits non-zero, rather
/// than repeating the last picture as if the screen stood still.
#[test]
fn sharing_stopped_mid_recording_is_blind_not_a_frozen_screen() {
    let sway = SwayDisplay::start(&OUTPUTS, false).unwrap();
    let mut portal = PortalDesktop::start(&sway, &OUTPUTS, Backend::Test(Dialog::ShareAll)).unwrap();
    let env = portal.env();
    let (dir, out) = std::thread::scope(|s| {
        let recording = s.spawn(|| record_screens(&sway, &env, 8));
        std::thread::sleep(std::time::Duration::from_secs(4));
        portal.stop_sharing();
        recording.join().unwrap()
    });
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let events = vigil_spool::Spool::open(dir.path()).unwrap().events().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "monitor.recorded").count(), 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "device.lost").count(), 2, "{kinds:?}");
    let blind = events.iter().find(|e| e.kind == "capture.blind").expect("the recording says it is blind");
    assert_eq!(blind.severity, vigil_core::event::Severity::Critical);
}

/// Another program receives the screen through the portal (here a second Vigil, recording):
/// the check names it with its pid from PipeWire's graph, by the policy's `screen_cast` verdict.
#[test]
fn a_program_receiving_a_screen_cast_is_named_by_the_check() {
    let sway = SwayDisplay::start(&OUTPUTS[..1], false).unwrap();
    let portal = PortalDesktop::start(&sway, &OUTPUTS[..1], Backend::Test(Dialog::ShareAll)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = portal_cast(&sway, &portal, dir.path());
    // This check sees the screen through screencopy, and PipeWire's graph through the portal's.
    let env: Vec<(String, String)> = portal.env().into_iter().filter(|(k, _)| k != "VIGIL_WAYLAND_CAPTURE").collect();
    let pid = format!("(pid {})", receiver.pid());
    let mut last = Value::Null;
    let named = vigil_testkit::wait_until(std::time::Duration::from_secs(20), "the receiver to be named", || {
        last = finding(&check(&sway, &env).0, "display.screen_casts").clone();
        last["verdict"] == "warn" && last["message"].as_str().is_some_and(|m| m.contains(&pid))
    });
    receiver.ensure_running().unwrap();
    named.unwrap_or_else(|e| panic!("{e}: {last}"));
}

/// Debian's xdg-desktop-portal-wlr on a GPU-less sway: it refuses to start any screencast (no
/// DMA-BUF format with screencopy v3). Forced onto the portal, Vigil says so clearly; left to
/// choose, it records through screencopy.
#[test]
fn xdg_desktop_portal_wlr_without_a_gpu_fails_clearly_and_screencopy_still_serves() {
    let sway = SwayDisplay::start(&OUTPUTS, false).unwrap();
    let portal = PortalDesktop::start(&sway, &OUTPUTS, Backend::Wlr).unwrap();
    let (report, code) = check(&sway, &portal.env());
    let capture = finding(&report, "monitors.capture");
    assert_eq!(capture["verdict"], "fail", "{capture}");
    assert!(capture["message"].as_str().unwrap().contains("desktop portal"), "{capture}");
    assert_eq!(code, Some(2));

    let auto: Vec<(String, String)> = portal.env().into_iter().filter(|(k, _)| k != "VIGIL_WAYLAND_CAPTURE").collect();
    let (report, _) = check(&sway, &auto);
    assert_both_outputs_checked(&report);
}

/// During `vigil run` (recording an X display), another program that starts receiving a screen
/// cast through PipeWire is a `display.screen_cast` interval on the server's timeline, named with
/// its pid, and closed when it stops.
#[test]
fn a_screen_cast_during_the_exam_is_an_interval_on_the_timeline() {
    let sway = SwayDisplay::start(&OUTPUTS[..1], false).unwrap();
    let portal = PortalDesktop::start(&sway, &OUTPUTS[..1], Backend::Test(Dialog::ShareAll)).unwrap();
    let x = vigil_testkit::XvfbDisplay::start(640, 480).unwrap();
    let pulse = vigil_testkit::PulseAudio::start().unwrap();
    let server = vigil_testkit::ReferenceServer::start("CAST-1").unwrap();
    let data = tempfile::tempdir().unwrap();
    // The exam shares only PipeWire (its runtime directory) with the portal desktop.
    let pipewire: Vec<(String, String)> = portal.env().into_iter().filter(|(k, _)| k == "XDG_RUNTIME_DIR").collect();
    let run = server
        .headless_run(env!("CARGO_BIN_EXE_vigil"), "CAST-1", "Dana", 22, data.path())
        .args(["--camera", "synthetic"])
        .env("DISPLAY", &x.display)
        .envs(pulse.env())
        .envs(pipewire)
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(5));
    let started = std::time::SystemTime::now();
    let receiver_dir = tempfile::tempdir().unwrap();
    let receiver = portal_cast(&sway, &portal, receiver_dir.path());
    let pid = receiver.pid();
    std::thread::sleep(std::time::Duration::from_secs(8));
    let stopped = std::time::SystemTime::now();
    drop(receiver);
    let detail = server.session_of_run(&run.wait_with_output().unwrap()).unwrap();
    let events = detail["events"].as_array().unwrap();
    let opened = vigil_testkit::server::seconds_after(events, "display.screen_cast", started);
    let closed = vigil_testkit::server::seconds_after(events, "display.screen_cast_ended", stopped);
    println!("opened {opened:?}, closed {closed:?}");
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0].1["pid"], pid, "{opened:?}");
    assert_eq!(closed.len(), 1, "{closed:?}");
    // The portal session takes a moment to open; the graph is read every second.
    assert!((0.0..=5.0).contains(&opened[0].0) && (0.0..=3.0).contains(&closed[0].0), "{opened:?} {closed:?}");
}

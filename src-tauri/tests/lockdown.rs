//! Lockdown and live monitoring in the real app (WebDriver, tauri-driver + WebKitWebDriver):
//! a prohibited application started mid-exam, a second monitor, navigation outside the rules,
//! the exam page trying the app's IPC, focus moved to another window, system shortcuts.
//! Run just this suite: `cargo test -p vigil-app --test lockdown`.

mod common;

use common::{setup, setup_on, shots, to_exam, wait_event, POLICY};
use std::process::Command;
use std::time::{Duration, Instant};
use vigil_testkit::{RenamedProcess, Screen, VncDisplay};

/// The watchers see every process and monitor on the machine, and the tests start prohibited
/// applications: one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn xdotool(display: &str, args: &[&str]) -> String {
    let out = Command::new("xdotool").args(args).env("DISPLAY", display).output().expect("xdotool");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_prohibited_app_started_during_the_exam_reaches_the_server_within_2_s_and_is_shown() {
    let _serial = serial();
    // This exam cannot go on while one runs.
    let s = setup("LD-APP", &format!("{POLICY}\n[lockdown]\nprohibited_app_action = \"require_close\"\n"));
    let app = &s.app;
    to_exam(app);

    let started = Instant::now();
    let anydesk = RenamedProcess::start("anydesk", 120).unwrap();
    let event = wait_event(&s.server, "app.prohibited.started", Duration::from_secs(10), |d| d["pid"] == anydesk.pid());
    let latency = started.elapsed();
    assert!(latency < Duration::from_secs(2), "the event took {latency:?}");
    assert_eq!(event["data"]["app_id"], "anydesk");
    eprintln!("prohibited app start -> event on the server: {} ms", latency.as_millis());

    // The candidate sees it: in the app, and as a banner over the exam page.
    app.wait_visible("#exam-warnings", Duration::from_secs(5)).unwrap();
    assert!(app.text("#exam-warning-list").unwrap().contains("AnyDesk"));
    app.screenshot(&shots().join("warning-en.png")).unwrap();
    let (handles, main) = app.window_handles().unwrap();
    let exam = handles.iter().find(|h| **h != main).expect("the exam window is a second webview").clone();
    app.switch_to(&exam).unwrap();
    app.wait_script(
        "the banner over the exam page",
        "const b = document.getElementById('vigil-banner'); return !!b && b.textContent.includes('AnyDesk')",
        Duration::from_secs(5),
    )
    .unwrap();
    // require_close: the banner covers the whole exam page until the application is gone.
    let covers = app.script("const r = document.getElementById('vigil-banner').getBoundingClientRect(); return r.height >= window.innerHeight - 1 && document.getElementById('vigil-banner').dataset.blocking === 'true'").unwrap();
    assert_eq!(covers, serde_json::json!(true), "the exam page is not covered");
    app.switch_to(&main).unwrap();

    // Closed: the warning goes, the proctor sees that too.
    drop(anydesk);
    wait_event(&s.server, "app.prohibited.exited", Duration::from_secs(10), |d| d["app_id"] == "anydesk");
    app.wait_script(
        "the warning gone",
        "return document.getElementById('exam-warnings').hidden",
        Duration::from_secs(5),
    )
    .unwrap();
    app.switch_to(&exam).unwrap();
    app.wait_script(
        "the exam page uncovered",
        "return !document.getElementById('vigil-banner')",
        Duration::from_secs(5),
    )
    .unwrap();
    app.switch_to(&main).unwrap();
}

#[test]
fn the_exam_window_is_locked_and_watched() {
    let _serial = serial();
    let hash = vigil_core::quit_password::hash("proctor in room 4").unwrap();
    let policy = format!("{POLICY}\n[lockdown]\nquit_password = \"{hash}\"\n");
    let s = setup("LD-WINDOW", &policy);
    let app = &s.app;
    to_exam(app);

    // Full screen, above everything.
    let exam_x = xdotool(&s.display, &["search", "--name", "^Vigil exam$"]);
    assert!(!exam_x.is_empty(), "no exam window on the X server");
    let exam_x = exam_x.lines().next().unwrap().to_owned();
    let geometry = xdotool(&s.display, &["getwindowgeometry", &exam_x]);
    assert!(geometry.contains("1280x900"), "not full screen: {geometry}");

    // The remote exam page has no IPC.
    let (handles, main) = app.window_handles().unwrap();
    let exam = handles.iter().find(|h| **h != main).unwrap().clone();
    app.switch_to(&exam).unwrap();
    let ipc = app
        .script_async(
            "const done = arguments[0];
             const i = window.__TAURI_INTERNALS__;
             if (!i || !i.invoke) { done('no IPC object'); return; }
             i.invoke('finish_status').then((v) => done('ALLOWED ' + JSON.stringify(v)), (e) => done('refused: ' + e));",
        )
        .unwrap();
    let ipc = ipc.as_str().unwrap_or_default().to_owned();
    assert!(!ipc.starts_with("ALLOWED"), "the exam page reached the app's IPC: {ipc}");
    eprintln!("exam page calling the app's IPC: {ipc}");

    // A link outside the rules: blocked, logged, the page stays.
    app.script("location.href = 'https://example.org/answers'; return true").unwrap();
    wait_event(&s.server, "navigation.blocked", Duration::from_secs(10), |d| {
        d["url"].as_str().unwrap_or("").starts_with("https://example.org/")
    });
    // An address that the flat-string globs of 0.1 let through (the exam's host in the path of
    // another), made very long: blocked, with the URL cut to the timeline's limit.
    app.script("location.href = 'https://evil.example/127.0.0.1/' + 'a'.repeat(3000); return true").unwrap();
    wait_event(&s.server, "navigation.blocked", Duration::from_secs(10), |d| {
        let url = d["url"].as_str().unwrap_or("");
        url.starts_with("https://evil.example/") && url.chars().count() == vigil_core::event::MAX_STRING_CHARS
    });
    std::thread::sleep(Duration::from_millis(500));
    let here = app.script("return location.pathname").unwrap();
    assert_eq!(here, "/demo-exam", "the exam window left the exam");
    app.switch_to(&main).unwrap();
    app.wait_script(
        "the blocked address shown",
        "return document.getElementById('exam-blocked').textContent.includes('evil.example')",
        Duration::from_secs(5),
    )
    .unwrap();
    // Even a very long address wraps: the status window never scrolls sideways.
    let wide = app.script("return document.documentElement.scrollWidth - window.innerWidth").unwrap();
    assert!(wide.as_f64().unwrap() <= 0.0, "the page is {wide} px wider than the window");

    // Focus moved to another window for a while, then back: both on the timeline, with how long.
    let main_x = xdotool(&s.display, &["search", "--name", "^Vigil$"]);
    let main_x = main_x.lines().next().expect("the main window").to_owned();
    xdotool(&s.display, &["windowfocus", "--sync", &main_x]);
    wait_event(&s.server, "focus.lost", Duration::from_secs(10), |_| true);
    std::thread::sleep(Duration::from_millis(1500));
    xdotool(&s.display, &["windowfocus", "--sync", &exam_x]);
    let back = wait_event(&s.server, "focus.regained", Duration::from_secs(10), |_| true);
    let away = back["data"]["away_ms"].as_u64().unwrap();
    assert!((1400..10_000).contains(&away), "away for {away} ms");

    // Another window shown over the exam window, then gone again.
    xdotool(&s.display, &["windowraise", &main_x]);
    let over = wait_event(&s.server, "window.over_exam", Duration::from_secs(10), |_| true);
    assert!(over["data"]["windows"].to_string().contains("Vigil"), "{over}");
    xdotool(&s.display, &["windowraise", &exam_x]);
    wait_event(&s.server, "window.over_exam_cleared", Duration::from_secs(10), |_| true);

    // Copying out of the exam (the candidate's keys) is blocked and logged (policy default: block).
    xdotool(&s.display, &["key", "--window", &exam_x, "ctrl+a", "ctrl+c"]);
    wait_event(&s.server, "clipboard.copy.blocked", Duration::from_secs(10), |d| d["frame"] == "main");

    // The same inside the editor frame, as learning platforms embed editors.
    let (handles, main) = app.window_handles().unwrap();
    let exam = handles.iter().find(|h| **h != main).unwrap().clone();
    app.switch_to(&exam).unwrap();
    app.script("document.getElementById('editor').contentDocument.getElementById('essay').focus(); return true")
        .unwrap();
    xdotool(&s.display, &["key", "--window", &exam_x, "ctrl+a", "ctrl+c"]);
    wait_event(&s.server, "clipboard.copy.blocked", Duration::from_secs(10), |d| d["frame"] == "sub");

    // A page script forging reports: a vigil-event address without the token, with a guessed
    // one, and a synthetic paste event. None is recorded; the real paste after them is.
    app.script(
        "location.href = 'vigil-event:clipboard.paste.blocked';
         location.href = 'vigil-event:' + '0'.repeat(32) + '/clipboard.paste.blocked';
         document.dispatchEvent(new Event('paste'));
         document.getElementById('editor').contentDocument.dispatchEvent(new Event('paste'));
         return true",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    xdotool(&s.display, &["key", "--window", &exam_x, "ctrl+v"]);
    wait_event(&s.server, "clipboard.paste.blocked", Duration::from_secs(10), |_| true);
    std::thread::sleep(Duration::from_millis(1500));
    let pastes = common::server_events(&s.server).iter().filter(|e| e["kind"] == "clipboard.paste.blocked").count();
    assert_eq!(pastes, 1, "a forged report was recorded");
    app.switch_to(&main).unwrap();

    // System shortcuts are taken while the exam runs.
    let grabs = wait_event(&s.server, "lockdown.keyboard", Duration::from_secs(10), |_| true);
    assert!(grabs["data"]["grabs"].as_u64().unwrap() > 0, "{grabs}");
    xdotool(&s.display, &["key", "alt+Tab"]);
    wait_event(&s.server, "keyboard.shortcut_blocked", Duration::from_secs(10), |d| d["shortcut"] == "Alt+Tab");
    std::thread::sleep(Duration::from_millis(800));
    let lost = common::server_events(&s.server).iter().filter(|e| e["kind"] == "focus.lost").count();
    assert_eq!(lost, 1, "a blocked shortcut must not count as leaving the exam");

    // A wrong quit password keeps the exam, and the next attempt must wait (even the right one);
    // after the wait the right one ends the exam and delivers.
    app.click("#quit-toggle").unwrap();
    app.type_into("#quit-password", "guess").unwrap();
    app.click("#quit-button").unwrap();
    app.wait_visible("#error", Duration::from_secs(10)).unwrap();
    assert!(app.text("#error-text").unwrap().contains("not the quit password"));
    app.type_into("#quit-password", "proctor in room 4").unwrap();
    app.click("#quit-button").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(app.text("#error-text").unwrap().contains("wait before the next attempt"), "the wait was skipped");
    wait_event(&s.server, "exam.quit_password_wrong", Duration::from_secs(10), |d| d["wait_s"] == 2);
    std::thread::sleep(Duration::from_millis(2200));
    app.type_into("#quit-password", "proctor in room 4").unwrap(); // the app empties the field after an error
    app.click("#quit-button").unwrap();
    app.wait_visible("#receipt", Duration::from_secs(120)).unwrap();
    wait_event(&s.server, "exam.quit_with_password", Duration::from_secs(5), |_| true);
}

#[test]
fn a_second_monitor_added_during_the_exam_breaks_the_monitor_rule() {
    let _serial = serial();
    const FHD: Screen = Screen::new(0, 0, 1920, 1080);
    const FHD_RIGHT: Screen = Screen::new(1920, 0, 1920, 1080);
    let vnc = VncDisplay::start(&[FHD]).expect("TigerVNC");
    let display = vnc.display.clone();
    // The test's own display is a VNC server, which the default list prohibits: this exam allows it.
    let policy = format!("{POLICY}\n[applications]\nallowed = [\"vnc-server\"]\n");
    let s = setup_on(Box::new(vnc), display, "LD-MONITOR", &policy);
    to_exam(&s.app);
    let vnc: &VncDisplay = s.x.downcast_ref().unwrap();
    vnc.set_screens(&[FHD, FHD_RIGHT]).unwrap();
    let e = wait_event(&s.server, "monitor.rule_broken", Duration::from_secs(10), |d| d["monitors"] == 2);
    assert_eq!(e["data"]["max"], 1);
    wait_event(&s.server, "monitor.added", Duration::from_secs(10), |_| true);
    s.app.wait_visible("#exam-warnings", Duration::from_secs(5)).unwrap();
    assert!(s.app.text("#exam-warning-list").unwrap().contains("2 monitors"));
    s.app.screenshot(&shots().join("monitor-warning-en.png")).unwrap();
    vnc.set_screens(&[FHD]).unwrap();
    wait_event(&s.server, "monitor.rule_ok", Duration::from_secs(10), |d| d["monitors"] == 1);
    s.app
        .wait_script(
            "the warning gone",
            "return document.getElementById('exam-warnings').hidden",
            Duration::from_secs(5),
        )
        .unwrap();
}

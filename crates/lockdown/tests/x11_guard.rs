//! The X11 lockdown under a real X server (Xvfb): while the guard holds, the switching shortcuts
//! belong to Vigil; once it is dropped, another X client can grab the same keys.

use std::sync::Arc;
use vigil_lockdown::{platform, LockdownGuard};
use vigil_spool::{Spool, Timeline};
use vigil_testkit::display::XvfbDisplay;
use xcb::x;

/// The lockdown connects to `$DISPLAY`, which each test sets: one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One test's own Xvfb, which the lockdown reaches through `$DISPLAY` as in the app, a spool
/// for its timeline, and a guard; the lock keeps the tests apart.
fn under_xvfb() -> (std::sync::MutexGuard<'static, ()>, XvfbDisplay, tempfile::TempDir, Arc<Timeline>, LockdownGuard) {
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let xvfb = XvfbDisplay::start(1024, 768).expect("Xvfb (Debian package xvfb)");
    std::env::set_var("DISPLAY", &xvfb.display);
    let dir = tempfile::tempdir().unwrap();
    let timeline = Arc::new(Timeline::new(Arc::new(Spool::open(dir.path()).unwrap())));
    let guard = LockdownGuard::new(platform(), timeline.clone());
    (serial, xvfb, dir, timeline, guard)
}

/// The keycode of `keysym` on this X server.
fn keycode(conn: &xcb::Connection, keysym: u32) -> u8 {
    let setup = conn.get_setup();
    let (min, max) = (setup.min_keycode(), setup.max_keycode());
    let map = conn
        .wait_for_reply(conn.send_request(&x::GetKeyboardMapping { first_keycode: min, count: max - min + 1 }))
        .expect("keyboard mapping");
    let per = map.keysyms_per_keycode() as usize;
    map.keysyms().chunks(per).position(|syms| syms.contains(&keysym)).expect("the key") as u8 + min
}

/// Grabs `keysym` with `modifiers` on the root window from a new client: the connection if the
/// server allowed it.
fn grab_from_another_client(display: &str, keysym: u32, modifiers: x::ModMask) -> Option<xcb::Connection> {
    let (conn, screen) = xcb::Connection::connect(Some(display)).expect("connect to Xvfb");
    let root = conn.get_setup().roots().nth(screen as usize).expect("a screen").root();
    let key = keycode(&conn, keysym);
    conn.send_and_check_request(&x::GrabKey {
        owner_events: false,
        grab_window: root,
        modifiers,
        key,
        pointer_mode: x::GrabMode::Async,
        keyboard_mode: x::GrabMode::Async,
    })
    .ok()
    .map(|_| conn)
}

fn another_client_can_grab_alt_tab(display: &str) -> bool {
    grab_from_another_client(display, 0xff09, x::ModMask::N1).is_some()
}

/// A screen reader's own shortcut (Orca on and off is Super+Alt+S) still reaches the program
/// that listens for it while the exam's shortcuts are grabbed, pressed in the usual order
/// (Super first); Super+Tab, a desktop's switcher, is Vigil's and is logged.
#[test]
fn assistive_technology_keeps_its_super_alt_shortcuts() {
    let (_serial, xvfb, _dir, timeline, mut guard) = under_xvfb();
    guard.grab_shortcuts().expect("grabs under Xvfb");

    // The screen reader's daemon listens for Super+Alt+S.
    let reader = grab_from_another_client(&xvfb.display, 0x0073, x::ModMask::N4 | x::ModMask::N1)
        .expect("Super+Alt+S is free for the screen reader");
    let press = |keys: &str| {
        let status = std::process::Command::new("xdotool")
            .args(["key", keys])
            .env("DISPLAY", &xvfb.display)
            .status()
            .expect("xdotool (Debian package xdotool)");
        assert!(status.success());
    };
    press("super+alt+s");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match reader.poll_for_event().unwrap() {
            Some(xcb::Event::X(x::Event::KeyPress(k))) if k.detail() == keycode(&reader, 0x0073) => break,
            Some(_) => {}
            None => {
                assert!(std::time::Instant::now() < deadline, "Super+Alt+S never reached the screen reader");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }

    press("super+Tab");
    let blocked = loop {
        let events = timeline.spool().events().unwrap();
        if let Some(e) = events.iter().find(|e| e.kind == "keyboard.shortcut_blocked") {
            break e.data["shortcut"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "Super+Tab was not blocked");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(blocked, "Super+Tab");
}

#[test]
fn dropping_the_guard_releases_the_key_grabs() {
    let (_serial, xvfb, _dir, timeline, mut guard) = under_xvfb();
    guard.grab_shortcuts().expect("grabs under Xvfb");
    guard.clear_clipboard(false).expect("clipboard under Xvfb");
    assert!(!another_client_can_grab_alt_tab(&xvfb.display), "Alt+Tab should be Vigil's while the guard holds");

    drop(guard);
    assert!(another_client_can_grab_alt_tab(&xvfb.display), "Alt+Tab is still grabbed after the guard was dropped");

    let events = timeline.spool().events().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["lockdown.keyboard", "clipboard.cleared", "lockdown.released"]);
    assert!(events[0].data["grabs"].as_u64().unwrap() > 10, "{:?}", events[0].data);
    assert_eq!(events[2].data["steps"], serde_json::json!(["clipboard", "keyboard"]));
}

/// Who owns CLIPBOARD on `display` right now.
fn clipboard_owner(conn: &xcb::Connection) -> (x::Atom, x::Window) {
    let atom = conn
        .wait_for_reply(conn.send_request(&x::InternAtom { only_if_exists: false, name: b"CLIPBOARD" }))
        .unwrap()
        .atom();
    (atom, conn.wait_for_reply(conn.send_request(&x::GetSelectionOwner { selection: atom })).unwrap().owner())
}

/// With `hold` (the policy's `block`), a copy in another program is taken back at once: it is
/// logged, and that program no longer owns the clipboard, so nothing copied outside can be pasted.
#[test]
fn a_held_clipboard_is_taken_back_from_another_program() {
    let (_serial, xvfb, _dir, timeline, mut guard) = under_xvfb();
    guard.clear_clipboard(true).expect("clipboard under Xvfb");

    // Another program copies: it creates a window and takes CLIPBOARD.
    let (conn, screen) = xcb::Connection::connect(Some(&xvfb.display)).unwrap();
    let root = conn.get_setup().roots().nth(screen as usize).unwrap().root();
    let other: x::Window = conn.generate_id();
    conn.send_and_check_request(&x::CreateWindow {
        depth: x::COPY_FROM_PARENT as u8,
        wid: other,
        parent: root,
        x: 0,
        y: 0,
        width: 1,
        height: 1,
        border_width: 0,
        class: x::WindowClass::InputOnly,
        visual: x::COPY_FROM_PARENT,
        value_list: &[],
    })
    .unwrap();
    let (clipboard, vigil) = clipboard_owner(&conn);
    conn.send_and_check_request(&x::SetSelectionOwner { owner: other, selection: clipboard, time: x::CURRENT_TIME })
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while clipboard_owner(&conn).1 == other {
        assert!(std::time::Instant::now() < deadline, "the copy outside the exam kept the clipboard");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(clipboard_owner(&conn).1, vigil, "Vigil owns the clipboard again");
    // The event is written just after the clipboard is taken back: wait for it too.
    let taken = loop {
        let found = timeline.spool().events().unwrap().into_iter().find(|e| e.kind == "clipboard.taken");
        match found {
            Some(event) => break event,
            None => assert!(std::time::Instant::now() < deadline, "the copy outside the exam was not logged"),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(taken.data["taken_back"], true);
}

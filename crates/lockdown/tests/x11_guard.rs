//! The X11 lockdown under a real X server (Xvfb): while the guard holds, the switching shortcuts
//! belong to Vigil; once it is dropped, another X client can grab the same keys.

use std::sync::Arc;
use vigil_lockdown::{platform, LockdownGuard};
use vigil_spool::{Spool, Timeline};
use vigil_testkit::display::XvfbDisplay;
use xcb::x;

/// Tries to grab Alt+Tab on the root window from a new client; true if the server allowed it.
fn another_client_can_grab_alt_tab(display: &str) -> bool {
    let (conn, screen) = xcb::Connection::connect(Some(display)).expect("connect to Xvfb");
    let root = conn.get_setup().roots().nth(screen as usize).expect("a screen").root();
    let setup = conn.get_setup();
    let (min, max) = (setup.min_keycode(), setup.max_keycode());
    let map = conn
        .wait_for_reply(conn.send_request(&x::GetKeyboardMapping { first_keycode: min, count: max - min + 1 }))
        .expect("keyboard mapping");
    let per = map.keysyms_per_keycode() as usize;
    let tab = map.keysyms().chunks(per).position(|syms| syms.contains(&0xff09)).expect("a Tab key") as u8 + min;
    conn.send_and_check_request(&x::GrabKey {
        owner_events: false,
        grab_window: root,
        modifiers: x::ModMask::N1,
        key: tab,
        pointer_mode: x::GrabMode::Async,
        keyboard_mode: x::GrabMode::Async,
    })
    .is_ok()
}

#[test]
fn dropping_the_guard_releases_the_key_grabs() {
    let xvfb = XvfbDisplay::start(1024, 768).expect("Xvfb (Debian package xvfb)");
    // The lockdown connects to $DISPLAY, like the app does.
    std::env::set_var("DISPLAY", &xvfb.display);
    let dir = tempfile::tempdir().unwrap();
    let timeline = Arc::new(Timeline::new(Arc::new(Spool::open(dir.path()).unwrap())));

    let mut guard = LockdownGuard::new(platform(), timeline.clone());
    guard.grab_shortcuts().expect("grabs under Xvfb");
    guard.clear_clipboard().expect("clipboard under Xvfb");
    assert!(!another_client_can_grab_alt_tab(&xvfb.display), "Alt+Tab should be Vigil's while the guard holds");

    drop(guard);
    assert!(another_client_can_grab_alt_tab(&xvfb.display), "Alt+Tab is still grabbed after the guard was dropped");

    let events = timeline.spool().events().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["lockdown.keyboard", "clipboard.cleared", "lockdown.released"]);
    assert!(events[0].data["grabs"].as_u64().unwrap() > 10, "{:?}", events[0].data);
    assert_eq!(events[2].data["steps"], serde_json::json!(["clipboard", "keyboard"]));
}

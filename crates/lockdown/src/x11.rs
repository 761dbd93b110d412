//! X11: passive grabs of the desktop's switching shortcuts on the root window, and ownership of
//! the clipboard selections (so that they are empty while the exam runs). The keyboard is not
//! grabbed as a whole, and Super is grabbed only with the desktop's own keys, never alone and
//! never with Alt: assistive technology keeps its shortcuts (Orca's Super+Alt+S, the
//! magnifier's Super+Alt+8, Orca's Insert and Caps Lock).

use crate::{LockdownError, PlatformLockdown, Step};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use vigil_core::event::{interval_id, Event, EventKind};
use vigil_core::StopToken;
use vigil_spool::Timeline;
use xcb::{x, Xid};

/// Each step runs on its own X connection and thread; undoing it closes that connection, which
/// ends its grabs and its selection ownership.
pub struct X11Lockdown;

fn x11(what: &'static str) -> impl Fn(String) -> LockdownError {
    move |message| LockdownError::X11 { what, message }
}

/// Runs `work` on its own connection and thread until the returned step is undone; `work`
/// returns the handler that thread then calls for each X event, and with `None` every 20 ms
/// when idle.
fn spawn<F, H>(what: &'static str, work: F) -> Result<Step, LockdownError>
where
    F: FnOnce(&xcb::Connection, x::Window) -> Result<H, String> + Send + 'static,
    H: FnMut(&xcb::Connection, Option<xcb::Event>) + 'static,
{
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stop = StopToken::new();
    let thread_stop = stop.clone();
    let handle = std::thread::Builder::new()
        .name(format!("x11-{what}"))
        .spawn(move || {
            let (conn, screen) = match xcb::Connection::connect(None) {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            let Some(root) = conn.get_setup().roots().nth(screen as usize).map(|s| s.root()) else {
                let _ = ready_tx.send(Err("no X screen".into()));
                return;
            };
            let mut handler = match work(&conn, root) {
                Ok(h) => h,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            loop {
                match conn.poll_for_event() {
                    Ok(Some(event)) => handler(&conn, Some(event)),
                    Ok(None) => {
                        handler(&conn, None);
                        if thread_stop.wait(Duration::from_millis(20)) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            // Dropping the connection ends the grabs and the selection ownership.
        })
        .map_err(|source| LockdownError::Thread { what, source })?;
    let ready = ready_rx.recv().map_err(|_| format!("the {what} thread ended")).and_then(|r| r);
    let step = Step::new(what, move || {
        stop.stop();
        let _ = handle.join();
    });
    match ready {
        Ok(()) => Ok(step),
        Err(message) => {
            drop(step);
            Err(x11(what)(message))
        }
    }
}

const XK_TAB: u32 = 0xff09;
const XK_ESCAPE: u32 = 0xff1b;
const XK_F4: u32 = 0xffc1;
const XK_PAGE_UP: u32 = 0xff55;
const XK_PAGE_DOWN: u32 = 0xff56;
const XK_LEFT: u32 = 0xff51;
const XK_RIGHT: u32 = 0xff53;
const XK_UP: u32 = 0xff52;
const XK_DOWN: u32 = 0xff54;

/// Keys grabbed with Super (and Super+Shift): the ones desktops use to leave the window.
const SUPER_KEYS: &[(u32, &str)] = &[
    (XK_TAB, "Tab"),
    (0x0061, "A"),
    (0x0064, "D"),
    (0x0073, "S"),
    (0x0076, "V"),
    (0x0031, "1"),
    (0x0032, "2"),
    (0x0033, "3"),
    (0x0034, "4"),
    (0x0035, "5"),
    (0x0036, "6"),
    (0x0037, "7"),
    (0x0038, "8"),
    (0x0039, "9"),
    (XK_LEFT, "Left"),
    (XK_RIGHT, "Right"),
    (XK_UP, "Up"),
    (XK_DOWN, "Down"),
    (XK_PAGE_UP, "Page_Up"),
    (XK_PAGE_DOWN, "Page_Down"),
];

/// Keycodes that produce `keysym` in the current keyboard mapping.
fn keycodes(conn: &xcb::Connection, keysym: u32) -> Result<Vec<x::Keycode>, String> {
    let setup = conn.get_setup();
    let (min, max) = (setup.min_keycode(), setup.max_keycode());
    let reply = conn
        .wait_for_reply(conn.send_request(&x::GetKeyboardMapping { first_keycode: min, count: max - min + 1 }))
        .map_err(|e| e.to_string())?;
    let per = reply.keysyms_per_keycode() as usize;
    Ok(reply
        .keysyms()
        .chunks(per.max(1))
        .enumerate()
        .filter(|(_, syms)| syms.contains(&keysym))
        .map(|(i, _)| min + i as u8)
        .collect())
}

impl PlatformLockdown for X11Lockdown {
    fn name(&self) -> &'static str {
        "x11"
    }

    fn grab_shortcuts(&mut self, timeline: &Arc<Timeline>) -> Result<Step, LockdownError> {
        let timeline = timeline.clone();
        spawn("keyboard", move |conn, root| {
            let alt = x::ModMask::N1;
            let ctrl_alt = x::ModMask::CONTROL | x::ModMask::N1;
            let shift = x::ModMask::SHIFT;
            let mut combos: Vec<(u32, x::ModMask, &str)> = vec![
                (XK_TAB, alt, "Tab"),
                (XK_TAB, alt | shift, "Tab"),
                (XK_ESCAPE, alt, "Escape"),
                (XK_F4, alt, "F4"),
                (XK_LEFT, ctrl_alt, "Left"),
                (XK_RIGHT, ctrl_alt, "Right"),
                (XK_UP, ctrl_alt, "Up"),
                (XK_DOWN, ctrl_alt, "Down"),
            ];
            // The desktop's Super shortcuts that switch away (overview, applications, the dock's
            // applications, show desktop, tiling, workspaces), alone and with Shift.
            for (keysym, name) in SUPER_KEYS {
                for mods in [x::ModMask::N4, x::ModMask::N4 | shift] {
                    combos.push((*keysym, mods, name));
                }
            }
            let mut names = std::collections::HashMap::new();
            let mut grabbed = 0;
            for (keysym, mods, name) in combos {
                for key in keycodes(conn, keysym)? {
                    // The same combination with Caps Lock and Num Lock on.
                    for extra in
                        [x::ModMask::empty(), x::ModMask::LOCK, x::ModMask::N2, x::ModMask::LOCK | x::ModMask::N2]
                    {
                        let cookie = conn.send_request_checked(&x::GrabKey {
                            owner_events: false,
                            grab_window: root,
                            modifiers: mods | extra,
                            key,
                            pointer_mode: x::GrabMode::Async,
                            keyboard_mode: x::GrabMode::Async,
                        });
                        // Another client (the window manager) may hold it already: then it is its.
                        if conn.check_request(cookie).is_ok() {
                            grabbed += 1;
                        }
                    }
                    names.insert(key, name);
                }
            }
            timeline.record(Event::new(EventKind::LockdownKeyboard, json!({"grabs": grabbed})));
            Ok(move |_: &xcb::Connection, event: Option<xcb::Event>| {
                if let Some(xcb::Event::X(x::Event::KeyPress(k))) = event {
                    let key = names.get(&k.detail()).copied().unwrap_or("key");
                    let state = k.state();
                    let mut shortcut = String::new();
                    for (bit, name) in [
                        (x::KeyButMask::MOD4, "Super+"),
                        (x::KeyButMask::CONTROL, "Ctrl+"),
                        (x::KeyButMask::MOD1, "Alt+"),
                        (x::KeyButMask::SHIFT, "Shift+"),
                    ] {
                        if state.contains(bit) {
                            shortcut.push_str(name);
                        }
                    }
                    shortcut.push_str(key);
                    timeline.record(Event::new(EventKind::KeyboardShortcutBlocked, json!({"shortcut": shortcut})));
                }
            })
        })
    }

    fn clear_clipboard(&mut self, timeline: &Arc<Timeline>, hold: bool) -> Result<Step, LockdownError> {
        let timeline = timeline.clone();
        spawn("clipboard", move |conn, root| {
            let window: x::Window = conn.generate_id();
            conn.send_and_check_request(&x::CreateWindow {
                depth: x::COPY_FROM_PARENT as u8,
                wid: window,
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
            .map_err(|e| e.to_string())?;
            let clipboard = conn
                .wait_for_reply(conn.send_request(&x::InternAtom { only_if_exists: false, name: b"CLIPBOARD" }))
                .map_err(|e| e.to_string())?
                .atom();
            for selection in [clipboard, x::ATOM_PRIMARY] {
                conn.send_and_check_request(&x::SetSelectionOwner { owner: window, selection, time: x::CURRENT_TIME })
                    .map_err(|e| e.to_string())?;
            }
            timeline.record(Event::new(EventKind::ClipboardCleared, json!({})));
            Ok(move |conn: &xcb::Connection, event: Option<xcb::Event>| match event {
                // Someone asks for the clipboard's content: there is none.
                Some(xcb::Event::X(x::Event::SelectionRequest(r))) => {
                    let notify =
                        x::SelectionNotifyEvent::new(r.time(), r.requestor(), r.selection(), r.target(), x::ATOM_NONE);
                    conn.send_request(&x::SendEvent {
                        propagate: false,
                        destination: x::SendEventDest::Window(r.requestor()),
                        event_mask: x::EventMask::empty(),
                        event: &notify,
                    });
                    let _ = conn.flush();
                }
                // Another application took the clipboard (a copy outside the exam): log it, and
                // with `hold` take it back, so that nothing copied outside can be pasted inside.
                Some(xcb::Event::X(x::Event::SelectionClear(c))) => {
                    let taken_back = hold
                        && conn
                            .send_and_check_request(&x::SetSelectionOwner {
                                owner: window,
                                selection: c.selection(),
                                time: x::CURRENT_TIME,
                            })
                            .is_ok();
                    let selection = c.selection().resource_id();
                    timeline.record(Event::new(
                        EventKind::ClipboardTaken,
                        json!({ "selection": selection, "taken_back": taken_back }),
                    ));
                }
                _ => {}
            })
        })
    }

    fn watch_windows_over(&mut self, timeline: &Arc<Timeline>, exam_title: &str) -> Result<Step, LockdownError> {
        let timeline = timeline.clone();
        let title = exam_title.to_owned();
        spawn("window stacking", move |_, _| {
            let mut last: Vec<String> = Vec::new();
            let mut open: Option<String> = None;
            let mut idle = 0u32;
            Ok(move |conn: &xcb::Connection, event: Option<xcb::Event>| {
                if event.is_some() {
                    return;
                }
                idle += 1;
                if !idle.is_multiple_of(25) {
                    return; // every 500 ms
                }
                let root = conn.get_setup().roots().next().map(|s| s.root());
                let over = root.and_then(|r| windows_over(conn, r, &title)).unwrap_or_default();
                if over != last {
                    // One interval while any window is over the exam; a change of which
                    // windows is a new event in the same interval.
                    if over.is_empty() {
                        if let Some(id) = open.take() {
                            timeline.record(Event::new(EventKind::WindowOverExamCleared, json!({})).closes(&id));
                        }
                    } else {
                        let id = open.get_or_insert_with(|| interval_id("over")).clone();
                        timeline.record(Event::new(EventKind::WindowOverExam, json!({ "windows": over })).opens(&id));
                    }
                    last = over;
                }
            })
        })
    }
}
/// A window's title (`_NET_WM_NAME`, else `WM_NAME`).
fn title(conn: &xcb::Connection, window: x::Window) -> Option<String> {
    let net_wm_name = conn
        .wait_for_reply(conn.send_request(&x::InternAtom { only_if_exists: true, name: b"_NET_WM_NAME" }))
        .ok()?
        .atom();
    for property in [net_wm_name, x::ATOM_WM_NAME] {
        if property == x::ATOM_NONE {
            continue;
        }
        let reply = conn
            .wait_for_reply(conn.send_request(&x::GetProperty {
                delete: false,
                window,
                property,
                r#type: x::ATOM_ANY,
                long_offset: 0,
                long_length: 256,
            }))
            .ok()?;
        let value = reply.value::<u8>();
        if !value.is_empty() {
            return Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    None
}

/// The top-level window (a child of the root) that is or holds the window titled `name`.
fn top_level_titled(conn: &xcb::Connection, top: x::Window, name: &str) -> bool {
    if title(conn, top).as_deref() == Some(name) {
        return true;
    }
    // Under a window manager the client window sits inside a frame.
    conn.wait_for_reply(conn.send_request(&x::QueryTree { window: top }))
        .map(|t| t.children().iter().any(|c| title(conn, *c).as_deref() == Some(name)))
        .unwrap_or(false)
}

fn rect(conn: &xcb::Connection, window: x::Window) -> Option<(i32, i32, i32, i32)> {
    let g = conn.wait_for_reply(conn.send_request(&x::GetGeometry { drawable: x::Drawable::Window(window) })).ok()?;
    Some((g.x() as i32, g.y() as i32, g.width() as i32, g.height() as i32))
}

/// Titles of the viewable windows stacked above the exam window and overlapping it.
fn windows_over(conn: &xcb::Connection, root: x::Window, exam_title: &str) -> Option<Vec<String>> {
    let tree = conn.wait_for_reply(conn.send_request(&x::QueryTree { window: root })).ok()?;
    let children = tree.children(); // bottom to top
    let exam_at = children.iter().position(|c| top_level_titled(conn, *c, exam_title))?;
    let exam = rect(conn, children[exam_at])?;
    let mut over = Vec::new();
    for &w in &children[exam_at + 1..] {
        let Ok(attrs) = conn.wait_for_reply(conn.send_request(&x::GetWindowAttributes { window: w })) else { continue };
        if attrs.map_state() != x::MapState::Viewable || attrs.class() != x::WindowClass::InputOutput {
            continue;
        }
        let Some(r) = rect(conn, w) else { continue };
        let overlaps = r.0 < exam.0 + exam.2 && exam.0 < r.0 + r.2 && r.1 < exam.1 + exam.3 && exam.1 < r.1 + r.3;
        if overlaps && r.2 > 1 && r.3 > 1 {
            let name = title(conn, w)
                .or_else(|| {
                    conn.wait_for_reply(conn.send_request(&x::QueryTree { window: w }))
                        .ok()
                        .and_then(|t| t.children().iter().find_map(|c| title(conn, *c)))
                })
                .unwrap_or_else(|| format!("window 0x{:x}", w.resource_id()));
            over.push(name);
        }
    }
    Some(over)
}

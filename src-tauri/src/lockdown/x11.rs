//! X11: passive grabs of the desktop's switching shortcuts on the root window, and ownership of
//! the clipboard selections (so that they are empty while the exam runs). The keyboard is not
//! grabbed as a whole, so screen readers and magnifiers keep their keys.

use super::PlatformLockdown;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vigil_core::spool::Spool;
use xcb::{x, Xid};

pub struct X11Lockdown {
    spool: Arc<Spool>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl X11Lockdown {
    pub fn new(spool: Arc<Spool>) -> X11Lockdown {
        X11Lockdown { spool, stop: Arc::new(AtomicBool::new(false)), threads: Vec::new() }
    }

    /// Runs `work` on its own connection and thread until released; `work` returns the event
    /// handler that thread then calls for each X event.
    fn spawn<F, H>(&mut self, what: &str, work: F) -> Result<(), String>
    where
        F: FnOnce(&xcb::Connection, x::Window) -> Result<H, String> + Send + 'static,
        H: FnMut(&xcb::Connection, xcb::Event) + 'static,
    {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stop = self.stop.clone();
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
                while !stop.load(Ordering::Relaxed) {
                    match conn.poll_for_event() {
                        Ok(Some(event)) => handler(&conn, event),
                        Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                        Err(_) => break,
                    }
                }
                // Closing the connection ends the grabs and the selection ownership.
            })
            .map_err(|e| e.to_string())?;
        self.threads.push(handle);
        ready_rx.recv().map_err(|_| format!("the X11 {what} thread ended"))?
    }
}

const XK_TAB: u32 = 0xff09;
const XK_ESCAPE: u32 = 0xff1b;
const XK_F4: u32 = 0xffc1;
const XK_SUPER_L: u32 = 0xffeb;
const XK_SUPER_R: u32 = 0xffec;
const XK_LEFT: u32 = 0xff51;
const XK_RIGHT: u32 = 0xff53;
const XK_UP: u32 = 0xff52;
const XK_DOWN: u32 = 0xff54;

/// Keycodes that produce `keysym` in the current keyboard mapping.
fn keycodes(conn: &xcb::Connection, keysym: u32) -> Result<Vec<x::Keycode>, String> {
    let setup = conn.get_setup();
    let (min, max) = (setup.min_keycode(), setup.max_keycode());
    let reply = conn
        .wait_for_reply(conn.send_request(&x::GetKeyboardMapping { first_keycode: min, count: max - min + 1 }))
        .map_err(|e| e.to_string())?;
    let per = reply.keysyms_per_keycode() as usize;
    Ok(reply.keysyms().chunks(per.max(1)).enumerate().filter(|(_, syms)| syms.contains(&keysym)).map(|(i, _)| min + i as u8).collect())
}

impl PlatformLockdown for X11Lockdown {
    fn grab_shortcuts(&mut self) -> Result<(), String> {
        let spool = self.spool.clone();
        self.spawn("keyboard", move |conn, root| {
            let alt = x::ModMask::N1;
            let ctrl_alt = x::ModMask::CONTROL | x::ModMask::N1;
            let combos: Vec<(u32, x::ModMask, &str)> = vec![
                (XK_TAB, alt, "Tab"),
                (XK_TAB, alt | x::ModMask::SHIFT, "Tab"),
                (XK_ESCAPE, alt, "Escape"),
                (XK_F4, alt, "F4"),
                (XK_SUPER_L, x::ModMask::ANY, "Super"),
                (XK_SUPER_R, x::ModMask::ANY, "Super"),
                (XK_LEFT, ctrl_alt, "Left"),
                (XK_RIGHT, ctrl_alt, "Right"),
                (XK_UP, ctrl_alt, "Up"),
                (XK_DOWN, ctrl_alt, "Down"),
            ];
            let mut names = std::collections::HashMap::new();
            let mut grabbed = 0;
            for (keysym, mods, name) in combos {
                for key in keycodes(conn, keysym)? {
                    // The same combination with Caps Lock and Num Lock on.
                    let variants: &[x::ModMask] = if mods == x::ModMask::ANY { &[x::ModMask::empty()] } else { &[x::ModMask::empty(), x::ModMask::LOCK, x::ModMask::N2, x::ModMask::LOCK | x::ModMask::N2] };
                    for extra in variants {
                        let cookie = conn.send_request_checked(&x::GrabKey {
                            owner_events: false,
                            grab_window: root,
                            modifiers: mods | *extra,
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
            let _ = spool.add_event("lockdown.keyboard", json!({"grabs": grabbed}));
            Ok(move |_: &xcb::Connection, event: xcb::Event| {
                if let xcb::Event::X(x::Event::KeyPress(k)) = event {
                    let key = names.get(&k.detail()).copied().unwrap_or("key");
                    let state = k.state();
                    let mut shortcut = String::new();
                    for (bit, name) in [(x::KeyButMask::CONTROL, "Ctrl+"), (x::KeyButMask::MOD1, "Alt+"), (x::KeyButMask::SHIFT, "Shift+")] {
                        if state.contains(bit) && key != "Super" {
                            shortcut.push_str(name);
                        }
                    }
                    shortcut.push_str(key);
                    let _ = spool.add_event("keyboard.shortcut_blocked", json!({"shortcut": shortcut}));
                }
            })
        })
    }

    fn clear_clipboard(&mut self) -> Result<(), String> {
        let spool = self.spool.clone();
        self.spawn("clipboard", move |conn, root| {
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
                conn.send_and_check_request(&x::SetSelectionOwner { owner: window, selection, time: x::CURRENT_TIME }).map_err(|e| e.to_string())?;
            }
            let _ = spool.add_event("clipboard.cleared", json!({}));
            Ok(move |conn: &xcb::Connection, event: xcb::Event| match event {
                // Someone asks for the clipboard's content: there is none.
                xcb::Event::X(x::Event::SelectionRequest(r)) => {
                    let notify = x::SelectionNotifyEvent::new(r.time(), r.requestor(), r.selection(), r.target(), x::ATOM_NONE);
                    conn.send_request(&x::SendEvent { propagate: false, destination: x::SendEventDest::Window(r.requestor()), event_mask: x::EventMask::empty(), event: &notify });
                    let _ = conn.flush();
                }
                // Another application took the clipboard (a copy outside the exam): log it.
                xcb::Event::X(x::Event::SelectionClear(c)) => {
                    let _ = spool.add_event("clipboard.taken", json!({"selection": c.selection().resource_id()}));
                }
                _ => {}
            })
        })
    }

    fn release(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.stop.store(false, Ordering::Relaxed);
    }
}

impl Drop for X11Lockdown {
    fn drop(&mut self) {
        self.release();
    }
}

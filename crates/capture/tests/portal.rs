//! A monitor shared through the desktop portal, in-process (behind the real xdg-desktop-portal,
//! PipeWire and WirePlumber, with `vigil-test-portal` as the desktop's backend): the app's
//! warning of the sharing dialog is due exactly until the portal session is open, and the shared
//! monitor's pictures follow what the screen shows. One test per binary: the environment is
//! process-wide.

use std::time::Duration;
use vigil_capture::screen::{asks_to_share, monitors, ScreenSource};
use vigil_capture::source::VideoSource;
use vigil_testkit::portal::{Backend, Dialog};
use vigil_testkit::{wait_until, PortalDesktop, SwayDisplay, WaylandOutput};

/// The first U sample of an I420 picture: about 102 for the red below, 189 for the blue.
fn u(frame: &vigil_capture::frame::VideoFrame) -> u8 {
    frame.data[(frame.width * frame.height) as usize]
}

#[test]
fn the_dialog_is_announced_until_the_session_opens_and_pictures_follow_the_screen() {
    let outputs = [WaylandOutput { x: 0, y: 0, width: 640, height: 480, scale: 1, colour: "#d02020" }];
    let sway = SwayDisplay::start(&outputs, false).unwrap();
    // SAFETY of set_var: the only test in this binary, before any thread of ours starts.
    unsafe {
        std::env::set_var("WAYLAND_DISPLAY", &sway.socket);
        std::env::remove_var("DISPLAY");
    }
    assert!(!asks_to_share(), "sway offers screencopy: no dialog to announce");

    let portal = PortalDesktop::start(&sway, &outputs, Backend::Test(Dialog::ShareAll)).unwrap();
    for (k, v) in portal.env() {
        unsafe { std::env::set_var(k, v) };
    }
    assert!(asks_to_share(), "on the portal, the desktop will ask");
    let all = monitors().expect("the shared monitors");
    assert_eq!(portal.dialogs(), 1);
    assert!(!asks_to_share(), "asked once: this process will not be asked again");
    assert_eq!((all[0].name.as_str(), all[0].width, all[0].height), ("HEADLESS-1", 640, 480));

    let mut screen = ScreenSource::open("screen-0".into(), &all[0]).unwrap();
    let first = screen.grab().unwrap();
    assert!(!first.unchanged && u(&first) < 120, "red: U {}", u(&first));
    assert!(screen.grab().unwrap().unchanged, "the same picture again is not converted or encoded again");

    sway.swaymsg(&["output", "HEADLESS-1", "bg", "#2040c0", "solid_color"]).unwrap();
    wait_until(Duration::from_secs(10), "the blue picture", || {
        screen.grab().is_ok_and(|f| !f.unchanged && u(&f) > 170)
    })
    .unwrap();
}

//! Screen sources against a real X server. One test per binary: DISPLAY is process-wide.

use std::process::Command;
use vigil_capture::screen::{monitors, ScreenSource};
use vigil_capture::source::VideoSource;
use vigil_testkit::XvfbDisplay;

#[test]
fn grabs_a_monitor_and_notices_only_real_changes() {
    let x = XvfbDisplay::start(1280, 720).expect("Xvfb");
    // SAFETY of set_var: the only test in this binary, before any thread starts.
    unsafe { std::env::set_var("DISPLAY", &x.display) };
    let all = monitors().expect("monitors");
    assert_eq!(all.len(), 1);
    let id = all.into_iter().next().unwrap();
    assert_eq!((id.width, id.height), (1280, 720));
    let mut src = ScreenSource::open("screen-0".into(), &id).expect("open");

    // Grab on another thread while monitors are listed here: xcap calls are serialised.
    let grabber = std::thread::spawn(move || {
        let frames: Vec<_> = (0..3).map(|_| src.grab().expect("grab")).collect();
        (src, frames)
    });
    for _ in 0..20 {
        monitors().expect("monitors while grabbing");
    }
    let (mut src, frames) = grabber.join().unwrap();
    assert!(!frames[0].unchanged);
    assert_eq!(frames[0].data.len(), frames[0].format.frame_len(1280, 720));
    // Nothing was drawn: the X damage extension says so and nothing is grabbed.
    assert!(frames[1].unchanged && frames[1].data.is_empty());
    assert!(frames[2].unchanged);

    let status =
        Command::new("xsetroot").args(["-solid", "#ff0000"]).env("DISPLAY", &x.display).status().expect("xsetroot");
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let red = src.grab().unwrap();
    assert!(!red.unchanged, "a drawn screen must be grabbed again");
    assert_ne!(red.data, frames[0].data);
    // Pure red: luma about 0.3 of full scale, Cr (the V plane, last quarter of the chroma) high.
    let (y, v) = (red.data[0], *red.data.last().unwrap());
    assert!((60..=100).contains(&y), "luma of red: {y}");
    assert!(v > 200, "Cr of red: {v}");
}

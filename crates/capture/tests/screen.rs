//! Screen sources against a real X server. One test per binary: DISPLAY is process-wide.

use vigil_capture::screen::{monitors, ScreenSource};
use vigil_capture::source::VideoSource;
use vigil_testkit::XvfbDisplay;

#[test]
fn grabs_a_monitor_from_another_thread_while_monitors_are_listed() {
    let x = XvfbDisplay::start(1280, 720).expect("Xvfb");
    // SAFETY of set_var: the only test in this binary, before any thread starts.
    unsafe { std::env::set_var("DISPLAY", &x.display) };
    let all = monitors().expect("monitors");
    assert_eq!(all.len(), 1);
    let id = all.into_iter().next().unwrap();
    assert_eq!((id.width, id.height), (1280, 720));
    let mut src = ScreenSource::open("screen-0".into(), &id).expect("open");
    // xcap is not safe to call concurrently; the source serialises its calls.
    let grabber = std::thread::spawn(move || (0..5).map(|_| src.grab()).collect::<Vec<_>>());
    for _ in 0..20 {
        monitors().expect("monitors while grabbing");
    }
    for frame in grabber.join().unwrap() {
        let frame = frame.expect("grab");
        assert_eq!((frame.width, frame.height, frame.data.len()), (1280, 720, 1280 * 720 * 4));
    }
}

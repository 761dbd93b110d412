//! The outputs of a real compositor (headless sway): names, layout positions, pixel modes and
//! scales as the compositor announced them, and an output turned a quarter by its transform.

use std::time::Duration;
use vigil_testkit::{wait_until, SwayDisplay, WaylandOutput};
use vigil_wayland::Output;

#[test]
fn outputs_are_read_as_the_compositor_lays_them_out_and_a_turned_one_is_turned() {
    let sway = SwayDisplay::start(
        &[
            WaylandOutput { x: 0, y: 0, width: 640, height: 480, scale: 1, colour: "#d02020" },
            WaylandOutput { x: 640, y: 0, width: 1280, height: 720, scale: 2, colour: "#20a040" },
        ],
        false,
    )
    .expect("headless sway");
    // The only test in this binary: no other thread reads the environment.
    std::env::set_var("WAYLAND_DISPLAY", &sway.socket);
    assert!(vigil_wayland::is_wayland());

    let outputs = vigil_wayland::outputs().expect("the outputs");
    assert_eq!(
        outputs,
        vec![
            Output { name: "HEADLESS-1".into(), x: 0, y: 0, mode: (640, 480), turned: false, scale: 1 },
            Output { name: "HEADLESS-2".into(), x: 640, y: 0, mode: (1280, 720), turned: false, scale: 2 },
        ]
    );
    assert_eq!(outputs[1].shown_size(), (1280, 720));
    assert_eq!(outputs[1].logical_size(), (640, 360));

    // Turned a quarter: the same mode, shown (and laid out) with width and height swapped.
    sway.swaymsg(&["output", "HEADLESS-2", "transform", "90"]).expect("swaymsg");
    let mut turned = None;
    wait_until(Duration::from_secs(10), "the output to turn", || {
        turned = vigil_wayland::outputs().ok().and_then(|o| o.into_iter().find(|o| o.name == "HEADLESS-2"));
        turned.as_ref().is_some_and(|o| o.turned)
    })
    .expect("a turned output");
    let turned = turned.expect("HEADLESS-2");
    assert_eq!(turned.mode, (1280, 720));
    assert_eq!(turned.shown_size(), (720, 1280));
    assert_eq!(turned.logical_size(), (360, 640));

    // Gone: a compositor that cannot be reached is an error that says so, not an empty list.
    drop(sway);
    let gone = vigil_wayland::outputs().expect_err("no compositor");
    assert!(gone.contains("cannot reach the Wayland compositor"), "{gone}");
}

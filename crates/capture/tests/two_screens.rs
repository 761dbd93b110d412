//! Two monitors of one X server grabbed at the same time, from two threads (as the recorder does):
//! the grabbers share one shared-memory image and take turns, so each picture must hold its own
//! monitor's pixels, never the other's. One test per binary: DISPLAY is process-wide.

use std::process::Command;
use std::time::{Duration, Instant};
use vigil_capture::screen::{monitors, ScreenSource};
use vigil_capture::source::VideoSource;
use vigil_testkit::{Screen, VncDisplay};

const W: u16 = 1280;
const H: u16 = 720;

/// Paints the left monitor `left` and the right one `right` (an X bitmap as wide as the desktop,
/// its left half set, tiled over the root window).
fn paint(display: &str, bitmap: &std::path::Path, left: &str, right: &str) {
    let status = Command::new("xsetroot")
        .arg("-bitmap")
        .arg(bitmap)
        .args(["-fg", left, "-bg", right])
        .env("DISPLAY", display)
        .status()
        .expect("xsetroot");
    assert!(status.success());
}

/// The luma of every pixel of an I420 picture, if they are all within 2 of each other.
fn uniform_luma(data: &[u8]) -> Option<u8> {
    let luma = &data[..W as usize * H as usize];
    let (min, max) = (luma.iter().min()?, luma.iter().max()?);
    (max - min <= 2).then_some(luma[0])
}

#[test]
fn monitors_grabbed_together_each_get_their_own_pixels() {
    let vnc = VncDisplay::start(&[Screen::new(0, 0, W, H), Screen::new(W, 0, W, H)]).expect("TigerVNC");
    // SAFETY of set_var: the only test in this binary, before any thread starts.
    unsafe { std::env::set_var("DISPLAY", &vnc.display) };
    let dir = tempfile::tempdir().unwrap();
    let bitmap = dir.path().join("halves.xbm");
    // Two rows (Xlib refuses a bitmap of one).
    let bytes: Vec<&str> =
        (0..2 * (2 * W / 8)).map(|i| if i % (2 * W / 8) < W / 8 { "0xff" } else { "0x00" }).collect();
    let xbm = format!(
        "#define halves_width {}\n#define halves_height 2\nstatic unsigned char halves_bits[] = {{\n{} }};\n",
        2 * W,
        bytes.join(", ")
    );
    std::fs::write(&bitmap, xbm).unwrap();
    paint(&vnc.display, &bitmap, "red", "blue");

    let mut all = monitors().expect("monitors");
    all.sort_by_key(|m| m.x);
    assert_eq!(all.len(), 2, "{all:?}");
    // Red and green on the left, blue and yellow on the right (BT.601 luma: 82, 145, 41, 210).
    let expected = [[82u8, 145], [41, 210]];
    let stop = Instant::now() + Duration::from_secs(4);
    let grabbers: Vec<_> = all
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut src = ScreenSource::open(format!("screen-{i}"), id).expect("open");
            std::thread::spawn(move || {
                let mut lumas = Vec::new();
                while Instant::now() < stop {
                    let frame = src.grab().expect("grab");
                    if !frame.unchanged {
                        lumas.push(uniform_luma(&frame.data));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                lumas
            })
        })
        .collect();
    let started = Instant::now();
    for (left, right) in [("green", "yellow"), ("red", "blue")].into_iter().cycle() {
        if started.elapsed() >= Duration::from_secs(3) {
            break;
        }
        paint(&vnc.display, &bitmap, left, right);
        std::thread::sleep(Duration::from_millis(60));
    }
    for (i, grabber) in grabbers.into_iter().enumerate() {
        let lumas = grabber.join().unwrap();
        assert!(lumas.len() >= 10, "monitor {i}: only {} pictures", lumas.len());
        for luma in &lumas {
            let own = luma.is_some_and(|y| expected[i].iter().any(|e| y.abs_diff(*e) <= 3));
            assert!(own, "monitor {i}: a picture of luma {luma:?}, its colours are {:?}", expected[i]);
        }
    }
}

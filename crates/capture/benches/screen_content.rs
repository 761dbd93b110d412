//! `cargo bench -p vigil-capture --bench screen_content`: why screens use openh264's
//! screen-content mode (with Vigil's patch, vendor/openh264-sys2/VIGIL.md). A page of text
//! (ImageMagick, DejaVu Sans at 14 px: a document or an exam's questions) is read in steps, moved
//! two lines down and back (also in black and white, tiled 2x2, as the record bench's monitors show
//! it), and dragged diagonally; two solid colours take turns too. At one
//! picture a second, each scene is encoded at the screens' settings in the screen-content and in
//! the camera mode; prints each mode's encoding time and bytes per picture after the first, and
//! how close the decoded pictures stay to the source (PSNR of the luma). Arguments, if any, keep
//! the runs whose "scene, mode" contains one of them (`-- tiled 'colours in turn, screen'`); each
//! run is repeated `ROUNDS` times (default 1) and its encoding time is the median picture's.
//! Prints figures; asserts nothing.

use openh264::decoder::Decoder;
use openh264::encoder::{Encoder, UsageType};
use openh264::formats::{RgbSliceU8, YUVBuffer, YUVSource};
use openh264::OpenH264API;
use std::process::Command;
use std::time::{Duration, Instant};
use vigil_capture::encode::{encoder_config, Content};

const WIDTH: usize = 1920;
const HEIGHT: usize = 1080;
const PAGE_HEIGHT: usize = 3000;

/// Two columns of a licence text, black on white, as RGB bytes.
fn page() -> Vec<u8> {
    let text = std::fs::read_to_string("/usr/share/common-licenses/GPL-3").expect("Debian's common licences");
    let (left, right) = text.split_at(text.len() / 2);
    let column = |s: &str| s.chars().take(12_000).collect::<String>();
    let out = Command::new("convert")
        .args(["-size", &format!("{WIDTH}x{PAGE_HEIGHT}"), "xc:white", "-font", "DejaVu-Sans", "-pointsize", "14"])
        .args(["-fill", "black", "-annotate", "+20+20", &column(left), "-annotate", "+980+20", &column(right)])
        .args(["-depth", "8", "rgb:-"])
        .output()
        .expect("ImageMagick's convert (scripts/install-deps installs imagemagick)");
    assert_eq!(out.stdout.len(), WIDTH * PAGE_HEIGHT * 3, "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Luma PSNR of `decoded` against `source`, in dB.
fn psnr(decoded: &impl YUVSource, source: &YUVBuffer) -> f64 {
    let ((ds, _, _), (ss, _, _)) = (decoded.strides(), source.strides());
    let mut squared = 0.0f64;
    for y in 0..HEIGHT {
        let (d, s) = (&decoded.y()[y * ds..y * ds + WIDTH], &source.y()[y * ss..y * ss + WIDTH]);
        squared += d.iter().zip(s).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum::<f64>();
    }
    10.0 * (255.0f64.powi(2) / (squared / (WIDTH * HEIGHT) as f64).max(1e-9)).log10()
}

/// The page's window whose top left corner is at (`left`, `top`) of the page, moved `right`
/// pixels to the right (white where nothing is).
fn window(page: &[u8], left: usize, top: usize) -> YUVBuffer {
    let mut rgb = vec![255u8; WIDTH * HEIGHT * 3];
    for y in 0..HEIGHT {
        let row = &page[(top + y) * WIDTH * 3..(top + y + 1) * WIDTH * 3];
        rgb[(y * WIDTH + left) * 3..(y + 1) * WIDTH * 3].copy_from_slice(&row[..(WIDTH - left) * 3]);
    }
    YUVBuffer::from_rgb_source(RgbSliceU8::new(&rgb, (WIDTH, HEIGHT)))
}

/// What the record bench's monitors show: the page's top left quarter in black and white only,
/// from `top` down, tiled 2x2.
fn tiled(page: &[u8], top: usize) -> YUVBuffer {
    let (w, h) = (WIDTH / 2, HEIGHT / 2);
    let mut rgb = vec![0u8; WIDTH * HEIGHT * 3];
    for (i, pixel) in rgb.chunks_exact_mut(3).enumerate() {
        let (x, y) = (i % WIDTH % w, i / WIDTH % h);
        pixel.fill(if page[((top + y) * WIDTH + x) * 3] < 128 { 0 } else { 255 });
    }
    YUVBuffer::from_rgb_source(RgbSliceU8::new(&rgb, (WIDTH, HEIGHT)))
}

fn main() {
    let page = page();
    let solid = |rgb: [u8; 3]| {
        let picture: Vec<u8> = rgb.iter().copied().cycle().take(WIDTH * HEIGHT * 3).collect();
        YUVBuffer::from_rgb_source(RgbSliceU8::new(&picture, (WIDTH, HEIGHT)))
    };
    // Two pictures taking turns, 15 in all.
    let in_turn = |a: YUVBuffer, b: YUVBuffer| (vec![a, b], (0..15).map(|i| i % 2).collect::<Vec<usize>>());
    // Where the page's top is: reading, a line or two, a paragraph, a jump.
    let tops = [0usize, 0, 0, 42, 42, 300, 300, 310, 700, 700, 700, 1000, 1400, 1400, 1900];
    // Each scene: its pictures, and the order they are shown in at one a second (the first is the
    // key frame).
    let scenes = [
        ("read in steps", (tops.iter().map(|&top| window(&page, 0, top)).collect(), (0..tops.len()).collect())),
        ("two lines down and back", in_turn(window(&page, 0, 0), window(&page, 0, 34))),
        ("monochrome, tiled, two lines", in_turn(tiled(&page, 0), tiled(&page, 34))),
        ("dragged 200 right, 150 down, back", in_turn(window(&page, 0, 300), window(&page, 200, 150))),
        ("solid colours in turn", in_turn(solid([32, 64, 128]), solid([192, 128, 32]))),
    ];
    let wanted: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(1);
    for (scene, (pictures, order)) in &scenes {
        for (mode, usage) in
            [("screen content", UsageType::ScreenContentRealTime), ("camera", UsageType::CameraVideoRealTime)]
        {
            let run = format!("{scene}, {mode}");
            if !wanted.is_empty() && !wanted.iter().any(|w| run.contains(w.as_str())) {
                continue;
            }
            let config = encoder_config(Content::Screen, WIDTH as u32, HEIGHT as u32, 1.0).usage_type(usage);
            let (mut bytes, mut quality, mut encoding) = (0usize, Vec::new(), Vec::<Duration>::new());
            for _ in 0..rounds {
                let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config).expect("encoder");
                let mut decoder = Decoder::new().expect("decoder");
                (bytes, quality) = (0, Vec::new());
                for (i, &picture) in order.iter().enumerate() {
                    let source = &pictures[picture];
                    let started = Instant::now();
                    let stream = encoder.encode(source).expect("encode").to_vec();
                    if i > 0 {
                        encoding.push(started.elapsed());
                        bytes += stream.len();
                    }
                    let decoded = decoder.decode(&stream).expect("decode").expect("a picture");
                    quality.push(psnr(&decoded, source));
                }
            }
            encoding.sort();
            let mean = quality.iter().sum::<f64>() / quality.len() as f64;
            let worst = quality.iter().cloned().fold(f64::INFINITY, f64::min);
            println!(
                "{scene:>33}, {mode:>14} mode: {:5.1} ms (median) and {:5} KiB per picture after the first; luma PSNR mean {mean:.1} dB, worst {worst:.1}",
                encoding[encoding.len() / 2].as_secs_f64() * 1000.0,
                bytes / 1024 / (order.len() - 1),
            );
        }
    }
}

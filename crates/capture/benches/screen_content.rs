//! `cargo bench -p vigil-capture --bench screen_content`: why screens use openh264's
//! screen-content mode (with Vigil's patch, vendor/openh264-sys2/VIGIL.md). A page of text
//! (ImageMagick, DejaVu Sans at 14 px: a document or an exam's questions) is shown still,
//! scrolled a little and a lot at one frame a second, and encoded at the screens' settings in the
//! screen-content and in the camera mode; prints each mode's bytes, time, and how close the
//! decoded pictures stay to the page (PSNR of the luma, per frame).
//! Prints figures; asserts nothing.

use openh264::decoder::Decoder;
use openh264::encoder::{Encoder, UsageType};
use openh264::formats::{RgbSliceU8, YUVBuffer, YUVSource};
use openh264::OpenH264API;
use std::process::Command;
use std::time::Instant;
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

fn main() {
    let page = page();
    // Where the page's top is, one frame a second: reading, a line or two, a paragraph, a jump.
    let scroll = [0usize, 0, 0, 42, 42, 300, 300, 310, 700, 700, 700, 1000, 1400, 1400, 1900];
    for (name, usage) in
        [("screen content", UsageType::ScreenContentRealTime), ("camera", UsageType::CameraVideoRealTime)]
    {
        let config = encoder_config(Content::Screen, WIDTH as u32, HEIGHT as u32, 1.0).usage_type(usage);
        let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config).expect("encoder");
        let mut decoder = Decoder::new().expect("decoder");
        let (mut bytes, mut quality, started) = (0usize, Vec::new(), Instant::now());
        for top in scroll {
            let rgb = &page[top * WIDTH * 3..(top + HEIGHT) * WIDTH * 3];
            let source = YUVBuffer::from_rgb_source(RgbSliceU8::new(rgb, (WIDTH, HEIGHT)));
            let stream = encoder.encode(&source).expect("encode").to_vec();
            bytes += stream.len();
            let decoded = decoder.decode(&stream).expect("decode").expect("a picture");
            quality.push(psnr(&decoded, &source));
        }
        let list: Vec<String> = quality.iter().map(|p| format!("{p:.1}")).collect();
        let worst = quality.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "{name:>14} mode: {} KiB for {} frames, {:.0} ms; luma PSNR worst {worst:.1} dB, per frame [{}]",
            bytes / 1024,
            scroll.len(),
            started.elapsed().as_secs_f64() * 1000.0,
            list.join(" ")
        );
    }
}

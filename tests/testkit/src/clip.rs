//! Labelled camera clips for the analysis: scenes cut from public-domain and CC0 photographs (the
//! 1927 Solvay conference, as the rustface package ships it, less the red boxes rustface drew on
//! its faces; scikit-image's "cameraman", the one turned head, its astronaut and its cat; see
//! `tests/analysis/README.md`) with ImageMagick, joined by ffmpeg into raw 640x480 video
//! (YUV4MPEG2) at 5 pictures a second. The clips are made by the tests, never committed.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the camera shows for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    /// One face, filling about a third of the picture.
    Face,
    /// Two faces side by side (and parts of others).
    TwoFaces,
    /// Clothes and floor: no face.
    NoFace,
    /// A covered camera.
    Black,
    /// One head turned about 50 degrees to the picture's right (the cameraman).
    TurnedHead,
    /// The same, mirrored: turned to the left.
    TurnedHeadLeft,
    /// The one face in a dim room (its light at 30 %).
    DarkFace,
    /// The one face, dimmed, against a bright background (a window behind the candidate).
    BacklitFace,
    /// The one face far from the camera: about 20 pixels wide in the analysed 320x240 picture,
    /// on a plain wall.
    SmallFace,
    /// Another candidate: a woman's face in colour (the astronaut), a third of the picture wide.
    OtherFace,
    /// The astronaut, and over her shoulder a second person about half her face's size.
    SecondFaceBehind,
    /// The one face, and a cat's head in the corner of the picture.
    FaceAndCat,
    /// A cat filling the picture, and no one.
    Cat,
    /// The one face bowed by this many degrees (looking down: at a phone or notes in the lap;
    /// negative: raised, looking up), rendered from the frontal photograph (see [`bow_head`]).
    BowedFace(i8),
    /// The other candidate (the astronaut) bowed by this many degrees, rendered the same way.
    BowedOtherFace(i8),
    /// One of the 29 people of the Solvay photograph (numbered as in [`PEOPLE`]) alone, close to
    /// the camera: the face about 45% of the picture wide, head and neck on a plain grey wall.
    Person(u8),
    /// The first person, and the second one (both numbered as in [`PEOPLE`]) over their
    /// shoulder, smaller: someone behind the candidate.
    PersonAndAnother(u8, u8),
}

/// The 29 faces of the Solvay photograph: the boxes rustface drew on them (left, top, side;
/// pixels of `solvay-1927.png`), back row to front row, left to right.
pub const PEOPLE: [(u32, u32, u32); 29] = [
    (238, 40, 56),
    (1373, 41, 49),
    (376, 84, 47),
    (613, 97, 52),
    (902, 96, 45),
    (1015, 107, 51),
    (1135, 95, 53),
    (1283, 98, 44),
    (1434, 92, 59),
    (463, 125, 53),
    (761, 120, 57),
    (46, 194, 58),
    (210, 210, 55),
    (379, 194, 58),
    (566, 198, 58),
    (766, 190, 57),
    (921, 189, 54),
    (1082, 200, 54),
    (1259, 207, 62),
    (1436, 219, 44),
    (107, 253, 55),
    (283, 258, 62),
    (463, 259, 55),
    (662, 267, 55),
    (865, 250, 62),
    (1042, 249, 63),
    (1164, 252, 57),
    (1359, 260, 53),
    (1489, 280, 53),
];

/// The one person of [`PEOPLE`] who does not face the camera: turned about 40 degrees to the
/// picture's left (a three-quarter view).
pub const TURNED_AWAY: u8 = 6;

/// A second photograph laid over a scene: its part (ImageMagick geometry, or all of it), its
/// size in the 640x480 picture and where it goes.
struct Overlay {
    file: &'static str,
    crop: Option<&'static str>,
    size: &'static str,
    at: &'static str,
}

impl Scene {
    /// The photograph, the part of it (ImageMagick geometry) and what is done to it once resized
    /// to 640x480 (ImageMagick options), or none for black.
    fn crop(self) -> Option<(&'static str, &'static str, &'static [&'static str])> {
        match self {
            Scene::Face => Some((SOLVAY, FACE, &[])),
            Scene::TwoFaces => Some((SOLVAY, "320x240+830+180", &[])),
            Scene::NoFace => Some((SOLVAY, "320x240+600+820", &[])),
            Scene::Black => None,
            Scene::TurnedHead => Some(("cameraman.png", "240x180+100+40", &[])),
            Scene::TurnedHeadLeft => Some(("cameraman.png", "240x180+100+40", &["-flop"])),
            Scene::DarkFace => Some((SOLVAY, FACE, &["-evaluate", "multiply", "0.3"])),
            Scene::BacklitFace => Some((
                SOLVAY,
                FACE,
                &[
                    "-evaluate",
                    "multiply",
                    "0.45",
                    "(",
                    "-size",
                    "640x480",
                    "radial-gradient:black-white",
                    "-level",
                    "45%,90%",
                    ")",
                    "-compose",
                    "screen",
                    "-composite",
                ],
            )),
            Scene::SmallFace => Some((
                SOLVAY,
                FACE,
                &["-resize", "128x96!", "-background", "gray45", "-gravity", "center", "-extent", "640x480"],
            )),
            Scene::OtherFace | Scene::SecondFaceBehind | Scene::BowedOtherFace(_) => {
                Some((ASTRONAUT, "320x240+60+10", &[]))
            }
            Scene::FaceAndCat => Some((SOLVAY, FACE, &[])),
            Scene::Cat => Some((CAT, "400x300+20+0", &[])),
            Scene::BowedFace(_) => Some((SOLVAY, FACE, &[])),
            // Drawn by `person`.
            Scene::Person(_) | Scene::PersonAndAnother(..) => None,
        }
    }

    /// What is laid over the scene's photograph, if anything.
    fn overlay(self) -> Option<Overlay> {
        match self {
            Scene::SecondFaceBehind => {
                Some(Overlay { file: SOLVAY, crop: Some(FACE), size: "200x150!", at: "+420+20" })
            }
            Scene::FaceAndCat => Some(Overlay { file: CAT, crop: None, size: "300x200!", at: "+340+280" }),
            _ => None,
        }
    }
}

const SOLVAY: &str = "solvay-1927.png";
/// The one face of the Solvay photograph the face scenes are made of.
const FACE: &str = "128x96+831+245";
const ASTRONAUT: &str = "astronaut.png";
const CAT: &str = "chelsea.png";

/// The photograph `file` of `tests/analysis`; the Solvay one without rustface's red boxes (made
/// once in `dir`).
fn photo(dir: &Path, file: &str) -> Result<PathBuf> {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../analysis").join(file);
    if file != SOLVAY {
        return Ok(committed);
    }
    let clean = dir.join("solvay-1927-unboxed.png");
    if !clean.exists() {
        let (w, h, mut rgb) = read_rgb(&committed)?;
        remove_red_lines(&mut rgb, w, h);
        write_rgb(&rgb, w, h, &clean)?;
    }
    Ok(clean)
}

/// The picture at `png` as 8-bit RGB: width, height and pixels.
fn read_rgb(png: &Path) -> Result<(usize, usize, Vec<u8>)> {
    let out = Command::new("identify").args(["-format", "%w %h"]).arg(png).output().context("identify")?;
    let size = String::from_utf8_lossy(&out.stdout);
    let mut size = size.split(' ').filter_map(|n| n.trim().parse::<usize>().ok());
    let (Some(w), Some(h)) = (size.next(), size.next()) else { bail!("identify {}: no size", png.display()) };
    let out = Command::new("convert").arg(png).args(["-depth", "8", "rgb:-"]).output().context("convert")?;
    if out.stdout.len() != w * h * 3 {
        bail!("convert {}: {}", png.display(), String::from_utf8_lossy(&out.stderr));
    }
    Ok((w, h, out.stdout))
}

fn write_rgb(rgb: &[u8], w: usize, h: usize, png: &Path) -> Result<()> {
    let mut convert = Command::new("convert")
        .args(["-size", &format!("{w}x{h}"), "-depth", "8", "rgb:-"])
        .arg(png)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("convert")?;
    use std::io::Write;
    convert.stdin.take().context("convert's input")?.write_all(rgb)?;
    if !convert.wait()?.success() {
        bail!("convert could not write {}", png.display());
    }
    Ok(())
}

/// Paints over the pure red lines (one pixel wide) rustface drew around the faces of a grey
/// photograph, each pixel with the mean of its neighbours that are not red.
fn remove_red_lines(rgb: &mut [u8], w: usize, h: usize) {
    let is_red = |p: &[u8]| p == [255, 0, 0];
    loop {
        let mut left = false;
        for y in 0..h {
            for x in 0..w {
                let at = (y * w + x) * 3;
                if !is_red(&rgb[at..at + 3]) {
                    continue;
                }
                let (mut sum, mut n) = (0u32, 0u32);
                for (nx, ny) in (y.saturating_sub(1)..(y + 2).min(h))
                    .flat_map(|ny| (x.saturating_sub(1)..(x + 2).min(w)).map(move |nx| (nx, ny)))
                {
                    let p = &rgb[(ny * w + nx) * 3..(ny * w + nx) * 3 + 3];
                    if !is_red(p) {
                        sum += u32::from(p[1]);
                        n += 1;
                    }
                }
                if n == 0 {
                    left = true;
                    continue;
                }
                let grey = (sum / n) as u8;
                rgb[at..at + 3].copy_from_slice(&[grey, grey, grey]);
            }
        }
        if !left {
            return;
        }
    }
}

/// Draws person `first` of [`PEOPLE`] at `picture` (640x480), and person `behind` over their
/// shoulder when given: each cut from the photograph around their face (2.2 times as wide, with
/// the hair and the neck) and laid on a plain grey wall within a soft ellipse, so that no
/// neighbour of the photograph shows.
fn person(dir: &Path, first: u8, behind: Option<u8>, picture: &Path) -> Result<()> {
    let solvay = photo(dir, SOLVAY)?;
    let cut = |who: u8, size: (u32, u32)| -> Result<Vec<String>> {
        let Some(&(x, y, side)) = PEOPLE.get(usize::from(who)) else { bail!("no person {who} in the photograph") };
        let (cw, ch) = (side * 22 / 10, side * 165 / 100);
        let (cx, cy) = ((x + side / 2).saturating_sub(cw / 2), (y + side / 2 + side / 20).saturating_sub(ch / 2));
        let (w, h) = size;
        // The face's box, in the cut resized to `size`: centred, 1/2.2 of the width.
        let ellipse = format!("ellipse {},{} {},{} 0,360", w / 2, h * 45 / 100, w * 36 / 100, h * 63 / 100);
        Ok([
            "(",
            &solvay.to_string_lossy(),
            "-crop",
            &format!("{cw}x{ch}+{cx}+{cy}"),
            "+repage",
            "-resize",
            &format!("{w}x{h}!"),
            "(",
            "-size",
            &format!("{w}x{h}"),
            "xc:black",
            "-fill",
            "white",
            "-draw",
            &ellipse,
            "-blur",
            &format!("0x{}", w / 32),
            ")",
            "-alpha",
            "off",
            "-compose",
            "CopyOpacity",
            "-composite",
            ")",
        ]
        .map(String::from)
        .to_vec())
    };
    let mut convert = Command::new("convert");
    convert.args(["-size", "640x480", "xc:gray45"]).args(cut(first, (640, 480))?);
    convert.args(["-compose", "over", "-composite"]);
    if let Some(second) = behind {
        convert.args(cut(second, (240, 180))?).args(["-geometry", "+400+0", "-compose", "over", "-composite"]);
    }
    run(convert.arg(picture), "convert")
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("{what} (scripts/install-deps installs imagemagick and ffmpeg)"))?;
    if !out.status.success() {
        bail!("{what}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// A clip of `scenes` (each shown for its seconds) written to `dir/name.y4m`, with a real
/// camera's sensor noise (every picture differs), or `still` without it (a frozen camera).
pub fn camera_clip(dir: &Path, name: &str, scenes: &[(Scene, u32)], still: bool) -> Result<PathBuf> {
    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg.args(["-v", "error", "-y"]);
    for (i, (scene, seconds)) in scenes.iter().enumerate() {
        let picture = dir.join(format!("{name}-{i}.png"));
        match *scene {
            Scene::Person(who) => person(dir, who, None, &picture)?,
            Scene::PersonAndAnother(who, behind) => person(dir, who, Some(behind), &picture)?,
            _ => photographed(dir, *scene, &picture)?,
        }
        ffmpeg.args(["-loop", "1", "-framerate", "5", "-t", &seconds.to_string(), "-i"]).arg(&picture);
    }
    let inputs: String = (0..scenes.len()).map(|i| format!("[{i}:v]")).collect();
    let noise = if still { "" } else { ",noise=alls=6:allf=t" };
    let filter = format!("{inputs}concat=n={}:v=1:a=0{noise},format=yuv420p[v]", scenes.len());
    let out = dir.join(format!("{name}.y4m"));
    ffmpeg.args(["-filter_complex", &filter, "-map", "[v]", "-r", "5", "-f", "yuv4mpegpipe"]).arg(&out);
    run(&mut ffmpeg, "ffmpeg")?;
    Ok(out)
}

/// Draws `scene` (one of a photograph's parts, with what is laid over it, or black) at `picture`.
fn photographed(dir: &Path, scene: Scene, picture: &Path) -> Result<()> {
    let mut convert = Command::new("convert");
    match scene.crop() {
        Some((file, crop, then)) => {
            convert.arg(photo(dir, file)?).args(["-crop", crop, "+repage", "-resize", "640x480!"]).args(then)
        }
        None => convert.args(["-size", "640x480", "xc:black"]),
    };
    if let Some(o) = scene.overlay() {
        convert.arg("(").arg(photo(dir, o.file)?);
        if let Some(crop) = o.crop {
            convert.args(["-crop", crop, "+repage"]);
        }
        convert.args(["-resize", o.size, ")", "-geometry", o.at, "-composite"]);
    }
    run(convert.arg(picture), "convert")?;
    match scene {
        Scene::BowedFace(degrees) => bow_head(picture, &SOLVAY_HEAD, f32::from(degrees)),
        Scene::BowedOtherFace(degrees) => bow_head(picture, &ASTRONAUT_HEAD, f32::from(degrees)),
        _ => Ok(()),
    }
}

/// A head in a 640x480 face scene, read off the picture: an ellipsoid centred at `centre`, with
/// half-axes `radii` (wide, high, deep; pixels), and a nose standing `nose_height` out of it
/// around `nose` (`nose_spread`: its half-width and half-length); `fill` is the colour around
/// the head, where a bowed head no longer covers the photograph.
struct HeadShape {
    centre: (f32, f32),
    radii: (f32, f32, f32),
    nose: (f32, f32),
    nose_spread: (f32, f32),
    nose_height: f32,
    fill: [u8; 3],
}

/// The Solvay face (`Scene::Face`): eyes at y 135, 110 pixels apart, the nose tip at (340, 215),
/// the mouth at y 275; a dark suit and background around.
const SOLVAY_HEAD: HeadShape = HeadShape {
    centre: (325.0, 185.0),
    radii: (140.0, 170.0, 130.0),
    nose: (338.0, 190.0),
    nose_spread: (18.0, 35.0),
    nose_height: 40.0,
    fill: [60, 60, 60],
};

/// The astronaut (`Scene::OtherFace`): eyes at y 185, 93 pixels apart, the nose tip at (330,
/// 240), the mouth at y 272; a light wall around.
const ASTRONAUT_HEAD: HeadShape = HeadShape {
    centre: (332.0, 185.0),
    radii: (145.0, 175.0, 135.0),
    nose: (330.0, 220.0),
    nose_spread: (15.0, 30.0),
    nose_height: 35.0,
    fill: [200, 190, 185],
};

impl HeadShape {
    /// How far in front of the head's centre the face is at (`x`, `y`), if inside the head.
    fn depth(&self, x: f32, y: f32) -> Option<f32> {
        let (rx, ry, rz) = self.radii;
        let inside = 1.0 - ((x - self.centre.0) / rx).powi(2) - ((y - self.centre.1) / ry).powi(2);
        if inside <= 0.0 {
            return None;
        }
        let (nx, ny) = ((x - self.nose.0) / self.nose_spread.0, (y - self.nose.1) / self.nose_spread.1);
        Some(rz * inside.sqrt() + self.nose_height * (-(nx * nx + ny * ny) / 2.0).exp())
    }
}

/// Turns the head `shape` of the frontal face picture at `png` (640x480) down by `degrees` (up
/// when negative) about its centre, as a camera looking at it would see it: each point of the
/// head (its ellipsoid and nose) is rotated and drawn nearest first; what the head no longer
/// covers takes the colour around it. Rendered geometry, not a photographed pose: the labels of
/// bowed and raised head clips are this rotation's angles (a raised head shows no chin from
/// below, which a photograph would).
fn bow_head(png: &Path, shape: &HeadShape, degrees: f32) -> Result<()> {
    let (w, h, source) = read_rgb(png)?;
    if (w, h) != (640, 480) {
        bail!("{}: not a 640x480 picture", png.display());
    }
    let (sin, cos) = degrees.to_radians().sin_cos();
    let mut picture = source.clone();
    for (i, pixel) in picture.chunks_exact_mut(3).enumerate() {
        if shape.depth((i % w) as f32, (i / w) as f32).is_some() {
            pixel.copy_from_slice(&shape.fill);
        }
    }
    let mut nearest = vec![f32::NEG_INFINITY; w * h];
    // Forward: each source pixel, split in four rows so that stretched parts leave no gaps.
    for y4 in 0..h * 4 {
        let y = y4 as f32 / 4.0;
        for x in 0..w {
            let Some(z) = shape.depth(x as f32, y) else { continue };
            let turned_y = shape.centre.1 + (y - shape.centre.1) * cos + z * sin;
            let turned_z = z * cos - (y - shape.centre.1) * sin;
            let ty = turned_y.round();
            if ty < 0.0 || ty >= h as f32 {
                continue;
            }
            let at = ty as usize * w + x;
            if turned_z > nearest[at] {
                nearest[at] = turned_z;
                let from = (y4 / 4 * w + x) * 3;
                picture[at * 3..at * 3 + 3].copy_from_slice(&source[from..from + 3]);
            }
        }
    }
    write_rgb(&picture, w, h, png)
}

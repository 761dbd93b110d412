//! Labelled camera clips for the analysis: scenes cut from public-domain and CC0 photographs (the
//! 1927 Solvay conference, as the rustface package ships it; scikit-image's "cameraman", the one
//! turned head, its astronaut and its cat; see `tests/analysis/README.md`) with ImageMagick, joined
//! by ffmpeg into raw 640x480 video (YUV4MPEG2) at 5 pictures a second. The clips are made by the
//! tests, never committed.

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
}

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

fn photo(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../analysis").join(file)
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
        let mut convert = Command::new("convert");
        match scene.crop() {
            Some((file, crop, then)) => {
                convert.arg(photo(file)).args(["-crop", crop, "+repage", "-resize", "640x480!"]).args(then)
            }
            None => convert.args(["-size", "640x480", "xc:black"]),
        };
        if let Some(o) = scene.overlay() {
            convert.arg("(").arg(photo(o.file));
            if let Some(crop) = o.crop {
                convert.args(["-crop", crop, "+repage"]);
            }
            convert.args(["-resize", o.size, ")", "-geometry", o.at, "-composite"]);
        }
        run(convert.arg(&picture), "convert")?;
        match scene {
            Scene::BowedFace(degrees) => bow_head(&picture, &SOLVAY_HEAD, f32::from(*degrees))?,
            Scene::BowedOtherFace(degrees) => bow_head(&picture, &ASTRONAUT_HEAD, f32::from(*degrees))?,
            _ => {}
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
    let (w, h) = (640usize, 480usize);
    let out = Command::new("convert").arg(png).args(["-depth", "8", "rgb:-"]).output().context("convert")?;
    if out.stdout.len() != w * h * 3 {
        bail!("convert {}: not a 640x480 picture: {}", png.display(), String::from_utf8_lossy(&out.stderr));
    }
    let source = out.stdout;
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
    let mut convert = Command::new("convert")
        .args(["-size", "640x480", "-depth", "8", "rgb:-"])
        .arg(png)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("convert")?;
    use std::io::Write;
    convert.stdin.take().context("convert's input")?.write_all(&picture)?;
    if !convert.wait()?.success() {
        bail!("convert could not write {}", png.display());
    }
    Ok(())
}

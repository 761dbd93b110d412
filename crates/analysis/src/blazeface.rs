//! MediaPipe's BlazeFace face detectors, as NNEF run by tract (pure Rust, no download): a square
//! picture in, for each of 896 anchors a score and a box with six key points (the eyes, the nose
//! tip, the mouth, the ear tragions) out. Vigil ships two of them (see `crates/analysis/models`):
//! the front-camera model (128x128), for the candidate's face near the camera, and the
//! back-camera one (256x256), which also finds faces of about 20 pixels.
//!
//! The key points tell which way a head is turned: turning it moves the nose tip off the point
//! between the eyes. Its offset along the line through the eyes, against the eyes' distance, is
//! `p / d * tan(yaw)` for a nose tip standing `p` in front of eyes `d` apart; taking `p / d` as
//! one half (an adult's typical proportions), the yaw is `atan(2 * offset / distance)`: under 5
//! degrees on a frontal face, about 50 on the CC0 "cameraman" photograph's profile. Bowing the
//! head moves the nose tip towards the mouth; where it sits between the eyes' line and the mouth
//! gives the pitch, against where it sits on that face looking at the camera ([`pitch_degrees`]).

use crate::vision::{verified_model, Grey, ModelError};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tract_nnef::prelude::*;

/// A face and which way it is turned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Head {
    /// The detector's confidence, 0-1.
    pub score: f32,
    /// Degrees from facing the camera, left or right (positive: the nose points to the
    /// picture's right).
    pub yaw_degrees: f32,
    /// Where the nose tip sits between the eyes' line (0) and the mouth (1); it grows as the
    /// head bows (see [`pitch_degrees`]).
    pub nose_place: f32,
    /// The face's box in the picture's pixels: left, top, right, bottom.
    pub area: [f32; 4],
    /// Its eyes in the picture's pixels, the one further left in the picture first.
    pub eyes: [(f32, f32); 2],
}

/// Why a picture could not be searched for faces (its face flags then skip it: no answer is not
/// "no face").
#[derive(Debug, Clone, thiserror::Error)]
pub enum DetectError {
    #[error("a {width}x{height} picture is too small to look for faces in")]
    TooSmall { width: u32, height: u32 },
    #[error("the face model failed on a picture: {0}")]
    Model(String),
}

impl DetectError {
    /// `analysis.picture_too_small`, `analysis.detect_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            DetectError::TooSmall { .. } => "analysis.picture_too_small",
            DetectError::Model(_) => "analysis.detect_failed",
        }
    }
}

/// Faces that overlap more than this (intersection over union) are one face.
const SAME_FACE_OVERLAP: f32 = 0.3;

/// One BlazeFace model, ready to run.
pub(crate) struct BlazeFace {
    plan: Arc<TypedRunnableModel>,
    /// The side of its square input, in pixels.
    size: usize,
    /// Each anchor's centre (0-1), in the model's output order.
    anchors: Vec<(f32, f32)>,
}

impl BlazeFace {
    /// Loads the model `file` in `dir` (input `size` x `size`), checking its SHA-256 first.
    pub(crate) fn load(dir: &Path, file: &str, sha256: &'static str, size: usize) -> Result<BlazeFace, ModelError> {
        let plan = runnable(dir, file, sha256)?;
        // SSD anchors of both models: 2 per cell of a 16x16 grid, then 6 per cell of an 8x8 one;
        // the outputs come in the same two groups.
        let mut anchors = Vec::with_capacity(896);
        for (cells, per_cell) in [(16usize, 2usize), (8, 6)] {
            for y in 0..cells {
                for x in 0..cells {
                    let centre = ((x as f32 + 0.5) / cells as f32, (y as f32 + 0.5) / cells as f32);
                    anchors.extend(std::iter::repeat_n(centre, per_cell));
                }
            }
        }
        Ok(BlazeFace { plan, size, anchors })
    }

    /// Every face at least `min_score` likely in a grey picture, most likely first; overlapping
    /// answers for one face count once.
    pub(crate) fn faces(&self, grey: &Grey, min_score: f32) -> Result<Vec<Head>, DetectError> {
        let input =
            letterbox(grey, self.size).ok_or(DetectError::TooSmall { width: grey.width, height: grey.height })?;
        let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(|e| DetectError::Model(e.to_string()))?;
        // Scores of the 16x16 anchors, then the 8x8 ones; boxes and key points likewise.
        let view =
            |i: usize| outputs.get(i)?.to_plain_array_view::<f32>().ok().map(|a| a.iter().copied().collect::<Vec<_>>());
        let unexpected = || DetectError::Model("its outputs are not BlazeFace's".into());
        let (Some(s0), Some(s1), Some(b0), Some(b1)) = (view(0), view(1), view(2), view(3)) else {
            return Err(unexpected());
        };
        let (scores, boxes) = ([s0, s1].concat(), [b0, b1].concat());
        if scores.len() != self.anchors.len() || boxes.len() != self.anchors.len() * 16 {
            return Err(unexpected());
        }
        let mut likely: Vec<(f32, usize)> = scores
            .iter()
            .enumerate()
            .map(|(i, raw)| (1.0 / (1.0 + (-raw.clamp(-80.0, 80.0)).exp()), i))
            .filter(|(score, _)| *score >= min_score)
            .collect();
        likely.sort_by(|a, b| b.0.total_cmp(&a.0));
        let size = self.size as f32;
        // From the model's square (0-1) back to the picture's pixels (see `letterbox`).
        let (width, height) = (grey.width as f32, grey.height as f32);
        let scale = size / width.max(height);
        let (x0, y0) = ((size - (width * scale).floor()) / 2.0, (size - (height * scale).floor()) / 2.0);
        let pixel = |(x, y): (f32, f32)| ((x * size - x0.floor()) / scale, (y * size - y0.floor()) / scale);
        let mut kept: Vec<(Head, [f32; 4])> = Vec::new();
        for (score, i) in likely {
            let (ax, ay) = self.anchors[i];
            let r = &boxes[i * 16..i * 16 + 16];
            let (cx, cy, w, h) = (ax + r[0] / size, ay + r[1] / size, r[2] / size, r[3] / size);
            let area = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
            if kept.iter().any(|(_, other)| overlap(&area, other) > SAME_FACE_OVERLAP) {
                continue;
            }
            let point = |k: usize| (ax + r[4 + 2 * k] / size, ay + r[5 + 2 * k] / size);
            let (eyes, nose, mouth) = ((point(0), point(1)), point(2), point(3));
            let ((left, top), (right, bottom)) = (pixel((area[0], area[1])), pixel((area[2], area[3])));
            let (eye_a, eye_b) = (pixel(eyes.0), pixel(eyes.1));
            let head = Head {
                score,
                yaw_degrees: yaw_degrees(eyes.0, eyes.1, nose),
                nose_place: nose_place(eyes.0, eyes.1, nose, mouth),
                area: [left, top, right, bottom],
                eyes: if eye_a.0 <= eye_b.0 { [eye_a, eye_b] } else { [eye_b, eye_a] },
            };
            kept.push((head, area));
        }
        Ok(kept.into_iter().map(|(head, _)| head).collect())
    }
}

/// The NNEF model `file` in `dir`, its SHA-256 checked first, ready to run. The archive holds the
/// typed model, decluttered (by scripts/onnx-to-nnef), its input already 1 x size x size x 1
/// (grey): only tract's code generation is left to do.
pub(crate) fn runnable(dir: &Path, file: &str, sha256: &'static str) -> Result<Arc<TypedRunnableModel>, ModelError> {
    let path = dir.join(file);
    let bytes = verified_model(&path, sha256)?;
    let unreadable = |e: TractError| ModelError::Unreadable { path: path.clone(), message: e.to_string() };
    nnef()
        .model_for_read(&mut &bytes[..])
        .and_then(|mut m| m.optimize().map(|()| m))
        .and_then(|m| m.into_runnable())
        .map_err(unreadable)
}

/// tract's NNEF reader, made once for every model (making one parses NNEF's library of fragments).
fn nnef() -> &'static tract_nnef::framework::Nnef {
    static NNEF: OnceLock<tract_nnef::framework::Nnef> = OnceLock::new();
    NNEF.get_or_init(tract_nnef::nnef)
}

/// Intersection over union of two boxes (left, top, right, bottom).
fn overlap(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let both = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - both;
    if union > 0.0 {
        both / union
    } else {
        0.0
    }
}

/// The yaw from the two eyes and the nose tip (any order of eyes, any roll of the head).
fn yaw_degrees(eye_a: (f32, f32), eye_b: (f32, f32), nose: (f32, f32)) -> f32 {
    let (ex, ey) = (eye_b.0 - eye_a.0, eye_b.1 - eye_a.1);
    let distance = (ex * ex + ey * ey).sqrt().max(1e-6);
    let mid = ((eye_a.0 + eye_b.0) / 2.0, (eye_a.1 + eye_b.1) / 2.0);
    // The nose's offset along the line through the eyes, from left to right in the picture.
    let sign = if ex < 0.0 { -1.0 } else { 1.0 };
    let offset = sign * ((nose.0 - mid.0) * ex + (nose.1 - mid.1) * ey) / distance;
    (2.0 * offset / distance).atan().to_degrees()
}

/// Where the nose tip sits between the eyes' line and the mouth on a face looking straight at
/// the camera, for a face not seen before: the far detector's key points on the test
/// photographs' frontal faces (the Solvay photograph's and the astronaut's) read 0.47-0.60.
pub const FRONTAL_NOSE_PLACE: f32 = 0.55;
/// How far the nose tip moves along that line per unit of `tan(pitch)`. The face's geometry
/// would say about 0.3-0.4 (the nose tip's depth in front of the eyes, less the mouth's, against
/// the eyes-to-mouth height); the far detector's key points move about half as far (they stay
/// near an average face's): fitted on two test faces rendered bowed by 0-50 degrees.
const NOSE_PLACE_PER_TAN: f32 = 0.2;

/// The pitch of a head whose nose tip sits at `place` (see [`Head::nose_place`]), against where
/// it sits when that head faces the camera (`frontal`): degrees, positive when bowed.
pub fn pitch_degrees(place: f32, frontal: f32) -> f32 {
    ((place - frontal) / NOSE_PLACE_PER_TAN).atan().to_degrees()
}

/// Where the nose tip sits between the eyes' line (0) and the mouth (1), whatever the roll of
/// the head and the order of the eyes: bowing the head moves the nose tip, which stands in front
/// of the face, towards the mouth; raising it, towards the eyes.
fn nose_place(eye_a: (f32, f32), eye_b: (f32, f32), nose: (f32, f32), mouth: (f32, f32)) -> f32 {
    let (ex, ey) = (eye_b.0 - eye_a.0, eye_b.1 - eye_a.1);
    let mid = ((eye_a.0 + eye_b.0) / 2.0, (eye_a.1 + eye_b.1) / 2.0);
    // Distances from the eyes' line, across it (the sign cancels out in the ratio).
    let across = |p: (f32, f32)| (p.1 - mid.1) * ex - (p.0 - mid.0) * ey;
    let mouth_across = across(mouth);
    if mouth_across.abs() < 1e-9 {
        return FRONTAL_NOSE_PLACE;
    }
    across(nose) / mouth_across
}

/// The picture, centred on a black `size` x `size` square at the model's scale (-1 to 1, one grey
/// channel); None for a picture too small to hold a face.
fn letterbox(grey: &Grey, size: usize) -> Option<Tensor> {
    let (w, h) = (grey.width as usize, grey.height as usize);
    if w < 24 || h < 24 || grey.pixels.len() < w * h {
        return None;
    }
    let scale = size as f32 / w.max(h) as f32;
    let (sw, sh) = (((w as f32 * scale) as usize).min(size), ((h as f32 * scale) as usize).min(size));
    let (x0, y0) = ((size - sw) / 2, (size - sh) / 2);
    let mut data = vec![-1.0f32; size * size];
    for y in 0..sh {
        let source = &grey.pixels[((y as f32 / scale) as usize).min(h - 1) * w..];
        let row = &mut data[(y0 + y) * size + x0..][..sw];
        for (x, value) in row.iter_mut().enumerate() {
            *value = f32::from(source[((x as f32 / scale) as usize).min(w - 1)]) / 127.5 - 1.0;
        }
    }
    tract_ndarray::Array4::from_shape_vec((1, size, size, 1), data).ok().map(Tensor::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaw_from_the_nose_between_the_eyes_whatever_the_roll() {
        // Frontal: the nose under the point between the eyes.
        assert!(yaw_degrees((0.4, 0.4), (0.6, 0.4), (0.5, 0.5)).abs() < 0.01);
        // The nose a quarter of the eyes' distance to the right: atan(0.5), 26.6 degrees.
        assert!((yaw_degrees((0.4, 0.4), (0.6, 0.4), (0.55, 0.5)) - 26.57).abs() < 0.1);
        // The eyes given the other way round: the same.
        assert!((yaw_degrees((0.6, 0.4), (0.4, 0.4), (0.55, 0.5)) - 26.57).abs() < 0.1);
        // The same face rolled by 90 degrees (the eyes one above the other): the same yaw.
        assert!((yaw_degrees((0.4, 0.4), (0.4, 0.6), (0.3, 0.55)) - 26.57).abs() < 0.1);
    }

    #[test]
    fn pitch_from_the_nose_between_the_eyes_and_the_mouth_whatever_the_roll() {
        // Eyes at y 0.4, the mouth at 0.6, the nose tip 0.12 below the eyes: 0.6 of the way.
        let place = nose_place((0.4, 0.4), (0.6, 0.4), (0.5, 0.52), (0.5, 0.6));
        assert!((place - 0.6).abs() < 1e-5);
        // The eyes the other way round, or the face rolled by 90 degrees: the same place.
        assert!((nose_place((0.6, 0.4), (0.4, 0.4), (0.5, 0.52), (0.5, 0.6)) - 0.6).abs() < 1e-5);
        assert!((nose_place((0.6, 0.4), (0.6, 0.6), (0.48, 0.5), (0.4, 0.5)) - 0.6).abs() < 1e-5);
        // At the frontal place: 0; tan(30 degrees) of the scale further: bowed by 30; nearer the
        // eyes by half the scale: raised by atan(0.5).
        assert!(pitch_degrees(0.6, 0.6).abs() < 1e-5);
        assert!((pitch_degrees(0.6 + NOSE_PLACE_PER_TAN * 30f32.to_radians().tan(), 0.6) - 30.0).abs() < 0.01);
        assert!((pitch_degrees(0.6 - NOSE_PLACE_PER_TAN * 0.5, 0.6) + 26.57).abs() < 0.01);
    }

    #[test]
    fn boxes_that_overlap_are_one_face_and_apart_are_two() {
        let a = [0.1, 0.1, 0.3, 0.3];
        assert!((overlap(&a, &a) - 1.0).abs() < 1e-6);
        // Shifted by a quarter of its width: 0.75 / 1.25 of the area shared.
        assert!((overlap(&a, &[0.15, 0.1, 0.35, 0.3]) - 0.6).abs() < 1e-4);
        assert_eq!(overlap(&a, &[0.5, 0.5, 0.7, 0.7]), 0.0);
    }
}

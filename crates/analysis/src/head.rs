//! Which way a head is turned. MediaPipe's BlazeFace (its back-camera model: 256x256 pictures,
//! faces from about 20 pixels, turned ones too) finds the most likely face with six key points:
//! the eyes, the nose tip, the mouth and the ear tragions. Turning the head moves the nose tip
//! off the point between the eyes: its offset along the line through the eyes, against the eyes'
//! distance, is `p / d * tan(yaw)` for a nose tip standing `p` in front of eyes `d` apart. Taking
//! `p / d` as one half (an adult's typical proportions), the yaw is `atan(2 * offset / distance)`:
//! under 5 degrees on a frontal face, about 50 on the CC0 "cameraman" photograph's profile.
//!
//! It runs with tract (pure Rust, no download) where the frontal face detector found one face or
//! none: SeetaFace still finds many heads turned by 60 degrees, and loses others, which BlazeFace
//! then tells apart from an empty chair.

use crate::vision::{verified_model, Grey, ModelError};
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::*;

/// The model's file name and SHA-256 (see `crates/analysis/models/LICENSE`).
pub const HEAD_MODEL: &str = "blazeface_back_256.onnx";
pub const HEAD_MODEL_SHA256: &str = "e04b47765c4c02d54130c1f7c4f5926126c9d118276c3454797d8b406efbe902";

/// The model's square input, in pixels.
const SIZE: usize = 256;
/// A face less likely than this is not a face.
const MIN_SCORE: f32 = 0.7;

/// A head and which way it is turned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Head {
    /// The detector's confidence, 0-1.
    pub score: f32,
    /// Degrees from facing the camera, left or right (positive: the nose points to the
    /// picture's right).
    pub yaw_degrees: f32,
}

/// BlazeFace, ready to run.
pub struct HeadDetector {
    plan: Arc<TypedRunnableModel>,
    /// Each anchor's centre (0-1), in the model's output order.
    anchors: Vec<(f32, f32)>,
}

impl std::fmt::Debug for HeadDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeadDetector")
    }
}

impl HeadDetector {
    /// Loads the model in `dir`, checking its SHA-256 first.
    pub fn load(dir: &Path) -> Result<HeadDetector, ModelError> {
        let path = dir.join(HEAD_MODEL);
        let bytes = verified_model(&path, HEAD_MODEL_SHA256)?;
        let unreadable = |e: TractError| ModelError::Unreadable { path: path.clone(), message: e.to_string() };
        let plan = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .and_then(|m| m.with_input_fact(0, f32::fact([1, SIZE, SIZE, 3]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(unreadable)?;
        // SSD anchors of MediaPipe's back-camera face model: 2 per cell of a 16x16 grid, then 6 per
        // cell of an 8x8 one; the outputs come in the same two groups.
        let mut anchors = Vec::with_capacity(896);
        for (cells, per_cell) in [(16usize, 2usize), (8, 6)] {
            for y in 0..cells {
                for x in 0..cells {
                    let centre = ((x as f32 + 0.5) / cells as f32, (y as f32 + 0.5) / cells as f32);
                    anchors.extend(std::iter::repeat_n(centre, per_cell));
                }
            }
        }
        Ok(HeadDetector { plan, anchors })
    }

    /// The most likely head in a grey picture, if any is likely enough.
    pub fn head(&self, grey: &Grey) -> Option<Head> {
        let input = letterbox(grey)?;
        let outputs = self.plan.run(tvec!(input.into_tvalue())).ok()?;
        // Scores of the 16x16 anchors, then the 8x8 ones; box and key points likewise.
        let view =
            |i: usize| outputs.get(i)?.to_plain_array_view::<f32>().ok().map(|a| a.iter().copied().collect::<Vec<_>>());
        let scores: Vec<f32> = [view(0)?, view(1)?].concat();
        let boxes: Vec<f32> = [view(2)?, view(3)?].concat();
        if scores.len() != self.anchors.len() || boxes.len() != self.anchors.len() * 16 {
            return None;
        }
        let (best, raw) = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        let score = 1.0 / (1.0 + (-raw.clamp(-80.0, 80.0)).exp());
        if score < MIN_SCORE {
            return None;
        }
        let (ax, ay) = self.anchors[best];
        let r = &boxes[best * 16..best * 16 + 16];
        let point = |k: usize| (ax + r[4 + 2 * k] / SIZE as f32, ay + r[5 + 2 * k] / SIZE as f32);
        Some(Head { score, yaw_degrees: yaw_degrees(point(0), point(1), point(2)) })
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

/// The picture, centred on a black 256x256 square at the model's scale (-1 to 1, three equal
/// channels); None for a picture too small to hold a face.
fn letterbox(grey: &Grey) -> Option<Tensor> {
    let (w, h) = (grey.width as usize, grey.height as usize);
    if w < 24 || h < 24 || grey.pixels.len() < w * h {
        return None;
    }
    let scale = SIZE as f32 / w.max(h) as f32;
    let (sw, sh) = (((w as f32 * scale) as usize).min(SIZE), ((h as f32 * scale) as usize).min(SIZE));
    let (x0, y0) = ((SIZE - sw) / 2, (SIZE - sh) / 2);
    let mut data = vec![-1.0f32; SIZE * SIZE * 3];
    for y in 0..sh {
        let source = &grey.pixels[((y as f32 / scale) as usize).min(h - 1) * w..];
        for x in 0..sw {
            let v = f32::from(source[((x as f32 / scale) as usize).min(w - 1)]) / 127.5 - 1.0;
            let at = ((y0 + y) * SIZE + x0 + x) * 3;
            data[at..at + 3].fill(v);
        }
    }
    tract_ndarray::Array4::from_shape_vec((1, SIZE, SIZE, 3), data).ok().map(Tensor::from)
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
    fn a_flat_picture_has_no_head_and_the_model_is_checked() {
        let heads = HeadDetector::load(&crate::vision::models_dir()).unwrap();
        let flat = Grey { width: 320, height: 240, pixels: vec![128; 320 * 240] };
        assert_eq!(heads.head(&flat), None);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(HeadDetector::load(dir.path()).unwrap_err().code(), "analysis.model_missing");
        std::fs::write(dir.path().join(HEAD_MODEL), b"not a model").unwrap();
        assert_eq!(HeadDetector::load(dir.path()).unwrap_err().code(), "analysis.model_corrupt");
    }
}

//! How far a head is raised or bowed, from MediaPipe's face mesh (468 points on the face, each with
//! its depth), run by tract on a square around a face the BlazeFace detectors found, turned so
//! that the eyes lie level (as MediaPipe crops it). The pitch is the slope, in depth, of the line
//! from the top of the forehead (point 10) to the chin (point 152): a face looking at the camera
//! has it almost upright, a head raised leans its chin forward, a bowed one its forehead.
//!
//! BlazeFace's key points follow a bow (see [`crate::blazeface`]) but hardly a raised head: their
//! nose tip stops near the eyes' line at 20-30 degrees. The mesh reads raised heads evenly from
//! face to face (two test faces rendered raised by 30 degrees read 23 and 19 below their frontal
//! reading, by 10 degrees 6 and 3), so Vigil judges a raised head by it, at the far detector's
//! pace.

use crate::blazeface::{DetectError, Head};
use crate::vision::{Grey, ModelError};
use std::path::Path;
use std::sync::Arc;
use tract_nnef::prelude::*;

/// The model's file name and SHA-256 (see `crates/analysis/models/LICENSE`).
pub const MESH_MODEL: &str = "face_mesh_192.nnef.tar";
pub const MESH_MODEL_SHA256: &str = "4777989296b51db2d9b70b43f9aba5428c844967d47fdf43f6dbe8adfff3a9ae";

/// The side of the model's square input, in pixels.
const SIZE: usize = 192;
/// The square around a face is this many times its box's longer side (MediaPipe's).
const CROP_SCALE: f32 = 1.5;
/// A face narrower than this, in the analysed picture's pixels, is too small to read its pitch
/// (far away, or a second person behind): no answer.
const MIN_FACE_PIXELS: f32 = 40.0;
/// A crop the model is less sure than this shows a face is no answer.
const MIN_FACE_SCORE: f32 = 0.5;
/// The mesh's points at the top of the forehead and at the chin.
const FOREHEAD: usize = 10;
const CHIN: usize = 152;

/// MediaPipe's face mesh, ready to run.
pub struct FaceMesh {
    plan: Arc<TypedRunnableModel>,
}

impl std::fmt::Debug for FaceMesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaceMesh")
    }
}

impl FaceMesh {
    /// Loads the model in `dir`, checking its SHA-256 first.
    pub fn load(dir: &Path) -> Result<FaceMesh, ModelError> {
        Ok(FaceMesh { plan: crate::blazeface::runnable(dir, MESH_MODEL, MESH_MODEL_SHA256)? })
    }

    /// The pitch of `face`, found in `grey`, in degrees of the mesh's own reading (positive
    /// bowed, negative raised; a face looking at the camera reads a few degrees, which differ from
    /// face to face): None for a face too small to read, or where the model does not see a face
    /// in its square.
    pub fn pitch_degrees(&self, grey: &Grey, face: &Head) -> Result<Option<f32>, DetectError> {
        let Some(points) = self.points(grey, face)? else { return Ok(None) };
        let point = |i: usize| (points[3 * i], points[3 * i + 1], points[3 * i + 2]);
        let (top, chin) = (point(FOREHEAD), point(CHIN));
        let upright = (chin.0 - top.0).hypot(chin.1 - top.1);
        Ok(Some((chin.2 - top.2).atan2(upright).to_degrees()))
    }

    /// Whether the model sees a face in the square around `face` (false for a face too small to
    /// read): how an unsure detection is confirmed.
    pub fn sees_face(&self, grey: &Grey, face: &Head) -> Result<bool, DetectError> {
        Ok(self.points(grey, face)?.is_some())
    }

    /// The 468 points (x, y, depth) of the face in the square around `face`: None for a face too
    /// small to read, or where the model does not see a face.
    fn points(&self, grey: &Grey, face: &Head) -> Result<Option<Vec<f32>>, DetectError> {
        let Some(input) = crop(grey, face) else { return Ok(None) };
        let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(|e| DetectError::Model(e.to_string()))?;
        let view = |i: usize| outputs.get(i)?.to_plain_array_view::<f32>().ok().map(|a| a.iter().copied().collect());
        let (Some(points), Some(score)): (Option<Vec<f32>>, Option<Vec<f32>>) = (view(0), view(1)) else {
            return Err(DetectError::Model("its outputs are not the face mesh's".into()));
        };
        if points.len() != 468 * 3 || score.len() != 1 {
            return Err(DetectError::Model("its outputs are not the face mesh's".into()));
        }
        let sure = 1.0 / (1.0 + (-score[0].clamp(-80.0, 80.0)).exp()) >= MIN_FACE_SCORE;
        Ok(sure.then_some(points))
    }
}

/// The square around `face` (its box's longer side times [`CROP_SCALE`], centred on the box),
/// turned so that its eyes lie level, at the model's size and scale (0-1; black outside the
/// picture); None for a face too small to read.
fn crop(grey: &Grey, face: &Head) -> Option<Tensor> {
    let [left, top, right, bottom] = face.area;
    let side = (right - left).max(bottom - top) * CROP_SCALE;
    let (w, h) = (grey.width as usize, grey.height as usize);
    let width = right - left;
    if !width.is_finite() || width < MIN_FACE_PIXELS || w < 2 || h < 2 || grey.pixels.len() < w * h {
        return None;
    }
    let centre = ((left + right) / 2.0, (top + bottom) / 2.0);
    let [a, b] = face.eyes;
    let (sin, cos) = (b.1 - a.1).atan2(b.0 - a.0).sin_cos();
    let step = side / SIZE as f32;
    let mut data = vec![0f32; SIZE * SIZE];
    for (v, row) in data.chunks_exact_mut(SIZE).enumerate() {
        let dv = (v as f32 + 0.5) * step - side / 2.0;
        for (u, value) in row.iter_mut().enumerate() {
            let du = (u as f32 + 0.5) * step - side / 2.0;
            let (x, y) = (centre.0 + du * cos - dv * sin - 0.5, centre.1 + du * sin + dv * cos - 0.5);
            if x < 0.0 || y < 0.0 || x >= (w - 1) as f32 || y >= (h - 1) as f32 {
                continue;
            }
            // Bilinear between the four pixels around (x, y).
            let (x0, y0) = (x as usize, y as usize);
            let (fx, fy) = (x - x0 as f32, y - y0 as f32);
            let at = |x: usize, y: usize| f32::from(grey.pixels[y * w + x]);
            let upper = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
            let lower = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
            *value = (upper * (1.0 - fy) + lower * fy) / 255.0;
        }
    }
    tract_ndarray::Array4::from_shape_vec((1, SIZE, SIZE, 1), data).ok().map(Tensor::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(eyes: [(f32, f32); 2]) -> Head {
        Head { score: 1.0, yaw_degrees: 0.0, nose_place: 0.5, area: [110.0, 70.0, 210.0, 170.0], eyes }
    }

    #[test]
    fn the_crop_is_square_around_the_face_with_its_eyes_level() {
        // Dark above the middle row of the picture, light below it.
        let (w, h) = (320usize, 240usize);
        let pixels = (0..w * h).map(|i| if i / w < 120 { 0 } else { 255 }).collect();
        let grey = Grey { width: w as u32, height: h as u32, pixels };
        let at = |t: &Tensor, u: usize, v: usize| t.to_plain_array_view::<f32>().unwrap()[[0, v, u, 0]];
        // Eyes level: the crop's top is dark, its bottom light, and it is 1.5 times the box.
        let level = crop(&grey, &face([(140.0, 110.0), (180.0, 110.0)])).unwrap();
        assert_eq!(level.shape(), &[1, SIZE, SIZE, 1]);
        assert_eq!((at(&level, 96, 10), at(&level, 96, 181)), (0.0, 1.0));
        // 75 px above and below the box's centre (120): the crop's first and last rows reach
        // the picture's rows 45 and 195.
        assert_eq!((at(&level, 96, 0), at(&level, 96, SIZE - 1)), (0.0, 1.0));
        // A head rolled by 90 degrees (the eyes one above the other): turned level, the light
        // half is on the crop's left.
        let rolled = crop(&grey, &face([(160.0, 140.0), (160.0, 100.0)])).unwrap();
        assert_eq!((at(&rolled, 10, 96), at(&rolled, 181, 96)), (1.0, 0.0));
        // A face too small to read: no crop.
        let small = Head { area: [150.0, 100.0, 180.0, 130.0], ..face([(160.0, 110.0), (170.0, 110.0)]) };
        assert!(crop(&grey, &small).is_none());
    }

    #[test]
    fn a_missing_or_corrupt_mesh_is_an_error_with_a_code() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(FaceMesh::load(dir.path()).unwrap_err().code(), "analysis.model_missing");
        std::fs::write(dir.path().join(MESH_MODEL), b"not a model").unwrap();
        assert_eq!(FaceMesh::load(dir.path()).unwrap_err().code(), "analysis.model_corrupt");
        assert!(FaceMesh::load(&crate::vision::models_dir()).is_ok());
    }
}

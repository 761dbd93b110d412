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
//!
//! The mesh also tells how far a head is turned, better than BlazeFace's key points: its yaw is
//! the slope, in depth, of the line between the face's edges at the cheekbones (points 234 and
//! 454). On a head turned well away, the detector's box is off the face, so the mesh runs again on
//! a square around its own first points (as MediaPipe's tracking crops it): the Solvay
//! photograph's three-quarter view then reads 33 degrees of the mesh's own instead of 25 (40 and 30
//! once scaled to the head's by `MESH_YAW_GAIN`).

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
/// The mesh's points at the face's edges by the cheekbones, and at the eyes' outer corners.
const CHEEKS: (usize, usize) = (234, 454);
const EYE_CORNERS: (usize, usize) = (33, 263);
/// A first reading turned by this many degrees or more is read again on a square around the
/// mesh's own points (frontal faces, most of them, cost one run).
const RECROP_YAW: f32 = 12.0;
/// The mesh's yaw moves by less than the head: this many degrees of the head per degree of the
/// reading. The cameraman's profile, 64 degrees by both BlazeFace detectors, reads 48-49 (1.3);
/// the Solvay photograph's three-quarter view, turned 40-45 degrees by eye, reads 33 (1.2-1.35);
/// the lower end keeps a face turned 20-25 degrees (its person 04, who reads 25) clear of the
/// default threshold of 35.
const MESH_YAW_GAIN: f32 = 1.2;

/// One of the mesh's points: x, y and depth.
type Point = (f32, f32, f32);

/// Which way a head is turned, read off the face mesh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Degrees of the mesh's own reading, positive bowed, negative raised (a face looking at the
    /// camera reads a few degrees, which differ from face to face).
    pub pitch_degrees: f32,
    /// Degrees from facing the camera, left or right, as [`Head::yaw_degrees`].
    pub yaw_degrees: f32,
}

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

    /// Which way `face`, found in `grey`, is turned: None for a face too small to read, or
    /// where the model does not see a face in its square.
    pub fn pose(&self, grey: &Grey, face: &Head) -> Result<Option<Pose>, DetectError> {
        let Some(square) = Square::around(grey, face) else { return Ok(None) };
        let Some(mut points) = self.points(grey, &square)? else { return Ok(None) };
        if yaw_of(&points).abs() >= RECROP_YAW {
            // Turned away: the box was off the face; read it again around its own points.
            if let Some(again) = self.points(grey, &square.around_points(&points))? {
                points = again;
            }
        }
        let (top, chin) = (points[FOREHEAD], points[CHIN]);
        let upright = (chin.0 - top.0).hypot(chin.1 - top.1);
        let pitch_degrees = (chin.2 - top.2).atan2(upright).to_degrees();
        Ok(Some(Pose { pitch_degrees, yaw_degrees: yaw_of(&points) * MESH_YAW_GAIN }))
    }

    /// Whether the model sees a face in the square around `face` (false for a face too small to
    /// read): how an unsure detection is confirmed.
    pub fn sees_face(&self, grey: &Grey, face: &Head) -> Result<bool, DetectError> {
        let Some(square) = Square::around(grey, face) else { return Ok(false) };
        Ok(self.points(grey, &square)?.is_some())
    }

    /// The 468 points (x, y, depth) of the face in `square`, in the square's pixels (0 to
    /// [`SIZE`]; depth at the same scale): None where the model does not see a face.
    fn points(&self, grey: &Grey, square: &Square) -> Result<Option<Vec<Point>>, DetectError> {
        let input = square.crop(grey);
        let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(|e| DetectError::Model(e.to_string()))?;
        let view = |i: usize| outputs.get(i)?.to_plain_array_view::<f32>().ok().map(|a| a.iter().copied().collect());
        let (Some(points), Some(score)): (Option<Vec<f32>>, Option<Vec<f32>>) = (view(0), view(1)) else {
            return Err(DetectError::Model("its outputs are not the face mesh's".into()));
        };
        if points.len() != 468 * 3 || score.len() != 1 {
            return Err(DetectError::Model("its outputs are not the face mesh's".into()));
        }
        let sure = 1.0 / (1.0 + (-score[0].clamp(-80.0, 80.0)).exp()) >= MIN_FACE_SCORE;
        Ok(sure.then(|| points.chunks_exact(3).map(|p| (p[0], p[1], p[2])).collect()))
    }
}

/// The yaw of the mesh's `points`, in degrees of its own reading: the slope, in depth, of the
/// line between the face's edges (positive: the nose points to the picture's right).
fn yaw_of(points: &[Point]) -> f32 {
    let (a, b) = (points[CHEEKS.0], points[CHEEKS.1]);
    let (left, right) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    (right.2 - left.2).atan2(right.0 - left.0).to_degrees()
}

/// A square of the picture the mesh reads, turned so that the face's eyes lie level: its centre
/// and side in the picture's pixels, and the sine and cosine of its turn.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Square {
    centre: (f32, f32),
    side: f32,
    sin: f32,
    cos: f32,
}

impl Square {
    /// The square around `face` (its box's longer side times [`CROP_SCALE`], centred on the
    /// box): None for a face too small to read.
    fn around(grey: &Grey, face: &Head) -> Option<Square> {
        let [left, top, right, bottom] = face.area;
        let width = right - left;
        let (w, h) = (grey.width as usize, grey.height as usize);
        if !width.is_finite() || width < MIN_FACE_PIXELS || w < 2 || h < 2 || grey.pixels.len() < w * h {
            return None;
        }
        let [a, b] = face.eyes;
        let (sin, cos) = (b.1 - a.1).atan2(b.0 - a.0).sin_cos();
        let (centre, side) = (((left + right) / 2.0, (top + bottom) / 2.0), width.max(bottom - top) * CROP_SCALE);
        Some(Square { centre, side, sin, cos })
    }

    /// Where the point (`u`, `v`) of the square's [`SIZE`] pixels is in the picture.
    fn in_picture(&self, u: f32, v: f32) -> (f32, f32) {
        let step = self.side / SIZE as f32;
        let (du, dv) = (u * step - self.side / 2.0, v * step - self.side / 2.0);
        (self.centre.0 + du * self.cos - dv * self.sin, self.centre.1 + du * self.sin + dv * self.cos)
    }

    /// The square around the face whose mesh `points` this square read: around the points'
    /// extent (its longer side times [`CROP_SCALE`]), turned so that their eyes' outer corners
    /// lie level.
    fn around_points(&self, points: &[Point]) -> Square {
        let picture: Vec<(f32, f32)> = points.iter().map(|p| self.in_picture(p.0, p.1)).collect();
        let (mut low, mut high) = ((f32::MAX, f32::MAX), (f32::MIN, f32::MIN));
        for &(x, y) in &picture {
            (low, high) = ((low.0.min(x), low.1.min(y)), (high.0.max(x), high.1.max(y)));
        }
        let (a, b) = (picture[EYE_CORNERS.0], picture[EYE_CORNERS.1]);
        let (a, b) = if a.0 <= b.0 { (a, b) } else { (b, a) };
        let (sin, cos) = (b.1 - a.1).atan2(b.0 - a.0).sin_cos();
        let centre = ((low.0 + high.0) / 2.0, (low.1 + high.1) / 2.0);
        Square { centre, side: (high.0 - low.0).max(high.1 - low.1) * CROP_SCALE, sin, cos }
    }

    /// The square's pixels at the model's size and scale (0-1; black outside the picture).
    fn crop(&self, grey: &Grey) -> Tensor {
        let (w, h) = (grey.width as usize, grey.height as usize);
        let mut data = vec![0f32; SIZE * SIZE];
        for (v, row) in data.chunks_exact_mut(SIZE).enumerate() {
            for (u, value) in row.iter_mut().enumerate() {
                let (x, y) = self.in_picture(u as f32 + 0.5, v as f32 + 0.5);
                let (x, y) = (x - 0.5, y - 0.5);
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
        Tensor::from_shape(&[1, SIZE, SIZE, 1], &data).expect("SIZE x SIZE values")
    }
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
        let level = Square::around(&grey, &face([(140.0, 110.0), (180.0, 110.0)])).unwrap().crop(&grey);
        assert_eq!(level.shape(), &[1, SIZE, SIZE, 1]);
        assert_eq!((at(&level, 96, 10), at(&level, 96, 181)), (0.0, 1.0));
        // 75 px above and below the box's centre (120): the crop's first and last rows reach
        // the picture's rows 45 and 195.
        assert_eq!((at(&level, 96, 0), at(&level, 96, SIZE - 1)), (0.0, 1.0));
        // A head rolled by 90 degrees (the eyes one above the other): turned level, the light
        // half is on the crop's left.
        let rolled = Square::around(&grey, &face([(160.0, 140.0), (160.0, 100.0)])).unwrap().crop(&grey);
        assert_eq!((at(&rolled, 10, 96), at(&rolled, 181, 96)), (1.0, 0.0));
        // A face too small to read: no crop.
        let small = Head { area: [150.0, 100.0, 180.0, 130.0], ..face([(160.0, 110.0), (170.0, 110.0)]) };
        assert!(Square::around(&grey, &small).is_none());
    }

    #[test]
    fn the_second_square_is_around_the_first_points_and_their_yaw_is_the_cheeks_depth() {
        let grey = Grey { width: 320, height: 240, pixels: vec![0; 320 * 240] };
        let first = Square::around(&grey, &face([(140.0, 110.0), (180.0, 110.0)])).unwrap();
        assert_eq!((first.centre, first.side), ((160.0, 120.0), 150.0));
        // Points over the square's middle half (96 of its 192 pixels: 75 of the picture's), the
        // left of it nearer the camera, and the eye corners level.
        let mut points: Vec<Point> = (0..468).map(|i| (48.0 + (i % 97) as f32, 48.0 + (i / 5) as f32, 0.0)).collect();
        points[CHEEKS.0] = (60.0, 96.0, -20.0);
        points[CHEEKS.1] = (140.0, 96.0, 20.0);
        points[EYE_CORNERS.0] = (70.0, 80.0, 0.0);
        points[EYE_CORNERS.1] = (120.0, 80.0, 0.0);
        let second = first.around_points(&points);
        assert!((second.centre.0 - 160.0).abs() < 0.5 && (second.centre.1 - 119.0).abs() < 1.0, "{second:?}");
        assert!((second.side - 75.0 * CROP_SCALE).abs() < 1.0, "{second:?}");
        assert!(second.sin.abs() < 1e-6);
        // The picture's right cheek further away: the nose points right, by atan(40 / 80).
        assert!((yaw_of(&points) - 26.57).abs() < 0.01);
        points.swap(CHEEKS.0, CHEEKS.1);
        assert!((yaw_of(&points) - 26.57).abs() < 0.01, "whichever point is left");
        // Eye corners one above the other: the square is turned by 90 degrees.
        points[EYE_CORNERS.1] = (70.0, 130.0, 0.0);
        assert!((first.around_points(&points).sin - 1.0).abs() < 1e-6);
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

//! The far-sighted face detector: MediaPipe's BlazeFace back-camera model (256x256 pictures,
//! faces from about 20 pixels, turned ones too; [`crate::blazeface`]). It runs beside the near one
//! ([`crate::vision::FaceDetector`]) at once when the number of faces that one sees changes, else
//! at most every two seconds. It finds faces too small, far or turned for the near detector (a
//! candidate far from the camera or looking away, a second person behind them), and so tells them
//! apart from an empty chair.

use crate::blazeface::BlazeFace;
pub use crate::blazeface::{pitch_degrees, DetectError, Head, FRONTAL_NOSE_PLACE};
use crate::vision::{Grey, ModelError};
use std::path::Path;

/// The model's file name and SHA-256 (see `crates/analysis/models/LICENSE`).
pub const HEAD_MODEL: &str = "blazeface_back_256.nnef.tar";
pub const HEAD_MODEL_SHA256: &str = "b178251b46ac973abe99fdb91f2b2aa2523fdfa8b5113def6a947cb5098bdf72";

/// What a reading of the candidate's lone head (where its nose tip sits, [`Head::nose_place`];
/// the face mesh's pitch, [`crate::mesh`]) is when they face the camera: the median of the last
/// `FRONTAL_READINGS` fresh readings of their head neither turned, bowed nor raised (a minute at
/// the far detector's pace of one every 2 s), once `FRONTAL_MIN_READINGS` are in (before, and
/// for a candidate bowed from the start, an average face's). Faces differ (a smile, a long nose,
/// a camera below the eyes), so a pitch is judged against the candidate's own frontal, which
/// stays within a spread of the average face's: a head bowed for minutes does not become the new
/// frontal.
#[derive(Debug)]
pub struct Frontal {
    average: f32,
    spread: f32,
    recent: std::collections::VecDeque<f32>,
}

/// How far a frontal nose place may be from the average face's.
const FRONTAL_SPREAD: f32 = 0.08;
const FRONTAL_READINGS: usize = 30;
const FRONTAL_MIN_READINGS: usize = 5;

impl Frontal {
    /// Where the nose tip sits (the far detector's key points): an average face's
    /// [`FRONTAL_NOSE_PLACE`], within 0.08 of it (about 22 degrees' worth).
    pub fn nose_place() -> Frontal {
        Frontal::new(FRONTAL_NOSE_PLACE, FRONTAL_SPREAD)
    }

    /// A frontal reading `average` for a face not seen before, the candidate's own within
    /// `spread` of it.
    pub fn new(average: f32, spread: f32) -> Frontal {
        Frontal { average, spread, recent: Default::default() }
    }

    /// A reading of a head seen facing the camera.
    pub fn observe(&mut self, reading: f32) {
        if self.recent.len() == FRONTAL_READINGS {
            self.recent.pop_front();
        }
        self.recent.push_back(reading);
    }

    /// The candidate's frontal reading.
    pub fn reading(&self) -> f32 {
        if self.recent.len() < FRONTAL_MIN_READINGS {
            return self.average;
        }
        let mut sorted: Vec<f32> = self.recent.iter().copied().collect();
        sorted.sort_by(f32::total_cmp);
        sorted[sorted.len() / 2].clamp(self.average - self.spread, self.average + self.spread)
    }
}

/// A face less likely than this is not a face.
const MIN_SCORE: f32 = 0.7;
/// A face between this and [`MIN_SCORE`] is unsure: a face only if the face mesh sees one there
/// (MediaPipe's own threshold is 0.5; faint, blurred or small faces score 0.55-0.7 here, and so
/// did a cat, which the mesh does not take for a face).
const MIN_UNSURE_SCORE: f32 = 0.5;

/// BlazeFace's back-camera model, ready to run.
pub struct HeadDetector {
    net: BlazeFace,
}

impl std::fmt::Debug for HeadDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeadDetector")
    }
}

impl HeadDetector {
    /// Loads the model in `dir`, checking its SHA-256 first.
    pub fn load(dir: &Path) -> Result<HeadDetector, ModelError> {
        Ok(HeadDetector { net: BlazeFace::load(dir, HEAD_MODEL, HEAD_MODEL_SHA256, 256)? })
    }

    /// Every head in a grey picture, most likely first.
    pub fn heads(&self, grey: &Grey) -> Result<Vec<Head>, DetectError> {
        self.net.faces(grey, MIN_SCORE)
    }

    /// The heads in a grey picture likely enough to be sure of, and those it is unsure of, most
    /// likely first: one run of the model.
    pub fn sure_and_unsure(&self, grey: &Grey) -> Result<(Vec<Head>, Vec<Head>), DetectError> {
        Ok(self.net.faces(grey, MIN_UNSURE_SCORE)?.into_iter().partition(|h| h.score >= MIN_SCORE))
    }

    /// The most likely head in a grey picture, if any is likely enough.
    pub fn head(&self, grey: &Grey) -> Result<Option<Head>, DetectError> {
        Ok(self.heads(grey)?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontal_place_is_the_candidates_own_within_reason() {
        let mut frontal = Frontal::nose_place();
        assert_eq!(frontal.reading(), FRONTAL_NOSE_PLACE);
        // A face whose nose sits lower than the average face's: its own place, once enough are in.
        for _ in 1..FRONTAL_MIN_READINGS {
            frontal.observe(0.6);
        }
        assert_eq!(frontal.reading(), FRONTAL_NOSE_PLACE);
        frontal.observe(0.6);
        assert_eq!(frontal.reading(), 0.6);
        assert!(pitch_degrees(0.6, frontal.reading()).abs() < 1e-5);
        // One odd reading does not move the median; a minute of a far lower place does, up to
        // the spread.
        frontal.observe(0.3);
        assert_eq!(frontal.reading(), 0.6);
        for _ in 0..FRONTAL_READINGS {
            frontal.observe(0.3);
        }
        assert!((frontal.reading() - (FRONTAL_NOSE_PLACE - FRONTAL_SPREAD)).abs() < 1e-6);
    }

    #[test]
    fn a_flat_picture_has_no_head_and_the_model_is_checked() {
        let heads = HeadDetector::load(&crate::vision::models_dir()).unwrap();
        let flat = Grey { width: 320, height: 240, pixels: vec![128; 320 * 240] };
        assert_eq!(heads.head(&flat).unwrap(), None);
        // A picture too small to hold a face is no answer, not "no face".
        let tiny = Grey { width: 16, height: 12, pixels: vec![128; 16 * 12] };
        assert_eq!(heads.head(&tiny).unwrap_err().code(), "analysis.picture_too_small");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(HeadDetector::load(dir.path()).unwrap_err().code(), "analysis.model_missing");
        std::fs::write(dir.path().join(HEAD_MODEL), b"not a model").unwrap();
        assert_eq!(HeadDetector::load(dir.path()).unwrap_err().code(), "analysis.model_corrupt");
    }
}

//! The far-sighted face detector: MediaPipe's BlazeFace back-camera model (256x256 pictures,
//! faces from about 20 pixels, turned ones too; [`crate::blazeface`]). It runs beside the near one
//! ([`crate::vision::FaceDetector`]) at once when the number of faces that one sees changes, else
//! at most every two seconds. It finds faces too small, far or turned for the near detector (a
//! candidate far from the camera or looking away, a second person behind them), and so tells them
//! apart from an empty chair.

use crate::blazeface::BlazeFace;
pub use crate::blazeface::{DetectError, Head};
use crate::vision::{Grey, ModelError};
use std::path::Path;

/// The model's file name and SHA-256 (see `crates/analysis/models/LICENSE`).
pub const HEAD_MODEL: &str = "blazeface_back_256.nnef.tar";
pub const HEAD_MODEL_SHA256: &str = "b178251b46ac973abe99fdb91f2b2aa2523fdfa8b5113def6a947cb5098bdf72";

/// A face less likely than this is not a face.
const MIN_SCORE: f32 = 0.7;

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

    /// The most likely head in a grey picture, if any is likely enough.
    pub fn head(&self, grey: &Grey) -> Result<Option<Head>, DetectError> {
        Ok(self.heads(grey)?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! SeetaFace on scenes cut from a public-domain photograph (`tests/analysis/solvay-1927.png`) with
//! ImageMagick, at the analysis size (320x240 grey): one face, two faces, none.

use std::path::Path;
use std::process::Command;
use vigil_analysis::vision::{models_dir, FaceDetector, Grey};

/// The part `crop` of the photograph, resized to 320x240, as grey pixels.
fn scene(crop: &str) -> Grey {
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/analysis/solvay-1927.png");
    let out = Command::new("convert")
        .arg(photo)
        .args(["-crop", crop, "+repage", "-resize", "320x240!", "-colorspace", "gray", "-depth", "8", "gray:-"])
        .output()
        .expect("ImageMagick's convert (scripts/install-deps installs imagemagick)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout.len(), 320 * 240);
    Grey { width: 320, height: 240, pixels: out.stdout }
}

#[test]
fn one_face_two_faces_and_none() {
    let mut faces = FaceDetector::load(&models_dir()).expect("the face model");
    assert_eq!(faces.faces(&scene("128x96+831+245")).len(), 1, "one face");
    assert!(faces.faces(&scene("320x240+830+180")).len() >= 2, "two faces or more");
    assert_eq!(faces.faces(&scene("320x240+600+820")).len(), 0, "no face");
}

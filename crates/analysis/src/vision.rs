//! Flags from the camera, on grey pictures of at most 320x240: no face (neither face detector sees
//! one), more than one face (either sees several), a head turned away (the face mesh's reading of
//! the lone face, [`crate::mesh`], run with the far detector; where the mesh cannot read it, the
//! key points of the one face the near detector sees, or where it sees none, of the far
//! detector's lone head, [`crate::head`]; a bow by the far detector's key points),
//! the camera covered or dark, and a frozen picture (the same picture for
//! seconds: a still image or a broken virtual camera). Two BlazeFace models
//! ([`crate::blazeface`]) look for faces: the near one ([`FaceDetector`], the front-camera model, a
//! few milliseconds) on every picture that changed, the far one (the back-camera model, several
//! times its cost) where the near one sees one face or none: at once when that number changes,
//! else at most every two seconds. A picture the detectors cannot search (too small, or the model
//! failed on it) is no answer, never "no face". Pictures come at a low rate (two a second by
//! default); each flag needs its condition to hold `on_ms` and to be gone `off_ms`, so one blink
//! or a hand passing is not a flag.
//!
//! The models are files, checked against their SHA-256 when they load: a missing or corrupt model
//! turns its flags off with an error the caller reports, and the other flags go on.

use crate::blazeface::{BlazeFace, DetectError, Head};
use crate::flag::{Edge, Flag, FlagTracker, Hysteresis};
use crate::head::{pitch_degrees, Frontal, HeadDetector};
use crate::mesh::{FaceMesh, Pose};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The near face model's file name and SHA-256 (see `crates/analysis/models/LICENSE`).
pub const FACE_MODEL: &str = "blazeface_front_128.nnef.tar";
pub const FACE_MODEL_SHA256: &str = "372dd679dde1e44cb1cd13faed74875bf2777c99cba5e6c42da733cee231a36a";
/// A face less likely than this is not a face.
const MIN_FACE_SCORE: f32 = 0.7;

/// The width and height pictures are analysed at (at most), keeping the aspect.
pub const ANALYSIS_WIDTH: u32 = 320;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the model {path} cannot be read: {source}")]
    Missing { path: PathBuf, source: std::io::Error },
    #[error("the model {path} is corrupt: SHA-256 {actual}, expected {expected}")]
    Corrupt { path: PathBuf, actual: String, expected: &'static str },
    #[error("the model {path} cannot be loaded: {message}")]
    Unreadable { path: PathBuf, message: String },
}

impl ModelError {
    /// `analysis.model_missing`, `analysis.model_corrupt`, `analysis.model_unreadable`.
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::Missing { .. } => "analysis.model_missing",
            ModelError::Corrupt { .. } => "analysis.model_corrupt",
            ModelError::Unreadable { .. } => "analysis.model_unreadable",
        }
    }
}

/// The bytes of the model file at `path`, once its SHA-256 is `expected`.
pub(crate) fn verified_model(path: &Path, expected: &'static str) -> Result<Vec<u8>, ModelError> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Missing { path: path.to_owned(), source })?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != expected {
        return Err(ModelError::Corrupt { path: path.to_owned(), actual, expected });
    }
    Ok(bytes)
}

/// Where the models are: `$VIGIL_MODELS`, then `../share/vigil/models` beside the executable (an
/// installed package), then this crate's `models` directory (a build from the source tree).
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VIGIL_MODELS") {
        return PathBuf::from(dir);
    }
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("share/vigil/models")))
        .filter(|d| d.join(FACE_MODEL).exists());
    installed.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models"))
}

/// A grey picture (one byte per pixel, row by row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grey {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Grey {
    /// A grey copy of a plane of `width` x `height` luma bytes (`stride` apart), shrunk by whole
    /// steps to at most [`ANALYSIS_WIDTH`] wide: the Y plane of I420 needs no conversion.
    pub fn from_luma(luma: &[u8], width: u32, height: u32, stride: usize) -> Grey {
        let step = width.div_ceil(ANALYSIS_WIDTH).max(1) as usize;
        let (w, h) = (width as usize / step, height as usize / step);
        let mut pixels = Vec::with_capacity(w * h);
        for y in 0..h {
            let row = &luma[y * step * stride..];
            pixels.extend((0..w).map(|x| row[x * step]));
        }
        Grey { width: w as u32, height: h as u32, pixels }
    }

    /// From packed RGB (3 bytes a pixel) or RGBA (4).
    pub fn from_rgb(data: &[u8], width: u32, height: u32, bytes_per_pixel: usize) -> Grey {
        let luma: Vec<u8> = data
            .chunks_exact(bytes_per_pixel)
            .map(|p| ((u32::from(p[0]) * 77 + u32::from(p[1]) * 150 + u32::from(p[2]) * 29) >> 8) as u8)
            .collect();
        Grey::from_luma(&luma, width, height, width as usize)
    }

    fn mean_and_spread(&self) -> (f32, f32) {
        let n = self.pixels.len().max(1) as f32;
        let mean = self.pixels.iter().map(|&p| f32::from(p)).sum::<f32>() / n;
        let var = self.pixels.iter().map(|&p| (f32::from(p) - mean).powi(2)).sum::<f32>() / n;
        (mean, var.sqrt())
    }
}

/// The near face detector: BlazeFace's front-camera model (128x128), made for a face at arm's
/// length from the camera, as a candidate's is.
pub struct FaceDetector {
    net: BlazeFace,
}

impl std::fmt::Debug for FaceDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaceDetector")
    }
}

impl FaceDetector {
    /// Loads the model in `dir`, checking its SHA-256 first.
    pub fn load(dir: &Path) -> Result<FaceDetector, ModelError> {
        Ok(FaceDetector { net: BlazeFace::load(dir, FACE_MODEL, FACE_MODEL_SHA256, 128)? })
    }

    /// The faces in a picture, most likely first, each with which way it is turned.
    pub fn faces(&self, grey: &Grey) -> Result<Vec<Head>, DetectError> {
        self.net.faces(grey, MIN_FACE_SCORE)
    }
}

/// Which camera flags are computed and how long a condition must hold (from the policy's
/// `[analysis]` section).
#[derive(Debug, Clone)]
pub struct VisionOptions {
    pub face_missing: bool,
    pub face_multiple: bool,
    /// A head turned away by at least `turned_degrees`, left or right, bowed by at least
    /// `bowed_degrees`, or raised by at least `raised_degrees`.
    pub face_turned: bool,
    pub turned_degrees: f32,
    pub bowed_degrees: f32,
    pub raised_degrees: f32,
    pub camera_covered: bool,
    pub camera_frozen: bool,
    pub face: Hysteresis,
    /// A frozen picture: the same for this long.
    pub frozen_ms: u64,
    /// Pictures per second analysed.
    pub fps: f32,
    /// A small picture of the camera as evidence at each flag's start.
    pub pictures: bool,
}

impl Default for VisionOptions {
    fn default() -> VisionOptions {
        VisionOptions {
            face_missing: true,
            face_multiple: true,
            face_turned: true,
            turned_degrees: 35.0,
            bowed_degrees: 35.0,
            raised_degrees: 25.0,
            camera_covered: true,
            camera_frozen: true,
            face: Hysteresis { on_ms: 3_000, off_ms: 1_500 },
            frozen_ms: 5_000,
            fps: 2.0,
            pictures: true,
        }
    }
}

impl VisionOptions {
    /// From an exam policy's `[analysis]` section.
    pub fn from_policy(a: &vigil_core::policy::Analysis) -> VisionOptions {
        VisionOptions {
            face_missing: a.face_missing,
            face_multiple: a.face_multiple,
            face_turned: a.face_turned,
            turned_degrees: a.turned_degrees,
            bowed_degrees: a.bowed_degrees,
            raised_degrees: a.raised_degrees,
            camera_covered: a.camera_covered,
            camera_frozen: a.camera_frozen,
            face: Hysteresis { on_ms: a.min_seconds_ms(), off_ms: 1_500 },
            frozen_ms: a.frozen_seconds_ms(),
            fps: a.camera_fps,
            pictures: a.pictures,
        }
    }

    /// Whether any camera flag is on (else nothing is computed).
    pub fn any(&self) -> bool {
        self.wants_faces() || self.camera_covered || self.camera_frozen
    }

    /// Whether any face flag is on (then both face models are needed: the far one judges a
    /// turned head, and finds faces too small for the near one, which are neither missing nor
    /// alone).
    pub fn wants_faces(&self) -> bool {
        self.face_missing || self.face_multiple || self.face_turned
    }

    /// The face flags that `model` missing turns off (without the far model, the near one still
    /// finds faces, if fewer; without the face mesh, a raised head is not judged, a turned one
    /// only by the detectors' key points, a bowed one as before, and faint faces are not
    /// confirmed).
    pub fn flags_of(&self, model: &str) -> Vec<&'static str> {
        let on = [
            (self.face_missing, "face.missing", FACE_MODEL),
            (self.face_multiple, "face.multiple", FACE_MODEL),
            (self.face_turned, "face.turned", FACE_MODEL),
            (self.face_turned, "face.turned", crate::head::HEAD_MODEL),
        ];
        on.into_iter().filter(|(wanted, _, m)| *wanted && *m == model).map(|(_, flag, _)| flag).collect()
    }
}

/// The camera's flags from pictures in time order.
#[derive(Debug)]
pub struct VisionAnalyzer {
    opts: VisionOptions,
    faces: Option<FaceDetector>,
    heads: Option<HeadDetector>,
    missing: FlagTracker,
    multiple: FlagTracker,
    turned: FlagTracker,
    /// Where this candidate's nose tip sits when they face the camera, for a bow.
    frontal: Frontal,
    /// The face mesh, which judges a raised head (none: not judged).
    mesh: Option<FaceMesh>,
    /// The mesh's pitch of this candidate's head facing the camera.
    mesh_frontal: Frontal,
    covered: FlagTracker,
    /// The frozen flag while it is open.
    frozen_open: Option<Flag>,
    last: Option<Grey>,
    last_ms: u64,
    same_since: Option<u64>,
    next_ms: u64,
    /// The last picture the face detectors ran on, when, and what they found.
    last_faces: Option<(u64, Grey, Seen)>,
    /// How many pictures the face detector has run on.
    detections: u64,
    /// How many pictures the head detector has run on.
    head_detections: u64,
    /// Why the first picture the detectors failed on could not be searched, until the caller
    /// takes it; and how many they have failed on.
    failure: Option<DetectError>,
    failures: u64,
}

/// What the face detectors found in a picture: the near detector's faces, and where it found
/// one or none, the far detector's, most likely first.
#[derive(Debug, Clone)]
struct Seen {
    faces: Vec<Head>,
    heads: Vec<Head>,
    /// Which way the face mesh sees the lone face turned (the near detector's one, or the far
    /// one's lone head), when it sees one there; measured with `heads`.
    pose: Option<Pose>,
    /// When the far detector ran for `heads`.
    head_ms: u64,
}

/// A picture that differs from the last one the detector saw by less than this in every region
/// (mean absolute difference of its grey levels; a camera's noise is 1-3) shows the same faces.
const STILL_REGION_DIFFERENCE: f32 = 8.0;
/// The detector runs at least this often, still picture or not.
const MAX_REUSE_MS: u64 = 5_000;
/// While the near detector sees as many faces as before, the far one (several times its cost) runs
/// at most this often; in between, a changed picture keeps its last answer, never one older than
/// this. A change in the near detector's count (a face lost, a second one, a head turning away)
/// brings the far one at once, so this bounds only how late it finds what the near one cannot
/// see: a second person far behind, or a face coming back too small for the near one.
const HEAD_EVERY_MS: u64 = 2_000;
/// The near detector's one face moving its nose tip by this much of the way from the eyes to the
/// mouth (a head bowing or rising), or turning by [`YAW_STEADY`] degrees, brings the far detector
/// at once, which judges the bow (and the face mesh with it, the raise and the turn).
const NOSE_PLACE_STEADY: f32 = 0.04;
const YAW_STEADY: f32 = 10.0;

/// Whether `b` shows what `a` showed: no region of an 8x8 grid changed by more than
/// [`STILL_REGION_DIFFERENCE`] on average (every second pixel of every second row compared).
fn looks_the_same(a: &Grey, b: &Grey) -> bool {
    if (a.width, a.height) != (b.width, b.height) || a.width < 16 || a.height < 16 {
        return false;
    }
    let (w, h) = (a.width as usize, a.height as usize);
    let (rw, rh) = (w / 8, h / 8);
    (0..64).all(|region| {
        let (x0, y0) = ((region % 8) * rw, (region / 8) * rh);
        let (mut sum, mut n) = (0u32, 0u32);
        for y in (y0..y0 + rh).step_by(2) {
            for x in (x0..x0 + rw).step_by(2) {
                sum += u32::from(a.pixels[y * w + x].abs_diff(b.pixels[y * w + x]));
                n += 1;
            }
        }
        (sum as f32) < STILL_REGION_DIFFERENCE * n.max(1) as f32
    })
}

impl VisionAnalyzer {
    /// `faces`, `heads`: the detectors, or `None` when they could not load (their flags are then
    /// off: without `faces` every face flag, without `heads` the turned head, and missing or
    /// several faces are judged by the near detector alone).
    pub fn new(opts: VisionOptions, faces: Option<FaceDetector>, heads: Option<HeadDetector>) -> VisionAnalyzer {
        let h = opts.face;
        // The covered and frozen conditions are judged on their own clocks: on at once, off after 1 s.
        let quick = Hysteresis { on_ms: h.on_ms, off_ms: 1_000 };
        VisionAnalyzer {
            missing: FlagTracker::new("face.missing", h),
            multiple: FlagTracker::new("face.multiple", h),
            turned: FlagTracker::new("face.turned", h),
            frontal: Frontal::nose_place(),
            mesh: None,
            mesh_frontal: Frontal::new(MESH_FRONTAL_PITCH, MESH_FRONTAL_SPREAD),
            covered: FlagTracker::new("camera.covered", quick),
            frozen_open: None,
            heads: heads.filter(|_| opts.wants_faces()),
            opts,
            faces,
            last: None,
            last_ms: 0,
            same_since: None,
            next_ms: 0,
            last_faces: None,
            detections: 0,
            head_detections: 0,
            failure: None,
            failures: 0,
        }
    }

    /// With the face mesh, which judges a raised or turned head and confirms the faces the far
    /// detector is unsure of (without it a raised head is not judged, a turned one by the
    /// detectors' key points, and only sure faces count).
    pub fn with_mesh(mut self, mesh: Option<FaceMesh>) -> VisionAnalyzer {
        self.mesh = mesh.filter(|_| self.opts.wants_faces() && self.heads.is_some());
        self
    }

    /// Why the face detectors could not search the first picture they failed on, once (the
    /// caller says it; such pictures leave the face flags as they were), and how many pictures
    /// they have failed on so far.
    pub fn take_failure(&mut self) -> Option<(DetectError, u64)> {
        self.failure.take().map(|e| (e, self.failures))
    }

    /// How many pictures the face detector has run on (a still picture reuses the last result).
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// How many pictures the head detector has run on.
    pub fn head_detections(&self) -> u64 {
        self.head_detections
    }

    /// Whether a picture taken at `t_ms` is due (pictures between analyses are skipped).
    pub fn wants(&self, t_ms: u64) -> bool {
        t_ms >= self.next_ms
    }

    /// Analyses a picture taken at `t_ms`: the flags that opened or closed.
    pub fn push(&mut self, t_ms: u64, grey: Grey) -> Vec<Edge> {
        if !self.wants(t_ms) {
            return Vec::new();
        }
        self.next_ms = t_ms + (1000.0 / self.opts.fps.max(0.1)) as u64;
        let mut edges = Vec::new();
        let (mean, spread) = grey.mean_and_spread();
        // Covered or in the dark: little light and nothing to tell apart.
        let dark = mean < 28.0 && spread < 12.0;
        if self.opts.camera_covered {
            edges.extend(self.covered.step(t_ms, dark, 1.0 - mean / 255.0));
        }
        if self.opts.camera_frozen {
            edges.extend(self.frozen_step(t_ms, &grey));
        }
        if dark {
            // A covered camera shows no face either; it is one flag (covered), not two.
            if self.opts.face_missing {
                edges.extend(self.missing.step(t_ms, false, 0.0));
            }
            if self.opts.face_turned && self.heads.is_some() {
                edges.extend(self.turned.step(t_ms, false, 0.0));
            }
        } else if let Some(seen) = self.seen(t_ms, &grey) {
            // Which way the candidate is facing: the near detector's one face, or where it sees
            // none, the far detector's lone head (a head turned far, or far away).
            let lone = match (&seen.faces[..], &seen.heads[..]) {
                ([face], _) | ([], [face]) => Some(*face),
                _ => None,
            };
            // How far it is bowed: the far detector's lone head (its key points follow a bow
            // more evenly from face to face than the near one's), against this candidate's
            // frontal; judged when it last ran (at most 2 s ago).
            let far = match &seen.heads[..] {
                [head] => Some(*head),
                _ => None,
            };
            let bowed = far.filter(|h| pitch_degrees(h.nose_place, self.frontal.reading()) >= self.opts.bowed_degrees);
            // How far it is raised: the face mesh's pitch of the lone face (BlazeFace's key
            // points hardly follow a raised head), against this candidate's frontal.
            let raised = seen
                .pose
                .filter(|p| raised_degrees(p.pitch_degrees, self.mesh_frontal.reading()) >= self.opts.raised_degrees)
                .and(lone);
            // How far it is turned: the face mesh's yaw where it read the lone face (when the
            // far detector last ran), else the detector's key points'.
            let yaw = |h: &Head| seen.pose.map_or(h.yaw_degrees, |p| p.yaw_degrees);
            if let Some(h) =
                far.filter(|h| yaw(h).abs() < self.opts.turned_degrees && bowed.is_none() && raised.is_none())
            {
                if seen.head_ms == t_ms {
                    self.frontal.observe(h.nose_place);
                    if let Some(p) = seen.pose {
                        self.mesh_frontal.observe(p.pitch_degrees);
                    }
                }
            }
            let turned = lone
                .filter(|h| yaw(h).abs() >= self.opts.turned_degrees)
                .or(bowed.filter(|_| lone.is_some()))
                .or(raised);
            if self.opts.face_missing {
                // Missing: neither detector sees a face. A head turned away is there (its own
                // flag), and so is a face too small for the near detector.
                edges.extend(self.missing.step(t_ms, seen.faces.is_empty() && seen.heads.is_empty(), 1.0));
            }
            if self.opts.face_multiple {
                // Several: either detector sees more than one face; as sure as its second face.
                let many = if seen.faces.len() >= seen.heads.len() { &seen.faces } else { &seen.heads };
                edges.extend(self.multiple.step(t_ms, many.len() > 1, many.get(1).map_or(0.0, |h| h.score)));
            }
            if self.opts.face_turned && self.heads.is_some() {
                edges.extend(self.turned.step(t_ms, turned.is_some(), turned.map_or(0.0, |h| h.score)));
            }
        }
        self.last = Some(grey);
        self.last_ms = t_ms;
        edges
    }

    /// What the face detectors see in `grey`, taken at `t_ms` (`None` without the face model,
    /// or when they cannot search it: that failure is kept for [`Self::take_failure`]).
    fn seen(&mut self, t_ms: u64, grey: &Grey) -> Option<Seen> {
        match self.detect(t_ms, grey) {
            Ok(seen) => seen,
            Err(e) => {
                self.failures += 1;
                if self.failures == 1 {
                    self.failure = Some(e);
                }
                None
            }
        }
    }

    /// [`Self::seen`]'s detection. A picture that shows what the last detected one showed has the
    /// same faces, and keeps the far detector's until they are [`HEAD_EVERY_MS`] old; a changed
    /// picture is detected again.
    fn detect(&mut self, t_ms: u64, grey: &Grey) -> Result<Option<Seen>, DetectError> {
        let Some(detector) = self.faces.as_ref() else { return Ok(None) };
        let reused = self
            .last_faces
            .as_mut()
            .filter(|(at, picture, _)| t_ms.saturating_sub(*at) < MAX_REUSE_MS && looks_the_same(picture, grey));
        if let Some((at, _, seen)) = reused {
            // The same picture, but heads kept from an earlier one are looked for again once due:
            // a still picture never carries heads older than that allows.
            if seen.head_ms < *at && t_ms.saturating_sub(seen.head_ms) >= HEAD_EVERY_MS {
                (seen.heads, seen.pose) = heads_of(
                    &self.heads,
                    &self.mesh,
                    &seen.faces,
                    grey,
                    &mut self.head_detections,
                    self.opts.face_turned,
                )?;
                seen.head_ms = t_ms;
            }
            return Ok(Some(seen.clone()));
        }
        self.detections += 1;
        let faces = detector.faces(grey)?;
        // One face or none: which heads does the far detector see? (It finds faces too small or
        // turned too far for the near one: far away, looking away, or a second person behind.)
        // With as many near faces as before, and the one face's nose where it was (not
        // bowing or turning), its last answer stands for a while.
        let steady = |a: &[Head], b: &[Head]| match (a, b) {
            ([a], [b]) => {
                (a.nose_place - b.nose_place).abs() < NOSE_PLACE_STEADY
                    && (a.yaw_degrees - b.yaw_degrees).abs() < YAW_STEADY
            }
            _ => a.len() == b.len(),
        };
        let ((heads, pose), head_ms) = match self.last_faces.as_ref().map(|(_, _, seen)| seen) {
            Some(last)
                if steady(&last.faces, &faces)
                    && faces.len() <= 1
                    && t_ms.saturating_sub(last.head_ms) < HEAD_EVERY_MS =>
            {
                ((last.heads.clone(), last.pose), last.head_ms)
            }
            _ => (
                heads_of(&self.heads, &self.mesh, &faces, grey, &mut self.head_detections, self.opts.face_turned)?,
                t_ms,
            ),
        };
        let seen = Seen { faces, heads, pose, head_ms };
        self.last_faces = Some((t_ms, grey.clone(), seen.clone()));
        Ok(Some(seen))
    }

    /// Frozen: the same picture as the one before, since the first of them. It opens once that
    /// has lasted `frozen_ms` (starting where the still picture began) and closes at the first
    /// picture that differs.
    fn frozen_step(&mut self, t_ms: u64, grey: &Grey) -> Option<Edge> {
        let same = self.last.as_ref() == Some(grey);
        if !same {
            self.same_since = None;
            return self.frozen_open.take().map(Edge::Close);
        }
        let since = *self.same_since.get_or_insert(self.last_ms);
        if let Some(f) = self.frozen_open.as_mut() {
            f.end_ms = t_ms;
            return None;
        }
        (t_ms - since >= self.opts.frozen_ms).then(|| {
            self.frozen_open = Some(Flag {
                kind: "camera.frozen",
                start_ms: since,
                end_ms: t_ms,
                peak: 1.0,
                severity: "warning",
                accommodation: None,
            });
            Edge::Open { kind: "camera.frozen", start_ms: since }
        })
    }

    /// The end of the pictures at `t_ms`: flags still open close there.
    pub fn finish(&mut self, t_ms: u64) -> Vec<Edge> {
        let mut edges: Vec<Edge> = [&mut self.missing, &mut self.multiple, &mut self.turned, &mut self.covered]
            .into_iter()
            .filter_map(|t| t.finish(t_ms).map(Edge::Close))
            .collect();
        edges.extend(self.frozen_open.take().map(Edge::Close));
        edges
    }
}

/// The far detector's heads in `grey` where the near one found one face or none (its runs
/// counted in `runs`; those it is unsure of where the face mesh sees a face), and with `pose`
/// which way the face mesh sees the lone face turned: the near detector's one, or where it found
/// none, the far one's lone head.
fn heads_of(
    heads: &Option<HeadDetector>,
    mesh: &Option<FaceMesh>,
    faces: &[Head],
    grey: &Grey,
    runs: &mut u64,
    pose: bool,
) -> Result<(Vec<Head>, Option<Pose>), DetectError> {
    let Some(detector) = heads.as_ref().filter(|_| faces.len() <= 1) else { return Ok((Vec::new(), None)) };
    *runs += 1;
    // The heads it is unsure of count where the face mesh sees a face (without the mesh, none).
    let (mut heads, unsure) = detector.sure_and_unsure(grey)?;
    if let Some(mesh) = mesh {
        for head in unsure {
            if mesh.sees_face(grey, &head)? {
                heads.push(head);
            }
        }
    }
    let lone = match (faces, &heads[..]) {
        ([face], _) | ([], [face]) => Some(face),
        _ => None,
    };
    let pose = match (mesh, lone) {
        (Some(mesh), Some(face)) if pose => mesh.pose(grey, face)?,
        _ => None,
    };
    Ok((heads, pose))
}

/// The face mesh's pitch of a head facing the camera, for a face not seen before, and how far a
/// candidate's own may be from it: the two test faces read 5 and 9 degrees.
const MESH_FRONTAL_PITCH: f32 = 7.0;
const MESH_FRONTAL_SPREAD: f32 = 10.0;
/// The mesh's reading moves by less than the head: this many degrees of the head per degree of
/// the reading (least squares on the two test faces rendered raised by 10-40 degrees, as far as
/// the detectors still find them: raised by 30 they read 33 and 28 degrees, by 20 17 and 15).
const MESH_PITCH_GAIN: f32 = 1.45;

/// How far a head whose mesh reads `pitch` is raised, against the candidate's `frontal` reading:
/// degrees, positive when raised.
fn raised_degrees(pitch: f32, frontal: f32) -> f32 {
    (frontal - pitch) * MESH_PITCH_GAIN
}

/// Every camera flag in a raw video file (YUV4MPEG2), in the order they closed: the offline
/// twin of the live analysis (`vigil analyze`, the accuracy benchmark).
pub fn flags_in_y4m(path: &Path, mut analyzer: VisionAnalyzer) -> Result<Vec<Flag>, crate::y4m::Y4mError> {
    let mut video = crate::y4m::Y4mReader::open(path)?;
    let (mut n, mut last_ms, mut edges) = (0u64, 0u64, Vec::new());
    while let Some(frame) = video.next_frame()? {
        last_ms = (n as f64 * 1000.0 / f64::from(video.fps)) as u64;
        if analyzer.wants(last_ms) {
            edges.extend(
                analyzer.push(last_ms, Grey::from_luma(&frame, video.width, video.height, video.width as usize)),
            );
        }
        n += 1;
    }
    edges.extend(analyzer.finish(last_ms));
    Ok(edges
        .into_iter()
        .filter_map(|e| match e {
            Edge::Close(flag) => Some(flag),
            Edge::Open { .. } => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(v: u8) -> Grey {
        Grey { width: 320, height: 240, pixels: vec![v; 320 * 240] }
    }

    fn noise(seed: u32) -> Grey {
        let mut x = seed.wrapping_mul(2654435761).max(1);
        let pixels = (0..320 * 240)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 200) as u8 + 30
            })
            .collect();
        Grey { width: 320, height: 240, pixels }
    }

    fn opened(edges: &[Edge]) -> Vec<(&'static str, u64)> {
        edges
            .iter()
            .filter_map(|e| match e {
                Edge::Open { kind, start_ms } => Some((*kind, *start_ms)),
                Edge::Close(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_dark_picture_for_three_seconds_is_covered_and_a_still_one_frozen() {
        let opts = VisionOptions { face_missing: false, face_multiple: false, ..Default::default() };
        let mut a = VisionAnalyzer::new(opts, None, None);
        let mut edges = Vec::new();
        for t in (0..10_000).step_by(500) {
            edges.extend(a.push(t, if (2_000..8_000).contains(&t) { flat(5) } else { noise(t as u32) }));
        }
        // Dark from 2 s: covered at 5 s (from 2 s); the same picture from 2 s: frozen at 7 s (from 2 s).
        let open = opened(&edges);
        assert!(open.contains(&("camera.covered", 2_000)), "{edges:?}");
        assert!(open.contains(&("camera.frozen", 2_000)), "{edges:?}");
        let closed: Vec<_> =
            edges.iter().filter_map(|e| if let Edge::Close(f) = e { Some((f.kind, f.end_ms)) } else { None }).collect();
        assert!(closed.contains(&("camera.covered", 7_500)), "{edges:?}");
        assert!(closed.contains(&("camera.frozen", 7_500)), "{edges:?}");
        // A moving picture is neither.
        let mut b = VisionAnalyzer::new(
            VisionOptions { face_missing: false, face_multiple: false, ..Default::default() },
            None,
            None,
        );
        let edges: Vec<Edge> = (0..10_000).step_by(500).flat_map(|t| b.push(t, noise(t as u32))).collect();
        assert!(edges.is_empty(), "{edges:?}");
    }

    #[test]
    fn a_still_picture_reuses_the_faces_found_a_changed_one_does_not() {
        let detector = FaceDetector::load(&models_dir()).unwrap();
        let mut a = VisionAnalyzer::new(VisionOptions::default(), Some(detector), None);
        let picture = noise(1);
        // The same scene with a camera's noise (a grey level or two) for 4 s: detected once.
        for (i, t) in (0..4_000).step_by(500).enumerate() {
            let mut p = picture.clone();
            p.pixels.iter_mut().skip(i % 3).step_by(3).for_each(|v| *v = v.saturating_add(2));
            a.push(t, p);
        }
        assert_eq!(a.detections(), 1);
        // Still, but 5 s on: detected again.
        a.push(5_000, picture.clone());
        assert_eq!(a.detections(), 2);
        // One region changes (someone comes into a corner of the picture): detected again.
        let mut changed = picture.clone();
        for y in 0..30 {
            changed.pixels[y * 320..y * 320 + 40].fill(250);
        }
        a.push(5_500, changed);
        assert_eq!(a.detections(), 3);
    }

    #[test]
    fn the_head_detector_runs_every_two_seconds_on_nobody_and_a_still_picture_keeps_no_older_head() {
        let dir = models_dir();
        let heads = HeadDetector::load(&dir).unwrap();
        let mut a = VisionAnalyzer::new(VisionOptions::default(), Some(FaceDetector::load(&dir).unwrap()), Some(heads));
        // A picture that changes twice a second for 10 s, never with a face: faces looked for in
        // each, heads in every fourth one.
        for t in (0..10_000).step_by(500) {
            a.push(t, noise(t as u32 + 1));
        }
        assert_eq!((a.detections(), a.head_detections()), (20, 5));
        a.push(10_000, noise(7));
        // A new picture at 10.4 s keeps the heads of 10 s; it then stays still. Reused until
        // 11.9 s (its heads under 2 s old), its heads are looked for again at 12.4 s, and then
        // kept with it.
        let still = noise(8);
        for t in (10_400..15_000).step_by(500) {
            a.push(t, still.clone());
            let heads = a.head_detections();
            assert_eq!(heads, if t < 12_400 { 6 } else { 7 }, "at {t} ms");
        }
        assert_eq!(a.detections(), 22);
        assert!(a.take_failure().is_none());
    }

    #[test]
    fn a_picture_the_detectors_cannot_search_is_no_answer_not_a_missing_face() {
        let dir = models_dir();
        let detectors = (FaceDetector::load(&dir).unwrap(), HeadDetector::load(&dir).unwrap());
        let mut a = VisionAnalyzer::new(VisionOptions::default(), Some(detectors.0), Some(detectors.1));
        // A camera that gives 16x12 pictures (a broken driver): nothing to look for faces in.
        let tiny = |seed: u32| Grey { width: 16, height: 12, pixels: noise(seed).pixels[..16 * 12].to_vec() };
        let edges: Vec<Edge> = (0..10_000).step_by(500).flat_map(|t| a.push(t, tiny(t as u32))).collect();
        assert!(edges.is_empty(), "no flag from pictures nobody could search: {edges:?}");
        let (error, count) = a.take_failure().expect("the failure is told");
        assert_eq!((error.code(), count), ("analysis.picture_too_small", 20));
        assert!(a.take_failure().is_none(), "told once");
        // Searchable pictures with no face: missing, as before.
        let edges: Vec<Edge> = (10_000..20_000).step_by(500).flat_map(|t| a.push(t, noise(t as u32))).collect();
        assert_eq!(opened(&edges), vec![("face.missing", 10_000)]);
    }

    #[test]
    fn a_corrupt_or_missing_model_is_an_error_with_a_code() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(FaceDetector::load(dir.path()).unwrap_err().code(), "analysis.model_missing");
        std::fs::write(dir.path().join(FACE_MODEL), b"not a model").unwrap();
        assert_eq!(FaceDetector::load(dir.path()).unwrap_err().code(), "analysis.model_corrupt");
        assert!(FaceDetector::load(&models_dir()).is_ok());
    }
}

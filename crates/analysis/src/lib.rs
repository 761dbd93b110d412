//! On-device analysis: detectors turn the recording's signals into **flags**, intervals with a
//! start, an end and a peak confidence, made with hysteresis so that one cough or one blink is
//! not a flag. One detector finds speech in the microphone signal (earshot's neural voice
//! detector, weights compiled in, 16 kHz); the organiser's screen-reader accommodation
//! ([`vigil_core::policy::Accommodations`]) turns its flags into notes or off.
//!
//! - [`flag`]: [`Flag`] and the hysteresis [`FlagTracker`];
//! - [`speech`]: [`SpeechDetector`] over 16 kHz mono samples;
//! - [`vision`]: face (missing, several, turned away) and camera (covered, frozen) flags from grey
//!   pictures;
//! - [`blazeface`]: the face detectors both come from (MediaPipe's BlazeFace, run with tract);
//! - [`head`]: the far-sighted one, which also tells which way a lone head is turned;
//! - [`mesh`]: MediaPipe's face mesh, which tells how far a lone head is raised;
//! - [`y4m`]: raw video files (YUV4MPEG2), for `vigil analyze` and a file camera;
//! - [`wav`]: PCM WAV files for `vigil analyze`.

pub mod blazeface;
pub mod flag;
pub mod head;
pub mod mesh;
pub mod speech;
pub mod vision;
pub mod wav;
pub mod y4m;

pub use flag::{Edge, Flag, FlagTracker, Hysteresis};
pub use speech::{SpeechDetector, SpeechOptions};

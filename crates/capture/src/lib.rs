//! Vigil's capture: sources (camera through nokhwa, its pictures taken straight to I420 by [`yuv`], or a synthetic pattern, microphone through
//! cpal, every monitor through X11 shared memory, wlroots' screencopy, the desktop portal with PipeWire, or xcap), encoders (H.264 through openh264, Opus), crash-safe
//! fragmented-MP4 segments in the spool, and the app's live preview ([`preview`]). Each source runs on its own thread with a bounded queue.
//! Knows nothing of the network: the spool is the hand-off to the uplink.

pub mod blank;
pub mod camera;
pub mod encode;
pub mod frame;
pub mod h264skip;
pub mod microphone;
#[cfg(target_os = "linux")]
mod pipewire_video;
#[cfg(target_os = "linux")]
pub mod portal;
pub mod preview;
#[cfg(target_os = "linux")]
mod pulse;
pub mod recorder;
pub mod screen;
pub mod segment;
pub mod source;
#[cfg(target_os = "linux")]
pub mod wlr;
#[cfg(target_os = "linux")]
pub mod x11;
pub mod yuv;

pub use recorder::{record, CameraMode, RecordError, RecordOptions, RecordSummary, RecorderStatus};

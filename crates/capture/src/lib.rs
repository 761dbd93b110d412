//! Vigil's capture sources. For now: the microphone through cpal, with a short level probe used
//! by the system check. Camera (nokhwa) and monitor (xcap) capture follow the same shape.

pub mod microphone;

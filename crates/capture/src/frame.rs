//! Raw media as it leaves a source.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Rgb8,
    Rgba8,
    /// Blue, green, red, one unused byte (X11's native 24-bit layout).
    Bgrx8,
    /// Planar Y, then U, then V at 4:2:0: what the encoder takes, so a source may convert early.
    I420,
}

impl PixelFormat {
    /// Bytes of a `width` x `height` picture in this format.
    pub fn frame_len(self, width: usize, height: usize) -> usize {
        match self {
            PixelFormat::Rgb8 => width * height * 3,
            PixelFormat::Rgba8 | PixelFormat::Bgrx8 => width * height * 4,
            PixelFormat::I420 => width * height * 3 / 2,
        }
    }
}

/// One picture. `captured` is the time since the recording started (the media clock), set by
/// the thread that paces the source.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    /// Empty when `unchanged`.
    pub data: Vec<u8>,
    pub captured: Duration,
    /// The source knows the picture is the same as its previous one (nothing was grabbed).
    pub unchanged: bool,
}

/// Mono samples in -1..1 at 48 kHz.
#[derive(Debug, Clone)]
pub struct AudioChunk {
    pub samples: Vec<f32>,
    pub captured: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{device}: not found{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    NotFound { device: String, hint: Option<String> },
    #[error("{device}: {message}")]
    Device { device: String, message: String },
    #[error("{device} is gone: {message}")]
    Lost { device: String, message: String },
    /// This desktop does not let Vigil see the device the way it asked (Xwayland's black root).
    #[error("{device} cannot be recorded here: {message}")]
    Unsupported { device: String, message: String },
}

impl CaptureError {
    /// A stable machine code: `capture.not_found`, `capture.device`, `capture.lost`, `capture.unsupported`.
    pub fn code(&self) -> &'static str {
        match self {
            CaptureError::NotFound { .. } => "capture.not_found",
            CaptureError::Device { .. } => "capture.device",
            CaptureError::Lost { .. } => "capture.lost",
            CaptureError::Unsupported { .. } => "capture.unsupported",
        }
    }
}

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

impl VideoFrame {
    /// A picture the source knows is the same as its last one: no pixels, and the encoder writes
    /// a skip picture.
    pub fn unchanged(width: u32, height: u32) -> VideoFrame {
        VideoFrame {
            width,
            height,
            format: PixelFormat::I420,
            data: Vec::new(),
            captured: Duration::ZERO,
            unchanged: true,
        }
    }

    /// The RGB colour of the pixel at (`x`, `y`) (BT.601 for I420).
    fn rgb_at(&self, x: usize, y: usize) -> [u8; 3] {
        let (w, h) = (self.width as usize, self.height as usize);
        let at = |i: usize| self.data.get(i).copied().unwrap_or(0);
        match self.format {
            PixelFormat::Rgb8 => {
                let i = (y * w + x) * 3;
                [at(i), at(i + 1), at(i + 2)]
            }
            PixelFormat::Rgba8 => {
                let i = (y * w + x) * 4;
                [at(i), at(i + 1), at(i + 2)]
            }
            PixelFormat::Bgrx8 => {
                let i = (y * w + x) * 4;
                [at(i + 2), at(i + 1), at(i)]
            }
            PixelFormat::I420 => {
                let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
                let luma = f32::from(at(y * w + x)) - 16.0;
                let c = (y / 2) * cw + x / 2;
                let u = f32::from(at(w * h + c)) - 128.0;
                let v = f32::from(at(w * h + cw * ch + c)) - 128.0;
                let px = |f: f32| f.round().clamp(0.0, 255.0) as u8;
                let l = 1.164 * luma;
                [px(l + 1.596 * v), px(l - 0.392 * u - 0.813 * v), px(l + 2.017 * u)]
            }
        }
    }

    /// A small JPEG of the picture, at most `max_width` wide (shrunk by whole steps, aspect
    /// kept): a flag's evidence. `None` for a frame without pixels (`unchanged`).
    pub fn thumbnail_jpeg(&self, max_width: u32) -> Option<Result<Vec<u8>, image::ImageError>> {
        if self.data.len() < self.format.frame_len(self.width as usize, self.height as usize) || self.width == 0 {
            return None;
        }
        let step = self.width.div_ceil(max_width.max(1)).max(1) as usize;
        let (w, h) = (self.width as usize / step, self.height as usize / step);
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                rgb.extend(self.rgb_at(x * step, y * step));
            }
        }
        let mut jpeg = Vec::new();
        let encoded = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80).encode(
            &rgb,
            w as u32,
            h as u32,
            image::ExtendedColorType::Rgb8,
        );
        Some(encoded.map(|()| jpeg))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thumbnail_is_a_small_jpeg_with_the_pictures_colour() {
        // 640x480 I420 of pure red (Y 81, U 90, V 240).
        let (w, h) = (640usize, 480usize);
        let mut data = vec![81u8; w * h];
        data.extend(std::iter::repeat_n(90u8, w * h / 4));
        data.extend(std::iter::repeat_n(240u8, w * h / 4));
        let frame = VideoFrame {
            width: 640,
            height: 480,
            format: PixelFormat::I420,
            data,
            captured: Duration::ZERO,
            unchanged: false,
        };
        let jpeg = frame.thumbnail_jpeg(320).unwrap().unwrap();
        let picture = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), (320, 240));
        let [r, g, b] = picture.get_pixel(160, 120).0;
        assert!(r > 220 && g < 40 && b < 40, "{r} {g} {b}");
        let empty = VideoFrame { data: Vec::new(), unchanged: true, ..frame };
        assert!(empty.thumbnail_jpeg(320).is_none());
    }
}

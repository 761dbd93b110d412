//! Cameras: the real one through nokhwa (V4L2, Media Foundation, AVFoundation), and a synthetic
//! one for machines without a camera (CI, this project's test machines).

use crate::frame::{CaptureError, PixelFormat, VideoFrame};
use crate::recorder::CameraMode;
use crate::source::VideoSource;
use std::time::Duration;

/// An opened camera and its description for people.
pub type OpenedCamera = (Box<dyn VideoSource>, String);

/// Opens the camera `mode` names, with its description: the synthetic pattern, or the first
/// real camera at `size` and `fps`. `Ok(None)` when the mode switches the camera off.
pub fn open(mode: CameraMode, size: (u32, u32), fps: u32) -> Result<Option<OpenedCamera>, CaptureError> {
    Ok(match mode {
        CameraMode::None => None,
        CameraMode::Synthetic => Some((Box::new(SyntheticCamera::new(size.0, size.1)), "synthetic camera".into())),
        CameraMode::File(path) => {
            let c = FileCamera::open(&path)?;
            let name = format!("file camera {} ({}x{} at {} fps)", path.display(), c.width, c.height, c.fps);
            Some((Box::new(c), name))
        }
        CameraMode::Auto => {
            let c = NokhwaCamera::open(0, size.0, size.1, fps)?;
            let name = c.name().to_owned();
            Some((Box::new(c), name))
        }
    })
}

/// A YUV4MPEG2 file played as the camera: in a loop, at the file's own frame rate whatever rate
/// the recorder asks for pictures at (it gets the picture due at that moment).
pub struct FileCamera {
    path: std::path::PathBuf,
    reader: vigil_analysis::y4m::Y4mReader,
    width: u32,
    height: u32,
    fps: f32,
    started: Option<std::time::Instant>,
    /// Pictures read so far (over every loop), and the last one.
    read: u64,
    last: Vec<u8>,
}

impl FileCamera {
    pub fn open(path: &std::path::Path) -> Result<FileCamera, CaptureError> {
        let bad = |e: vigil_analysis::y4m::Y4mError| CaptureError::Device {
            device: "file camera".into(),
            message: e.to_string(),
        };
        let mut reader = vigil_analysis::y4m::Y4mReader::open(path).map_err(bad)?;
        let first = reader.next_frame().map_err(bad)?.ok_or_else(|| CaptureError::Device {
            device: "file camera".into(),
            message: format!("{}: no picture in the file", path.display()),
        })?;
        let (width, height, fps) = (reader.width, reader.height, reader.fps);
        Ok(FileCamera { path: path.to_owned(), reader, width, height, fps, started: None, read: 1, last: first })
    }

    fn next(&mut self) -> Result<Vec<u8>, CaptureError> {
        let bad = |e: vigil_analysis::y4m::Y4mError| CaptureError::Lost {
            device: "file camera".into(),
            message: e.to_string(),
        };
        if let Some(frame) = self.reader.next_frame().map_err(bad)? {
            return Ok(frame);
        }
        // The end: from the start again.
        self.reader = vigil_analysis::y4m::Y4mReader::open(&self.path).map_err(bad)?;
        self.reader.next_frame().map_err(bad)?.ok_or_else(|| {
            bad(vigil_analysis::y4m::Y4mError::Format {
                path: self.path.display().to_string(),
                detail: "the file became empty".into(),
            })
        })
    }
}

impl VideoSource for FileCamera {
    fn id(&self) -> &str {
        "camera"
    }

    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn grab(&mut self) -> Result<VideoFrame, CaptureError> {
        let started = *self.started.get_or_insert_with(std::time::Instant::now);
        let due = (started.elapsed().as_secs_f64() * f64::from(self.fps)) as u64 + 1;
        while self.read < due {
            self.last = self.next()?;
            self.read += 1;
        }
        Ok(VideoFrame {
            width: self.width,
            height: self.height,
            format: PixelFormat::I420,
            data: self.last.clone(),
            captured: Duration::ZERO,
            unchanged: false,
        })
    }
}

/// A moving test pattern with a frame counter bar, 640x480 by default, made straight in I420 (the
/// encoder's format, as a real camera's pictures are converted to). Changes every frame, like a
/// real camera's noise does, so the encoder does real work. Each picture is cut from a larger
/// pattern drawn once, at an offset that moves: copying rows, not computing pixels.
pub struct SyntheticCamera {
    width: u32,
    height: u32,
    frame: u64,
    /// The luma pattern, [`PERIOD`] wider and taller than a picture.
    luma: Vec<u8>,
    /// One row of the U plane's pattern, [`PERIOD`] / 2 longer than a picture's chroma row.
    chroma_row: Vec<u8>,
}

/// The pattern repeats every this many pixels across and down.
const PERIOD: usize = 400;

impl SyntheticCamera {
    pub fn new(width: u32, height: u32) -> SyntheticCamera {
        let (width, height) = (width & !1, height & !1);
        let (pw, ph) = (width as usize + PERIOD, height as usize + PERIOD);
        // A diagonal gradient under squares of half its brightness (periodic in 400 pixels).
        let luma = (0..ph)
            .flat_map(|y| (0..pw).map(move |x| (16 + ((x + y) % 200) / (1 + (x / 40 + y / 40) % 2)) as u8))
            .collect();
        let chroma_row = (0..width as usize / 2 + PERIOD / 2).map(|x| (64 + x % 128) as u8).collect();
        SyntheticCamera { width, height, frame: 0, luma, chroma_row }
    }
}

impl VideoSource for SyntheticCamera {
    fn id(&self) -> &str {
        "camera"
    }

    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn grab(&mut self) -> Result<VideoFrame, CaptureError> {
        let (w, h) = (self.width as usize, self.height as usize);
        let t = self.frame as usize;
        let pw = w + PERIOD;
        let mut data = Vec::with_capacity(crate::yuv::i420_len(self.width, self.height));
        // The pattern slides right and down, at different speeds.
        let (dx, dy) = ((t * 4) % PERIOD, (t * 2) % PERIOD);
        for y in 0..h {
            let start = (y + dy) * pw + dx;
            data.extend_from_slice(&self.luma[start..start + w]);
        }
        // A white bar whose length counts frames: every frame differs.
        let bar = (t * 7) % w;
        for y in h - 16..h {
            data[y * w..y * w + bar].fill(235);
        }
        // Chroma: U drifts across, V down.
        let (cw, ch) = (w / 2, h / 2);
        let shift = t % (PERIOD / 2);
        for _ in 0..ch {
            data.extend_from_slice(&self.chroma_row[shift..shift + cw]);
        }
        for y in 0..ch {
            data.extend(std::iter::repeat_n((64 + (y + t) % 128) as u8, cw));
        }
        self.frame += 1;
        Ok(VideoFrame {
            width: self.width,
            height: self.height,
            format: PixelFormat::I420,
            data,
            captured: Duration::ZERO, // stamped by the pacer
            unchanged: false,
        })
    }
}

/// The first camera nokhwa finds, asked for `width`x`height` at `fps` in YUYV (or what it offers
/// closest: MJPEG, NV12), each picture taken straight to I420 by [`crate::yuv`].
pub struct NokhwaCamera {
    name: String,
    size: (u32, u32),
    requests: std::sync::mpsc::SyncSender<()>,
    frames: std::sync::mpsc::Receiver<Result<VideoFrame, CaptureError>>,
}

impl NokhwaCamera {
    pub fn open(index: u32, width: u32, height: u32, fps: u32) -> Result<NokhwaCamera, CaptureError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (req_tx, req_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let (frame_tx, frame_rx) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("camera".into())
            .spawn(move || {
                let mut camera = match open_nokhwa(index, width, height, fps) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let name = camera.info().human_name();
                let r = camera.resolution();
                let _ = ready_tx.send(Ok((name.clone(), (r.width(), r.height()))));
                while req_rx.recv().is_ok() {
                    let frame = camera
                        .frame()
                        .map_err(|e| CaptureError::Lost { device: name.clone(), message: e.to_string() })
                        .and_then(|buffer| {
                            to_i420(&buffer)
                                .map_err(|e| CaptureError::Device { device: name.clone(), message: e.to_string() })
                        });
                    if frame_tx.send(frame).is_err() {
                        break;
                    }
                }
                let _ = camera.stop_stream();
            })
            .map_err(|e| CaptureError::Device { device: format!("camera {index}"), message: e.to_string() })?;
        let (name, size) = ready_rx.recv().map_err(|_| CaptureError::Device {
            device: format!("camera {index}"),
            message: "camera thread ended".into(),
        })??;
        Ok(NokhwaCamera { name, size, requests: req_tx, frames: frame_rx })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A camera's picture, in whatever format it sent, as I420.
fn to_i420(buffer: &nokhwa::Buffer) -> Result<VideoFrame, crate::yuv::ConvertError> {
    use crate::yuv;
    use nokhwa::utils::FrameFormat;
    let (raw, r) = (buffer.buffer(), buffer.resolution());
    let (mut width, mut height) = (r.width(), r.height());
    let data = match buffer.source_frame_format() {
        FrameFormat::YUYV => yuv::yuyv_to_i420(raw, width, height)?,
        FrameFormat::NV12 => yuv::nv12_to_i420(raw, width, height)?,
        FrameFormat::GRAY => yuv::grey_to_i420(raw, width, height)?,
        FrameFormat::RAWRGB => yuv::rgb_to_i420(raw, width, height, false)?,
        FrameFormat::RAWBGR => yuv::rgb_to_i420(raw, width, height, true)?,
        FrameFormat::MJPEG => {
            let (w, h, data) = yuv::mjpeg_to_i420(raw)?;
            (width, height) = (w, h);
            data
        }
    };
    Ok(VideoFrame { width, height, format: PixelFormat::I420, data, captured: Duration::ZERO, unchanged: false })
}

fn open_nokhwa(index: u32, width: u32, height: u32, fps: u32) -> Result<nokhwa::Camera, CaptureError> {
    use nokhwa::utils::{CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution};
    let device = format!("camera {index}");
    let found = nokhwa::query(nokhwa::utils::ApiBackend::Auto)
        .map_err(|e| CaptureError::Device { device: device.clone(), message: e.to_string() })?;
    if found.is_empty() {
        return Err(CaptureError::NotFound { device, hint: Some("no camera is connected".into()) });
    }
    let wanted = CameraFormat::new(Resolution::new(width, height), FrameFormat::YUYV, fps);
    let format = RequestedFormat::new::<nokhwa::pixel_format::RgbFormat>(RequestedFormatType::Closest(wanted));
    let mut camera = nokhwa::Camera::new(CameraIndex::Index(index), format)
        .map_err(|e| CaptureError::Device { device: device.clone(), message: e.to_string() })?;
    camera.open_stream().map_err(|e| CaptureError::Device { device, message: e.to_string() })?;
    Ok(camera)
}

impl VideoSource for NokhwaCamera {
    fn id(&self) -> &str {
        "camera"
    }

    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn grab(&mut self) -> Result<VideoFrame, CaptureError> {
        let gone = || CaptureError::Lost { device: self.name.clone(), message: "camera thread ended".into() };
        self.requests.send(()).map_err(|_| gone())?;
        self.frames.recv().map_err(|_| gone())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_camera_is_a_clear_error() {
        // This project's machines have no /dev/video*: nokhwa's V4L2 query finds nothing.
        match NokhwaCamera::open(0, 640, 480, 15) {
            Err(CaptureError::NotFound { hint, .. }) => assert!(hint.unwrap().contains("no camera")),
            Err(other) => panic!("expected NotFound, got {other}"),
            Ok(cam) => panic!("found a camera ({}) on a machine that has none", cam.name()),
        }
    }

    #[test]
    fn synthetic_frames_differ() {
        let mut cam = SyntheticCamera::new(640, 480);
        let (a, b) = (cam.grab().unwrap(), cam.grab().unwrap());
        assert_eq!((a.format, a.data.len()), (PixelFormat::I420, 640 * 480 * 3 / 2));
        assert_ne!(a.data, b.data);
    }
}

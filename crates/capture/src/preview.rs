//! A live camera preview (JPEG pictures, about 8 a second) and microphone level, as the app's
//! check screen shows them, and the identity photos taken from the same preview. The app starts
//! it only after consent, and drops it (which releases the devices) before recording starts.

use crate::microphone::LevelMeter;
use crate::source::VideoSource;
use crate::CameraMode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_core::StopToken;

#[derive(Default)]
struct Latest {
    /// The last camera picture as JPEG.
    jpeg: Option<Vec<u8>>,
    camera_error: Option<String>,
    /// RMS level of the last 100 ms, dBFS.
    mic_dbfs: Option<f64>,
    mic_error: Option<String>,
}

/// Camera and microphone threads feeding the preview until dropped.
pub struct Preview {
    stop: StopToken,
    latest: Arc<Mutex<Latest>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// What the check screen shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PreviewFrame {
    /// The last camera picture (JPEG), when the camera delivered one.
    #[serde(skip)]
    pub jpeg: Option<Vec<u8>>,
    pub camera_error: Option<String>,
    pub mic_dbfs: Option<f64>,
    pub mic_error: Option<String>,
}

fn open_camera(mode: CameraMode) -> Result<Box<dyn VideoSource>, String> {
    match crate::camera::open(mode, (640, 480), 15) {
        Ok(Some((camera, _))) => Ok(camera),
        Ok(None) => Err("the camera is switched off for this session".into()),
        Err(e) => Err(e.to_string()),
    }
}

impl Preview {
    pub fn start(camera: CameraMode, microphone: bool) -> Preview {
        let stop = StopToken::new();
        let latest = Arc::new(Mutex::new(Latest::default()));
        let mut threads = Vec::new();
        {
            let (stop, latest) = (stop.clone(), latest.clone());
            threads.push(std::thread::spawn(move || camera_loop(camera, &stop, &latest)));
        }
        if microphone {
            let (stop, latest) = (stop.clone(), latest.clone());
            threads.push(std::thread::spawn(move || mic_loop(&stop, &latest)));
        } else {
            lock(&latest).mic_error = Some("the microphone is switched off for this session".into());
        }
        Preview { stop, latest, threads }
    }

    pub fn frame(&self) -> PreviewFrame {
        let l = lock(&self.latest);
        PreviewFrame {
            jpeg: l.jpeg.clone(),
            camera_error: l.camera_error.clone(),
            mic_dbfs: l.mic_dbfs,
            mic_error: l.mic_error.clone(),
        }
    }

    /// The current camera picture (JPEG), for an identity photo.
    pub fn snapshot(&self) -> Option<Vec<u8>> {
        lock(&self.latest).jpeg.clone()
    }
}

impl Drop for Preview {
    /// Releases the devices before returning, so that recording can open them.
    fn drop(&mut self) {
        self.stop.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn lock(m: &Mutex<Latest>) -> std::sync::MutexGuard<'_, Latest> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn camera_loop(mode: CameraMode, stop: &StopToken, latest: &Mutex<Latest>) {
    let mut camera = match open_camera(mode) {
        Ok(c) => c,
        Err(e) => {
            lock(latest).camera_error = Some(e);
            return;
        }
    };
    while !stop.is_stopped() {
        let began = Instant::now();
        match camera.grab().map_err(|e| e.to_string()).and_then(|f| match f.thumbnail_jpeg(f.width) {
            Some(jpeg) => jpeg.map_err(|e| e.to_string()),
            None => Err(format!("the camera sent an empty {:?} picture", f.format)),
        }) {
            Ok(jpeg) => {
                let mut l = lock(latest);
                l.jpeg = Some(jpeg);
                l.camera_error = None;
            }
            Err(e) => {
                lock(latest).camera_error = Some(e);
                return;
            }
        }
        // About 8 pictures a second is smooth enough for a preview and cheap.
        stop.wait(Duration::from_millis(125).saturating_sub(began.elapsed()));
    }
}

fn mic_loop(stop: &StopToken, latest: &Mutex<Latest>) {
    let (tx, rx) = crossbeam_channel::bounded(64);
    let stream = match crate::microphone::start_stream(tx, Instant::now(), Arc::default()) {
        Ok(s) => s,
        Err(e) => {
            lock(latest).mic_error = Some(e.to_string());
            return;
        }
    };
    let mut meter = LevelMeter::default();
    while !stop.is_stopped() {
        if let Ok(e) = stream.errors.try_recv() {
            lock(latest).mic_error = Some(e);
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(chunk) => {
                meter.add(chunk.samples);
                if meter.samples() >= 4800 {
                    lock(latest).mic_dbfs = meter.rms_dbfs();
                    meter = LevelMeter::default();
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_shows_the_cameras_i420_pictures_as_jpeg() {
        let preview = Preview::start(CameraMode::Synthetic, false);
        let deadline = Instant::now() + Duration::from_secs(5);
        let jpeg = loop {
            if let Some(jpeg) = preview.snapshot() {
                break jpeg;
            }
            assert!(Instant::now() < deadline, "no picture: {:?}", preview.frame().camera_error);
            std::thread::sleep(Duration::from_millis(20));
        };
        let picture = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), (640, 480));
        // The synthetic pattern has colour: the chroma planes made it through.
        let coloured = picture.pixels().filter(|p| p.0.iter().max().unwrap() - p.0.iter().min().unwrap() > 30).count();
        assert!(coloured > 640 * 480 / 4, "{coloured} coloured pixels");
        assert_eq!(preview.frame().mic_error.as_deref(), Some("the microphone is switched off for this session"));
    }
}

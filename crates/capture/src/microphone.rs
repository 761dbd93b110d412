//! Microphone capture through cpal (ALSA on Linux, where PulseAudio or PipeWire sit behind the
//! `default` device), and a level probe: RMS and peak in dBFS over a few seconds.

use crate::frame::CaptureError;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::SampleFormat;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vigil_core::facts::MicLevel;

/// Running sums of a level measurement.
#[derive(Debug, Default, Clone, Copy)]
pub struct LevelMeter {
    sum_squares: f64,
    peak: f64,
    samples: u64,
}

impl LevelMeter {
    pub fn add(&mut self, samples: impl IntoIterator<Item = f32>) {
        for s in samples {
            let s = f64::from(s);
            self.sum_squares += s * s;
            self.peak = self.peak.max(s.abs());
            self.samples += 1;
        }
    }

    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// RMS in dBFS (a full-scale sine is -3.01 dBFS), or `None` before any sample.
    pub fn rms_dbfs(&self) -> Option<f64> {
        (self.samples > 0).then(|| to_dbfs((self.sum_squares / self.samples as f64).sqrt()))
    }

    pub fn peak_dbfs(&self) -> Option<f64> {
        (self.samples > 0).then(|| to_dbfs(self.peak))
    }
}

/// Amplitude (0..1) to dBFS; silence is clamped to -120 dBFS so that JSON stays finite.
pub fn to_dbfs(amplitude: f64) -> f64 {
    (20.0 * amplitude.max(1e-6).log10()).max(-120.0)
}

/// Records `duration` from the default input device and measures its level.
/// Never panics: trouble is reported in `MicLevel::error`.
pub fn probe_level(duration: Duration) -> MicLevel {
    let mut level = MicLevel {
        device: None,
        seconds: 0.0,
        sample_rate: 0,
        channels: 0,
        samples: 0,
        rms_dbfs: None,
        peak_dbfs: None,
        error: None,
    };
    if let Err(e) = probe_into(duration, &mut level) {
        level.error = Some(e.to_string());
    }
    level
}

fn probe_into(duration: Duration, level: &mut MicLevel) -> Result<(), CaptureError> {
    let host = cpal::default_host();
    let device = host.default_input_device().ok_or_else(not_found)?;
    level.device = Some(device.description().map(|d| d.name().to_owned()).unwrap_or_else(|_| device.to_string()));
    let supported =
        device.default_input_config().map_err(|e| device_err(format!("cannot read the input format: {e}")))?;
    let config = supported.config();
    level.sample_rate = config.sample_rate;
    level.channels = config.channels;

    let (tx, rx) = mpsc::sync_channel::<Vec<f32>>(64);
    let (err_tx, err_rx) = mpsc::channel::<String>();
    let on_error = move |e: cpal::Error| {
        let _ = err_tx.send(e.to_string());
    };
    let stream = match supported.sample_format() {
        SampleFormat::F32 => build::<f32>(&device, &config, tx, on_error),
        SampleFormat::I16 => build::<i16>(&device, &config, tx, on_error),
        SampleFormat::I32 => build::<i32>(&device, &config, tx, on_error),
        SampleFormat::U16 => build::<u16>(&device, &config, tx, on_error),
        SampleFormat::U8 => build::<u8>(&device, &config, tx, on_error),
        SampleFormat::I8 => build::<i8>(&device, &config, tx, on_error),
        other => return Err(device_err(format!("unsupported sample format {other}"))),
    }
    .map_err(|e| device_err(format!("cannot open the microphone: {e}")))?;
    stream.play().map_err(|e| device_err(format!("cannot start the microphone: {e}")))?;

    let mut meter = LevelMeter::default();
    let wanted = (duration.as_secs_f64() * f64::from(config.sample_rate) * f64::from(config.channels)) as u64;
    let deadline = Instant::now() + duration + Duration::from_secs(3);
    while meter.samples() < wanted {
        if let Ok(e) = err_rx.try_recv() {
            return Err(CaptureError::Lost { device: "microphone".into(), message: e });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(chunk) => meter.add(chunk),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(stream);
    level.samples = meter.samples();
    level.seconds = meter.samples() as f64 / (f64::from(config.sample_rate) * f64::from(config.channels.max(1)));
    level.rms_dbfs = meter.rms_dbfs();
    level.peak_dbfs = meter.peak_dbfs();
    if meter.samples() == 0 {
        return Err(CaptureError::Device {
            device: "microphone".into(),
            message: "the microphone delivered no samples".into(),
        });
    }
    Ok(())
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    tx: mpsc::SyncSender<Vec<f32>>,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: cpal::SizedSample,
    f32: cpal::FromSample<T>,
{
    device.build_input_stream::<T, _, _>(
        *config,
        move |data: &[T], _| {
            // A full queue drops the chunk rather than blocking the audio thread.
            let _ = tx.try_send(data.iter().map(|s| s.to_sample::<f32>()).collect());
        },
        on_error,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_levels() {
        let mut m = LevelMeter::default();
        assert_eq!(m.rms_dbfs(), None);
        m.add((0..48_000).map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 48_000.0).sin()));
        let rms = m.rms_dbfs().unwrap();
        assert!((rms - (-9.03)).abs() < 0.05, "rms {rms}");
        assert!((m.peak_dbfs().unwrap() - (-6.02)).abs() < 0.05);
        let mut silent = LevelMeter::default();
        silent.add([0.0; 100]);
        assert_eq!(silent.rms_dbfs(), Some(-120.0));
    }
}

/// A running microphone capture: mono f32 chunks at 48 kHz with their sample-clock position.
pub struct MicrophoneStream {
    _stream: Running,
    pub device: String,
    /// Errors from the audio thread (device unplugged, server gone).
    pub errors: mpsc::Receiver<String>,
}

/// Mono samples and the position (in 48 kHz samples since the recording's epoch) of the first.
#[derive(Debug)]
pub struct MicChunk {
    pub at_samples: u64,
    pub samples: Vec<f32>,
}

/// What keeps the sound coming; dropping it stops the capture.
enum Running {
    Cpal(#[allow(dead_code)] cpal::Stream),
    #[cfg(target_os = "linux")]
    Pulse(#[allow(dead_code)] crate::pulse::PulseReader),
}

/// Opens the default input at 48 kHz (mono if it can, else down-mixed) and sends chunks to `tx`.
/// A full queue drops the chunk rather than blocking the audio thread; drops are counted.
pub fn start_stream(
    tx: crossbeam_channel::Sender<MicChunk>,
    epoch: Instant,
    dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Result<MicrophoneStream, CaptureError> {
    // The sound server's own client where one answers (PulseAudio, or PipeWire's PulseAudio
    // service: every Linux desktop); cpal (ALSA here, the platform's API elsewhere) otherwise.
    #[cfg(target_os = "linux")]
    {
        let (err_tx, err_rx) = mpsc::channel::<String>();
        match crate::pulse::start(tx.clone(), epoch, dropped.clone(), err_tx) {
            Ok(reader) => {
                let device = reader.device.clone();
                return Ok(MicrophoneStream { _stream: Running::Pulse(reader), device, errors: err_rx });
            }
            Err(e) => tracing::info!("{e}; trying the microphone through cpal"),
        }
    }
    let host = cpal::default_host();
    let device = host.default_input_device().ok_or_else(not_found)?;
    let name = device.description().map(|d| d.name().to_owned()).unwrap_or_else(|_| device.to_string());
    let default =
        device.default_input_config().map_err(|e| device_err(format!("cannot read the input format: {e}")))?;
    let (err_tx, err_rx) = mpsc::channel::<String>();
    let mut last_error = String::new();
    // Fragments of 100 ms: with the sound server's default a recording stream gets its sound in
    // 2 s lumps, late for the live analysis; much smaller ones cost CPU for nothing (cpal's
    // PulseAudio client clears a 1 MiB buffer for every read: 3 % of a core at 21 ms). Not every
    // backend takes a fixed size.
    let tries = [1u16, default.channels()]
        .into_iter()
        .flat_map(|channels| [(channels, cpal::BufferSize::Fixed(4800)), (channels, cpal::BufferSize::Default)]);
    for (channels, buffer_size) in tries {
        let config = cpal::StreamConfig { channels, sample_rate: 48_000, buffer_size };
        let tx = tx.clone();
        let err_tx = err_tx.clone();
        let dropped = dropped.clone();
        let mut position: Option<u64> = None;
        let result = device.build_input_stream::<f32, _, _>(
            config,
            move |data: &[f32], _| {
                let ch = channels as usize;
                // The first chunk's samples end now: it began its own length ago.
                let start = *position.get_or_insert_with(|| {
                    ((epoch.elapsed().as_secs_f64() * 48_000.0) as u64).saturating_sub((data.len() / ch) as u64)
                });
                let mono: Vec<f32> = if ch == 1 {
                    data.to_vec()
                } else {
                    data.chunks(ch).map(|f| f.iter().sum::<f32>() / ch as f32).collect()
                };
                position = Some(start + mono.len() as u64);
                if tx.try_send(MicChunk { at_samples: start, samples: mono }).is_err() {
                    dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            },
            move |e| {
                let _ = err_tx.send(e.to_string());
            },
            None,
        );
        match result {
            Ok(stream) => {
                stream.play().map_err(|e| device_err(format!("cannot start the microphone: {e}")))?;
                return Ok(MicrophoneStream { _stream: Running::Cpal(stream), device: name, errors: err_rx });
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(device_err(format!("cannot open {name} at 48 kHz: {last_error}")))
}

fn not_found() -> CaptureError {
    CaptureError::NotFound {
        device: "microphone".into(),
        hint: Some("no default input device: is a microphone connected?".into()),
    }
}

fn device_err(message: String) -> CaptureError {
    CaptureError::Device { device: "microphone".into(), message }
}

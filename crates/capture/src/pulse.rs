//! The microphone through the sound server's own client library (libpulse; PipeWire serves the
//! same protocol): the default source, mono 48 kHz float, read in fragments of 100 ms by one
//! thread that sleeps in between. cpal's pure-Rust PulseAudio client wakes a few hundred times a
//! second and clears a 1 MiB buffer on every read (1.5-1.8 % of a core in the record benchmark);
//! this costs a third of that or less, most of it in libpulse's own thread. Where no sound server
//! answers (none is started for Vigil), the caller falls back to cpal.

use crate::frame::CaptureError;
use crate::microphone::MicChunk;
use libpulse_binding::callbacks::ListResult;
use libpulse_binding::context::{Context, FlagSet, State};
use libpulse_binding::def::BufferAttr;
use libpulse_binding::mainloop::standard::{IterateResult, Mainloop};
use libpulse_binding::sample::{Format, Spec};
use libpulse_binding::stream::Direction;
use libpulse_simple_binding::Simple;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Samples per read: 100 ms at 48 kHz (late enough to be cheap, early enough for the live
/// speech flag).
const FRAGMENT: usize = 4_800;

/// What `stop` holds while the capture runs.
const RUNNING: u64 = u64::MAX;

/// Reads after a stop, at most: the sound still in the server's buffers (its latency, under a
/// fragment here) and the fragment being filled, with room for a clock that runs a little slow.
const READS_AFTER_STOP: u32 = 5;

/// A running capture from the sound server's default source. Dropping it stops it once the sound
/// captured up to that moment has arrived (the server's latency and one fragment later, about
/// 0.2 s): a recording's sound ends where its pictures end.
pub(crate) struct PulseReader {
    /// The source's description ("Built-in Audio Analog Stereo").
    pub(crate) device: String,
    epoch: Instant,
    /// Where the sound stops, in samples on the recording clock; [`RUNNING`] until then.
    stop: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for PulseReader {
    fn drop(&mut self) {
        self.stop.store(samples_at(self.epoch.elapsed()), Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Samples at 48 kHz in `d`.
fn samples_at(d: Duration) -> u64 {
    (d.as_secs_f64() * 48_000.0) as u64
}

/// Connects to the sound server and starts reading its default source into `tx` (chunks
/// positioned on the recording clock started at `epoch`; a full queue drops the chunk, counted in
/// `dropped`). A read that fails (the server gone) is sent to `errors` and ends the capture.
pub(crate) fn start(
    tx: crossbeam_channel::Sender<MicChunk>,
    epoch: Instant,
    dropped: Arc<AtomicU64>,
    errors: mpsc::Sender<String>,
) -> Result<PulseReader, CaptureError> {
    let device = default_source().ok_or_else(|| CaptureError::Device {
        device: "microphone".into(),
        message: "no sound server (PulseAudio or PipeWire) answered".into(),
    })?;
    let spec = Spec { format: Format::F32le, channels: 1, rate: 48_000 };
    let bytes = (FRAGMENT * std::mem::size_of::<f32>()) as u32;
    // The server's defaults, except the fragment the server sends at a time.
    let attr =
        BufferAttr { maxlength: u32::MAX, tlength: u32::MAX, prebuf: u32::MAX, minreq: u32::MAX, fragsize: bytes };
    let simple = Simple::new(None, "Vigil", Direction::Record, None, "exam recording", &spec, None, Some(&attr))
        .map_err(|e| CaptureError::Device {
            device: "microphone".into(),
            message: format!("the sound server did not open its default source: {e}"),
        })?;
    let stop = Arc::new(AtomicU64::new(RUNNING));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("mic-pulse".into())
            .spawn(move || read(&simple, &stop, &tx, epoch, &dropped, &errors))
            .map_err(|e| CaptureError::Device { device: "microphone".into(), message: e.to_string() })?
    };
    Ok(PulseReader { device, epoch, stop, thread: Some(thread) })
}

/// The description of the sound server's default source, if a server answers within a second
/// (without starting one).
fn default_source() -> Option<String> {
    let mut mainloop = Mainloop::new()?;
    let mut context = Context::new(&mainloop, "Vigil")?;
    context.connect(None, FlagSet::NOAUTOSPAWN, None).ok()?;
    // Set once the server has answered: the description, or none when it has none to give.
    let answer: Rc<RefCell<Option<Option<String>>>> = Rc::default();
    let (deadline, mut asked) = (Instant::now() + Duration::from_secs(1), false);
    while Instant::now() < deadline {
        if let IterateResult::Quit(_) | IterateResult::Err(_) = mainloop.iterate(false) {
            return None;
        }
        match context.get_state() {
            State::Ready if !asked => {
                asked = true;
                let answer = answer.clone();
                context.introspect().get_source_info_by_name("@DEFAULT_SOURCE@", move |result| {
                    let mut answer = answer.borrow_mut();
                    match result {
                        ListResult::Item(info) => *answer = Some(info.description.as_ref().map(|d| d.to_string())),
                        ListResult::End | ListResult::Error => {
                            answer.get_or_insert(None);
                        }
                    }
                });
            }
            State::Failed | State::Terminated => return None,
            _ => {}
        }
        if let Some(description) = answer.borrow_mut().take() {
            context.disconnect();
            return Some(description.unwrap_or_else(|| "the sound server's default source".into()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

fn read(
    simple: &Simple,
    stop: &AtomicU64,
    tx: &crossbeam_channel::Sender<MicChunk>,
    epoch: Instant,
    dropped: &AtomicU64,
    errors: &mpsc::Sender<String>,
) {
    let mut bytes = vec![0u8; FRAGMENT * std::mem::size_of::<f32>()];
    let mut position: Option<u64> = None;
    let mut reads_after_stop = 0;
    loop {
        let stop_at = stop.load(Ordering::Relaxed);
        if stop_at != RUNNING {
            // Stopped: read on until the sound up to the stop has come (none is owed before the
            // first fragment).
            if position.is_none_or(|p| p >= stop_at) || reads_after_stop == READS_AFTER_STOP {
                return;
            }
            reads_after_stop += 1;
        }
        if let Err(e) = simple.read(&mut bytes) {
            let _ = errors.send(format!("the sound server stopped sending sound: {e}"));
            return;
        }
        // The first fragment's last sample was captured the server's latency ago (what is still
        // in its buffers and the source's own delay); the fragment began its length before that.
        let start = *position.get_or_insert_with(|| {
            let latency = simple.get_latency().map_or(0, |l| l.0);
            tracing::debug!("microphone: the sound server's latency is {} ms", latency / 1000);
            let end = samples_at(epoch.elapsed().saturating_sub(Duration::from_micros(latency)));
            end.saturating_sub(FRAGMENT as u64)
        });
        let mut samples: Vec<f32> =
            bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        // Nothing captured after the stop.
        let stop_at = stop.load(Ordering::Relaxed);
        samples.truncate(usize::try_from(stop_at.saturating_sub(start)).unwrap_or(usize::MAX));
        if samples.is_empty() {
            return;
        }
        position = Some(start + samples.len() as u64);
        if tx.try_send(MicChunk { at_samples: start, samples }).is_err() {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

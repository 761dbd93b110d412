//! Speech in the microphone signal: a 200 Hz high-pass first takes away what a fan or a hum puts
//! below the voice, then earshot's voice detector scores each 16 ms frame at 16 kHz;
//! scores are averaged over quarter seconds (a key click or a tick is one frame, speech is
//! many), and a quarter second whose mean reaches the threshold counts as speech if the signal's
//! loudness also moves like speech (syllables: a spread of at least 4 dB over the last second;
//! earshot alone scores a steady 440 Hz tone 0.84, and a fan's noise is steady too). The flag
//! then needs 1 s of speech with gaps under 1.5 s.

use crate::flag::{Edge, Flag, FlagTracker, Hysteresis};
use vigil_core::policy::{ExamPolicy, SpeechFlags};

/// The detector's sample rate.
pub const SAMPLE_RATE: u32 = 16_000;
/// earshot's frame: 256 samples, 16 ms.
const FRAME: usize = 256;
/// Frames per decision (about a quarter second).
const FRAMES_PER_WINDOW: usize = 16;
/// Frames of loudness kept to judge its movement (about a second).
const ENVELOPE_FRAMES: usize = 62;
/// The spread of frame loudness (standard deviation, dB) below which a signal is steady.
const MIN_SPREAD_DB: f32 = 4.0;

/// A second-order Butterworth high-pass at 200 Hz for 16 kHz (a biquad, direct form I): a fan's
/// rumble and mains hum are below it, a voice's formants above.
#[derive(Debug, Clone, Copy)]
struct HighPass {
    b: [f32; 3],
    a: [f32; 2],
    x: [f32; 2],
    y: [f32; 2],
}

impl HighPass {
    fn new(cutoff_hz: f32) -> HighPass {
        let w0 = std::f32::consts::TAU * cutoff_hz / SAMPLE_RATE as f32;
        let alpha = w0.sin() / (2.0 * std::f32::consts::FRAC_1_SQRT_2);
        let (cos, a0) = (w0.cos(), 1.0 + alpha);
        let b = (1.0 + cos) / 2.0 / a0;
        HighPass { b: [b, -2.0 * b, b], a: [-2.0 * cos / a0, (1.0 - alpha) / a0], x: [0.0; 2], y: [0.0; 2] }
    }

    fn filter(&mut self, sample: i16) -> i16 {
        let x = f32::from(sample);
        let y = self.b[0] * x + self.b[1] * self.x[0] + self.b[2] * self.x[1]
            - self.a[0] * self.y[0]
            - self.a[1] * self.y[1];
        self.x = [x, self.x[0]];
        self.y = [y, self.y[0]];
        y.round().clamp(-32768.0, 32767.0) as i16
    }
}

/// How speech is flagged for one candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeechOptions {
    /// Mean voice score (0-1) over a quarter second that counts as speech.
    pub threshold: f32,
    pub hysteresis: Hysteresis,
    /// With the organiser's screen-reader accommodation: flags are notes, not warnings.
    pub screen_reader_note: bool,
}

impl Default for SpeechOptions {
    fn default() -> Self {
        SpeechOptions {
            threshold: 0.5,
            hysteresis: Hysteresis { on_ms: 1000, off_ms: 1500 },
            screen_reader_note: false,
        }
    }
}

impl SpeechOptions {
    /// The options for `candidate` under `policy`; `None` when speech is not to be flagged at all
    /// (`[analysis] speech = false`, or the screen-reader accommodation with `speech_flags = "off"`),
    /// so it is not computed.
    pub fn for_candidate(policy: &ExamPolicy, candidate: &str) -> Option<SpeechOptions> {
        if !policy.analysis.speech {
            return None;
        }
        let a = &policy.accommodations;
        if !a.screen_reader_for(candidate) {
            return Some(SpeechOptions::default());
        }
        match a.speech_flags {
            SpeechFlags::Off => None,
            SpeechFlags::Note => Some(SpeechOptions { screen_reader_note: true, ..SpeechOptions::default() }),
        }
    }
}

/// Finds speech in a stream of 16 kHz mono samples.
pub struct SpeechDetector {
    vad: earshot::Detector,
    high_pass: HighPass,
    opts: SpeechOptions,
    pending: Vec<i16>,
    window: Vec<f32>,
    /// Loudness of the last frames, in dB.
    envelope: std::collections::VecDeque<f32>,
    /// Samples consumed so far (the stream's clock).
    samples: u64,
    tracker: FlagTracker,
    flags: Vec<Flag>,
}

impl SpeechDetector {
    pub fn new(opts: SpeechOptions) -> SpeechDetector {
        SpeechDetector {
            vad: earshot::Detector::default(),
            high_pass: HighPass::new(200.0),
            opts,
            pending: Vec::with_capacity(FRAME),
            window: Vec::with_capacity(FRAMES_PER_WINDOW),
            envelope: std::collections::VecDeque::with_capacity(ENVELOPE_FRAMES),
            samples: 0,
            tracker: FlagTracker::new("speech", opts.hysteresis),
            flags: Vec::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.samples * 1000 / u64::from(SAMPLE_RATE)
    }

    /// Feeds samples (16 kHz, mono) in order; returns the flags that opened or closed (live use).
    /// Closed flags are also kept for [`SpeechDetector::finish`].
    pub fn push(&mut self, samples: &[i16]) -> Vec<Edge> {
        let mut edges = Vec::new();
        for &s in samples {
            let s = self.high_pass.filter(s);
            self.pending.push(s);
            if self.pending.len() < FRAME {
                continue;
            }
            let score = self.vad.predict_i16(&self.pending);
            let energy = self.pending.iter().map(|&s| f32::from(s) * f32::from(s)).sum::<f32>() / FRAME as f32;
            if self.envelope.len() == ENVELOPE_FRAMES {
                self.envelope.pop_front();
            }
            self.envelope.push_back(10.0 * (energy + 1.0).log10());
            self.pending.clear();
            self.samples += FRAME as u64;
            self.window.push(score);
            if self.window.len() == FRAMES_PER_WINDOW {
                let mean = self.window.iter().sum::<f32>() / self.window.len() as f32;
                self.window.clear();
                let t = self.now_ms();
                let speech = mean >= self.opts.threshold && self.spread_db() >= MIN_SPREAD_DB;
                match self.tracker.step(t, speech, mean) {
                    Some(Edge::Close(f)) => {
                        let f = self.mark(f);
                        self.flags.push(f.clone());
                        edges.push(Edge::Close(f));
                    }
                    Some(open) => edges.push(open),
                    None => {}
                }
            }
        }
        edges
    }

    /// Whether flags are notes for the screen-reader accommodation.
    pub fn options(&self) -> SpeechOptions {
        self.opts
    }

    /// The end of the stream: every flag, in order.
    pub fn finish(mut self) -> Vec<Flag> {
        self.end();
        self.flags
    }

    /// The end of the stream, live: the flag still open, closed now.
    pub fn end(&mut self) -> Option<Flag> {
        let f = self.tracker.finish(self.now_ms()).map(|f| self.mark(f))?;
        self.flags.push(f.clone());
        Some(f)
    }

    /// How much the loudness moved over the last second (standard deviation, dB).
    fn spread_db(&self) -> f32 {
        let n = self.envelope.len() as f32;
        if n < 2.0 {
            return 0.0;
        }
        let mean = self.envelope.iter().sum::<f32>() / n;
        (self.envelope.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt()
    }

    fn mark(&self, mut f: Flag) -> Flag {
        if self.opts.screen_reader_note {
            f.severity = "info";
            f.accommodation = Some("screen_reader");
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accommodation_makes_notes_or_turns_speech_off() {
        let parse = |t: &str| ExamPolicy::parse(t, vigil_core::policy::Format::Toml).unwrap();
        let plain = parse("schema = 1");
        assert_eq!(SpeechOptions::for_candidate(&plain, "Aigerim"), Some(SpeechOptions::default()));
        let note = parse("schema = 1\n[accommodations]\nscreen_reader = [\"Aigerim\"]");
        assert!(SpeechOptions::for_candidate(&note, "aigerim").unwrap().screen_reader_note);
        assert!(!SpeechOptions::for_candidate(&note, "Bolat").unwrap().screen_reader_note);
        let off = parse("schema = 1\n[accommodations]\nscreen_reader = [\"*\"]\nspeech_flags = \"off\"");
        assert_eq!(SpeechOptions::for_candidate(&off, "anyone"), None);
    }

    #[test]
    fn the_high_pass_takes_away_a_hum_and_keeps_a_voice() {
        let rms = |freq: f32| {
            let mut hp = HighPass::new(200.0);
            let out: Vec<f32> = (0..16_000)
                .map(|i| {
                    f32::from(hp.filter(((i as f32 * freq * std::f32::consts::TAU / 16_000.0).sin() * 10_000.0) as i16))
                })
                .skip(1_600)
                .collect();
            (out.iter().map(|v| v * v).sum::<f32>() / out.len() as f32).sqrt()
        };
        let full = 10_000.0 / std::f32::consts::SQRT_2;
        assert!(rms(50.0) < full * 0.08, "50 Hz hum: {}", rms(50.0));
        assert!(rms(1_000.0) > full * 0.95, "1 kHz: {}", rms(1_000.0));
    }

    #[test]
    fn silence_and_a_steady_tone_are_not_speech() {
        let mut d = SpeechDetector::new(SpeechOptions::default());
        d.push(&vec![0i16; 16_000 * 5]);
        let tone: Vec<i16> = (0..16_000 * 5)
            .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin() * 8000.0) as i16)
            .collect();
        d.push(&tone);
        assert_eq!(d.finish(), []);
    }
}

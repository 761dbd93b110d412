//! `cargo bench -p vigil-capture --bench microphone`: what Vigil's microphone encoder
//! ([`vigil_capture::encode::OpusEncoder`]) costs and how clear the speech it keeps is, next to
//! two other ways of setting up Opus: its voice mode (SILK and CELT) at complexity 5 and
//! 32 kbit/s, which Vigil used before, and ffmpeg's default for libopus (the music mode at
//! complexity 10, 32 kbit/s), which the record bench's ffmpeg runs at Vigil's bit rate.
//!
//! The speech is Debian's espeak-ng reading a sentence in English, Russian and Kazakh (sox
//! resamples it to the microphone's 48 kHz mono and normalises it to -3 dB). Each encoder's cost
//! is the least of `ROUNDS` (default 5) encodings, in percent of one core for real-time sound;
//! its clarity is wide-band PESQ (ITU-T P.862.2, 1 poor - 4.64 clear) of the decoded sound
//! against the source, both resampled to 16 kHz, by the PyPI package `pesq` in the Python named
//! by `PESQ_PYTHON` (default `python3`). Without that package the bench prints how to install it
//! and the costs alone:
//!
//! ```text
//! python3 -m venv /tmp/pesq && /tmp/pesq/bin/pip install pesq numpy
//! PESQ_PYTHON=/tmp/pesq/bin/python cargo bench -p vigil-capture --bench microphone
//! ```
//!
//! Prints figures; asserts nothing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use vigil_capture::encode::{OpusEncoder, OPUS_BITRATE, OPUS_FRAME};

const RATE: usize = 48_000;

const SPEECH: [(&str, &str); 3] = [
    ("en", "Please read each question carefully, and write your answer in the box below it. You have forty minutes."),
    ("ru", "Пожалуйста, внимательно прочитайте каждый вопрос и запишите ответ в поле под ним. У вас сорок минут."),
    ("kk", "Әр сұрақты мұқият оқып, жауабыңызды оның астындағы жолға жазыңыз. Сізде қырық минут бар."),
];

/// An encoder, ready for one sound: its samples in, all its packets out.
type Encode = Box<dyn FnMut(&[f32]) -> Vec<Vec<u8>>>;

/// One way of encoding the microphone.
struct Setup {
    name: String,
    make: fn() -> Encode,
}

fn vigil() -> Encode {
    let mut encoder = OpusEncoder::new().expect("Vigil's Opus encoder");
    Box::new(move |samples| {
        let mut packets = encoder.push(samples).expect("an Opus packet");
        packets.extend(encoder.finish().expect("the last packets"));
        packets
    })
}

fn opus(application: opus::Application, complexity: i32) -> Encode {
    let mut encoder = opus::Encoder::new(RATE as u32, opus::Channels::Mono, application).expect("an Opus encoder");
    encoder.set_bitrate(opus::Bitrate::Bits(32_000)).expect("a bit rate");
    encoder.set_complexity(complexity).expect("a complexity");
    Box::new(move |samples| {
        let mut buf = [0u8; 1500];
        let mut padded = samples.to_vec();
        padded.resize(samples.len().div_ceil(OPUS_FRAME) * OPUS_FRAME + OPUS_FRAME, 0.0);
        padded
            .chunks_exact(OPUS_FRAME)
            .map(|frame| {
                let n = encoder.encode_float(frame, &mut buf).expect("an Opus packet");
                buf[..n].to_vec()
            })
            .collect()
    })
}

/// The sound `packets` decode to, without the encoder's look-ahead, as long as `len` samples.
fn decode(packets: &[Vec<u8>], len: usize) -> Vec<f32> {
    let mut decoder = opus::Decoder::new(RATE as u32, opus::Channels::Mono).expect("an Opus decoder");
    let mut sound = Vec::with_capacity(packets.len() * OPUS_FRAME);
    let mut out = [0f32; OPUS_FRAME];
    for packet in packets {
        let n = decoder.decode_float(packet, &mut out, false).expect("a decodable packet");
        sound.extend_from_slice(&out[..n]);
    }
    // Both modes' look-ahead at 48 kHz (6.5 ms); PESQ aligns what is left.
    let lookahead = 312.min(sound.len());
    sound.drain(..lookahead);
    sound.resize(len, 0.0);
    sound
}

/// espeak-ng's reading of `text` in `voice`, at 48 kHz mono, normalised to -3 dB.
fn speech(dir: &Path, voice: &str, text: &str) -> Vec<f32> {
    let wav = dir.join(format!("{voice}.wav"));
    let spoke = Command::new("espeak-ng").args(["-v", voice, "-w"]).arg(&wav).arg(text).status();
    assert!(spoke.is_ok_and(|s| s.success()), "espeak-ng (scripts/install-deps installs it)");
    let raw = dir.join(format!("{voice}.f32"));
    sox(&wav, &[], &raw, RATE, &["norm", "-3"]);
    read_f32(&raw)
}

/// Converts `from` (typed by `from_type`, if raw) to raw 32-bit float at `rate`.
fn sox(from: &Path, from_type: &[&str], to: &Path, rate: usize, effects: &[&str]) {
    let out = Command::new("sox")
        .args(from_type)
        .arg(from)
        .args(["-t", "f32", "-c", "1", "-r", &rate.to_string()])
        .arg(to)
        .args(effects)
        .output()
        .expect("sox (scripts/install-deps installs it)");
    assert!(out.status.success(), "sox: {}", String::from_utf8_lossy(&out.stderr));
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).expect("sox's output");
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn write_f32(path: &Path, samples: &[f32]) {
    std::fs::write(path, samples.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>()).expect("a temporary file");
}

/// Wide-band PESQ of `degraded` against `reference` (raw 32-bit float at 48 kHz), or why not.
fn pesq(dir: &Path, reference: &Path, degraded: &Path) -> Result<f64, String> {
    let at_16k = |path: &Path| {
        let to = path.with_extension("16k.f32");
        sox(path, &["-t", "f32", "-c", "1", "-r", "48000"], &to, 16_000, &[]);
        to
    };
    let (reference, degraded) = (at_16k(reference), at_16k(degraded));
    let python = std::env::var("PESQ_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, numpy\nfrom pesq import pesq\n\
                  r, d = (numpy.fromfile(p, dtype='<f4') for p in sys.argv[1:3])\n\
                  print(pesq(16000, r, d, 'wb'))";
    let out = Command::new(&python)
        .current_dir(dir)
        .args(["-c", script])
        .arg(&reference)
        .arg(&degraded)
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    let printed = String::from_utf8_lossy(&out.stdout);
    printed.trim().parse().map_err(|_| String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("").to_string())
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let setups = [
        Setup { name: format!("Vigil: music mode, c5, {} kbit/s", OPUS_BITRATE / 1000), make: vigil },
        Setup { name: "voice mode, c5, 32 kbit/s".into(), make: || opus(opus::Application::Voip, 5) },
        Setup {
            name: "ffmpeg's default: music mode, c10, 32 kbit/s".into(),
            make: || opus(opus::Application::Audio, 10),
        },
    ];
    let voices: Vec<(&str, Vec<f32>)> =
        SPEECH.iter().map(|(voice, text)| (*voice, speech(dir.path(), voice, text))).collect();
    let seconds: f64 = voices.iter().map(|(_, s)| s.len() as f64 / RATE as f64).sum();
    println!("espeak-ng speech, {seconds:.1} s in all (en, ru, kk), {rounds} rounds; PESQ: wide-band, 16 kHz");
    println!(
        "{:<46} {:>12} {:>9} {:>6} {:>6} {:>6} {:>6}",
        "encoder", "% of a core", "kbit/s", "en", "ru", "kk", "PESQ"
    );
    let mut why_no_pesq = None;
    for setup in &setups {
        let (mut busy, mut bytes, mut scores) = (Duration::ZERO, 0usize, Vec::new());
        for (voice, sound) in &voices {
            let mut fastest = Duration::MAX;
            let mut packets = Vec::new();
            for _ in 0..rounds {
                let mut encode = (setup.make)();
                let started = Instant::now();
                packets = encode(sound);
                fastest = fastest.min(started.elapsed());
            }
            busy += fastest;
            bytes += packets.iter().map(Vec::len).sum::<usize>();
            let (reference, degraded) =
                (dir.path().join(format!("{voice}.f32")), dir.path().join(format!("{voice}.out.f32")));
            write_f32(&degraded, &decode(&packets, sound.len()));
            match pesq(dir.path(), &reference, &degraded) {
                Ok(score) => scores.push(score),
                Err(why) => why_no_pesq = Some(why),
            }
        }
        let score = |i: usize| scores.get(i).map_or("-".to_string(), |s| format!("{s:.2}"));
        let mean = if scores.len() == voices.len() {
            format!("{:.2}", scores.iter().sum::<f64>() / scores.len() as f64)
        } else {
            "-".into()
        };
        println!(
            "{:<46} {:>12.2} {:>9.1} {:>6} {:>6} {:>6} {:>6}",
            setup.name,
            100.0 * busy.as_secs_f64() / seconds,
            bytes as f64 * 8.0 / seconds / 1000.0,
            score(0),
            score(1),
            score(2),
            mean
        );
    }
    if let Some(why) = why_no_pesq {
        println!(
            "PESQ not measured ({why}): python3 -m venv /tmp/pesq && /tmp/pesq/bin/pip install pesq numpy, \
             then PESQ_PYTHON=/tmp/pesq/bin/python"
        );
    }
}

//! PCM WAV files (8 or 16 bit, any rate, any channels) as 16 kHz mono samples for the detectors.

use crate::speech::SAMPLE_RATE;

#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("{0}: not a RIFF/WAVE file")]
    NotWav(String),
    #[error("{0}: only uncompressed PCM with 8 or 16 bits per sample is read (this is format {1}, {2} bits)")]
    Unsupported(String, u16, u16),
    #[error("{0}: cannot read: {1}")]
    Io(String, std::io::Error),
}

impl WavError {
    /// A stable code for messages and exit paths.
    pub fn code(&self) -> &'static str {
        match self {
            WavError::NotWav(_) => "wav.not_wav",
            WavError::Unsupported(..) => "wav.unsupported",
            WavError::Io(..) => "wav.io",
        }
    }
}

/// Reads `path` and returns its samples mixed to mono and resampled to 16 kHz.
pub fn read_16k_mono(path: &std::path::Path) -> Result<Vec<i16>, WavError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| WavError::Io(name.clone(), e))?;
    parse(&bytes).map_err(|e| match e {
        Parse::NotWav => WavError::NotWav(name),
        Parse::Unsupported(f, b) => WavError::Unsupported(name, f, b),
    })
}

enum Parse {
    NotWav,
    Unsupported(u16, u16),
}

fn parse(b: &[u8]) -> Result<Vec<i16>, Parse> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(Parse::NotWav);
    }
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let (mut format, mut channels, mut rate, mut bits, mut data) = (0u16, 0u16, 0u32, 0u16, None);
    let mut at = 12;
    while at + 8 <= b.len() {
        let size = u32_at(at + 4) as usize;
        let body = at + 8;
        let end = body.saturating_add(size).min(b.len());
        match &b[at..at + 4] {
            b"fmt " if size >= 16 && body + 16 <= b.len() => {
                (format, channels, rate, bits) = (u16_at(body), u16_at(body + 2), u32_at(body + 4), u16_at(body + 14));
            }
            b"data" => data = Some(&b[body..end]),
            _ => {}
        }
        at = body.saturating_add(size).saturating_add(size & 1);
    }
    let data = data.ok_or(Parse::NotWav)?;
    // 0xFFFE (extensible) carries PCM too.
    if !(format == 1 || format == 0xFFFE) || !(bits == 8 || bits == 16) || channels == 0 || rate == 0 {
        return Err(Parse::Unsupported(format, bits));
    }
    let per = usize::from(bits / 8) * usize::from(channels);
    let mono: Vec<f32> = data
        .chunks_exact(per)
        .map(|frame| {
            let sum: f32 = frame
                .chunks_exact(usize::from(bits / 8))
                .map(|s| {
                    if bits == 16 {
                        f32::from(i16::from_le_bytes([s[0], s[1]]))
                    } else {
                        (f32::from(s[0]) - 128.0) * 256.0
                    }
                })
                .sum();
            sum / f32::from(channels)
        })
        .collect();
    Ok(resample(&mono, rate, SAMPLE_RATE))
}

/// Linear resampling (enough for a voice detector).
fn resample(x: &[f32], from: u32, to: u32) -> Vec<i16> {
    if x.is_empty() {
        return Vec::new();
    }
    let n = (x.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    (0..n)
        .map(|i| {
            let pos = i as f64 * f64::from(from) / f64::from(to);
            let (j, frac) = (pos as usize, (pos.fract()) as f32);
            let a = x[j.min(x.len() - 1)];
            let b = x[(j + 1).min(x.len() - 1)];
            (a + (b - a) * frac).clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut b = b"RIFF".to_vec();
        b.extend((36 + data.len() as u32).to_le_bytes());
        b.extend(b"WAVEfmt ");
        b.extend(16u32.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(channels.to_le_bytes());
        b.extend(rate.to_le_bytes());
        b.extend((rate * u32::from(channels) * 2).to_le_bytes());
        b.extend((channels * 2).to_le_bytes());
        b.extend(16u16.to_le_bytes());
        b.extend(b"data");
        b.extend((data.len() as u32).to_le_bytes());
        b.extend(data);
        b
    }

    #[test]
    fn stereo_at_48k_becomes_mono_at_16k() {
        let stereo: Vec<i16> = (0..48_000).flat_map(|_| [1000i16, 3000]).collect();
        let out = parse(&wav(48_000, 2, &stereo)).ok().unwrap();
        assert_eq!(out.len(), 16_000);
        assert!(out.iter().all(|s| *s == 2000));
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(matches!(parse(b"not a wav at all"), Err(Parse::NotWav)));
        let mut float = wav(16_000, 1, &[0; 10]);
        float[20] = 3; // IEEE float
        assert!(matches!(parse(&float), Err(Parse::Unsupported(3, 16))));
    }
}

//! Encoders behind traits, so that hardware encoders (VideoToolbox, Media Foundation, VAAPI,
//! NVENC) can stand in later: H.264 through openh264, Opus through libopus.

use crate::frame::{PixelFormat, VideoFrame};
use crate::h264skip::SkipFrames;
use openh264::encoder::{BitRate, Complexity, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, UsageType};
use openh264::formats::{BgraSliceU8, RgbSliceU8, RgbaSliceU8, YUVBuffer, YUVSource};

use openh264::OpenH264API;

/// One encoded picture, its NAL units length-prefixed (MP4 / AVCC layout).
#[derive(Debug, Clone)]
pub struct EncodedVideo {
    pub keyframe: bool,
    pub avcc: Vec<u8>,
}

/// H.264 codec configuration, known after the first key frame.
#[derive(Debug, Clone, PartialEq)]
pub struct H264Config {
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(pub String);

pub trait VideoEncoder: Send {
    /// Encodes `frame`; a key frame when `keyframe` is set. `same_as_last` tells the encoder the
    /// picture did not change, so it may reuse its last input instead of converting again.
    fn encode(&mut self, frame: VideoFrame, keyframe: bool, same_as_last: bool) -> Result<EncodedVideo, EncodeError>;
    /// SPS and PPS, once a key frame has been encoded.
    fn config(&self) -> Option<&H264Config>;
}

/// What a video track is for: it decides the openh264 usage type and bit rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Camera,
    Screen,
}

pub struct OpenH264Encoder {
    encoder: Encoder,
    yuv: Option<YUVBuffer>,
    config: Option<H264Config>,
    /// Skip pictures for unchanged frames (see `h264skip`), once the stream's shape is known.
    skip: Option<SkipFrames>,
    /// The shape was checked (skip pictures are on if `skip` is set).
    skip_checked: bool,
}

/// The encoder's settings for `content` at `width` x `height` and `fps`: the one place they are
/// chosen (the skip pictures' test encodes with them too).
pub fn encoder_config(content: Content, width: u32, height: u32, fps: f32) -> EncoderConfig {
    let pixels = width as f32 * height as f32;
    let (usage, bps) = match content {
        // ~0.1 bit per pixel per frame: 640x480@15 -> ~460 kbit/s.
        Content::Camera => (UsageType::CameraVideoRealTime, (pixels * fps * 0.1) as u32),
        // Screens change rarely and must stay readable: ~0.5 bit per pixel per frame. The
        // screen-content mode keeps scrolled text sharp for a fraction of the camera mode's bytes
        // (`cargo bench -p vigil-capture --bench screen_content`); at `Complexity::Low` Vigil's
        // OpenH264 leaves out its block-hash search (vendor/openh264-sys2/VIGIL.md).
        Content::Screen => (UsageType::ScreenContentRealTime, (pixels * fps * 0.5) as u32),
    };
    EncoderConfig::new()
        .usage_type(usage)
        .bitrate(BitRate::from_bps(bps.max(100_000)))
        .max_frame_rate(FrameRate::from_hz(fps))
        // Key frames come when a segment starts (forced), not on a timer.
        .intra_frame_period(IntraFramePeriod::from_num_frames(0))
        .skip_frames(false)
        // The cheapest search, without the passes that cost more than they give at these rates
        // (measured by the record benchmark).
        .complexity(Complexity::Low)
        .scene_change_detect(false)
        .background_detection(false)
        .adaptive_quantization(false)
        .num_threads(1)
}

impl OpenH264Encoder {
    pub fn new(content: Content, width: u32, height: u32, fps: f32) -> Result<OpenH264Encoder, EncodeError> {
        let config = encoder_config(content, width, height, fps);
        let encoder =
            Encoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| EncodeError(e.to_string()))?;
        Ok(OpenH264Encoder { encoder, yuv: None, config: None, skip: None, skip_checked: false })
    }
}

impl VideoEncoder for OpenH264Encoder {
    fn encode(&mut self, frame: VideoFrame, keyframe: bool, same_as_last: bool) -> Result<EncodedVideo, EncodeError> {
        let dims = (frame.width as usize, frame.height as usize);
        let have_picture = frame.data.len() == frame.format.frame_len(dims.0, dims.1);
        if !have_picture && (!same_as_last || self.yuv.is_none()) {
            return Err(EncodeError(format!(
                "frame of {}x{} has {} bytes and no earlier picture to repeat",
                dims.0,
                dims.1,
                frame.data.len()
            )));
        }
        if !same_as_last || self.yuv.as_ref().is_none_or(|y| y.dimensions() != dims) {
            self.yuv = Some(match frame.format {
                PixelFormat::Rgb8 => YUVBuffer::from_rgb8_source(RgbSliceU8::new(&frame.data, dims)),
                PixelFormat::Rgba8 => YUVBuffer::from_rgba8_source(RgbaSliceU8::new(&frame.data, dims)),
                PixelFormat::Bgrx8 => YUVBuffer::from_bgra8_source(BgraSliceU8::new(&frame.data, dims)),
                PixelFormat::I420 => YUVBuffer::from_vec(frame.data, dims.0, dims.1),
            });
        }
        // An unchanged picture between key frames: a skip picture, without the encoder.
        if same_as_last && !keyframe && self.yuv.is_some() {
            if let Some(skip) = self.skip.as_mut() {
                let nal = skip.skip_picture();
                let mut avcc = Vec::with_capacity(nal.len() + 4);
                avcc.extend((nal.len() as u32).to_be_bytes());
                avcc.extend_from_slice(&nal);
                return Ok(EncodedVideo { keyframe: false, avcc });
            }
        }
        if keyframe {
            self.encoder.force_intra_frame();
        }
        let Some(yuv) = self.yuv.as_ref() else { return Err(EncodeError("no picture".into())) };
        let bitstream = self.encoder.encode(yuv).map_err(|e| EncodeError(e.to_string()))?;
        let (mut sps, mut pps) = (None, None);
        let mut picture: Vec<Vec<u8>> = Vec::new();
        for l in 0..bitstream.num_layers() {
            let Some(layer) = bitstream.layer(l) else { continue };
            for n in 0..layer.nal_count() {
                let Some(nal) = layer.nal_unit(n).map(strip_start_code) else { continue };
                match nal.first().map(|b| b & 0x1f) {
                    Some(7) => sps = Some(nal.to_vec()),
                    Some(8) => pps = Some(nal.to_vec()),
                    Some(_) => picture.push(nal.to_vec()),
                    None => {}
                }
            }
        }
        if let (Some(sps), Some(pps)) = (sps, pps) {
            if !self.skip_checked {
                self.skip = SkipFrames::new(&sps, &pps);
                self.skip_checked = true;
                if self.skip.is_none() {
                    tracing::info!(
                        "this H.264 stream's shape does not allow skip pictures; unchanged frames are encoded"
                    );
                }
            }
            self.config = Some(H264Config { sps, pps });
        }
        // Number the encoder's picture after any skip pictures.
        if let Some(skip) = self.skip.as_mut() {
            match skip.renumber(&picture.iter().map(Vec::as_slice).collect::<Vec<_>>()) {
                Some(renumbered) => picture = renumbered,
                None => {
                    tracing::error!(
                        "cannot renumber an encoded picture; skip pictures are off from the next key frame"
                    );
                    self.skip = None;
                    self.encoder.force_intra_frame();
                }
            }
        }
        let mut out = EncodedVideo { keyframe: false, avcc: Vec::new() };
        for nal in &picture {
            out.keyframe |= nal.first().is_some_and(|b| b & 0x1f == 5);
            out.avcc.extend((nal.len() as u32).to_be_bytes());
            out.avcc.extend_from_slice(nal);
        }
        Ok(out)
    }

    fn config(&self) -> Option<&H264Config> {
        self.config.as_ref()
    }
}

fn strip_start_code(nal: &[u8]) -> &[u8] {
    if nal.starts_with(&[0, 0, 0, 1]) {
        &nal[4..]
    } else if nal.starts_with(&[0, 0, 1]) {
        &nal[3..]
    } else {
        nal
    }
}

/// Opus, 48 kHz mono, 20 ms packets, [`OPUS_BITRATE`].
pub struct OpusEncoder {
    encoder: opus::Encoder,
    pending: Vec<f32>,
}

/// Samples per Opus packet (20 ms at 48 kHz).
pub const OPUS_FRAME: usize = 960;

/// The microphone's bit rate. Opus in its music mode (the MDCT codec, CELT) at complexity 5: at
/// 56 kbit/s it keeps speech as well as its voice mode (SILK and CELT together) at 32 kbit/s
/// (wide-band PESQ 3.60 against 3.50 on espeak-ng speech in English, Russian and Kazakh) for a
/// third of the CPU (0.25-0.29% of a core here against 0.68%; `cargo bench -p vigil-capture
/// --bench microphone`). 3 KB/s more is a small part of what the camera sends.
pub const OPUS_BITRATE: i32 = 56_000;

impl OpusEncoder {
    pub fn new() -> Result<OpusEncoder, EncodeError> {
        let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio)
            .map_err(|e| EncodeError(e.to_string()))?;
        encoder.set_bitrate(opus::Bitrate::Bits(OPUS_BITRATE)).map_err(|e| EncodeError(e.to_string()))?;
        // Complexity 5 of 10: below 7 the music mode does not analyse the signal to choose the
        // voice mode for speech, which would cost as much as that mode does.
        encoder.set_complexity(5).map_err(|e| EncodeError(e.to_string()))?;
        Ok(OpusEncoder { encoder, pending: Vec::with_capacity(OPUS_FRAME * 4) })
    }

    /// Buffers `samples` and returns every complete 20 ms packet.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<Vec<u8>>, EncodeError> {
        self.pending.extend_from_slice(samples);
        let mut packets = Vec::new();
        let mut buf = [0u8; 1500];
        let mut used = 0;
        while self.pending.len() - used >= OPUS_FRAME {
            let n = self
                .encoder
                .encode_float(&self.pending[used..used + OPUS_FRAME], &mut buf)
                .map_err(|e| EncodeError(e.to_string()))?;
            packets.push(buf[..n].to_vec());
            used += OPUS_FRAME;
        }
        self.pending.drain(..used);
        Ok(packets)
    }

    /// The last packets of a stream: what is still buffered and the encoder's look-ahead (which
    /// the decoder drops at the start, 6.5 ms), padded with silence to whole packets. Without
    /// them up to 26 ms of the sound before the stop would not play.
    pub fn finish(&mut self) -> Result<Vec<Vec<u8>>, EncodeError> {
        let lookahead = self.encoder.get_lookahead().map_err(|e| EncodeError(e.to_string()))?;
        let owed = self.pending.len() + usize::try_from(lookahead).unwrap_or(0);
        let silence = vec![0.0; owed.div_ceil(OPUS_FRAME) * OPUS_FRAME - self.pending.len()];
        self.push(&silence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openh264::decoder::Decoder;
    use std::time::Duration;

    const WIDTH: usize = 1920;
    const HEIGHT: usize = 1080;

    /// Everything pushed plays once the stream is finished: the decoder drops the encoder's
    /// look-ahead at the start, and a last part shorter than a packet is padded, not lost.
    #[test]
    fn finished_opus_stream_plays_to_its_last_sample() {
        let tone = |i: usize| 0.5 * (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin();
        let pushed = 48_000 + 500; // not a whole number of packets
        let mut enc = OpusEncoder::new().unwrap();
        let input: Vec<f32> = (0..pushed).map(tone).collect();
        let mut packets = enc.push(&input).unwrap();
        packets.extend(enc.finish().unwrap());
        let lookahead = enc.encoder.get_lookahead().unwrap() as usize;
        let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut decoded = Vec::new();
        for p in &packets {
            let mut out = [0f32; OPUS_FRAME];
            let n = decoder.decode_float(p, &mut out, false).unwrap();
            decoded.extend_from_slice(&out[..n]);
        }
        let played = &decoded[lookahead.min(decoded.len())..];
        assert!(played.len() >= pushed, "{} samples play of {pushed} pushed", played.len());
        // The last 5 ms pushed are the tone, not silence (its RMS is 0.35).
        let tail = &played[pushed - 240..pushed];
        let rms = (tail.iter().map(|s| s * s).sum::<f32>() / tail.len() as f32).sqrt();
        assert!(rms > 0.25, "the last 5 ms play at RMS {rms:.3}");
    }

    /// The luma of a page of "text", black strokes on white in 17-pixel lines, `HEIGHT + 600`
    /// rows tall; the same every time.
    fn page() -> Vec<u8> {
        let rows = HEIGHT + 600;
        let mut luma = vec![235u8; WIDTH * rows];
        let mut seed = 0x2545_f491_u32;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for line in 0..rows / 17 {
            let mut x = 16;
            while x + 8 < WIDTH - 16 {
                let glyph = random();
                if glyph % 7 == 0 {
                    x += 8; // a space between words
                    continue;
                }
                for (bit, (dx, dy)) in (0..6).flat_map(|dx| (0..11).map(move |dy| (dx, dy))).enumerate() {
                    if glyph.rotate_left(bit as u32) & 3 == 0 {
                        luma[(line * 17 + 3 + dy) * WIDTH + x + dx] = 16;
                    }
                }
                x += 8;
            }
        }
        luma
    }

    /// The page's rows from `top`, as an I420 picture.
    fn window(page: &[u8], top: usize) -> VideoFrame {
        let mut data = page[top * WIDTH..(top + HEIGHT) * WIDTH].to_vec();
        data.resize(PixelFormat::I420.frame_len(WIDTH, HEIGHT), 128);
        VideoFrame {
            width: WIDTH as u32,
            height: HEIGHT as u32,
            format: PixelFormat::I420,
            data,
            captured: Duration::ZERO,
            unchanged: false,
        }
    }

    fn annex_b(avcc: &[u8], out: &mut Vec<u8>) {
        let mut rest = avcc;
        while rest.len() > 4 {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(&rest[4..4 + len]);
            rest = &rest[4 + len..];
        }
    }

    /// Screens go through Vigil's patched OpenH264 (vendor/openh264-sys2): a page of text
    /// scrolled a little, more, and by 410 rows decodes as sharp as the first picture, and costs
    /// what its new rows cost, so the motion search found the scroll.
    #[test]
    fn scrolled_text_on_a_screen_stays_sharp_and_cheap() {
        let page = page();
        let mut encoder = OpenH264Encoder::new(Content::Screen, WIDTH as u32, HEIGHT as u32, 1.0).unwrap();
        let mut decoder = Decoder::new().unwrap();
        let mut pictures = Vec::new();
        for (i, top) in [0, 51, 170, 580].into_iter().enumerate() {
            let frame = window(&page, top);
            let source = frame.data[..WIDTH * HEIGHT].to_vec();
            let encoded = encoder.encode(frame, i == 0, false).unwrap();
            let mut stream = Vec::new();
            if i == 0 {
                let config = encoder.config().unwrap();
                for nal in [&config.sps, &config.pps] {
                    stream.extend_from_slice(&[0, 0, 0, 1]);
                    stream.extend_from_slice(nal);
                }
            }
            annex_b(&encoded.avcc, &mut stream);
            let decoded = decoder.decode(&stream).unwrap().expect("a picture");
            let (stride, _, _) = decoded.strides();
            let squared: f64 = (0..HEIGHT)
                .flat_map(|y| (0..WIDTH).map(move |x| (y, x)))
                .map(|(y, x)| (f64::from(decoded.y()[y * stride + x]) - f64::from(source[y * WIDTH + x])).powi(2))
                .sum();
            let psnr = 10.0 * (255.0f64.powi(2) / (squared / (WIDTH * HEIGHT) as f64).max(1e-9)).log10();
            pictures.push((top, encoded.avcc.len(), psnr));
        }
        let (_, first_bytes, first_psnr) = pictures[0];
        for &(top, bytes, psnr) in &pictures[1..] {
            // A few new rows keep the first picture's sharpness; 410 new rows, coded in a P
            // picture on a smaller budget than the key frame's, lose a little (34.8 dB at first,
            // 32.4 here).
            let loss = if top < 500 { 0.5 } else { 3.0 };
            assert!(psnr > first_psnr - loss, "scrolled to row {top}: {psnr:.1} dB against {first_psnr:.1} at first");
            // New rows: 51 and 170 of 1080 (a quarter is plenty), 410 (half is plenty).
            let most = if top < 500 { first_bytes / 4 } else { first_bytes / 2 };
            assert!(bytes < most, "scrolled to row {top}: {bytes} bytes against {first_bytes} for the first picture");
        }
    }
}

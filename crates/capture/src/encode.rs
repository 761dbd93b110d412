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
        // screen-content mode keeps scrolled text sharp for a third of the camera mode's bytes, at
        // ~23 MiB more memory per 1080p screen (`cargo bench -p vigil-capture --bench screen_content`).
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

/// Opus, 48 kHz mono, 20 ms packets.
pub struct OpusEncoder {
    encoder: opus::Encoder,
    pending: Vec<f32>,
}

/// Samples per Opus packet (20 ms at 48 kHz).
pub const OPUS_FRAME: usize = 960;

impl OpusEncoder {
    pub fn new() -> Result<OpusEncoder, EncodeError> {
        let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| EncodeError(e.to_string()))?;
        encoder.set_bitrate(opus::Bitrate::Bits(32_000)).map_err(|e| EncodeError(e.to_string()))?;
        // Complexity 5 of 10: speech at 32 kbit/s sounds the same, for about half the CPU.
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
}

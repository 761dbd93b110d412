//! Skip frames for an unchanged screen, without running the encoder: a P picture whose every
//! macroblock is `P_Skip` (a copy of the reference picture), written bit by bit. It costs
//! microseconds instead of the ~8 ms openh264 spends on a repeated 1080p picture.
//!
//! The skip picture is a reference picture, so the encoder's later pictures must be numbered
//! after it: [`SkipFrames::renumber`] rewrites `frame_num` in the encoder's slice headers (a
//! fixed-width field). That is exact only for the stream shape openh264 produces for Vigil
//! (Baseline, CAVLC, one reference frame, sliding-window marking, picture order type 2), which
//! [`SkipFrames::new`] checks; any other shape disables skip frames and the encoder is used.
//!
//! With one reference frame, every skipped macroblock's predicted motion vector is zero (its
//! left and upper neighbours are skipped too, or absent), so the picture is an exact copy; and
//! the encoder's next picture predicts from its own last picture, which the copy equals.

/// Reads bits from an RBSP (emulation prevention removed).
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(b as u32)
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some((acc << 1) | self.bit()?))
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }

    fn se(&mut self) -> Option<i32> {
        let k = self.ue()?;
        Some(if k % 2 == 1 { k.div_ceil(2) as i32 } else { -((k / 2) as i32) })
    }
}

/// Writes bits MSB first.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn bit(&mut self, b: u32) {
        if self.bits.is_multiple_of(8) {
            self.out.push(0);
        }
        if let (true, Some(last)) = (b != 0, self.out.last_mut()) {
            *last |= 0x80 >> (self.bits % 8);
        }
        self.bits += 1;
    }

    fn bits(&mut self, value: u32, n: u32) {
        for i in (0..n).rev() {
            self.bit((value >> i) & 1);
        }
    }

    fn ue(&mut self, v: u32) {
        let x = v + 1;
        let len = 32 - x.leading_zeros();
        self.bits(0, len - 1);
        self.bits(x, len);
    }

    fn se(&mut self, v: i32) {
        self.ue(if v > 0 { (v as u32) * 2 - 1 } else { (-v as u32) * 2 });
    }

    /// `rbsp_trailing_bits`: a one, then zeros to the byte boundary.
    fn trailing(mut self) -> Vec<u8> {
        self.bit(1);
        self.out
    }
}

/// NAL payload -> RBSP (drops the 0x03 of each `00 00 03`).
fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// RBSP -> NAL payload (inserts 0x03 where `00 00` is followed by 0-3).
fn escape(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Writes skip pictures and keeps the encoder's pictures numbered after them.
#[derive(Debug)]
pub struct SkipFrames {
    log2_max_frame_num: u32,
    pps_id: u32,
    macroblocks: u32,
    /// `frame_num` of the next picture.
    next_frame_num: u32,
}

impl SkipFrames {
    /// From the encoder's SPS and PPS (NAL units without start codes); None when the stream shape
    /// is not one skip pictures are exact for.
    pub fn new(sps: &[u8], pps: &[u8]) -> Option<SkipFrames> {
        let sps = unescape(sps);
        let mut r = BitReader::new(sps.get(1..)?);
        let profile = r.bits(8)?;
        r.bits(16)?; // constraint flags, level
        r.ue()?; // seq_parameter_set_id
        if ![66, 77, 88].contains(&profile) {
            return None; // High profiles carry chroma and scaling fields first
        }
        let log2_max_frame_num = r.ue()? + 4;
        if r.ue()? != 2 {
            return None; // picture order type 2 only: no POC field to keep in step
        }
        if r.ue()? != 1 {
            return None; // one reference frame
        }
        r.bit()?; // gaps_in_frame_num_value_allowed_flag
        let width_mbs = r.ue()? + 1;
        let height_mbs = r.ue()? + 1;
        if r.bit()? != 1 {
            return None; // frames only
        }

        let pps = unescape(pps);
        let mut r = BitReader::new(pps.get(1..)?);
        let pps_id = r.ue()?;
        r.ue()?; // seq_parameter_set_id
        if r.bit()? != 0 {
            return None; // CABAC
        }
        r.bit()?; // bottom_field_pic_order_in_frame_present_flag
        if r.ue()? != 0 {
            return None; // slice groups
        }
        r.ue()?; // num_ref_idx_l0_default_active_minus1 (overridden in the skip slice)
        r.ue()?;
        if r.bit()? != 0 {
            return None; // weighted prediction
        }
        r.bits(2)?;
        r.se()?;
        r.se()?;
        r.se()?;
        if r.bit()? != 1 {
            return None; // the skip slice turns the deblocking filter off explicitly
        }
        r.bit()?; // constrained_intra_pred_flag
        if r.bit()? != 0 {
            return None; // redundant pictures
        }
        Some(SkipFrames { log2_max_frame_num, pps_id, macroblocks: width_mbs * height_mbs, next_frame_num: 0 })
    }

    fn max_frame_num(&self) -> u32 {
        1 << self.log2_max_frame_num
    }

    /// One encoded picture's NAL units (without start codes), numbered in this stream. Returns
    /// None for a picture it cannot renumber (then skip frames must stop: see [`Self::disable`]).
    pub fn renumber(&mut self, nals: &[&[u8]]) -> Option<Vec<Vec<u8>>> {
        let mut out = Vec::with_capacity(nals.len());
        let mut saw_picture = false;
        let frame_num = self.next_frame_num;
        for nal in nals {
            match nal.first().map(|b| b & 0x1f) {
                Some(5) => {
                    // IDR: frame_num is 0 and numbering starts again after it.
                    saw_picture = true;
                    self.next_frame_num = 0;
                    out.push(nal.to_vec());
                }
                Some(1) => {
                    saw_picture = true;
                    let rbsp = unescape(nal);
                    let mut r = BitReader::new(&rbsp[1..]);
                    r.ue()?; // first_mb_in_slice
                    r.ue()?; // slice_type
                    if r.ue()? != self.pps_id {
                        return None;
                    }
                    let at = 8 + r.pos; // bit offset of frame_num in the RBSP
                    let mut rbsp = rbsp;
                    for i in 0..self.log2_max_frame_num {
                        let bit = (frame_num >> (self.log2_max_frame_num - 1 - i)) & 1;
                        let p = at + i as usize;
                        let mask = 0x80u8 >> (p % 8);
                        let byte = rbsp.get_mut(p / 8)?;
                        *byte = if bit == 1 { *byte | mask } else { *byte & !mask };
                    }
                    out.push(escape(&rbsp));
                }
                _ => out.push(nal.to_vec()),
            }
        }
        if saw_picture {
            self.next_frame_num = (self.next_frame_num + 1) % self.max_frame_num();
        }
        Some(out)
    }

    /// A P picture that repeats the last one: one slice, every macroblock skipped.
    pub fn skip_picture(&mut self) -> Vec<u8> {
        let mut w = BitWriter::default();
        w.bits(0x61, 8); // forbidden 0, nal_ref_idc 3 (a reference picture), type 1
        w.ue(0); // first_mb_in_slice
        w.ue(0); // slice_type P
        w.ue(self.pps_id);
        w.bits(self.next_frame_num, self.log2_max_frame_num);
        w.bit(1); // num_ref_idx_active_override_flag
        w.ue(0); // num_ref_idx_l0_active_minus1: one reference
        w.bit(0); // ref_pic_list_modification_flag_l0
        w.bit(0); // adaptive_ref_pic_marking_mode_flag: sliding window
        w.se(0); // slice_qp_delta
        w.ue(1); // disable_deblocking_filter_idc: off
        w.ue(self.macroblocks); // mb_skip_run: all of them
        self.next_frame_num = (self.next_frame_num + 1) % self.max_frame_num();
        escape(&w.trailing())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openh264::decoder::Decoder;
    use openh264::encoder::Encoder;
    use openh264::formats::{RgbSliceU8, YUVBuffer, YUVSource};
    use openh264::OpenH264API;

    fn nals(bitstream: &[u8]) -> Vec<Vec<u8>> {
        // Annex B -> NAL units.
        let mut out = Vec::new();
        let mut i = 0;
        let starts: Vec<usize> =
            (0..bitstream.len().saturating_sub(3)).filter(|&j| bitstream[j..j + 3] == [0, 0, 1]).collect();
        for (k, &s) in starts.iter().enumerate() {
            let end =
                starts.get(k + 1).map(|&n| if bitstream[n - 1] == 0 { n - 1 } else { n }).unwrap_or(bitstream.len());
            out.push(bitstream[s + 3..end].to_vec());
            i = end;
        }
        let _ = i;
        out
    }

    fn annex_b(nals: &[Vec<u8>]) -> Vec<u8> {
        nals.iter().flat_map(|n| [0u8, 0, 0, 1].into_iter().chain(n.iter().copied())).collect()
    }

    fn picture(w: usize, h: usize, seed: usize) -> YUVBuffer {
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i / 3 % w) * 3 + (i / 3 / w) * 5 + seed * 40) as u8).collect();
        YUVBuffer::from_rgb8_source(RgbSliceU8::new(&rgb, (w, h)))
    }

    fn decode_all(dec: &mut Decoder, stream: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Ok(Some(yuv)) = dec.decode(stream) {
            let (w, h) = yuv.dimensions();
            let mut buf = vec![0u8; w * h * 3];
            yuv.write_rgb8(&mut buf);
            out.push(buf);
        }
        out
    }

    /// Pictures A, A, A, B, B, C encoded with skip pictures for the repeats decode to exactly what
    /// A, B, C encoded alone decode to, each repeat equal to the picture before it.
    #[test]
    fn skip_pictures_decode_to_exact_copies_and_keep_the_stream_valid() {
        let (w, h) = (320, 240);
        // The recorder's own settings for a screen.
        let config = crate::encode::encoder_config(crate::encode::Content::Screen, w as u32, h as u32, 1.0);
        let mut enc = Encoder::with_api_config(OpenH264API::from_source(), config).unwrap();
        let mut encoded: Vec<Vec<Vec<u8>>> = Vec::new();
        for seed in [0, 1, 2] {
            let bs = enc.encode(&picture(w, h, seed)).unwrap().to_vec();
            encoded.push(nals(&bs));
        }
        let sps = encoded[0].iter().find(|n| n[0] & 0x1f == 7).unwrap().clone();
        let pps = encoded[0].iter().find(|n| n[0] & 0x1f == 8).unwrap().clone();
        let mut skip = SkipFrames::new(&sps, &pps).expect("openh264's Baseline stream is supported");

        // Reference: A, B, C as encoded.
        let mut dec = Decoder::new().unwrap();
        let plain: Vec<Vec<u8>> = encoded.iter().flat_map(|pic| decode_all(&mut dec, &annex_b(pic))).collect();
        assert_eq!(plain.len(), 3);

        // With repeats as skip pictures.
        let mut dec = Decoder::new().unwrap();
        let mut got = Vec::new();
        for (i, repeats) in [(0, 2), (1, 1), (2, 0)] {
            let pic = skip.renumber(&encoded[i].iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap();
            got.extend(decode_all(&mut dec, &annex_b(&pic)));
            for _ in 0..repeats {
                got.extend(decode_all(&mut dec, &annex_b(&[skip.skip_picture()])));
            }
        }
        assert_eq!(got.len(), 6, "every picture decodes");
        let want = [&plain[0], &plain[0], &plain[0], &plain[1], &plain[1], &plain[2]];
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(g == w, "picture {i} differs from the stream without skip pictures");
        }
    }

    /// The `disable_deblocking_filter_idc` of a slice in the stream shape [`SkipFrames::new`]
    /// accepts (I and P slices, picture order type 2, deblocking control present), or None for
    /// any other slice.
    fn deblocking_idc(skip: &SkipFrames, nal: &[u8]) -> Option<u32> {
        let (nal_ref_idc, idr) = (nal.first()? >> 5 & 3, nal.first()? & 0x1f == 5);
        let rbsp = unescape(nal);
        let mut r = BitReader::new(rbsp.get(1..)?);
        r.ue()?; // first_mb_in_slice
        let p = match r.ue()? % 5 {
            0 => true,
            2 => false,
            _ => return None,
        };
        r.ue()?; // pic_parameter_set_id
        r.bits(skip.log2_max_frame_num)?; // frame_num
        if idr {
            r.ue()?; // idr_pic_id
        }
        if p {
            if r.bit()? == 1 {
                r.ue()?; // num_ref_idx_l0_active_minus1
            }
            if r.bit()? == 1 {
                // ref_pic_list_modification (openh264 writes one for screens): pairs of
                // modification_of_pic_nums_idc and a number, up to idc 3.
                while r.ue()? != 3 {
                    r.ue()?;
                }
            }
        }
        if nal_ref_idc != 0 {
            if idr {
                r.bits(2)?; // no_output_of_prior_pics_flag, long_term_reference_flag
            } else if r.bit()? != 0 {
                return None; // adaptive reference marking
            }
        }
        r.se()?; // slice_qp_delta
        r.ue()
    }

    /// Screens are encoded without the deblocking filter (it blurs text; `VIGIL.md` in the
    /// vendored openh264-sys2), the camera with it: read from the slices each one writes.
    #[test]
    fn screens_are_not_deblocked_the_camera_is() {
        let (w, h) = (320, 240);
        for (content, want) in [(crate::encode::Content::Screen, 1), (crate::encode::Content::Camera, 0)] {
            let config = crate::encode::encoder_config(content, w as u32, h as u32, 1.0);
            let mut enc = Encoder::with_api_config(OpenH264API::from_source(), config).unwrap();
            let pictures: Vec<Vec<Vec<u8>>> =
                (0..3).map(|seed| nals(&enc.encode(&picture(w, h, seed)).unwrap().to_vec())).collect();
            let sps = pictures[0].iter().find(|n| n[0] & 0x1f == 7).unwrap();
            let pps = pictures[0].iter().find(|n| n[0] & 0x1f == 8).unwrap();
            let skip = SkipFrames::new(sps, pps).expect("openh264's Baseline stream");
            let slices: Vec<&Vec<u8>> = pictures.iter().flatten().filter(|n| matches!(n[0] & 0x1f, 1 | 5)).collect();
            assert!(slices.iter().any(|n| n[0] & 0x1f == 1), "{content:?}: a P slice among {}", slices.len());
            for slice in slices {
                assert_eq!(deblocking_idc(&skip, slice), Some(want), "{content:?}: slice type {}", slice[0] & 0x1f);
            }
        }
    }

    #[test]
    fn bits_round_trip() {
        let mut w = BitWriter::default();
        for v in [0u32, 1, 2, 7, 8, 255, 8160] {
            w.ue(v);
        }
        w.se(-3);
        w.se(4);
        let bytes = w.trailing();
        let mut r = BitReader::new(&bytes);
        for v in [0u32, 1, 2, 7, 8, 255, 8160] {
            assert_eq!(r.ue(), Some(v));
        }
        assert_eq!((r.se(), r.se()), (Some(-3), Some(4)));
        let raw = [0u8, 0, 0, 0, 0, 1, 0, 0, 3, 5];
        assert_eq!(unescape(&escape(&raw)), raw);
        assert_eq!(escape(&[0, 0, 1]), [0, 0, 3, 1]);
    }
}

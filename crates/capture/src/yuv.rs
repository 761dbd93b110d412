//! Camera pictures to I420 (planar Y, then U, then V at 4:2:0; BT.601, limited range), what the
//! encoder takes and whose Y plane the analysis reads, without a detour through RGB: YUYV (packed
//! 4:2:2) by yuvutils-rs's SIMD code, NV12 (Y, then U and V interleaved) by splitting its chroma,
//! MJPEG decoded by zune-jpeg straight to YCbCr, and RGB or grey pictures when a camera sends
//! nothing else.

use yuvutils_rs::{BufferStoreMut, YuvConversionMode, YuvPackedImage, YuvPlanarImageMut, YuvRange, YuvStandardMatrix};

#[derive(Debug, thiserror::Error)]
#[error("cannot convert a {format} camera picture ({width}x{height}) to I420: {message}")]
pub struct ConvertError {
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
    pub message: String,
}

/// Bytes of a `width` x `height` I420 picture (chroma planes round up).
pub fn i420_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

/// The three planes of an I420 buffer, for writing.
fn planes(buf: &mut [u8], width: u32, height: u32) -> YuvPlanarImageMut<'_, u8> {
    let luma = width as usize * height as usize;
    let chroma = width.div_ceil(2) as usize * height.div_ceil(2) as usize;
    let (y, rest) = buf.split_at_mut(luma);
    let (u, v) = rest.split_at_mut(chroma);
    YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(y),
        y_stride: width,
        u_plane: BufferStoreMut::Borrowed(u),
        u_stride: width.div_ceil(2),
        v_plane: BufferStoreMut::Borrowed(v),
        v_stride: width.div_ceil(2),
        width,
        height,
    }
}

fn too_short(format: &'static str, width: u32, height: u32, len: usize, wanted: usize) -> ConvertError {
    ConvertError { format, width, height, message: format!("{len} bytes, expected {wanted}") }
}

/// YUYV 4:2:2 (what most USB cameras send uncompressed) to I420.
pub fn yuyv_to_i420(yuyv: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ConvertError> {
    let wanted = width.div_ceil(2) as usize * 4 * height as usize;
    if yuyv.len() < wanted {
        return Err(too_short("YUYV", width, height, yuyv.len(), wanted));
    }
    let packed = YuvPackedImage { yuy: yuyv, yuy_stride: width.div_ceil(2) * 4, width, height };
    let mut out = vec![0u8; i420_len(width, height)];
    yuvutils_rs::yuyv422_to_yuv420(&mut planes(&mut out, width, height), &packed).map_err(|e| ConvertError {
        format: "YUYV",
        width,
        height,
        message: e.to_string(),
    })?;
    Ok(out)
}

/// NV12 (the Y plane, then U and V interleaved at 4:2:0) to I420.
pub fn nv12_to_i420(nv12: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ConvertError> {
    let wanted = i420_len(width, height);
    if nv12.len() < wanted {
        return Err(too_short("NV12", width, height, nv12.len(), wanted));
    }
    let luma = width as usize * height as usize;
    let mut out = Vec::with_capacity(wanted);
    out.extend_from_slice(&nv12[..luma]);
    let uv = &nv12[luma..wanted];
    out.extend(uv.iter().step_by(2));
    out.extend(uv.iter().skip(1).step_by(2));
    Ok(out)
}

/// A grey picture (a camera's GRAY format, an infrared camera) to I420 with neutral chroma.
pub fn grey_to_i420(grey: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ConvertError> {
    let luma = width as usize * height as usize;
    if grey.len() < luma {
        return Err(too_short("GRAY", width, height, grey.len(), luma));
    }
    // Full-range grey to the limited range the encoder expects.
    let mut out: Vec<u8> = grey[..luma].iter().map(|&g| LIMITED_LUMA[g as usize]).collect();
    out.resize(i420_len(width, height), 128);
    Ok(out)
}

/// Packed RGB (3 bytes a pixel; `bgr` for blue first) to I420.
pub fn rgb_to_i420(rgb: &[u8], width: u32, height: u32, bgr: bool) -> Result<Vec<u8>, ConvertError> {
    let format = if bgr { "BGR" } else { "RGB" };
    let wanted = width as usize * height as usize * 3;
    if rgb.len() < wanted {
        return Err(too_short(format, width, height, rgb.len(), wanted));
    }
    let mut out = vec![0u8; i420_len(width, height)];
    let convert = if bgr { yuvutils_rs::bgr_to_yuv420 } else { yuvutils_rs::rgb_to_yuv420 };
    convert(
        &mut planes(&mut out, width, height),
        rgb,
        width * 3,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    )
    .map_err(|e| ConvertError { format, width, height, message: e.to_string() })?;
    Ok(out)
}

/// BGRX (X11's 24-bit pixels and Wayland's XRGB8888 as they lie in memory: blue, green, red, one
/// unused byte), rows `stride` bytes apart, to I420.
pub fn bgrx_to_i420(bgrx: &[u8], width: u32, height: u32, stride: usize) -> Result<Vec<u8>, ConvertError> {
    let wanted = stride * height as usize;
    if stride < width as usize * 4 || bgrx.len() < wanted {
        return Err(ConvertError {
            format: "BGRX",
            width,
            height,
            message: format!("{} bytes with rows {stride} apart", bgrx.len()),
        });
    }
    let mut out = vec![0u8; i420_len(width, height)];
    yuvutils_rs::bgra_to_yuv420(
        &mut planes(&mut out, width, height),
        &bgrx[..wanted],
        stride as u32,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    )
    .map_err(|e| ConvertError { format: "BGRX", width, height, message: e.to_string() })?;
    Ok(out)
}

/// Full-range (JPEG) luma and chroma to the limited range: 0-255 to 16-235 and 16-240.
const LIMITED_LUMA: [u8; 256] = limited(219);
const LIMITED_CHROMA: [u8; 256] = limited(224);

const fn limited(span: u32) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (16 + (i as u32 * span + 127) / 255) as u8;
        i += 1;
    }
    t
}

/// A motion-JPEG picture (what cameras send at higher sizes) decoded to YCbCr and taken to I420:
/// its width, height and pixels.
pub fn mjpeg_to_i420(jpeg: &[u8]) -> Result<(u32, u32, Vec<u8>), ConvertError> {
    use zune_jpeg::zune_core::{colorspace::ColorSpace, options::DecoderOptions};
    let bad = |width, height, message: String| ConvertError { format: "MJPEG", width, height, message };
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::YCbCr);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(std::io::Cursor::new(jpeg), options);
    let ycbcr = decoder.decode().map_err(|e| bad(0, 0, e.to_string()))?;
    let info = decoder.info().ok_or_else(|| bad(0, 0, "no picture header".into()))?;
    let (w, h) = (usize::from(info.width), usize::from(info.height));
    let channels = decoder.output_colorspace().map_or(3, |c| c.num_components());
    if channels != 3 || ycbcr.len() < w * h * 3 {
        return Err(bad(w as u32, h as u32, format!("{channels} channels, {} bytes", ycbcr.len())));
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = vec![0u8; w * h + 2 * cw * ch];
    let (luma, chroma) = out.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut(cw * ch);
    for (dst, src) in luma.iter_mut().zip(ycbcr.chunks_exact(3)) {
        *dst = LIMITED_LUMA[src[0] as usize];
    }
    for cy in 0..ch {
        for cx in 0..cw {
            // The mean of the (up to) four pixels the chroma sample covers.
            let (mut u, mut v, mut n) = (0u32, 0u32, 0u32);
            for y in cy * 2..(cy * 2 + 2).min(h) {
                for x in cx * 2..(cx * 2 + 2).min(w) {
                    let p = (y * w + x) * 3;
                    u += u32::from(ycbcr[p + 1]);
                    v += u32::from(ycbcr[p + 2]);
                    n += 1;
                }
            }
            u_plane[cy * cw + cx] = LIMITED_CHROMA[(u / n) as usize];
            v_plane[cy * cw + cx] = LIMITED_CHROMA[(v / n) as usize];
        }
    }
    Ok((w as u32, h as u32, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4x2 I420 picture's planes: Y, U, V.
    fn split(i420: &[u8], w: usize, h: usize) -> (&[u8], &[u8], &[u8]) {
        let (y, rest) = i420.split_at(w * h);
        let (u, v) = rest.split_at(w.div_ceil(2) * h.div_ceil(2));
        (y, u, v)
    }

    #[test]
    fn yuyv_and_nv12_keep_luma_and_chroma() {
        // Two rows of YUYV: Y0 U Y1 V per pair of pixels.
        let yuyv = [10, 100, 20, 200, 30, 110, 40, 210, 50, 120, 60, 220, 70, 130, 80, 230];
        let i420 = yuyv_to_i420(&yuyv, 4, 2).unwrap();
        let (y, u, v) = split(&i420, 4, 2);
        assert_eq!(y, [10, 20, 30, 40, 50, 60, 70, 80]);
        // 4:2:2 to 4:2:0 takes the chroma of both rows (their mean or the first row's).
        assert!(u[0].abs_diff(110) <= 10 && u[1].abs_diff(120) <= 10, "{u:?}");
        assert!(v[0].abs_diff(210) <= 10 && v[1].abs_diff(220) <= 10, "{v:?}");
        assert!(yuyv_to_i420(&yuyv[..8], 4, 2).is_err(), "a short picture is an error, not a panic");

        let nv12 = [1, 2, 3, 4, 5, 6, 7, 8, 90, 190, 91, 191];
        assert_eq!(nv12_to_i420(&nv12, 4, 2).unwrap(), [1, 2, 3, 4, 5, 6, 7, 8, 90, 91, 190, 191]);
        assert!(nv12_to_i420(&nv12[..10], 4, 2).is_err());
    }

    #[test]
    fn grey_and_rgb_pictures_land_in_the_limited_range() {
        let i420 = grey_to_i420(&[0, 255, 128, 64], 2, 2).unwrap();
        assert_eq!(i420, [16, 235, 126, 71, 128, 128]);
        // Pure red: Y 81, U 90, V 240 in BT.601 limited range.
        let red: Vec<u8> = std::iter::repeat_n([255u8, 0, 0], 16).flatten().collect();
        let i420 = rgb_to_i420(&red, 4, 4, false).unwrap();
        let (y, u, v) = split(&i420, 4, 4);
        assert!(y.iter().all(|&p| p.abs_diff(81) <= 2), "{y:?}");
        assert!(u.iter().all(|&p| p.abs_diff(90) <= 2) && v.iter().all(|&p| p.abs_diff(240) <= 2), "{u:?} {v:?}");
        let bgr_red: Vec<u8> = std::iter::repeat_n([0u8, 0, 255], 16).flatten().collect();
        assert_eq!(rgb_to_i420(&bgr_red, 4, 4, true).unwrap(), i420);
    }

    #[test]
    fn bgrx_rows_with_padding_convert_like_tight_ones() {
        // Blue, green, red, unused: pure red in a 4x2 picture, then with 8 bytes of padding a row.
        let tight: Vec<u8> = std::iter::repeat_n([0u8, 0, 255, 0], 8).flatten().collect();
        let i420 = bgrx_to_i420(&tight, 4, 2, 16).unwrap();
        let (y, u, v) = split(&i420, 4, 2);
        assert!(y.iter().all(|&p| p.abs_diff(81) <= 2), "{y:?}");
        assert!(u.iter().all(|&p| p.abs_diff(90) <= 2) && v.iter().all(|&p| p.abs_diff(240) <= 2), "{u:?} {v:?}");
        let mut padded = Vec::new();
        for row in tight.chunks(16) {
            padded.extend_from_slice(row);
            padded.extend_from_slice(&[7; 8]);
        }
        assert_eq!(bgrx_to_i420(&padded, 4, 2, 24).unwrap(), i420);
        assert!(bgrx_to_i420(&tight[..20], 4, 2, 16).is_err());
        assert!(bgrx_to_i420(&padded[..40], 4, 2, 24).is_err(), "the last row's padding is part of the picture");
        assert!(bgrx_to_i420(&tight, 4, 2, 8).is_err(), "rows shorter than a row of pixels");
    }

    #[test]
    fn an_mjpeg_picture_decodes_to_i420_of_its_colour() {
        // A 64x48 JPEG of a left half red and a right half blue, as a camera would send it.
        let (w, h) = (64u32, 48u32);
        let rgb: Vec<u8> = (0..w * h).flat_map(|i| if i % w < w / 2 { [255u8, 0, 0] } else { [0u8, 0, 255] }).collect();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
            .encode(&rgb, w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        let (dw, dh, i420) = mjpeg_to_i420(&jpeg).unwrap();
        assert_eq!((dw, dh), (w, h));
        assert_eq!(i420.len(), i420_len(w, h));
        let (y, u, v) = split(&i420, w as usize, h as usize);
        let (left, right) = (y[20 * 64 + 8], y[20 * 64 + 56]);
        // Red: Y 81, U 90, V 240; blue: Y 41, U 240, V 110 (BT.601, limited range).
        assert!(left.abs_diff(81) <= 6 && right.abs_diff(41) <= 6, "{left} {right}");
        let (cl, cr) = (10 * 32 + 4, 10 * 32 + 28);
        assert!(u[cl].abs_diff(90) <= 8 && v[cl].abs_diff(240) <= 8, "{} {}", u[cl], v[cl]);
        assert!(u[cr].abs_diff(240) <= 8 && v[cr].abs_diff(110) <= 8, "{} {}", u[cr], v[cr]);
        assert!(mjpeg_to_i420(b"not a jpeg").is_err());
    }
}

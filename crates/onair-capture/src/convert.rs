//! Camera pixel formats to I420 (BT.601, limited range — what the engine and WebRTC expect).
//!
//! YUYV goes through the `yuv` crate; NV12 is a plane copy and a chroma de-interleave; MJPEG
//! is decoded by libjpeg-turbo straight to YUV planes (no RGB round trip for 4:2:0 and 4:2:2,
//! the subsamplings cameras send) and moved from JPEG's full range to limited range. Many
//! UVC cameras send MJPEG frames without Huffman tables (DHT); libjpeg-turbo falls back to the
//! standard tables of the JPEG specification, the ones those cameras assume.

use onair_core::{FrameError, I420Frame};
use turbojpeg::{Decompressor, Subsamp, YuvImage};
use yuv::{
    BufferStoreMut, YuvConversionMode, YuvPackedImage, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

/// What a camera delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// Packed 4:2:2, Y0 U Y1 V.
    Yuyv,
    /// Y plane, then interleaved U/V at 4:2:0.
    Nv12,
    /// Planar 4:2:0 (nothing to do).
    I420,
    /// Motion JPEG: one JPEG per frame, with or without Huffman tables.
    Mjpeg,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("a {format:?} frame of {width}x{height} needs {expected} bytes, got {actual}")]
    Size {
        format: PixelFormat,
        width: u32,
        height: u32,
        expected: usize,
        actual: usize,
    },
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("the camera sent a JPEG that does not decode: {0}")]
    Jpeg(String),
    #[error("conversion failed: {0}")]
    Yuv(String),
}

/// Converts frames of one camera format to I420, reusing its decoder and buffers.
pub struct Converter {
    format: PixelFormat,
    width: u32,
    height: u32,
    jpeg: Option<Decompressor>,
    scratch: Vec<u8>,
}

impl Converter {
    pub fn new(format: PixelFormat, width: u32, height: u32) -> Result<Self, ConvertError> {
        // Validates the size once (even, non-zero) before any frame arrives.
        I420Frame::black(width, height)?;
        let jpeg = match format {
            PixelFormat::Mjpeg => {
                Some(Decompressor::new().map_err(|e| ConvertError::Jpeg(e.to_string()))?)
            }
            _ => None,
        };
        Ok(Self {
            format,
            width,
            height,
            jpeg,
            scratch: Vec::new(),
        })
    }

    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Converts one frame's bytes.
    pub fn convert(&mut self, data: &[u8]) -> Result<I420Frame, ConvertError> {
        let (w, h) = (self.width, self.height);
        match self.format {
            PixelFormat::Yuyv => yuyv_to_i420(data, w, h),
            PixelFormat::Nv12 => nv12_to_i420(data, w, h),
            PixelFormat::I420 => {
                let (luma, chroma) = ((w * h) as usize, (w / 2 * h / 2) as usize);
                expect_len(self.format, w, h, luma + 2 * chroma, data.len())?;
                Ok(I420Frame::from_planes(
                    w,
                    h,
                    data[..luma].to_vec(),
                    data[luma..luma + chroma].to_vec(),
                    data[luma + chroma..luma + 2 * chroma].to_vec(),
                )?)
            }
            PixelFormat::Mjpeg => {
                let decoder = self.jpeg.as_mut().expect("made for MJPEG");
                mjpeg_to_i420(decoder, &mut self.scratch, data, w, h)
            }
        }
    }
}

fn expect_len(
    format: PixelFormat,
    width: u32,
    height: u32,
    expected: usize,
    actual: usize,
) -> Result<(), ConvertError> {
    // Drivers may pad the end of a buffer; a short one is a torn frame.
    if actual < expected {
        return Err(ConvertError::Size {
            format,
            width,
            height,
            expected,
            actual,
        });
    }
    Ok(())
}

fn planar(frame: &mut I420Frame) -> YuvPlanarImageMut<'_, u8> {
    let (w, h) = (frame.width(), frame.height());
    let (y, u, v) = frame.planes_mut();
    YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(y),
        y_stride: w,
        u_plane: BufferStoreMut::Borrowed(u),
        u_stride: w / 2,
        v_plane: BufferStoreMut::Borrowed(v),
        v_stride: w / 2,
        width: w,
        height: h,
    }
}

/// YUYV (4:2:2 packed) → I420.
pub fn yuyv_to_i420(data: &[u8], width: u32, height: u32) -> Result<I420Frame, ConvertError> {
    let mut frame = I420Frame::black(width, height)?;
    let expected = (width * height * 2) as usize;
    expect_len(PixelFormat::Yuyv, width, height, expected, data.len())?;
    let packed = YuvPackedImage {
        yuy: &data[..expected],
        yuy_stride: width * 2,
        width,
        height,
    };
    yuv::yuyv422_to_yuv420(&mut planar(&mut frame), &packed)
        .map_err(|e| ConvertError::Yuv(e.to_string()))?;
    Ok(frame)
}

/// NV12 → I420: the Y plane as is, U and V taken apart.
pub fn nv12_to_i420(data: &[u8], width: u32, height: u32) -> Result<I420Frame, ConvertError> {
    let mut frame = I420Frame::black(width, height)?;
    let luma = (width * height) as usize;
    expect_len(PixelFormat::Nv12, width, height, luma * 3 / 2, data.len())?;
    let (y, u, v) = frame.planes_mut();
    y.copy_from_slice(&data[..luma]);
    for ((pair, u), v) in data[luma..luma * 3 / 2]
        .chunks_exact(2)
        .zip(u.iter_mut())
        .zip(v.iter_mut())
    {
        *u = pair[0];
        *v = pair[1];
    }
    Ok(frame)
}

/// JPEG's full-range Y (0–255) to limited range (16–235), and chroma (0–255 around 128) to
/// 16–240.
fn full_to_limited_luma(v: u8) -> u8 {
    (16 + (v as u32 * 219 + 127) / 255) as u8
}

fn full_to_limited_chroma(v: u8) -> u8 {
    (16 + (v as u32 * 224 + 127) / 255) as u8
}

fn mjpeg_to_i420(
    decoder: &mut Decompressor,
    scratch: &mut Vec<u8>,
    jpeg: &[u8],
    width: u32,
    height: u32,
) -> Result<I420Frame, ConvertError> {
    let jpeg_err = |e: turbojpeg::Error| ConvertError::Jpeg(e.to_string());
    let header = decoder.read_header(jpeg).map_err(jpeg_err)?;
    if header.width != width as usize || header.height != height as usize {
        return Err(ConvertError::Jpeg(format!(
            "the frame is {}x{}, the camera was opened at {width}x{height}",
            header.width, header.height
        )));
    }
    let mut frame = I420Frame::black(width, height)?;
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w / 2, h / 2);
    match header.subsamp {
        Subsamp::Sub2x2 | Subsamp::Sub2x1 => {
            let chroma_rows = if header.subsamp == Subsamp::Sub2x2 {
                ch
            } else {
                h
            };
            scratch.resize(w * h + 2 * cw * chroma_rows, 0);
            decoder
                .decompress_to_yuv(
                    jpeg,
                    YuvImage {
                        pixels: scratch.as_mut_slice(),
                        width: w,
                        align: 1,
                        height: h,
                        subsamp: header.subsamp,
                    },
                )
                .map_err(jpeg_err)?;
            let (src_y, src_chroma) = scratch.split_at(w * h);
            let (src_u, src_v) = src_chroma.split_at(cw * chroma_rows);
            let (y, u, v) = frame.planes_mut();
            for (d, s) in y.iter_mut().zip(src_y) {
                *d = full_to_limited_luma(*s);
            }
            for (dst, src) in [(u, src_u), (v, src_v)] {
                if chroma_rows == ch {
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d = full_to_limited_chroma(*s);
                    }
                } else {
                    // 4:2:2 → 4:2:0: average each pair of chroma rows.
                    for (row, out) in dst.chunks_exact_mut(cw).enumerate() {
                        let (a, b) = (&src[2 * row * cw..][..cw], &src[(2 * row + 1) * cw..][..cw]);
                        for ((d, a), b) in out.iter_mut().zip(a).zip(b) {
                            *d = full_to_limited_chroma((*a as u16 + *b as u16).div_ceil(2) as u8);
                        }
                    }
                }
            }
        }
        _ => {
            // 4:4:4, grey and the rest: through RGB.
            scratch.resize(w * h * 3, 0);
            decoder
                .decompress(
                    jpeg,
                    turbojpeg::Image {
                        pixels: scratch.as_mut_slice(),
                        width: w,
                        pitch: w * 3,
                        height: h,
                        format: turbojpeg::PixelFormat::RGB,
                    },
                )
                .map_err(jpeg_err)?;
            yuv::rgb_to_yuv420(
                &mut planar(&mut frame),
                scratch,
                (w * 3) as u32,
                YuvRange::Limited,
                YuvStandardMatrix::Bt601,
                YuvConversionMode::Balanced,
            )
            .map_err(|e| ConvertError::Yuv(e.to_string()))?;
        }
    }
    Ok(frame)
}

/// Peak signal-to-noise ratio of `a` against `b` over all three planes, in dB (infinite when
/// identical). For tests and benchmarks of conversions.
pub fn psnr(a: &I420Frame, b: &I420Frame) -> f64 {
    let pairs = [(a.y(), b.y()), (a.u(), b.u()), (a.v(), b.v())];
    let (mut sum, mut n) = (0.0f64, 0usize);
    for (x, y) in pairs {
        for (p, q) in x.iter().zip(y) {
            let d = *p as f64 - *q as f64;
            sum += d * d;
        }
        n += x.len().min(y.len());
    }
    if sum == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0f64 * 255.0 / (sum / n as f64)).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_range_black_and_white_map_to_studio_levels() {
        assert_eq!(full_to_limited_luma(0), 16);
        assert_eq!(full_to_limited_luma(255), 235);
        assert_eq!(full_to_limited_chroma(128), 128);
        assert_eq!(full_to_limited_chroma(0), 16);
        assert_eq!(full_to_limited_chroma(255), 240);
    }

    #[test]
    fn nv12_chroma_is_split_into_u_and_v_planes() {
        let mut data = vec![50u8; 4 * 2];
        data.extend_from_slice(&[10, 20, 30, 40]);
        let frame = nv12_to_i420(&data, 4, 2).unwrap();
        assert_eq!(frame.y(), &[50; 8]);
        assert_eq!((frame.u(), frame.v()), (&[10u8, 30][..], &[20u8, 40][..]));
    }

    #[test]
    fn a_short_buffer_is_a_size_error_not_a_panic() {
        let err = yuyv_to_i420(&[0; 10], 4, 4).unwrap_err();
        assert!(matches!(
            err,
            ConvertError::Size {
                expected: 32,
                actual: 10,
                ..
            }
        ));
        let mut c = Converter::new(PixelFormat::Mjpeg, 4, 4).unwrap();
        assert!(matches!(
            c.convert(b"not a jpeg"),
            Err(ConvertError::Jpeg(_))
        ));
    }

    #[test]
    fn odd_sizes_are_refused_up_front() {
        assert!(Converter::new(PixelFormat::Yuyv, 641, 480).is_err());
    }
}

//! A moving test pattern whose frames carry their own frame number and capture time, both as
//! large black/white blocks a machine reads back after any sane compression, and as digits a
//! person reads. The demo mode of the studio and the latency meter of `onair watch` use it.

use onair_core::{clock, I420Frame};

use crate::{CaptureError, CapturedVideoFrame, VideoInfo, VideoSource};

const WHITE: u8 = 235;
const BLACK: u8 = 16;
/// Cells per stamp row: a white start marker, 32 bits (MSB first), a black end marker.
const CELLS: u32 = 34;
/// The stamp band is the top 1/8 of the frame, in two rows.
const BAND_DIVISOR: u32 = 8;

/// What a frame says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub frame_id: u32,
    /// Capture time in milliseconds since the Unix epoch, modulo 2³².
    pub capture_ms_low: u32,
}

/// A synthetic camera: diagonal stripes sliding by, colour bars, a bouncing box, and the stamp.
#[derive(Debug, Clone)]
pub struct TestPattern {
    width: u32,
    height: u32,
    fps: f64,
    next_id: u32,
    ramp: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl TestPattern {
    pub fn new(width: u32, height: u32, fps: f64) -> Result<Self, CaptureError> {
        if width < 160
            || height < 90
            || !width.is_multiple_of(2)
            || !height.is_multiple_of(2)
            || width > 7680
            || height > 4320
        {
            return Err(CaptureError::InvalidSettings(format!(
                "test pattern size {width}x{height}: use even sizes from 160x90 to 7680x4320"
            )));
        }
        if !(1.0..=120.0).contains(&fps) {
            return Err(CaptureError::InvalidSettings(format!(
                "test pattern frame rate {fps}: use 1–120 fps"
            )));
        }
        let ramp = (0..2 * width)
            .map(|x| 60 + ((x % 128) as f32 * 1.1) as u8)
            .collect();
        let (cw, ch) = (width / 2, height / 2);
        // Colour bars (U, V pairs), neutral under the stamp band so the blocks stay grey-scale.
        const BARS: [(u8, u8); 8] = [
            (128, 128),
            (44, 142),
            (156, 44),
            (72, 58),
            (184, 198),
            (100, 212),
            (212, 114),
            (128, 128),
        ];
        let band_rows = chroma_band_rows(height);
        let mut u = vec![128u8; (cw * ch) as usize];
        let mut v = vec![128u8; (cw * ch) as usize];
        for row in band_rows..ch {
            for col in 0..cw {
                let (bu, bv) = BARS[(col * 8 / cw) as usize];
                let i = (row * cw + col) as usize;
                u[i] = bu;
                v[i] = bv;
            }
        }
        Ok(Self {
            width,
            height,
            fps,
            next_id: 0,
            ramp,
            u,
            v,
        })
    }

    /// Renders frame `frame_id` as captured at `capture_time_us`.
    pub fn render(&self, frame_id: u32, capture_time_us: u64) -> I420Frame {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut y = vec![0u8; w * h];
        let shift = (frame_id as usize * 6) % w;
        for row in 0..h {
            let off = (shift + row) % w;
            y[row * w..(row + 1) * w].copy_from_slice(&self.ramp[off..off + w]);
        }
        // A bouncing box in the lower half gives the encoder real motion to track.
        let side = (h / 5).max(8);
        let travel = w - side;
        let pos = (frame_id as usize * 8) % (2 * travel);
        let x0 = if pos < travel { pos } else { 2 * travel - pos };
        let y0 = h / 2 + (h / 2 - side) / 2;
        for row in y0..y0 + side {
            y[row * w + x0..row * w + x0 + side].fill(200);
        }

        let stamp = Stamp {
            frame_id,
            capture_ms_low: (capture_time_us / 1000) as u32,
        };
        draw_stamp(&mut y, self.width, self.height, stamp);
        draw_caption(&mut y, self.width, self.height, frame_id, capture_time_us);

        I420Frame::from_planes(self.width, self.height, y, self.u.clone(), self.v.clone())
            .expect("planes sized from the pattern's dimensions")
    }
}

impl VideoSource for TestPattern {
    fn info(&self) -> VideoInfo {
        VideoInfo {
            name: "Test pattern".into(),
            width: self.width,
            height: self.height,
            fps: self.fps,
        }
    }

    fn next_frame(&mut self) -> Result<CapturedVideoFrame, CaptureError> {
        let capture_time_us = clock::unix_micros();
        let frame_id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        Ok(CapturedVideoFrame {
            frame: self.render(frame_id, capture_time_us),
            capture_time_us,
            frame_id,
        })
    }
}

fn chroma_band_rows(height: u32) -> u32 {
    // Stamp band plus the caption below it, in chroma rows.
    (band_height(height) + caption_scale(height) * 9) / 2 + 1
}

fn band_height(height: u32) -> u32 {
    height / BAND_DIVISOR
}

fn caption_scale(height: u32) -> u32 {
    (height / 120).max(1)
}

/// Cell `k` of a row spans `[k*W/34, (k+1)*W/34)`: proportional, so it survives rescaling.
fn cell_span(k: u32, width: u32) -> (u32, u32) {
    (k * width / CELLS, (k + 1) * width / CELLS)
}

fn row_span(r: u32, height: u32) -> (u32, u32) {
    let band = band_height(height);
    (r * band / 2, (r + 1) * band / 2)
}

fn draw_stamp(y: &mut [u8], width: u32, height: u32, stamp: Stamp) {
    for (r, value) in [stamp.frame_id, stamp.capture_ms_low]
        .into_iter()
        .enumerate()
    {
        let (y0, y1) = row_span(r as u32, height);
        for k in 0..CELLS {
            let on = match k {
                0 => true,
                k if k == CELLS - 1 => false,
                k => (value >> (32 - k)) & 1 == 1,
            };
            let (x0, x1) = cell_span(k, width);
            for row in y0..y1 {
                let start = (row * width + x0) as usize;
                y[start..start + (x1 - x0) as usize].fill(if on { WHITE } else { BLACK });
            }
        }
        // Fill the few pixels right of the last cell so the band edge is clean.
        let (_, last) = cell_span(CELLS - 1, width);
        for row in y0..y1 {
            let start = (row * width + last) as usize;
            y[start..((row + 1) * width) as usize].fill(BLACK);
        }
    }
}

/// Reads the stamp back from a (possibly compressed and rescaled) frame.
pub fn decode_stamp(frame: &I420Frame) -> Option<Stamp> {
    let (w, h) = (frame.width(), frame.height());
    let y = frame.y();
    let mut values = [0u32; 2];
    for (r, value) in values.iter_mut().enumerate() {
        let (y0, y1) = row_span(r as u32, h);
        let (ry0, ry1) = (y0 + (y1 - y0) / 4, y1 - (y1 - y0) / 4);
        for k in 0..CELLS {
            let (x0, x1) = cell_span(k, w);
            let (cx0, cx1) = (x0 + (x1 - x0) / 4, x1 - (x1 - x0) / 4);
            if cx1 <= cx0 || ry1 <= ry0 {
                return None;
            }
            let mut sum = 0u64;
            for row in ry0..ry1 {
                let start = (row * w) as usize;
                sum += y[start + cx0 as usize..start + cx1 as usize]
                    .iter()
                    .map(|&p| p as u64)
                    .sum::<u64>();
            }
            let on = sum / (((cx1 - cx0) * (ry1 - ry0)) as u64) > 126;
            match k {
                0 if !on => return None,
                k if k == CELLS - 1 && on => return None,
                0 => {}
                k if k == CELLS - 1 => {}
                _ => *value = (*value << 1) | on as u32,
            }
        }
    }
    Some(Stamp {
        frame_id: values[0],
        capture_ms_low: values[1],
    })
}

/// 5×7 glyphs for the caption, one byte per row, low 5 bits used.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        _ => [0; 7],
    }
}

/// "#000123 23:45:01.234" (frame number, UTC capture time) under the stamp band.
fn draw_caption(y: &mut [u8], width: u32, height: u32, frame_id: u32, capture_time_us: u64) {
    let ms = capture_time_us / 1000;
    let day_ms = ms % 86_400_000;
    let text = format!(
        "#{:06} {:02}:{:02}:{:02}.{:03}",
        frame_id % 1_000_000,
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    );
    let scale = caption_scale(height);
    let top = band_height(height) + scale;
    let left = scale * 2;
    let advance = 6 * scale;
    let box_w = (advance * text.len() as u32 + 2 * scale).min(width - left);
    let box_h = 9 * scale;
    for row in top..(top + box_h).min(height) {
        let start = (row * width + left) as usize;
        y[start..start + box_w as usize].fill(BLACK);
    }
    for (i, c) in text.chars().enumerate() {
        let gx = left + scale + i as u32 * advance;
        for (gy, bits) in glyph(c).iter().enumerate() {
            for bit in 0..5u32 {
                if bits >> (4 - bit) & 1 == 0 {
                    continue;
                }
                let px = gx + bit * scale;
                let py = top + scale + gy as u32 * scale;
                if px + scale > width || py + scale > height {
                    continue;
                }
                for row in py..py + scale {
                    let start = (row * width + px) as usize;
                    y[start..start + scale as usize].fill(WHITE);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn degrade(frame: &I420Frame, noise: i32) -> I420Frame {
        // A deterministic ±noise pattern standing in for compression error.
        let y: Vec<u8> = frame
            .y()
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let n = ((i as i64 * 2_654_435_761) % (2 * noise as i64 + 1)) as i32 - noise;
                (p as i32 + n).clamp(0, 255) as u8
            })
            .collect();
        I420Frame::from_planes(
            frame.width(),
            frame.height(),
            y,
            frame.u().to_vec(),
            frame.v().to_vec(),
        )
        .unwrap()
    }

    fn downscale_3_4(frame: &I420Frame) -> I420Frame {
        let (w, h) = (frame.width() * 3 / 4, frame.height() * 3 / 4);
        let sample = |plane: &[u8], sw: u32, dw: u32, dh: u32| -> Vec<u8> {
            let mut out = Vec::with_capacity((dw * dh) as usize);
            for r in 0..dh {
                for c in 0..dw {
                    out.push(plane[((r * 4 / 3) * sw + c * 4 / 3) as usize]);
                }
            }
            out
        };
        I420Frame::from_planes(
            w,
            h,
            sample(frame.y(), frame.width(), w, h),
            sample(frame.u(), frame.chroma_width(), w / 2, h / 2),
            sample(frame.v(), frame.chroma_width(), w / 2, h / 2),
        )
        .unwrap()
    }

    #[test]
    fn a_rendered_frame_reads_back_its_own_stamp() {
        let pattern = TestPattern::new(1280, 720, 30.0).unwrap();
        let frame = pattern.render(123_456, 1_764_000_123_456_789);
        assert_eq!(
            decode_stamp(&frame),
            Some(Stamp {
                frame_id: 123_456,
                capture_ms_low: (1_764_000_123_456_789u64 / 1000) as u32
            })
        );
    }

    #[test]
    fn the_stamp_survives_heavy_noise_and_a_rescale_to_960x540() {
        let pattern = TestPattern::new(1280, 720, 30.0).unwrap();
        for id in [0, 1, 0x5555_5555, u32::MAX] {
            let frame = downscale_3_4(&degrade(&pattern.render(id, 42_000), 60));
            assert_eq!(frame.width(), 960);
            assert_eq!(decode_stamp(&frame).map(|s| s.frame_id), Some(id));
        }
    }

    #[test]
    fn a_frame_without_a_stamp_is_not_misread() {
        assert_eq!(decode_stamp(&I420Frame::black(1280, 720).unwrap()), None);
    }

    #[test]
    fn consecutive_frames_count_up_and_differ() {
        let mut pattern = TestPattern::new(640, 360, 30.0).unwrap();
        let a = pattern.next_frame().unwrap();
        let b = pattern.next_frame().unwrap();
        assert_eq!((a.frame_id, b.frame_id), (0, 1));
        assert_ne!(a.frame.y(), b.frame.y());
        assert_eq!(decode_stamp(&b.frame).unwrap().frame_id, 1);
    }

    #[test]
    fn sizes_that_cannot_be_encoded_are_refused() {
        assert!(TestPattern::new(1279, 720, 30.0).is_err());
        assert!(TestPattern::new(1280, 720, 0.0).is_err());
    }
}

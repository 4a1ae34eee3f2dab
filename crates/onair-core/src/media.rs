//! Raw media as it travels from a source to the engine.

/// An I420 (YUV 4:2:0 planar) video frame with tightly packed planes.
#[derive(Clone, PartialEq, Eq)]
pub struct I420Frame {
    width: u32,
    height: u32,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl std::fmt::Debug for I420Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I420Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame size {width}x{height} is invalid: both sides must be even and non-zero")]
    InvalidSize { width: u32, height: u32 },
    #[error("{plane} plane has {actual} bytes, expected {expected}")]
    PlaneSize {
        plane: &'static str,
        expected: usize,
        actual: usize,
    },
}

impl I420Frame {
    /// A black frame (Y = 16, U = V = 128, studio range).
    pub fn black(width: u32, height: u32) -> Result<Self, FrameError> {
        Self::check_size(width, height)?;
        let (luma, chroma) = Self::plane_sizes(width, height);
        Ok(Self {
            width,
            height,
            y: vec![16; luma],
            u: vec![128; chroma],
            v: vec![128; chroma],
        })
    }

    /// Wraps existing planes; each must be exactly `width*height` or `(width/2)*(height/2)` bytes.
    pub fn from_planes(
        width: u32,
        height: u32,
        y: Vec<u8>,
        u: Vec<u8>,
        v: Vec<u8>,
    ) -> Result<Self, FrameError> {
        Self::check_size(width, height)?;
        let (luma, chroma) = Self::plane_sizes(width, height);
        for (plane, expected, actual) in [
            ("Y", luma, y.len()),
            ("U", chroma, u.len()),
            ("V", chroma, v.len()),
        ] {
            if expected != actual {
                return Err(FrameError::PlaneSize {
                    plane,
                    expected,
                    actual,
                });
            }
        }
        Ok(Self {
            width,
            height,
            y,
            u,
            v,
        })
    }

    fn check_size(width: u32, height: u32) -> Result<(), FrameError> {
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(FrameError::InvalidSize { width, height });
        }
        Ok(())
    }

    fn plane_sizes(width: u32, height: u32) -> (usize, usize) {
        let luma = width as usize * height as usize;
        (luma, luma / 4)
    }

    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    pub fn chroma_width(&self) -> u32 {
        self.width / 2
    }
    pub fn chroma_height(&self) -> u32 {
        self.height / 2
    }
    pub fn y(&self) -> &[u8] {
        &self.y
    }
    pub fn u(&self) -> &[u8] {
        &self.u
    }
    pub fn v(&self) -> &[u8] {
        &self.v
    }
    /// Mutable access to the three planes at once.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        (&mut self.y, &mut self.u, &mut self.v)
    }
}

/// 10 ms (or any length) of interleaved signed 16-bit PCM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    pub samples: Vec<i16>,
    pub sample_rate: u32,
    pub channels: u32,
}

impl AudioFrame {
    pub fn samples_per_channel(&self) -> u32 {
        (self.samples.len() as u32)
            .checked_div(self.channels)
            .unwrap_or(0)
    }

    /// Duration in microseconds.
    pub fn duration_us(&self) -> u64 {
        (self.samples_per_channel() as u64 * 1_000_000)
            .checked_div(self.sample_rate as u64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_frames_have_quarter_size_chroma_planes() {
        let f = I420Frame::black(1280, 720).unwrap();
        assert_eq!(f.y().len(), 1280 * 720);
        assert_eq!(f.u().len(), 640 * 360);
        assert_eq!(f.v().len(), 640 * 360);
    }

    #[test]
    fn odd_frame_sizes_are_refused() {
        assert_eq!(
            I420Frame::black(1279, 720),
            Err(FrameError::InvalidSize {
                width: 1279,
                height: 720
            })
        );
    }

    #[test]
    fn planes_of_the_wrong_size_are_refused_with_the_plane_named() {
        let err = I420Frame::from_planes(4, 4, vec![0; 16], vec![0; 4], vec![0; 3]).unwrap_err();
        assert_eq!(
            err,
            FrameError::PlaneSize {
                plane: "V",
                expected: 4,
                actual: 3
            }
        );
    }

    #[test]
    fn a_ten_millisecond_stereo_frame_lasts_ten_thousand_microseconds() {
        let f = AudioFrame {
            samples: vec![0; 960],
            sample_rate: 48_000,
            channels: 2,
        };
        assert_eq!(f.samples_per_channel(), 480);
        assert_eq!(f.duration_us(), 10_000);
    }
}

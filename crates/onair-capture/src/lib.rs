//! Where OnAir's media comes from. Every source sits behind [`VideoSource`] or
//! [`AudioSource`], so the test pattern and the tone are first-class sources (demo mode,
//! latency meter) that the CLI, the studio and the tests use exactly like devices.

pub mod analysis;
pub mod camera;
pub mod convert;
mod device;
pub mod mic;
pub mod test_pattern;
pub mod tone;

use onair_core::{AudioFrame, I420Frame};

pub use test_pattern::{decode_stamp, Stamp, TestPattern};
pub use tone::Tone;

/// What a video source produces.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
}

/// One captured frame, stamped when it was captured.
#[derive(Debug, Clone)]
pub struct CapturedVideoFrame {
    pub frame: I420Frame,
    /// Wall-clock capture time, microseconds since the Unix epoch.
    pub capture_time_us: u64,
    /// Increases by one per frame the source produced (gaps mean drops).
    pub frame_id: u32,
}

/// What an audio source produces.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    pub name: String,
    pub sample_rate: u32,
    pub channels: u32,
}

#[derive(Debug, Clone)]
pub struct CapturedAudioFrame {
    /// 10 ms of interleaved PCM.
    pub frame: AudioFrame,
    pub capture_time_us: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error("no {0} found: connect one, or use the test pattern / tone")]
    NoDevice(&'static str),
    #[error("the device stopped delivering: {0}")]
    DeviceLost(String),
    #[error("invalid source settings: {0}")]
    InvalidSettings(String),
}

/// A source of video frames.
///
/// Synthetic sources render a frame as soon as they are asked and leave pacing to the caller
/// (one call per `1/fps`); device sources block until the device delivers the next frame.
pub trait VideoSource: Send {
    fn info(&self) -> VideoInfo;
    fn next_frame(&mut self) -> Result<CapturedVideoFrame, CaptureError>;
}

/// A source of 10 ms audio frames, paced like [`VideoSource`].
pub trait AudioSource: Send {
    fn info(&self) -> AudioInfo;
    fn next_frame(&mut self) -> Result<CapturedAudioFrame, CaptureError>;
}

//! What a session goes live with.

use onair_livekit::VideoCodec;

use crate::media::{AudioInput, VideoInput};
use crate::reconnect::ReconnectPolicy;

/// What to go live with.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub title: String,
    /// Pay-per-view price as the creator typed it ("4.99"); `None` for free.
    pub ppv_price: Option<String>,
    /// Go live as this scheduled stream (its title and price are the schedule's). Without it
    /// the backend takes over a stream scheduled around now by itself.
    pub scheduled_stream_id: Option<i64>,
    pub video: VideoInput,
    pub audio: AudioInput,
    /// Asked of the camera (the closest mode it offers is used), or the test pattern's size.
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub codec: VideoCodec,
    pub simulcast: bool,
    /// Top-layer bitrate in bit/s; the SDK's choice when `None`.
    pub max_bitrate: Option<u64>,
    pub reconnect: ReconnectPolicy,
    /// Where a small copy of the picture goes for the studio's preview.
    pub preview: Option<crate::PreviewTap>,
    /// Record what goes on air to this file, beside the stream.
    pub record: Option<crate::RecordSettings>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            title: "Live on OnAir".into(),
            ppv_price: None,
            scheduled_stream_id: None,
            video: VideoInput::TestPattern,
            audio: AudioInput::default(),
            width: 1280,
            height: 720,
            fps: 30.0,
            codec: VideoCodec::Vp8,
            simulcast: false,
            max_bitrate: None,
            reconnect: ReconnectPolicy::default(),
            preview: None,
            record: None,
        }
    }
}

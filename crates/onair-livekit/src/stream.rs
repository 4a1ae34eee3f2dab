//! Frame streams from subscribed remote tracks (the viewer side).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use onair_core::{AudioFrame, I420Frame};
use tokio::sync::mpsc;

use crate::engine;
use crate::error::EngineError;
use crate::handle::FfiHandle;
use crate::proto::{self, ffi_request, ffi_response};
use crate::source::FrameMetadata;
use crate::track::RemoteTrack;

/// A decoded video frame as the SDK delivered it; its native buffer is released on drop.
pub(crate) struct RawVideoFrame {
    handle: FfiHandle,
    info: proto::VideoBufferInfo,
    timestamp_us: i64,
    metadata: Option<proto::FrameMetadata>,
}

impl RawVideoFrame {
    pub(crate) fn from_proto(frame: proto::VideoFrameReceived) -> Self {
        Self {
            handle: FfiHandle::new(frame.buffer.handle.id),
            info: frame.buffer.info,
            timestamp_us: frame.timestamp_us,
            metadata: frame.metadata,
        }
    }
}

pub(crate) struct RawAudioFrame {
    frame: AudioFrame,
}

impl RawAudioFrame {
    pub(crate) fn from_proto(frame: proto::AudioFrameReceived) -> Self {
        let handle = FfiHandle::new(frame.frame.handle.id);
        let info = frame.frame.info;
        let samples = crate::sys::audio_samples(&info, &handle);
        Self {
            frame: AudioFrame {
                samples,
                sample_rate: info.sample_rate,
                channels: info.num_channels,
            },
        }
    }
}

/// One received video frame. Pixels stay in the SDK's buffer until [`RemoteVideoFrame::to_i420`].
pub struct RemoteVideoFrame {
    raw: RawVideoFrame,
}

impl RemoteVideoFrame {
    pub fn width(&self) -> u32 {
        self.raw.info.width
    }
    pub fn height(&self) -> u32 {
        self.raw.info.height
    }
    /// The RTP-derived presentation time in microseconds.
    pub fn timestamp_us(&self) -> i64 {
        self.raw.timestamp_us
    }
    /// The publisher's capture time and frame id, when it sent them.
    pub fn metadata(&self) -> FrameMetadata {
        self.raw
            .metadata
            .as_ref()
            .map(|m| FrameMetadata {
                user_timestamp: m.user_timestamp,
                frame_id: m.frame_id,
            })
            .unwrap_or_default()
    }

    /// Copies the pixels out as a tightly packed I420 frame.
    pub fn to_i420(&self) -> Option<I420Frame> {
        let info = &self.raw.info;
        if info.components.len() != 3 {
            return None;
        }
        let (w, h) = (info.width as usize, info.height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut planes = Vec::with_capacity(3);
        for (component, (pw, ph)) in info.components.iter().zip([(w, h), (cw, ch), (cw, ch)]) {
            let bytes = crate::sys::video_plane(component, &self.raw.handle);
            let stride = component.stride as usize;
            if stride < pw || bytes.len() < stride * (ph - 1) + pw {
                return None;
            }
            let mut packed = Vec::with_capacity(pw * ph);
            for row in 0..ph {
                packed.extend_from_slice(&bytes[row * stride..row * stride + pw]);
            }
            planes.push(packed);
        }
        let v = planes.pop()?;
        let u = planes.pop()?;
        let y = planes.pop()?;
        if !w.is_multiple_of(2) || !h.is_multiple_of(2) {
            return None;
        }
        I420Frame::from_planes(info.width, info.height, y, u, v).ok()
    }
}

/// Decoded frames of a remote video track.
pub struct NativeVideoStream {
    handle: FfiHandle,
    rx: mpsc::Receiver<RawVideoFrame>,
    // The SDK stops a stream whose track handle is dropped.
    _track: RemoteTrack,
}

impl NativeVideoStream {
    /// `queue` frames are buffered; when the consumer falls behind, newer frames are dropped.
    pub fn new(track: &RemoteTrack, queue: usize) -> Result<Self, EngineError> {
        let engine = engine::get()?;
        let response = engine.request(ffi_request::Message::NewVideoStream(
            proto::NewVideoStreamRequest {
                track_handle: track.handle_id(),
                r#type: proto::VideoStreamType::VideoStreamNative as i32,
                format: Some(proto::VideoBufferType::I420 as i32),
                normalize_stride: Some(true),
                queue_size_frames: None,
            },
        ))?;
        let ffi_response::Message::NewVideoStream(response) = response else {
            return Err(EngineError::Protocol(format!(
                "NewVideoStream answered {response:?}"
            )));
        };
        let handle = FfiHandle::new(response.stream.handle.id);
        let (tx, rx) = mpsc::channel(queue.max(1));
        engine.register_video_stream(handle.id(), tx);
        Ok(Self {
            handle,
            rx,
            _track: track.clone(),
        })
    }
}

impl Stream for NativeVideoStream {
    type Item = RemoteVideoFrame;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx
            .poll_recv(cx)
            .map(|f| f.map(|raw| RemoteVideoFrame { raw }))
    }
}

impl Drop for NativeVideoStream {
    fn drop(&mut self) {
        if let Ok(engine) = engine::get() {
            engine.unregister_stream(self.handle.id());
        }
    }
}

/// Decoded PCM of a remote audio track.
pub struct NativeAudioStream {
    handle: FfiHandle,
    rx: mpsc::Receiver<RawAudioFrame>,
    _track: RemoteTrack,
}

impl NativeAudioStream {
    pub fn new(
        track: &RemoteTrack,
        sample_rate: u32,
        channels: u32,
        queue: usize,
    ) -> Result<Self, EngineError> {
        let engine = engine::get()?;
        let response = engine.request(ffi_request::Message::NewAudioStream(
            proto::NewAudioStreamRequest {
                track_handle: track.handle_id(),
                r#type: proto::AudioStreamType::AudioStreamNative as i32,
                sample_rate: Some(sample_rate),
                num_channels: Some(channels),
                ..Default::default()
            },
        ))?;
        let ffi_response::Message::NewAudioStream(response) = response else {
            return Err(EngineError::Protocol(format!(
                "NewAudioStream answered {response:?}"
            )));
        };
        let handle = FfiHandle::new(response.stream.handle.id);
        let (tx, rx) = mpsc::channel(queue.max(1));
        engine.register_audio_stream(handle.id(), tx);
        Ok(Self {
            handle,
            rx,
            _track: track.clone(),
        })
    }
}

impl Stream for NativeAudioStream {
    type Item = AudioFrame;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|f| f.map(|raw| raw.frame))
    }
}

impl Drop for NativeAudioStream {
    fn drop(&mut self) {
        if let Ok(engine) = engine::get() {
            engine.unregister_stream(self.handle.id());
        }
    }
}

//! Sources that feed raw frames into the SDK's encoders.

use std::sync::Arc;

use onair_core::{AudioFrame, I420Frame};

use crate::engine;
use crate::error::{CaptureError, EngineError};
use crate::handle::FfiHandle;
use crate::proto::{self, ffi_event, ffi_request, ffi_response};

/// Per-frame metadata carried to viewers in the packet trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameMetadata {
    /// Capture time, microseconds since the Unix epoch.
    pub user_timestamp: Option<u64>,
    pub frame_id: Option<u32>,
}

/// A video source the SDK encodes from. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NativeVideoSource {
    inner: Arc<VideoSourceInner>,
}

#[derive(Debug)]
struct VideoSourceInner {
    handle: FfiHandle,
    width: u32,
    height: u32,
}

impl NativeVideoSource {
    /// `width`×`height` is the resolution the encoder is set up for.
    pub fn new(width: u32, height: u32) -> Result<Self, EngineError> {
        let engine = engine::get()?;
        let response = engine.request(ffi_request::Message::NewVideoSource(
            proto::NewVideoSourceRequest {
                r#type: proto::VideoSourceType::VideoSourceNative as i32,
                resolution: proto::VideoSourceResolution { width, height },
                is_screencast: Some(false),
            },
        ))?;
        let ffi_response::Message::NewVideoSource(response) = response else {
            return Err(EngineError::Protocol(format!(
                "NewVideoSource answered {response:?}"
            )));
        };
        Ok(Self {
            inner: Arc::new(VideoSourceInner {
                handle: FfiHandle::new(response.source.handle.id),
                width,
                height,
            }),
        })
    }

    pub fn resolution(&self) -> (u32, u32) {
        (self.inner.width, self.inner.height)
    }

    pub(crate) fn handle_id(&self) -> u64 {
        self.inner.handle.id()
    }

    /// Hands one I420 frame to the encoder. The SDK copies it during the call, so the frame
    /// can be reused at once. `capture_time_us` is wall-clock microseconds since the epoch.
    pub fn capture_frame(
        &self,
        frame: &I420Frame,
        capture_time_us: u64,
        frame_id: u32,
    ) -> Result<(), CaptureError> {
        let engine = engine::get()?;
        let (w, h) = (frame.width(), frame.height());
        let component = |plane: &[u8], stride: u32| proto::video_buffer_info::ComponentInfo {
            data_ptr: plane.as_ptr() as u64,
            stride,
            size: plane.len() as u32,
        };
        let buffer = proto::VideoBufferInfo {
            r#type: proto::VideoBufferType::I420 as i32,
            width: w,
            height: h,
            data_ptr: frame.y().as_ptr() as u64,
            stride: None,
            components: vec![
                component(frame.y(), w),
                component(frame.u(), frame.chroma_width()),
                component(frame.v(), frame.chroma_width()),
            ],
        };
        let response = engine.request(ffi_request::Message::CaptureVideoFrame(
            proto::CaptureVideoFrameRequest {
                source_handle: self.handle_id(),
                buffer,
                timestamp_us: capture_time_us as i64,
                rotation: proto::VideoRotation::VideoRotation0 as i32,
                metadata: Some(proto::FrameMetadata {
                    user_timestamp: Some(capture_time_us),
                    frame_id: Some(frame_id),
                    user_data: None,
                }),
            },
        ))?;
        match response {
            ffi_response::Message::CaptureVideoFrame(_) => Ok(()),
            other => Err(CaptureError::Rejected(format!("{other:?}"))),
        }
    }
}

/// Audio processing the SDK applies before encoding (WebRTC's APM). Off by default: a creator
/// with a good microphone wants it untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AudioSourceOptions {
    pub echo_cancellation: bool,
    pub noise_suppression: bool,
    pub auto_gain_control: bool,
}

/// An audio source the SDK encodes from. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NativeAudioSource {
    inner: Arc<AudioSourceInner>,
}

#[derive(Debug)]
struct AudioSourceInner {
    handle: FfiHandle,
    sample_rate: u32,
    channels: u32,
}

impl NativeAudioSource {
    /// `queue_size_ms` is how much audio the SDK buffers before `capture_frame` waits. 0 (what
    /// OnAir uses) hands every frame straight on and then needs exactly 10 ms frames; a
    /// queue costs a native thread per source, one that can race the source's own teardown
    /// (see `onair_session::pump::audio_source`).
    pub fn new(
        options: AudioSourceOptions,
        sample_rate: u32,
        channels: u32,
        queue_size_ms: u32,
    ) -> Result<Self, EngineError> {
        let engine = engine::get()?;
        let response = engine.request(ffi_request::Message::NewAudioSource(
            proto::NewAudioSourceRequest {
                r#type: proto::AudioSourceType::AudioSourceNative as i32,
                options: Some(proto::AudioSourceOptions {
                    echo_cancellation: options.echo_cancellation,
                    noise_suppression: options.noise_suppression,
                    auto_gain_control: options.auto_gain_control,
                    prefer_hardware: None,
                }),
                sample_rate: Some(sample_rate),
                num_channels: Some(channels),
                queue_size_ms: Some(queue_size_ms),
                platform_audio_handle: None,
            },
        ))?;
        let ffi_response::Message::NewAudioSource(response) = response else {
            return Err(EngineError::Protocol(format!(
                "NewAudioSource answered {response:?}"
            )));
        };
        Ok(Self {
            inner: Arc::new(AudioSourceInner {
                handle: FfiHandle::new(response.source.handle.id),
                sample_rate,
                channels,
            }),
        })
    }

    pub(crate) fn handle_id(&self) -> u64 {
        self.inner.handle.id()
    }

    pub fn sample_rate(&self) -> u32 {
        self.inner.sample_rate
    }

    pub fn channels(&self) -> u32 {
        self.inner.channels
    }

    /// Queues one frame (10 ms recommended) and waits until the SDK has taken it. The samples
    /// are copied into a buffer the engine keeps alive until the SDK's callback, even if this
    /// future is dropped first.
    pub async fn capture_frame(&self, frame: &AudioFrame) -> Result<(), CaptureError> {
        if frame.sample_rate != self.inner.sample_rate || frame.channels != self.inner.channels {
            return Err(CaptureError::Format {
                expected: format!("{} Hz × {}", self.inner.sample_rate, self.inner.channels),
                actual: format!("{} Hz × {}", frame.sample_rate, frame.channels),
            });
        }
        let engine = engine::get()?;
        let samples: Box<[i16]> = frame.samples.clone().into_boxed_slice();
        let async_id = engine.next_async_id();
        let request = ffi_request::Message::CaptureAudioFrame(proto::CaptureAudioFrameRequest {
            source_handle: self.handle_id(),
            buffer: proto::AudioFrameBufferInfo {
                data_ptr: samples.as_ptr() as u64,
                num_channels: frame.channels,
                sample_rate: frame.sample_rate,
                samples_per_channel: frame.samples_per_channel(),
            },
            request_async_id: Some(async_id),
        });
        let event = engine
            .request_async(async_id, request, Some(Box::new(samples)), |r| match r {
                ffi_response::Message::CaptureAudioFrame(r) => Some(r.async_id),
                _ => None,
            })
            .await?;
        match event {
            ffi_event::Message::CaptureAudioFrame(cb) => match cb.error {
                Some(error) => Err(CaptureError::Rejected(error)),
                None => Ok(()),
            },
            other => Err(EngineError::Protocol(format!("unexpected callback {other:?}")).into()),
        }
    }
}

//! WebRTC's audio processing (noise suppression, echo cancellation, automatic gain, high-pass
//! filter) from the SDK, applied to our own 10 ms frames before they are published. A native
//! audio source does not run these itself, whatever its options say; the SDK exposes the
//! processing module as its own object for that.

use crate::engine;
use crate::error::EngineError;
use crate::handle::FfiHandle;
use crate::proto::{self, ffi_request, ffi_response};
use onair_core::AudioFrame;

/// Which stages run. All off is a valid (pass-through) processor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioProcessingOptions {
    pub noise_suppression: bool,
    pub echo_cancellation: bool,
    pub auto_gain_control: bool,
    pub high_pass_filter: bool,
}

impl AudioProcessingOptions {
    pub fn any(&self) -> bool {
        self.noise_suppression
            || self.echo_cancellation
            || self.auto_gain_control
            || self.high_pass_filter
    }
}

/// One processing module; feed it consecutive 10 ms frames of one stream.
#[derive(Debug)]
pub struct AudioProcessor {
    handle: FfiHandle,
    options: AudioProcessingOptions,
}

impl AudioProcessor {
    pub fn new(options: AudioProcessingOptions) -> Result<Self, EngineError> {
        let engine = engine::get()?;
        let response = engine.request(ffi_request::Message::NewApm(proto::NewApmRequest {
            echo_canceller_enabled: options.echo_cancellation,
            gain_controller_enabled: options.auto_gain_control,
            high_pass_filter_enabled: options.high_pass_filter,
            noise_suppression_enabled: options.noise_suppression,
        }))?;
        let ffi_response::Message::NewApm(response) = response else {
            return Err(EngineError::Protocol(format!(
                "NewApm answered {response:?}"
            )));
        };
        Ok(Self {
            handle: FfiHandle::new(response.apm.handle.id),
            options,
        })
    }

    pub fn options(&self) -> AudioProcessingOptions {
        self.options
    }

    /// Processes one 10 ms frame in place.
    pub fn process(&mut self, frame: &mut AudioFrame) -> Result<(), EngineError> {
        let engine = engine::get()?;
        let size_bytes = (frame.samples.len() * std::mem::size_of::<i16>()) as u32;
        // The SDK reads and rewrites the samples during this synchronous request only; the
        // exclusive borrow of `frame` keeps the buffer alive and unaliased until it returns.
        let response = engine.request(ffi_request::Message::ApmProcessStream(
            proto::ApmProcessStreamRequest {
                apm_handle: self.handle.id(),
                data_ptr: frame.samples.as_mut_ptr() as u64,
                size: size_bytes,
                sample_rate: frame.sample_rate,
                num_channels: frame.channels,
            },
        ))?;
        match response {
            ffi_response::Message::ApmProcessStream(r) => match r.error {
                None => Ok(()),
                Some(err) => Err(EngineError::Protocol(format!(
                    "audio processing refused the frame: {err}"
                ))),
            },
            other => Err(EngineError::Protocol(format!(
                "ApmProcessStream answered {other:?}"
            ))),
        }
    }
}

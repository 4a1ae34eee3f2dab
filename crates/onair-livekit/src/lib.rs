//! A safe async Rust API over LiveKit's Rust SDK, loaded as its native library
//! (`liblivekit_ffi`, the build LiveKit ships for its Python, Node and C++ SDKs).
//!
//! The API follows the `livekit` crate: [`Room::connect`] returns a room and its
//! [`RoomEvent`] stream; [`LocalParticipant::publish_track`] publishes a [`LocalVideoTrack`]
//! or [`LocalAudioTrack`] fed by a [`NativeVideoSource`] / [`NativeAudioSource`]; remote
//! tracks are read with [`NativeVideoStream`] / [`NativeAudioStream`]. Call [`load`] once first.
//!
//! Every native handle is owned by a Rust value that drops it exactly once;
//! [`live_handle_count`] tells how many are alive. `unsafe` lives in `sys` only.

mod apm;
mod engine;
mod error;
mod events;
mod handle;
mod library;
mod memory;
mod options;
mod participant;
mod room;
mod source;
mod stats;
mod stream;
mod sys;
mod track;

#[allow(clippy::all, missing_docs)]
pub mod proto {
    //! The SDK's protocol types, generated at build time from the pinned wheel's schema.
    include!(concat!(env!("OUT_DIR"), "/livekit.proto.rs"));
}

pub use apm::{AudioProcessingOptions, AudioProcessor};
pub use engine::{dispose, live_handle_count, load, native_releases, poisoned_reason, EngineInfo};
pub use error::{CaptureError, ConnectError, EngineError, LoadError, RoomError};
pub use events::RoomEvent;
pub use handle::NativeReleases;
pub use library::{LoadOptions, LIBRARY_ENV, LIBRARY_FILE};
pub use memory::{
    heap_usage, release_free_memory, tune_memory, HeapUsage, MemoryTuning, MEMORY_TUNABLES,
};
pub use onair_core::{AudioFrame, I420Frame, VideoCodec};
pub use options::{
    ConnectionQuality, ConnectionState, DegradationPreference, DisconnectReason, EncoderBackend,
    RoomOptions, SimulateScenario, TrackKind, TrackPublishOptions, TrackSource,
};
pub use participant::{LocalParticipant, RemoteParticipant};
pub use room::{CloseReport, Room, CLOSE_TIMEOUT};
pub use source::{AudioSourceOptions, FrameMetadata, NativeAudioSource, NativeVideoSource};
pub use stats::{InboundStats, LayerStats, QualityLimitation, SendRate, TrackStats};
pub use stream::{NativeAudioStream, NativeVideoStream, RemoteVideoFrame};
pub use track::{
    LocalAudioTrack, LocalTrack, LocalTrackPublication, LocalVideoTrack, PublicationInfo,
    RemoteTrack, RemoteTrackPublication,
};

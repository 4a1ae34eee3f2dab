//! Shared types and rules for every OnAir crate: media frames that flow from capture to the
//! engine, the codecs a creator can choose, the wall clock used to stamp frames, and the
//! validation studio and backend share. Nothing here performs I/O.

pub mod clock;
pub mod codec;
pub mod media;
pub mod schedule;
pub mod validate;
pub mod viewers;
pub mod wire;

pub use codec::VideoCodec;
pub use media::{AudioFrame, FrameError, I420Frame};
pub use validate::FieldError;

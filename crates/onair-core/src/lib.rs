//! Shared types and rules for every OnAir crate: media frames that flow from capture to the
//! engine, the codecs a creator can choose, and the wall clock used to stamp frames.
//! Nothing here performs I/O.

pub mod clock;
pub mod codec;
pub mod media;

pub use codec::VideoCodec;
pub use media::{AudioFrame, I420Frame};

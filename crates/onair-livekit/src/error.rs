use std::path::PathBuf;

/// The SDK library could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", describe_load_error(.tried))]
pub struct LoadError {
    /// Every place tried, with why it failed.
    pub tried: Vec<(PathBuf, String)>,
}

fn describe_load_error(tried: &[(PathBuf, String)]) -> String {
    let mut text =
        String::from("the LiveKit SDK library (liblivekit_ffi) could not be loaded. Looked in:");
    for (place, why) in tried {
        text.push_str(&format!("\n  - {} ({why})", place.display()));
    }
    text.push_str(&format!(
        "\nRun `bash scripts/setup.sh` to fetch it, or set {} to its path.",
        crate::library::LIBRARY_ENV
    ));
    text
}

/// The engine cannot take requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("the LiveKit SDK is not loaded: call onair_livekit::load first")]
    NotLoaded,
    #[error("the LiveKit SDK panicked and cannot be used again in this process: {0}")]
    Poisoned(String),
    #[error("the LiveKit SDK has been disposed")]
    Disposed,
    #[error("unexpected answer from the LiveKit SDK: {0}")]
    Protocol(String),
}

/// Joining a room failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("the server refused the token (unauthorized): {0}")]
    Unauthorized(String),
    #[error("the server at {url} cannot be reached: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("no answer from the server within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the server rejected the connection: {reason}")]
    Rejected { reason: String },
    #[error("invalid server URL {0:?}: use ws://, wss://, http:// or https://")]
    InvalidUrl(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A room-level operation (publish, unpublish, mute, stats, close) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("the room is closed")]
    Closed,
    #[error("publishing the track failed: {0}")]
    Publish(String),
    #[error("unpublishing the track failed: {0}")]
    Unpublish(String),
    #[error("no published track with sid {0}")]
    UnknownTrack(String),
    #[error("getting stats failed: {0}")]
    Stats(String),
    #[error("{operation} did not finish within {timeout:?}")]
    Timeout {
        operation: &'static str,
        timeout: std::time::Duration,
    },
    #[error("{0}")]
    Sdk(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Capturing a frame into a source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error("audio frame rejected: {0}")]
    Rejected(String),
    #[error("frame is {actual}, the source expects {expected}")]
    Format { expected: String, actual: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

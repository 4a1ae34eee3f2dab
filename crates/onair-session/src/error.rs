//! Why a session could not go live or carry on: one error for the session's callers, with a
//! stable kind for the UI.

use onair_client::backend::BackendError;

/// Why going live failed (after the partial session was torn down).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Invalid(#[from] onair_core::FieldError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("could not join the room: {0}")]
    Connect(#[from] onair_livekit::ConnectError),
    #[error("{0}")]
    Room(#[from] onair_livekit::RoomError),
    #[error("{0}")]
    Engine(#[from] onair_livekit::EngineError),
    #[error("{0}")]
    Capture(#[from] onair_capture::CaptureError),
    #[error("the session has ended")]
    Ended,
}

impl SessionError {
    /// Stable, for the UI.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "validation",
            Self::Backend(e) => e.kind(),
            Self::Connect(_) => "connect",
            Self::Room(_) => "room",
            Self::Engine(_) => "engine",
            Self::Capture(onair_capture::CaptureError::NoDevice(_)) => "no_device",
            Self::Capture(_) => "device",
            Self::Ended => "ended",
        }
    }
}

use onair_livekit::{ConnectError, EngineError, LoadError, RoomError};

/// Why a command failed; each maps to an exit code and a next step for the user.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("could not join the room: {0}")]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Room(#[from] RoomError),
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Capture(#[from] onair_capture::CaptureError),
    #[error("could not send a frame: {0}")]
    Frame(#[from] onair_livekit::CaptureError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot make a token: {0}")]
    Token(String),
    #[error("{0}")]
    Session(#[from] onair_session::SessionError),
    #[error("{}", backend_message(.0))]
    Backend(#[from] onair_client::BackendError),
}

/// A refused field is named, so the user knows which flag to change.
fn backend_message(err: &onair_client::BackendError) -> String {
    match err {
        onair_client::BackendError::Invalid {
            field: Some(field),
            message,
        } => format!("{field}: {message}"),
        other => other.to_string(),
    }
}

impl CliError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Load(_) => "sdk_missing",
            Self::Connect(ConnectError::Unauthorized(_)) => "unauthorized",
            Self::Connect(ConnectError::Unreachable { .. }) => "unreachable",
            Self::Connect(ConnectError::Timeout(_)) => "timeout",
            Self::Connect(_) => "connect_failed",
            Self::Room(_) | Self::Frame(_) => "stream_failed",
            Self::Engine(_) => "engine_failed",
            Self::Capture(onair_capture::CaptureError::NoDevice(_)) => "no_device",
            Self::Capture(_) => "capture_failed",
            Self::Usage(_) => "usage",
            Self::Token(_) => "token",
            Self::Session(e) => e.kind(),
            Self::Backend(e) => e.kind(),
        }
    }

    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::Load(_) => "run `bash scripts/setup.sh`, or pass --sdk-lib PATH",
            Self::Connect(ConnectError::Unauthorized(_)) => {
                "check the token, or --api-key/--api-secret against the server's keys"
            }
            Self::Connect(ConnectError::Unreachable { .. }) | Self::Connect(ConnectError::Timeout(_)) => {
                "check --url and that the LiveKit server is running (`bash scripts/run.sh` starts one)"
            }
            Self::Usage(_) => "see `onair --help`",
            Self::Backend(onair_client::BackendError::Invalid { .. }) => {
                "change what the message names and run the command again"
            }
            Self::Backend(onair_client::BackendError::Auth) => {
                "set ONAIR_API_KEY to the key `onair-server streamer add` printed"
            }
            Self::Capture(_) => {
                "`onair devices` lists the cameras and microphones; without --camera/--mic the test pattern and tone are used"
            }
            _ => return None,
        })
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Token(_) => 2,
            Self::Backend(onair_client::BackendError::Invalid { .. }) => 2,
            Self::Load(_) => 4,
            Self::Connect(_) => 5,
            _ => 1,
        }
    }
}

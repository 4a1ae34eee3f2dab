//! The one error the window sees: a stable `kind` to switch on, a message for people, the
//! field it is about (for inline display), and the action the banner offers.

use onair_capture::CaptureError;
use onair_client::credentials::CredentialError;
use onair_client::BackendError;
use onair_session::SessionError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Nobody is signed in.
    SignedOut,
    /// The backend refused the API key.
    Auth,
    /// A field is wrong (`field` says which).
    Validation,
    RateLimited,
    /// The backend cannot be reached.
    Network,
    /// The backend failed.
    Server,
    /// The backend answered something unexpected.
    Protocol,
    /// The chosen camera or microphone does not exist.
    NoDevice,
    /// A device failed (busy, lost, unsupported).
    Device,
    /// Joining the LiveKit room failed.
    Connect,
    /// The LiveKit SDK library failed (missing, wrong version, crashed).
    Engine,
    /// No OS keyring to keep the API key in.
    Keyring,
    /// The settings file could not be read or written.
    Settings,
    /// Go Live while already live.
    AlreadyLive,
    /// The recording (its folder, a file, its upload); the stream is not affected.
    Recording,
}

/// What the banner's button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Retry,
    SignIn,
    PickDevice,
    ReconnectNow,
    FixField,
    /// Nothing to press: the message says what to do.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, thiserror::Error)]
#[error("{message}")]
pub struct UiError {
    pub kind: ErrorKind,
    pub message: String,
    pub field: Option<String>,
    pub action: Action,
}

impl UiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let action = match kind {
            ErrorKind::SignedOut | ErrorKind::Auth => Action::SignIn,
            ErrorKind::Validation => Action::FixField,
            ErrorKind::RateLimited
            | ErrorKind::Network
            | ErrorKind::Server
            | ErrorKind::Protocol
            | ErrorKind::Connect => Action::Retry,
            ErrorKind::NoDevice | ErrorKind::Device => Action::PickDevice,
            ErrorKind::Engine
            | ErrorKind::Keyring
            | ErrorKind::Settings
            | ErrorKind::AlreadyLive
            | ErrorKind::Recording => Action::None,
        };
        Self {
            kind,
            message: message.into(),
            field: None,
            action,
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(ErrorKind::Validation, message)
        }
    }

    /// The LiveKit SDK library is missing or failed, with what to do.
    pub fn engine(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::Engine,
            format!("{detail}. Reinstall OnAir, or set ONAIR_LIVEKIT_LIB to the library's path."),
        )
    }

    pub fn signed_out() -> Self {
        Self::new(
            ErrorKind::SignedOut,
            "Sign in with your backend address and API key first.",
        )
    }
}

impl From<onair_core::FieldError> for UiError {
    fn from(err: onair_core::FieldError) -> Self {
        Self::field(err.field, err.message)
    }
}

impl From<BackendError> for UiError {
    fn from(err: BackendError) -> Self {
        let message = err.to_string();
        match err {
            BackendError::Auth => Self::new(ErrorKind::Auth, message),
            BackendError::Invalid { field, message } => match field {
                // The backend names its field `ppv_price`; the window's is the same.
                Some(field) => Self::field(&field, message),
                None => Self::new(ErrorKind::Validation, message),
            },
            BackendError::RateLimited { .. } => Self::new(ErrorKind::RateLimited, message),
            BackendError::Network { .. } => Self::new(ErrorKind::Network, message),
            BackendError::Server { .. } => Self::new(ErrorKind::Server, message),
            BackendError::Protocol(_) => Self::new(ErrorKind::Protocol, message),
        }
    }
}

impl From<CaptureError> for UiError {
    fn from(err: CaptureError) -> Self {
        match err {
            CaptureError::NoDevice(_) => Self::new(
                ErrorKind::NoDevice,
                format!("{err}. Pick another device, or the test pattern."),
            ),
            _ => Self::new(
                ErrorKind::Device,
                format!("{err}. Close other apps using it, or pick another device."),
            ),
        }
    }
}

impl From<SessionError> for UiError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::Invalid(e) => e.into(),
            SessionError::Backend(e) => e.into(),
            SessionError::Capture(e) => e.into(),
            SessionError::Connect(e) => Self::new(
                ErrorKind::Connect,
                format!("Could not join the stream's room: {e}. Check your network and retry."),
            ),
            SessionError::Room(e) => Self::new(
                ErrorKind::Connect,
                format!("The room failed while going live: {e}. Retry."),
            ),
            SessionError::Engine(e) => Self::new(
                ErrorKind::Engine,
                format!("The LiveKit SDK library failed: {e}. Reinstall OnAir if this persists."),
            ),
            SessionError::Ended => Self::new(
                ErrorKind::Connect,
                "The session ended while going live. Retry.",
            ),
        }
    }
}

impl From<CredentialError> for UiError {
    fn from(err: CredentialError) -> Self {
        match err {
            CredentialError::NoKeyring(detail) => Self::new(
                ErrorKind::Keyring,
                format!(
                    "No OS keyring is available ({detail}). OnAir keeps API keys only in the \
                     keyring: start your desktop's Secret Service (GNOME Keyring or KWallet) \
                     and sign in again."
                ),
            ),
            CredentialError::Keyring(detail) => Self::new(
                ErrorKind::Keyring,
                format!("The keyring refused to keep the API key: {detail}. Unlock it and retry."),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_key_asks_to_sign_in_again() {
        let e = UiError::from(BackendError::Auth);
        assert_eq!((e.kind, e.action), (ErrorKind::Auth, Action::SignIn));
    }

    #[test]
    fn a_bad_field_from_either_side_names_the_field() {
        let local = UiError::from(onair_core::validate::title(&"x".repeat(101)).unwrap_err());
        let remote = UiError::from(BackendError::Invalid {
            field: Some("ppv_price".into()),
            message: "too high".into(),
        });
        assert_eq!(local.field.as_deref(), Some("title"));
        assert_eq!(remote.field.as_deref(), Some("ppv_price"));
        assert!([local.action, remote.action]
            .iter()
            .all(|a| *a == Action::FixField));
    }

    #[test]
    fn a_missing_camera_offers_another_device() {
        let e = UiError::from(CaptureError::NoDevice("camera"));
        assert_eq!(
            (e.kind, e.action),
            (ErrorKind::NoDevice, Action::PickDevice)
        );
    }

    #[test]
    fn no_keyring_is_said_plainly_and_offers_nothing_to_press() {
        let e = UiError::from(CredentialError::NoKeyring("no Secret Service".into()));
        assert_eq!((e.kind, e.action), (ErrorKind::Keyring, Action::None));
        assert!(e.message.contains("only in the keyring"));
    }

    #[test]
    fn the_kind_serializes_as_a_stable_snake_case_word() {
        let json = serde_json::to_value(UiError::new(ErrorKind::RateLimited, "slow down")).unwrap();
        assert_eq!(json["kind"], "rate_limited");
        assert_eq!(json["action"], "retry");
    }
}

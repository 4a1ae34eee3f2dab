//! The one error shape every endpoint answers with: `{"error": {kind, message, field?}}`.
//! `kind` is stable for programs; `message` is for people; internals are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use onair_core::FieldError;

use crate::admission::AdmissionError;
use crate::chat::ChatError;
use crate::live::HubError;
use crate::schedule::ScheduleError;

pub use onair_core::wire::{ErrorBody, ErrorDetail, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(FieldError),
    #[error("a valid streamer API key is needed (Authorization: Bearer <key>)")]
    Unauthorized,
    #[error("the webhook's signature does not verify")]
    BadSignature,
    #[error("{0}")]
    NotFound(String),
    #[error("{1}")]
    Conflict(ErrorKind, String),
    #[error("{0}")]
    BadRequest(String),
    /// A pay-per-view stream and no ticket that admits this viewer: `kind` says why
    /// (`payment_required`, `payment_pending`, `ticket_refunded`).
    #[error("{message}")]
    PaymentRequired {
        kind: ErrorKind,
        message: String,
        price_cents: i64,
        currency: String,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("the payment provider failed: {0}")]
    Payment(#[from] crate::payments::PaymentError),
    #[error("too many requests from this address; try again in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// The chat's moderation said no: `kind` is `banned`, `timed_out`, `too_new` (403),
    /// `slow_mode` (429), `blocked_term` (422) or `name_taken` (409).
    #[error("{message}")]
    Refused {
        kind: ErrorKind,
        message: String,
        retry_after_s: Option<u64>,
    },
    #[error("LiveKit's server API failed; try again in a moment")]
    LiveKit(#[source] livekit_api::services::ServiceError),
    #[error("internal error; the server log has the details")]
    Internal(#[from] anyhow::Error),
}

impl From<HubError> for ApiError {
    fn from(err: HubError) -> Self {
        match err {
            HubError::Store(err) => err.into(),
            HubError::LiveKit(err) => Self::LiveKit(err),
        }
    }
}

impl From<AdmissionError> for ApiError {
    fn from(err: AdmissionError) -> Self {
        match err {
            AdmissionError::Offline(_) => Self::Conflict(ErrorKind::Offline, err.to_string()),
            AdmissionError::NeedsTicket {
                kind,
                message,
                price_cents,
                currency,
            } => Self::PaymentRequired {
                kind,
                message,
                price_cents,
                currency,
            },
            AdmissionError::InUse(message) => {
                Self::Conflict(ErrorKind::TicketInUse, message.into())
            }
            AdmissionError::Forfeited => Self::Refused {
                kind: ErrorKind::Banned,
                message: err.to_string(),
                retry_after_s: None,
            },
            AdmissionError::Store(err) => err.into(),
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(err: ChatError) -> Self {
        match err {
            ChatError::Invalid(field) => Self::Invalid(field),
            ChatError::Offline(_) => Self::Conflict(ErrorKind::Offline, err.to_string()),
            ChatError::Refused(refusal) => {
                let (kind, retry_after_s) = ChatError::refusal_kind(&refusal);
                Self::Refused {
                    kind,
                    message: refusal.to_string(),
                    retry_after_s,
                }
            }
            ChatError::NameTaken(_) => Self::Refused {
                kind: ErrorKind::NameTaken,
                message: err.to_string(),
                retry_after_s: None,
            },
            ChatError::Flood { retry_after_s } => Self::RateLimited { retry_after_s },
            ChatError::NotFound(message) => Self::NotFound(message),
            ChatError::Admission(err) => err.into(),
            ChatError::Payment(err) => Self::Payment(err),
            ChatError::Hub(err) => err.into(),
            ChatError::Store(err) => err.into(),
        }
    }
}

impl From<ScheduleError> for ApiError {
    fn from(err: ScheduleError) -> Self {
        match err {
            ScheduleError::Invalid(field) => Self::Invalid(field),
            ScheduleError::NotFound(_) => Self::NotFound(err.to_string()),
            ScheduleError::NotUpcoming(_) => {
                Self::Conflict(ErrorKind::NotUpcoming, err.to_string())
            }
            ScheduleError::Payment(err) => Self::Payment(err),
            ScheduleError::Store(err) => err.into(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> Self {
        Self::Invalid(err)
    }
}

impl ApiError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) => ErrorKind::Invalid,
            Self::Unauthorized | Self::BadSignature => ErrorKind::Unauthorized,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Conflict(kind, _) | Self::PaymentRequired { kind, .. } => *kind,
            Self::BadRequest(_) => ErrorKind::BadRequest,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::Refused { kind, .. } => *kind,
            Self::Forbidden(_) => ErrorKind::Forbidden,
            Self::Payment(_) => ErrorKind::PaymentProvider,
            Self::LiveKit(_) => ErrorKind::Livekit,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::BadSignature => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(..) => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Refused { kind, .. } => match kind {
                ErrorKind::SlowMode => StatusCode::TOO_MANY_REQUESTS,
                ErrorKind::BlockedTerm | ErrorKind::InvalidRecording => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                ErrorKind::NameTaken => StatusCode::CONFLICT,
                _ => StatusCode::FORBIDDEN,
            },
            Self::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Payment(_) | Self::LiveKit(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(err) => tracing::error!(error = ?err, "request failed"),
            Self::Payment(err) => tracing::warn!(error = %err, "payment provider failed"),
            Self::LiveKit(err) => tracing::warn!(error = %err, "LiveKit's server API failed"),
            _ => {}
        }
        let (message, field) = match &self {
            Self::Invalid(f) => (f.message.clone(), Some(f.field.to_owned())),
            other => (other.to_string(), None),
        };
        let (price_cents, currency) = match &self {
            Self::PaymentRequired {
                price_cents,
                currency,
                ..
            } => (Some(*price_cents), Some(currency.clone())),
            _ => (None, None),
        };
        let retry_after_s = match &self {
            Self::RateLimited { retry_after_s } => Some(*retry_after_s),
            Self::Refused { retry_after_s, .. } => *retry_after_s,
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind(),
                message,
                field,
                price_cents,
                currency,
                retry_after_s,
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(secs) = retry_after_s {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

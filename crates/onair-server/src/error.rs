//! The one error shape every endpoint answers with: `{"error": {kind, message, field?}}`.
//! `kind` is stable for programs; `message` is for people; internals are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use onair_core::FieldError;
use serde::{Deserialize, Serialize};

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
    Conflict(&'static str, String),
    #[error("{0}")]
    BadRequest(String),
    #[error("too many requests from this address; try again in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("internal error; the server log has the details")]
    Internal(#[from] anyhow::Error),
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

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable: `invalid`, `unauthorized`, `not_found`, `offline`, `bad_request`,
    /// `rate_limited`, `internal`.
    pub kind: String,
    /// For people.
    pub message: String,
    /// The request field at fault (`username`, `title`, `ppv_price`), for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::Unauthorized | Self::BadSignature => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::Conflict(kind, _) => kind,
            Self::BadRequest(_) => "bad_request",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::BadSignature => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(..) => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(err) = &self {
            tracing::error!(error = ?err, "request failed");
        }
        let (message, field) = match &self {
            Self::Invalid(f) => (f.message.clone(), Some(f.field.to_owned())),
            other => (other.to_string(), None),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind().to_owned(),
                message,
                field,
            },
        };
        (self.status(), Json(body)).into_response()
    }
}

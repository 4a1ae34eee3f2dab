//! The one error shape every endpoint answers with: `{"error": {kind, message, field?}}`.
//! `kind` is stable for programs; `message` is for people; internals are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use onair_core::FieldError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(FieldError),
    #[error("a valid streamer API key is needed (Authorization: Bearer <key>)")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(&'static str, String),
    #[error("the request body is not valid JSON of the expected shape: {0}")]
    BadJson(String),
    #[error("internal error")]
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

impl ApiError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::Unauthorized => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::Conflict(kind, _) => kind,
            Self::BadJson(_) => "bad_request",
            Self::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) | Self::BadJson(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(..) => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(err) = &self {
            tracing::error!(error = ?err, "request failed");
        }
        let mut body = json!({"kind": self.kind(), "message": self.to_string()});
        if let Self::Invalid(field) = &self {
            body["field"] = json!(field.field);
            body["message"] = json!(field.message);
        }
        (self.status(), Json(json!({ "error": body }))).into_response()
    }
}

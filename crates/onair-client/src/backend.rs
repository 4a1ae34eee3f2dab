//! The studio's side of the OnAir backend: the publisher token (with retries), ending the
//! stream, and the live viewer count.
//!
//! Token requests retry network failures and 5xx answers up to three attempts in all, with
//! exponential backoff and jitter; a 429 waits what `Retry-After` says; 400 and 401 are the
//! creator's to fix and are never retried. Each failure has its own kind and a message that
//! says what to do.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use onair_core::wire::ErrorBody;

/// Attempts in all for one token request.
pub const TOKEN_ATTEMPTS: usize = 3;
/// The longest `Retry-After` we honour before giving up and saying so.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why the backend did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("the backend refused the API key; sign in again with a valid key")]
    Auth,
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    #[error("the backend is rate limiting this address; try again in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("cannot reach the backend at {url}: {detail}; check the address and your network")]
    Network { url: String, detail: String },
    #[error("the backend failed ({status}): {message}; try again in a moment")]
    Server { status: u16, message: String },
    #[error("the backend answered something unexpected: {0}")]
    Protocol(String),
}

impl BackendError {
    /// Stable, for programs and the UI.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Invalid { .. } => "validation",
            Self::RateLimited { .. } => "rate_limited",
            Self::Network { .. } => "network",
            Self::Server { .. } => "server",
            Self::Protocol(_) => "protocol",
        }
    }

    /// Whether another attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Network { .. } | Self::Server { .. } | Self::RateLimited { .. }
        )
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after_s } => Some(Duration::from_secs(*retry_after_s)),
            _ => None,
        }
    }
}

/// Turns an HTTP answer that is not a success into the error it means.
pub fn error_for(status: u16, retry_after: Option<&str>, body: &str) -> BackendError {
    let detail = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let message = detail
        .as_ref()
        .map(|d| d.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("HTTP {status}"));
    match status {
        401 | 403 => BackendError::Auth,
        400 | 404 | 409 | 413 | 422 => BackendError::Invalid {
            field: detail.and_then(|d| d.field),
            message,
        },
        429 => BackendError::RateLimited {
            retry_after_s: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1),
        },
        500..=599 => BackendError::Server { status, message },
        _ => BackendError::Protocol(format!(
            "HTTP {status}{}",
            detail.map(|d| format!(" ({})", d.kind)).unwrap_or_default()
        )),
    }
}

pub use onair_core::wire::{Earnings, EndResponse, PublisherToken, StreamEarnings, TokenRequest};

/// The backend for one streamer (its API key).
#[derive(Clone)]
pub struct BackendClient {
    base: String,
    key: String,
    http: reqwest::Client,
    backoff: ExponentialBuilder,
}

impl std::fmt::Debug for BackendClient {
    // The key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl BackendClient {
    pub fn new(base_url: &str, api_key: &str) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            key: api_key.to_owned(),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(15))
                .build()
                .expect("a plain HTTP client builds"),
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(250))
                .with_factor(2.0)
                .with_max_delay(Duration::from_secs(4))
                .with_jitter()
                .with_max_times(TOKEN_ATTEMPTS - 1),
        }
    }

    /// The same client with another backoff (tests use short ones).
    pub fn with_backoff(mut self, backoff: ExponentialBuilder) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<String, BackendError> {
        let response = request.send().await.map_err(|e| BackendError::Network {
            url: self.base.clone(),
            detail: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.map_err(|e| BackendError::Network {
            url: self.base.clone(),
            detail: e.to_string(),
        })?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(error_for(status, retry_after.as_deref(), &body))
        }
    }

    /// One publisher token, retried as the module describes; `attempts` counts the tries.
    pub async fn publisher_token(
        &self,
        request: &TokenRequest,
    ) -> Result<PublisherToken, BackendError> {
        let attempt = || async {
            let body = self
                .send(
                    self.http
                        .post(self.url("/api/streams/token"))
                        .bearer_auth(&self.key)
                        .json(request),
                )
                .await?;
            serde_json::from_str::<PublisherToken>(&body)
                .map_err(|e| BackendError::Protocol(format!("token answer: {e}")))
        };
        attempt
            .retry(self.backoff)
            .when(BackendError::is_transient)
            .adjust(|err, backoff| match err.retry_after() {
                Some(wait) if wait > MAX_RETRY_AFTER => None,
                Some(wait) => Some(wait),
                None => backoff,
            })
            .notify(|err, wait| {
                tracing::info!(kind = err.kind(), ?wait, "token request failed; retrying")
            })
            .await
    }

    /// The streamer this key belongs to (one attempt: sign-in wants a prompt answer).
    pub async fn me(&self) -> Result<String, BackendError> {
        let body = self
            .send(self.http.get(self.url("/api/me")).bearer_auth(&self.key))
            .await?;
        serde_json::from_str::<onair_core::wire::Me>(&body)
            .map(|me| me.username)
            .map_err(|e| BackendError::Protocol(format!("sign-in answer: {e}")))
    }

    /// What `username` (this key's streamer) earned from pay-per-view: confirmed payments
    /// minus refunds.
    pub async fn earnings(&self, username: &str) -> Result<Earnings, BackendError> {
        let body = self
            .send(
                self.http
                    .get(self.url(&format!("/api/streams/{username}/earnings")))
                    .bearer_auth(&self.key),
            )
            .await?;
        serde_json::from_str(&body).map_err(|e| BackendError::Protocol(format!("earnings: {e}")))
    }

    /// Ends the streamer's stream on the backend (the room is deleted, the record closed).
    /// Safe to call when nothing is live.
    pub async fn end_stream(&self) -> Result<EndResponse, BackendError> {
        let body = self
            .send(
                self.http
                    .post(self.url("/api/streams/end"))
                    .bearer_auth(&self.key),
            )
            .await?;
        serde_json::from_str(&body).map_err(|e| BackendError::Protocol(e.to_string()))
    }

    /// The events URL of `username`'s viewer count.
    pub fn viewer_events_url(&self, username: &str) -> String {
        self.url(&format!("/api/streams/{username}/viewers/events"))
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_means_one_kind_of_error() {
        let body =
            r#"{"error": {"kind": "invalid", "message": "title is empty", "field": "title"}}"#;
        assert_eq!(
            error_for(400, None, body),
            BackendError::Invalid {
                field: Some("title".into()),
                message: "title is empty".into()
            }
        );
        assert_eq!(error_for(401, None, "{}"), BackendError::Auth);
        assert_eq!(
            error_for(429, Some("7"), ""),
            BackendError::RateLimited { retry_after_s: 7 }
        );
        assert!(matches!(
            error_for(503, None, "down"),
            BackendError::Server { status: 503, .. }
        ));
    }

    #[test]
    fn only_network_server_and_rate_limit_failures_are_retried() {
        assert!(!BackendError::Auth.is_transient());
        assert!(!error_for(400, None, "").is_transient());
        assert!(error_for(502, None, "").is_transient());
        assert!(error_for(429, Some("2"), "").is_transient());
        assert_eq!(
            error_for(429, Some("2"), "").retry_after(),
            Some(Duration::from_secs(2))
        );
    }
}

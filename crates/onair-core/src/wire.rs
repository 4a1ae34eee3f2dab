//! The bodies of the backend's API that its clients (studio, CLI) read too: one definition,
//! so both sides agree by construction. With the `openapi` feature they carry their schemas
//! for the backend's OpenAPI document; with `sqlx` the records read straight from its rows.

use serde::{Deserialize, Serialize};

pub mod chat;
pub mod replay;
pub mod schedule;

/// A publisher token request: going live, or rejoining the stream being carried on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRequest {
    /// 1–100 characters after trimming, no control characters.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Friday jam", min_length = 1, max_length = 100)
    )]
    pub title: String,
    /// Pay-per-view price, 0–999.99 with at most 2 decimals (a JSON number or a decimal
    /// string); absent or null for a free stream. Kept as JSON so that the backend can
    /// validate whatever was sent and name this field when it is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>, example = 4.99))]
    pub ppv_price: Option<serde_json::Value>,
    /// Rejoining after a lost connection: the `stream_id` of the stream being carried on.
    /// While that stream is open the token continues it (same record, title and count);
    /// otherwise a new stream starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_stream_id: Option<i64>,
    /// Going live as a stream planned ahead (its id in the schedule): that stream, with its
    /// title, description and price, goes live. Without it, a stream scheduled to start
    /// between 30 minutes from now and 2 hours ago is taken over by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_stream_id: Option<i64>,
}

impl TokenRequest {
    /// A request for a stream titled `title`, priced by the decimal text `ppv_price`.
    pub fn new(title: impl Into<String>, ppv_price: Option<String>) -> Self {
        Self {
            title: title.into(),
            ppv_price: ppv_price.map(serde_json::Value::String),
            resume_stream_id: None,
            scheduled_stream_id: None,
        }
    }

    /// The price as text to validate (`4.99` and `"4.99"` alike); `None` for a free stream.
    pub fn price_text(&self) -> Option<String> {
        price_text(self.ppv_price.as_ref())
    }
}

/// A price sent as JSON, as text to validate; `None` for a free stream.
fn price_text(price: Option<&serde_json::Value>) -> Option<String> {
    match price {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// The answer to a publisher token request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublisherToken {
    /// The LiveKit server to connect to.
    pub url: String,
    pub token: String,
    pub room: String,
    pub identity: String,
    /// The streamer the token is for: whose viewer count and stream records to follow (the
    /// room's name is LiveKit's business, not a username).
    pub username: String,
    /// Unix seconds.
    pub expires_at: u64,
    pub stream_id: i64,
}

/// The acknowledgement of a call that answers nothing else (health, webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub ok: bool,
}

/// Who an API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    #[cfg_attr(feature = "openapi", schema(example = "alice"))]
    pub username: String,
}

/// What went wrong, for programs: stable across releases (a new kind may be added, none is
/// renamed). The HTTP status goes with it: see the backend's `ApiError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A request field is wrong; `field` names it (400).
    Invalid,
    /// No valid API key, or a webhook whose signature does not verify (401).
    Unauthorized,
    Forbidden,
    NotFound,
    /// The streamer is not live (409).
    Offline,
    /// A body that is not what the endpoint reads (400).
    BadRequest,
    /// See `Retry-After` (429).
    RateLimited,
    /// A pay-per-view stream and no ticket (402).
    PaymentRequired,
    /// A ticket whose payment is not confirmed yet (402).
    PaymentPending,
    /// A refunded ticket (402).
    TicketRefunded,
    /// A ticket watching somewhere else right now (409).
    TicketInUse,
    /// A ticket asked for a free stream (409).
    Free,
    /// A refund of a ticket that was never paid (409).
    NotPaid,
    /// The payment provider failed (502).
    PaymentProvider,
    /// LiveKit's server API did not answer as it should; try again (502).
    Livekit,
    /// Banned from this creator's chat and streams (403).
    Banned,
    /// Timed out of the chat; see `Retry-After` (403).
    TimedOut,
    /// "Established chatters only" and this viewer has not watched long enough; see
    /// `Retry-After` (403).
    TooNew,
    /// Slow mode; see `Retry-After` (429).
    SlowMode,
    /// The message contains a term the creator blocked (422); nobody received it.
    BlockedTerm,
    /// The chat name is used by another chatter of this stream (409).
    NameTaken,
    /// The scheduled stream has started, ended, been cancelled or missed: it can no longer
    /// change (409).
    NotUpcoming,
    /// A replay is uploaded once the stream has ended (409).
    NotEnded,
    /// An uploaded recording that cannot be a replay of its stream (not an H.264 MP4, no
    /// pictures, far longer than the stream); the message says why (422).
    InvalidRecording,
    /// An upload over the size limit (413).
    TooLarge,
    /// The server's own failure; its log has the details (500).
    Internal,
}

impl ErrorKind {
    /// The kind as it is sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Offline => "offline",
            Self::BadRequest => "bad_request",
            Self::RateLimited => "rate_limited",
            Self::PaymentRequired => "payment_required",
            Self::PaymentPending => "payment_pending",
            Self::TicketRefunded => "ticket_refunded",
            Self::TicketInUse => "ticket_in_use",
            Self::Free => "free",
            Self::NotPaid => "not_paid",
            Self::PaymentProvider => "payment_provider",
            Self::Livekit => "livekit",
            Self::Banned => "banned",
            Self::TimedOut => "timed_out",
            Self::TooNew => "too_new",
            Self::SlowMode => "slow_mode",
            Self::BlockedTerm => "blocked_term",
            Self::NameTaken => "name_taken",
            Self::NotUpcoming => "not_upcoming",
            Self::NotEnded => "not_ended",
            Self::InvalidRecording => "invalid_recording",
            Self::TooLarge => "too_large",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error answer: `{"error": {kind, message, field?}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub kind: ErrorKind,
    /// For people.
    pub message: String,
    /// The request field at fault (`username`, `title`, `ppv_price`), for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What a ticket costs, with `payment_required` and the other 402 kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Seconds until the request may succeed, as in `Retry-After` (rate limits, slow mode,
    /// timeouts, "established chatters only").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
}

/// A stream as its record and the history show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct StreamRecord {
    pub id: i64,
    pub title: String,
    /// Pay-per-view price in cents; absent for a free stream.
    pub ppv_price_cents: Option<i64>,
    /// Unix milliseconds; absent if the creator never went on air.
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub peak_viewers: i64,
    pub unique_viewers: i64,
    /// Sum of every viewer's connected time.
    pub watch_time_ms: i64,
    pub end_reason: Option<String>,
}

/// The answer to ending a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndResponse {
    /// The record of the stream that was on air, closed; absent if none was.
    pub stream: Option<StreamRecord>,
    /// Whether a LiveKit room was deleted (its viewers disconnected).
    pub room_deleted: bool,
}

/// What a streamer earned from pay-per-view: confirmed payments minus refunds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Earnings {
    pub username: String,
    pub currency: String,
    /// Over every stream, in cents.
    pub total_cents: i64,
    /// Per stream, newest first.
    pub streams: Vec<StreamEarnings>,
}

/// A stream's earnings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct StreamEarnings {
    pub stream_id: i64,
    pub title: String,
    pub currency: String,
    /// Payments minus refunds, in cents.
    pub total_cents: i64,
    pub paid_tickets: i64,
    pub refunded_tickets: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_sent_as_a_number_or_as_text_is_validated_as_the_same_text() {
        let parse = |json: &str| serde_json::from_str::<TokenRequest>(json).unwrap();
        let number = parse(r#"{"title": "t", "ppv_price": 4.99}"#);
        let text = parse(r#"{"title": "t", "ppv_price": "4.99"}"#);
        let null = parse(r#"{"title": "t", "ppv_price": null}"#);
        assert_eq!(number.price_text().as_deref(), Some("4.99"));
        assert_eq!(text.price_text().as_deref(), Some("4.99"));
        assert_eq!(null.price_text(), None);
    }

    #[test]
    fn every_error_kind_is_sent_as_its_name() {
        use ErrorKind::*;
        for kind in [
            Invalid,
            Unauthorized,
            Forbidden,
            NotFound,
            Offline,
            BadRequest,
            RateLimited,
            PaymentRequired,
            PaymentPending,
            TicketRefunded,
            TicketInUse,
            Free,
            NotPaid,
            PaymentProvider,
            Livekit,
            Banned,
            TimedOut,
            TooNew,
            SlowMode,
            BlockedTerm,
            NameTaken,
            Internal,
        ] {
            let sent = serde_json::to_string(&kind).unwrap();
            assert_eq!(sent, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<ErrorKind>(&sent).unwrap(), kind);
        }
    }

    #[test]
    fn a_free_first_join_sends_only_the_title() {
        let json = serde_json::to_string(&TokenRequest::new("Friday jam", None)).unwrap();
        assert_eq!(json, r#"{"title":"Friday jam"}"#);
    }
}

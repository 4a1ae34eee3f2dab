//! Scheduled streams' bodies: what a creator sends to plan, change or call off a stream, and
//! the stream as the creator, the viewer page and the CLI see it. A scheduled stream is the
//! same record Go Live fills in later (same id), so tickets, counts and earnings attach to it.

use serde::{Deserialize, Serialize};

pub use crate::schedule::ScheduleState;

/// A stream planned ahead (`POST /api/schedule`) or its new details (`PUT /api/schedule/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleRequest {
    /// 1–100 characters after trimming, no control characters.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Friday jam", min_length = 1, max_length = 100)
    )]
    pub title: String,
    /// Up to 2,000 characters; may have several lines.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub description: String,
    /// The start, Unix milliseconds (UTC): 1 minute to 1 year from now.
    #[cfg_attr(feature = "openapi", schema(example = 1_800_000_000_000_i64))]
    pub starts_at: i64,
    /// The expected length: 1–720 minutes.
    #[cfg_attr(feature = "openapi", schema(example = 90, minimum = 1, maximum = 720))]
    pub duration_minutes: i64,
    /// Pay-per-view price, 0–999.99 with at most 2 decimals (a JSON number or a decimal
    /// string); absent or null for a free stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>, example = 4.99))]
    pub ppv_price: Option<serde_json::Value>,
}

impl ScheduleRequest {
    /// The price as text to validate (`4.99` and `"4.99"` alike); `None` for a free stream.
    pub fn price_text(&self) -> Option<String> {
        crate::wire::price_text(self.ppv_price.as_ref())
    }
}

/// A scheduled stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduledStream {
    /// The stream's id: the same once it is live and after.
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(example = "alice"))]
    pub username: String,
    pub title: String,
    pub description: String,
    /// The planned start, Unix milliseconds (UTC).
    pub starts_at: i64,
    pub duration_minutes: u32,
    /// Pay-per-view price in cents; absent for a free stream.
    pub ppv_price_cents: Option<i64>,
    /// Of the price (ISO code, lower case).
    #[cfg_attr(feature = "openapi", schema(example = "usd"))]
    pub currency: String,
    pub state: ScheduleState,
    /// Raised by every change (edit, cancel, start, end, missed): the calendar event's
    /// `SEQUENCE`.
    pub sequence: i64,
    /// When it actually went live and ended (Unix milliseconds).
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub cancelled_at: Option<i64>,
}

/// The answer to calling a scheduled stream off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelResponse {
    pub stream: ScheduledStream,
    /// Paid tickets refunded through the payment provider (their price is off the earnings).
    pub refunded_tickets: u32,
}

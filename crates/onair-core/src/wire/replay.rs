//! Replays: a stream's recording, uploaded by its creator after End, checked and kept by the
//! backend, and played from the viewer page.

use serde::{Deserialize, Serialize};

/// A stream's replay as the viewer page, the studio and the CLI see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Replay {
    /// The stream's id (a stream has at most one replay).
    pub stream_id: i64,
    pub title: String,
    /// When the stream went on air and ended, Unix milliseconds.
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// The recording's length.
    pub duration_ms: i64,
    pub width: i64,
    pub height: i64,
    pub bytes: i64,
    /// Pay-per-view price in cents (a ticket for the stream is needed to watch); absent for
    /// a free stream.
    pub ppv_price_cents: Option<i64>,
    /// The price's currency (ISO 4217, lower case).
    pub currency: String,
    /// Where the video plays from (byte ranges supported); a pay-per-view replay needs
    /// `?ticket=ID` added.
    pub video_url: String,
    /// When it was uploaded, Unix milliseconds.
    pub created_at: i64,
}

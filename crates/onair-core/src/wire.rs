//! Types the backend sends and its clients (studio, CLI) read: one definition, so both sides
//! agree by construction.

use serde::{Deserialize, Serialize};

/// The answer to a publisher token request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublisherToken {
    /// The LiveKit server to connect to.
    pub url: String,
    pub token: String,
    pub room: String,
    pub identity: String,
    /// Unix seconds.
    pub expires_at: u64,
    pub stream_id: i64,
}

//! The chat's bodies: what a viewer sends, what every page and the studio receive, and the
//! creator's moderation. Messages and hides share one sequence of ids, each event's SSE id,
//! so a client that reconnects with `Last-Event-ID` is sent exactly what it missed.

use serde::{Deserialize, Serialize};

/// A message as every open chat shows it. Its text is plain text, never markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatMessage {
    /// Also the message's SSE id; increasing.
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(example = "night_owl"))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(example = "hello from Lisbon"))]
    pub text: String,
    /// Unix milliseconds.
    pub sent_at: i64,
}

/// A viewer's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatPost {
    /// The display name: 3–32 letters, digits, `_` or `-`; not the creator's, not one another
    /// chatter of this stream uses.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "night_owl", min_length = 3, max_length = 32)
    )]
    pub name: String,
    /// 1–500 characters after trimming, no control characters.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "hello from Lisbon", min_length = 1, max_length = 500)
    )]
    pub text: String,
    /// On a pay-per-view stream, the ticket that lets this viewer watch (only ticket holders
    /// chat there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// A message taken down by the creator: gone from every open chat and from history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatHidden {
    /// This event's own SSE id.
    pub id: i64,
    /// The message hidden.
    pub message_id: i64,
}

/// What the chat asks of everyone right now (sent on connect and on every change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatMode {
    /// One message per this many seconds per chatter; 0 is off.
    pub slow_mode_secs: u32,
    /// Viewers must have watched this many minutes before they chat; 0 is off.
    pub established_minutes: u32,
}

/// Where this viewer stands in the chat (sent on connect and when a moderator acts on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ChatStanding {
    /// May chat (within slow mode).
    Welcome,
    /// Timed out until then (Unix ms).
    TimedOut { until: i64 },
    /// Banned from this creator's chat.
    Banned,
}

/// A creator's chat settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ChatSettings {
    /// 0 (off) to 3600.
    #[serde(default)]
    pub slow_mode_secs: u32,
    /// 0 (off) to 1440.
    #[serde(default)]
    pub established_minutes: u32,
    /// Refused wherever they appear as whole words, in any letter case; at most 500 terms of
    /// at most 64 characters.
    #[serde(default)]
    pub blocked_terms: Vec<String>,
}

/// A timeout of the chatter who wrote `message_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeoutRequest {
    pub message_id: i64,
    /// 1 s to 14 days (1209600 s).
    #[cfg_attr(
        feature = "openapi",
        schema(example = 300, minimum = 1, maximum = 1209600)
    )]
    pub seconds: u64,
}

/// A ban of the chatter who wrote `message_id`: their device, and their address unless it is
/// shared (loopback or a trusted proxy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BanRequest {
    pub message_id: i64,
    /// On a pay-per-view stream: refund their ticket through the payment provider (true) or
    /// let it be forfeited (false, the default). Either way it admits nobody any more.
    #[serde(default)]
    pub refund: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A ban in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct ChatBan {
    pub id: i64,
    /// The name they chatted under when banned.
    pub name: String,
    /// Unix milliseconds.
    pub banned_at: i64,
    /// Their address is banned as well as their device.
    pub address: bool,
    pub reason: Option<String>,
}

/// What a ban did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BanOutcome {
    pub ban: ChatBan,
    /// LiveKit participants removed from the stream.
    pub removed_viewers: u32,
    /// Tickets refunded through the payment provider, and tickets forfeited.
    pub refunded_tickets: u32,
    pub forfeited_tickets: u32,
}

/// One moderation action, for the creator's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct ModerationEntry {
    pub id: i64,
    /// `hide`, `timeout`, `ban`, `unban` or `settings`.
    pub action: String,
    /// The chatter acted on (absent for settings).
    pub name: Option<String>,
    pub message_id: Option<i64>,
    /// What was asked: a timeout's length, a ban's reason, the new settings.
    pub detail: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standing_is_sent_with_its_state_named() {
        let json = |s: ChatStanding| serde_json::to_string(&s).unwrap();
        assert_eq!(json(ChatStanding::Welcome), r#"{"state":"welcome"}"#);
        assert_eq!(json(ChatStanding::Banned), r#"{"state":"banned"}"#);
        assert_eq!(
            json(ChatStanding::TimedOut { until: 5 }),
            r#"{"state":"timed_out","until":5}"#
        );
    }

    #[test]
    fn settings_sent_without_a_field_leave_it_off() {
        let settings: ChatSettings = serde_json::from_str(r#"{"slow_mode_secs": 3}"#).unwrap();
        assert_eq!(
            settings,
            ChatSettings {
                slow_mode_secs: 3,
                ..ChatSettings::default()
            }
        );
    }
}

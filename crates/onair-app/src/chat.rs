//! The chat as the window's chat panel shows it, and the moderation answers, in the window's
//! numbers: ids and Unix times are `f64` (exact below 2^53; JavaScript has no 64-bit
//! integers). Sent as their own event, not inside [`crate::StudioView`]: the view goes out on
//! every stats tick, the chat only when it changes.

use onair_client::chat::ChatView;
/// The chat's settings are the backend's own body (no 64-bit numbers in it).
pub use onair_core::wire::chat::ChatSettings;
use onair_core::wire::chat::{BanOutcome, ChatBan, ChatMessage, ModerationEntry};
use serde::{Deserialize, Serialize};

use crate::error::UiError;

/// The chat panel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ChatPanelView {
    /// Following a stream's chat: from Go Live until the stream ends (the last messages stay
    /// shown after it).
    pub open: bool,
    /// Oldest first.
    pub lines: Vec<ChatLineView>,
    /// Messages that arrived since the creator last looked at the panel.
    pub unread: u32,
    /// The connection to the chat is down and being restored; messages sent meanwhile arrive
    /// when it is back.
    pub stale: bool,
    pub slow_mode_secs: u32,
    pub established_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ChatLineView {
    pub id: f64,
    pub name: String,
    /// Plain text: the window sets it as text, never as markup.
    pub text: String,
    pub sent_at_ms: f64,
}

impl From<&ChatMessage> for ChatLineView {
    fn from(m: &ChatMessage) -> Self {
        Self {
            id: m.id as f64,
            name: m.name.clone(),
            text: m.text.clone(),
            sent_at_ms: m.sent_at as f64,
        }
    }
}

impl ChatPanelView {
    /// The panel for the subscription's `view` (`open`: the subscription is running).
    pub fn of(view: &ChatView, open: bool) -> Self {
        Self {
            open,
            lines: view.messages.iter().map(ChatLineView::from).collect(),
            unread: view.unread,
            stale: open && view.stale_since.is_some(),
            slow_mode_secs: view.mode.slow_mode_secs,
            established_minutes: view.mode.established_minutes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct BanView {
    pub id: f64,
    pub name: String,
    pub banned_at_ms: f64,
    /// The address was banned too (not for viewers behind a shared or trusted address).
    pub address: bool,
    pub reason: Option<String>,
}

impl From<&ChatBan> for BanView {
    fn from(b: &ChatBan) -> Self {
        Self {
            id: b.id as f64,
            name: b.name.clone(),
            banned_at_ms: b.banned_at as f64,
            address: b.address,
            reason: b.reason.clone(),
        }
    }
}

/// What a ban did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct BanOutcomeView {
    pub ban: BanView,
    /// Viewers removed from the stream.
    pub removed_viewers: u32,
    pub refunded_tickets: u32,
    pub forfeited_tickets: u32,
}

impl From<&BanOutcome> for BanOutcomeView {
    fn from(o: &BanOutcome) -> Self {
        Self {
            ban: BanView::from(&o.ban),
            removed_viewers: o.removed_viewers,
            refunded_tickets: o.refunded_tickets,
            forfeited_tickets: o.forfeited_tickets,
        }
    }
}

/// One line of the moderation log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ModerationView {
    pub id: f64,
    /// `hide`, `timeout`, `ban`, `unban`, `settings`.
    pub action: String,
    pub name: Option<String>,
    pub message_id: Option<f64>,
    pub detail: Option<String>,
    pub at_ms: f64,
}

impl From<&ModerationEntry> for ModerationView {
    fn from(e: &ModerationEntry) -> Self {
        Self {
            id: e.id as f64,
            action: e.action.clone(),
            name: e.name.clone(),
            message_id: e.message_id.map(|id| id as f64),
            detail: e.detail.clone(),
            at_ms: e.at as f64,
        }
    }
}

/// An id the window sent back: a whole number from 1 to 2^53 (what an `f64` holds exactly).
pub fn id_from_window(field: &str, id: f64) -> Result<i64, UiError> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if id.is_finite() && id.fract() == 0.0 && (1.0..=EXACT).contains(&id) {
        Ok(id as i64)
    } else {
        Err(UiError::field(
            field,
            format!("{id} is not an id of this chat; reload the chat and pick the message again"),
        ))
    }
}

/// Timeouts run from 1 s to 14 days (what the backend accepts).
pub fn timeout_secs(seconds: u32) -> Result<u64, UiError> {
    const MAX: u32 = 14 * 24 * 3600;
    if (1..=MAX).contains(&seconds) {
        Ok(u64::from(seconds))
    } else {
        Err(UiError::field(
            "seconds",
            "a timeout lasts from 1 second to 14 days",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_the_window_are_whole_positive_and_exact() {
        assert_eq!(id_from_window("message_id", 42.0).unwrap(), 42);
        for bad in [0.0, -3.0, 1.5, f64::NAN, f64::INFINITY, 1e17] {
            let err = id_from_window("message_id", bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("message_id"), "{bad}");
        }
    }

    #[test]
    fn a_timeout_outside_one_second_to_fourteen_days_is_refused_by_field() {
        assert_eq!(timeout_secs(300).unwrap(), 300);
        assert_eq!(timeout_secs(1_209_600).unwrap(), 1_209_600);
        for bad in [0, 1_209_601] {
            assert_eq!(
                timeout_secs(bad).unwrap_err().field.as_deref(),
                Some("seconds")
            );
        }
    }

    #[test]
    fn the_panel_shows_the_subscriptions_messages_in_order_and_is_stale_only_while_open() {
        let mut chat = ChatView::default();
        for id in [2, 1] {
            chat.apply(
                "message",
                &format!(r#"{{"id": {id}, "name": "ann", "text": "<b>{id}</b>", "sent_at": 5}}"#),
            )
            .unwrap();
        }
        chat.stale_since = Some(std::time::Instant::now());
        let open = ChatPanelView::of(&chat, true);
        let texts: Vec<&str> = open.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["<b>1</b>", "<b>2</b>"]);
        assert_eq!((open.unread, open.stale), (2, true));
        assert!(!ChatPanelView::of(&chat, false).stale);
    }
}

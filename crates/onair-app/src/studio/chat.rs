//! The creator's chat in the studio: one subscription per stream (opened when it goes live,
//! closed when it ends), mirrored into the chat panel's own view and the unread count the
//! tray shows; the moderation actions go to the backend with the signed-in key.

use onair_client::chat::{ChatSubscription, ChatView};
use onair_client::BackendClient;
use onair_core::wire::chat::{BanRequest, ChatSettings, TimeoutRequest};
use tokio::sync::watch;

use super::{lock, Studio};
use crate::chat::{
    id_from_window, timeout_secs, BanOutcomeView, BanView, ChatPanelView, ModerationView,
};
use crate::error::UiError;

/// How many moderation actions the log shows.
const LOG_LINES: u32 = 100;

impl Studio {
    /// The chat panel as it is now.
    pub fn chat(&self) -> ChatPanelView {
        self.inner.chat_view.borrow().clone()
    }

    /// Changes whenever the chat panel should be redrawn.
    pub fn subscribe_chat(&self) -> watch::Receiver<ChatPanelView> {
        self.inner.chat_view.subscribe()
    }

    /// Starts following `username`'s chat for the stream going live; answers its changes for
    /// the mirror to show ([`Studio::show_chat`]).
    pub(super) fn open_chat(
        &self,
        backend: &BackendClient,
        username: &str,
    ) -> watch::Receiver<ChatView> {
        let subscription = ChatSubscription::start(backend, username);
        let changes = subscription.watch();
        // A previous stream's subscription, if any, is dropped: that cancels its task.
        drop(lock(&self.inner.chat).replace(subscription));
        self.inner
            .chat_view
            .send_replace(ChatPanelView::of(&changes.borrow(), true));
        changes
    }

    pub(super) fn show_chat(&self, chat: &ChatView) {
        let panel = ChatPanelView::of(chat, true);
        let unread = panel.unread;
        self.inner.chat_view.send_replace(panel);
        if self.view().chat_unread != unread {
            self.update(|v| v.chat_unread = unread);
        }
    }

    /// Stops following the chat (the stream ended); the last messages stay shown.
    pub(super) async fn close_chat(&self) {
        let subscription = lock(&self.inner.chat).take();
        if let Some(subscription) = subscription {
            subscription.close().await;
        }
        self.inner.chat_view.send_modify(|panel| {
            panel.open = false;
            panel.stale = false;
        });
    }

    /// The creator has seen every message shown: the unread count (and the tray's line) goes
    /// back to zero.
    pub fn chat_seen(&self) {
        if let Some(subscription) = lock(&self.inner.chat).as_ref() {
            subscription.seen();
        }
        self.inner
            .chat_view
            .send_if_modified(|panel| std::mem::take(&mut panel.unread) > 0);
        if self.view().chat_unread > 0 {
            self.update(|v| v.chat_unread = 0);
        }
    }

    /// Takes a message down from every open chat and from history.
    pub async fn hide_message(&self, message_id: f64) -> Result<(), UiError> {
        let id = id_from_window("message_id", message_id)?;
        Ok(self.backend()?.hide_message(id).await?)
    }

    /// Times out the author of `message_id` for `seconds`; answers until when (Unix ms).
    pub async fn time_out(&self, message_id: f64, seconds: u32) -> Result<f64, UiError> {
        let request = TimeoutRequest {
            message_id: id_from_window("message_id", message_id)?,
            seconds: timeout_secs(seconds)?,
        };
        let until = self.backend()?.time_out(&request).await?;
        Ok(until as f64)
    }

    /// Bans the author of `message_id`; on a paid stream their tickets are refunded
    /// (`refund`) or forfeited, and the earnings shown again.
    pub async fn ban(
        &self,
        message_id: f64,
        refund: bool,
        reason: Option<String>,
    ) -> Result<BanOutcomeView, UiError> {
        // A reason the backend finds too long comes back as its field's error.
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        let request = BanRequest {
            message_id: id_from_window("message_id", message_id)?,
            refund,
            reason,
        };
        let outcome = self.backend()?.ban(&request).await?;
        if outcome.refunded_tickets > 0 {
            self.refresh_earnings();
        }
        Ok(BanOutcomeView::from(&outcome))
    }

    /// The bans in force, newest first.
    pub async fn bans(&self) -> Result<Vec<BanView>, UiError> {
        let bans = self.backend()?.bans().await?;
        Ok(bans.iter().map(BanView::from).collect())
    }

    pub async fn unban(&self, ban_id: f64) -> Result<(), UiError> {
        let id = id_from_window("ban_id", ban_id)?;
        Ok(self.backend()?.unban(id).await?)
    }

    pub async fn chat_settings(&self) -> Result<ChatSettings, UiError> {
        Ok(self.backend()?.chat_settings().await?)
    }

    /// Saves slow mode, "established viewers only" and the blocked terms; answers them as the
    /// backend keeps them (a bad field comes back by name).
    pub async fn save_chat_settings(
        &self,
        settings: ChatSettings,
    ) -> Result<ChatSettings, UiError> {
        Ok(self.backend()?.set_chat_settings(&settings).await?)
    }

    /// The newest moderation actions, newest first.
    pub async fn moderation_log(&self) -> Result<Vec<ModerationView>, UiError> {
        let log = self.backend()?.moderation_log(LOG_LINES).await?;
        Ok(log.iter().map(ModerationView::from).collect())
    }
}

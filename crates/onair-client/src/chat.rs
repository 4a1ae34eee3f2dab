//! The creator's side of the chat: following it (one subscription kept open with reconnects
//! that resume after the last event seen, so nothing is missed) and moderating it (hide,
//! timeout, ban, settings, the log). The bodies are the backend's own
//! (`onair_core::wire::chat`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use onair_core::wire::chat::{
    BanOutcome, BanRequest, ChatBan, ChatHidden, ChatMessage, ChatMode, ChatSettings,
    ModerationEntry, TimeoutRequest,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backend::{BackendClient, BackendError};
use crate::viewers::reconnect_backoff;

/// Messages the creator's chat keeps.
pub const KEEP: usize = 200;
/// A heartbeat comes every 15 s; this much silence means the connection is gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(45);

/// The chat as the studio shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatView {
    /// Oldest first, each once, at most [`KEEP`].
    pub messages: VecDeque<ChatMessage>,
    pub mode: ChatMode,
    /// Messages received since the creator last looked ([`ChatSubscription::seen`]).
    pub unread: u32,
    /// Since when the subscription is down; `None` while connected.
    pub stale_since: Option<Instant>,
}

impl ChatView {
    /// Applies one event of the chat's stream; `false` if it changed nothing.
    pub fn apply(&mut self, event: &str, data: &str) -> Result<bool, serde_json::Error> {
        match event {
            "message" => {
                let message: ChatMessage = serde_json::from_str(data)?;
                if self.messages.iter().any(|m| m.id == message.id) {
                    return Ok(false);
                }
                let at = self.messages.partition_point(|m| m.id < message.id);
                self.messages.insert(at, message);
                while self.messages.len() > KEEP {
                    self.messages.pop_front();
                }
                self.unread = self.unread.saturating_add(1);
            }
            "hidden" => {
                let hidden: ChatHidden = serde_json::from_str(data)?;
                let before = self.messages.len();
                self.messages.retain(|m| m.id != hidden.message_id);
                return Ok(self.messages.len() != before);
            }
            "mode" => self.mode = serde_json::from_str(data)?,
            "reset" => self.messages.clear(),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The creator's one subscription to their chat.
pub struct ChatSubscription {
    view: watch::Sender<ChatView>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl ChatSubscription {
    /// Follows `username`'s chat until closed.
    pub fn start(backend: &BackendClient, username: &str) -> Self {
        Self::start_with(backend, username, reconnect_backoff())
    }

    pub fn start_with(
        backend: &BackendClient,
        username: &str,
        backoff: ExponentialBuilder,
    ) -> Self {
        let view = watch::Sender::new(ChatView {
            stale_since: Some(Instant::now()),
            ..ChatView::default()
        });
        let cancel = CancellationToken::new();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(SILENCE_LIMIT)
            .build()
            .unwrap_or_else(|_| backend.http().clone());
        let task = tokio::spawn(
            run(
                backend.chat_events_url(username),
                http,
                view.clone(),
                cancel.clone(),
                backoff,
            )
            .instrument(tracing::info_span!("onair-chat", username)),
        );
        Self {
            view,
            cancel,
            task: Some(task),
        }
    }

    /// Changes as messages arrive, are hidden, and the connection drops or returns.
    pub fn watch(&self) -> watch::Receiver<ChatView> {
        self.view.subscribe()
    }

    pub fn current(&self) -> ChatView {
        self.view.borrow().clone()
    }

    /// The creator has read everything shown.
    pub fn seen(&self) {
        self.view
            .send_if_modified(|v| std::mem::take(&mut v.unread) > 0);
    }

    /// Ends the subscription and waits for its task (at most 2 s).
    pub async fn close(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

impl Drop for ChatSubscription {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn run(
    url: String,
    http: reqwest::Client,
    view: watch::Sender<ChatView>,
    cancel: CancellationToken,
    backoff: ExponentialBuilder,
) {
    let mut delays = backoff.build();
    let mut last_event_id: Option<String> = None;
    // Until the first connection's `ready`, messages are history: not unread. Later
    // connections resume after the last event seen, so what they bring was missed: unread.
    let mut history = true;
    loop {
        let mut request = http.get(&url).header("accept", "text/event-stream");
        if let Some(id) = &last_event_id {
            request = request.header("last-event-id", id);
        }
        let connected = tokio::select! {
            _ = cancel.cancelled() => return,
            response = request.send() => response,
        };
        match connected.and_then(|r| r.error_for_status()) {
            Ok(response) => {
                view.send_modify(|v| v.stale_since = None);
                delays = backoff.build();
                let mut events = response.bytes_stream().eventsource();
                loop {
                    let event = tokio::select! {
                        _ = cancel.cancelled() => return,
                        event = events.next() => event,
                    };
                    match event {
                        Some(Ok(event)) => {
                            if !event.id.is_empty() {
                                last_event_id = Some(event.id.clone());
                            }
                            if event.event == "ready" {
                                history = false;
                            }
                            let mut failed = None;
                            view.send_if_modified(|v| {
                                let before = v.unread;
                                let changed =
                                    v.apply(&event.event, &event.data).unwrap_or_else(|err| {
                                        failed = Some(err);
                                        false
                                    });
                                if history {
                                    v.unread = before;
                                }
                                changed
                            });
                            if let Some(err) = failed {
                                tracing::warn!(%err, event = event.event, "unreadable chat event");
                            }
                        }
                        Some(Err(err)) => {
                            tracing::info!(%err, "chat stream dropped");
                            break;
                        }
                        None => {
                            tracing::info!("chat stream ended");
                            break;
                        }
                    }
                }
                history = false;
            }
            Err(err) => tracing::info!(%err, "cannot reach the chat"),
        }
        view.send_if_modified(|v| {
            let was_live = v.stale_since.is_none();
            v.stale_since.get_or_insert_with(Instant::now);
            was_live
        });
        let delay = delays.next().unwrap_or(Duration::from_secs(5));
        if tokio::time::timeout(delay, cancel.cancelled())
            .await
            .is_ok()
        {
            return;
        }
    }
}

impl BackendClient {
    /// The events URL of `username`'s chat.
    pub fn chat_events_url(&self, username: &str) -> String {
        self.url(&format!("/api/streams/{username}/chat/events"))
    }

    pub async fn hide_message(&self, message_id: i64) -> Result<(), BackendError> {
        self.send(
            self.http()
                .post(self.url(&format!("/api/chat/messages/{message_id}/hide")))
                .bearer_auth(self.key()),
        )
        .await
        .map(drop)
    }

    /// Times out the author of `message_id`; answers until when (Unix ms).
    pub async fn time_out(&self, request: &TimeoutRequest) -> Result<i64, BackendError> {
        let body = self
            .send(
                self.http()
                    .post(self.url("/api/chat/timeouts"))
                    .bearer_auth(self.key())
                    .json(request),
            )
            .await?;
        let standing: onair_core::wire::chat::ChatStanding = parse(&body, "timeout")?;
        match standing {
            onair_core::wire::chat::ChatStanding::TimedOut { until } => Ok(until),
            other => Err(BackendError::Protocol(format!(
                "timeout answered {other:?}"
            ))),
        }
    }

    pub async fn ban(&self, request: &BanRequest) -> Result<BanOutcome, BackendError> {
        let body = self
            .send(
                self.http()
                    .post(self.url("/api/chat/bans"))
                    .bearer_auth(self.key())
                    .json(request),
            )
            .await?;
        parse(&body, "ban")
    }

    pub async fn bans(&self) -> Result<Vec<ChatBan>, BackendError> {
        let body = self
            .send(
                self.http()
                    .get(self.url("/api/chat/bans"))
                    .bearer_auth(self.key()),
            )
            .await?;
        parse(&body, "bans")
    }

    pub async fn unban(&self, ban_id: i64) -> Result<(), BackendError> {
        self.send(
            self.http()
                .delete(self.url(&format!("/api/chat/bans/{ban_id}")))
                .bearer_auth(self.key()),
        )
        .await
        .map(drop)
    }

    pub async fn chat_settings(&self) -> Result<ChatSettings, BackendError> {
        let body = self
            .send(
                self.http()
                    .get(self.url("/api/chat/settings"))
                    .bearer_auth(self.key()),
            )
            .await?;
        parse(&body, "chat settings")
    }

    /// Replaces the chat settings; answers them as stored.
    pub async fn set_chat_settings(
        &self,
        settings: &ChatSettings,
    ) -> Result<ChatSettings, BackendError> {
        let body = self
            .send(
                self.http()
                    .put(self.url("/api/chat/settings"))
                    .bearer_auth(self.key())
                    .json(settings),
            )
            .await?;
        parse(&body, "chat settings")
    }

    /// The newest `limit` moderation actions, newest first.
    pub async fn moderation_log(&self, limit: u32) -> Result<Vec<ModerationEntry>, BackendError> {
        let body = self
            .send(
                self.http()
                    .get(self.url(&format!("/api/chat/log?limit={limit}")))
                    .bearer_auth(self.key()),
            )
            .await?;
        parse(&body, "moderation log")
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &str, what: &str) -> Result<T, BackendError> {
    serde_json::from_str(body).map_err(|e| BackendError::Protocol(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64) -> String {
        format!(r#"{{"id": {id}, "name": "night_owl", "text": "m{id}", "sent_at": {id}}}"#)
    }

    #[test]
    fn messages_are_kept_in_id_order_once_each_and_counted_unread() {
        let mut view = ChatView::default();
        for id in [2, 1, 2, 3] {
            view.apply("message", &message(id)).unwrap();
        }
        let ids: Vec<i64> = view.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(view.unread, 3);
    }

    #[test]
    fn a_hidden_message_leaves_the_view() {
        let mut view = ChatView::default();
        for id in [1, 2] {
            view.apply("message", &message(id)).unwrap();
        }
        assert!(view
            .apply("hidden", r#"{"id": 3, "message_id": 1}"#)
            .unwrap());
        assert_eq!(view.messages.len(), 1);
        assert!(!view
            .apply("hidden", r#"{"id": 4, "message_id": 99}"#)
            .unwrap());
    }

    #[test]
    fn the_view_keeps_the_newest_messages_only() {
        let mut view = ChatView::default();
        for id in 1..=(KEEP as i64 + 3) {
            view.apply("message", &message(id)).unwrap();
        }
        assert_eq!(view.messages.len(), KEEP);
        assert_eq!(view.messages.front().unwrap().id, 4);
    }

    #[test]
    fn an_unreadable_event_is_an_error_and_changes_nothing() {
        let mut view = ChatView::default();
        assert!(view.apply("message", "{").is_err());
        assert!(view.messages.is_empty());
        assert!(!view.apply("standing", r#"{"state": "welcome"}"#).unwrap());
    }
}

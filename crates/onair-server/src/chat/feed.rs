//! One open chat as server-sent events. On connect: the chat's mode, where this viewer
//! stands, then either everything after the client's `Last-Event-ID` or the newest messages,
//! then `ready`; then every event as it is broadcast. Messages and hides carry their id as the SSE id;
//! mode and standing events carry none, so they never move a client's resume point.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::response::sse::Event;
use futures::Stream;
use onair_core::wire::chat::{ChatHidden, ChatMessage, ChatMode, ChatStanding};
use tokio::sync::broadcast::error::RecvError;

use super::store::{self, EventRow, KIND_HIDDEN, KIND_MESSAGE};
use super::{mode_of, standing, ChatError, ChatEvent, Device};
use crate::AppState;

/// Messages a new chat opens with.
pub const RECENT: i64 = 50;
/// Events read from the store at a time while catching up.
const PAGE: i64 = 500;
/// A client further behind than this starts afresh (a `reset` event, then the newest
/// messages) instead of being sent a whole day of chat.
const MAX_CATCH_UP: usize = 10_000;

struct Feed {
    state: AppState,
    streamer_id: i64,
    device: Device,
    events: tokio::sync::broadcast::Receiver<std::sync::Arc<ChatEvent>>,
    pending: VecDeque<Event>,
    /// The id of the newest message or hide sent (or known to be before everything sent).
    last_id: i64,
}

/// The event stream of `streamer_id`'s chat for `device`, resuming after `last_event_id`.
pub async fn feed(
    state: AppState,
    streamer_id: i64,
    device: Device,
    last_event_id: Option<i64>,
) -> Result<impl Stream<Item = Result<Event, Infallible>>, ChatError> {
    // Subscribed before the store is read, so nothing stored after the read is missed.
    let events = state.chat.room(streamer_id).subscribe();
    let mut feed = Feed {
        streamer_id,
        events,
        pending: VecDeque::new(),
        last_id: 0,
        device,
        state,
    };
    feed.greet().await?;
    match last_event_id {
        Some(after) => feed.catch_up(after).await?,
        None => feed.open_fresh().await?,
    }
    // What came before this is history (or what the client missed); after it, news. The
    // studio counts only news as unread.
    feed.pending
        .push_back(Event::default().event("ready").data("{}"));
    Ok(futures::stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(event) = feed.pending.pop_front() {
                return Some((Ok(event), feed));
            }
            match feed.events.recv().await {
                Ok(event) => feed.accept(&event),
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "a chat feed fell behind; reading the store");
                    let after = feed.last_id;
                    let caught_up = async {
                        feed.greet().await?;
                        feed.catch_up(after).await
                    };
                    if let Err(err) = caught_up.await {
                        tracing::warn!(error = %err, "a chat feed could not catch up; closing it");
                        return None;
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }))
}

impl Feed {
    /// The chat's mode and this viewer's standing, as they are now.
    async fn greet(&mut self) -> Result<(), ChatError> {
        let rules = store::rules(&self.state.db, self.streamer_id).await?;
        self.pending.push_back(mode_event(&mode_of(&rules)));
        let standing = standing(&self.state, self.streamer_id, &self.device).await?;
        self.pending.push_back(standing_event(standing));
        Ok(())
    }

    async fn open_fresh(&mut self) -> Result<(), ChatError> {
        // The last id first: a message stored after it comes through the broadcast.
        self.last_id = store::last_event_id(&self.state.db, self.streamer_id).await?;
        let recent = store::recent_messages(&self.state.db, self.streamer_id, RECENT).await?;
        for message in recent.iter().filter(|m| m.id <= self.last_id) {
            self.pending.push_back(message_event(message));
        }
        Ok(())
    }

    /// Everything after `after`, from the store.
    async fn catch_up(&mut self, after: i64) -> Result<(), ChatError> {
        self.last_id = after;
        let mut rows: Vec<EventRow> = Vec::new();
        loop {
            let page =
                store::events_after(&self.state.db, self.streamer_id, self.last_id, PAGE).await?;
            let full = page.len() as i64 == PAGE;
            if let Some(last) = page.last() {
                self.last_id = last.id;
            }
            rows.extend(page);
            if rows.len() > MAX_CATCH_UP {
                self.pending
                    .push_back(Event::default().event("reset").data("{}"));
                return self.open_fresh().await;
            }
            if !full {
                break;
            }
        }
        for row in &rows {
            match row.kind.as_str() {
                KIND_MESSAGE if row.hidden_at.is_none() => {
                    self.pending.push_back(message_event(&row.message()))
                }
                KIND_HIDDEN => {
                    if let Some(message_id) = row.message_id {
                        self.pending.push_back(hidden_event(&ChatHidden {
                            id: row.id,
                            message_id,
                        }));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn accept(&mut self, event: &ChatEvent) {
        match event {
            ChatEvent::Message(message) if message.id > self.last_id => {
                self.last_id = message.id;
                self.pending.push_back(message_event(message));
            }
            ChatEvent::Hidden { id, message_id } if *id > self.last_id => {
                self.last_id = *id;
                self.pending.push_back(hidden_event(&ChatHidden {
                    id: *id,
                    message_id: *message_id,
                }));
            }
            ChatEvent::Mode(mode) => self.pending.push_back(mode_event(mode)),
            ChatEvent::Standing { device, standing } if *device == self.device.id => {
                self.pending.push_back(standing_event(*standing));
            }
            _ => {}
        }
    }
}

fn json_event(name: &'static str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_default()
}

fn message_event(message: &ChatMessage) -> Event {
    json_event("message", message).id(message.id.to_string())
}

fn hidden_event(hidden: &ChatHidden) -> Event {
    json_event("hidden", hidden).id(hidden.id.to_string())
}

fn mode_event(mode: &ChatMode) -> Event {
    json_event("mode", mode)
}

fn standing_event(standing: ChatStanding) -> Event {
    json_event("standing", &standing)
}

//! Live chat through the backend: a message is checked against the creator's moderation
//! (pure rules in [`crate::moderation`]) before anyone sees it, stored, and fanned out to
//! every open chat of that creator. The creator's actions are in `moderate`, the rows in
//! `store`, one open chat's event stream in `feed`; handlers are in [`crate::chat_api`].
//!
//! Order: each creator's chat has one lock held from storing an event to broadcasting it, so
//! events are broadcast in the order of their ids and a feed that skips ids it has sent
//! cannot skip one it has not. A feed that falls behind the broadcast reads what it missed
//! from the store.

pub mod feed;
mod moderate;
pub mod store;

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use onair_core::wire::chat::{ChatMessage, ChatMode, ChatStanding};
use onair_core::wire::ErrorKind;
use onair_core::FieldError;
use rand::RngCore;
use sha2::Sha256;
use tokio::sync::broadcast;

use crate::admission::{self, AdmissionError};
use crate::db::Streamer;
use crate::live::{now_ms, HubError};
use crate::moderation::{self, Refusal};
use crate::AppState;

pub use feed::feed;
pub use moderate::{ban, hide, mode_of, on_join, set_settings, settings_of, time_out, unban};

/// Events a creator's chat keeps for feeds that are a little behind; one further behind
/// reads the store.
const BROADCAST_CAPACITY: usize = 1024;
/// How long a ban also holds the address it came from.
pub const ADDRESS_BAN_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// How long an address hash is kept with a message or a viewer token, for a ban to reach.
pub const ADDRESS_MEMORY_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Whatever a creator's slow mode, one device posts at most in bursts of 5, then 20 a minute
/// (the per-address limit is the route's).
const FLOOD_PER_MINUTE: u32 = 20;
const FLOOD_BURST: u32 = 5;
/// How many of a banned device's (or address's) newest viewer identities a ban removes.
const REACH: i64 = 50;
/// The name of the cookie that carries a viewer's device id.
pub const DEVICE_COOKIE: &str = "onair_device";

/// What a creator's open chats are sent.
#[derive(Debug, Clone)]
pub enum ChatEvent {
    Message(ChatMessage),
    Hidden {
        id: i64,
        message_id: i64,
    },
    Mode(ChatMode),
    /// For the feeds of one device only.
    Standing {
        device: String,
        standing: ChatStanding,
    },
}

/// One creator's chat: its broadcast and the lock that keeps it in order.
pub struct ChatRoom {
    events: broadcast::Sender<Arc<ChatEvent>>,
    order: tokio::sync::Mutex<()>,
}

impl ChatRoom {
    fn new() -> Self {
        Self {
            events: broadcast::Sender::new(BROADCAST_CAPACITY),
            order: tokio::sync::Mutex::new(()),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChatEvent>> {
        self.events.subscribe()
    }

    /// Open chats of this creator.
    pub fn subscribers(&self) -> usize {
        self.events.receiver_count()
    }

    fn send(&self, event: ChatEvent) {
        // No receiver is the common case of a chat nobody has open.
        let _ = self.events.send(Arc::new(event));
    }
}

/// Every creator's chat, and the flood limit of each device.
pub struct ChatHub {
    rooms: parking_lot::Mutex<HashMap<i64, Arc<ChatRoom>>>,
    flood: DefaultKeyedRateLimiter<String>,
}

impl Default for ChatHub {
    fn default() -> Self {
        let per_minute = NonZeroU32::new(FLOOD_PER_MINUTE).expect("non-zero");
        let burst = NonZeroU32::new(FLOOD_BURST).expect("non-zero");
        Self {
            rooms: parking_lot::Mutex::new(HashMap::new()),
            flood: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
        }
    }
}

impl ChatHub {
    /// Counts a message from `device`; past the flood limit, the seconds to wait.
    fn flood_check(&self, device: &str) -> Result<(), u64> {
        self.flood
            .check_key(&device.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.flood.clock().now());
                (wait.as_millis() as u64).div_ceil(1000).max(1)
            })
    }

    pub fn room(&self, streamer_id: i64) -> Arc<ChatRoom> {
        self.rooms
            .lock()
            .entry(streamer_id)
            .or_insert_with(|| Arc::new(ChatRoom::new()))
            .clone()
    }

    /// Forgets the rooms nobody has open (their state is all in the store) and the devices
    /// whose flood allowance has refilled; answers how many rooms are kept.
    pub fn evict_idle(&self) -> usize {
        self.flood.retain_recent();
        let mut rooms = self.rooms.lock();
        rooms.retain(|_, room| room.subscribers() > 0 || Arc::strong_count(room) > 1);
        rooms.len()
    }
}

/// Why the chat refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("{0} is not live right now: the chat opens when the stream does")]
    Offline(String),
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("{0:?} is used by another chatter in this stream: pick another name")]
    NameTaken(String),
    #[error("too many messages from this browser; try again in {retry_after_s} s")]
    Flood { retry_after_s: u64 },
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Admission(#[from] AdmissionError),
    #[error(transparent)]
    Payment(#[from] crate::payments::PaymentError),
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("the database failed: {0}")]
    Store(#[from] sqlx::Error),
}

/// A viewer's browser: the device id of its cookie and the address it comes from now.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub address: IpAddr,
}

impl Device {
    /// The keyed hash of the address, if a ban may take it in (never for loopback or a
    /// trusted proxy, which many viewers share).
    pub fn address_hash(&self, state: &AppState) -> Option<String> {
        moderation::address_bannable(self.address, &state.config.trusted_proxies)
            .then(|| address_hash(state.config.key_secret.as_bytes(), self.address))
    }
}

/// A fresh device id: `dv_` and 32 hex digits.
pub fn new_device_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("dv_{}", hex::encode(bytes))
}

pub fn valid_device_id(id: &str) -> bool {
    id.strip_prefix("dv_")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An address as stored: an HMAC under the server's secret, so the table alone does not say
/// who anyone is.
pub fn address_hash(secret: &[u8], address: IpAddr) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"onair chat address\0");
    mac.update(address.to_canonical().to_string().as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// Posts `text` as `name` from `device` to `streamer`'s chat.
pub async fn post(
    state: &AppState,
    streamer: &Streamer,
    device: &Device,
    post: &onair_core::wire::chat::ChatPost,
) -> Result<ChatMessage, ChatError> {
    let text = onair_core::validate::chat_message(&post.text)?;
    let name = onair_core::validate::chat_name(&post.name, &streamer.username)?;
    if let Err(retry_after_s) = state.chat.flood_check(&device.id) {
        return Err(ChatError::Flood { retry_after_s });
    }
    let Some(stream_id) = state.hub.on_air(&streamer.username).await else {
        return Err(ChatError::Offline(streamer.username.clone()));
    };
    // Only ticket holders chat beside a paywalled stream.
    if let Some(paid) = admission::paid_stream_on_air(state, &streamer.username).await? {
        admission::holds_ticket(state, &streamer.username, paid, post.ticket.as_deref()).await?;
    }
    let address_hash = device.address_hash(state);
    let room = state.chat.room(streamer.id);
    let _order = room.order.lock().await;
    let now = now_ms();
    let chatter = store::chatter(
        &state.db,
        streamer.id,
        &device.id,
        address_hash.as_deref(),
        now,
    )
    .await?;
    let rules = store::rules(&state.db, streamer.id).await?;
    moderation::may_post(&rules, &chatter, &text, now)?;
    if !store::claim_name(&state.db, stream_id, name, &device.id).await? {
        return Err(ChatError::NameTaken(name.to_owned()));
    }
    let message = store::insert_message(
        &state.db,
        &store::NewMessage {
            streamer_id: streamer.id,
            stream_id,
            device: &device.id,
            address_hash: address_hash.as_deref(),
            name,
            text: &text,
            now_ms: now,
        },
    )
    .await?;
    room.send(ChatEvent::Message(message.clone()));
    Ok(message)
}

/// Where `device` stands in `streamer`'s chat now.
pub async fn standing(
    state: &AppState,
    streamer_id: i64,
    device: &Device,
) -> Result<ChatStanding, ChatError> {
    let now = now_ms();
    let hash = device.address_hash(state);
    let chatter = store::chatter(&state.db, streamer_id, &device.id, hash.as_deref(), now).await?;
    Ok(match chatter.timed_out_until_ms {
        _ if chatter.banned => ChatStanding::Banned,
        Some(until) if until > now => ChatStanding::TimedOut { until },
        _ => ChatStanding::Welcome,
    })
}

/// For a viewer token: refuses a banned device or address (403 `banned`).
pub async fn refuse_banned(
    state: &AppState,
    streamer: &Streamer,
    device: &Device,
) -> Result<(), ChatError> {
    let hash = device.address_hash(state);
    if store::banned(
        &state.db,
        streamer.id,
        &device.id,
        hash.as_deref(),
        now_ms(),
    )
    .await?
    {
        return Err(ChatError::Refused(Refusal::Banned));
    }
    Ok(())
}

/// A viewer token went to `identity` on `device`: a ban reaches that participant, and the
/// device has been watching since now (if it was not already).
pub async fn record_viewer(
    state: &AppState,
    streamer: &Streamer,
    device: &Device,
    identity: &str,
) -> Result<(), ChatError> {
    let hash = device.address_hash(state);
    store::record_viewer(
        &state.db,
        streamer.id,
        identity,
        &device.id,
        hash.as_deref(),
        now_ms(),
    )
    .await?;
    Ok(())
}

impl ChatError {
    /// The API's kind for a refusal, and the seconds to wait with it.
    pub fn refusal_kind(refusal: &Refusal) -> (ErrorKind, Option<u64>) {
        match *refusal {
            Refusal::Banned => (ErrorKind::Banned, None),
            Refusal::TimedOut { retry_after_secs } => (ErrorKind::TimedOut, Some(retry_after_secs)),
            Refusal::TooNew { retry_after_secs } => (ErrorKind::TooNew, Some(retry_after_secs)),
            Refusal::BlockedTerm => (ErrorKind::BlockedTerm, None),
            Refusal::SlowMode { retry_after_secs } => (ErrorKind::SlowMode, Some(retry_after_secs)),
        }
    }
}

/// The streamer's newest messages still shown, oldest first.
pub async fn recent(
    state: &AppState,
    streamer: &Streamer,
    limit: i64,
) -> Result<Vec<ChatMessage>, ChatError> {
    Ok(store::recent_messages(&state.db, streamer.id, limit).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_dv_and_thirty_two_hex_digits() {
        let id = new_device_id();
        assert!(valid_device_id(&id), "{id}");
        assert_ne!(id, new_device_id());
        for bad in ["", "dv_", "dv_xyz", "tk_00000000000000000000000000000000"] {
            assert!(!valid_device_id(bad), "{bad}");
        }
    }

    #[test]
    fn an_address_hash_depends_on_the_secret_and_not_on_how_the_address_is_written() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(address_hash(b"s", v4), address_hash(b"s", mapped));
        assert_ne!(address_hash(b"s", v4), address_hash(b"t", v4));
        assert!(!address_hash(b"s", v4).contains("203"));
    }
}

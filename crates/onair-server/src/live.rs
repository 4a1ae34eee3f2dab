//! What is on air now: per streamer room, the live stream and its viewer tally, pushed to
//! subscribers on every change. Webhooks drive it; a reconciliation pass against LiveKit's
//! `ListRooms`/`ListParticipants` corrects whatever webhooks missed (lost, or sent while
//! this server was down).
//!
//! Each room's state sits behind its own async mutex so go-live, counting and end never
//! interleave for one room; the count is pushed before the database write so subscribers
//! see a change as soon as it is known.

mod reconcile;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use livekit_api::services::room::RoomClient;
use livekit_api::services::ServiceError;
use onair_core::viewers::{Outcome, ParticipantEvent, ViewerTally};
use sqlx::SqlitePool;
use tokio::sync::watch;

use crate::db::{self, Figures, StreamRecord};
use crate::publisher_identity;

pub use onair_core::viewers::ViewerCount;
pub use reconcile::CREATOR_GRACE_MS;

/// Why the hub could not do what it was asked: its database, or LiveKit's server API (which
/// the API answers as a bad gateway, not as its own failure).
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("the database failed: {0}")]
    Store(#[from] sqlx::Error),
    #[error("LiveKit's server API failed: {0}")]
    LiveKit(#[from] ServiceError),
}

struct Live {
    stream_id: i64,
    /// The creator's participant session on air (empty when restored from before a restart
    /// or found by reconciliation without one).
    publisher_sid: String,
    started_at_ms: i64,
    tally: ViewerTally,
    version: i64,
    tracks: i32,
    /// When reconciliation first found the creator missing from the room (reset when they
    /// are back): a creator rejoining after a lost connection keeps the stream.
    creator_missing_since: Option<i64>,
}

impl Live {
    fn count(&self, confirmed_at: Option<i64>) -> ViewerCount {
        ViewerCount {
            live: true,
            viewers: self.tally.viewers() as u32,
            peak: self.tally.peak() as u32,
            confirmed_at,
            stream_id: Some(self.stream_id),
            publisher_tracks: self.tracks.max(0) as u32,
        }
    }

    fn figures(&self, now_ms: i64) -> Figures {
        Figures {
            peak: self.tally.peak() as i64,
            unique: self.tally.unique_viewers() as i64,
            watch_time_ms: self.tally.watch_time_ms(now_ms),
            tally: serde_json::to_string(&self.tally).unwrap_or_default(),
            version: self.version,
        }
    }
}

/// One streamer's room.
pub struct Room {
    name: String,
    counts: watch::Sender<ViewerCount>,
    live: tokio::sync::Mutex<Option<Live>>,
    /// Creator sessions that have left: a join webhook for one of them arriving late (after
    /// its own leave) must not put the creator back on air.
    left_publishers: parking_lot::Mutex<std::collections::VecDeque<String>>,
    /// Deletions of this LiveKit room still under way: a new stream must not join a room
    /// LiveKit is about to close.
    deleting: watch::Sender<u32>,
}

/// How long a room deletion may hold up its caller.
const DELETE_ROOM_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);
/// How long a publisher token waits for a deletion of its room still under way.
pub const DELETION_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// How many departed creator sessions a room remembers.
const REMEMBERED_PUBLISHERS: usize = 64;

impl Room {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            counts: watch::Sender::new(ViewerCount::offline()),
            live: tokio::sync::Mutex::new(None),
            left_publishers: parking_lot::Mutex::new(std::collections::VecDeque::new()),
            deleting: watch::Sender::new(0),
        }
    }

    pub fn count(&self) -> ViewerCount {
        self.counts.borrow().clone()
    }

    /// A receiver that sees the current count at once and every change after it.
    pub fn subscribe(&self) -> watch::Receiver<ViewerCount> {
        self.counts.subscribe()
    }

    /// Open event-stream subscriptions.
    pub fn subscribers(&self) -> usize {
        self.counts.receiver_count()
    }

    fn push(&self, count: ViewerCount) {
        self.counts.send_replace(count);
    }
}

/// All rooms, the database and LiveKit's RoomService.
pub struct Hub {
    rooms: parking_lot::Mutex<HashMap<String, Arc<Room>>>,
    db: SqlitePool,
    livekit: Arc<RoomClient>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Hub {
    pub fn new(db: SqlitePool, livekit: RoomClient) -> Self {
        Self {
            rooms: parking_lot::Mutex::new(HashMap::new()),
            db,
            livekit: Arc::new(livekit),
        }
    }

    /// The room of `name`, made on first use. Callers check that the streamer exists (or
    /// hold a verified webhook about it), so the map is bounded by the streamers.
    pub fn room(&self, name: &str) -> Arc<Room> {
        self.rooms
            .lock()
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Room::new(name)))
            .clone()
    }

    /// Total open event-stream subscriptions.
    pub fn subscribers(&self) -> usize {
        self.rooms.lock().values().map(|r| r.subscribers()).sum()
    }
    /// Brings back what was on air when the server stopped (figures included); the first
    /// reconciliation then confirms or corrects it.
    pub async fn restore(&self) -> Result<usize, HubError> {
        let rows = db::live_streams(&self.db).await?;
        let restored = rows.len();
        for row in rows {
            let tally = row
                .tally
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_else(|| ViewerTally::new(publisher_identity(&row.username)));
            let room = self.room(&row.username);
            let live = Live {
                stream_id: row.id,
                publisher_sid: String::new(),
                started_at_ms: row.started_at,
                tally,
                version: row.tally_version,
                tracks: 0,
                creator_missing_since: None,
            };
            room.push(live.count(None));
            *room.live.lock().await = Some(live);
        }
        Ok(restored)
    }

    /// The creator's publisher session `sid` became active in `name`.
    pub async fn go_live(self: &Arc<Self>, name: &str, sid: &str) -> Result<(), HubError> {
        let Some(streamer) = db::streamer_by_username(&self.db, name).await? else {
            tracing::warn!(
                room = name,
                "a publisher joined a room that is no streamer's"
            );
            return Ok(());
        };
        let room = self.room(name);
        if !sid.is_empty() && room.left_publishers.lock().iter().any(|s| s == sid) {
            tracing::info!(
                room = name,
                sid,
                "ignored the late join of a creator session that already left"
            );
            return Ok(());
        }
        let mut live = room.live.lock().await;
        if let Some(live) = live.as_mut() {
            // A newer session of the same creator (a reconnect) carries the stream on.
            if !sid.is_empty() {
                live.publisher_sid = sid.to_owned();
            }
            return Ok(());
        }
        let now = now_ms();
        let stream_id = db::start_stream(&self.db, streamer.id, now).await?;
        let state = Live {
            stream_id,
            publisher_sid: sid.to_owned(),
            started_at_ms: now,
            tally: ViewerTally::new(publisher_identity(name)),
            version: 0,
            tracks: 0,
            creator_missing_since: None,
        };
        room.push(state.count(Some(now)));
        *live = Some(state);
        drop(live);
        tracing::info!(room = name, stream_id, "on air");
        // Viewers who joined before the creator were not counted by their webhooks.
        let hub = Arc::clone(self);
        let name = name.to_owned();
        tokio::spawn(async move {
            if let Err(err) = hub.reconcile_room(&name).await {
                tracing::warn!(room = name, error = %err, "checking viewers after go-live failed");
            }
        });
        Ok(())
    }

    /// A viewer-or-not participant event for `name`.
    pub async fn apply(&self, name: &str, event: &ParticipantEvent) -> Result<Outcome, HubError> {
        let room = self.room(name);
        let mut guard = room.live.lock().await;
        let Some(live) = guard.as_mut() else {
            // Not on air: nothing to attribute it to. Go-live reconciles what is present.
            return Ok(Outcome::NotAViewer);
        };
        let now = now_ms();
        let outcome = live.tally.apply(event, now);
        if matches!(outcome, Outcome::Changed(_) | Outcome::Unchanged) {
            live.version += 1;
            room.push(live.count(Some(now)));
            let (id, figures) = (live.stream_id, live.figures(now));
            drop(guard);
            db::save_figures(&self.db, id, &figures).await?;
        }
        Ok(outcome)
    }

    pub async fn publisher_tracks(&self, name: &str, delta: i32) {
        let room = self.room(name);
        let mut guard = room.live.lock().await;
        if let Some(live) = guard.as_mut() {
            live.tracks = (live.tracks + delta).max(0);
            let confirmed = room.count().confirmed_at;
            room.push(live.count(confirmed));
        }
    }

    /// The creator's session `sid` left: ends the stream if that session is the one on air.
    pub async fn publisher_left(
        &self,
        name: &str,
        sid: &str,
        reason: &str,
    ) -> Result<Option<StreamRecord>, HubError> {
        let room = self.room(name);
        if !sid.is_empty() {
            let mut left = room.left_publishers.lock();
            left.push_back(sid.to_owned());
            if left.len() > REMEMBERED_PUBLISHERS {
                left.pop_front();
            }
        }
        let current = room
            .live
            .lock()
            .await
            .as_ref()
            .map(|l| l.publisher_sid.clone());
        match current {
            Some(on_air) if on_air.is_empty() || on_air == sid => self.end(name, reason).await,
            Some(_) => {
                tracing::info!(
                    room = name,
                    sid,
                    "an earlier creator session left; the stream goes on"
                );
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// The room instance `room_sid` closed: ends the stream if it was on air in that instance
    /// (a stream that already moved on to a new instance of the room goes on).
    pub async fn room_finished(&self, name: &str, room_sid: &str) -> Result<(), HubError> {
        let listed = self.livekit.list_rooms(vec![name.to_owned()]).await;
        let newer_instance =
            matches!(&listed, Ok(rooms) if rooms.iter().any(|r| r.sid != room_sid));
        if newer_instance {
            tracing::info!(
                room = name,
                room_sid,
                "an earlier instance of the room finished; the stream goes on"
            );
            return Ok(());
        }
        self.end(name, "room_finished").await?;
        Ok(())
    }

    /// Ends what is on air in `name` (idempotent): closes the record with its figures and
    /// tells subscribers. Returns the closed record, or `None` if nothing was on air.
    pub async fn end(&self, name: &str, reason: &str) -> Result<Option<StreamRecord>, HubError> {
        let room = self.room(name);
        let mut guard = room.live.lock().await;
        let Some(mut live) = guard.take() else {
            return Ok(None);
        };
        let now = now_ms();
        live.tally.end_all(now);
        live.version += 1;
        let figures = live.figures(now);
        room.push(ViewerCount {
            live: false,
            viewers: 0,
            peak: figures.peak as u32,
            confirmed_at: Some(now),
            stream_id: Some(live.stream_id),
            publisher_tracks: 0,
        });
        db::end_stream(&self.db, live.stream_id, &figures, now, reason).await?;
        drop(guard);
        tracing::info!(
            room = name,
            stream_id = live.stream_id,
            reason,
            peak = figures.peak,
            unique = figures.unique,
            watch_time_ms = figures.watch_time_ms,
            "stream ended"
        );
        Ok(db::stream(&self.db, live.stream_id).await?)
    }

    /// Deletes the LiveKit room so every viewer is disconnected at once; true if it existed.
    /// Bounded: deleting a room that is closing anyway (its creator just left) can take
    /// LiveKit seconds, and callers (the creator's End, webhook delivery) must not wait that.
    /// The deletion itself runs to the end meanwhile; [`Hub::wait_deleted`] waits for it.
    pub async fn delete_room(&self, name: &str) -> bool {
        let room = self.room(name);
        room.deleting.send_modify(|n| *n += 1);
        let (livekit, owned) = (self.livekit.clone(), name.to_owned());
        let deletion = tokio::spawn(async move {
            let result = livekit.delete_room(&owned).await;
            room.deleting.send_modify(|n| *n -= 1);
            result
        });
        match tokio::time::timeout(DELETE_ROOM_TIMEOUT, deletion).await {
            Ok(Ok(Ok(()))) => true,
            Ok(Ok(Err(err))) => {
                // Deleting a room that is already gone is the common case.
                tracing::debug!(room = name, error = %err, "delete_room");
                false
            }
            Ok(Err(err)) => {
                tracing::warn!(room = name, error = %err, "the room deletion task failed");
                false
            }
            Err(_) => {
                tracing::info!(
                    room = name,
                    "LiveKit did not confirm the room deletion within {DELETE_ROOM_TIMEOUT:?}; it goes on in the background"
                );
                false
            }
        }
    }

    /// Waits (at most `limit`) until no deletion of `name` is under way; false if one still
    /// is.
    pub async fn wait_deleted(&self, name: &str, limit: std::time::Duration) -> bool {
        let mut deleting = self.room(name).deleting.subscribe();
        tokio::time::timeout(limit, deleting.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The stream `name` has on air, if any: the one answer to "is this stream live?" (the
    /// room's state, not the count last pushed to subscribers).
    pub async fn on_air(&self, name: &str) -> Option<i64> {
        self.room(name)
            .live
            .lock()
            .await
            .as_ref()
            .map(|l| l.stream_id)
    }

    /// Whether LiveKit lists `identity` in room `name` right now.
    pub async fn is_present(&self, name: &str, identity: &str) -> Result<bool, HubError> {
        let listed = self.livekit.list_participants(name).await?;
        Ok(listed.iter().any(|p| p.identity == identity))
    }

    /// Removes `identity` from room `name` (a viewer who got in without a valid ticket).
    pub async fn remove_participant(&self, name: &str, identity: &str) -> Result<(), HubError> {
        self.livekit.remove_participant(name, identity).await?;
        Ok(())
    }
}

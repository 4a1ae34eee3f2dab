//! Reconciliation: LiveKit's `ListRooms`/`ListParticipants` correct what webhooks missed (lost,
//! or sent while this server was down), and a creator gone from their room for longer than the
//! grace ends their stream.

use std::collections::HashSet;
use std::sync::Arc;

use livekit_protocol as proto;
use onair_core::viewers::Outcome;

use super::{now_ms, Hub, HubError, Room};
use crate::{db, publisher_identity, webhook};

/// How long a creator may be missing from their room (a lost connection, a LiveKit restart)
/// before reconciliation ends the stream: the studio rejoins by itself within this.
pub const CREATOR_GRACE_MS: i64 = 30_000;

/// Whether a creator missing since `missing_since` (as reconciliation saw it) has been gone
/// long enough to end their stream.
pub fn creator_gone_for_good(missing_since: Option<i64>, now_ms: i64) -> bool {
    missing_since.is_some_and(|since| now_ms - since >= CREATOR_GRACE_MS)
}

/// Since when the creator has been missing, given whether a listing made at `seen_at` showed
/// them: the first listing without them starts the grace, any listing with them ends it.
pub fn missing_since(present: bool, previous: Option<i64>, seen_at: i64) -> Option<i64> {
    match (present, previous) {
        (true, _) => None,
        (false, since) => since.or(Some(seen_at)),
    }
}

impl Hub {
    /// Checks one live room against `ListParticipants`: corrects the count, confirms it, and
    /// ends the stream if the creator is no longer there.
    pub async fn reconcile_room(&self, name: &str) -> Result<(), HubError> {
        let requested_at = now_ms();
        let listed = self.livekit.list_participants(name).await?;
        let publisher = publisher_identity(name);
        let room = self.room(name);
        let mut guard = room.live.lock().await;
        let Some(live) = guard.as_mut() else {
            return Ok(());
        };
        let present = listed.iter().any(|p| p.identity == publisher);
        live.creator_missing_since =
            missing_since(present, live.creator_missing_since, requested_at);
        if live.started_at_ms < requested_at
            && creator_gone_for_good(live.creator_missing_since, requested_at)
        {
            drop(guard);
            self.end(name, "publisher_gone").await?;
            self.delete_room(name).await;
            return Ok(());
        }
        let snapshot: Vec<_> = listed.iter().map(webhook::from_proto).collect();
        let now = now_ms();
        let outcome = live.tally.reconcile(&snapshot, requested_at, now);
        live.tracks = listed
            .iter()
            .find(|p| p.identity == publisher)
            .map_or(live.tracks, |p| p.tracks.len() as i32);
        if let Outcome::Changed(n) = outcome {
            tracing::info!(
                room = name,
                viewers = n,
                "reconciliation corrected the count"
            );
        }
        live.version += 1;
        room.push(live.count(Some(now)));
        let (id, figures) = (live.stream_id, live.figures(now));
        drop(guard);
        db::save_figures(&self.db, id, &figures).await?;
        Ok(())
    }

    /// A live room LiveKit no longer lists, as seen by a listing made at `requested_at`.
    async fn room_missing(&self, name: &str, requested_at: i64) -> Result<(), HubError> {
        let room = self.room(name);
        let mut guard = room.live.lock().await;
        let Some(live) = guard.as_mut() else {
            return Ok(());
        };
        live.creator_missing_since = missing_since(false, live.creator_missing_since, requested_at);
        if creator_gone_for_good(live.creator_missing_since, requested_at) {
            drop(guard);
            self.end(name, "room_gone").await?;
        }
        Ok(())
    }

    /// One reconciliation pass over every room LiveKit has and every room we think is live.
    pub async fn reconcile_all(self: &Arc<Self>) -> Result<(), HubError> {
        let requested_at = now_ms();
        let rooms: HashSet<String> = self
            .livekit
            .list_rooms(vec![])
            .await?
            .into_iter()
            .map(|r: proto::Room| r.name)
            .collect();
        let known: Vec<Arc<Room>> = self.rooms.lock().values().cloned().collect();
        let mut live_names = HashSet::new();
        for room in known {
            let started = room.live.lock().await.as_ref().map(|l| l.started_at_ms);
            let Some(started_at) = started else { continue };
            live_names.insert(room.name.clone());
            let result = if rooms.contains(&room.name) {
                self.reconcile_room(&room.name).await
            } else if started_at < requested_at {
                // The room closed while its webhooks were lost, or LiveKit restarted and the
                // studio has not rejoined yet: the same grace as a creator missing from it.
                self.room_missing(&room.name, requested_at).await
            } else {
                Ok(())
            };
            if let Err(err) = result {
                tracing::warn!(room = room.name, error = %err, "reconciling a room failed");
            }
        }
        // A creator on air whose participant_joined we never saw.
        for name in rooms.difference(&live_names) {
            if onair_core::validate::username(name).is_err() {
                continue;
            }
            let publisher = publisher_identity(name);
            let listed = self.livekit.list_participants(name).await?;
            let active = proto::participant_info::State::Active as i32;
            if let Some(p) = listed
                .iter()
                .find(|p| p.identity == publisher && p.state == active)
            {
                tracing::info!(
                    room = name,
                    "found a creator on air that no webhook announced"
                );
                self.go_live(name, &p.sid).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grace_starts_at_the_first_listing_without_the_creator_and_ends_when_they_are_back() {
        assert_eq!(missing_since(false, None, 5), Some(5));
        assert_eq!(missing_since(false, Some(5), 9), Some(5));
        assert_eq!(missing_since(true, Some(5), 9), None);
        assert_eq!(missing_since(true, None, 9), None);
    }

    #[test]
    fn a_creator_back_within_the_grace_keeps_the_stream() {
        assert!(!creator_gone_for_good(None, 1_000_000));
        assert!(!creator_gone_for_good(
            Some(1_000_000),
            1_000_000 + CREATOR_GRACE_MS - 1
        ));
    }

    #[test]
    fn a_creator_missing_for_the_whole_grace_ends_the_stream() {
        assert!(creator_gone_for_good(
            Some(1_000_000),
            1_000_000 + CREATOR_GRACE_MS
        ));
    }
}

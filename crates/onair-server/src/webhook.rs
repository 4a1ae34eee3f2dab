//! LiveKit webhooks reduced to what the backend acts on. Pure: verification happens in the
//! handler (livekit-api's receiver, on the raw body), this only decides what an event means.

use livekit_protocol as proto;
use onair_core::viewers::{Change, Participant, ParticipantEvent, ParticipantKind};

/// What a verified webhook asks the backend to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The creator's publisher session `sid` became active: the stream is live.
    PublisherJoined { room: String, sid: String },
    /// The creator's publisher session `sid` is gone (timeout, kicked, left…): the stream
    /// ends, if that session is the one on air (a late webhook of an earlier session of the
    /// same creator must not end the current one).
    PublisherLeft {
        room: String,
        sid: String,
        reason: String,
    },
    /// A participant other than the creator joined or left: counting decides if it is a viewer.
    Participant {
        room: String,
        event: ParticipantEvent,
    },
    /// The room instance `room_sid` closed: whatever was live in it has ended.
    RoomFinished { room: String, room_sid: String },
    /// The creator's track count changed (stream health).
    PublisherTracks { room: String, delta: i32 },
    /// Nothing to do (room_started, egress, other rooms' chatter…).
    Ignore,
}

/// Decides what `event` means for the room of a streamer whose publisher identity is given by
/// `publisher_identity(room)`.
pub fn classify(
    event: &proto::WebhookEvent,
    publisher_identity: impl Fn(&str) -> String,
) -> Action {
    let Some(room) = event.room.as_ref().map(|r| r.name.clone()) else {
        return Action::Ignore;
    };
    let sid = event
        .participant
        .as_ref()
        .map(|p| p.sid.clone())
        .unwrap_or_default();
    let publisher = publisher_identity(&room);
    let participant = event.participant.as_ref();
    let is_publisher = participant.is_some_and(|p| p.identity == publisher);
    match event.event.as_str() {
        "participant_joined" if is_publisher => Action::PublisherJoined { room, sid },
        "participant_left" | "participant_connection_aborted" if is_publisher => {
            let reason = participant
                .map(|p| p.disconnect_reason)
                .and_then(|r| proto::DisconnectReason::try_from(r).ok())
                .unwrap_or(proto::DisconnectReason::UnknownReason);
            // A newer session of the same creator replaced this one: the stream goes on.
            if reason == proto::DisconnectReason::DuplicateIdentity {
                return Action::Ignore;
            }
            Action::PublisherLeft {
                room,
                sid,
                reason: reason.as_str_name().to_lowercase(),
            }
        }
        name @ ("participant_joined" | "participant_left" | "participant_connection_aborted") => {
            let Some(p) = participant else {
                return Action::Ignore;
            };
            let p = from_proto(p);
            let change = if name == "participant_joined" {
                Change::Joined(p)
            } else {
                Change::Left(p)
            };
            Action::Participant {
                room,
                event: ParticipantEvent {
                    id: event.id.clone(),
                    created_at_s: event.created_at,
                    change,
                },
            }
        }
        "room_finished" => Action::RoomFinished {
            room,
            room_sid: event
                .room
                .as_ref()
                .map(|r| r.sid.clone())
                .unwrap_or_default(),
        },
        "track_published" if is_publisher => Action::PublisherTracks { room, delta: 1 },
        "track_unpublished" if is_publisher => Action::PublisherTracks { room, delta: -1 },
        _ => Action::Ignore,
    }
}

/// The counting view of a LiveKit participant (from a webhook or `ListParticipants`).
// `recorder` and `agent` are deprecated in favour of `kind`, but servers still set them for
// clients that joined with old-style grants, and such clients must not count either.
#[allow(deprecated)]
pub fn from_proto(p: &proto::ParticipantInfo) -> Participant {
    use proto::participant_info::{Kind, State};
    let kind = match Kind::try_from(p.kind) {
        Ok(Kind::Standard) => ParticipantKind::Standard,
        Ok(Kind::Ingress) => ParticipantKind::Ingress,
        Ok(Kind::Egress) => ParticipantKind::Egress,
        Ok(Kind::Sip) => ParticipantKind::Sip,
        Ok(Kind::Agent) => ParticipantKind::Agent,
        _ => ParticipantKind::Other,
    };
    let permission = p.permission.clone().unwrap_or_default();
    Participant {
        sid: p.sid.clone(),
        identity: p.identity.clone(),
        kind,
        hidden: permission.hidden,
        recorder: permission.recorder,
        agent: permission.agent,
        active: p.state == State::Active as i32,
        joined_at_ms: if p.joined_at_ms > 0 {
            p.joined_at_ms
        } else {
            p.joined_at * 1000
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publisher(room: &str) -> String {
        format!("creator-{room}")
    }

    fn event(name: &str, identity: &str, reason: proto::DisconnectReason) -> proto::WebhookEvent {
        proto::WebhookEvent {
            event: name.into(),
            id: "EV_1".into(),
            created_at: 1_700_000_000,
            room: Some(proto::Room {
                name: "alice".into(),
                ..Default::default()
            }),
            participant: Some(proto::ParticipantInfo {
                sid: "PA_1".into(),
                identity: identity.into(),
                state: proto::participant_info::State::Active as i32,
                disconnect_reason: reason as i32,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_creators_join_makes_the_stream_live_and_a_viewers_join_is_counted() {
        let ok = proto::DisconnectReason::UnknownReason;
        assert_eq!(
            classify(&event("participant_joined", "creator-alice", ok), publisher),
            Action::PublisherJoined {
                room: "alice".into(),
                sid: "PA_1".into()
            }
        );
        let Action::Participant { room, event } =
            classify(&event("participant_joined", "viewer-1", ok), publisher)
        else {
            panic!("a viewer's join is a participant event");
        };
        assert_eq!(room, "alice");
        assert!(matches!(event.change, Change::Joined(p) if p.active && p.sid == "PA_1"));
    }

    #[test]
    fn the_creator_timing_out_ends_the_stream_but_being_replaced_by_a_new_session_does_not() {
        let timeout = event(
            "participant_left",
            "creator-alice",
            proto::DisconnectReason::ConnectionTimeout,
        );
        assert_eq!(
            classify(&timeout, publisher),
            Action::PublisherLeft {
                room: "alice".into(),
                sid: "PA_1".into(),
                reason: "connection_timeout".into()
            }
        );
        let replaced = event(
            "participant_left",
            "creator-alice",
            proto::DisconnectReason::DuplicateIdentity,
        );
        assert_eq!(classify(&replaced, publisher), Action::Ignore);
    }

    #[test]
    fn an_aborted_connection_counts_as_a_leave() {
        let aborted = event(
            "participant_connection_aborted",
            "viewer-1",
            proto::DisconnectReason::JoinFailure,
        );
        assert!(matches!(
            classify(&aborted, publisher),
            Action::Participant {
                event: ParticipantEvent {
                    change: Change::Left(_),
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn events_without_a_room_are_ignored() {
        let mut e = event(
            "participant_joined",
            "viewer-1",
            proto::DisconnectReason::UnknownReason,
        );
        e.room = None;
        assert_eq!(classify(&e, publisher), Action::Ignore);
    }
}

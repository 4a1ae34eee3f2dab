//! A room's events: the SDK's, converted to ours with every native handle they carry taken.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::engine::RoomSignal;
use crate::handle::FfiHandle;
use crate::options::{ConnectionQuality, ConnectionState, DisconnectReason};
use crate::participant::{LocalParticipant, RemoteParticipant};
use crate::proto::room_event;
use crate::track::{RemoteTrack, RemoteTrackPublication};

/// Something that happened in the room.
#[derive(Debug, Clone)]
pub enum RoomEvent {
    ParticipantConnected(RemoteParticipant),
    ParticipantDisconnected {
        identity: String,
        reason: DisconnectReason,
    },
    LocalTrackPublished {
        sid: String,
    },
    LocalTrackUnpublished {
        sid: String,
    },
    /// After a full reconnect the SDK publishes our tracks again, each under a new sid:
    /// [`LocalParticipant::track_publications`] already lists it under `sid`.
    LocalTrackRepublished {
        previous_sid: String,
        sid: String,
    },
    TrackPublished {
        participant_identity: String,
        publication: RemoteTrackPublication,
    },
    TrackUnpublished {
        participant_identity: String,
        sid: String,
    },
    TrackSubscribed {
        participant_identity: String,
        track: RemoteTrack,
    },
    TrackUnsubscribed {
        participant_identity: String,
        sid: String,
    },
    TrackSubscriptionFailed {
        participant_identity: String,
        sid: String,
        error: String,
    },
    TrackMuted {
        participant_identity: String,
        sid: String,
    },
    TrackUnmuted {
        participant_identity: String,
        sid: String,
    },
    ConnectionQualityChanged {
        participant_identity: String,
        quality: ConnectionQuality,
    },
    ConnectionStateChanged(ConnectionState),
    /// The SDK lost the connection and is resuming or rejoining by itself.
    Reconnecting,
    Reconnected,
    /// The room is over for us. Close the room to release everything.
    Disconnected {
        reason: DisconnectReason,
    },
}

/// Releases handles carried by an event for a room nobody listens to any more.
pub(crate) fn release_unrouted(message: room_event::Message) {
    drop(convert(message, &Mutex::new(HashMap::new()), None));
}

pub(crate) async fn room_events(
    mut signals: mpsc::UnboundedReceiver<RoomSignal>,
    events: mpsc::UnboundedSender<RoomEvent>,
    remote: Arc<Mutex<HashMap<String, RemoteParticipant>>>,
    local: LocalParticipant,
) {
    while let Some(signal) = signals.recv().await {
        let event = match signal {
            RoomSignal::Event(message) => convert(*message, &remote, Some(&local)),
            RoomSignal::EnginePanic(message) => {
                tracing::error!(%message, "room ended by a native SDK panic");
                Some(RoomEvent::Disconnected {
                    reason: DisconnectReason::EnginePanic,
                })
            }
        };
        if let Some(event) = event {
            // The caller may have stopped listening; keep draining so handles are released.
            let _ = events.send(event);
        }
    }
}

/// Our event for the SDK's, taking ownership of every native handle it carries: a handle
/// left in an event we do not convert would stay in the SDK's store for the life of the
/// process, with whatever it keeps alive.
fn convert(
    message: room_event::Message,
    remote: &Mutex<HashMap<String, RemoteParticipant>>,
    local: Option<&LocalParticipant>,
) -> Option<RoomEvent> {
    use room_event::Message as M;
    Some(match message {
        M::ParticipantConnected(p) => {
            let participant = RemoteParticipant::new(p.info);
            remote
                .lock()
                .insert(participant.identity().to_owned(), participant.clone());
            RoomEvent::ParticipantConnected(participant)
        }
        M::ParticipantDisconnected(p) => {
            remote.lock().remove(&p.participant_identity);
            RoomEvent::ParticipantDisconnected {
                identity: p.participant_identity,
                reason: DisconnectReason::from_proto(p.disconnect_reason),
            }
        }
        M::LocalTrackPublished(t) => RoomEvent::LocalTrackPublished { sid: t.track_sid },
        M::LocalTrackUnpublished(t) => RoomEvent::LocalTrackUnpublished {
            sid: t.publication_sid,
        },
        M::LocalTrackRepublished(t) => {
            let handle = FfiHandle::new(t.publication_handle);
            let sid = t.info.sid.clone();
            local?.republished(&t.previous_sid, handle, &t.info)?;
            RoomEvent::LocalTrackRepublished {
                previous_sid: t.previous_sid,
                sid,
            }
        }
        M::TrackPublished(t) => RoomEvent::TrackPublished {
            participant_identity: t.participant_identity,
            publication: RemoteTrackPublication::new(t.publication),
        },
        M::TrackUnpublished(t) => RoomEvent::TrackUnpublished {
            participant_identity: t.participant_identity,
            sid: t.publication_sid,
        },
        M::TrackSubscribed(t) => RoomEvent::TrackSubscribed {
            participant_identity: t.participant_identity,
            track: RemoteTrack::new(t.track),
        },
        M::TrackUnsubscribed(t) => RoomEvent::TrackUnsubscribed {
            participant_identity: t.participant_identity,
            sid: t.track_sid,
        },
        M::TrackSubscriptionFailed(t) => RoomEvent::TrackSubscriptionFailed {
            participant_identity: t.participant_identity,
            sid: t.track_sid,
            error: t.error,
        },
        M::TrackMuted(t) => RoomEvent::TrackMuted {
            participant_identity: t.participant_identity,
            sid: t.track_sid,
        },
        M::TrackUnmuted(t) => RoomEvent::TrackUnmuted {
            participant_identity: t.participant_identity,
            sid: t.track_sid,
        },
        M::ConnectionQualityChanged(q) => RoomEvent::ConnectionQualityChanged {
            participant_identity: q.participant_identity,
            quality: ConnectionQuality::from_proto(q.quality),
        },
        M::ConnectionStateChanged(s) => {
            RoomEvent::ConnectionStateChanged(ConnectionState::from_proto(s.state))
        }
        M::Reconnecting(_) => RoomEvent::Reconnecting,
        M::Reconnected(_) => RoomEvent::Reconnected,
        M::Disconnected(d) => RoomEvent::Disconnected {
            reason: DisconnectReason::from_proto(d.reason),
        },
        // Nothing of ours uses data tracks or streams (viewers cannot publish data); their
        // handles are released here.
        M::DataTrackPublished(t) => {
            drop(FfiHandle::new(t.track.handle.id));
            return None;
        }
        M::ByteStreamOpened(o) => {
            drop(FfiHandle::new(o.reader.handle.id));
            return None;
        }
        M::TextStreamOpened(o) => {
            drop(FfiHandle::new(o.reader.handle.id));
            return None;
        }
        _ => return None,
    })
}

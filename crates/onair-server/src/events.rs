//! What a verified LiveKit webhook does: the stream goes on or off air and the viewer count
//! changes (in [`crate::live::Hub`]), then the tickets the participant holds (in
//! [`crate::admission`]), and a banned viewer joining is removed again (in [`crate::chat`]). The meaning of an event is decided, purely, by
//! [`crate::webhook::classify`]; the handler only verifies the signature.

use livekit_protocol as proto;
use onair_core::viewers::Change;

use crate::live::HubError;
use crate::webhook::{self, Action};
use crate::{admission, chat, publisher_identity, AppState};

/// Applies one verified webhook `event`. A failure is the hub's (the database, or LiveKit's
/// server API); tickets that cannot be updated are logged, the count still counts.
pub async fn dispatch(state: &AppState, event: &proto::WebhookEvent) -> Result<(), HubError> {
    let hub = &state.hub;
    match webhook::classify(event, publisher_identity) {
        Action::PublisherJoined { room, sid } => hub.go_live(&room, &sid).await?,
        Action::PublisherLeft { room, sid, reason } => {
            if hub.publisher_left(&room, &sid, &reason).await?.is_some() {
                hub.delete_room(&room).await;
            }
        }
        Action::RoomFinished { room, room_sid } => hub.room_finished(&room, &room_sid).await?,
        Action::Participant { room, event } => {
            hub.apply(&room, &event).await?;
            if let Err(err) = admission::on_participant(state, &room, &event).await {
                tracing::warn!(error = %err, room, "applying a join or leave to tickets failed");
            }
            if let Change::Joined(participant) = &event.change {
                if let Err(err) = chat::on_join(state, &room, &participant.identity).await {
                    tracing::warn!(error = %err, room, "could not check a joining viewer against the bans");
                }
            }
        }
        Action::PublisherTracks { room, delta } => hub.publisher_tracks(&room, delta).await,
        Action::Ignore => {}
    }
    Ok(())
}

//! The participants of a room: ourselves (publishing and unpublishing tracks) and the
//! others.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::engine;
use crate::error::{EngineError, RoomError};
use crate::handle::FfiHandle;
use crate::options::TrackPublishOptions;
use crate::proto::{self, ffi_event, ffi_request, ffi_response};
use crate::track::{LocalTrack, LocalTrackPublication};

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
const UNPUBLISH_TIMEOUT: Duration = Duration::from_secs(3);

/// Another participant in the room.
#[derive(Debug, Clone)]
pub struct RemoteParticipant {
    inner: Arc<RemoteParticipantInner>,
}

#[derive(Debug)]
struct RemoteParticipantInner {
    _handle: FfiHandle,
    sid: String,
    identity: String,
    name: String,
    kind: i32,
}

impl RemoteParticipant {
    pub(crate) fn new(owned: proto::OwnedParticipant) -> Self {
        Self {
            inner: Arc::new(RemoteParticipantInner {
                _handle: FfiHandle::new(owned.handle.id),
                sid: owned.info.sid,
                identity: owned.info.identity,
                name: owned.info.name,
                kind: owned.info.kind,
            }),
        }
    }
    pub fn sid(&self) -> &str {
        &self.inner.sid
    }
    pub fn identity(&self) -> &str {
        &self.inner.identity
    }
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    /// True for ordinary clients (not ingress, egress, SIP or agents).
    pub fn is_standard(&self) -> bool {
        self.inner.kind == proto::ParticipantKind::Standard as i32
    }
}

/// Ourselves in the room.
#[derive(Debug, Clone)]
pub struct LocalParticipant {
    inner: Arc<LocalParticipantInner>,
}

#[derive(Debug)]
struct LocalParticipantInner {
    handle: Mutex<Option<FfiHandle>>,
    sid: String,
    identity: String,
    publications: Mutex<HashMap<String, LocalTrackPublication>>,
}

impl LocalParticipant {
    pub(crate) fn new(owned: proto::OwnedParticipant) -> Self {
        Self {
            inner: Arc::new(LocalParticipantInner {
                handle: Mutex::new(Some(FfiHandle::new(owned.handle.id))),
                sid: owned.info.sid,
                identity: owned.info.identity,
                publications: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Our native handle, taken to be released (the room is closing).
    pub(crate) fn take_handle(&self) -> Option<FfiHandle> {
        self.inner.handle.lock().take()
    }

    /// Forgets every publication (the room unpublished them, or is gone).
    pub(crate) fn forget_publications(&self) {
        self.inner.publications.lock().clear();
    }

    pub fn sid(&self) -> &str {
        &self.inner.sid
    }
    pub fn identity(&self) -> &str {
        &self.inner.identity
    }

    fn handle_id(&self) -> Result<u64, RoomError> {
        self.inner
            .handle
            .lock()
            .as_ref()
            .map(FfiHandle::id)
            .ok_or(RoomError::Closed)
    }

    /// Our current publications, by sid.
    pub fn track_publications(&self) -> HashMap<String, LocalTrackPublication> {
        self.inner.publications.lock().clone()
    }

    /// Files the SDK's new publication of the track published as `previous_sid` under its new
    /// sid (see [`RoomEvent::LocalTrackRepublished`]); `None`, and the handle released, for
    /// a track no longer ours.
    pub(crate) fn republished(
        &self,
        previous_sid: &str,
        handle: FfiHandle,
        info: &proto::TrackPublicationInfo,
    ) -> Option<()> {
        let mut publications = self.inner.publications.lock();
        let track = publications.remove(previous_sid)?.track().clone();
        let publication = LocalTrackPublication::with_handle(handle, info, track);
        publications.insert(publication.sid().to_owned(), publication);
        Some(())
    }

    /// Publishes a track; resolves once the server has accepted it.
    pub async fn publish_track(
        &self,
        track: impl Into<LocalTrack>,
        options: TrackPublishOptions,
    ) -> Result<LocalTrackPublication, RoomError> {
        let track = track.into();
        let engine = engine::get()?;
        let async_id = engine.next_async_id();
        let request = ffi_request::Message::PublishTrack(proto::PublishTrackRequest {
            local_participant_handle: self.handle_id()?,
            track_handle: track.handle_id(),
            options: options.to_proto(),
            request_async_id: Some(async_id),
        });
        let wait = engine.request_async(async_id, request, None, |r| match r {
            ffi_response::Message::PublishTrack(r) => Some(r.async_id),
            _ => None,
        });
        let event = tokio::time::timeout(PUBLISH_TIMEOUT, wait)
            .await
            .map_err(|_| RoomError::Timeout {
                operation: "publish_track",
                timeout: PUBLISH_TIMEOUT,
            })??;
        use proto::publish_track_callback::Message as P;
        match event {
            ffi_event::Message::PublishTrack(cb) => match cb.message {
                Some(P::Publication(owned)) => {
                    let publication = LocalTrackPublication::new(owned, track);
                    self.inner
                        .publications
                        .lock()
                        .insert(publication.sid().to_owned(), publication.clone());
                    Ok(publication)
                }
                Some(P::Error(error)) => Err(RoomError::Publish(error)),
                None => Err(RoomError::Publish("no answer".into())),
            },
            other => Err(EngineError::Protocol(format!("unexpected callback {other:?}")).into()),
        }
    }

    /// Unpublishes a track and stops sending it.
    pub async fn unpublish_track(&self, sid: &str) -> Result<(), RoomError> {
        if !self.inner.publications.lock().contains_key(sid) {
            return Err(RoomError::UnknownTrack(sid.to_owned()));
        }
        let result = self.unpublish_inner(sid).await;
        self.inner.publications.lock().remove(sid);
        result
    }

    pub(crate) async fn unpublish_inner(&self, sid: &str) -> Result<(), RoomError> {
        let engine = engine::get()?;
        let async_id = engine.next_async_id();
        let request = ffi_request::Message::UnpublishTrack(proto::UnpublishTrackRequest {
            local_participant_handle: self.handle_id()?,
            track_sid: sid.to_owned(),
            stop_on_unpublish: true,
            request_async_id: Some(async_id),
        });
        let wait = engine.request_async(async_id, request, None, |r| match r {
            ffi_response::Message::UnpublishTrack(r) => Some(r.async_id),
            _ => None,
        });
        let event = tokio::time::timeout(UNPUBLISH_TIMEOUT, wait)
            .await
            .map_err(|_| RoomError::Timeout {
                operation: "unpublish_track",
                timeout: UNPUBLISH_TIMEOUT,
            })??;
        match event {
            ffi_event::Message::UnpublishTrack(cb) => match cb.error {
                Some(error) => Err(RoomError::Unpublish(error)),
                None => Ok(()),
            },
            other => Err(EngineError::Protocol(format!("unexpected callback {other:?}")).into()),
        }
    }
}

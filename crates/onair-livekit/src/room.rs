//! `Room`: join, events, local participant, and an idempotent, bounded close.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::engine::{self, RoomSignal};
use crate::error::{ConnectError, EngineError, RoomError};
use crate::handle::FfiHandle;
use crate::options::{
    ConnectionQuality, ConnectionState, DisconnectReason, RoomOptions, SimulateScenario,
    TrackPublishOptions,
};
use crate::proto::{self, ffi_event, ffi_request, ffi_response, room_event};
use crate::stats::TrackStats;
use crate::track::{LocalTrack, LocalTrackPublication, RemoteTrack, RemoteTrackPublication};

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
const UNPUBLISH_TIMEOUT: Duration = Duration::from_secs(3);
/// Upper bound on [`Room::close`] as a whole.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

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
    fn new(owned: proto::OwnedParticipant) -> Self {
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
    fn republished(
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

    async fn unpublish_inner(&self, sid: &str) -> Result<(), RoomError> {
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

/// A joined room. Cheap to clone; [`Room::close`] ends it for every clone.
#[derive(Debug, Clone)]
pub struct Room {
    inner: Arc<RoomInner>,
}

#[derive(Debug)]
struct RoomInner {
    handle: Mutex<Option<FfiHandle>>,
    handle_id: u64,
    name: String,
    sid: Option<String>,
    local: LocalParticipant,
    remote: Arc<Mutex<HashMap<String, RemoteParticipant>>>,
    closing: AtomicBool,
    close_lock: tokio::sync::Mutex<Option<Result<CloseReport, RoomError>>>,
    events_task: Mutex<Option<JoinHandle<()>>>,
}

/// What [`Room::close`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseReport {
    /// Tracks unpublished, and any that failed.
    pub unpublished: Vec<String>,
    pub unpublish_errors: Vec<String>,
    /// Publications the SDK no longer had: it published the track anew during a full
    /// reconnect (the replacement leaves with the disconnect).
    pub already_gone: Vec<String>,
    /// The SDK confirmed the disconnect within the deadline.
    pub disconnect_confirmed: bool,
    pub duration: Duration,
}

impl Room {
    /// Joins a room. Returns the room and its event stream (which ends after [`Room::close`]).
    pub async fn connect(
        url: &str,
        token: &str,
        options: RoomOptions,
    ) -> Result<(Room, mpsc::UnboundedReceiver<RoomEvent>), ConnectError> {
        let lower = url.to_ascii_lowercase();
        if !["ws://", "wss://", "http://", "https://"]
            .iter()
            .any(|scheme| lower.starts_with(scheme))
        {
            return Err(ConnectError::InvalidUrl(url.to_owned()));
        }
        let engine = engine::get()?;
        let async_id = engine.next_async_id();
        let request = ffi_request::Message::Connect(proto::ConnectRequest {
            url: url.to_owned(),
            token: token.to_owned(),
            options: options.to_proto(),
            request_async_id: Some(async_id),
        });
        // The join completes in a task of its own: when the caller stops waiting (its future
        // dropped, or our timeout below), a room the SDK still hands over is dropped there,
        // which leaves the server, instead of staying joined with nobody holding it.
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let url_owned = url.to_owned();
        let connect_timeout = options.connect_timeout;
        tokio::spawn(
            async move {
                let wait = engine.request_async(async_id, request, None, |r| match r {
                    ffi_response::Message::Connect(r) => Some(r.async_id),
                    _ => None,
                });
                let result = match wait.await {
                    Ok(event) => Self::joined(engine, &url_owned, connect_timeout, event),
                    Err(err) => Err(err.into()),
                };
                // Nobody waiting: the room in `result` drops here and disconnects.
                let _ = done_tx.send(result);
            }
            .instrument(tracing::debug_span!("onair-livekit-connect")),
        );
        // The SDK enforces the same timeout; ours is the backstop should it not answer.
        let limit = options.connect_timeout + Duration::from_secs(1);
        match tokio::time::timeout(limit, done_rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(EngineError::Protocol("the connect task ended early".into()).into()),
            Err(_) => Err(ConnectError::Timeout(options.connect_timeout)),
        }
    }

    fn joined(
        engine: &'static engine::Engine,
        url: &str,
        connect_timeout: Duration,
        event: ffi_event::Message,
    ) -> Result<(Room, mpsc::UnboundedReceiver<RoomEvent>), ConnectError> {
        use proto::connect_callback::Message as C;
        let result = match event {
            ffi_event::Message::Connect(cb) => match cb.message {
                Some(C::Result(result)) => result,
                Some(C::Error(error)) => {
                    return Err(classify_connect_error(url, &error, connect_timeout))
                }
                None => {
                    return Err(ConnectError::Rejected {
                        reason: "no answer".into(),
                    })
                }
            },
            other => {
                return Err(EngineError::Protocol(format!("unexpected callback {other:?}")).into())
            }
        };

        let room_handle = FfiHandle::new(result.room.handle.id);
        let handle_id = room_handle.id();
        let local = LocalParticipant {
            inner: Arc::new(LocalParticipantInner {
                handle: Mutex::new(Some(FfiHandle::new(result.local_participant.handle.id))),
                sid: result.local_participant.info.sid,
                identity: result.local_participant.info.identity,
                publications: Mutex::new(HashMap::new()),
            }),
        };
        let remote = Arc::new(Mutex::new(HashMap::new()));
        let (user_tx, user_rx) = mpsc::unbounded_channel();
        for existing in result.participants {
            let participant = RemoteParticipant::new(existing.participant);
            for publication in existing.publications {
                let _ = user_tx.send(RoomEvent::TrackPublished {
                    participant_identity: participant.identity().to_owned(),
                    publication: RemoteTrackPublication::new(publication),
                });
            }
            remote
                .lock()
                .insert(participant.identity().to_owned(), participant);
        }

        let (signal_tx, signal_rx) = mpsc::unbounded_channel();
        engine.register_room(handle_id, signal_tx);
        let task = tokio::spawn(
            room_events(signal_rx, user_tx, remote.clone(), local.clone()).instrument(
                tracing::debug_span!("onair-livekit-room-events", room = handle_id),
            ),
        );
        // Room events are held back by the SDK until we say we are ready for them.
        engine.request(ffi_request::Message::ReadyForRoomEvent(
            proto::ReadyForRoomEventRequest {
                room_handle: handle_id,
            },
        ))?;

        let room = Room {
            inner: Arc::new(RoomInner {
                handle: Mutex::new(Some(room_handle)),
                handle_id,
                name: result.room.info.name,
                sid: result.room.info.sid,
                local,
                remote,
                closing: AtomicBool::new(false),
                close_lock: tokio::sync::Mutex::new(None),
                events_task: Mutex::new(Some(task)),
            }),
        };
        Ok((room, user_rx))
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn sid(&self) -> Option<&str> {
        self.inner.sid.as_deref()
    }

    pub fn local_participant(&self) -> LocalParticipant {
        self.inner.local.clone()
    }

    pub fn remote_participants(&self) -> HashMap<String, RemoteParticipant> {
        self.inner.remote.lock().clone()
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closing.load(Ordering::SeqCst)
    }

    /// Stats of the whole session: (publisher side, subscriber side).
    pub async fn session_stats(&self) -> Result<(TrackStats, TrackStats), RoomError> {
        let engine = engine::get()?;
        let async_id = engine.next_async_id();
        let request = ffi_request::Message::GetSessionStats(proto::GetSessionStatsRequest {
            room_handle: self.inner.handle_id,
            request_async_id: Some(async_id),
        });
        let wait = engine.request_async(async_id, request, None, |r| match r {
            ffi_response::Message::GetSessionStats(r) => Some(r.async_id),
            _ => None,
        });
        let timeout = Duration::from_secs(5);
        let event =
            tokio::time::timeout(timeout, wait)
                .await
                .map_err(|_| RoomError::Timeout {
                    operation: "session_stats",
                    timeout,
                })??;
        use proto::get_session_stats_callback::Message as S;
        match event {
            ffi_event::Message::GetSessionStats(cb) => match cb.message {
                Some(S::Result(r)) => Ok((
                    TrackStats::from_rtc(&r.publisher_stats),
                    TrackStats::from_rtc(&r.subscriber_stats),
                )),
                Some(S::Error(e)) => Err(RoomError::Stats(e)),
                None => Err(RoomError::Stats("no answer".into())),
            },
            other => Err(EngineError::Protocol(format!("unexpected callback {other:?}")).into()),
        }
    }

    /// Asks the SDK to simulate a network event (resilience tests, "reconnect now").
    pub async fn simulate_scenario(&self, scenario: SimulateScenario) -> Result<(), RoomError> {
        let engine = engine::get()?;
        let async_id = engine.next_async_id();
        let request = ffi_request::Message::SimulateScenario(proto::SimulateScenarioRequest {
            room_handle: self.inner.handle_id,
            scenario: scenario.to_proto() as i32,
            request_async_id: Some(async_id),
        });
        let event = engine
            .request_async(async_id, request, None, |r| match r {
                ffi_response::Message::SimulateScenario(r) => Some(r.async_id),
                _ => None,
            })
            .await?;
        match event {
            ffi_event::Message::SimulateScenario(cb) => match cb.error {
                Some(e) => Err(RoomError::Sdk(e)),
                None => Ok(()),
            },
            other => Err(EngineError::Protocol(format!("unexpected callback {other:?}")).into()),
        }
    }

    /// Leaves the room: unpublishes every track, disconnects, and releases every native
    /// handle the room owns, within [`CLOSE_TIMEOUT`]. Safe to call again: later calls
    /// return the first call's report.
    pub async fn close(&self) -> Result<CloseReport, RoomError> {
        let mut done = self.inner.close_lock.lock().await;
        if let Some(report) = done.as_ref() {
            return report.clone();
        }
        self.inner.closing.store(true, Ordering::SeqCst);
        let report = self.close_inner().await;
        *done = Some(report.clone());
        report
    }

    async fn close_inner(&self) -> Result<CloseReport, RoomError> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + CLOSE_TIMEOUT;
        let mut report = CloseReport {
            unpublished: Vec::new(),
            unpublish_errors: Vec::new(),
            already_gone: Vec::new(),
            disconnect_confirmed: false,
            duration: Duration::ZERO,
        };
        let engine = engine::get();

        if engine.is_ok() {
            let sids: Vec<String> = self.inner.local.track_publications().into_keys().collect();
            for sid in sids {
                match tokio::time::timeout_at(deadline, self.inner.local.unpublish_inner(&sid))
                    .await
                {
                    Ok(Ok(())) => report.unpublished.push(sid),
                    Ok(Err(RoomError::Unpublish(e))) if e.contains("track not found") => {
                        report.already_gone.push(sid)
                    }
                    Ok(Err(e)) => report.unpublish_errors.push(format!("{sid}: {e}")),
                    Err(_) => report.unpublish_errors.push(format!("{sid}: timed out")),
                }
            }
        }
        self.inner.local.inner.publications.lock().clear();

        if let Ok(engine) = engine {
            let async_id = engine.next_async_id();
            let request = ffi_request::Message::Disconnect(proto::DisconnectRequest {
                room_handle: self.inner.handle_id,
                request_async_id: Some(async_id),
                reason: Some(proto::DisconnectReason::ClientInitiated as i32),
            });
            let wait = engine.request_async(async_id, request, None, |r| match r {
                ffi_response::Message::Disconnect(r) => Some(r.async_id),
                _ => None,
            });
            match tokio::time::timeout_at(deadline, wait).await {
                Ok(Ok(_)) => report.disconnect_confirmed = true,
                Ok(Err(e)) => tracing::warn!(%e, "disconnect failed"),
                Err(_) => tracing::warn!("disconnect not confirmed within {CLOSE_TIMEOUT:?}"),
            }
            // No more events for this room: the event task drains what is queued (releasing
            // any handles in it) and ends, which ends the caller's event stream.
            engine.unregister_room(self.inner.handle_id);
        }
        let task = self.inner.events_task.lock().take();
        if let Some(task) = task {
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::warn!("room event task did not end in time");
            }
        }
        self.inner.remote.lock().clear();
        self.inner.local.inner.handle.lock().take();
        self.inner.handle.lock().take();
        // Handles of this room that were dropped inside the SDK's callback are released on
        // our releasing thread: wait for them, so that a closed room has released everything.
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !crate::handle::released_handed_off(left.max(Duration::from_millis(100))).await {
            tracing::warn!("native handles handed off for release were not released in time");
        }
        report.duration = started.elapsed();
        Ok(report)
    }
}

impl Drop for RoomInner {
    fn drop(&mut self) {
        // A room dropped without `close` still leaves at once: dropping the native handle
        // alone sends the server no leave (it would notice only at the ~20 s connection
        // timeout), so ask the SDK to disconnect without waiting. The room's handles go with
        // the request and are released when it completes: released earlier, the SDK could
        // drop the room before the leave was sent (seen in 1 of 7 drops). Then stop routing
        // the room's events.
        if !self.closing.load(Ordering::SeqCst) {
            if let Ok(engine) = engine::get() {
                let async_id = engine.next_async_id();
                let request = ffi_request::Message::Disconnect(proto::DisconnectRequest {
                    room_handle: self.handle_id,
                    request_async_id: Some(async_id),
                    reason: Some(proto::DisconnectReason::ClientInitiated as i32),
                });
                let handles = (
                    self.handle.get_mut().take(),
                    self.local.inner.handle.lock().take(),
                );
                if let Err(err) =
                    engine.request_detached(async_id, request, Box::new(handles), |r| match r {
                        ffi_response::Message::Disconnect(r) => Some(r.async_id),
                        _ => None,
                    })
                {
                    tracing::warn!(%err, "disconnect on drop failed");
                }
            }
        }
        if let Ok(engine) = engine::get() {
            engine.unregister_room(self.handle_id);
        }
        if let Some(task) = self.events_task.get_mut().take() {
            task.abort();
        }
    }
}

fn classify_connect_error(url: &str, error: &str, timeout: Duration) -> ConnectError {
    let lower = error.to_ascii_lowercase();
    if lower.contains("401")
        || lower.contains("unauthorized")
        || lower.contains("invalid token")
        || lower.contains("token is expired")
        || lower.contains("invalid api key")
        || lower.contains("permission")
    {
        ConnectError::Unauthorized(error.to_owned())
    } else if lower.contains("timed out") || lower.contains("timeout") {
        ConnectError::Timeout(timeout)
    } else if lower.contains("connection refused")
        || lower.contains("failed to lookup")
        || lower.contains("dns")
        || lower.contains("unreachable")
        || lower.contains("io error")
        || lower.contains("tcp connect")
        || lower.contains("error sending request")
        || lower.contains("websocket")
    {
        ConnectError::Unreachable {
            url: url.to_owned(),
            detail: error.to_owned(),
        }
    } else {
        ConnectError::Rejected {
            reason: error.to_owned(),
        }
    }
}

/// Releases handles carried by an event for a room nobody listens to any more.
pub(crate) fn release_unrouted(message: room_event::Message) {
    drop(convert(message, &Mutex::new(HashMap::new()), None));
}

async fn room_events(
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

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn a_refused_token_is_unauthorized() {
        let e = classify_connect_error(
            "ws://x",
            "engine: signal failure: Client error: 401 Unauthorized: invalid token",
            T,
        );
        assert!(matches!(e, ConnectError::Unauthorized(_)), "{e:?}");
    }

    #[test]
    fn a_refused_tcp_connection_is_unreachable() {
        let e = classify_connect_error(
            "ws://127.0.0.1:1",
            "engine: signal failure: ws failure: IO error: Connection refused (os error 111)",
            T,
        );
        assert!(matches!(e, ConnectError::Unreachable { .. }), "{e:?}");
    }

    #[test]
    fn anything_else_is_a_rejection_with_the_servers_reason() {
        let e = classify_connect_error("ws://x", "room is full", T);
        assert_eq!(
            e,
            ConnectError::Rejected {
                reason: "room is full".into()
            }
        );
    }
}

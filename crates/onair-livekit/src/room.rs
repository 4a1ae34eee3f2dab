//! `Room`: join, and an idempotent, bounded close. Its participants are in `participant`,
//! its events in `events`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::engine;
use crate::error::{ConnectError, EngineError, RoomError};
use crate::events::{room_events, RoomEvent};
use crate::handle::FfiHandle;
use crate::options::{RoomOptions, SimulateScenario};
use crate::participant::{LocalParticipant, RemoteParticipant};
use crate::proto::{self, ffi_event, ffi_request, ffi_response};
use crate::stats::TrackStats;
use crate::track::RemoteTrackPublication;

/// Upper bound on [`Room::close`] as a whole.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

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
        let local = LocalParticipant::new(result.local_participant);
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
        self.inner.local.forget_publications();

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
        self.inner.local.take_handle();
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
                let handles = (self.handle.get_mut().take(), self.local.take_handle());
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

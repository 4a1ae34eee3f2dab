//! The supervisor of a live session's room: it reads the room's events, lets the SDK's own
//! resume run (then has every track checked), ends the session when the server meant the room
//! to end, and when the SDK gives up rejoins with a fresh token per [`ReconnectPolicy`]. It
//! knows the session only through [`Supervised`], so the session owns the supervisor and not
//! the other way round.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use onair_client::backend::BackendError;
use onair_livekit::RoomEvent;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::{should_rejoin, ReconnectPolicy};
use crate::error::SessionError;
use crate::state::Trigger;

/// What the supervisor asks of the session it watches.
pub(crate) trait Supervised: Send + Sync + Sized + 'static {
    /// A state change (see [`crate::state::next`]).
    fn fire(&self, trigger: Trigger);
    /// Something the creator should read.
    fn notice(&self, message: String);
    /// Ends the session from a task of its own (ending waits for the supervisor).
    fn end_detached(self, reason: String);
    /// The rejoin policy and the creator's "reconnect now".
    fn reconnect(&self) -> (ReconnectPolicy, Arc<Notify>);
    /// After the SDK resumed: every intended track sending again, republished if not.
    fn check_tracks(
        &self,
        cancel: &CancellationToken,
    ) -> impl Future<Output = Result<(), SessionError>> + Send;
    /// Lets go of the room the SDK gave up on (and its tracks).
    fn leave_room(&self) -> impl Future<Output = ()> + Send;
    /// One rejoin: a fresh token, the room, every intended track; the new room's events.
    fn rejoin_once(
        &self,
    ) -> impl Future<Output = Result<mpsc::UnboundedReceiver<RoomEvent>, SessionError>> + Send;
}

/// Watches the room until `cancel` or until the session is gone (`session` answers `None`:
/// the supervisor never keeps a session alive).
pub(crate) async fn supervise<S: Supervised>(
    session: impl Fn() -> Option<S> + Send + Sync,
    mut events: mpsc::UnboundedReceiver<RoomEvent>,
    cancel: CancellationToken,
) {
    loop {
        let lost = loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => return,
                event = events.recv() => event,
            };
            let Some(live) = session() else {
                return;
            };
            match event {
                Some(RoomEvent::Reconnecting) => live.fire(Trigger::ConnectionLost(
                    "the connection dropped; the SDK is resuming it".into(),
                )),
                Some(RoomEvent::Reconnected) => {
                    live.fire(Trigger::Reconnected);
                    live.notice("reconnected".into());
                    if let Err(err) = live.check_tracks(&cancel).await {
                        if cancel.is_cancelled() {
                            return;
                        }
                        break format!("the tracks could not be published again: {err}");
                    }
                }
                Some(RoomEvent::Disconnected { reason }) if !should_rejoin(&reason) => {
                    live.end_detached(format!("the room ended: {}", reason.describe()));
                    return;
                }
                Some(RoomEvent::Disconnected { reason }) => break reason.describe().to_owned(),
                Some(_) => {}
                None => break "the room's events stopped".to_owned(),
            }
        };
        match rejoin(&session, &cancel, lost).await {
            Some(next_events) => events = next_events,
            None => return,
        }
    }
}

/// The SDK gave up on the room: join again with a fresh token until it works or the
/// policy's window has passed (then the session ends). Waits between attempts unless the
/// creator asks to reconnect now.
async fn rejoin<S: Supervised>(
    session: &(impl Fn() -> Option<S> + Send + Sync),
    cancel: &CancellationToken,
    why: String,
) -> Option<mpsc::UnboundedReceiver<RoomEvent>> {
    let (policy, reconnect_now) = {
        let live = session()?;
        live.leave_room().await;
        live.notice(format!("lost the room ({why}); rejoining"));
        live.reconnect()
    };
    let started = Instant::now();
    let mut delays = policy.delays();
    let mut last_error = why;
    let mut attempts = 0u32;
    loop {
        let live = session()?;
        if started.elapsed() >= policy.give_up_after {
            live.end_detached(format!(
                "the connection was lost and could not be restored within {:?}: {last_error}",
                policy.give_up_after
            ));
            return None;
        }
        attempts += 1;
        live.fire(Trigger::ConnectionLost(format!(
            "rejoining (attempt {attempts}): {last_error}"
        )));
        let attempt_started = Instant::now();
        let result = tokio::select! {
            _ = cancel.cancelled() => return None,
            result = live.rejoin_once() => result,
        };
        match result {
            Ok(events) => {
                live.fire(Trigger::Reconnected);
                live.notice(format!(
                    "rejoined after {:.1} s ({attempts} attempt(s)); every track published again",
                    started.elapsed().as_secs_f64()
                ));
                tracing::info!(
                    attempts,
                    join_ms = attempt_started.elapsed().as_millis() as u64,
                    "rejoined"
                );
                return Some(events);
            }
            Err(SessionError::Ended) => return None,
            Err(err @ SessionError::Backend(BackendError::Auth)) => {
                live.end_detached(format!("rejoining failed: {err}"));
                return None;
            }
            Err(err) => {
                tracing::warn!(%err, attempts, "rejoin failed");
                last_error = err.to_string();
            }
        }
        // Not held across the wait: the session may end meanwhile.
        drop(live);
        let delay = delays.next().unwrap_or(policy.max_delay);
        tokio::select! {
            _ = cancel.cancelled() => return None,
            _ = tokio::time::timeout(delay, reconnect_now.notified()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use onair_livekit::DisconnectReason;

    use super::*;

    /// A session that records what the supervisor asked of it; its rejoins fail a given
    /// number of times before one works.
    #[derive(Clone, Default)]
    struct Fake {
        said: Arc<tokio::sync::watch::Sender<Vec<String>>>,
        failing_rejoins: Arc<Mutex<u32>>,
        rejoined: Arc<Mutex<Option<mpsc::UnboundedSender<RoomEvent>>>>,
        policy: Option<ReconnectPolicy>,
        now: Arc<Notify>,
    }

    impl Fake {
        fn log(&self, what: impl Into<String>) {
            let what = what.into();
            self.said.send_modify(|said| said.push(what));
        }

        fn said(&self) -> Vec<String> {
            self.said.borrow().clone()
        }

        async fn wait_for(&self, what: &str) {
            let mut said = self.said.subscribe();
            let seen = said.wait_for(|said| said.iter().any(|s| s.starts_with(what)));
            if !matches!(
                tokio::time::timeout(Duration::from_secs(10), seen).await,
                Ok(Ok(_))
            ) {
                panic!("never {what}: {:?}", self.said());
            }
        }
    }

    impl Supervised for Fake {
        fn fire(&self, trigger: Trigger) {
            self.log(format!("fire {trigger:?}"));
        }

        fn notice(&self, message: String) {
            self.log(format!("notice {message}"));
        }

        fn end_detached(self, reason: String) {
            self.log(format!("end {reason}"));
        }

        fn reconnect(&self) -> (ReconnectPolicy, Arc<Notify>) {
            (self.policy.unwrap_or_default(), self.now.clone())
        }

        async fn check_tracks(&self, _: &CancellationToken) -> Result<(), SessionError> {
            self.log("check tracks");
            Ok(())
        }

        async fn leave_room(&self) {
            self.log("leave room");
        }

        async fn rejoin_once(&self) -> Result<mpsc::UnboundedReceiver<RoomEvent>, SessionError> {
            let mut failing = self.failing_rejoins.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                self.log("rejoin failed");
                return Err(SessionError::Backend(BackendError::Network {
                    url: "http://backend.test".into(),
                    detail: "connection refused".into(),
                }));
            }
            self.log("rejoin ok");
            let (tx, rx) = mpsc::unbounded_channel();
            *self.rejoined.lock().unwrap() = Some(tx);
            Ok(rx)
        }
    }

    type Started = (
        mpsc::UnboundedSender<RoomEvent>,
        CancellationToken,
        tokio::task::JoinHandle<()>,
    );

    fn start(fake: &Fake) -> Started {
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let session = fake.clone();
        let task = tokio::spawn(supervise(move || Some(session.clone()), rx, cancel.clone()));
        (tx, cancel, task)
    }

    #[tokio::test]
    async fn a_room_the_server_deleted_ends_the_session_without_a_rejoin() {
        let fake = Fake::default();
        let (events, _cancel, _task) = start(&fake);
        events
            .send(RoomEvent::Disconnected {
                reason: DisconnectReason::RoomDeleted,
            })
            .unwrap();
        fake.wait_for("end the room ended").await;
        assert!(!fake.said().iter().any(|s| s.starts_with("rejoin")));
    }

    #[tokio::test]
    async fn the_sdks_own_resume_is_followed_by_a_track_check() {
        let fake = Fake::default();
        let (events, _cancel, _task) = start(&fake);
        events.send(RoomEvent::Reconnecting).unwrap();
        events.send(RoomEvent::Reconnected).unwrap();
        fake.wait_for("check tracks").await;
        let said = fake.said();
        assert!(said[0].starts_with("fire ConnectionLost"), "{said:?}");
        assert_eq!(said[1], "fire Reconnected");
        assert!(!said.iter().any(|s| s.starts_with("rejoin")));
    }

    #[tokio::test]
    async fn when_the_sdk_gives_up_the_room_is_left_and_rejoined_until_it_works() {
        let fake = Fake {
            failing_rejoins: Arc::new(Mutex::new(2)),
            policy: Some(ReconnectPolicy {
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
                give_up_after: Duration::from_secs(60),
            }),
            ..Fake::default()
        };
        let (events, _cancel, _task) = start(&fake);
        events
            .send(RoomEvent::Disconnected {
                reason: DisconnectReason::SignalClose,
            })
            .unwrap();
        fake.wait_for("notice rejoined").await;
        let said = fake.said();
        let rejoins: Vec<_> = said.iter().filter(|s| s.starts_with("rejoin")).collect();
        assert_eq!(rejoins, ["rejoin failed", "rejoin failed", "rejoin ok"]);
        assert_eq!(said[0], "leave room");
        assert!(!said.iter().any(|s| s.starts_with("end")), "{said:?}");
        // The new room is watched: its deletion ends the session.
        let next = fake.rejoined.lock().unwrap().clone().unwrap();
        next.send(RoomEvent::Disconnected {
            reason: DisconnectReason::RoomDeleted,
        })
        .unwrap();
        fake.wait_for("end the room ended").await;
    }

    #[tokio::test]
    async fn a_connection_that_does_not_come_back_within_the_window_ends_the_session() {
        let fake = Fake {
            failing_rejoins: Arc::new(Mutex::new(u32::MAX)),
            policy: Some(ReconnectPolicy {
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
                give_up_after: Duration::from_millis(50),
            }),
            ..Fake::default()
        };
        let (events, _cancel, _task) = start(&fake);
        drop(events);
        fake.wait_for("end the connection was lost and could not be restored")
            .await;
    }

    #[tokio::test]
    async fn cancelling_stops_the_rejoins() {
        let fake = Fake {
            failing_rejoins: Arc::new(Mutex::new(u32::MAX)),
            policy: Some(ReconnectPolicy {
                min_delay: Duration::from_secs(30),
                max_delay: Duration::from_secs(30),
                give_up_after: Duration::from_secs(600),
            }),
            ..Fake::default()
        };
        let (events, cancel, task) = start(&fake);
        drop(events);
        fake.wait_for("rejoin failed").await;
        cancel.cancel();
        // Waiting 30 s before the next attempt, the supervisor stops at once instead.
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the supervisor stopped when cancelled")
            .unwrap();
        let attempts = fake
            .said()
            .iter()
            .filter(|s| s.starts_with("rejoin"))
            .count();
        assert_eq!(attempts, 1);
    }
}

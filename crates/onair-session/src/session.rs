//! `LiveSession`: one stream from Go Live to End. It owns everything that runs while live —
//! the room, the tracks and sources, the frame pumps, the room-event watcher, the viewer-count
//! subscription — and ends them in one fixed order, from any path (End, the server ending the
//! room, a failure half-way through going live), with a report.
//!
//! Devices (camera, microphone) plug in later; today the sources are the test pattern and the
//! tone.

use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use onair_capture::TestPattern;
use onair_core::clock::unix_micros;
use onair_livekit::{
    LocalAudioTrack, LocalVideoTrack, NativeAudioSource, NativeVideoSource, Room, RoomEvent,
    RoomOptions, TrackPublishOptions, TrackSource, VideoCodec,
};
use tokio::sync::{watch, Mutex};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::backend::{BackendClient, BackendError, TokenRequest};
use crate::pump;
use crate::state::{next, SessionState, StateEvent, Trigger};
use crate::viewers::{ViewerCountSubscription, ViewerCountView};

/// What to go live with.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub title: String,
    /// Pay-per-view price as the creator typed it ("4.99"); `None` for free.
    pub ppv_price: Option<String>,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub codec: VideoCodec,
    pub audio: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            title: "Live on OnAir".into(),
            ppv_price: None,
            width: 1280,
            height: 720,
            fps: 30.0,
            codec: VideoCodec::Vp8,
            audio: true,
        }
    }
}

/// Why going live failed (after the partial session was torn down).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Invalid(#[from] onair_core::FieldError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("could not join the room: {0}")]
    Connect(#[from] onair_livekit::ConnectError),
    #[error("{0}")]
    Room(#[from] onair_livekit::RoomError),
    #[error("{0}")]
    Engine(#[from] onair_livekit::EngineError),
    #[error("{0}")]
    Capture(#[from] onair_capture::CaptureError),
}

impl SessionError {
    /// Stable, for the UI.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "validation",
            Self::Backend(e) => e.kind(),
            Self::Connect(_) => "connect",
            Self::Room(_) => "room",
            Self::Engine(_) => "engine",
            Self::Capture(_) => "device",
        }
    }
}

/// One go-live step and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineStep {
    pub step: &'static str,
    pub duration: Duration,
}

/// One teardown step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeardownStep {
    pub step: &'static str,
    pub duration: Duration,
    /// `Ok` with what was done, or `Err` with what went wrong.
    pub result: Result<String, String>,
}

/// What End did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeardownReport {
    pub steps: Vec<TeardownStep>,
    pub total: Duration,
    /// The SDK confirmed the server let the participant go.
    pub participant_gone: bool,
    /// This call found the session already ended (the report is the first call's).
    pub already_ended: bool,
    /// Why it ended.
    pub reason: String,
}

impl TeardownReport {
    pub fn all_ok(&self) -> bool {
        self.steps.iter().all(|s| s.result.is_ok())
    }
}

/// What runs while live.
struct Running {
    room: Room,
    video: Option<(LocalVideoTrack, NativeVideoSource)>,
    audio: Option<(LocalAudioTrack, NativeAudioSource)>,
    /// Frame pumps and the room-event watcher.
    tasks: TaskTracker,
    cancel: CancellationToken,
    viewers: Option<ViewerCountSubscription>,
}

struct Shared {
    generation: u64,
    backend: BackendClient,
    state: watch::Sender<StateEvent>,
    running: Mutex<Option<Running>>,
    report: Mutex<Option<TeardownReport>>,
    timeline: std::sync::Mutex<Vec<TimelineStep>>,
    viewers: std::sync::Mutex<Option<watch::Receiver<ViewerCountView>>>,
}

/// A live session. Cheap to clone; every clone is the same session.
#[derive(Clone)]
pub struct LiveSession {
    shared: Arc<Shared>,
}

fn now_ms() -> i64 {
    (unix_micros() / 1000) as i64
}

static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Deadlines for each teardown step: ending is bounded even when something hangs.
const STOP_CAPTURE: Duration = Duration::from_secs(2);
const TELL_BACKEND: Duration = Duration::from_secs(5);

impl LiveSession {
    /// Validates, fetches a token, connects, publishes; returns once live. A failure on the
    /// way tears down what was started (through the same path as End) and says why.
    pub async fn go_live(
        backend: BackendClient,
        settings: SessionSettings,
    ) -> Result<Self, SessionError> {
        let generation = GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let session = Self {
            shared: Arc::new(Shared {
                generation,
                backend,
                state: watch::Sender::new(StateEvent {
                    generation,
                    state: SessionState::Idle,
                    at_ms: now_ms(),
                }),
                running: Mutex::new(None),
                report: Mutex::new(None),
                timeline: std::sync::Mutex::new(Vec::new()),
                viewers: std::sync::Mutex::new(None),
            }),
        };
        session.fire(Trigger::GoLive);
        match session.start(&settings).await {
            Ok(()) => {
                session.fire(Trigger::Published);
                Ok(session)
            }
            Err(err) => {
                session.fire(Trigger::Fail(err.to_string()));
                session.end_with(&format!("going live failed: {err}")).await;
                Err(err)
            }
        }
    }

    fn fire(&self, trigger: Trigger) {
        self.shared
            .state
            .send_if_modified(|event| match next(&event.state, &trigger) {
                Some(state) => {
                    tracing::info!(generation = event.generation, ?state, "session state");
                    *event = StateEvent {
                        generation: event.generation,
                        state,
                        at_ms: now_ms(),
                    };
                    true
                }
                None => false,
            });
    }

    fn step(&self, step: &'static str, started: Instant) {
        self.shared
            .timeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(TimelineStep {
                step,
                duration: started.elapsed(),
            });
    }

    async fn start(&self, settings: &SessionSettings) -> Result<(), SessionError> {
        onair_core::validate::title(&settings.title)?;
        if let Some(price) = &settings.ppv_price {
            onair_core::validate::price_cents(price)?;
        }
        let t = Instant::now();
        let token = self
            .shared
            .backend
            .publisher_token(&TokenRequest {
                title: settings.title.clone(),
                ppv_price: settings.ppv_price.clone(),
            })
            .await?;
        self.step("token", t);
        self.fire(Trigger::Prepared);

        let t = Instant::now();
        let (room, events) =
            Room::connect(&token.url, &token.token, RoomOptions::default()).await?;
        self.step("connect", t);
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        // Everything from here on is owned by `running`, so a failure below still tears it
        // down.
        *self.shared.running.lock().await = Some(Running {
            room: room.clone(),
            video: None,
            audio: None,
            tasks: tasks.clone(),
            cancel: cancel.clone(),
            viewers: None,
        });

        let t = Instant::now();
        let local = room.local_participant();
        let video_source = NativeVideoSource::new(settings.width, settings.height)?;
        let video = LocalVideoTrack::create_video_track("camera", video_source.clone())?;
        let pattern = TestPattern::new(settings.width, settings.height, settings.fps)?;
        pump::spawn_pattern(
            &tasks,
            cancel.clone(),
            pattern,
            video_source.clone(),
            Arc::new(AtomicU32::new(0)),
        );
        local
            .publish_track(
                video.clone(),
                TrackPublishOptions {
                    video_codec: settings.codec,
                    source: TrackSource::Camera,
                    max_framerate: Some(settings.fps),
                    frame_metadata: true,
                    ..Default::default()
                },
            )
            .await?;
        if let Some(running) = self.shared.running.lock().await.as_mut() {
            running.video = Some((video, video_source));
        }
        if settings.audio {
            let (track, source) = pump::tone_track(&tasks, cancel.clone())?;
            local
                .publish_track(
                    track.clone(),
                    TrackPublishOptions {
                        source: TrackSource::Microphone,
                        ..Default::default()
                    },
                )
                .await?;
            if let Some(running) = self.shared.running.lock().await.as_mut() {
                running.audio = Some((track, source));
            }
        }
        self.step("publish", t);

        // The room's events: reconnecting/live, and the server ending the room.
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        let watch_cancel = cancel.clone();
        tasks.spawn(
            watch_room(events, weak, watch_cancel)
                .instrument(tracing::debug_span!("onair-room-events")),
        );
        let subscription = ViewerCountSubscription::start(&self.shared.backend, &token.room);
        *self
            .shared
            .viewers
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(subscription.watch());
        if let Some(running) = self.shared.running.lock().await.as_mut() {
            running.viewers = Some(subscription);
        }
        Ok(())
    }

    /// The generation of this session (a new Go Live is a new one).
    pub fn generation(&self) -> u64 {
        self.shared.generation
    }

    /// State changes, stamped with the generation.
    pub fn states(&self) -> watch::Receiver<StateEvent> {
        self.shared.state.subscribe()
    }

    pub fn state(&self) -> SessionState {
        self.shared.state.borrow().state.clone()
    }

    /// The viewer count while live.
    pub fn viewers(&self) -> Option<watch::Receiver<ViewerCountView>> {
        self.shared
            .viewers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How long each go-live step took.
    pub fn timeline(&self) -> Vec<TimelineStep> {
        self.shared
            .timeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Ends the stream: stop capture → unpublish → disconnect → release native handles →
    /// tell the backend → stop tasks and the viewer count → give memory back. Safe to call
    /// again: later calls return the first report, marked `already_ended`.
    pub async fn end(&self) -> TeardownReport {
        self.end_with("ended by the creator").await
    }

    async fn end_with(&self, reason: &str) -> TeardownReport {
        let mut report_slot = self.shared.report.lock().await;
        if let Some(report) = report_slot.as_ref() {
            return TeardownReport {
                already_ended: true,
                ..report.clone()
            };
        }
        self.fire(Trigger::End);
        let started = Instant::now();
        let mut steps = Vec::new();
        let mut participant_gone = false;
        let running = self.shared.running.lock().await.take();
        if let Some(running) = running {
            // 1. Stop capture: the pumps end, no more frames reach the encoder.
            let t = Instant::now();
            running.cancel.cancel();
            running.tasks.close();
            let stopped = tokio::time::timeout(STOP_CAPTURE, running.tasks.wait()).await;
            steps.push(TeardownStep {
                step: "stop capture",
                duration: t.elapsed(),
                result: stopped
                    .map(|_| "frame pumps stopped".to_owned())
                    .map_err(|_| format!("tasks still running after {STOP_CAPTURE:?}")),
            });
            // 2–3. Unpublish and disconnect (the room's close does both, bounded).
            let t = Instant::now();
            let closed = running.room.close().await;
            let close_time = t.elapsed();
            match closed {
                Ok(close) => {
                    steps.push(TeardownStep {
                        step: "unpublish tracks",
                        duration: close_time,
                        result: if close.unpublish_errors.is_empty() {
                            Ok(format!("{} track(s) unpublished", close.unpublished.len()))
                        } else {
                            Err(close.unpublish_errors.join("; "))
                        },
                    });
                    participant_gone = close.disconnect_confirmed;
                    steps.push(TeardownStep {
                        step: "disconnect",
                        duration: close.duration,
                        result: if close.disconnect_confirmed {
                            Ok("the server confirmed the disconnect".into())
                        } else {
                            Err("no confirmation within the deadline".into())
                        },
                    });
                }
                Err(err) => steps.push(TeardownStep {
                    step: "disconnect",
                    duration: close_time,
                    result: Err(err.to_string()),
                }),
            }
            // 4. Native handles: tracks, sources and the room go now.
            let t = Instant::now();
            let Running {
                room,
                video,
                audio,
                viewers,
                ..
            } = running;
            drop((video, audio, room));
            steps.push(TeardownStep {
                step: "release native handles",
                duration: t.elapsed(),
                result: Ok(format!(
                    "{} native handle(s) still open in this process",
                    onair_livekit::live_handle_count()
                )),
            });
            // 5. The backend deletes the room (viewers see the end at once) and closes the
            //    record.
            let t = Instant::now();
            let told = tokio::time::timeout(TELL_BACKEND, self.shared.backend.end_stream()).await;
            steps.push(TeardownStep {
                step: "tell the backend",
                duration: t.elapsed(),
                result: match told {
                    Ok(Ok(answer)) => Ok(if answer["room_deleted"].as_bool() == Some(true) {
                        "stream closed, room deleted".to_owned()
                    } else {
                        "stream closed (the room was already gone)".to_owned()
                    }),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err(format!("no answer within {TELL_BACKEND:?}")),
                },
            });
            // 6. The viewer-count subscription.
            let t = Instant::now();
            if let Some(viewers) = viewers {
                viewers.close().await;
            }
            steps.push(TeardownStep {
                step: "stop tasks",
                duration: t.elapsed(),
                result: Ok("viewer count closed".into()),
            });
        }
        // 7. Give freed memory back (libwebrtc's threads leave a lot in glibc's arenas).
        let t = Instant::now();
        let released = onair_livekit::release_free_memory();
        steps.push(TeardownStep {
            step: "release memory",
            duration: t.elapsed(),
            result: Ok(if released {
                "trimmed"
            } else {
                "nothing to trim"
            }
            .into()),
        });
        self.fire(Trigger::TornDown);
        let report = TeardownReport {
            steps,
            total: started.elapsed(),
            participant_gone,
            already_ended: false,
            reason: reason.to_owned(),
        };
        *report_slot = Some(report.clone());
        report
    }
}

async fn watch_room(
    mut events: tokio::sync::mpsc::UnboundedReceiver<RoomEvent>,
    session: Weak<Shared>,
    cancel: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => return,
            event = events.recv() => event,
        };
        let Some(shared) = session.upgrade() else {
            return;
        };
        let live = LiveSession { shared };
        match event {
            Some(RoomEvent::Reconnecting) => live.fire(Trigger::ConnectionLost),
            Some(RoomEvent::Reconnected) => live.fire(Trigger::Reconnected),
            Some(RoomEvent::Disconnected { reason }) => {
                // The server ended the room, or the SDK gave up: end through the same path.
                // From a task of its own: ending waits for this watcher to finish.
                let reason = format!("the room ended: {}", reason.describe());
                tokio::spawn(async move {
                    live.end_with(&reason).await;
                });
                return;
            }
            Some(_) => {}
            None => return,
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Dropped without End: stop the pumps at once; the room (which leaves the server as
        // it drops), tracks and sources are released right after.
        if let Some(running) = self.running.get_mut().take() {
            running.cancel.cancel();
            running.tasks.close();
        }
    }
}

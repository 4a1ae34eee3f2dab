//! `LiveSession`: one stream from Go Live to End. It owns everything that runs while live —
//! the devices and their sources, the room and its tracks, the supervisor that watches the
//! room and rejoins when the SDK gives up, the viewer-count subscription — and ends them in
//! one fixed order, from any path (End, the server ending the room, a network that never
//! comes back, a failure half-way through going live), with a report.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use onair_core::clock::unix_micros;
use onair_livekit::{
    NativeAudioSource, NativeVideoSource, Room, RoomEvent, TrackPublishOptions, VideoCodec,
};
use tokio::sync::{mpsc, watch, Mutex, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use crate::error::SessionError;
use crate::link::{self, Link, PublishOptions};
use crate::media::{AudioInput, Sources, VideoInput};
use crate::reconnect::{should_rejoin, ReconnectPolicy};
use crate::state::{next, SessionState, StateEvent, Trigger};
use crate::teardown::{self, Running};
pub use crate::teardown::{TeardownReport, TeardownStep};
use onair_client::backend::{BackendClient, BackendError, PublisherToken, TokenRequest};
use onair_client::viewers::{ViewerCountSubscription, ViewerCountView};

/// What to go live with.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub title: String,
    /// Pay-per-view price as the creator typed it ("4.99"); `None` for free.
    pub ppv_price: Option<String>,
    pub video: VideoInput,
    pub audio: AudioInput,
    /// Asked of the camera (the closest mode it offers is used), or the test pattern's size.
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub codec: VideoCodec,
    pub simulcast: bool,
    /// Top-layer bitrate in bit/s; the SDK's choice when `None`.
    pub max_bitrate: Option<u64>,
    pub reconnect: ReconnectPolicy,
    /// Where a small copy of the picture goes for the studio's preview.
    pub preview: Option<crate::PreviewTap>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            title: "Live on OnAir".into(),
            ppv_price: None,
            video: VideoInput::TestPattern,
            audio: AudioInput::default(),
            width: 1280,
            height: 720,
            fps: 30.0,
            codec: VideoCodec::Vp8,
            simulcast: false,
            max_bitrate: None,
            reconnect: ReconnectPolicy::default(),
            preview: None,
        }
    }
}

/// One go-live step and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineStep {
    pub step: &'static str,
    pub duration: Duration,
}

/// Something the creator should know about while live (a reconnect, a republished track).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// 1, 2, 3… for this session: what a reader has shown already, even after older notices
    /// were dropped.
    pub seq: u64,
    /// Unix milliseconds.
    pub at_ms: i64,
    pub message: String,
}

struct Shared {
    generation: u64,
    backend: BackendClient,
    settings: SessionSettings,
    state: watch::Sender<StateEvent>,
    running: Mutex<Option<Running>>,
    report: Mutex<Option<TeardownReport>>,
    timeline: std::sync::Mutex<Vec<TimelineStep>>,
    viewers: std::sync::Mutex<Option<watch::Receiver<ViewerCountView>>>,
    /// The last token: which stream to continue on a rejoin, and a fallback while the
    /// backend is unreachable.
    token: std::sync::Mutex<Option<PublisherToken>>,
    notices: watch::Sender<Vec<Notice>>,
    reconnect_now: Arc<Notify>,
}

/// A live session. Cheap to clone; every clone is the same session.
#[derive(Clone)]
pub struct LiveSession {
    shared: Arc<Shared>,
}

fn now_ms() -> i64 {
    (unix_micros() / 1000) as i64
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// After a reconnect, how long each intended track gets to show packets leaving.
const TRACK_CHECK: Duration = Duration::from_secs(5);
/// How many notices are kept.
const NOTICES: usize = 50;

impl LiveSession {
    /// Validates, fetches a token, opens the devices, connects, publishes; returns once
    /// live. A failure on the way tears down what was started (through the same path as
    /// End) and says why.
    pub async fn go_live(
        backend: BackendClient,
        settings: SessionSettings,
    ) -> Result<Self, SessionError> {
        let generation = GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let session = Self {
            shared: Arc::new(Shared {
                generation,
                backend,
                settings,
                state: watch::Sender::new(StateEvent {
                    generation,
                    state: SessionState::Idle,
                    at_ms: now_ms(),
                }),
                running: Mutex::new(None),
                report: Mutex::new(None),
                timeline: std::sync::Mutex::new(Vec::new()),
                viewers: std::sync::Mutex::new(None),
                token: std::sync::Mutex::new(None),
                notices: watch::Sender::new(Vec::new()),
                reconnect_now: Arc::new(Notify::new()),
            }),
        };
        session.fire(Trigger::GoLive);
        match session.start().await {
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

    fn notice(&self, message: String) {
        tracing::info!(%message, "session notice");
        self.shared.notices.send_modify(|notices| {
            let seq = notices.last().map_or(1, |n| n.seq + 1);
            if notices.len() == NOTICES {
                notices.remove(0);
            }
            notices.push(Notice {
                seq,
                at_ms: now_ms(),
                message,
            });
        });
    }

    fn step(&self, step: &'static str, started: Instant) {
        self.step_took(step, started.elapsed());
    }

    fn step_took(&self, step: &'static str, duration: Duration) {
        lock(&self.shared.timeline).push(TimelineStep { step, duration });
    }

    async fn start(&self) -> Result<(), SessionError> {
        let settings = &self.shared.settings;
        onair_core::validate::title(&settings.title)?;
        if let Some(price) = &settings.ppv_price {
            onair_core::validate::price_cents(price)?;
        }
        let t = Instant::now();
        let token = self
            .shared
            .backend
            .publisher_token(&self.token_request())
            .await?;
        *lock(&self.shared.token) = Some(token.clone());
        self.step("token", t);

        // Devices before the room: their errors are the ones a creator can act on, and
        // frames are ready the moment the track is published.
        let t = Instant::now();
        let sources = Sources::start(
            &settings.video,
            &settings.audio,
            settings.width,
            settings.height,
            settings.fps,
            settings.preview.clone(),
        )
        .await?;
        self.step("capture", t);
        let supervisor_cancel = CancellationToken::new();
        let supervisor = TaskTracker::new();
        // From here on everything is owned by `running`, so a failure below still tears it
        // down.
        *self.shared.running.lock().await = Some(Running {
            sources,
            link: None,
            supervisor: supervisor.clone(),
            supervisor_cancel: supervisor_cancel.clone(),
            viewers: None,
        });
        self.fire(Trigger::Prepared);

        let (link, events) = self.join(&token, true).await?;
        self.install(link).await?;

        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        supervisor.spawn(
            supervise(weak, events, supervisor_cancel)
                .instrument(tracing::debug_span!("onair-session-supervisor")),
        );
        let subscription = ViewerCountSubscription::start(&self.shared.backend, &token.username);
        *lock(&self.shared.viewers) = Some(subscription.watch());
        if let Some(running) = self.shared.running.lock().await.as_mut() {
            running.viewers = Some(subscription);
        }
        Ok(())
    }

    fn token_request(&self) -> TokenRequest {
        TokenRequest {
            resume_stream_id: lock(&self.shared.token).as_ref().map(|t| t.stream_id),
            ..TokenRequest::new(
                self.shared.settings.title.clone(),
                self.shared.settings.ppv_price.clone(),
            )
        }
    }

    /// Joins the room and publishes every intended track over the running sources (see
    /// [`link::join`]); a rejoin replaces the link whole, the sources under it stay.
    async fn join(
        &self,
        token: &PublisherToken,
        timed: bool,
    ) -> Result<(Link, mpsc::UnboundedReceiver<RoomEvent>), SessionError> {
        let (video_source, audio_source) = self.sources().await?;
        let (link, _, events, times) = link::join(
            &token.url,
            &token.token,
            &video_source,
            audio_source.as_ref(),
            &self.publish_options(),
        )
        .await?;
        if timed {
            self.step_took("connect", times.connect);
            self.step_took("publish", times.publish);
        }
        Ok((link, events))
    }

    async fn sources(
        &self,
    ) -> Result<(NativeVideoSource, Option<NativeAudioSource>), SessionError> {
        let running = self.shared.running.lock().await;
        let sources = &running.as_ref().ok_or(SessionError::Ended)?.sources;
        Ok((sources.video.clone(), sources.audio.clone()))
    }

    fn publish_options(&self) -> PublishOptions {
        let settings = &self.shared.settings;
        PublishOptions {
            video: TrackPublishOptions {
                video_codec: settings.codec,
                max_framerate: Some(settings.fps),
                max_bitrate: settings.max_bitrate,
                simulcast: settings.simulcast,
                frame_metadata: true,
                ..Default::default()
            },
        }
    }

    /// Puts a freshly joined link in place (dropping the one it replaces). If the session
    /// is ending meanwhile, the link goes at once and the caller hears so.
    async fn install(&self, link: Link) -> Result<(), SessionError> {
        let mut running = self.shared.running.lock().await;
        match running.as_mut() {
            Some(running) => {
                running.link = Some(link);
                Ok(())
            }
            None => Err(SessionError::Ended),
        }
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

    /// What happened while live, newest last (reconnects, republished tracks).
    pub fn notices(&self) -> watch::Receiver<Vec<Notice>> {
        self.shared.notices.subscribe()
    }

    /// The viewer count while live.
    pub fn viewers(&self) -> Option<watch::Receiver<ViewerCountView>> {
        lock(&self.shared.viewers).clone()
    }

    /// How long each go-live step took.
    pub fn timeline(&self) -> Vec<TimelineStep> {
        lock(&self.shared.timeline).clone()
    }

    /// Devices (camera, microphone) open right now for this session.
    pub async fn devices_open(&self) -> usize {
        self.shared
            .running
            .lock()
            .await
            .as_ref()
            .map_or(0, |r| r.sources.devices_open())
    }

    /// While rejoining: skip the rest of the wait and try now.
    pub fn reconnect_now(&self) {
        self.shared.reconnect_now.notify_one();
    }

    /// The video track's sending statistics (resolution, fps, bitrate, quality limitation,
    /// round-trip time, loss), while in a room.
    pub async fn video_stats(&self) -> Option<onair_livekit::TrackStats> {
        let video = self
            .shared
            .running
            .lock()
            .await
            .as_ref()
            .and_then(|r| r.link.as_ref().map(|l| l.video.clone()))?;
        video.get_stats().await.ok()
    }

    /// The room as joined now (for stats and tests).
    pub async fn room(&self) -> Option<Room> {
        self.shared
            .running
            .lock()
            .await
            .as_ref()
            .and_then(|r| r.link.as_ref().map(|l| l.room.clone()))
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
        let running = self.shared.running.lock().await.take();
        let (steps, participant_gone) = teardown::run(running, self.backend_to_tell()).await;
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

    /// The backend, when a token opened a stream there that ending must close.
    fn backend_to_tell(&self) -> Option<BackendClient> {
        self.shared.backend_to_tell()
    }

    /// Ends from inside the session's own tasks: from a task of its own, since ending waits
    /// for those tasks.
    fn end_detached(self, reason: String) {
        tokio::spawn(async move {
            self.end_with(&reason).await;
        });
    }

    /// After the SDK got the connection back: every intended track must be sending again.
    /// A track that shows no packets leaving within [`TRACK_CHECK`] is published anew.
    async fn check_tracks(&self, cancel: &CancellationToken) -> Result<(), SessionError> {
        let Some((room, video, audio)) = self.shared.running.lock().await.as_ref().and_then(|r| {
            r.link
                .as_ref()
                .map(|l| (l.room.clone(), l.video.clone(), l.audio.clone()))
        }) else {
            return Err(SessionError::Ended);
        };
        let audio_sending = async {
            match &audio {
                Some(audio) => sending(cancel, || audio.get_stats()).await,
                None => true,
            }
        };
        let (video_sending, audio_sending) =
            tokio::join!(sending(cancel, || video.get_stats()), audio_sending);
        if cancel.is_cancelled() {
            return Err(SessionError::Ended);
        }
        let (stale_video, stale_audio) = (!video_sending, !audio_sending);
        if !stale_video && !stale_audio {
            return Ok(());
        }
        let local = room.local_participant();
        // Unpublish what is there of a stale kind, then publish it again on new tracks over
        // the same sources.
        for (sid, publication) in local.track_publications() {
            let kind = publication.track().kind();
            if (kind == onair_livekit::TrackKind::Video && stale_video)
                || (kind == onair_livekit::TrackKind::Audio && stale_audio)
            {
                let _ = local.unpublish_track(&sid).await;
            }
        }
        let (video_source, audio_source) = self.sources().await?;
        let published = link::publish(
            &local,
            stale_video.then_some(&video_source),
            audio_source.as_ref().filter(|_| stale_audio),
            &self.publish_options(),
        )
        .await?;
        let video = published.video.map(|(track, _)| track);
        let audio = published.audio.map(|(track, _)| track);
        let mut running = self.shared.running.lock().await;
        let link = running
            .as_mut()
            .and_then(|r| r.link.as_mut())
            .ok_or(SessionError::Ended)?;
        for (kind, republished) in [("video", video.is_some()), ("audio", audio.is_some())] {
            if republished {
                self.notice(format!(
                    "the {kind} track was not sending after the reconnect: published it again"
                ));
            }
        }
        if let Some(track) = video {
            link.video = track;
        }
        if audio.is_some() {
            link.audio = audio;
        }
        Ok(())
    }

    /// One rejoin: a fresh token (continuing this stream), the room, every intended track.
    async fn rejoin_once(&self) -> Result<mpsc::UnboundedReceiver<RoomEvent>, SessionError> {
        let token = match self
            .shared
            .backend
            .publisher_token(&self.token_request())
            .await
        {
            Ok(token) => {
                *lock(&self.shared.token) = Some(token.clone());
                token
            }
            // The backend is down too: the last token still admits us until it expires.
            Err(err @ (BackendError::Network { .. } | BackendError::Server { .. })) => {
                let last = lock(&self.shared.token).clone();
                match last.filter(|t| t.expires_at > unix_micros() / 1_000_000 + 30) {
                    Some(token) => {
                        self.notice(format!(
                            "the backend is unreachable ({err}); rejoining with the last token"
                        ));
                        token
                    }
                    None => return Err(err.into()),
                }
            }
            Err(err) => return Err(err.into()),
        };
        let (link, events) = self.join(&token, false).await?;
        self.install(link).await?;
        Ok(events)
    }
}

/// Whether the track's packets are leaving: bytes sent grow within [`TRACK_CHECK`].
async fn sending<F, Fut>(cancel: &CancellationToken, stats: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<onair_livekit::TrackStats, onair_livekit::RoomError>>,
{
    let first = stats().await.map(|s| s.bytes_sent()).unwrap_or(0);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let check = async {
        loop {
            tick.tick().await;
            if stats().await.is_ok_and(|s| s.bytes_sent() > first) {
                return true;
            }
        }
    };
    tokio::select! {
        _ = cancel.cancelled() => false,
        sent = tokio::time::timeout(TRACK_CHECK, check) => sent.unwrap_or(false),
    }
}

/// Watches the room: the SDK's own resume shows as reconnecting → live (then every track is
/// checked); the server ending the room ends the session; the SDK giving up starts the
/// rejoin loop.
async fn supervise(
    session: Weak<Shared>,
    mut events: mpsc::UnboundedReceiver<RoomEvent>,
    cancel: CancellationToken,
) {
    loop {
        let lost = loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => return,
                event = events.recv() => event,
            };
            let Some(shared) = session.upgrade() else {
                return;
            };
            let live = LiveSession { shared };
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
async fn rejoin(
    session: &Weak<Shared>,
    cancel: &CancellationToken,
    why: String,
) -> Option<mpsc::UnboundedReceiver<RoomEvent>> {
    let (policy, reconnect_now) = {
        let shared = session.upgrade()?;
        let live = LiveSession { shared };
        // The old room is over; drop it (and its tracks) now.
        if let Some(running) = live.shared.running.lock().await.as_mut() {
            drop(running.link.take());
        }
        live.notice(format!("lost the room ({why}); rejoining"));
        (
            live.shared.settings.reconnect,
            live.shared.reconnect_now.clone(),
        )
    };
    let started = Instant::now();
    let mut delays = policy.delays();
    let mut last_error = why;
    let mut attempts = 0u32;
    loop {
        let live = LiveSession {
            shared: session.upgrade()?,
        };
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
        drop(live);
        let delay = delays.next().unwrap_or(policy.max_delay);
        tokio::select! {
            _ = cancel.cancelled() => return None,
            _ = tokio::time::timeout(delay, reconnect_now.notified()) => {}
        }
    }
}

impl Shared {
    fn backend_to_tell(&self) -> Option<BackendClient> {
        lock(&self.token).is_some().then(|| self.backend.clone())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Dropped without End: the same teardown, in a task of its own (nobody waits for its
        // report). Rejoining stops at once, before the task runs.
        let Some(running) = self.running.get_mut().take() else {
            return;
        };
        running.supervisor_cancel.cancel();
        let backend = self.backend_to_tell();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let (steps, _) = teardown::run(Some(running), backend).await;
                    let failed: Vec<_> = steps.iter().filter(|s| s.result.is_err()).collect();
                    if failed.is_empty() {
                        tracing::info!("session dropped without End: torn down");
                    } else {
                        tracing::warn!(
                            ?failed,
                            "session dropped without End: teardown steps failed"
                        );
                    }
                });
            }
            // No runtime to run it on: the devices close on their threads and the room
            // leaves the server as they drop.
            Err(_) => drop(running),
        }
    }
}

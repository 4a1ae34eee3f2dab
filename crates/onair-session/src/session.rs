//! `LiveSession`: one stream from Go Live to End. It owns everything that runs while live —
//! the devices and their sources, the room and its tracks, the supervisor that watches the
//! room and rejoins when the SDK gives up, the viewer-count subscription — and ends them in
//! one fixed order, from any path (End, the server ending the room, a network that never
//! comes back, a failure half-way through going live), with a report.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use onair_core::clock::unix_micros;
use onair_livekit::{NativeAudioSource, NativeVideoSource, Room, RoomEvent, TrackPublishOptions};
use tokio::sync::{mpsc, watch, Mutex, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use crate::error::SessionError;
use crate::journal::Journal;
pub use crate::journal::{Notice, TimelineStep};
use crate::link::{self, Link, PublishOptions};
use crate::media::Sources;
use crate::reconnect::supervisor::{supervise, Supervised};
use crate::reconnect::ReconnectPolicy;
pub use crate::settings::SessionSettings;
use crate::state::{next, SessionState, StateEvent, Trigger};
use crate::teardown::{self, Running};
pub use crate::teardown::{TeardownReport, TeardownStep};
use onair_client::backend::{BackendClient, BackendError, PublisherToken, TokenRequest};
use onair_client::viewers::{ViewerCountSubscription, ViewerCountView};

struct Shared {
    generation: u64,
    backend: BackendClient,
    settings: SessionSettings,
    state: watch::Sender<StateEvent>,
    running: Mutex<Option<Running>>,
    report: Mutex<Option<TeardownReport>>,
    journal: Journal,
    viewers: std::sync::Mutex<Option<watch::Receiver<ViewerCountView>>>,
    /// The last token: which stream to continue on a rejoin, and a fallback while the
    /// backend is unreachable.
    token: std::sync::Mutex<Option<PublisherToken>>,
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

impl LiveSession {
    /// Validates, fetches a token, opens the devices, connects, publishes; returns once
    /// live. A failure on the way tears down what was started (through the same path as
    /// End) and says why.
    pub async fn go_live(
        backend: BackendClient,
        settings: SessionSettings,
    ) -> Result<Self, SessionError> {
        Self::go_live_with(backend, settings, None).await
    }

    /// [`LiveSession::go_live`] taking over sources already running (the studio's preview):
    /// what of them is already what `settings` ask for stays open and goes on air, the rest
    /// is started anew (see [`Sources::reuse`]). A failure closes them with the rest.
    pub async fn go_live_with(
        backend: BackendClient,
        settings: SessionSettings,
        running: Option<Sources>,
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
                journal: Journal::default(),
                viewers: std::sync::Mutex::new(None),
                token: std::sync::Mutex::new(None),
                reconnect_now: Arc::new(Notify::new()),
            }),
        };
        session.fire(Trigger::GoLive);
        match session.start(running).await {
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
        self.shared.journal.notice(message);
    }

    fn step(&self, step: &'static str, started: Instant) {
        self.step_took(step, started.elapsed());
    }

    fn step_took(&self, step: &'static str, duration: Duration) {
        self.shared.journal.step(step, duration);
    }

    async fn start(&self, handed: Option<Sources>) -> Result<(), SessionError> {
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
        let (video, audio) = (&settings.video, &settings.audio);
        let (width, height, fps) = (settings.width, settings.height, settings.fps);
        let preview = settings.preview.clone();
        let sources = match handed {
            Some(open) => {
                open.reuse(video, audio, width, height, fps, preview)
                    .await?
            }
            None => Sources::start(video, audio, width, height, fps, preview).await?,
        };
        self.step("capture", t);
        if let Some(record) = &settings.record {
            // The stream goes on without it: the notice and the report say why.
            let t = Instant::now();
            match sources.start_recording(record).await {
                Ok(()) => self.step("recording", t),
                Err(err) => self.notice(format!("recording did not start: {err}")),
            }
        }
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
        let session = move || weak.upgrade().map(|shared| LiveSession { shared });
        supervisor.spawn(
            supervise(session, events, supervisor_cancel)
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
        let resume_stream_id = lock(&self.shared.token).as_ref().map(|t| t.stream_id);
        TokenRequest {
            // A rejoin continues the stream it has; only the first join picks one.
            scheduled_stream_id: self
                .shared
                .settings
                .scheduled_stream_id
                .filter(|_| resume_stream_id.is_none()),
            resume_stream_id,
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
        self.shared.journal.notices()
    }

    /// The viewer count while live.
    pub fn viewers(&self) -> Option<watch::Receiver<ViewerCountView>> {
        lock(&self.shared.viewers).clone()
    }

    /// How long each go-live step took.
    pub fn timeline(&self) -> Vec<TimelineStep> {
        self.shared.journal.timeline()
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

    /// The backend's id of the stream this session went live as, once it had a token.
    pub fn stream_id(&self) -> Option<i64> {
        lock(&self.shared.token).as_ref().map(|t| t.stream_id)
    }

    /// The recording under way (or stopped early, with why), if one was asked for.
    pub async fn recording(&self) -> Option<crate::record::RecordingStatus> {
        self.shared
            .running
            .lock()
            .await
            .as_ref()
            .and_then(|r| r.sources.recording())
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
        let (steps, participant_gone, recording) =
            teardown::run(running, self.backend_to_tell()).await;
        self.fire(Trigger::TornDown);
        let report = TeardownReport {
            steps,
            total: started.elapsed(),
            participant_gone,
            already_ended: false,
            reason: reason.to_owned(),
            recording,
        };
        *report_slot = Some(report.clone());
        report
    }

    /// The backend, when a token opened a stream there that ending must close.
    fn backend_to_tell(&self) -> Option<BackendClient> {
        self.shared.backend_to_tell()
    }
}

impl Supervised for LiveSession {
    fn fire(&self, trigger: Trigger) {
        LiveSession::fire(self, trigger);
    }

    fn notice(&self, message: String) {
        LiveSession::notice(self, message);
    }

    fn end_detached(self, reason: String) {
        tokio::spawn(async move {
            self.end_with(&reason).await;
        });
    }

    fn reconnect(&self) -> (ReconnectPolicy, Arc<Notify>) {
        (
            self.shared.settings.reconnect,
            self.shared.reconnect_now.clone(),
        )
    }

    /// After the SDK got the connection back: every intended track must be sending again.
    /// A track that shows no packets leaving in time (`link::stale`) is published anew.
    async fn check_tracks(&self, cancel: &CancellationToken) -> Result<(), SessionError> {
        let Some((room, video, audio)) = self.shared.running.lock().await.as_ref().and_then(|r| {
            r.link
                .as_ref()
                .map(|l| (l.room.clone(), l.video.clone(), l.audio.clone()))
        }) else {
            return Err(SessionError::Ended);
        };
        let (stale_video, stale_audio) = link::stale(&video, audio.as_ref(), cancel).await;
        if cancel.is_cancelled() {
            return Err(SessionError::Ended);
        }
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

    async fn leave_room(&self) {
        if let Some(running) = self.shared.running.lock().await.as_mut() {
            drop(running.link.take());
        }
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
        teardown::run_detached(running, self.backend_to_tell());
    }
}

//! `Studio`: the one object the desktop shell talks to. It holds who is signed in, the saved
//! settings and at most one live session, and keeps a [`StudioView`] current for the window
//! and the tray. Going live and ending go through `onair-session`; every path that ends a
//! stream (End, tray, Quit, SIGTERM, the server) ends through [`Studio::end`] or the
//! session's own teardown.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onair_client::BackendClient;
use onair_core::clock::unix_micros;
use onair_session::media::Sources;
use onair_session::{LiveSession, PreviewFrame, PreviewTap};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

mod chat;
mod mirror;
mod recording;
mod schedule;
mod stage;

use stage::Stage;

use crate::devices::{list_devices, DeviceList};
use crate::error::{ErrorKind, UiError};
use crate::keys::KeyStore;
use crate::settings::{PreviewChoice, Saved, SettingsStore, StudioSettings, VideoChoice};
use crate::view::{Account, MicLevel, Phase, ReportView, StudioView};

fn now_ms() -> f64 {
    unix_micros() as f64 / 1e3
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Inner {
    store: SettingsStore,
    keys: Box<dyn KeyStore>,
    saved: Mutex<Saved>,
    backend: Mutex<Option<BackendClient>>,
    /// Offline with the preview's devices, or live with the session: the one answer to "is
    /// something live?". Held across Go Live, so a second Go Live (window and tray at once)
    /// waits and is then refused, and End waits for a Go Live under way.
    stage: tokio::sync::Mutex<Stage>,
    view: watch::Sender<StudioView>,
    /// The task that mirrors the session into the view.
    mirror: Mutex<Option<CancellationToken>>,
    /// The stream's chat while live, and what the chat panel shows (kept after the stream).
    chat: Mutex<Option<onair_client::ChatSubscription>>,
    chat_view: watch::Sender<crate::chat::ChatPanelView>,
    tasks: TaskTracker,
    /// Cancelled by `shutdown`: the studio's background loops (the schedule's clock) stop.
    closing: CancellationToken,
    /// The window's preview: fed by the live session's sources, or offline by the stage's.
    preview: PreviewTap,
    /// Where recordings are written (the creator's videos folder by default).
    recordings_dir: Mutex<std::path::PathBuf>,
    /// Recording uploads under way or failed, by file name.
    uploads: Mutex<recording::Uploads>,
    /// Where the LiveKit SDK library is loaded from, on first need: an idle studio in the
    /// tray does not carry it (about 50 MB).
    engine: Mutex<onair_livekit::LoadOptions>,
}

/// Cheap to clone; every clone is the same studio.
#[derive(Clone)]
pub struct Studio {
    inner: Arc<Inner>,
}

impl Studio {
    /// Loads the settings from `config_dir` and, when a backend was signed in to, its key from
    /// `keys` (no network: the key is checked when it is next used).
    pub fn open(config_dir: &Path, keys: Box<dyn KeyStore>) -> (Self, Option<UiError>) {
        let store = SettingsStore::new(config_dir);
        let saved = store.load();
        let mut view = StudioView::default();
        let mut backend = None;
        let mut problem = None;
        if let (Some(url), Some(username)) = (&saved.backend_url, &saved.username) {
            match keys.get(url) {
                Ok(Some(key)) => {
                    backend = Some(BackendClient::new(url, &key));
                    view.account = Some(Account {
                        backend_url: url.clone(),
                        username: username.clone(),
                    });
                }
                Ok(None) => {}
                Err(e) => problem = Some(UiError::from(e)),
            }
        }
        view.error = problem.clone();
        view.banner = view.banner_now();
        let studio = Self {
            inner: Arc::new(Inner {
                store,
                keys,
                saved: Mutex::new(saved),
                backend: Mutex::new(backend),
                stage: tokio::sync::Mutex::new(Stage::offline()),
                view: watch::Sender::new(view),
                mirror: Mutex::new(None),
                chat: Mutex::new(None),
                chat_view: watch::Sender::new(crate::chat::ChatPanelView::default()),
                tasks: TaskTracker::new(),
                closing: CancellationToken::new(),
                preview: PreviewTap::default(),
                recordings_dir: Mutex::new(config_dir.join("recordings")),
                uploads: Mutex::new(Default::default()),
                engine: Mutex::new(onair_livekit::LoadOptions::default()),
            }),
        };
        (studio, problem)
    }

    /// Where to load the SDK library from when it is first needed (the app's bundled
    /// resources).
    pub fn set_engine_options(&self, options: onair_livekit::LoadOptions) {
        *lock(&self.inner.engine) = options;
    }

    /// The backend signed in to, for a request made now (the chat's, the schedule's, Go Live).
    fn backend(&self) -> Result<BackendClient, UiError> {
        lock(&self.inner.backend)
            .clone()
            .ok_or_else(UiError::signed_out)
    }

    /// Loads the SDK library unless it is loaded (off the async threads: it takes a while).
    async fn engine(&self) -> Result<(), UiError> {
        let options = lock(&self.inner.engine).clone();
        let loaded = tokio::task::spawn_blocking(move || onair_livekit::load(&options))
            .await
            .map_err(|e| {
                UiError::new(
                    ErrorKind::Engine,
                    format!("loading the SDK library failed: {e}"),
                )
            })?;
        match loaded {
            Ok(info) => {
                tracing::debug!(path = %info.path.display(), "LiveKit SDK library ready");
                Ok(())
            }
            Err(e) => Err(UiError::engine(e)),
        }
    }

    /// Shows a problem found outside the studio (the SDK library failed to load).
    pub fn report_problem(&self, error: UiError) {
        self.update(|v| v.error = Some(error));
    }

    pub fn view(&self) -> StudioView {
        self.inner.view.borrow().clone()
    }

    /// Every change of the view.
    pub fn subscribe(&self) -> watch::Receiver<StudioView> {
        self.inner.view.subscribe()
    }

    pub fn settings(&self) -> StudioSettings {
        lock(&self.inner.saved).settings.clone()
    }

    fn update(&self, f: impl FnOnce(&mut StudioView)) {
        self.inner.view.send_modify(|view| {
            f(view);
            view.banner = view.banner_now();
        });
    }

    fn persist(&self, f: impl FnOnce(&mut Saved)) -> Result<(), UiError> {
        let mut saved = lock(&self.inner.saved);
        f(&mut saved);
        self.inner.store.save(&saved)
    }

    /// Checks the key with the backend, then keeps it in the keyring. Nothing is stored when
    /// either fails.
    pub async fn sign_in(&self, backend_url: &str, api_key: &str) -> Result<Account, UiError> {
        let url = backend_url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            return Err(UiError::field(
                "backend_url",
                "write the backend's address like http://127.0.0.1:8080",
            ));
        }
        let key = api_key.trim();
        if key.is_empty() {
            return Err(UiError::field(
                "api_key",
                "paste the API key the backend gave you",
            ));
        }
        let client = BackendClient::new(url, key);
        let username = client.me().await.map_err(UiError::from)?;
        let keys = &self.inner.keys;
        let previous = lock(&self.inner.saved).backend_url.clone();
        keys.set(url, key)?;
        if let Some(previous) = previous.filter(|p| p != url) {
            // One account at a time: the old backend's key goes.
            if let Err(e) = keys.delete(&previous) {
                tracing::warn!("could not remove the key of {previous}: {e}");
            }
        }
        self.persist(|s| {
            s.backend_url = Some(url.to_owned());
            s.username = Some(username.clone());
        })?;
        *lock(&self.inner.backend) = Some(client);
        let account = Account {
            backend_url: url.to_owned(),
            username,
        };
        self.update(|v| {
            v.account = Some(account.clone());
            v.error = None;
        });
        tracing::info!(backend = url, username = %account.username, "signed in");
        self.refresh_earnings();
        self.refresh_schedule();
        Ok(account)
    }

    /// Removes the key from the keyring. Refused while live: End first.
    pub async fn sign_out(&self) -> Result<(), UiError> {
        if self.view().phase.is_active() {
            return Err(UiError::new(
                ErrorKind::AlreadyLive,
                "End the stream before signing out.",
            ));
        }
        let url = lock(&self.inner.saved).backend_url.clone();
        if let Some(url) = &url {
            self.inner.keys.delete(url)?;
        }
        self.persist(|s| s.username = None)?;
        *lock(&self.inner.backend) = None;
        self.update(|v| {
            v.account = None;
            v.earnings = None;
            v.schedule = None;
        });
        Ok(())
    }

    /// Validates and keeps the settings (the tray's Go Live uses the last ones saved).
    pub fn save_settings(&self, settings: StudioSettings) -> Result<(), UiError> {
        settings.validate()?;
        self.persist(|s| s.settings = settings)
    }

    /// Cameras and microphones, listed off the async threads (listing opens devices).
    pub async fn devices(&self) -> DeviceList {
        tokio::task::spawn_blocking(list_devices)
            .await
            .unwrap_or_else(|e| DeviceList {
                cameras: Vec::new(),
                microphones: Vec::new(),
                notes: vec![format!("Listing devices failed: {e}")],
            })
    }

    /// Goes live with `settings` (saved first) and returns once live. Every field is checked
    /// before any request is sent.
    pub async fn go_live(&self, settings: StudioSettings) -> Result<(), UiError> {
        let result = self.try_go_live(settings).await;
        if let Err(e) = &result {
            self.update(|v| v.error = Some(e.clone()));
        }
        result
    }

    async fn try_go_live(&self, settings: StudioSettings) -> Result<(), UiError> {
        let pressed = Instant::now();
        settings.validate()?;
        let backend = self.backend()?;
        self.engine().await?;
        let mut stage = self.inner.stage.lock().await;
        if stage.session().is_some_and(|s| !s.state().is_final()) {
            return Err(UiError::new(ErrorKind::AlreadyLive, "Already live."));
        }
        self.persist(|s| s.settings = settings.clone())?;
        self.update(|v| {
            v.phase = Phase::Preparing;
            v.report = None;
            v.error = None;
            v.timeline.clear();
            v.notices.clear();
            v.stats = None;
            v.viewers = None;
            v.live_since_ms = None;
        });
        // The preview's devices are handed to the session: what it already has open for
        // these settings stays open (one recording stream from preview through live).
        let record = match settings.record {
            true => match self.recording_for_go_live() {
                Ok(record) => Some(record),
                Err(e) => {
                    self.update(|v| v.phase = Phase::Offline);
                    return Err(e);
                }
            },
            false => None,
        };
        let handed = stage.take_preview();
        let session_settings = onair_session::SessionSettings {
            preview: Some(self.inner.preview.clone()),
            record: record.clone(),
            ..settings.session_settings()
        };
        match LiveSession::go_live_with(backend, session_settings, handed).await {
            Ok(session) => {
                *stage = Stage::Live(session.clone());
                drop(stage);
                self.update(|v| {
                    v.generation = session.generation() as u32;
                    v.phase = Phase::of(&session.state());
                    v.live_since_ms = Some(now_ms());
                    v.timeline = mirror::timeline(&session);
                });
                if let Some(record) = &record {
                    self.note_recording(&session, &record.path);
                }
                self.start_mirror(session, pressed);
                // The stream scheduled now is live now: it leaves the upcoming list.
                self.refresh_schedule();
                Ok(())
            }
            Err(e) => {
                self.update(|v| v.phase = Phase::Offline);
                Err(e.into())
            }
        }
    }

    /// The newest preview picture after `seq` (the window polls this while shown).
    pub fn preview_frame(&self, seq: u64) -> Option<Arc<PreviewFrame>> {
        self.inner.preview.latest_after(seq)
    }

    /// The level of the sound going out, or offline of the sound chosen for the preview;
    /// `None` without sound (audio off, or nothing open).
    pub fn mic_level(&self) -> Option<MicLevel> {
        self.inner.preview.level().map(|l| MicLevel {
            rms_dbfs: l.rms_dbfs as f32,
            peak_dbfs: l.peak_dbfs as f32,
        })
    }

    /// Offline, opens the chosen picture and sound for the preview and the meter (closing
    /// what was open for them before); `None` closes them (the window was hidden or closed).
    /// While live the session feeds both and this does nothing. Waits for a Go Live or End
    /// under way, so a device is never open for the preview and the session at once.
    pub async fn set_preview(&self, choice: Option<PreviewChoice>) -> Result<(), UiError> {
        let mut stage = self.inner.stage.lock().await;
        let Stage::Offline { preview } = &mut *stage else {
            return Ok(());
        };
        if preview.as_ref().map(|open| &open.0) == choice.as_ref() {
            return Ok(());
        }
        if let Some(open) = preview.take() {
            let _ = open.1.stop(Duration::from_secs(2)).await;
            self.inner.preview.clear();
        }
        let Some(choice) = choice else { return Ok(()) };
        self.engine().await?;
        let settings = StudioSettings {
            video: choice.video.clone(),
            audio: choice.audio.clone(),
            ..self.settings()
        }
        .session_settings();
        // Only the preview sees the idle test pattern: drawn at a quarter of 720p it costs a
        // quarter as much.
        let (width, height) = match choice.video {
            VideoChoice::TestPattern => (640, 360),
            VideoChoice::Camera { .. } => (settings.width, settings.height),
        };
        let sources = Sources::start(
            &settings.video,
            &settings.audio,
            width,
            height,
            settings.fps,
            Some(self.inner.preview.clone()),
        )
        .await?;
        *preview = Some(Box::new((choice, sources)));
        Ok(())
    }

    /// Ends the stream (if any) and returns its teardown report; with nothing live, the last
    /// report (or none).
    pub async fn end(&self) -> Option<ReportView> {
        let mut stage = self.inner.stage.lock().await;
        let Some(session) = stage.take_session() else {
            return self.view().report;
        };
        // The stage stays held until the devices are closed: a preview opened meanwhile would
        // open them a second time.
        self.finish(&session).await
    }

    /// While reconnecting: try now.
    pub async fn reconnect_now(&self) {
        if let Some(session) = self.inner.stage.lock().await.session() {
            session.reconnect_now();
        }
    }

    /// Ends the session (or collects the report of its own teardown) and shows the report.
    async fn finish(&self, session: &LiveSession) -> Option<ReportView> {
        self.update(|v| {
            if v.generation == session.generation() as u32 && v.phase != Phase::Offline {
                v.phase = Phase::Ending;
            }
        });
        let report = session.end().await;
        if let Some(mirror) = lock(&self.inner.mirror).take() {
            mirror.cancel();
        }
        self.after_recording(session.stream_id(), report.recording.as_ref());
        self.close_chat().await;
        let view = ReportView::from(&report);
        tracing::info!(
            total_ms = view.total_ms,
            participant_gone = view.participant_gone,
            all_ok = view.all_ok,
            reason = %view.reason,
            steps = ?report.steps.iter().map(|s| (s.step, s.duration, s.result.is_ok())).collect::<Vec<_>>(),
            "teardown report"
        );
        self.update(|v| {
            if v.generation == session.generation() as u32 {
                v.phase = Phase::Offline;
                v.report = Some(view.clone());
                v.live_since_ms = None;
                v.stats = None;
                v.viewers = None;
            }
        });
        self.refresh_earnings();
        // A scheduled stream this one took over is over now.
        self.refresh_schedule();
        Some(view)
    }

    /// Asks the backend for the pay-per-view earnings and shows them (in the background: a
    /// slow or unreachable backend delays nothing; it is only logged).
    pub fn refresh_earnings(&self) {
        let backend = lock(&self.inner.backend).clone();
        let username = self.view().account.map(|a| a.username);
        let (Some(backend), Some(username)) = (backend, username) else {
            return;
        };
        let studio = self.clone();
        self.inner.tasks.spawn(
            async move {
                match backend.earnings(&username).await {
                    Ok(earnings) => {
                        let view = crate::view::EarningsView::from(&earnings);
                        studio.update(|v| v.earnings = Some(view));
                    }
                    Err(err) => tracing::debug!(%err, "earnings unavailable"),
                }
            }
            .instrument(tracing::info_span!("studio-earnings")),
        );
    }

    /// Ends whatever is live and waits for the studio's tasks, within `deadline` (Quit and
    /// SIGTERM). Returns the report when something was live.
    pub async fn shutdown(&self, deadline: Duration) -> Option<ReportView> {
        let ended = tokio::time::timeout(deadline, async {
            let mut stage = self.inner.stage.lock().await;
            match stage.take_session() {
                Some(session) => self.finish(&session).await,
                None => None,
            }
        })
        .await
        .unwrap_or_else(|_| {
            tracing::error!(?deadline, "ending the stream did not finish in time");
            None
        });
        let preview = self.inner.stage.lock().await.take_preview();
        if let Some(sources) = preview {
            let _ = sources.stop(Duration::from_secs(2)).await;
        }
        self.inner.tasks.close();
        self.inner.closing.cancel();
        if let Some(mirror) = lock(&self.inner.mirror).take() {
            mirror.cancel();
        }
        self.close_chat().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.inner.tasks.wait()).await;
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onair_client::credentials::CredentialError;
    use std::collections::HashMap;

    #[derive(Default)]
    struct MemoryKeys(Mutex<HashMap<String, String>>);

    impl KeyStore for Arc<MemoryKeys> {
        fn get(&self, url: &str) -> Result<Option<String>, CredentialError> {
            Ok(lock(&self.0).get(url).cloned())
        }
        fn set(&self, url: &str, key: &str) -> Result<(), CredentialError> {
            lock(&self.0).insert(url.into(), key.into());
            Ok(())
        }
        fn delete(&self, url: &str) -> Result<(), CredentialError> {
            lock(&self.0).remove(url);
            Ok(())
        }
    }

    struct NoKeyring;

    impl KeyStore for NoKeyring {
        fn get(&self, _: &str) -> Result<Option<String>, CredentialError> {
            Err(CredentialError::NoKeyring("no Secret Service".into()))
        }
        fn set(&self, _: &str, _: &str) -> Result<(), CredentialError> {
            Err(CredentialError::NoKeyring("no Secret Service".into()))
        }
        fn delete(&self, _: &str) -> Result<(), CredentialError> {
            Err(CredentialError::NoKeyring("no Secret Service".into()))
        }
    }

    /// A port that accepts connections and counts them (watchable), answering nothing.
    async fn counting_listener() -> (String, watch::Receiver<usize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (seen, count) = watch::channel(0);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                seen.send_modify(|n| *n += 1);
                drop(socket);
            }
        });
        (url, count)
    }

    /// A studio signed in (as it would be after a restart) to a backend that only counts
    /// connections; the folder holding its settings.
    async fn signed_in_over_counting_listener(
    ) -> (Studio, watch::Receiver<usize>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(MemoryKeys::default());
        let (url, count) = counting_listener().await;
        lock(&keys.0).insert(url.clone(), "onair_key".into());
        SettingsStore::new(dir.path())
            .save(&Saved {
                backend_url: Some(url),
                username: Some("alice".into()),
                ..Saved::default()
            })
            .unwrap();
        let (studio, _) = Studio::open(dir.path(), Box::new(keys));
        (studio, count, dir)
    }

    #[tokio::test]
    async fn the_schedule_is_asked_for_again_on_its_clock_until_the_studio_shuts_down() {
        let (studio, mut asked, _dir) = signed_in_over_counting_listener().await;
        studio.keep_schedule_current(Duration::from_millis(20));
        tokio::time::timeout(Duration::from_secs(10), asked.wait_for(|n| *n >= 3))
            .await
            .expect("the schedule was not asked for again")
            .unwrap();
        studio.shutdown(Duration::from_secs(2)).await;
        assert!(studio.inner.tasks.is_empty(), "a loop outlived shutdown");
    }

    #[tokio::test]
    async fn a_signed_in_creator_stays_signed_in_after_a_restart_and_not_after_signing_out() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(MemoryKeys::default());
        let (url, _) = counting_listener().await;
        lock(&keys.0).insert(url.clone(), "onair_key".into());
        let store = SettingsStore::new(dir.path());
        store
            .save(&Saved {
                backend_url: Some(url.clone()),
                username: Some("alice".into()),
                ..Saved::default()
            })
            .unwrap();
        let (studio, problem) = Studio::open(dir.path(), Box::new(keys.clone()));
        assert!(problem.is_none());
        assert_eq!(studio.view().account.unwrap().username, "alice");
        studio.sign_out().await.unwrap();
        assert!(lock(&keys.0).is_empty());
        let (again, _) = Studio::open(dir.path(), Box::new(keys.clone()));
        assert_eq!(again.view().account, None);
    }

    #[tokio::test]
    async fn signing_in_to_a_backend_that_does_not_answer_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(MemoryKeys::default());
        let (studio, _) = Studio::open(dir.path(), Box::new(keys.clone()));
        let (url, attempts) = counting_listener().await;
        let err = studio.sign_in(&url, "onair_key").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Network, "{err:?}");
        assert_eq!(*attempts.borrow(), 1);
        assert!(lock(&keys.0).is_empty());
        assert_eq!(studio.view().account, None);
    }

    #[tokio::test]
    async fn a_malformed_address_is_refused_by_field_before_any_request() {
        let dir = tempfile::tempdir().unwrap();
        let (studio, _) = Studio::open(dir.path(), Box::new(Arc::new(MemoryKeys::default())));
        let err = studio.sign_in("127.0.0.1:8080", "key").await.unwrap_err();
        assert_eq!(err.field.as_deref(), Some("backend_url"));
        let err = studio
            .sign_in("http://127.0.0.1:8080", "  ")
            .await
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("api_key"));
    }

    #[tokio::test]
    async fn go_live_with_a_bad_title_or_price_sends_no_request() {
        let (studio, attempts, _dir) = signed_in_over_counting_listener().await;
        for (title, price, field) in [
            ("x".repeat(101), "", "title"),
            ("Launch day".to_owned(), "1000", "ppv_price"),
        ] {
            let settings = StudioSettings {
                title,
                ppv_price: price.into(),
                ..StudioSettings::default()
            };
            let err = studio.go_live(settings).await.unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field));
            assert_eq!(studio.view().phase, Phase::Offline);
            assert_eq!(studio.view().error.unwrap().field.as_deref(), Some(field));
        }
        assert_eq!(*attempts.borrow(), 0);
        // Refused settings are not saved either.
        assert_eq!(studio.settings(), StudioSettings::default());
    }

    #[tokio::test]
    async fn go_live_signed_out_asks_to_sign_in() {
        let dir = tempfile::tempdir().unwrap();
        let (studio, _) = Studio::open(dir.path(), Box::new(Arc::new(MemoryKeys::default())));
        let err = studio.go_live(StudioSettings::default()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::SignedOut);
        assert_eq!(err.action, crate::Action::SignIn);
    }

    #[tokio::test]
    async fn without_a_keyring_the_studio_says_so_and_keeps_nothing_in_plain_text() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::new(dir.path());
        store
            .save(&Saved {
                backend_url: Some("http://127.0.0.1:9".into()),
                username: Some("alice".into()),
                ..Saved::default()
            })
            .unwrap();
        let (studio, problem) = Studio::open(dir.path(), Box::new(NoKeyring));
        assert_eq!(problem.unwrap().kind, ErrorKind::Keyring);
        assert_eq!(studio.view().account, None);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains("onair_"), "{text}");
    }

    #[tokio::test]
    async fn end_with_nothing_live_returns_no_report() {
        let dir = tempfile::tempdir().unwrap();
        let (studio, _) = Studio::open(dir.path(), Box::new(Arc::new(MemoryKeys::default())));
        assert_eq!(studio.end().await, None);
        assert_eq!(studio.shutdown(Duration::from_secs(1)).await, None);
    }
}

//! The OnAir backend in-process for end-to-end tests: started on a chosen port over a SQLite
//! file, stopped and restarted on the same port and database; an HTTP client for its API,
//! an event-stream reader, and a webhook tap that records what livekit-server sends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use eventsource_stream::Eventsource;
use futures::stream::BoxStream;
use futures::StreamExt;
use onair_server::api::{TokenResponse, ViewerTokenResponse};
use onair_server::live::ViewerCount;
use onair_server::{db, keys, AppState, Config};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::harness::{self, API_KEY, API_SECRET};

pub const KEY_SECRET: &str = "onair-e2e-key-secret";

/// The backend, serving on `127.0.0.1:port`.
pub struct Backend {
    pub port: u16,
    pub db_url: String,
    livekit_url: String,
    /// As last started, so a restart keeps it.
    config: Option<Config>,
    state: Option<AppState>,
    task: Option<JoinHandle<Result<()>>>,
    http: reqwest::Client,
}

impl Backend {
    /// Starts on `port` over `db_url`, talking to the LiveKit server at `livekit_url`.
    pub async fn start(
        livekit_url: &str,
        port: u16,
        db_url: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> Result<Self> {
        let mut backend = Self {
            port,
            db_url: db_url.to_owned(),
            livekit_url: livekit_url.to_owned(),
            config: None,
            state: None,
            task: None,
            http: reqwest::Client::new(),
        };
        backend.run(tweak).await?;
        Ok(backend)
    }

    async fn run(&mut self, tweak: impl FnOnce(&mut Config)) -> Result<()> {
        let mut config = self.config.take().unwrap_or_else(|| {
            let mut config = Config::new(
                &self.db_url,
                &self.livekit_url,
                API_KEY,
                API_SECRET,
                KEY_SECRET,
            );
            config.web_dir = harness::repo_root().join("ui/dist-viewer");
            // Beside the database, in the test's own folder.
            if let Some(dir) = self
                .db_url
                .strip_prefix("sqlite://")
                .and_then(|file| std::path::Path::new(file).parent())
            {
                config.replay_dir = dir.join("replays");
            }
            config
        });
        tweak(&mut config);
        self.config = Some(config.clone());
        let pool = db::open(&self.db_url).await?;
        let state = AppState::new(config, pool);
        let port = self.port;
        // The port of a backend just stopped may take a moment to be free again.
        let listener = harness::retry_for(
            Duration::from_secs(5),
            Duration::from_millis(50),
            || async move {
                tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .context("bind the backend's port")
            },
        )
        .await?;
        self.task = Some(tokio::spawn(onair_server::serve(listener, state.clone())));
        self.state = Some(state);
        Ok(())
    }

    /// Stops serving (like a process exit: in-memory state is gone, the database stays).
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(state) = self.state.take() {
            state.shutdown.cancel();
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .context("the backend did not stop within 10 s")???;
        }
        Ok(())
    }

    /// Starts again on the same port and database.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.run(|_| {}).await
    }

    pub fn state(&self) -> &AppState {
        self.state.as_ref().expect("running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn webhook_url(&self) -> String {
        self.url("/api/livekit/webhook")
    }

    /// Creates a streamer and returns its API key.
    pub async fn add_streamer(&self, username: &str) -> Result<String> {
        let key = keys::generate();
        db::add_streamer(
            &self.state().db,
            username,
            &keys::hash(KEY_SECRET.as_bytes(), &key),
            0,
        )
        .await?
        .context("username taken")?;
        Ok(key)
    }

    pub async fn publisher_token(&self, key: &str, title: &str) -> Result<TokenResponse> {
        let response = self
            .http
            .post(self.url("/api/streams/token"))
            .bearer_auth(key)
            .json(&serde_json::json!({ "title": title }))
            .send()
            .await?;
        ok_json(response).await
    }

    pub async fn viewer_token(&self, username: &str) -> Result<ViewerTokenResponse> {
        let response = self
            .http
            .post(self.url(&format!("/api/streams/{username}/viewer-token")))
            .send()
            .await?;
        ok_json(response).await
    }

    pub async fn count(&self, username: &str) -> Result<ViewerCount> {
        let response = self
            .http
            .get(self.url(&format!("/api/streams/{username}/viewers")))
            .send()
            .await?;
        ok_json(response).await
    }

    pub async fn end(&self, key: &str) -> Result<Value> {
        let response = self
            .http
            .post(self.url("/api/streams/end"))
            .bearer_auth(key)
            .send()
            .await?;
        ok_json(response).await
    }

    pub async fn history(&self, username: &str) -> Result<Vec<db::StreamRecord>> {
        let response = self
            .http
            .get(self.url(&format!("/api/streams/{username}/history")))
            .send()
            .await?;
        ok_json(response).await
    }

    /// Subscribes to the viewer-count event stream.
    pub async fn events(&self, username: &str) -> Result<CountEvents> {
        let response = self
            .http
            .get(self.url(&format!("/api/streams/{username}/viewers/events")))
            .send()
            .await?
            .error_for_status()?;
        Ok(CountEvents {
            events: response.bytes_stream().eventsource().boxed(),
            seen: Vec::new(),
        })
    }

    /// Waits until the backend's count satisfies `pred`.
    pub async fn wait_count(
        &self,
        username: &str,
        limit: Duration,
        pred: impl Fn(&ViewerCount) -> bool,
    ) -> Result<ViewerCount> {
        harness::retry_for(limit, Duration::from_millis(50), || async {
            let count = self.count(username).await?;
            if pred(&count) {
                Ok(count)
            } else {
                bail!("count is {count:?}")
            }
        })
        .await
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(state) = &self.state {
            state.shutdown.cancel();
        }
    }
}

async fn ok_json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T> {
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("{status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("parse {body}"))
}

/// A subscriber to `/viewers/events`.
pub struct CountEvents {
    events: BoxStream<
        'static,
        Result<eventsource_stream::Event, eventsource_stream::EventStreamError<reqwest::Error>>,
    >,
    /// Every count received, in order.
    pub seen: Vec<ViewerCount>,
}

impl CountEvents {
    /// Waits until the current count (the last received) satisfies `pred`.
    pub async fn wait(
        &mut self,
        limit: Duration,
        pred: impl Fn(&ViewerCount) -> bool,
    ) -> Result<ViewerCount> {
        if let Some(c) = self.seen.last().filter(|c| pred(c)) {
            return Ok(c.clone());
        }
        let deadline = Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.events.next()).await {
                Ok(Some(Ok(event))) if event.event == "viewers" => {
                    let count: ViewerCount = serde_json::from_str(&event.data)?;
                    self.seen.push(count.clone());
                    if pred(&count) {
                        return Ok(count);
                    }
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(err))) => bail!("event stream failed: {err}"),
                Ok(None) => bail!("event stream ended; seen {:?}", self.seen),
                Err(_) => bail!("no matching count within {limit:?}; seen {:?}", self.seen),
            }
        }
    }

    /// The live viewer counts seen, repeats collapsed: what a creator watching would see.
    pub fn live_counts(&self) -> Vec<u32> {
        let mut counts: Vec<u32> = self
            .seen
            .iter()
            .filter(|c| c.live)
            .map(|c| c.viewers)
            .collect();
        counts.dedup();
        counts
    }
}

/// One webhook as livekit-server sent it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub body: String,
    pub authorization: String,
    pub event: Value,
}

/// Sits between livekit-server and the backend: forwards every webhook and keeps a copy;
/// while `drop_all` is set it answers 200 and forwards nothing (webhooks lost).
pub struct WebhookTap {
    pub port: u16,
    pub recorded: Arc<Mutex<Vec<Recorded>>>,
    pub drop_all: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct TapState {
    target: String,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    drop_all: Arc<AtomicBool>,
    http: reqwest::Client,
}

impl WebhookTap {
    pub async fn start(target: String) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let drop_all = Arc::new(AtomicBool::new(false));
        let state = TapState {
            target,
            recorded: recorded.clone(),
            drop_all: drop_all.clone(),
            http: reqwest::Client::new(),
        };
        let app = axum::Router::new()
            .fallback(axum::routing::post(forward))
            .with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Ok(Self {
            port,
            recorded,
            drop_all,
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The recorded webhooks matching `pred`.
    pub fn find(&self, pred: impl Fn(&Value) -> bool) -> Vec<Recorded> {
        self.recorded
            .lock()
            .unwrap()
            .iter()
            .filter(|r| pred(&r.event))
            .cloned()
            .collect()
    }

    pub fn set_dropping(&self, on: bool) {
        self.drop_all.store(on, Ordering::SeqCst);
    }
}

impl Drop for WebhookTap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(tap): State<TapState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = String::from_utf8_lossy(&body).into_owned();
    tap.recorded.lock().unwrap().push(Recorded {
        event: serde_json::from_str(&text).unwrap_or(Value::Null),
        body: text,
        authorization: authorization.clone(),
    });
    if tap.drop_all.load(Ordering::SeqCst) {
        return StatusCode::OK;
    }
    match tap
        .http
        .post(&tap.target)
        .header("authorization", authorization)
        .header("content-type", "application/webhook+json")
        .body(body)
        .send()
        .await
    {
        Ok(r) => r.status(),
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

/// Posts a webhook body with the given authorization header straight to the backend.
pub async fn post_webhook(backend: &Backend, body: &str, authorization: &str) -> Result<u16> {
    let response = reqwest::Client::new()
        .post(backend.webhook_url())
        .header("authorization", authorization)
        .header("content-type", "application/webhook+json")
        .body(body.to_owned())
        .send()
        .await?;
    Ok(response.status().as_u16())
}

/// livekit-server posting its webhooks to an in-process backend over a fresh SQLite file,
/// with one streamer and a session client holding that streamer's key.
pub struct Stack {
    pub livekit: harness::LiveKitServer,
    pub backend: Backend,
    pub client: onair_client::BackendClient,
    /// The streamer's API key.
    pub key: String,
    _dir: tempfile::TempDir,
}

impl Stack {
    pub async fn start(username: &str) -> Result<Self> {
        Self::start_with(username, |_| {}).await
    }

    /// With the backend's configuration changed by `tweak`.
    pub async fn start_with(username: &str, tweak: impl FnOnce(&mut Config)) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let db_url = format!("sqlite://{}", dir.path().join("onair.db").display());
        let port = harness::free_tcp_port()?;
        let livekit = harness::LiveKitServer::with_backend_on(port).await?;
        let backend = Backend::start(&livekit.url(), port, &db_url, tweak).await?;
        let key = backend.add_streamer(username).await?;
        let client = onair_client::BackendClient::new(&backend.url(""), &key);
        Ok(Self {
            livekit,
            backend,
            client,
            key,
            _dir: dir,
        })
    }
}

impl Stack {
    /// `onair live --backend` as this stack's streamer (test pattern 1280x720@30 and a tone),
    /// once the backend has it on air and its session follows the viewer count.
    pub async fn go_live(&self, username: &str, title: &str) -> Result<harness::JsonProcess> {
        self.go_live_with(username, title, &[]).await
    }

    /// The same with more `onair live` arguments (`--ppv-price 4.99`…).
    pub async fn go_live_with(
        &self,
        username: &str,
        title: &str,
        extra: &[&str],
    ) -> Result<harness::JsonProcess> {
        let mut cmd = tokio::process::Command::new(harness::onair_bin()?);
        cmd.args(["live", "--json", "--title", title])
            .args(extra)
            .arg("--backend")
            .arg(self.backend.url(""))
            .env("ONAIR_API_KEY", &self.key);
        let mut creator = harness::JsonProcess::spawn(cmd)?;
        creator.wait_event("live", Duration::from_secs(30)).await?;
        // Its session follows the count from here on.
        creator
            .wait_event("viewers", Duration::from_secs(10))
            .await?;
        self.backend
            .wait_count(username, Duration::from_secs(10), |c| c.live)
            .await?;
        Ok(creator)
    }
}

/// `onair-server` as a process of its own (so a test's or bench's own figures are the
/// session's alone), over a fresh SQLite file, with one streamer; killed on drop.
pub struct BackendProcess {
    child: std::process::Child,
    pub base: String,
    pub key: String,
    _dir: tempfile::TempDir,
}

impl BackendProcess {
    pub async fn start(livekit_url: &str, port: u16, username: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let db_url = format!("sqlite://{}", dir.path().join("onair.db").display());
        let bin = harness::built_bin("onair-server", "onair-server")?;
        let env = [
            ("ONAIR_DATABASE_URL", db_url),
            (
                "ONAIR_REPLAY_DIR",
                dir.path().join("replays").display().to_string(),
            ),
            ("ONAIR_KEY_SECRET", KEY_SECRET.to_owned()),
            ("LIVEKIT_URL", livekit_url.to_owned()),
            ("LIVEKIT_API_KEY", API_KEY.to_owned()),
            ("LIVEKIT_API_SECRET", API_SECRET.to_owned()),
            // Hundreds of token requests a minute from one address.
            ("ONAIR_RATE_LIMIT", "1000".to_owned()),
            (
                "ONAIR_LOG",
                std::env::var("ONAIR_TEST_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            ),
        ];
        let added = std::process::Command::new(&bin)
            .args(["streamer", "add", username])
            .envs(env.clone())
            .output()?;
        anyhow::ensure!(
            added.status.success(),
            "streamer add: {}",
            String::from_utf8_lossy(&added.stderr)
        );
        let key = String::from_utf8(added.stdout)?.trim().to_owned();
        let child = std::process::Command::new(&bin)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .envs(env)
            .spawn()
            .context("start onair-server")?;
        let process = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            key,
            _dir: dir,
        };
        let health = format!("{}/api/health", process.base);
        harness::retry_for(
            Duration::from_secs(10),
            Duration::from_millis(20),
            || async {
                reqwest::get(&health).await?.error_for_status()?;
                Ok(())
            },
        )
        .await
        .context("onair-server did not answer")?;
        Ok(process)
    }

    pub fn client(&self) -> onair_client::BackendClient {
        onair_client::BackendClient::new(&self.base, &self.key)
    }
}

impl Drop for BackendProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the session's view of the viewer count satisfies `pred`, at most `limit`.
pub async fn wait_view(
    rx: &mut tokio::sync::watch::Receiver<onair_client::ViewerCountView>,
    limit: Duration,
    pred: impl Fn(&onair_client::ViewerCountView) -> bool,
) -> Result<onair_client::ViewerCountView> {
    let found = match tokio::time::timeout(limit, rx.wait_for(|v| pred(v))).await {
        Ok(view) => Some(view?.clone()),
        Err(_) => None,
    };
    found.ok_or_else(|| anyhow::anyhow!("no such view within {limit:?}; last {:?}", *rx.borrow()))
}

/// Waits (at most 10 s) until the session's video is on the wire: bytes sent, not only a track
/// published. A session ended before that never ran its encoder.
pub async fn wait_video_sent(session: &onair_session::LiveSession) -> Result<()> {
    harness::retry_for(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            let sent = session.video_stats().await.map_or(0, |s| s.bytes_sent());
            anyhow::ensure!(sent > 0, "no video sent yet");
            Ok(())
        },
    )
    .await
}

/// Ends `session` and checks that it ended cleanly: every teardown step ok, the creator gone
/// from the server, no native handle left once it is dropped. `what` names it in errors.
pub async fn end_cleanly(
    session: onair_session::LiveSession,
    what: &str,
) -> Result<onair_session::TeardownReport> {
    let report = session.end().await;
    anyhow::ensure!(
        report.all_ok() && report.participant_gone,
        "{what}: {report:#?}"
    );
    drop(session);
    anyhow::ensure!(
        onair_livekit::live_handle_count() == 0,
        "{what}: native handles left"
    );
    Ok(report)
}

//! The live viewer count: one subscription to the backend's event stream per session, kept
//! open with reconnects (exponential backoff with jitter) and marked stale, with its age,
//! while it is down. Closing (or dropping) the subscription ends its task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use onair_core::viewers::ViewerCount;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backend::BackendClient;

/// What the studio shows: the last count, and whether it is current.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewerCountView {
    /// The last count received; `None` before the first.
    pub count: Option<ViewerCount>,
    /// Since when the subscription is down (the count may be out of date); `None` while
    /// connected.
    pub stale_since: Option<Instant>,
}

impl ViewerCountView {
    pub fn is_stale(&self) -> bool {
        self.stale_since.is_some()
    }

    /// How long the count has been unconfirmed, while stale.
    pub fn stale_for(&self) -> Option<Duration> {
        self.stale_since.map(|t| t.elapsed())
    }
}

/// A heartbeat comes every 15 s; this much silence means the connection is gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(45);

/// The one viewer-count subscription of a session.
pub struct ViewerCountSubscription {
    view: watch::Receiver<ViewerCountView>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
    connections: Arc<AtomicU64>,
}

impl ViewerCountSubscription {
    /// Subscribes to `username`'s count and keeps the subscription up until closed.
    pub fn start(backend: &BackendClient, username: &str) -> Self {
        Self::start_with(backend, username, reconnect_backoff())
    }

    pub fn start_with(
        backend: &BackendClient,
        username: &str,
        backoff: ExponentialBuilder,
    ) -> Self {
        let (tx, view) = watch::channel(ViewerCountView {
            count: None,
            stale_since: Some(Instant::now()),
        });
        let cancel = CancellationToken::new();
        let connections = Arc::new(AtomicU64::new(0));
        let url = backend.viewer_events_url(username);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(SILENCE_LIMIT)
            .build()
            .unwrap_or_else(|_| backend.http().clone());
        let task = tokio::spawn(
            run(url, http, tx, cancel.clone(), connections.clone(), backoff)
                .instrument(tracing::info_span!("onair-viewer-count", username)),
        );
        Self {
            view,
            cancel,
            task: Some(task),
            connections,
        }
    }

    /// Changes as counts arrive and the connection drops or returns.
    pub fn watch(&self) -> watch::Receiver<ViewerCountView> {
        self.view.clone()
    }

    pub fn current(&self) -> ViewerCountView {
        self.view.borrow().clone()
    }

    /// How many times the event stream was opened (1 unless it had to reconnect).
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Ends the subscription and waits for its task (at most 2 s).
    pub async fn close(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

impl Drop for ViewerCountSubscription {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Reconnect delays: 250 ms doubling to 5 s, with jitter, for as long as the session lives.
pub fn reconnect_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
}

async fn run(
    url: String,
    http: reqwest::Client,
    view: watch::Sender<ViewerCountView>,
    cancel: CancellationToken,
    connections: Arc<AtomicU64>,
    backoff: ExponentialBuilder,
) {
    let mut delays = backoff.build();
    loop {
        let connected = tokio::select! {
            _ = cancel.cancelled() => return,
            response = http.get(&url).header("accept", "text/event-stream").send() => response,
        };
        match connected.and_then(|r| r.error_for_status()) {
            Ok(response) => {
                connections.fetch_add(1, Ordering::SeqCst);
                let mut events = response.bytes_stream().eventsource();
                loop {
                    let event = tokio::select! {
                        _ = cancel.cancelled() => return,
                        event = events.next() => event,
                    };
                    match event {
                        Some(Ok(event)) if event.event == "viewers" => {
                            match serde_json::from_str::<ViewerCount>(&event.data) {
                                Ok(count) => {
                                    view.send_replace(ViewerCountView {
                                        count: Some(count),
                                        stale_since: None,
                                    });
                                    // A good connection starts the next reconnect afresh.
                                    delays = backoff.build();
                                }
                                Err(err) => tracing::warn!(%err, "unreadable viewer count"),
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(err)) => {
                            tracing::info!(%err, "viewer count stream dropped");
                            break;
                        }
                        None => {
                            tracing::info!("viewer count stream ended");
                            break;
                        }
                    }
                }
            }
            Err(err) => tracing::info!(%err, "cannot reach the viewer count"),
        }
        view.send_if_modified(|v| {
            if v.stale_since.is_none() {
                v.stale_since = Some(Instant::now());
                true
            } else {
                false
            }
        });
        // Back off before reconnecting, unless the session closes the subscription meanwhile.
        let delay = delays.next().unwrap_or(Duration::from_secs(5));
        if tokio::time::timeout(delay, cancel.cancelled())
            .await
            .is_ok()
        {
            return;
        }
    }
}

//! The session's backend side against the real backend, livekit-server and Python viewers:
//! the viewer count it shows, and what it shows while the backend is away.

use std::time::Duration;

use anyhow::Result;
use onair_e2e::backend::Backend;
use onair_e2e::harness::{free_tcp_port, JsonProcess, LiveKitServer};
use onair_session::{BackendClient, TokenRequest, ViewerCountSubscription, ViewerCountView};
use tokio::sync::watch;
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(20);

async fn wait_view(
    rx: &mut watch::Receiver<ViewerCountView>,
    limit: Duration,
    pred: impl Fn(&ViewerCountView) -> bool,
) -> Result<ViewerCountView> {
    let found = match tokio::time::timeout(limit, rx.wait_for(|v| pred(v))).await {
        Ok(view) => Some(view?.clone()),
        Err(_) => None,
    };
    found.ok_or_else(|| anyhow::anyhow!("no such view within {limit:?}; last {:?}", *rx.borrow()))
}

struct Stack {
    livekit: LiveKitServer,
    backend: Backend,
    client: BackendClient,
    _dir: tempfile::TempDir,
}

async fn stack() -> Result<Stack> {
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}", dir.path().join("onair.db").display());
    let port = free_tcp_port()?;
    let livekit = LiveKitServer::start_with(Some(&format!(
        "http://127.0.0.1:{port}/api/livekit/webhook"
    )))
    .await?;
    let backend = Backend::start(&livekit.url(), port, &db_url, |_| {}).await?;
    let key = backend.add_streamer("alice").await?;
    let client = BackendClient::new(&backend.url(""), &key);
    Ok(Stack {
        livekit,
        backend,
        client,
        _dir: dir,
    })
}

/// `onair live` with a token the session's client fetched.
async fn go_live(s: &Stack) -> Result<JsonProcess> {
    let token = s
        .client
        .publisher_token(&TokenRequest {
            title: "Session test".into(),
            ppv_price: None,
        })
        .await?;
    let mut publisher = JsonProcess::onair(&[
        "live",
        "--url",
        &token.url,
        "--token",
        &token.token,
        "--width",
        "640",
        "--height",
        "360",
    ])?;
    publisher.wait_event("live", WAIT).await?;
    Ok(publisher)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sessions_viewer_count_follows_a_viewer_within_a_second() -> Result<()> {
    let s = stack().await?;
    let subscription = ViewerCountSubscription::start(&s.client, "alice");
    let mut view = subscription.watch();
    let _publisher = go_live(&s).await?;
    wait_view(&mut view, WAIT, |v| {
        v.count.as_ref().is_some_and(|c| c.live)
    })
    .await?;

    let token = s.backend.viewer_token("alice").await?;
    let mut viewer =
        JsonProcess::viewer_with_token(&token.url, &token.token, Duration::from_secs(60))?;
    viewer.wait_event("connected", WAIT).await?;
    let connected = Instant::now();
    wait_view(&mut view, Duration::from_secs(1), |v| {
        v.count.as_ref().is_some_and(|c| c.viewers == 1)
    })
    .await?;
    println!(
        "count 1 at the session {:?} after the viewer connected",
        connected.elapsed()
    );
    viewer.terminate()?;
    viewer.finish(WAIT).await?;
    let left = Instant::now();
    wait_view(&mut view, Duration::from_secs(2), |v| {
        v.count.as_ref().is_some_and(|c| c.viewers == 0)
    })
    .await?;
    println!(
        "count 0 {:?} after the viewer's process ended",
        left.elapsed()
    );
    assert_eq!(
        subscription.connections(),
        1,
        "one subscription, never reopened"
    );
    assert!(!subscription.current().is_stale());
    subscription.close().await;
    // The backend released it too.
    onair_e2e::harness::retry_for(
        Duration::from_secs(2),
        Duration::from_millis(10),
        || async {
            anyhow::ensure!(s.backend.state().hub.subscribers() == 0);
            Ok(())
        },
    )
    .await?;
    drop(s.livekit);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn while_the_backend_is_away_the_count_is_stale_and_it_recovers_when_it_returns() -> Result<()>
{
    let mut s = stack().await?;
    let mut publisher = go_live(&s).await?;
    let subscription = ViewerCountSubscription::start(&s.client, "alice");
    let mut view = subscription.watch();
    wait_view(&mut view, WAIT, |v| {
        !v.is_stale() && v.count.as_ref().is_some_and(|c| c.live)
    })
    .await?;

    s.backend.stop().await?;
    let stopped = Instant::now();
    let stale = wait_view(&mut view, Duration::from_secs(5), |v| v.is_stale()).await?;
    println!("stale {:?} after the backend stopped", stopped.elapsed());
    assert!(
        stale.count.is_some(),
        "the last count stays on screen, marked stale"
    );

    // The stream itself does not depend on the backend.
    let frames_before = publisher.wait_event("stats", WAIT).await?["frames_captured"].as_u64();
    s.backend.restart().await?;
    let restarted = Instant::now();
    wait_view(&mut view, Duration::from_secs(10), |v| !v.is_stale()).await?;
    println!(
        "fresh again {:?} after the backend restarted",
        restarted.elapsed()
    );
    assert!(subscription.connections() >= 2);
    assert!(frames_before.is_some());
    subscription.close().await;
    Ok(())
}

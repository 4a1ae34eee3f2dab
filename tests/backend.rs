//! The backend against the real livekit-server, its real webhooks, real Python viewers and
//! `onair live` as the creator: live viewer counts, rate limits, restarts, end of stream.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use livekit_api::access_token::AccessToken;
use onair_e2e::backend::{post_webhook, Backend, WebhookTap};
use onair_e2e::harness::{free_tcp_port, JsonProcess, LiveKitServer};
use tokio::time::Instant;

const STREAMER: &str = "alice";
const WAIT: Duration = Duration::from_secs(20);

struct Stack {
    livekit: LiveKitServer,
    tap: WebhookTap,
    backend: Backend,
    key: String,
    _dir: tempfile::TempDir,
}

/// livekit-server → webhook tap → backend (SQLite in a temp dir), with streamer `alice`.
async fn stack() -> Result<Stack> {
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}", dir.path().join("onair.db").display());
    let port = free_tcp_port()?;
    let tap = WebhookTap::start(format!("http://127.0.0.1:{port}/api/livekit/webhook")).await?;
    let livekit = LiveKitServer::start_with(Some(&tap.url())).await?;
    let backend = Backend::start(&livekit.url(), port, &db_url, |_| {}).await?;
    let key = backend.add_streamer(STREAMER).await?;
    Ok(Stack {
        livekit,
        tap,
        backend,
        key,
        _dir: dir,
    })
}

/// `onair live` with a publisher token from the backend; returns once the backend says live.
async fn go_live(s: &Stack) -> Result<JsonProcess> {
    let token = s.backend.publisher_token(&s.key, "Friday jam").await?;
    let publisher = JsonProcess::onair_live_with_token(&token.url, &token.token).await?;
    s.backend.wait_count(STREAMER, WAIT, |c| c.live).await?;
    Ok(publisher)
}

/// A Python viewer with a token from the backend, connected and receiving.
async fn viewer(s: &Stack) -> Result<(JsonProcess, String)> {
    let token = s.backend.viewer_token(STREAMER).await?;
    let mut v = JsonProcess::viewer_with_token(&token.url, &token.token, Duration::from_secs(120))?;
    v.wait_event("connected", WAIT).await?;
    Ok((v, token.identity))
}

/// The creator on air with one viewer counted: (publisher, viewer, viewer identity).
async fn on_air_with_a_viewer(s: &Stack) -> Result<(JsonProcess, JsonProcess, String)> {
    let publisher = go_live(s).await?;
    let (v, identity) = viewer(s).await?;
    s.backend
        .wait_count(STREAMER, WAIT, |c| c.viewers == 1)
        .await?;
    Ok((publisher, v, identity))
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn viewers_are_pushed_as_they_join_and_leave_and_replayed_or_forged_webhooks_change_nothing(
) -> Result<()> {
    let s = stack().await?;
    let mut events = s.backend.events(STREAMER).await?;
    events.wait(WAIT, |c| !c.live).await?;
    let _publisher = go_live(&s).await?;
    events.wait(WAIT, |c| c.live).await?;

    let mut viewers = Vec::new();
    for n in 1..=3 {
        let (v, identity) = viewer(&s).await?;
        let joined_at = Instant::now();
        events.wait(WAIT, |c| c.viewers == n).await?;
        println!(
            "viewer {n} counted {:?} after it connected",
            joined_at.elapsed()
        );
        viewers.push((v, identity));
    }
    for (v, _) in &mut viewers[..2] {
        v.terminate()?;
        v.finish(WAIT).await?;
    }
    events.wait(WAIT, |c| c.viewers == 1).await?;
    assert_eq!(events.live_counts(), vec![0, 1, 2, 3, 2, 1]);
    // The creator is in the room but never counted.
    let listed = s.livekit.participants(STREAMER).await?;
    assert!(listed.iter().any(|i| i == "creator-alice"), "{listed:?}");
    assert_eq!(listed.len(), 2, "{listed:?}");

    // Replays of real webhooks: a viewer who left does not come back, one present is not
    // counted twice.
    for (_, identity) in [&viewers[0], &viewers[2]] {
        let joined = s.tap.find(|e| {
            e["event"] == "participant_joined" && e["participant"]["identity"] == identity.as_str()
        });
        let joined = joined.first().context("the join webhook was recorded")?;
        let status = post_webhook(&s.backend, &joined.body, &joined.authorization).await?;
        assert_eq!(status, 200);
    }
    assert_eq!(s.backend.count(STREAMER).await?.viewers, 1);

    // Forgeries: a tampered body under a real signature, a body signed with another secret,
    // an unsigned one.
    let real = s.tap.find(|e| e["event"] == "participant_joined").remove(0);
    let tampered = real.body.replace(
        real.event["participant"]["sid"].as_str().unwrap(),
        "PA_forged",
    );
    assert_eq!(
        post_webhook(&s.backend, &tampered, &real.authorization).await?,
        401
    );
    let foreign = AccessToken::with_api_key("onair-test", "some-other-secret-of-32-characters")
        .with_sha256(&sha256_b64(&tampered))
        .to_jwt()?;
    assert_eq!(post_webhook(&s.backend, &tampered, &foreign).await?, 401);
    assert_eq!(post_webhook(&s.backend, &tampered, "").await?, 401);
    assert_eq!(s.backend.count(STREAMER).await?.viewers, 1);
    Ok(())
}

fn sha256_b64(body: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body.as_bytes()))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_eleventh_token_request_in_a_minute_is_refused_but_another_address_is_served(
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}", dir.path().join("onair.db").display());
    // No LiveKit server is needed to hand out tokens.
    let unused = free_tcp_port()?;
    let backend = Backend::start(
        &format!("ws://127.0.0.1:{unused}"),
        free_tcp_port()?,
        &db_url,
        |_| {},
    )
    .await?;
    let key = backend.add_streamer(STREAMER).await?;
    let client_from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
    };
    let (first, second) = (client_from([127, 0, 0, 1])?, client_from([127, 0, 0, 2])?);
    let request = |client: &reqwest::Client| {
        client
            .post(backend.url("/api/streams/token"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"title": "limits"}))
            .send()
    };
    let header = |r: &reqwest::Response, name: &str| -> Option<u64> {
        r.headers().get(name)?.to_str().ok()?.parse().ok()
    };
    for n in 1..=10u64 {
        let r = request(&first).await?;
        assert_eq!(r.status(), 200, "request {n}");
        assert_eq!(header(&r, "x-ratelimit-limit"), Some(10));
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some(10 - n));
        assert!(header(&r, "x-ratelimit-reset").is_some_and(|s| s > 0 && s <= 60));
    }
    let refused = request(&first).await?;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "x-ratelimit-remaining"), Some(0));
    let retry_after = header(&refused, "retry-after").context("Retry-After")?;
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = refused.json().await?;
    assert_eq!(body["error"]["kind"], "rate_limited");
    // The viewer-token endpoint has its own allowance.
    let viewer = first
        .post(backend.url("/api/streams/alice/viewer-token"))
        .send()
        .await?;
    assert_eq!(viewer.status(), 409, "offline, not limited");
    assert_eq!(request(&second).await?.status(), 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_backend_counts_viewers_who_joined_while_it_was_down() -> Result<()> {
    let mut s = stack().await?;
    let _publisher = go_live(&s).await?;
    let stream_id = s.backend.count(STREAMER).await?.stream_id;
    s.backend.stop().await?;
    // Their webhooks are lost, as if the backend had been down for good.
    s.tap.set_dropping(true);
    let mut viewers = Vec::new();
    for identity in ["viewer-while-down-1", "viewer-while-down-2"] {
        let mut v = JsonProcess::viewer(&s.livekit, STREAMER, identity, Duration::from_secs(120))?;
        v.wait_event("first_frame", WAIT).await?;
        viewers.push(v);
    }
    s.tap.set_dropping(false);
    let restarted = Instant::now();
    s.backend.restart().await?;
    let count = s
        .backend
        .wait_count(STREAMER, Duration::from_secs(5), |c| c.viewers == 2)
        .await
        .context("the count should be right within the reconciliation interval")?;
    println!("count right {:?} after the restart", restarted.elapsed());
    assert!(count.live);
    assert_eq!(count.stream_id, stream_id, "the same stream goes on");
    ensure!(count.confirmed_at.is_some());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ending_disconnects_viewers_deletes_the_room_and_records_peak_unique_and_watch_time(
) -> Result<()> {
    let s = stack().await?;
    let mut publisher = go_live(&s).await?;
    let (mut a, _) = viewer(&s).await?;
    let (mut b, _) = viewer(&s).await?;
    s.backend
        .wait_count(STREAMER, WAIT, |c| c.viewers == 2)
        .await?;
    let connected_ms = |v: &JsonProcess| -> i64 {
        (v.last_event("connected").unwrap()["t"].as_f64().unwrap() * 1000.0) as i64
    };
    let (a_from, b_from) = (connected_ms(&a), connected_ms(&b));
    // Let b watch a couple of seconds (its own once-a-second reports tell), then leave.
    b.wait_for("2 reports", WAIT, |v| {
        v["event"] == "report" && v["t"].as_f64().unwrap() * 1000.0 > (b_from + 2000) as f64
    })
    .await?;
    b.terminate()?;
    b.finish(WAIT).await?;
    let b_until = (b.seen.last().unwrap()["t"].as_f64().unwrap() * 1000.0) as i64;
    s.backend
        .wait_count(STREAMER, WAIT, |c| c.viewers == 1)
        .await?;
    a.wait_for("a report after b left", WAIT, |v| {
        v["event"] == "report" && v["t"].as_f64().unwrap() * 1000.0 > (b_until + 1000) as f64
    })
    .await?;

    let ended_at = unix_ms();
    let answer = s.backend.end(&s.key).await?;
    a.wait_event("disconnected", Duration::from_secs(5)).await?;
    assert!(s
        .livekit
        .room_client()
        .list_rooms(vec![STREAMER.into()])
        .await?
        .is_empty());
    assert_eq!(answer["room_deleted"], true);
    let record = &answer["stream"];
    assert_eq!(record["peak_viewers"], 2);
    assert_eq!(record["unique_viewers"], 2);
    let expected = (ended_at - a_from) + (b_until - b_from);
    let measured = record["watch_time_ms"].as_i64().unwrap();
    println!("watch time: recorded {measured} ms, seen by the viewers {expected} ms");
    assert!(
        (measured - expected).abs() <= 2000,
        "{measured} vs {expected}"
    );
    assert!(!s.backend.count(STREAMER).await?.live);
    assert_eq!(
        publisher.finish(WAIT).await?,
        3,
        "onair live sees the room deleted"
    );

    let history = s.backend.history(STREAMER).await?;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].watch_time_ms, measured);
    assert_eq!(history[0].end_reason.as_deref(), Some("ended_by_creator"));
    // Ending again is harmless.
    assert!(s.backend.end(&s.key).await?["stream"].is_null());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_creator_who_leaves_ends_the_stream_for_everyone() -> Result<()> {
    let s = stack().await?;
    let (publisher, mut v, _) = on_air_with_a_viewer(&s).await?;
    publisher.terminate()?;
    let left = Instant::now();
    s.backend
        .wait_count(STREAMER, Duration::from_secs(5), |c| !c.live)
        .await?;
    println!("offline {:?} after the creator left", left.elapsed());
    v.wait_event("disconnected", Duration::from_secs(5)).await?;
    let history = s.backend.history(STREAMER).await?;
    assert_eq!(history[0].end_reason.as_deref(), Some("client_initiated"));
    assert_eq!(history[0].peak_viewers, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_subscriber_that_goes_away_is_dropped_at_once() -> Result<()> {
    let s = stack().await?;
    let mut events = s.backend.events(STREAMER).await?;
    events.wait(WAIT, |c| !c.live).await?;
    assert_eq!(s.backend.state().hub.subscribers(), 1);
    drop(events);
    let gone = Instant::now();
    onair_e2e::harness::retry_for(Duration::from_secs(2), Duration::from_millis(5), || async {
        let n = s.backend.state().hub.subscribers();
        ensure!(n == 0, "{n} subscribers");
        Ok(())
    })
    .await?;
    println!(
        "subscription released {:?} after the client went away",
        gone.elapsed()
    );
    drop(s.livekit);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_leave_webhook_is_corrected_by_the_next_reconciliation() -> Result<()> {
    let s = stack().await?;
    let (_publisher, mut v, identity) = on_air_with_a_viewer(&s).await?;
    s.tap.set_dropping(true);
    v.terminate()?;
    v.finish(WAIT).await?;
    s.livekit
        .wait_presence(STREAMER, &identity, false, WAIT)
        .await?;
    let gone = Instant::now();
    // The default interval is 5 s; allow one pass plus the ListParticipants round trip.
    s.backend
        .wait_count(STREAMER, Duration::from_secs(7), |c| {
            c.viewers == 0 && c.live
        })
        .await?;
    println!(
        "lost leave corrected {:?} after the viewer was gone",
        gone.elapsed()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_creator_who_vanishes_without_leaving_ends_the_stream_when_livekit_times_them_out(
) -> Result<()> {
    let s = stack().await?;
    let (publisher, mut v, _) = on_air_with_a_viewer(&s).await?;
    // SIGKILL: no leave message, the server only sees the media stop.
    std::process::Command::new("kill")
        .args(["-KILL", &publisher.pid().context("running")?.to_string()])
        .status()?;
    let killed = Instant::now();
    s.backend
        .wait_count(STREAMER, Duration::from_secs(45), |c| !c.live)
        .await?;
    println!(
        "offline {:?} after the creator's process died",
        killed.elapsed()
    );
    v.wait_event("disconnected", Duration::from_secs(5)).await?;
    let history = s.backend.history(STREAMER).await?;
    let reason = history[0].end_reason.clone().unwrap_or_default();
    assert!(
        ["connection_timeout", "publisher_gone", "room_finished"].contains(&reason.as_str()),
        "{reason}"
    );
    println!("ended with reason {reason}");
    Ok(())
}

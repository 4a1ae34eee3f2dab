//! Backend benchmarks against the real `onair-server` binary (release build recommended):
//!   1. webhook received → viewer count delivered to an SSE subscriber, p50/p99;
//!   2. token endpoint requests per second with wrk (limit raised by config);
//!   3. resident memory with 10,000 idle SSE subscribers;
//!   4. pay-per-view: ticket check → viewer token (a paid ticket bound and reserved), p50/p99;
//!   5. chat: a message posted → delivered to every one of 1,000 chat subscribers, p50/p99;
//!      messages per second one backend takes in and fans out to them; RSS per subscriber.
//!
//! `cargo bench -p onair-server --bench backend`; ONAIR_BENCH_WEBHOOKS (default 1000),
//! ONAIR_BENCH_SUBSCRIBERS (default 10000), ONAIR_BENCH_WRK_SECS (default 10),
//! ONAIR_BENCH_CHATTERS (default 1000), ONAIR_BENCH_CHAT_MESSAGES (default 200) change sizes.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use backon::{ConstantBuilder, Retryable};
use base64::Engine;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LK_KEY: &str = "bench-key";
const LK_SECRET: &str = "bench-secret-of-at-least-thirty-two-characters";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    child: Child,
    port: u16,
    key: String,
    /// Streamer `ppv`'s key: its stream is pay-per-view.
    ppv_key: String,
    /// Streamer `chat`'s key: its chat is measured.
    chat_key: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start_server() -> Result<Server> {
    let dir = tempfile::tempdir()?;
    let bin = env!("CARGO_BIN_EXE_onair-server");
    let port = free_port()?;
    let dead_livekit = free_port()?;
    let envs = [
        (
            "ONAIR_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bench.db").display()),
        ),
        ("ONAIR_KEY_SECRET", "bench".into()),
        ("LIVEKIT_API_KEY", LK_KEY.into()),
        ("LIVEKIT_API_SECRET", LK_SECRET.into()),
        ("LIVEKIT_URL", format!("ws://127.0.0.1:{dead_livekit}")),
        ("ONAIR_RATE_LIMIT", "1000000000".into()),
        ("ONAIR_CHAT_RATE_LIMIT", "1000000000".into()),
        ("ONAIR_RECONCILE_SECS", "3600".into()),
        ("ONAIR_LOG", "warn".into()),
    ];
    let add = |name: &str| -> Result<String> {
        let out = Command::new(bin)
            .args(["streamer", "add", name])
            .envs(envs.clone())
            .output()?;
        if !out.status.success() {
            bail!("streamer add: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    };
    let key = add("bench")?;
    let ppv_key = add("ppv")?;
    let chat_key = add("chat")?;
    let child = Command::new(bin)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .envs(envs)
        .stdout(Stdio::null())
        .spawn()?;
    let server = Server {
        child,
        port,
        key,
        ppv_key,
        chat_key,
        _dir: dir,
    };
    let health = format!("http://127.0.0.1:{port}/api/health");
    (|| reqwest::get(&health))
        .retry(
            ConstantBuilder::new()
                .with_delay(Duration::from_millis(20))
                .with_max_times(500),
        )
        .await
        .context("onair-server did not answer within 10 s")?;
    Ok(server)
}

fn sign(body: &str) -> Result<String> {
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body));
    Ok(
        livekit_api::access_token::AccessToken::with_api_key(LK_KEY, LK_SECRET)
            .with_sha256(&hash)
            .to_jwt()?,
    )
}

fn participant_event(kind: &str, n: usize, identity: &str) -> String {
    participant_event_in("bench", kind, n, identity)
}

fn participant_event_in(room: &str, kind: &str, n: usize, identity: &str) -> String {
    serde_json::json!({
        "event": kind,
        "id": format!("EV_{room}_{kind}_{n}"),
        "createdAt": (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).to_string(),
        "room": {"name": room},
        "participant": {"sid": format!("PA_{n}"), "identity": identity, "state": "ACTIVE"}
    })
    .to_string()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn webhook_to_sse(server: &Server, n: usize) -> Result<()> {
    let base = format!("http://127.0.0.1:{}", server.port);
    let http = reqwest::Client::new();
    let post = |body: String| {
        let http = http.clone();
        let url = format!("{base}/api/livekit/webhook");
        async move {
            let auth = sign(&body)?;
            let r = http
                .post(url)
                .header("authorization", auth)
                .body(body)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "webhook answered {}", r.status());
            Ok::<_, anyhow::Error>(())
        }
    };
    post(participant_event("participant_joined", 0, "creator-bench")).await?;
    let mut events = http
        .get(format!("{base}/api/streams/bench/viewers/events"))
        .send()
        .await?
        .bytes_stream()
        .eventsource();
    let mut next_count = async || -> Result<serde_json::Value> {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(5), events.next())
                .await
                .context("no event within 5 s")?
                .context("stream ended")??;
            if event.event == "viewers" {
                return Ok(serde_json::from_str(&event.data)?);
            }
        }
    };
    // Until the stream is live.
    while !next_count().await?["live"].as_bool().unwrap_or(false) {}
    let mut latencies = Vec::with_capacity(n);
    for i in 1..=n {
        // Alternate a viewer joining and leaving: every webhook changes the count.
        let (kind, expected) = if i % 2 == 1 {
            ("participant_joined", 1)
        } else {
            ("participant_left", 0)
        };
        let sid = i.div_ceil(2);
        let body = participant_event(kind, sid, &format!("viewer-{sid}"));
        let body = body.replace(&format!("EV_bench_{kind}_{sid}"), &format!("EV_{i}"));
        let auth = sign(&body)?;
        let sent = Instant::now();
        let request = http
            .post(format!("{base}/api/livekit/webhook"))
            .header("authorization", auth)
            .body(body)
            .send();
        let (response, count) = tokio::join!(request, async {
            loop {
                let count = next_count().await?;
                if count["viewers"] == expected {
                    return Ok::<_, anyhow::Error>(sent.elapsed());
                }
            }
        });
        response?.error_for_status()?;
        latencies.push(count?.as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "webhook -> SSE subscriber: n={n} p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    Ok(())
}

fn token_rps(server: &Server, secs: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("token.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{{\"title\": \"bench\"}}'\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.headers[\"Authorization\"] = \"Bearer {}\"\n",
            server.key
        ),
    )?;
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{secs}s"), "--latency", "-s"])
        .arg(&script)
        .arg(format!(
            "http://127.0.0.1:{}/api/streams/token",
            server.port
        ))
        .output()
        .context("run wrk (apt-get install wrk; scripts/setup.sh installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| l.trim().to_owned())
            .unwrap_or_default()
    };
    if text.contains("Non-2xx") {
        bail!("wrk saw errors:\n{text}");
    }
    println!(
        "token endpoint (wrk -t2 -c64 {secs}s): {} | {} | {}",
        line("Requests/sec:"),
        line("50%"),
        line("99%")
    );
    Ok(())
}

/// The creator of `room` joins it (as LiveKit's webhook would say); waits until it is live.
async fn creator_joined(http: &reqwest::Client, base: &str, room: &str) -> Result<()> {
    let body = participant_event_in(room, "participant_joined", 0, &format!("creator-{room}"));
    http.post(format!("{base}/api/livekit/webhook"))
        .header("authorization", sign(&body)?)
        .body(body)
        .send()
        .await?
        .error_for_status()?;
    let status = format!("{base}/api/streams/{room}");
    (|| async {
        let s: serde_json::Value = http.get(&status).send().await?.json().await?;
        anyhow::ensure!(s["live"] == true, "not live yet");
        Ok(())
    })
    .retry(
        ConstantBuilder::new()
            .with_delay(Duration::from_millis(20))
            .with_max_times(250),
    )
    .await?;
    Ok(())
}

/// Streamer `ppv` live at 4.99 (development payments): each round buys a ticket (paid at
/// once), then times the viewer-token request that checks it, binds it and reserves it.
async fn ticket_to_token(server: &Server, n: usize) -> Result<()> {
    let base = format!("http://127.0.0.1:{}", server.port);
    let http = reqwest::Client::new();
    http.post(format!("{base}/api/streams/token"))
        .bearer_auth(&server.ppv_key)
        .json(&serde_json::json!({"title": "bench ppv", "ppv_price": 4.99}))
        .send()
        .await?
        .error_for_status()?;
    creator_joined(&http, &base, "ppv").await?;
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let ticket: serde_json::Value = http
            .post(format!("{base}/api/streams/ppv/tickets"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let started = Instant::now();
        let response = http
            .post(format!("{base}/api/streams/ppv/viewer-token"))
            .json(&serde_json::json!({"ticket": ticket["id"]}))
            .send()
            .await?;
        let ok = response.status().is_success();
        response.bytes().await?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(ok, "viewer token with a paid ticket refused");
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "ticket check -> viewer token (paid ticket, bound and reserved): n={n} p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    Ok(())
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn idle_subscribers(server: &Server, n: usize) -> Result<()> {
    let before = rss_kb(server.child.id());
    let request = "GET /api/streams/bench/viewers/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                   Accept: text/event-stream\r\n\r\n"
        .to_owned();
    let mut connections = Vec::with_capacity(n);
    let started = Instant::now();
    for chunk in 0..n.div_ceil(500) {
        let batch = (chunk * 500..((chunk + 1) * 500).min(n)).map(|_| {
            let request = request.clone();
            let port = server.port;
            async move {
                let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
                s.write_all(request.as_bytes()).await?;
                // Until the first event has arrived: the subscription exists.
                let mut buf = vec![0u8; 2048];
                let mut got = Vec::new();
                while !String::from_utf8_lossy(&got).contains("event: viewers") {
                    let k = s.read(&mut buf).await?;
                    anyhow::ensure!(k > 0, "closed");
                    got.extend_from_slice(&buf[..k]);
                }
                Ok::<_, anyhow::Error>(s)
            }
        });
        for c in futures::future::join_all(batch).await {
            connections.push(c?);
        }
    }
    let after = rss_kb(server.child.id());
    println!(
        "{n} idle SSE subscribers (connected in {:.1} s): server RSS {:.1} MB (before {:.1} MB, {:.1} KB per subscriber)",
        started.elapsed().as_secs_f64(),
        after as f64 / 1024.0,
        before as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / n as f64
    );
    drop(connections);
    Ok(())
}

/// One chat subscriber: reads its event stream and reports each message's id as it arrives.
async fn chat_subscriber(
    http: reqwest::Client,
    url: String,
    arrived: tokio::sync::mpsc::UnboundedSender<(i64, Instant)>,
    ready: tokio::sync::mpsc::UnboundedSender<()>,
) -> Result<()> {
    let response = http
        .get(&url)
        .header("accept", "text/event-stream")
        .send()
        .await?
        .error_for_status()?;
    let _ = ready.send(());
    let mut events = response.bytes_stream().eventsource();
    while let Some(event) = events.next().await {
        let event = event?;
        if event.event == "message" {
            if let Ok(id) = event.id.parse() {
                let _ = arrived.send((id, Instant::now()));
            }
        }
    }
    Ok(())
}

/// Posts one chat message as a new browser (no cookie: a device of its own, so the per-device
/// flood limit is not what is measured); answers its id.
async fn post_chat(http: &reqwest::Client, url: &str, n: usize) -> Result<i64> {
    let body: serde_json::Value = http
        .post(url)
        .json(&serde_json::json!({"name": format!("fan_{n}"), "text": format!("message {n} from the benchmark")}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    body["id"].as_i64().context("message id")
}

/// Streamer `chat` live with `subscribers` open chats: latency from posting a message to its
/// arrival at every subscriber (one message at a time); then messages per second with posts
/// from 16 concurrent browsers, counted as delivered once every subscriber has them; and the
/// server's resident memory per subscriber.
async fn chat_fan_out(server: &Server, subscribers: usize, messages: usize) -> Result<()> {
    let base = format!("http://127.0.0.1:{}", server.port);
    let http = reqwest::Client::new();
    http.post(format!("{base}/api/streams/token"))
        .bearer_auth(&server.chat_key)
        .json(&serde_json::json!({"title": "bench chat"}))
        .send()
        .await?
        .error_for_status()?;
    creator_joined(&http, &base, "chat").await?;
    let post_url = format!("{base}/api/streams/chat/chat");
    let events_url = format!("{base}/api/streams/chat/chat/events");

    let before = rss_kb(server.child.id());
    let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel();
    let (ready_tx, mut ready) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..subscribers {
        // A client each: one connection per subscriber, as browsers have.
        tasks.spawn(chat_subscriber(
            reqwest::Client::new(),
            events_url.clone(),
            arrived_tx.clone(),
            ready_tx.clone(),
        ));
    }
    drop(ready_tx);
    for _ in 0..subscribers {
        tokio::time::timeout(Duration::from_secs(60), ready.recv())
            .await
            .context("subscribers did not connect within 60 s")?
            .context("a subscriber failed")?;
    }
    let connected = started.elapsed();
    let after = rss_kb(server.child.id());

    // Latency: one message at a time, each until all subscribers have it.
    let mut each = Vec::with_capacity(messages * subscribers);
    let mut last = Vec::with_capacity(messages);
    for n in 0..messages {
        let sent = Instant::now();
        let id = post_chat(&http, &post_url, n).await?;
        let mut got = 0;
        while got < subscribers {
            let (arrived_id, at) = tokio::time::timeout(Duration::from_secs(10), arrived.recv())
                .await
                .context("a message did not reach every subscriber within 10 s")?
                .context("subscribers ended")?;
            if arrived_id == id {
                got += 1;
                each.push(at.duration_since(sent).as_secs_f64() * 1000.0);
                if got == subscribers {
                    last.push(at.duration_since(sent).as_secs_f64() * 1000.0);
                }
            }
        }
    }
    each.sort_by(f64::total_cmp);
    last.sort_by(f64::total_cmp);

    // Throughput: 16 posting browsers for a while; delivered = in every subscriber.
    let burst = messages * 5;
    let posted = Instant::now();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut posters = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (http, url, next) = (http.clone(), post_url.clone(), next.clone());
        posters.spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= burst {
                    return Ok::<_, anyhow::Error>(());
                }
                post_chat(&http, &url, messages + n).await?;
            }
        });
    }
    let mut deliveries = 0;
    while deliveries < burst * subscribers {
        tokio::time::timeout(Duration::from_secs(30), arrived.recv())
            .await
            .context("the burst was not delivered within 30 s of the last delivery")?
            .context("subscribers ended")?;
        deliveries += 1;
    }
    let delivered = posted.elapsed();
    while let Some(done) = posters.join_next().await {
        done??;
    }
    tasks.abort_all();

    println!(
        "chat: message posted -> delivered, {subscribers} subscribers, n={messages} messages: each delivery p50 {:.2} ms  p99 {:.2} ms; last subscriber p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&each, 0.5),
        percentile(&each, 0.99),
        percentile(&last, 0.5),
        percentile(&last, 0.99),
        last[last.len() - 1]
    );
    println!(
        "chat: {burst} messages from 16 concurrent posters delivered to all {subscribers} subscribers in {:.2} s: {:.0} messages/s ({:.0} deliveries/s)",
        delivered.as_secs_f64(),
        burst as f64 / delivered.as_secs_f64(),
        (burst * subscribers) as f64 / delivered.as_secs_f64()
    );
    println!(
        "chat: {subscribers} chat subscribers (connected in {:.1} s): server RSS {:.1} MB (before {:.1} MB, {:.1} KB per subscriber)",
        connected.as_secs_f64(),
        after as f64 / 1024.0,
        before as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / subscribers as f64
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let subscribers = env_usize("ONAIR_BENCH_SUBSCRIBERS", 10_000);
    rlimit::increase_nofile_limit((subscribers + 1024) as u64)?;
    let server = start_server().await?;
    webhook_to_sse(&server, env_usize("ONAIR_BENCH_WEBHOOKS", 1000)).await?;
    ticket_to_token(&server, env_usize("ONAIR_BENCH_TICKETS", 1000)).await?;
    token_rps(&server, env_usize("ONAIR_BENCH_WRK_SECS", 10))?;
    idle_subscribers(&server, subscribers).await?;
    chat_fan_out(
        &server,
        env_usize("ONAIR_BENCH_CHATTERS", 1000),
        env_usize("ONAIR_BENCH_CHAT_MESSAGES", 200),
    )
    .await?;
    Ok(())
}

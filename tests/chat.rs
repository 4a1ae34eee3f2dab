//! The chat's moderation reaching LiveKit, end to end: the real livekit-server and its
//! webhooks, the backend trusting a proxy at 127.0.0.1 (so each viewer's address comes from
//! `X-Forwarded-For`), `onair live` as the creator and Python viewers joining with the
//! tokens viewers' browsers were given.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use onair_e2e::backend::Stack;
use onair_e2e::chatter::Chatter;
use onair_e2e::harness::JsonProcess;
use serde_json::{json, Value};

const STREAMER: &str = "dana";
const WATCH: Duration = Duration::from_secs(60);

/// Joins with the browser's token as a Python viewer; answers the viewer and its identity
/// once LiveKit lists it.
async fn watch(stack: &Stack, browser: &Chatter) -> Result<(JsonProcess, String, String)> {
    let answer = browser.viewer_token(stack).await?;
    ensure!(answer.status == 200, "viewer token: {answer:?}");
    let token = answer.body;
    let identity = token["identity"].as_str().context("identity")?.to_owned();
    let jwt = token["token"].as_str().context("token")?.to_owned();
    let viewer = JsonProcess::viewer_with_token(&stack.livekit.url(), &jwt, WATCH)?;
    stack
        .livekit
        .wait_presence(STREAMER, &identity, true, Duration::from_secs(20))
        .await?;
    Ok((viewer, identity, jwt))
}

async fn ban(stack: &Stack, message_id: i64) -> Result<Value> {
    let response = reqwest::Client::new()
        .post(stack.backend.url("/api/chat/bans"))
        .bearer_auth(&stack.key)
        .json(&json!({"message_id": message_id, "reason": "spam"}))
        .send()
        .await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await?;
    ensure!(status == 201, "ban: {status} {body}");
    Ok(body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ban_removes_the_viewer_from_the_stream_and_an_older_token_cannot_bring_them_back(
) -> Result<()> {
    let stack = Stack::start_with(STREAMER, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.rate_limit_per_minute = 1000.try_into().unwrap();
    })
    .await?;
    let _creator = stack.go_live(STREAMER, "Moderated").await?;

    let troll = Chatter::at("203.0.113.66", STREAMER);
    let (_viewer, identity, old_token) = watch(&stack, &troll).await?;
    let bystander = Chatter::at("203.0.113.7", STREAMER);
    let (_other, other_identity, _) = watch(&stack, &bystander).await?;
    let message = troll.say(&stack, "troll", "buy followers").await?;

    let started = Instant::now();
    let outcome = ban(&stack, message).await?;
    ensure!(outcome["removed_viewers"] == 1, "{outcome}");
    let gone = stack
        .livekit
        .wait_presence(STREAMER, &identity, false, Duration::from_secs(1))
        .await
        .context("the banned viewer still watches a second after the ban")?;
    println!(
        "banned viewer gone from ListParticipants {:?} after the ban request ({:?} after its answer's start)",
        gone,
        started.elapsed()
    );
    ensure!(
        stack
            .livekit
            .participants(STREAMER)
            .await?
            .contains(&other_identity),
        "the viewer next to them was removed too"
    );

    // A fresh cookie from the same address gets no token.
    let cleared = Chatter::at("203.0.113.66", STREAMER);
    let answer = cleared.viewer_token(&stack).await?;
    ensure!(
        answer.status == 403 && answer.kind() == Some("banned"),
        "{answer:?}"
    );

    // The token issued before the ban still lets LiveKit admit them: the join webhook throws
    // them out again, and LiveKit tells the viewer why.
    let mut rejoin = JsonProcess::viewer_with_token(&stack.livekit.url(), &old_token, WATCH)?;
    rejoin
        .wait_event("connected", Duration::from_secs(20))
        .await?;
    let joined = Instant::now();
    let disconnected = rejoin
        .wait_event("disconnected", Duration::from_secs(5))
        .await
        .context("a rejoin with the old token was not removed")?;
    println!(
        "rejoin with the old token removed {:?} after it connected ({})",
        joined.elapsed(),
        disconnected["reason"]
    );
    ensure!(
        !stack
            .livekit
            .participants(STREAMER)
            .await?
            .contains(&identity),
        "the banned identity is still listed"
    );
    Ok(())
}

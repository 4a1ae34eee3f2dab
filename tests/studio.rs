//! The desktop studio end to end: the real app under WebDriver (tauri-driver, Xvfb), the real
//! backend, the real livekit-server, a real Python viewer, GNOME Keyring on a private session
//! bus. Screenshots land in `.onair/screenshots/`.

use std::time::Duration;

use anyhow::{Context, Result};
use onair_e2e::backend::Stack;
use onair_e2e::desktop::{keyring_has_key, Desktop};
use onair_e2e::harness::{self, JsonProcess};
use serde_json::json;

const CREATOR: &str = "creator-studio";

/// WebKit without compositing (the app's choice where no GPU exists) paints a still page only
/// when something changes, and WebKitWebDriver's screenshot then waits forever: the tests
/// keep compositing on.
const ENV: &[(&str, &str)] = &[("WEBKIT_DISABLE_COMPOSITING_MODE", "0")];

fn shots() -> std::path::PathBuf {
    harness::repo_root().join(".onair/screenshots")
}

#[tokio::test]
async fn sign_in_survives_a_restart_and_sign_out_removes_the_key_from_the_keyring() -> Result<()> {
    let stack = Stack::start("studio").await?;
    let url = stack.backend.url("");
    let url = url.trim_end_matches('/');
    let mut desktop = Desktop::start(ENV).await?;
    desktop.launch().await?;
    desktop.screenshot(&shots(), "studio-signed-out").await?;
    // A wrong key is refused and nothing is kept.
    desktop.type_into("#backend-url", url).await?;
    desktop.type_into("#api-key", "onair_wrong").await?;
    desktop.click("#sign-in").await?;
    desktop
        .wait_js(
            "the auth banner",
            Duration::from_secs(10),
            "return document.getElementById('banner').dataset.kind === 'auth' && !document.getElementById('banner').hidden",
        )
        .await?;
    assert_eq!(keyring_has_key(url)?, None);

    desktop.sign_in(url, &stack.key).await?;
    assert_eq!(keyring_has_key(url)?.as_deref(), Some(stack.key.as_str()));
    assert!(desktop.text("#who-name").await?.starts_with("studio"));

    // Restart: still signed in, from the keyring.
    desktop.close().await?;
    desktop.launch().await?;
    desktop
        .wait_js(
            "the studio after a restart",
            Duration::from_secs(10),
            "return !document.getElementById('studio').hidden",
        )
        .await?;
    desktop.screenshot(&shots(), "studio-idle").await?;

    desktop.click("#sign-out").await?;
    desktop
        .wait_js(
            "the sign-in form",
            Duration::from_secs(10),
            "return !document.getElementById('signin').hidden",
        )
        .await?;
    assert_eq!(keyring_has_key(url)?, None);
    desktop.close().await?;
    Ok(())
}

#[tokio::test]
async fn go_live_shows_viewers_and_the_timeline_and_every_end_path_leaves_the_server() -> Result<()>
{
    let stack = Stack::start("studio").await?;
    let url = stack.backend.url("");
    let url = url.trim_end_matches('/').to_owned();
    let mut desktop = Desktop::start(ENV).await?;
    desktop.launch().await?;
    desktop.sign_in(&url, &stack.key).await?;

    // Invalid fields are refused inline before anything is sent.
    desktop.type_into("#title", &"x".repeat(101)).await?;
    desktop.type_into("#price", "1000").await?;
    desktop
        .wait_js(
            "inline errors",
            Duration::from_secs(5),
            "return document.getElementById('title-error').textContent !== '' && \
             document.getElementById('ppv_price-error').textContent !== '' && \
             document.getElementById('go-live').disabled",
        )
        .await?;
    desktop.click("#go-live").await.ok();
    assert!(
        stack.backend.history("studio").await?.is_empty(),
        "no stream was started"
    );
    assert_eq!(
        desktop.attr("#phase", "data-phase").await?.as_deref(),
        Some("offline")
    );

    // Test pattern + tone, "Launch day", Go Live.
    desktop.type_into("#title", "Launch day").await?;
    desktop.type_into("#price", "").await?;
    desktop
        .client()
        .find(fantoccini::Locator::Css("#video-select"))
        .await?
        .select_by_value("test_pattern")
        .await?;
    desktop
        .client()
        .find(fantoccini::Locator::Css("#audio-select"))
        .await?
        .select_by_value("tone")
        .await?;
    desktop
        .wait_js(
            "Go Live enabled",
            Duration::from_secs(5),
            "return !document.getElementById('go-live').disabled",
        )
        .await?;
    // The meter shows the tone before going live: 440 Hz at −12 dBFS peak is −15 dBFS RMS.
    desktop
        .wait_js(
            "the meter at the tone's level",
            Duration::from_secs(5),
            "const r = Number(document.getElementById('mic-level').dataset.rms); \
             return r > -16 && r < -14",
        )
        .await?;
    let tray = desktop.invoke("tray_state", json!({})).await?;
    assert_eq!(
        (
            tray["go_live_enabled"].as_bool(),
            tray["end_enabled"].as_bool(),
            tray["status"].as_str(),
            tray["icon"].as_str()
        ),
        (Some(true), Some(false), Some("Offline"), Some("idle")),
        "{tray}"
    );
    desktop.click("#go-live").await?;
    desktop.wait_phase("live", Duration::from_secs(20)).await?;
    let timeline = desktop.text("#timeline").await?;
    for step in ["token", "capture", "connect", "publish"] {
        assert!(timeline.contains(step), "{timeline}");
    }
    stack
        .livekit
        .wait_presence("studio", CREATOR, true, Duration::from_secs(5))
        .await?;
    let tray = desktop.invoke("tray_state", json!({})).await?;
    assert_eq!(tray["end_enabled"], true, "{tray}");
    assert_eq!(tray["go_live_enabled"], false, "{tray}");
    assert_eq!(tray["icon"], "live", "{tray}");
    assert!(
        tray["status"]
            .as_str()
            .unwrap()
            .starts_with("Live · 0 viewers"),
        "{tray}"
    );

    // A viewer joins: the window says 1 within 1 s of the viewer being connected.
    let token = stack.backend.viewer_token("studio").await?;
    let mut viewer =
        JsonProcess::viewer_with_token(&token.url, &token.token, Duration::from_secs(60))?;
    viewer
        .wait_event("connected", Duration::from_secs(15))
        .await?;
    let shown = desktop
        .wait_js(
            "1 viewer",
            Duration::from_secs(1),
            "return document.getElementById('viewers').dataset.count === '1'",
        )
        .await?;
    println!(
        "viewer connected → window shows 1 viewer: {} ms",
        shown.as_millis()
    );
    viewer
        .wait_event("first_frame", Duration::from_secs(10))
        .await?;
    // The timeline goes on past publishing: frames leaving, then the first viewer.
    desktop
        .wait_js(
            "the timeline's first frames and first viewer",
            Duration::from_secs(2),
            "const t = document.getElementById('timeline').textContent; \
             return t.includes('first frames sent') && t.includes('first viewer')",
        )
        .await?;
    println!("timeline: {}", desktop.text("#timeline").await?);
    desktop
        .wait_js(
            "stats",
            Duration::from_secs(5),
            "return document.getElementById('stats').textContent.includes('1280×720')",
        )
        .await?;
    desktop.screenshot(&shots(), "studio-live").await?;
    let tray = desktop.invoke("tray_state", json!({})).await?;
    assert!(
        tray["status"]
            .as_str()
            .unwrap()
            .starts_with("Live · 1 viewer ·"),
        "{tray}"
    );

    // The tray's End Stream: the same path as the button.
    desktop
        .invoke("tray_click", json!({ "item": "end_stream" }))
        .await?;
    desktop
        .wait_phase("offline", Duration::from_secs(10))
        .await?;
    desktop
        .wait_js(
            "the teardown report",
            Duration::from_secs(5),
            "const c = document.getElementById('report-card'); \
             return !c.hidden && c.dataset.allOk === 'true' && c.dataset.participantGone === 'true'",
        )
        .await?;
    assert!(stack
        .livekit
        .participants("studio")
        .await
        .unwrap_or_default()
        .is_empty());
    viewer
        .wait_event("disconnected", Duration::from_secs(5))
        .await?;
    desktop.screenshot(&shots(), "studio-ended").await?;
    let tray = desktop.invoke("tray_state", json!({})).await?;
    assert_eq!(
        (tray["status"].as_str(), tray["go_live_enabled"].as_bool()),
        (Some("Offline"), Some(true)),
        "{tray}"
    );

    // The window's End Stream, this time with a pay-per-view price: the stream is paid (a
    // viewer without a ticket gets 402 with the price).
    desktop.type_into("#price", "4.99").await?;
    desktop.click("#go-live").await?;
    desktop.wait_phase("live", Duration::from_secs(20)).await?;
    let status: serde_json::Value = reqwest::get(stack.backend.url("/api/streams/studio"))
        .await?
        .json()
        .await?;
    assert_eq!(status["stream"]["ppv_price_cents"], 499, "{status}");
    let refused = reqwest::Client::new()
        .post(stack.backend.url("/api/streams/studio/viewer-token"))
        .send()
        .await?;
    assert_eq!(refused.status().as_u16(), 402);
    // Two tickets sold (the stack's backend takes development payments: paid at once).
    for _ in 0..2 {
        let bought = reqwest::Client::new()
            .post(stack.backend.url("/api/streams/studio/tickets"))
            .send()
            .await?;
        assert_eq!(bought.status().as_u16(), 201);
    }
    desktop.click("#end-stream").await?;
    desktop
        .wait_phase("offline", Duration::from_secs(10))
        .await?;
    assert_eq!(
        desktop
            .attr("#report-card", "data-all-ok")
            .await?
            .as_deref(),
        Some("true")
    );
    stack
        .livekit
        .wait_presence("studio", CREATOR, false, Duration::from_secs(2))
        .await?;
    // After End the window shows what the stream earned.
    desktop
        .wait_js(
            "the earnings",
            Duration::from_secs(5),
            "const c = document.getElementById('earnings-card'); \
             return !c.hidden && document.getElementById('earnings').dataset.totalCents === '998'",
        )
        .await?;
    let latest = desktop.text("#earnings-latest").await?;
    assert!(latest.contains("from 2 tickets"), "{latest}");
    desktop.screenshot(&shots(), "studio-earnings").await?;

    // SIGTERM while live: the server sees the creator leave within 2 s, the report is logged.
    desktop.click("#go-live").await?;
    desktop.wait_phase("live", Duration::from_secs(20)).await?;
    stack
        .livekit
        .wait_presence("studio", CREATOR, true, Duration::from_secs(5))
        .await?;
    let pids = desktop.pids();
    assert_eq!(pids.len(), 1, "{pids:?}");
    std::process::Command::new("kill")
        .args(["-TERM", &pids[0].to_string()])
        .status()?;
    ended_before_exit(&mut desktop, &stack, "SIGTERM", "teardown report").await
}

/// After `how` (SIGTERM, Quit) while live: the server sees the creator leave within 2 s, the
/// app exits, and its log has `logged` and the report.
async fn ended_before_exit(
    desktop: &mut Desktop,
    stack: &Stack,
    how: &str,
    logged: &str,
) -> Result<()> {
    let gone = stack
        .livekit
        .wait_presence("studio", CREATOR, false, Duration::from_secs(2))
        .await?;
    println!(
        "{how} → creator gone from the server: {} ms",
        gone.as_millis()
    );
    harness::retry_for(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            anyhow::ensure!(desktop.pids().is_empty(), "app still running");
            Ok(())
        },
    )
    .await?;
    let log = desktop.log();
    assert!(log.contains(logged), "{log}");
    assert!(log.contains("stream ended before exit"), "{log}");
    desktop.client.take();
    Ok(())
}

#[tokio::test]
async fn a_second_start_brings_back_the_window_and_quit_in_the_tray_ends_the_stream_first(
) -> Result<()> {
    let stack = Stack::start("studio").await?;
    let url = stack.backend.url("");
    let url = url.trim_end_matches('/').to_owned();
    let mut desktop = Desktop::start(ENV).await?;
    desktop.launch().await?;
    desktop.sign_in(&url, &stack.key).await?;
    desktop.click("#go-live").await?;
    desktop.wait_phase("live", Duration::from_secs(20)).await?;
    stack
        .livekit
        .wait_presence("studio", CREATOR, true, Duration::from_secs(5))
        .await?;

    // The window closed, OnAir in the tray; starting it again shows the running one's window
    // and the second process leaves at once, the stream untouched.
    desktop.close_window().await?;
    let started = std::time::Instant::now();
    let status = desktop.start_again(Duration::from_secs(10)).await?;
    println!("second start exited in {:?}: {status}", started.elapsed());
    assert!(status.success(), "{status}");
    harness::retry_for(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            anyhow::ensure!(desktop.windows_titled("OnAir")? == 1, "no window yet");
            Ok(())
        },
    )
    .await?;
    harness::retry_for(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            anyhow::ensure!(desktop.log().contains("OnAir started again"), "not logged");
            Ok(())
        },
    )
    .await
    .with_context(|| desktop.log())?;
    assert_eq!(desktop.pids().len(), 1, "{:?}", desktop.pids());
    assert!(stack
        .livekit
        .participants("studio")
        .await?
        .contains(&CREATOR.to_owned()));

    // WebDriver follows the new window; Quit in the tray ends the stream, then the app.
    let client = desktop.client();
    let handles = client.windows().await?;
    client
        .switch_to_window(handles.last().context("a window")?.clone())
        .await?;
    desktop
        .wait_js(
            "the window shows live",
            Duration::from_secs(10),
            "return document.getElementById('phase')?.dataset.phase === 'live'",
        )
        .await?;
    let _ = desktop
        .invoke("tray_click", json!({ "item": "quit" }))
        .await;
    ended_before_exit(&mut desktop, &stack, "Quit", "Quit: ending any live stream").await
}

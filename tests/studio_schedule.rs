//! The studio's Schedule view end to end: the real app under WebDriver (tauri-driver, Xvfb),
//! the real backend and livekit-server. The creator plans, changes and calls off streams in
//! the window; the tray names the next one; Go Live takes over the stream scheduled now.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use chrono::{FixedOffset, TimeZone};
use onair_e2e::backend::Stack;
use onair_e2e::desktop::Desktop;
use onair_e2e::harness;

const STREAMER: &str = "studio";
/// The app runs in Tokyo's time zone (no daylight saving time: always UTC+9), whatever this
/// machine's is, so the form's local time is really converted.
const ENV: &[(&str, &str)] = &[
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "0"),
    ("TZ", "Asia/Tokyo"),
];

/// `ms` as a `datetime-local` input holds it in Tokyo.
fn local_input(ms: i64) -> String {
    FixedOffset::east_opt(9 * 3600)
        .expect("a valid offset")
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// Fills the schedule form (the date through the input's value: typing into a
/// `datetime-local` field differs between engines).
async fn fill(
    desktop: &Desktop,
    title: &str,
    start: &str,
    minutes: &str,
    price: &str,
) -> Result<()> {
    let script = format!(
        "const set = (id, v) => {{ const el = document.getElementById(id); el.value = v; \
         el.dispatchEvent(new Event('input', {{bubbles: true}})); }}; \
         set('schedule-title', {title:?}); set('schedule-start', {start:?}); \
         set('schedule-duration', {minutes:?}); set('schedule-price', {price:?}); return true;"
    );
    desktop
        .wait_js("the form filled", Duration::from_secs(2), &script)
        .await?;
    Ok(())
}

#[tokio::test]
async fn the_studio_plans_changes_and_cancels_streams_the_tray_names_the_next_and_go_live_takes_it_over(
) -> Result<()> {
    let stack = Stack::start(STREAMER).await?;
    let url = stack.backend.url("");
    let url = url.trim_end_matches('/').to_owned();
    let mut desktop = Desktop::start(ENV).await?;
    desktop.launch().await?;
    desktop.sign_in(&url, &stack.key).await?;
    let now = onair_server::live::now_ms();

    // A start in the past is refused beside its field; nothing reaches the backend.
    fill(
        &desktop,
        "Too late",
        &local_input(now - 3_600_000),
        "60",
        "",
    )
    .await?;
    desktop.click("#schedule-save").await?;
    desktop
        .wait_js(
            "the start refused",
            Duration::from_secs(5),
            "return document.getElementById('schedule-starts_at-error').textContent.length > 0",
        )
        .await?;
    ensure!(
        stack.client.schedule().await?.is_empty(),
        "something was stored"
    );

    // Ten minutes ahead: listed, and Go Live would take it over.
    fill(
        &desktop,
        "Friday jam",
        &local_input(now + 10 * 60_000),
        "90",
        "4.99",
    )
    .await?;
    desktop.click("#schedule-save").await?;
    desktop
        .wait_js(
            "the stream listed",
            Duration::from_secs(5),
            "return document.querySelectorAll('#schedule-upcoming li').length === 1 && \
             document.getElementById('schedule-upcoming').textContent.includes('Go Live takes this one')",
        )
        .await?;
    let stored = stack.client.schedule().await?;
    ensure!(stored.len() == 1, "{stored:?}");
    let id = stored[0].id;
    let at = now + 10 * 60_000;
    assert_eq!(
        stored[0].starts_at,
        at - at.rem_euclid(60_000),
        "Tokyo's 10 minutes ahead"
    );
    assert_eq!(stored[0].ppv_price_cents, Some(499));

    // Edit: a new title, the same stream.
    desktop
        .click(&format!(
            "#schedule-upcoming li[data-id=\"{id}\"] button[data-action=edit]"
        ))
        .await?;
    fill(
        &desktop,
        "Friday jam, longer",
        &local_input(now + 10 * 60_000),
        "120",
        "4.99",
    )
    .await?;
    desktop.click("#schedule-save").await?;
    harness::retry_for(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            let stored = stack.client.schedule().await?;
            ensure!(
                stored[0].title == "Friday jam, longer" && stored[0].sequence == 1,
                "{stored:?}"
            );
            Ok(())
        },
    )
    .await?;
    // The window has the answer too: the form is back to planning, the row renamed.
    desktop
        .wait_js(
            "the edit shown",
            Duration::from_secs(5),
            "return document.getElementById('schedule-form-title').textContent === 'Plan a stream' && \
             document.getElementById('schedule-upcoming').textContent.includes('Friday jam, longer')",
        )
        .await?;
    desktop
        .wait_js(
            "the Schedule card in view",
            Duration::from_secs(2),
            "document.getElementById('schedule-card').scrollIntoView(); return true;",
        )
        .await?;
    desktop
        .screenshot(
            &harness::repo_root().join(".onair/screenshots"),
            "studio-schedule",
        )
        .await?;

    // The tray names it while offline.
    harness::retry_for(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            let tray = desktop.tray_recorded()?;
            let status = tray["status"].as_str().context("status")?.to_owned();
            ensure!(
                status.starts_with("Offline · Next: ") && status.ends_with("— Friday jam, longer"),
                "{status}"
            );
            Ok(())
        },
    )
    .await?;

    // A second stream, called off with the row's two-step Cancel.
    fill(
        &desktop,
        "Sunday",
        &local_input(now + 3 * 86_400_000),
        "60",
        "",
    )
    .await?;
    desktop.click("#schedule-save").await?;
    let second = harness::retry_for(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            let stored = stack.client.schedule().await?;
            ensure!(stored.len() == 2, "{stored:?}");
            Ok(stored[1].id)
        },
    )
    .await?;
    let row = format!("#schedule-upcoming li[data-id=\"{second}\"]");
    // Stored before the window has the answer: wait for its row.
    desktop
        .wait_js(
            "the second stream listed",
            Duration::from_secs(5),
            &format!("return !!document.querySelector('{row} button[data-action=cancel]')"),
        )
        .await?;
    desktop
        .click(&format!("{row} button[data-action=cancel]"))
        .await?;
    // The first press only asks.
    ensure!(
        stack.client.schedule().await?[1].state == onair_core::schedule::ScheduleState::Scheduled,
        "called off without confirming"
    );
    desktop
        .click(&format!("{row} button[data-action=confirm-cancel]"))
        .await?;
    harness::retry_for(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            let stored = stack.client.schedule().await?;
            let state = stored.iter().find(|s| s.id == second).map(|s| s.state);
            ensure!(
                state == Some(onair_core::schedule::ScheduleState::Cancelled),
                "{stored:?}"
            );
            Ok(())
        },
    )
    .await?;

    // Go Live now takes the stream scheduled in ten minutes over, and says so beside it.
    desktop
        .wait_js(
            "Go Live naming the scheduled stream",
            Duration::from_secs(5),
            "const n = document.getElementById('go-live-scheduled'); \
             return !n.hidden && n.textContent.includes('Friday jam, longer')",
        )
        .await?;
    desktop.click("#go-live").await?;
    desktop.wait_phase("live", Duration::from_secs(20)).await?;
    assert_eq!(stack.backend.state().hub.on_air(STREAMER).await, Some(id));
    desktop.click("#end-stream").await?;
    desktop
        .wait_phase("offline", Duration::from_secs(20))
        .await?;
    desktop.close().await?;
    Ok(())
}

//! Scheduled streams end to end: the real backend and livekit-server, `onair schedule` and
//! `onair live --backend` as a creator uses them, the calendar feed read by Python's
//! `icalendar`, and the viewer page in Debian's Chromium in two time zones.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use onair_e2e::backend::Stack;
use onair_e2e::browser::{Browser, Page};
use onair_e2e::harness::{onair_bin, viewer_python};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const DESKTOP: (u32, u32) = (1280, 800);
const PHONE: (u32, u32) = (390, 844);

/// Chromium and a 720p encoder fill this machine's two cores: one test at a time.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `onair schedule …` as the stack's streamer; its one JSON line.
async fn onair_schedule(s: &Stack, args: &[&str]) -> Result<(bool, Value)> {
    let output = tokio::process::Command::new(onair_bin()?)
        .args(["schedule", "--json"])
        .args(args)
        .arg("--backend")
        .arg(s.backend.url(""))
        .env("ONAIR_API_KEY", &s.key)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or("null");
    let value: Value = serde_json::from_str(line).with_context(|| {
        format!(
            "stdout {stdout:?}, stderr {:?}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    Ok((output.status.success(), value))
}

/// The feed (or one event's file) at `path`, parsed by Python's `icalendar`.
async fn parsed_calendar(s: &Stack, path: &str) -> Result<Value> {
    let script = onair_e2e::harness::repo_root().join("tests/viewer/ics.py");
    let output = tokio::process::Command::new(viewer_python()?)
        .arg(script)
        .arg(s.backend.url(path))
        .output()
        .await?;
    ensure!(
        output.status.success(),
        "icalendar could not read {path}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

async fn text(page: &Page<'_>, id: &str) -> Result<String> {
    page.text(id).await
}

/// Seconds left in "Starts in 00:01:58".
fn seconds_left(countdown: &str) -> Option<i64> {
    let clock = countdown.rsplit(' ').next()?;
    let parts: Vec<i64> = clock.split(':').filter_map(|p| p.parse().ok()).collect();
    (parts.len() == 3).then(|| parts[0] * 3600 + parts[1] * 60 + parts[2])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_planned_stream_is_counted_down_in_each_viewers_time_zone_and_plays_without_a_reload_once_the_creator_goes_live(
) -> Result<()> {
    let _alone = ALONE.lock().await;
    let s = Stack::start("alice").await?;

    // Refused input: named, nothing stored.
    for (args, field) in [
        (
            vec!["add", "--title", "Past", "--start", "2001-01-01 10:00"],
            "starts_at",
        ),
        (
            vec![
                "add",
                "--title",
                "Too long",
                "--start",
                "+2h",
                "--duration",
                "721",
            ],
            "duration_minutes",
        ),
        (
            vec![
                "add", "--title", "Pricey", "--start", "+2h", "--price", "1000",
            ],
            "ppv_price",
        ),
    ] {
        let (ok, answer) = onair_schedule(&s, &args).await?;
        ensure!(!ok, "{args:?} was accepted: {answer}");
        ensure!(
            answer["message"].as_str().unwrap_or("").starts_with(field),
            "{args:?}: {answer}"
        );
    }
    let (ok, listed) = onair_schedule(&s, &["list"]).await?;
    ensure!(ok && listed["streams"] == serde_json::json!([]), "{listed}");

    let (ok, added) = onair_schedule(
        &s,
        &[
            "add",
            "--title",
            "Friday jam",
            "--start",
            "+120s",
            "--duration",
            "45",
            "--description",
            "Bring snacks; and friends, too.",
        ],
    )
    .await?;
    ensure!(ok, "{added}");
    let id = added["stream"]["id"].as_i64().context("an id")?;
    let starts_at = added["stream"]["starts_at"].as_i64().context("a start")?;

    let feed = parsed_calendar(&s, "/live/alice/schedule.ics").await?;
    ensure!(
        feed["content_type"]
            .as_str()
            .unwrap_or("")
            .starts_with("text/calendar"),
        "{feed}"
    );
    let event = &feed["events"][0];
    let uid = event["uid"].as_str().unwrap_or("").to_owned();
    ensure!(uid.starts_with(&format!("stream-{id}@")), "{event}");
    assert_eq!(event["sequence"], 0);
    assert_eq!(event["status"], "CONFIRMED");
    assert_eq!(event["summary"], "Friday jam");
    assert_eq!(event["description"], "Bring snacks; and friends, too.");
    assert_eq!(event["dtstart"], starts_at);
    assert_eq!(event["dtend"], starts_at + 45 * 60_000);
    assert_eq!(event["utc"], true);

    let browser = Browser::launch().await?;
    let url = s.backend.url("/live/alice");
    let tokyo = browser
        .open_in(&url, DESKTOP.0, DESKTOP.1, Some("Asia/Tokyo"))
        .await?;
    let new_york = browser
        .open_in(&url, DESKTOP.0, DESKTOP.1, Some("America/New_York"))
        .await?;
    for page in [&tokyo, &new_york] {
        page.wait(
            "document.getElementById('app').dataset.schedule === 'upcoming'",
            WAIT,
        )
        .await?;
    }
    let (tokyo_when, new_york_when) = (
        text(&tokyo, "notice").await?,
        text(&new_york, "notice").await?,
    );
    println!("Tokyo: {tokyo_when}\nNew York: {new_york_when}");
    ensure!(
        tokyo_when != new_york_when,
        "the same local time in both zones"
    );
    let (a, b) = (
        text(&tokyo, "countdown").await?,
        text(&new_york, "countdown").await?,
    );
    let (a, b) = (
        seconds_left(&a).context(a.clone())?,
        seconds_left(&b).context(b.clone())?,
    );
    ensure!(
        (a - b).abs() <= 1 && (60..=120).contains(&a),
        "countdowns {a} s and {b} s"
    );
    assert_eq!(text(&tokyo, "badge").await?, "SCHEDULED");

    // A second apart, only the countdown changes.
    let everything_else = "(() => { const c = document.getElementById('countdown').textContent; \
         return [c, document.body.innerText.replace(c, '')]; })()";
    let before = tokyo.eval(everything_else).await?;
    tokyo.screenshot("schedule-countdown-desktop").await?;
    tokyo
        .wait(
            &format!(
                "document.getElementById('countdown').textContent !== {}",
                before[0]
            ),
            Duration::from_secs(3),
        )
        .await?;
    let after = tokyo.eval(everything_else).await?;
    tokyo
        .screenshot("schedule-countdown-desktop-1s-later")
        .await?;
    ensure!(
        before[0] != after[0],
        "the countdown did not tick: {before} {after}"
    );
    ensure!(
        before[1] == after[1],
        "more than the countdown changed: {before} {after}"
    );
    let phone = browser
        .open_in(&url, PHONE.0, PHONE.1, Some("Europe/Lisbon"))
        .await?;
    phone
        .wait(
            "document.getElementById('app').dataset.schedule === 'upcoming'",
            WAIT,
        )
        .await?;
    phone.screenshot("schedule-countdown-phone").await?;

    // Going live within the window takes the scheduled stream over; the open pages play.
    let mut creator = s.go_live("alice", "Some other title").await?;
    let went_live = std::time::Instant::now();
    for page in [&tokyo, &new_york] {
        page.wait_state("live", Duration::from_secs(10)).await?;
    }
    println!(
        "the backend has the creator live → both open pages playing {:?} later",
        went_live.elapsed()
    );
    let on_air = s.backend.state().hub.on_air("alice").await;
    assert_eq!(on_air, Some(id), "the live stream is the scheduled one");
    assert_eq!(text(&tokyo, "title").await?, "Friday jam");

    creator.terminate()?;
    creator.finish(WAIT).await?;
    let ended = s.backend.history("alice").await?;
    let record = ended
        .iter()
        .find(|r| r.id == id)
        .context("the stream's record")?;
    let feed = parsed_calendar(&s, &format!("/live/alice/schedule/{id}.ics")).await?;
    let event = &feed["events"][0];
    assert_eq!(
        event["uid"].as_str().unwrap_or(""),
        uid,
        "the same UID after the stream"
    );
    // A calendar's times are whole seconds.
    let second = |ms: Option<i64>| ms.map(|ms| ms / 1000);
    assert_eq!(second(event["dtstart"].as_i64()), second(record.started_at));
    assert_eq!(second(event["dtend"].as_i64()), second(record.ended_at));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_and_a_cancel_reach_the_feed_and_the_open_page_and_going_live_hours_early_is_a_separate_stream(
) -> Result<()> {
    let _alone = ALONE.lock().await;
    let s = Stack::start("alice").await?;
    let (ok, added) =
        onair_schedule(&s, &["add", "--title", "Late show", "--start", "+3h"]).await?;
    ensure!(ok, "{added}");
    let id = added["stream"]["id"].as_i64().context("an id")?;
    let uid = parsed_calendar(&s, "/live/alice/schedule.ics").await?["events"][0]["uid"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    ensure!(uid.starts_with(&format!("stream-{id}@")), "{uid}");

    let (ok, edited) = onair_schedule(
        &s,
        &[
            "edit",
            &id.to_string(),
            "--title",
            "Later show",
            "--start",
            "+4h",
        ],
    )
    .await?;
    ensure!(ok, "{edited}");
    let feed = parsed_calendar(&s, "/live/alice/schedule.ics").await?;
    assert_eq!(feed["events"][0]["uid"].as_str().unwrap_or(""), uid);
    assert_eq!(feed["events"][0]["sequence"], 1);
    assert_eq!(feed["events"][0]["summary"], "Later show");

    // Three hours early: a stream of its own; the scheduled one is still ahead.
    let mut creator = s.go_live("alice", "Warm-up").await?;
    assert_ne!(s.backend.state().hub.on_air("alice").await, Some(id));
    creator.terminate()?;
    creator.finish(WAIT).await?;
    let (_, listed) = onair_schedule(&s, &["list"]).await?;
    assert_eq!(listed["streams"][0]["state"], "scheduled");

    let browser = Browser::launch().await?;
    let page = browser
        .open(&s.backend.url("/live/alice"), DESKTOP.0, DESKTOP.1)
        .await?;
    page.wait(
        "document.getElementById('app').dataset.schedule === 'upcoming'",
        WAIT,
    )
    .await?;
    let (ok, cancelled) = onair_schedule(&s, &["cancel", &id.to_string()]).await?;
    ensure!(ok, "{cancelled}");
    assert_eq!(cancelled["stream"]["state"], "cancelled");
    let feed = parsed_calendar(&s, "/live/alice/schedule.ics").await?;
    assert_eq!(feed["events"][0]["uid"].as_str().unwrap_or(""), uid);
    assert_eq!(feed["events"][0]["status"], "CANCELLED");
    assert_eq!(feed["events"][0]["sequence"], 2);
    // The page asks about the stream it shows every 15 s.
    page.wait(
        "document.getElementById('app').dataset.schedule === 'cancelled'",
        Duration::from_secs(20),
    )
    .await?;
    assert_eq!(
        text(&page, "overlay-title").await?,
        "This stream was cancelled"
    );
    page.screenshot("schedule-cancelled").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_past_its_start_says_starting_soon_and_once_nobody_started_it_in_the_grace_period_missed_on_the_page_and_the_feed(
) -> Result<()> {
    let _alone = ALONE.lock().await;
    let s = Stack::start_with("alice", |c| {
        c.schedule_grace_secs = 3.0;
        c.reconcile_secs = 0.5;
    })
    .await?;
    let (ok, added) =
        onair_schedule(&s, &["add", "--title", "Quick one", "--start", "+2m"]).await?;
    ensure!(ok, "{added}");
    let id = added["stream"]["id"].as_i64().context("an id")?;
    // Planning needs a minute's notice; this test does not wait it out: the start moves to
    // 3 s from now in the database.
    sqlx::query("UPDATE streams SET scheduled_start = ? WHERE id = ?")
        .bind(onair_server::live::now_ms() + 3_000)
        .bind(id)
        .execute(&s.backend.state().db)
        .await?;
    let browser = Browser::launch().await?;
    let page = browser
        .open(&s.backend.url("/live/alice"), DESKTOP.0, DESKTOP.1)
        .await?;
    page.wait(
        "document.getElementById('app').dataset.schedule === 'soon'",
        Duration::from_secs(10),
    )
    .await?;
    assert_eq!(text(&page, "overlay-title").await?, "Starting soon");
    page.screenshot("schedule-starting-soon").await?;
    page.wait(
        "document.getElementById('app').dataset.schedule === 'missed'",
        Duration::from_secs(25),
    )
    .await?;
    let (_, listed) = onair_schedule(&s, &["list"]).await?;
    assert_eq!(listed["streams"][0]["id"], id);
    assert_eq!(listed["streams"][0]["state"], "missed");
    let feed = parsed_calendar(&s, "/live/alice/schedule.ics").await?;
    assert_eq!(feed["events"][0]["status"], "CANCELLED");
    ensure!(
        feed["events"][0]["description"]
            .as_str()
            .unwrap_or("")
            .starts_with("This stream did not take place."),
        "{feed}"
    );
    Ok(())
}

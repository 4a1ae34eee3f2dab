//! The viewer page in Debian's Chromium (playwright-core), against the real backend, the real
//! livekit-server and `onair live --backend` publishing the test pattern.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use onair_e2e::backend::Stack;
use onair_e2e::browser::{Browser, Page};
use onair_e2e::harness::retry_for;

const WAIT: Duration = Duration::from_secs(20);
const DESKTOP: (u32, u32) = (1280, 800);
const PHONE: (u32, u32) = (390, 844);

/// Two Chromium decoders and a 720p encoder fill this machine's two cores: one test at a time.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn open<'b>(
    browser: &'b Browser,
    s: &Stack,
    path: &str,
    size: (u32, u32),
) -> Result<Page<'b>> {
    browser.open(&s.backend.url(path), size.0, size.1).await
}

async fn shown_count(page: &Page<'_>) -> Result<String> {
    Ok(page
        .eval("document.getElementById('viewers').dataset.count")
        .await?
        .as_str()
        .unwrap_or("")
        .to_owned())
}

async fn wait_shown_count(page: &Page<'_>, n: u32, limit: Duration) -> Result<Duration> {
    let started = Instant::now();
    page.wait(
        &format!("document.getElementById('viewers').dataset.count === '{n}'"),
        limit,
    )
    .await?;
    Ok(started.elapsed())
}

/// What the page still has open: timers, event streams, rooms.
async fn open_resources(page: &Page<'_>) -> Result<serde_json::Value> {
    page.eval("window.onairViewer.open()").await
}

async fn viewers_in_room(s: &Stack, room: &str) -> Result<usize> {
    Ok(s.livekit
        .participants(room)
        .await?
        .iter()
        .filter(|p| p.starts_with("viewer-"))
        .count())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_plays_with_the_shared_viewer_count_and_ends_for_every_page_when_the_creator_stops(
) -> Result<()> {
    let _alone = ALONE.lock().await;
    let s = Stack::start("alice").await?;
    let browser = Browser::launch().await?;
    let mut creator = s.go_live("alice", "Launch day").await?;
    // The creator's session follows the count too.
    let creator_streams = s.backend.state().hub.subscribers();

    let first = open(&browser, &s, "/live/alice", DESKTOP).await?;
    assert_eq!(first.status, 200);
    first.wait_state("live", WAIT).await?;
    let size = first
        .wait(
            "(() => { const v = document.getElementById('video'); \
             return v.videoWidth > 0 && [v.videoWidth, v.videoHeight]; })()",
            WAIT,
        )
        .await?;
    assert_eq!(size, serde_json::json!([1280, 720]));
    let t0 = first
        .eval("document.getElementById('video').currentTime")
        .await?
        .as_f64()
        .unwrap_or(0.0);
    first
        .wait(
            &format!("document.getElementById('video').currentTime > {t0} + 1"),
            WAIT,
        )
        .await?;
    assert_eq!(first.text("title").await?, "Launch day");
    wait_shown_count(&first, 1, WAIT).await?;
    assert_eq!(s.backend.count("alice").await?.viewers, 1);
    assert_eq!(viewers_in_room(&s, "alice").await?, 1);
    assert_eq!(s.backend.state().hub.subscribers(), creator_streams + 1);
    first.screenshot("viewer-live-desktop").await?;

    let second = open(&browser, &s, "/live/alice", PHONE).await?;
    second.wait_state("live", WAIT).await?;
    wait_shown_count(&second, 2, WAIT).await?;
    wait_shown_count(&first, 2, WAIT).await?;
    assert_eq!(s.backend.count("alice").await?.viewers, 2);
    assert_eq!(s.backend.state().hub.subscribers(), creator_streams + 2);
    second.screenshot("viewer-live-phone").await?;

    // Leaving the page: its room, its events stream and its timers go with it.
    assert_eq!(second.goto("about:blank").await?, 0);
    let took = wait_shown_count(&first, 1, Duration::from_secs(2)).await?;
    println!("a page left: the other page showed 1 viewer after {took:?}");
    retry_for(
        Duration::from_secs(2),
        Duration::from_millis(20),
        || async {
            let subscribers = s.backend.state().hub.subscribers();
            let in_room = viewers_in_room(&s, "alice").await?;
            ensure!(
                subscribers == creator_streams + 1 && in_room == 1,
                "backend event streams {subscribers}, viewers in the room {in_room}"
            );
            Ok(())
        },
    )
    .await?;
    assert_eq!(s.backend.count("alice").await?.viewers, 1);

    // Back at phone width, then the creator stops: both pages end and close everything.
    assert_eq!(second.goto(&s.backend.url("/live/alice")).await?, 200);
    second.wait_state("live", WAIT).await?;
    wait_shown_count(&first, 2, WAIT).await?;
    creator.terminate()?;
    let stopped = Instant::now();
    first.wait_state("ended", Duration::from_secs(2)).await?;
    second.wait_state("ended", Duration::from_secs(2)).await?;
    println!(
        "the creator stopped: both pages showed ended after {:?}",
        stopped.elapsed()
    );
    assert_eq!(creator.finish(WAIT).await?, 0);
    for page in [&first, &second] {
        assert_eq!(
            open_resources(page).await?,
            serde_json::json!({"timers": 0, "eventStreams": 0, "rooms": 0})
        );
    }
    retry_for(
        Duration::from_secs(2),
        Duration::from_millis(20),
        || async {
            let subscribers = s.backend.state().hub.subscribers();
            ensure!(
                subscribers == 0,
                "backend event streams still open: {subscribers}"
            );
            Ok(())
        },
    )
    .await?;
    assert!(s.livekit.participants("alice").await?.is_empty());
    first.screenshot("viewer-ended-desktop").await?;
    second.screenshot("viewer-ended-phone").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offline_streamer_shows_when_they_were_last_live_and_the_page_plays_when_they_return(
) -> Result<()> {
    let _alone = ALONE.lock().await;
    let s = Stack::start("carol").await?;
    let browser = Browser::launch().await?;

    let page = open(&browser, &s, "/live/carol", DESKTOP).await?;
    page.wait_state("offline", WAIT).await?;
    assert!(
        page.text("notice").await?.contains("hasn't streamed yet"),
        "{}",
        page.text("notice").await?
    );
    page.close().await?;

    let mut creator = s.go_live("carol", "Yesterday's show").await?;
    creator.terminate()?;
    assert_eq!(creator.finish(WAIT).await?, 0);
    s.backend.wait_count("carol", WAIT, |c| !c.live).await?;

    let desktop = open(&browser, &s, "/live/carol", DESKTOP).await?;
    let phone = open(&browser, &s, "/live/carol", PHONE).await?;
    for page in [&desktop, &phone] {
        page.wait_state("offline", WAIT).await?;
        let notice = page.text("notice").await?;
        assert!(notice.starts_with("Last live"), "{notice}");
        assert!(notice.contains("“Yesterday's show”"), "{notice}");
        assert_eq!(shown_count(page).await?, "0");
    }
    desktop.screenshot("viewer-offline-desktop").await?;
    phone.screenshot("viewer-offline-phone").await?;

    // The open page starts playing by itself when the streamer is back.
    let mut creator = s.go_live("carol", "Back again").await?;
    desktop.wait_state("live", WAIT).await?;
    desktop
        .wait(
            "document.getElementById('title').textContent === 'Back again'",
            WAIT,
        )
        .await?;
    creator.terminate()?;
    desktop.wait_state("ended", WAIT).await?;
    assert_eq!(creator.finish(WAIT).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_unknown_names_get_a_not_found_page_that_shows_the_name_as_text() -> Result<()>
{
    let _alone = ALONE.lock().await;
    let s = Stack::start("dave").await?;
    let browser = Browser::launch().await?;
    for (path, shown) in [
        ("/live/bad%20name", "“bad name”"),
        (
            "/live/<script>alert(1)<%2Fscript>",
            "“<script>alert(1)</script>”",
        ),
        ("/live/nobody", "“nobody”"),
    ] {
        let page = open(&browser, &s, path, DESKTOP).await?;
        assert_eq!(page.status, 404, "{path}");
        let state = page
            .eval("document.querySelector('main')?.dataset.state ?? ''")
            .await?;
        assert_eq!(state, "not-found", "{path}");
        assert_eq!(page.eval("document.scripts.length").await?, 0, "{path}");
        let message = page.text("message").await?;
        assert!(message.contains(shown), "{path}: {message}");
        page.close().await?;
    }
    let page = open(&browser, &s, "/live/%3Cscript%3E", DESKTOP).await?;
    assert_eq!(page.status, 404);
    assert_eq!(page.eval("document.scripts.length").await?, 0);
    page.screenshot("viewer-not-found").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_eleventh_token_request_in_a_minute_shows_the_rate_limit_message_and_plays_after_retry_after(
) -> Result<()> {
    let _alone = ALONE.lock().await;
    let s = Stack::start("erin").await?;
    let browser = Browser::launch().await?;
    let mut creator = s.go_live("erin", "Busy night").await?;
    let http = reqwest::Client::new();
    for _ in 0..10 {
        let status = http
            .post(s.backend.url("/api/streams/erin/viewer-token"))
            .send()
            .await?
            .status();
        assert_eq!(status, 200);
    }
    let page = open(&browser, &s, "/live/erin", DESKTOP).await?;
    page.wait(
        "document.getElementById('notice').dataset.kind === 'rate_limited'",
        WAIT,
    )
    .await?;
    let notice = page.text("notice").await?;
    assert!(notice.contains("Too many requests"), "{notice}");
    assert!(notice.contains("Trying again in"), "{notice}");
    page.screenshot("viewer-rate-limited").await?;
    // The limiter frees one request every 6 s; the page waits as long as Retry-After says.
    page.wait_state("live", WAIT).await?;
    creator.terminate()?;
    assert_eq!(creator.finish(WAIT).await?, 0);
    Ok(())
}

/// Types `text` as `name` into the page's chat and sends it, as a viewer would.
async fn chat_say(page: &Page<'_>, name: &str, text: &str) -> Result<()> {
    page.eval(&format!(
        "(() => {{ const n = document.getElementById('chat-name'); n.value = {name}; \
         const t = document.getElementById('chat-text'); t.value = {text}; \
         document.getElementById('chat-send').click(); return true; }})()",
        name = serde_json::to_string(name)?,
        text = serde_json::to_string(text)?,
    ))
    .await?;
    Ok(())
}

/// The id of the newest message the page shows with `text`.
async fn shown_message(page: &Page<'_>, text: &str, limit: Duration) -> Result<i64> {
    let id = page
        .wait(
            &format!(
                "[...document.querySelectorAll('#chat-messages li')].reverse() \
                 .find(li => li.querySelector('.chat-said').textContent === {})?.dataset.id",
                serde_json::to_string(text)?
            ),
            limit,
        )
        .await?;
    Ok(id.as_str().unwrap_or("").parse()?)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chat_shows_each_message_on_every_page_as_text_keeps_history_and_a_ban_reaches_the_page(
) -> Result<()> {
    let _alone = ALONE.lock().await;
    let s = Stack::start("dana").await?;
    let browser = Browser::launch().await?;
    let _creator = s.go_live("dana", "Q&A").await?;
    let a = open(&browser, &s, "/live/dana", DESKTOP).await?;
    let b = open(&browser, &s, "/live/dana", DESKTOP).await?;
    for page in [&a, &b] {
        page.wait_state("live", WAIT).await?;
    }

    let raw = "hi <script>window.owned = 1</script><b>bold</b>";
    let sent = Instant::now();
    chat_say(&a, "ann", raw).await?;
    let id = shown_message(&b, raw, Duration::from_secs(5)).await?;
    println!(
        "page A sends → page B shows it: {} ms",
        sent.elapsed().as_millis()
    );
    for page in [&a, &b] {
        shown_message(page, raw, WAIT).await?;
        let markup = page
            .eval(
                "document.querySelectorAll('#chat-messages script, #chat-messages b').length \
                 + (window.owned === undefined ? 0 : 100)",
            )
            .await?;
        assert_eq!(markup, 0, "the message ran or rendered as markup");
    }
    let phone = open(&browser, &s, "/live/dana", PHONE).await?;
    phone.wait_state("live", WAIT).await?;
    shown_message(&phone, raw, WAIT).await?;
    b.screenshot("viewer-chat-desktop").await?;
    phone.screenshot("viewer-chat-phone").await?;
    phone.close().await?;

    // History: B reloads and still has it.
    b.goto(&s.backend.url("/live/dana")).await?;
    b.wait_state("live", WAIT).await?;
    assert_eq!(shown_message(&b, raw, WAIT).await?, id);

    // A ban of A (behind 127.0.0.1: the device only) reaches A's page; B goes on.
    let http = reqwest::Client::new();
    let banned = http
        .post(s.backend.url("/api/chat/bans"))
        .bearer_auth(&s.key)
        .json(&serde_json::json!({"message_id": id}))
        .send()
        .await?;
    ensure!(banned.status() == 201, "ban: {}", banned.status());
    a.wait(
        "document.getElementById('chat').dataset.standing === 'banned'",
        Duration::from_secs(5),
    )
    .await?;
    let said = a.text("chat-status").await?;
    assert!(said.contains("banned"), "{said}");
    chat_say(&b, "bea", "still here").await?;
    shown_message(&b, "still here", Duration::from_secs(5)).await?;
    assert_eq!(
        b.eval("document.getElementById('app').dataset.state")
            .await?,
        "live"
    );
    a.screenshot("viewer-chat-banned").await?;
    Ok(())
}

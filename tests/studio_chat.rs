//! The studio's chat panel end to end: the real app under WebDriver (tauri-driver, Xvfb), the
//! real backend trusting a proxy at 127.0.0.1 (each chatter's address from `X-Forwarded-For`),
//! the real livekit-server. Viewers chat over HTTP as their browsers would; the creator
//! moderates with the window's buttons. Screenshots land in `.onair/screenshots/`.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use onair_e2e::backend::Stack;
use onair_e2e::chatter::Chatter;
use onair_e2e::desktop::Desktop;
use onair_e2e::harness;

const STREAMER: &str = "studio";
const ENV: &[(&str, &str)] = &[("WEBKIT_DISABLE_COMPOSITING_MODE", "0")];

fn has_line(id: i64) -> String {
    format!("return !!document.querySelector('#chat-lines li[data-id=\"{id}\"]')")
}

/// The tray's status line as the app last applied it.
fn tray_status(desktop: &Desktop) -> Result<String> {
    let tray = desktop.tray_recorded()?;
    Ok(tray["status"].as_str().context("status")?.to_owned())
}

/// Waits (at most 5 s) until the tray's status line satisfies `shows`.
async fn wait_tray(desktop: &Desktop, shows: impl Fn(&str) -> bool) -> Result<()> {
    harness::retry_for(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            let status = tray_status(desktop)?;
            ensure!(shows(&status), "{status}");
            Ok(())
        },
    )
    .await
}

#[tokio::test]
async fn the_studio_shows_each_message_as_it_arrives_and_moderates_it_and_the_tray_counts_unread_while_closed(
) -> Result<()> {
    let stack = Stack::start_with(STREAMER, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.rate_limit_per_minute = 1000.try_into().unwrap();
    })
    .await?;
    let url = stack.backend.url("");
    let url = url.trim_end_matches('/').to_owned();
    let mut desktop = Desktop::start(ENV).await?;
    desktop.launch().await?;
    desktop.sign_in(&url, &stack.key).await?;
    desktop
        .wait_js(
            "the chat waiting for the stream",
            Duration::from_secs(5),
            "return document.getElementById('chat-status').textContent.includes('opens when you go live')",
        )
        .await?;
    desktop.click("#go-live").await?;
    desktop.wait_phase("live", Duration::from_secs(20)).await?;

    // A message arrives in the window as text, markup and all.
    let ann = Chatter::at("203.0.113.10", STREAMER);
    let raw = "hi <script>document.title='owned'</script><b>bold</b>";
    let posted = Instant::now();
    let first = ann.say(&stack, "ann", raw).await?;
    let shown = desktop
        .wait_js(
            "the message in the window",
            Duration::from_secs(5),
            &has_line(first),
        )
        .await?;
    println!(
        "message posted → shown in the studio: {} ms after the post's answer ({} ms after sending)",
        shown.as_millis(),
        posted.elapsed().as_millis()
    );
    let text = desktop
        .text(&format!("#chat-lines li[data-id=\"{first}\"] .chat-text"))
        .await?;
    assert_eq!(text, raw, "the message is shown as it was written");
    desktop
        .wait_js(
            "no markup from the chat",
            Duration::from_secs(1),
            "return document.querySelectorAll('#chat-lines script, #chat-lines b').length === 0 \
             && document.title === 'OnAir'",
        )
        .await?;
    desktop
        .screenshot(
            &harness::repo_root().join(".onair/screenshots"),
            "studio-chat",
        )
        .await?;

    // Hide: gone from the window and from history.
    let hidden = Instant::now();
    desktop
        .click(&format!(
            "#chat-lines li[data-id=\"{first}\"] button[data-action=hide]"
        ))
        .await?;
    desktop
        .wait_js(
            "the hidden message gone",
            Duration::from_secs(5),
            &format!("return !document.querySelector('#chat-lines li[data-id=\"{first}\"]')"),
        )
        .await?;
    ensure!(
        !ann.history(&stack).await?.contains(&first),
        "still in history"
    );
    println!(
        "Hide pressed → gone from the window and history: {} ms",
        hidden.elapsed().as_millis()
    );

    // Time out (the default five minutes): the chatter is refused with a retry time.
    let second = ann.say(&stack, "ann", "still here").await?;
    desktop
        .wait_js(
            "the second message",
            Duration::from_secs(5),
            &has_line(second),
        )
        .await?;
    desktop
        .click(&format!(
            "#chat-lines li[data-id=\"{second}\"] button[data-action=timeout]"
        ))
        .await?;
    let refused = harness::retry_for(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            let again = ann.post(&stack, "ann", "again").await?;
            ensure!(again.kind() == Some("timed_out"), "{again:?}");
            Ok(again)
        },
    )
    .await?;
    let retry = refused.retry_after.context("Retry-After")?;
    assert!((290..=300).contains(&retry), "{retry}");

    // Ban through the dialog, with its reason: the chatter's token is refused, the ban listed.
    let bob = Chatter::at("203.0.113.20", STREAMER);
    ensure!(bob.viewer_token(&stack).await?.status == 200);
    let spam = bob.say(&stack, "bob", "buy followers").await?;
    desktop
        .wait_js("bob's message", Duration::from_secs(5), &has_line(spam))
        .await?;
    desktop
        .click(&format!(
            "#chat-lines li[data-id=\"{spam}\"] button[data-action=ban]"
        ))
        .await?;
    desktop.type_into("#ban-reason", "spam").await?;
    desktop.click("#ban-confirm").await?;
    harness::retry_for(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            let answer = Chatter::at("203.0.113.20", STREAMER)
                .viewer_token(&stack)
                .await?;
            ensure!(answer.kind() == Some("banned"), "{answer:?}");
            Ok(())
        },
    )
    .await?;
    desktop.click("#chat-moderation summary").await?;
    desktop
        .wait_js(
            "the ban and the log",
            Duration::from_secs(5),
            "return document.getElementById('bans').textContent.includes('bob') && \
             ['hide', 'timeout', 'ban'].every(a => document.getElementById('moderation-log').textContent.includes(a))",
        )
        .await?;
    desktop
        .screenshot(
            &harness::repo_root().join(".onair/screenshots"),
            "studio-chat-moderation",
        )
        .await?;
    desktop.click("#bans button[data-action=unban]").await?;
    harness::retry_for(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            let answer = bob.viewer_token(&stack).await?;
            ensure!(answer.status == 200, "{answer:?}");
            Ok(())
        },
    )
    .await?;

    // Slow mode from the settings form; a bad value is refused by field.
    desktop.type_into("#slow-mode", "99999").await?;
    desktop.click("#save-chat-settings").await?;
    desktop
        .wait_js(
            "slow mode refused by field",
            Duration::from_secs(5),
            "return document.getElementById('slow_mode_secs-error').textContent !== ''",
        )
        .await?;
    desktop.type_into("#slow-mode", "30").await?;
    desktop.type_into("#blocked-terms", "crypto").await?;
    desktop.click("#save-chat-settings").await?;
    desktop
        .wait_js(
            "slow mode on",
            Duration::from_secs(5),
            "return document.getElementById('chat-status').textContent.includes('slow mode 30 s')",
        )
        .await?;
    let cat = Chatter::at("203.0.113.30", STREAMER);
    let blocked = cat.post(&stack, "cat", "free CRYPTO here").await?;
    assert_eq!(
        (blocked.status, blocked.kind()),
        (422, Some("blocked_term")),
        "{blocked:?}"
    );
    let hello = cat.say(&stack, "cat", "hello").await?;
    let slow = cat.post(&stack, "cat", "hello again").await?;
    assert_eq!(
        (slow.status, slow.kind()),
        (429, Some("slow_mode")),
        "{slow:?}"
    );
    assert!(slow.retry_after.is_some(), "{slow:?}");
    desktop
        .wait_js("cat's message", Duration::from_secs(5), &has_line(hello))
        .await?;

    // Read in the open window: nothing unread.
    wait_tray(&desktop, |status| !status.contains("chat")).await?;

    // The window closed: the tray counts what arrives; shown again, the count is read.
    desktop.close_window().await?;
    let dan = Chatter::at("203.0.113.40", STREAMER);
    dan.say(&stack, "dan", "anyone there?").await?;
    Chatter::at("203.0.113.41", STREAMER)
        .say(&stack, "eve", "hello!")
        .await?;
    wait_tray(&desktop, |status| {
        status.ends_with(" · 2 new chat messages")
    })
    .await
    .with_context(|| desktop.log())?;
    // Started again (as from the desktop's launcher): the running one shows its window.
    let again = desktop.start_again(Duration::from_secs(10)).await?;
    ensure!(again.success(), "{again}");
    let client = desktop.client();
    harness::retry_for(
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let handles = client.windows().await?;
            client
                .switch_to_window(handles.last().context("a window")?.clone())
                .await?;
            let status = tray_status(&desktop)?;
            ensure!(!status.contains("chat"), "{status}");
            Ok(())
        },
    )
    .await?;
    desktop
        .wait_js(
            "the messages that came while closed",
            Duration::from_secs(5),
            "const t = document.getElementById('chat-lines').textContent; \
             return t.includes('anyone there?') && t.includes('hello!')",
        )
        .await?;

    // End: the chat stops following, the last messages stay.
    desktop.click("#end-stream").await?;
    desktop
        .wait_phase("offline", Duration::from_secs(15))
        .await?;
    desktop
        .wait_js(
            "the chat closed with its messages",
            Duration::from_secs(5),
            "return document.getElementById('chat-card').dataset.open === 'false' && \
             document.getElementById('chat-lines').children.length >= 2",
        )
        .await?;
    desktop.close().await
}

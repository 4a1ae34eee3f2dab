//! Record while live from the studio, end to end: the real app under WebDriver (tauri-driver,
//! Xvfb), the real backend and livekit-server, GStreamer writing the file, ffprobe reading it.
//! Record on → Go Live → the window shows the recording growing → End → the report's
//! "finish recording" step, the recording in the folder, uploaded as the replay, which plays
//! in Chromium.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use onair_e2e::backend::Stack;
use onair_e2e::browser::Browser;
use onair_e2e::desktop::Desktop;
use onair_e2e::{harness, media_file};

const STREAMER: &str = "recorder";

#[tokio::test]
async fn the_studio_records_a_stream_and_uploads_it_as_the_replay_after_end() -> Result<()> {
    let stack = Stack::start(STREAMER).await?;
    let url = stack.backend.url("");
    let url = url.trim_end_matches('/').to_owned();
    let folder = tempfile::tempdir()?;
    let folder_env = folder.path().to_str().context("a UTF-8 folder")?.to_owned();
    let env = [
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "0"),
        ("ONAIR_RECORDINGS_DIR", folder_env.as_str()),
    ];
    let mut desktop = Desktop::start(&env).await?;
    desktop.launch().await?;
    desktop.sign_in(&url, &stack.key).await?;

    desktop.click("#record").await?;
    desktop.click("#go-live").await?;
    desktop.wait_phase("live", Duration::from_secs(30)).await?;
    // The window shows the recording growing (the line is drawn from the recorder's status).
    desktop
        .wait_js(
            "the recording's line past 3 s",
            Duration::from_secs(30),
            "const t = document.getElementById('recording-live').textContent; \
             const m = /^REC (\\d+):(\\d\\d)/.exec(t); return !!m && (+m[1] * 60 + +m[2]) >= 3;",
        )
        .await?;
    let line = desktop.text("#recording-live").await?;
    ensure!(line.contains(" MB · OnAir "), "the live line: {line}");
    desktop
        .screenshot(
            &harness::repo_root().join(".onair/screenshots"),
            "studio-recording-live",
        )
        .await?;

    desktop.click("#end-stream").await?;
    desktop
        .wait_phase("offline", Duration::from_secs(30))
        .await?;
    let report = desktop.text("#report").await?;
    ensure!(
        report.contains("✓ finish recording"),
        "the teardown report: {report}"
    );

    // Uploaded after End by itself; the row links to the replay.
    desktop
        .wait_js(
            "the recording uploaded",
            Duration::from_secs(60),
            "return !!document.querySelector('#recordings li[data-upload=\"uploaded\"] a.replay-link');",
        )
        .await?;
    let replay_url = desktop
        .attr(
            "#recordings li[data-upload=\"uploaded\"] a.replay-link",
            "href",
        )
        .await?
        .context("the replay's link")?;
    desktop
        .screenshot(
            &harness::repo_root().join(".onair/screenshots"),
            "studio-recording",
        )
        .await?;

    // The file stays in the folder, and the backend's replay is that recording.
    let files: Vec<_> = std::fs::read_dir(folder.path())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "mp4"))
        .collect();
    ensure!(files.len() == 1, "one recording in the folder: {files:?}");
    let local = media_file::probe(&files[0])?;
    let replays = stack.client.replays(STREAMER).await?;
    ensure!(replays.len() == 1, "{replays:?}");
    let replay = &replays[0];
    eprintln!("local {local:?}; replay {replay:?}; page {replay_url}");
    ensure!(
        (replay.duration_ms as f64 / 1e3 - local.duration).abs() < 0.2,
        "the replay is the recording: {replay:?} against {local:?}"
    );
    ensure!((replay.width, replay.height) == (1280, 720), "{replay:?}");

    let browser = Browser::launch().await?;
    let page = browser.open(&replay_url, 1280, 800).await?;
    let width = page
        .wait(
            "document.getElementById('video')?.videoWidth",
            Duration::from_secs(20),
        )
        .await?;
    ensure!(width == 1280, "the replay page's video is {width} wide");
    desktop.close().await?;
    Ok(())
}

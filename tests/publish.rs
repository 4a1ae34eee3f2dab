//! `onair live` publishing to a real livekit-server, watched by the real Python viewer.

use std::time::Duration;

use anyhow::Result;
use onair_e2e::harness::{JsonProcess, LiveKitServer};
use serde_json::Value;

/// Publishes 10 s of 720p30 + 440 Hz with `codec` to a viewer that is already waiting.
async fn ten_seconds_of(codec: &str, mime: &str) -> Result<Value> {
    let server = LiveKitServer::start().await?;
    let mut viewer = JsonProcess::viewer(&server, "studio", "viewer-1", Duration::from_secs(40))?;
    viewer
        .wait_event("connected", Duration::from_secs(15))
        .await?;

    let mut live = JsonProcess::onair_live(
        &server,
        "studio",
        &["--codec", codec, "--duration", "10", "--stats-every", "1"],
    )?;
    assert_eq!(
        live.finish(Duration::from_secs(40)).await?,
        0,
        "onair live failed: {}",
        live.stderr()
    );
    let ended = live.last_event("ended").expect("an ended event").clone();
    assert_eq!(ended["live_handles"], 0, "{ended}");
    assert_eq!(ended["disconnect_confirmed"], true, "{ended}");

    viewer
        .wait_event("participant_left", Duration::from_secs(10))
        .await?;
    viewer.terminate()?;
    viewer.finish(Duration::from_secs(15)).await?;
    let summary = viewer
        .last_event("summary")
        .expect("viewer summary")
        .clone();
    eprintln!("{codec}: publisher stats {:?}", live.last_event("stats"));
    eprintln!("{codec}: viewer summary {summary}");

    assert_eq!(summary["codecs"]["video"], mime, "{summary}");
    let frames = summary["frames"].as_u64().unwrap();
    assert!(frames >= 270, "only {frames} frames decoded: {summary}");
    assert_eq!(summary["frame_ids_increasing"], true, "{summary}");
    assert!(
        summary["frame_ids_seen"].as_u64().unwrap() >= 270,
        "{summary}"
    );
    let hz = summary["audio_hz"].as_f64().expect("a tone was heard");
    assert!((hz - 440.0).abs() <= 2.0, "tone at {hz} Hz");
    Ok(summary)
}

fn dominant_size(summary: &Value) -> String {
    summary["sizes"]
        .as_object()
        .and_then(|sizes| {
            sizes
                .iter()
                .max_by_key(|(_, n)| n.as_u64().unwrap_or(0))
                .map(|(s, _)| s.clone())
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn vp8_720p30_with_a_tone_reaches_a_real_viewer_whole_and_in_order() -> Result<()> {
    let summary = ten_seconds_of("vp8", "video/VP8").await?;
    assert_eq!(dominant_size(&summary), "1280x720", "{summary}");
    Ok(())
}

#[tokio::test]
async fn h264_720p30_with_a_tone_reaches_a_real_viewer_whole_and_in_order() -> Result<()> {
    let summary = ten_seconds_of("h264", "video/H264").await?;
    eprintln!("h264 arrived mostly at {}", dominant_size(&summary));
    Ok(())
}

#[tokio::test]
async fn a_viewer_joining_five_seconds_late_decodes_its_first_frame_within_a_second() -> Result<()>
{
    let server = LiveKitServer::start().await?;
    let mut live =
        JsonProcess::onair_live(&server, "late", &["--duration", "20", "--stats-every", "1"])?;
    // The scenario itself: a viewer arrives once the stream reports five seconds on air.
    live.wait_for("five seconds live", Duration::from_secs(20), |v| {
        v["event"] == "stats" && v["uptime_s"].as_f64().unwrap_or(0.0) >= 5.0
    })
    .await?;
    let mut viewer = JsonProcess::viewer(&server, "late", "latecomer", Duration::from_secs(10))?;
    let first = viewer
        .wait_event("first_frame", Duration::from_secs(15))
        .await?;
    let ms = first["since_connect_ms"].as_f64().unwrap();
    eprintln!("late viewer: first frame {ms:.0} ms after it started connecting");
    assert!(ms <= 1000.0, "first frame after {ms} ms");
    live.terminate()?;
    assert_eq!(
        live.finish(Duration::from_secs(15)).await?,
        0,
        "{}",
        live.stderr()
    );
    assert_eq!(live.last_event("ended").unwrap()["reason"], "SIGTERM");
    Ok(())
}

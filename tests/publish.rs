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
    assert_eq!(summary["frame_ids_increasing"], true, "{summary}");
    let encoded = live
        .last_event("stats")
        .and_then(|s| s["layers"].as_array())
        .map(|layers| {
            layers
                .iter()
                .filter_map(|l| l["frames_sent"].as_u64())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let delivery = Delivery::of(
        &summary,
        ended["frames_sent"].as_u64().unwrap_or(0),
        encoded,
    )?;
    eprintln!("{codec}: {delivery:?}");
    delivery.check()?;
    let hz = summary["audio_hz"].as_f64().expect("a tone was heard");
    assert!((hz - 440.0).abs() <= 2.0, "tone at {hz} Hz");
    Ok(summary)
}

/// What reached the viewer of the frames the publisher captured (ids 0, 1, 2…).
///
/// Frames sent before the viewer's subscription was forwarded cannot reach it: the SFU starts
/// a subscriber at a key frame. How soon that happens is the start-up; from the first decoded
/// frame on, every frame the encoder sent must arrive, in order, up to the stream's end. (The
/// encoder may skip a captured frame now and then; that is the publisher's quality, shown in
/// its stats, not delivery.)
#[derive(Debug)]
struct Delivery {
    /// Frames captured and handed to the SDK.
    captured: u64,
    /// Frames the encoder sent, by the publisher's last stats (a second before the end).
    encoded: u64,
    first_id: u64,
    last_id: u64,
    /// Distinct frame ids decoded (metadata rides in the packet trailer of each frame).
    seen: u64,
}

impl Delivery {
    /// Start-up allowed before the first decoded frame: 3 s at 30 fps (a busy 2-core machine
    /// with debug builds; the go-live benchmark measures it properly).
    const START_FRAMES: u64 = 90;
    /// Frames at the end that may still be in flight when the track is unpublished: 1 s.
    const TAIL_FRAMES: u64 = 30;

    fn of(summary: &Value, captured: u64, encoded: u64) -> Result<Self> {
        let id = |k: &str| {
            summary[k]
                .as_u64()
                .ok_or_else(|| anyhow::anyhow!("no {k} in {summary}"))
        };
        Ok(Self {
            captured,
            encoded,
            first_id: id("first_frame_id")?,
            last_id: id("last_frame_id")?,
            seen: id("frame_ids_seen")?,
        })
    }

    fn check(&self) -> Result<()> {
        anyhow::ensure!(
            self.captured >= 290 && self.encoded > 0,
            "the publisher captured or sent too little: {self:?}"
        );
        anyhow::ensure!(
            self.first_id <= Self::START_FRAMES,
            "the first decoded frame came {} frames into the stream: {self:?}",
            self.first_id
        );
        anyhow::ensure!(
            self.last_id + Self::TAIL_FRAMES >= self.captured,
            "the stream's end never reached the viewer: {self:?}"
        );
        // At most `first_id` of the frames sent went out before the first decoded one; every
        // other frame sent must have been decoded (loopback, with NACK and retransmission).
        anyhow::ensure!(
            self.seen + self.first_id >= self.encoded,
            "{} frames sent never reached the viewer: {self:?}",
            self.encoded - self.first_id - self.seen
        );
        Ok(())
    }
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

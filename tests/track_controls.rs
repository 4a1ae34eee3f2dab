//! Mute, unmute and unpublish on our engine, as a real viewer sees them.

use std::time::Duration;

use anyhow::Result;
use onair_e2e::harness::{load_engine, JsonProcess, LiveKitServer};
use onair_e2e::publisher::{Publisher, PublisherConfig};

#[tokio::test]
async fn the_viewer_sees_video_muted_unmuted_then_unpublished_while_audio_continues() -> Result<()>
{
    load_engine()?;
    let server = LiveKitServer::start().await?;
    let mut viewer = JsonProcess::viewer(&server, "controls", "viewer", Duration::from_secs(60))?;
    viewer
        .wait_event("connected", Duration::from_secs(15))
        .await?;
    let publisher = Publisher::start(
        &server.url(),
        &server.token("controls", "creator", true),
        PublisherConfig::default(),
    )
    .await?;
    let video_sid = publisher.video_publication.sid().to_owned();
    viewer
        .wait_for("video subscription", Duration::from_secs(10), |v| {
            v["event"] == "subscribed" && v["kind"] == "video"
        })
        .await?;
    viewer
        .wait_for("audio subscription", Duration::from_secs(10), |v| {
            v["event"] == "subscribed" && v["kind"] == "audio"
        })
        .await?;
    viewer
        .wait_event("first_frame", Duration::from_secs(10))
        .await?;

    publisher.video.mute()?;
    let muted = viewer.wait_event("muted", Duration::from_secs(5)).await?;
    assert_eq!(
        (muted["sid"].as_str(), muted["kind"].as_str()),
        (Some(video_sid.as_str()), Some("video"))
    );

    publisher.video.unmute()?;
    let unmuted = viewer.wait_event("unmuted", Duration::from_secs(5)).await?;
    assert_eq!(unmuted["sid"].as_str(), Some(video_sid.as_str()));

    publisher
        .room
        .local_participant()
        .unpublish_track(&video_sid)
        .await?;
    let unpublished = viewer
        .wait_event("unpublished", Duration::from_secs(5))
        .await?;
    assert_eq!(
        (unpublished["sid"].as_str(), unpublished["kind"].as_str()),
        (Some(video_sid.as_str()), Some("video"))
    );
    assert_eq!(
        publisher
            .room
            .local_participant()
            .track_publications()
            .len(),
        1,
        "audio stays published"
    );

    // Audio keeps arriving after the video is gone: a whole second more of samples.
    let index = viewer.seen.len();
    let base = viewer
        .seen
        .iter()
        .rev()
        .find_map(|v| v["audio_samples"].as_u64())
        .unwrap_or(0);
    let later = viewer
        .wait_for("a second more audio", Duration::from_secs(5), |v| {
            v["event"] == "report" && v["audio_samples"].as_u64().unwrap_or(0) >= base + 48_000
        })
        .await?;
    assert!(viewer.seen[index..]
        .iter()
        .all(|v| v["event"] != "unpublished" || v["kind"] != "audio"));
    let hz = later["audio_hz"].as_f64().unwrap();
    assert!((hz - 440.0).abs() <= 2.0, "{later}");

    let report = publisher.stop().await?;
    assert!(report.unpublish_errors.is_empty(), "{report:?}");
    assert!(report.disconnect_confirmed);
    drop(publisher);
    assert_eq!(onair_livekit::live_handle_count(), 0);
    Ok(())
}

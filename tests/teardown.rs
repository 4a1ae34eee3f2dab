//! Ending: our close, and the server ending the room while we are live.

use std::time::Duration;

use anyhow::Result;
use onair_e2e::harness::{load_engine, JsonProcess, LiveKitServer};
use onair_e2e::publisher::{Publisher, PublisherConfig};
use onair_livekit::{DisconnectReason, RoomEvent};

#[tokio::test]
async fn after_close_the_server_no_longer_lists_the_publisher_and_no_native_handle_is_left(
) -> Result<()> {
    load_engine()?;
    let server = LiveKitServer::start().await?;
    let publisher = Publisher::start(
        &server.url(),
        &server.token("close", "creator", true),
        PublisherConfig::default(),
    )
    .await?;
    server
        .wait_presence("close", "creator", true, Duration::from_secs(5))
        .await?;
    assert!(onair_livekit::live_handle_count() > 0);

    let report = publisher.stop().await?;
    assert_eq!(report.unpublished.len(), 2, "{report:?}");
    assert!(report.disconnect_confirmed, "{report:?}");
    let gone = server
        .wait_presence("close", "creator", false, Duration::from_secs(1))
        .await?;
    eprintln!(
        "close took {:?}; participant gone from ListParticipants {gone:?} later",
        report.duration
    );

    // Closing again is harmless and reports the same.
    assert_eq!(publisher.room.close().await?, report);
    drop(publisher);
    assert_eq!(onair_livekit::live_handle_count(), 0);
    Ok(())
}

#[tokio::test]
async fn the_server_deleting_the_room_ends_the_stream_with_the_room_deleted_reason() -> Result<()> {
    load_engine()?;
    let server = LiveKitServer::start().await?;
    let mut publisher = Publisher::start(
        &server.url(),
        &server.token("doomed", "creator", true),
        PublisherConfig::default(),
    )
    .await?;
    server
        .wait_presence("doomed", "creator", true, Duration::from_secs(5))
        .await?;

    server.room_client().delete_room("doomed").await?;
    let event = publisher
        .wait_event(Duration::from_secs(5), |e| {
            matches!(e, RoomEvent::Disconnected { .. })
        })
        .await?;
    assert!(
        matches!(
            event,
            RoomEvent::Disconnected {
                reason: DisconnectReason::RoomDeleted
            }
        ),
        "{event:?}"
    );

    publisher.stop().await?;
    drop(publisher);
    assert_eq!(onair_livekit::live_handle_count(), 0);
    Ok(())
}

#[tokio::test]
async fn onair_live_exits_with_a_clear_message_when_the_server_deletes_the_room() -> Result<()> {
    let server = LiveKitServer::start().await?;
    let mut live =
        JsonProcess::onair_live(&server, "doomed", &["--width", "640", "--height", "360"])?;
    live.wait_event("live", Duration::from_secs(15)).await?;
    server.room_client().delete_room("doomed").await?;

    let code = live.finish(Duration::from_secs(15)).await?;
    assert_eq!(code, 3, "exit code; stderr: {}", live.stderr());
    assert!(
        live.stderr().contains("the server deleted the room"),
        "stderr: {}",
        live.stderr()
    );
    let ended = live.last_event("ended").expect("ended event");
    assert_eq!(ended["reason"], "room_deleted");
    assert_eq!(ended["live_handles"], 0);
    server
        .wait_presence("doomed", "creator", false, Duration::from_secs(2))
        .await?;
    Ok(())
}

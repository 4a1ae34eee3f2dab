//! Failures are typed, quick and readable; none hangs or panics.

use std::time::Duration;

use anyhow::Result;
use onair_e2e::harness::{load_engine, onair_bin, LiveKitServer};
use onair_livekit::{ConnectError, Room, RoomOptions};

#[tokio::test]
async fn a_bad_token_is_unauthorized_within_two_seconds() -> Result<()> {
    load_engine()?;
    let server = LiveKitServer::start().await?;
    let forged = livekit_api::access_token::AccessToken::with_api_key(
        "onair-test",
        "not-the-secret-but-long-enough-to-sign",
    )
    .with_identity("mallory")
    .with_grants(livekit_api::access_token::VideoGrants {
        room_join: true,
        room: "r".into(),
        ..Default::default()
    })
    .to_jwt()?;
    let result = tokio::time::timeout(
        Duration::from_secs(2),
        Room::connect(&server.url(), &forged, RoomOptions::default()),
    )
    .await
    .expect("answered within 2 s");
    let err = result.expect_err("refused");
    assert!(matches!(err, ConnectError::Unauthorized(_)), "{err:?}");
    assert_eq!(onair_livekit::live_handle_count(), 0);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_is_unreachable_within_the_connect_timeout() -> Result<()> {
    load_engine()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port(); // closed once dropped
    let options = RoomOptions {
        connect_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let result = tokio::time::timeout(
        Duration::from_secs(4),
        Room::connect(&format!("ws://127.0.0.1:{port}"), "token", options),
    )
    .await
    .expect("answered within the connect timeout");
    let err = result.expect_err("refused");
    assert!(matches!(err, ConnectError::Unreachable { .. }), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn a_url_that_is_not_a_server_url_is_refused_before_connecting() -> Result<()> {
    load_engine()?;
    let err = Room::connect("ftp://example", "token", RoomOptions::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ConnectError::InvalidUrl(_)), "{err:?}");
    Ok(())
}

#[test]
fn a_missing_sdk_library_is_reported_with_the_place_looked_in() -> Result<()> {
    let output = std::process::Command::new(onair_bin()?)
        .args(["live", "--token", "t", "--duration", "1"])
        .env("ONAIR_LIVEKIT_LIB", "/nonexistent/liblivekit_ffi.so")
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/liblivekit_ffi.so"),
        "{stderr}"
    );
    assert!(stderr.contains("scripts/setup.sh"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    Ok(())
}

#[test]
fn without_an_explicit_path_every_place_searched_is_named() {
    let options = onair_livekit::LoadOptions {
        resource_dir: Some("/opt/onair/resources".into()),
        ..Default::default()
    };
    let places = options.candidates();
    let exe_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .join(onair_livekit::LIBRARY_FILE);
    assert_eq!(places.first(), Some(&exe_dir));
    assert!(
        places.contains(&"/opt/onair/resources/liblivekit_ffi.so".into()),
        "{places:?}"
    );
}

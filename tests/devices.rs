//! Devices as a creator meets them on a machine without a camera (ours): `onair devices`
//! says so, and asking `onair live` for a camera fails with the typed error before it joins
//! anything.

use std::time::Duration;

use onair_e2e::harness::JsonProcess;

fn no_camera_here() -> bool {
    !std::path::Path::new("/dev/video0").exists()
}

#[tokio::test(flavor = "multi_thread")]
async fn onair_devices_says_there_is_no_camera() {
    if !no_camera_here() {
        return;
    }
    let mut devices = JsonProcess::onair(&["devices"]).unwrap();
    assert_eq!(devices.finish(Duration::from_secs(20)).await.unwrap(), 0);
    let cameras = devices
        .last_event("cameras")
        .expect("a cameras line")
        .clone();
    assert_eq!(cameras["cameras"], serde_json::json!([]));
    assert!(devices.last_event("microphones").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn asking_for_a_camera_without_one_fails_with_no_device_before_joining() {
    if !no_camera_here() {
        return;
    }
    // An address where nothing listens: the camera error must come first.
    let mut live = JsonProcess::onair(&[
        "live",
        "--camera",
        "default",
        "--url",
        "ws://127.0.0.1:9",
        "--token",
        "unused",
    ])
    .unwrap();
    let code = live.finish(Duration::from_secs(20)).await.unwrap();
    let error = live.last_event("error").expect("an error line").clone();
    assert_eq!(error["kind"], "no_device", "{error}");
    assert!(error["hint"].as_str().unwrap().contains("onair devices"));
    assert!(live.last_event("connected").is_none());
    assert_ne!(code, 0);
}

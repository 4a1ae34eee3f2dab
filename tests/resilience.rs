//! A live session staying live: livekit-server killed and restarted, the SDK's own
//! reconnect scenarios, the backend going away, and the devices going through the session.
//! Real livekit-server, real backend, real Python viewers; one test at a time.

use std::time::Duration;

use anyhow::{Context, Result};
use onair_e2e::backend::{wait_view, Stack};
use onair_e2e::harness::{load_engine, retry_for, JsonProcess};
use onair_e2e::pulse::Pulse;
use onair_livekit::{AudioProcessingOptions, SimulateScenario};
use onair_session::{
    AudioInput, LiveSession, SessionError, SessionSettings, SessionState, VideoInput,
};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(20);

fn settings() -> SessionSettings {
    SessionSettings {
        title: "Resilience".into(),
        width: 640,
        height: 360,
        ..Default::default()
    }
}

async fn wait_state(
    session: &LiveSession,
    limit: Duration,
    pred: impl Fn(&SessionState) -> bool,
) -> Result<SessionState> {
    let mut states = session.states();
    let found = tokio::time::timeout(limit, states.wait_for(|e| pred(&e.state))).await;
    match found {
        Ok(event) => Ok(event?.state.clone()),
        Err(_) => anyhow::bail!("no such state within {limit:?}; now {:?}", session.state()),
    }
}

/// Waits for a notice containing `text`.
async fn wait_notice(session: &LiveSession, limit: Duration, text: &str) -> Result<String> {
    let mut notices = session.notices();
    let found = tokio::time::timeout(
        limit,
        notices.wait_for(|all| all.iter().any(|n| n.message.contains(text))),
    )
    .await;
    let all = session.notices().borrow().clone();
    match found {
        Ok(_) => Ok(all
            .iter()
            .find(|n| n.message.contains(text))
            .map(|n| n.message.clone())
            .unwrap_or_default()),
        Err(_) => anyhow::bail!("no notice with {text:?} within {limit:?}; notices {all:?}"),
    }
}

/// Waits for a viewer report with new frames in it, returning how many.
async fn frames_flowing(viewer: &mut JsonProcess, limit: Duration) -> Result<u64> {
    let report = viewer
        .wait_new("a report with new frames", limit, |r| {
            r["event"] == "report" && r["new_frames"].as_u64().unwrap_or(0) > 0
        })
        .await?;
    Ok(report["new_frames"].as_u64().unwrap_or(0))
}

/// Restarts the killed server and waits (at most 10 s) until a viewer joining then decodes
/// a frame of the session's stream; returns that viewer and the time from the server's return.
async fn restart_and_watch(
    s: &mut Stack,
    session: &LiveSession,
) -> Result<(JsonProcess, Duration)> {
    s.livekit.restart().await?;
    let back = Instant::now();
    let mut viewer = JsonProcess::viewer(&s.livekit, "alice", "viewer-after", WAIT)?;
    viewer
        .wait_event("first_frame", Duration::from_secs(10))
        .await
        .with_context(|| {
            format!(
                "state {:?}, notices {:?}",
                session.state(),
                session.notices().borrow()
            )
        })?;
    Ok((viewer, back.elapsed()))
}

#[tokio::test(flavor = "multi_thread")]
async fn when_livekit_server_is_killed_and_restarted_the_session_rejoins_and_a_viewer_sees_frames_within_10_s(
) -> Result<()> {
    load_engine()?;
    let mut s = Stack::start("alice").await?;
    let session = LiveSession::go_live(s.client.clone(), settings()).await?;

    s.livekit.kill()?;
    let lost = wait_state(&session, WAIT, |st| {
        matches!(st, SessionState::Reconnecting { .. })
    })
    .await?;
    println!("after the kill: {lost:?}");
    let (mut viewer, decoded) = restart_and_watch(&mut s, &session).await?;
    wait_state(&session, Duration::from_secs(10), |st| {
        *st == SessionState::Live
    })
    .await?;
    println!(
        "server back → a viewer decodes frames in {decoded:?}; notices {:?}",
        session.notices().borrow()
    );
    frames_flowing(&mut viewer, Duration::from_secs(5)).await?;
    // The same stream carries on in the backend's records.
    let report = session.end().await;
    println!("{report:#?}");
    assert!(report.participant_gone, "{report:#?}");
    let history = s.backend.history("alice").await?;
    assert_eq!(
        history.len(),
        1,
        "one stream across the restart: {history:?}"
    );
    s.livekit
        .wait_presence("alice", "creator-alice", false, Duration::from_secs(5))
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_sdk_gives_up_the_session_rejoins_with_a_fresh_token_and_reconnect_now_skips_the_wait(
) -> Result<()> {
    load_engine()?;
    let releases_before = onair_livekit::native_releases();
    let mut s = Stack::start("alice").await?;
    let session = LiveSession::go_live(s.client.clone(), settings()).await?;
    s.livekit.kill()?;
    let killed = Instant::now();
    // The SDK retries for a while by itself; then the session's own loop takes over.
    let notice = wait_notice(&session, Duration::from_secs(120), "lost the room").await?;
    println!(
        "the SDK gave up {:?} after the kill: {notice}",
        killed.elapsed()
    );
    let attempt = |st: &SessionState| match st {
        SessionState::Reconnecting { attempt, .. } => *attempt,
        _ => 0,
    };
    // Let the waits between attempts grow past a second, then skip one.
    wait_state(&session, WAIT, |st| attempt(st) >= 4).await?;
    let before = attempt(&session.state());
    let asked = Instant::now();
    session.reconnect_now();
    let next = wait_state(&session, Duration::from_secs(1), |st| attempt(st) > before).await?;
    println!(
        "reconnect now: attempt {before} → {} in {:?}",
        attempt(&next),
        asked.elapsed()
    );
    assert!(matches!(next, SessionState::Reconnecting { .. }));

    let (mut viewer, decoded) = restart_and_watch(&mut s, &session).await?;
    println!("server back → a viewer decodes frames in {decoded:?}");
    let rejoined = wait_notice(&session, Duration::from_secs(5), "rejoined").await?;
    println!("{rejoined}");
    assert_eq!(session.state(), SessionState::Live);
    frames_flowing(&mut viewer, Duration::from_secs(5)).await?;
    let report = session.end().await;
    assert!(report.all_ok(), "{report:#?}");
    let history = s.backend.history("alice").await?;
    assert_eq!(
        history.len(),
        1,
        "the rejoin continued the same stream: {history:?}"
    );
    // The room the SDK gave up is dropped without a close: its handles go with a disconnect
    // request and are dropped when that completes, inside the SDK's callback. Released there,
    // the room's teardown ran on the SDK's own thread (the path of a native abort seen in
    // libwebrtc: `pthread_join` → EDEADLK); they must reach our releasing thread instead.
    let releases = onair_livekit::native_releases();
    println!("native releases: {releases_before:?} → {releases:?}");
    assert!(
        releases.handed_off > releases_before.handed_off,
        "no handle was dropped inside the SDK's callback: the path this checks was not taken"
    );
    assert_eq!(
        releases.on_sdk_thread, 0,
        "native handles were released on the SDK's own thread"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdks_signal_reconnect_and_full_reconnect_both_end_live_again_with_frames_flowing(
) -> Result<()> {
    load_engine()?;
    let s = Stack::start("alice").await?;
    for scenario in [
        SimulateScenario::SignalReconnect,
        SimulateScenario::FullReconnect,
    ] {
        let session = LiveSession::go_live(s.client.clone(), settings()).await?;
        let mut viewer =
            JsonProcess::viewer(&s.livekit, "alice", &format!("viewer-{scenario:?}"), WAIT)?;
        viewer.wait_event("first_frame", WAIT).await?;
        let room = session.room().await.context("live sessions have a room")?;
        let started = Instant::now();
        room.simulate_scenario(scenario).await?;
        let notice = wait_notice(&session, WAIT, "reconnected").await?;
        wait_state(&session, WAIT, |st| *st == SessionState::Live).await?;
        println!(
            "{scenario:?}: live again after {:?} ({notice})",
            started.elapsed()
        );
        // Frames reach the viewer after the reconnect (its reports come once a second).
        frames_flowing(&mut viewer, WAIT).await?;
        let ended = session.end().await;
        assert!(ended.all_ok(), "{scenario:?}: {ended:#?}");
        viewer.terminate()?;
        viewer.finish(WAIT).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_backend_gone_the_stream_keeps_reaching_the_viewer_and_the_count_is_stale_until_it_returns(
) -> Result<()> {
    load_engine()?;
    let mut s = Stack::start("alice").await?;
    let session = LiveSession::go_live(s.client.clone(), settings()).await?;
    let token = s.backend.viewer_token("alice").await?;
    let mut viewer =
        JsonProcess::viewer_with_token(&token.url, &token.token, Duration::from_secs(60))?;
    viewer.wait_event("first_frame", WAIT).await?;
    let mut view = session.viewers().context("a count while live")?;
    wait_view(&mut view, WAIT, |v| {
        v.count.as_ref().is_some_and(|c| c.viewers == 1)
    })
    .await?;

    s.backend.stop().await?;
    let stopped = Instant::now();
    let stale = wait_view(&mut view, Duration::from_secs(5), |v| v.is_stale()).await?;
    println!(
        "count stale {:?} after the backend stopped: {stale:?}",
        stopped.elapsed()
    );
    assert_eq!(
        stale.count.map(|c| c.viewers),
        Some(1),
        "the last count stays, marked stale"
    );
    // Media does not go through the backend: two consecutive viewer reports with frames.
    for _ in 0..2 {
        frames_flowing(&mut viewer, Duration::from_secs(5)).await?;
    }
    assert_eq!(session.state(), SessionState::Live);

    s.backend.restart().await?;
    let restarted = Instant::now();
    let fresh = wait_view(&mut view, Duration::from_secs(10), |v| !v.is_stale()).await?;
    println!(
        "fresh again {:?} after the backend returned: {fresh:?}",
        restarted.elapsed()
    );
    assert_eq!(fresh.count.map(|c| c.viewers), Some(1));
    let report = session.end().await;
    assert!(report.all_ok(), "{report:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_with_the_microphone_is_heard_by_the_viewer_and_end_closes_the_device(
) -> Result<()> {
    load_engine()?;
    let mut pulse = Pulse::start().await?;
    pulse.play(660, 0.5);
    let s = Stack::start("alice").await?;
    let session = LiveSession::go_live(
        s.client.clone(),
        SessionSettings {
            audio: AudioInput::Microphone {
                device: None,
                processing: AudioProcessingOptions::default(),
            },
            ..settings()
        },
    )
    .await?;
    assert_eq!(session.devices_open().await, 1);
    assert_eq!(pulse.source_outputs(), 1, "one recording stream while live");
    let mut viewer = JsonProcess::viewer(&s.livekit, "alice", "listener", WAIT)?;
    let heard = viewer
        .wait_for("a report hearing 660 Hz", WAIT, |r| {
            r["event"] == "report"
                && r["audio_hz"]
                    .as_f64()
                    .is_some_and(|hz| (hz - 660.0).abs() < 5.0)
        })
        .await?;
    println!("the viewer hears {} Hz", heard["audio_hz"]);

    let report = session.end().await;
    println!("{report:#?}");
    assert!(report.all_ok(), "{report:#?}");
    assert!(
        report.steps[0]
            .result
            .as_ref()
            .is_ok_and(|d| d.starts_with("1 device(s) closed")),
        "{:?}",
        report.steps[0]
    );
    assert_eq!(session.devices_open().await, 0);
    retry_for(
        Duration::from_secs(2),
        Duration::from_millis(10),
        || async {
            anyhow::ensure!(
                pulse.source_outputs() == 0,
                "the recording stream is still open"
            );
            Ok(())
        },
    )
    .await?;
    Ok(())
}

/// Keys in memory: this test is about devices, not the keyring.
#[derive(Default)]
struct MemoryKeys(std::sync::Mutex<std::collections::HashMap<String, String>>);

impl onair_app::KeyStore for MemoryKeys {
    fn get(&self, url: &str) -> Result<Option<String>, onair_client::credentials::CredentialError> {
        Ok(self.0.lock().unwrap().get(url).cloned())
    }
    fn set(&self, url: &str, key: &str) -> Result<(), onair_client::credentials::CredentialError> {
        self.0.lock().unwrap().insert(url.into(), key.into());
        Ok(())
    }
    fn delete(&self, url: &str) -> Result<(), onair_client::credentials::CredentialError> {
        self.0.lock().unwrap().remove(url);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_studios_preview_microphone_goes_on_air_as_the_same_recording_stream() -> Result<()> {
    use onair_app::{AudioChoice, PreviewChoice, StudioSettings, VideoChoice};
    load_engine()?;
    let mut pulse = Pulse::start().await?;
    pulse.play(660, 0.5);
    let s = Stack::start("alice").await?;
    let dir = tempfile::tempdir()?;
    let (studio, problem) = onair_app::Studio::open(dir.path(), Box::new(MemoryKeys::default()));
    assert_eq!(problem, None);
    studio.sign_in(&s.backend.url(""), &s.key).await?;
    let mic = AudioChoice::Microphone {
        id: "default".into(),
    };
    studio
        .set_preview(Some(PreviewChoice {
            video: VideoChoice::TestPattern,
            audio: mic.clone(),
        }))
        .await?;
    let in_preview = pulse.source_output_ids();
    assert_eq!(
        in_preview.len(),
        1,
        "the preview's meter records: {in_preview:?}"
    );

    studio
        .go_live(StudioSettings {
            video: VideoChoice::TestPattern,
            audio: mic,
            title: "Handoff".into(),
            ppv_price: String::new(),
            record: false,
        })
        .await?;
    assert_eq!(
        pulse.source_output_ids(),
        in_preview,
        "the preview's recording stream went on air: not closed, not opened again"
    );
    let mut viewer = JsonProcess::viewer(&s.livekit, "alice", "listener", WAIT)?;
    viewer
        .wait_for("a report hearing 660 Hz", WAIT, |r| {
            r["event"] == "report"
                && r["audio_hz"]
                    .as_f64()
                    .is_some_and(|hz| (hz - 660.0).abs() < 5.0)
        })
        .await?;
    assert_eq!(pulse.source_output_ids(), in_preview);

    let report = studio.end().await.context("a report")?;
    assert!(report.all_ok, "{report:#?}");
    retry_for(
        Duration::from_secs(2),
        Duration::from_millis(10),
        || async {
            anyhow::ensure!(
                pulse.source_outputs() == 0,
                "the recording stream is still open"
            );
            Ok(())
        },
    )
    .await?;
    studio.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn asking_for_a_camera_where_there_is_none_fails_go_live_with_no_device_and_leaves_nothing(
) -> Result<()> {
    load_engine()?;
    let s = Stack::start("alice").await?;
    let err = match LiveSession::go_live(
        s.client.clone(),
        SessionSettings {
            video: VideoInput::Camera(None),
            ..settings()
        },
    )
    .await
    {
        Ok(_) => anyhow::bail!("went live without a camera"),
        Err(err) => err,
    };
    println!("{err}");
    assert!(
        matches!(
            err,
            SessionError::Capture(onair_capture::CaptureError::NoDevice("camera"))
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), "no_device");
    assert_eq!(onair_livekit::live_handle_count(), 0);
    assert!(s
        .livekit
        .participants("alice")
        .await
        .unwrap_or_default()
        .is_empty());
    // The stream the token opened is closed again, never on air.
    let history = s.backend.history("alice").await?;
    assert!(
        history.iter().all(|r| r.started_at.is_none()),
        "{history:?}"
    );
    Ok(())
}

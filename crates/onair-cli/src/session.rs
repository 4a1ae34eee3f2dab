//! `onair live --backend URL`: going live the way the studio does — a publisher token from
//! the OnAir backend, the viewer count it pushes, and the session's ordered teardown with its
//! report. The streamer's API key comes from ONAIR_API_KEY or the OS keyring.

use std::time::Duration;

use onair_client::{credentials, BackendClient};
use onair_livekit::LoadOptions;
use onair_session::{LiveSession, SessionSettings, SessionState};
use serde_json::json;

use crate::error::CliError;
use crate::live::{audio_input, flatten, video_input, LiveArgs};
use crate::output::{ms, Reporter};

pub(crate) fn api_key(backend: &str) -> Result<String, CliError> {
    if let Ok(key) = std::env::var("ONAIR_API_KEY") {
        if !key.trim().is_empty() {
            return Ok(key.trim().to_owned());
        }
    }
    match credentials::stored_api_key(backend) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(CliError::Usage(format!(
            "no API key for {backend}: set ONAIR_API_KEY to the key `onair-server streamer add` printed, or sign in with the studio"
        ))),
        Err(err) => Err(CliError::Usage(err.to_string())),
    }
}

pub async fn run(
    args: &LiveArgs,
    backend: &str,
    load: &LoadOptions,
    out: &Reporter,
) -> Result<u8, CliError> {
    let key = api_key(backend)?;
    let info = onair_livekit::load(load)?;
    out.event(
        "loaded",
        json!({"path": info.path, "load_ms": ms(info.load_time)}),
        || format!("LiveKit SDK loaded from {}", info.path.display()),
    );
    let settings = SessionSettings {
        title: args.title.clone(),
        ppv_price: args.ppv_price.clone(),
        scheduled_stream_id: args.scheduled,
        video: video_input(args),
        audio: audio_input(args),
        width: args.width,
        height: args.height,
        fps: args.fps,
        codec: args.codec,
        simulcast: args.simulcast,
        max_bitrate: args.max_bitrate,
        record: crate::recording::settings(&args.record, args.record_encoder),
        ..Default::default()
    };
    let session = LiveSession::go_live(BackendClient::new(backend, &key), settings)
        .await
        .map_err(flatten)?;
    let timeline = session.timeline();
    out.event(
        "live",
        json!({"stream_id": session.stream_id(), "timeline": timeline.iter().map(|t| json!({"step": t.step, "ms": ms(t.duration)})).collect::<Vec<_>>()}),
        || {
            let steps: Vec<String> = timeline
                .iter()
                .map(|t| format!("{} {:.0} ms", t.step, ms(t.duration)))
                .collect();
            format!(
                "LIVE (stream {}) — {}. Ctrl-C ends the stream.",
                session.stream_id().unwrap_or_default(),
                steps.join(", ")
            )
        },
    );

    let mut viewers = session.viewers().expect("live sessions count viewers");
    let mut states = session.states();
    let mut notices = session.notices();
    let mut notices_seen = 0u64;
    let mut sigterm = crate::sigterm()?;
    let deadline = args
        .duration
        .map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d));
    let mut shown: Option<(Option<u32>, bool)> = None;
    // Until a signal, the server ending the room, or (with --duration) the deadline.
    let until_ended = async {
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break false,
                _ = sigterm.recv() => break false,
                changed = states.changed() => {
                    if changed.is_err() {
                        break true;
                    }
                    let event = states.borrow_and_update().clone();
                    match &event.state {
                        SessionState::Ended => break true,
                        SessionState::Reconnecting { attempt, detail } => out.event(
                            "reconnecting",
                            json!({"attempt": attempt, "detail": detail}),
                            || format!("connection lost — {detail}"),
                        ),
                        SessionState::Live => out.event("reconnected", json!({}), || "live again".into()),
                        _ => {}
                    }
                }
                changed = notices.changed() => {
                    if changed.is_err() {
                        continue;
                    }
                    let all = notices.borrow_and_update().clone();
                    let seen = notices_seen;
                    for notice in all.iter().filter(|n| n.seq > seen) {
                        out.event("notice", json!({"message": notice.message, "at_ms": notice.at_ms}), || notice.message.clone());
                        notices_seen = notice.seq;
                    }
                }
                changed = viewers.changed() => {
                    if changed.is_err() {
                        continue;
                    }
                    let view = viewers.borrow_and_update().clone();
                    let now = (view.count.as_ref().map(|c| c.viewers), view.is_stale());
                    if shown != Some(now) {
                        shown = Some(now);
                        out.event(
                            "viewers",
                            json!({"viewers": now.0, "stale": now.1, "peak": view.count.as_ref().map(|c| c.peak)}),
                            || match now {
                                (Some(n), false) => format!("viewers: {n}"),
                                (Some(n), true) => format!("viewers: {n} (not confirmed: the backend is unreachable, retrying)"),
                                (None, _) => "viewers: unknown (connecting to the backend)".into(),
                            },
                        );
                    }
                }
            }
        }
    };
    let by_server = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, until_ended)
            .await
            .unwrap_or(false),
        None => until_ended.await,
    };
    let stream_id = session.stream_id();
    let report = session.end().await;
    let mut uploaded = true;
    if let Some(end) = &report.recording {
        crate::recording::ended(out, end);
        if let (true, Some(stream_id), Some(path)) = (args.upload, stream_id, end.kept_file()) {
            let client = BackendClient::new(backend, &key);
            if let Err(err) = crate::replay::upload(&client, stream_id, path, out).await {
                eprintln!("error: the replay upload failed: {err}");
                uploaded = false;
            }
        }
    }
    out.event(
        "ended",
        json!({
            "reason": report.reason,
            "participant_gone": report.participant_gone,
            "total_ms": ms(report.total),
            "recording": report.recording.as_ref().map(crate::recording::end_json),
            "steps": report.steps.iter().map(|s| json!({
                "step": s.step,
                "ms": ms(s.duration),
                "ok": s.result.is_ok(),
                "detail": match &s.result { Ok(d) | Err(d) => d },
            })).collect::<Vec<_>>(),
        }),
        || {
            let mut text = format!(
                "stream ended ({}) in {:.0} ms:",
                report.reason,
                ms(report.total)
            );
            for s in &report.steps {
                let (mark, detail) = match &s.result {
                    Ok(d) => ("ok  ", d),
                    Err(d) => ("FAIL", d),
                };
                text.push_str(&format!(
                    "\n  {mark} {:<24} {:>7.1} ms  {detail}",
                    s.step,
                    ms(s.duration)
                ));
            }
            text
        },
    );
    Ok(if by_server {
        3
    } else if report.all_ok() && uploaded {
        0
    } else {
        1
    })
}

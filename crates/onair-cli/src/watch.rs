//! `onair watch`: what a viewer sees, measured each second: frames decoded, resolution, frame
//! rate, glass-to-glass latency from the publisher's frame metadata, frame-id gaps, the
//! test pattern's stamp read back from pixels, and the audio's level and dominant frequency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use futures::StreamExt;
use onair_capture::analysis::{dominant_frequency, Level};
use onair_core::clock;
use onair_livekit::{
    LoadOptions, NativeAudioStream, NativeVideoStream, Room, RoomEvent, RoomOptions, TrackKind,
};
use serde_json::json;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::error::CliError;
use crate::output::{ms, Reporter};
use crate::token::{Credentials, Role};

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub creds: Credentials,
    /// Stop after this many seconds (default: until Ctrl-C, SIGTERM or the stream ends).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Read the test pattern's stamp from every Nth frame (0: never).
    #[arg(long, default_value_t = 10)]
    pub stamp_every: u32,
}

/// Per-second counters, reset after each report.
#[derive(Default)]
struct Window {
    frames: u32,
    latencies_ms: Vec<f64>,
    width: u32,
    height: u32,
    last_frame_id: Option<u32>,
    gaps: u32,
    out_of_order: u32,
    stamps_read: u32,
    stamps_matched: u32,
    audio: Vec<i16>,
}

#[derive(Default)]
struct Totals {
    frames: u64,
    gaps: u64,
    out_of_order: u64,
    first_frame_ms: Option<f64>,
    latencies_ms: Vec<f64>,
    last_frame_id: Option<u32>,
}

pub async fn run(args: WatchArgs, load: &LoadOptions, out: &Reporter) -> Result<u8, CliError> {
    let token = args.creds.token(Role::Viewer)?;
    let info = onair_livekit::load(load)?;
    out.event(
        "loaded",
        json!({"path": info.path, "load_ms": ms(info.load_time)}),
        || format!("LiveKit SDK loaded from {}", info.path.display()),
    );
    let start = Instant::now();
    let options = RoomOptions {
        auto_subscribe: true,
        ..Default::default()
    };
    let (room, mut events) = Room::connect(&args.creds.url, &token, options).await?;
    out.event(
        "connected",
        json!({"room": room.name(), "ms": ms(start.elapsed())}),
        || {
            format!(
                "watching room {:?} (joined in {:.0} ms)",
                room.name(),
                ms(start.elapsed())
            )
        },
    );

    let window = Arc::new(Mutex::new(Window::default()));
    let totals = Arc::new(Mutex::new(Totals::default()));
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let deadline = args
        .duration
        .map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d.max(0.0)));
    let mut report = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let mut seconds = 0u32;
    let mut code = 0u8;
    let mut sigterm = crate::sigterm()?;

    loop {
        tokio::select! {
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            event = events.recv() => match event {
                Some(RoomEvent::TrackSubscribed { participant_identity, track }) => {
                    out.event("subscribed", json!({"participant": participant_identity, "sid": track.sid(), "kind": format!("{:?}", track.kind()).to_lowercase()}),
                        || format!("subscribed to {}'s {:?} track {}", participant_identity, track.kind(), track.sid()));
                    match track.kind() {
                        TrackKind::Video => {
                            let stream = NativeVideoStream::new(&track, 4)?;
                            let (window, totals, cancel) = (window.clone(), totals.clone(), cancel.clone());
                            let stamp_every = args.stamp_every;
                            tasks.spawn(watch_video(stream, window, totals, cancel, start, stamp_every)
                                .instrument(tracing::debug_span!("onair-watch-video")));
                        }
                        TrackKind::Audio => {
                            let stream = NativeAudioStream::new(&track, 48_000, 1, 50)?;
                            let (window, cancel) = (window.clone(), cancel.clone());
                            tasks.spawn(watch_audio(stream, window, cancel)
                                .instrument(tracing::debug_span!("onair-watch-audio")));
                        }
                        TrackKind::Unknown => {}
                    }
                }
                Some(RoomEvent::TrackMuted { participant_identity, sid }) => out.event("muted", json!({"participant": participant_identity, "sid": sid}), || format!("{participant_identity} muted {sid}")),
                Some(RoomEvent::TrackUnmuted { participant_identity, sid }) => out.event("unmuted", json!({"participant": participant_identity, "sid": sid}), || format!("{participant_identity} unmuted {sid}")),
                Some(RoomEvent::TrackUnpublished { participant_identity, sid }) => out.event("unpublished", json!({"participant": participant_identity, "sid": sid}), || format!("{participant_identity} unpublished {sid}")),
                Some(RoomEvent::ParticipantDisconnected { identity, reason }) => out.event("participant_left", json!({"identity": identity, "reason": reason.as_str()}), || format!("{identity} left ({})", reason.describe())),
                Some(RoomEvent::Disconnected { reason }) => {
                    out.event("disconnected", json!({"reason": reason.as_str(), "message": reason.describe()}), || format!("stream over: {}", reason.describe()));
                    if reason != onair_livekit::DisconnectReason::RoomDeleted {
                        code = 3;
                    }
                    break;
                }
                Some(_) => {}
                None => break,
            },
            _ = report.tick() => {
                seconds += 1;
                let w = std::mem::take(&mut *window.lock().expect("window lock"));
                let mut latencies = w.latencies_ms.clone();
                latencies.sort_by(f64::total_cmp);
                let p50 = percentile(&latencies, 0.5);
                let max = latencies.last().copied();
                let level = (!w.audio.is_empty()).then(|| Level::of_i16(&w.audio));
                let mono: Vec<f32> = w.audio.iter().map(|&s| s as f32 / 32768.0).collect();
                let hz = dominant_frequency(&mono, 48_000);
                out.event("report", json!({
                    "second": seconds, "frames": w.frames, "width": w.width, "height": w.height,
                    "latency_ms_p50": p50, "latency_ms_max": max, "last_frame_id": w.last_frame_id,
                    "frame_id_gaps": w.gaps, "out_of_order": w.out_of_order,
                    "stamps_read": w.stamps_read, "stamps_matched": w.stamps_matched,
                    "audio_rms_dbfs": level.map(|l| l.rms_dbfs), "audio_hz": hz,
                }), || format!("{:>4} s · {:>3} frames · {}x{} · glass-to-glass {} · gaps {} · stamps {}/{} · audio {} {}",
                    seconds, w.frames, w.width, w.height,
                    p50.map(|p| format!("{p:.1} ms")).unwrap_or_else(|| "–".into()),
                    w.gaps, w.stamps_matched, w.stamps_read,
                    level.map(|l| format!("{:.1} dBFS", l.rms_dbfs)).unwrap_or_else(|| "–".into()),
                    hz.map(|h| format!("{h:.1} Hz")).unwrap_or_default()));
            }
        }
    }

    cancel.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), tasks.wait()).await;
    let close = room.close().await?;
    drop(room);
    let t = totals.lock().expect("totals lock");
    let mut all = t.latencies_ms.clone();
    all.sort_by(f64::total_cmp);
    out.event("ended", json!({
        "frames": t.frames, "frame_id_gaps": t.gaps, "out_of_order": t.out_of_order,
        "first_frame_ms": t.first_frame_ms, "latency_ms_p50": percentile(&all, 0.5), "latency_ms_p95": percentile(&all, 0.95),
        "close_ms": ms(close.duration), "live_handles": onair_livekit::live_handle_count(),
    }), || format!("watched {} frames; first frame after {}; glass-to-glass p50 {} p95 {}; {} frame-id gaps",
        t.frames,
        t.first_frame_ms.map(|m| format!("{m:.0} ms")).unwrap_or_else(|| "–".into()),
        percentile(&all, 0.5).map(|p| format!("{p:.1} ms")).unwrap_or_else(|| "–".into()),
        percentile(&all, 0.95).map(|p| format!("{p:.1} ms")).unwrap_or_else(|| "–".into()),
        t.gaps));
    Ok(code)
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    Some(sorted[i])
}

async fn watch_video(
    mut stream: NativeVideoStream,
    window: Arc<Mutex<Window>>,
    totals: Arc<Mutex<Totals>>,
    cancel: CancellationToken,
    start: Instant,
    stamp_every: u32,
) {
    let mut count = 0u32;
    loop {
        let frame = tokio::select! {
            _ = cancel.cancelled() => break,
            frame = stream.next() => match frame { Some(f) => f, None => break },
        };
        let now_us = clock::unix_micros();
        let meta = frame.metadata();
        let latency = meta
            .user_timestamp
            .filter(|&t| t > 0 && t <= now_us + 1_000_000)
            .map(|t| (now_us as f64 - t as f64) / 1000.0);
        let stamp = (stamp_every > 0 && count.is_multiple_of(stamp_every)).then(|| {
            frame
                .to_i420()
                .and_then(|f| onair_capture::decode_stamp(&f))
        });
        count += 1;
        let mut w = window.lock().expect("window lock");
        let mut t = totals.lock().expect("totals lock");
        w.frames += 1;
        t.frames += 1;
        if t.first_frame_ms.is_none() {
            t.first_frame_ms = Some(ms(start.elapsed()));
        }
        w.width = frame.width();
        w.height = frame.height();
        if let Some(l) = latency {
            w.latencies_ms.push(l);
            t.latencies_ms.push(l);
        }
        if let Some(id) = meta.frame_id {
            if let Some(last) = t.last_frame_id {
                if id > last + 1 {
                    w.gaps += 1;
                    t.gaps += 1;
                } else if id <= last {
                    w.out_of_order += 1;
                    t.out_of_order += 1;
                }
            }
            w.last_frame_id = Some(id);
            t.last_frame_id = Some(id);
        }
        if let Some(stamp) = stamp {
            w.stamps_read += 1;
            if stamp.is_some_and(|s| Some(s.frame_id) == meta.frame_id) {
                w.stamps_matched += 1;
            }
        }
    }
}

async fn watch_audio(
    mut stream: NativeAudioStream,
    window: Arc<Mutex<Window>>,
    cancel: CancellationToken,
) {
    loop {
        let frame = tokio::select! {
            _ = cancel.cancelled() => break,
            frame = stream.next() => match frame { Some(f) => f, None => break },
        };
        // Analyse the first channel only.
        let mut w = window.lock().expect("window lock");
        w.audio
            .extend(frame.samples.iter().step_by(frame.channels.max(1) as usize));
    }
}

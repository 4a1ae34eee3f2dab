//! `onair live`: the test pattern and a tone (or a camera and a microphone), published until Ctrl-C, SIGTERM, `--duration`
//! or the server ending the room; then an ordered teardown.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use onair_core::VideoCodec;
use onair_livekit::{
    AudioProcessingOptions, DegradationPreference, EncoderBackend, LoadOptions, Room, RoomEvent,
    RoomOptions, TrackPublishOptions,
};
use onair_session::link::{self, PublishOptions};
use onair_session::media::Sources;
use onair_session::{AudioInput, SessionError, VideoInput};
use serde_json::json;

use crate::error::CliError;
use crate::output::{ms, Reporter};
use crate::recording;
use crate::token::{Credentials, Role};
use onair_session::record::FINISH_LIMIT;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Degradation {
    Balanced,
    MaintainFramerate,
    MaintainResolution,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Encoder {
    Auto,
    Software,
    Hardware,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    #[command(flatten)]
    pub creds: Credentials,
    /// Go live through this OnAir backend (publisher token, viewer count, teardown report)
    /// instead of minting a token; the API key comes from ONAIR_API_KEY or the OS keyring.
    #[arg(long, env = "ONAIR_BACKEND", value_name = "URL")]
    pub backend: Option<String>,
    /// Stream title (with --backend).
    #[arg(long, default_value = "Live from the terminal")]
    pub title: String,
    /// Pay-per-view price, e.g. 4.99 (with --backend).
    #[arg(long, value_name = "PRICE")]
    pub ppv_price: Option<String>,
    /// Go live as this scheduled stream (`onair schedule list` shows ids; with --backend).
    /// Without it, a stream scheduled to start within 30 minutes, or up to 2 hours ago, is
    /// taken over by itself.
    #[arg(long, value_name = "ID")]
    pub scheduled: Option<i64>,
    /// Width of the test pattern in pixels (even, at least 160).
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// Height of the test pattern in pixels (even, at least 90).
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Frames per second (also the encoder's maximum).
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
    /// vp8, h264, vp9 or av1.
    #[arg(long, default_value = "vp8")]
    pub codec: VideoCodec,
    /// Send three layers so each viewer gets what its connection can take.
    #[arg(long)]
    pub simulcast: bool,
    /// Top-layer bitrate in bits per second (suffixes k and M allowed: 2.5M).
    #[arg(long, value_parser = parse_bitrate)]
    pub max_bitrate: Option<u64>,
    /// What the encoder gives up first when bandwidth or CPU is short.
    #[arg(long, value_enum, default_value = "balanced")]
    pub degradation: Degradation,
    /// Which encoder the SDK uses: hardware when available (auto), or force one.
    #[arg(long, value_enum, default_value = "auto")]
    pub encoder: Encoder,
    /// Frequency of the tone in Hz.
    #[arg(long, default_value_t = 440.0)]
    pub tone_hz: f64,
    /// Publish this camera instead of the test pattern (an id from `onair devices`, or
    /// "default" for the first camera); --width/--height/--fps ask for its mode (the closest
    /// it offers is used).
    #[arg(long, value_name = "ID")]
    pub camera: Option<String>,
    /// Publish this microphone instead of the tone (an id from `onair devices`, or
    /// "default" for the system's default input).
    #[arg(long, value_name = "ID")]
    pub mic: Option<String>,
    /// With --mic: WebRTC noise suppression from the SDK (off by default).
    #[arg(long, requires = "mic")]
    pub noise_suppression: bool,
    /// With --mic: echo cancellation from the SDK (off by default).
    #[arg(long, requires = "mic")]
    pub echo_cancellation: bool,
    /// With --mic: automatic gain from the SDK (off by default).
    #[arg(long, requires = "mic")]
    pub auto_gain: bool,
    /// Publish video only.
    #[arg(long)]
    pub no_audio: bool,
    /// Record what goes on air to this new file (H.264 + AAC, a fragmented MP4 that plays
    /// even after a crash). The stream goes on if the recording fails.
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,
    /// With --backend and --record: after End, upload the recording as the stream's replay.
    #[arg(long, requires_all = ["record", "backend"])]
    pub upload: bool,
    /// The recording's H.264 encoder.
    #[arg(long, value_enum, default_value = "auto", requires = "record")]
    pub record_encoder: crate::recording::RecordEncoder,
    /// The tone sounds only for the first 200 ms of each wall-clock second, which the test
    /// pattern's stamp also shows: a check that picture and sound stay in sync.
    #[arg(long, conflicts_with_all = ["mic", "no_audio"])]
    pub sync_beeps: bool,
    /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seconds between stats lines.
    #[arg(long, default_value_t = 5.0)]
    pub stats_every: f64,
}

fn parse_bitrate(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (number, scale) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1e3),
        Some('m' | 'M') => (&s[..s.len() - 1], 1e6),
        _ => (s, 1.0),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a bitrate (examples: 2500000, 2500k, 2.5M)"))?;
    let bps = value * scale;
    if !(50_000.0..=50_000_000.0).contains(&bps) {
        return Err(format!("bitrate {bps} bit/s is out of range (50k–50M)"));
    }
    Ok(bps as u64)
}

/// Why the stream ended.
enum EndReason {
    Duration,
    Signal(&'static str),
    Server(onair_livekit::DisconnectReason),
}

/// Goes live straight to LiveKit with a token of its own (`--backend` goes through
/// `session::run` instead).
pub async fn run(args: LiveArgs, load: &LoadOptions, out: &Reporter) -> Result<u8, CliError> {
    let token = args.creds.token(Role::Publisher)?;
    let info = onair_livekit::load(load)?;
    out.event(
        "loaded",
        json!({"path": info.path, "load_ms": ms(info.load_time)}),
        || {
            format!(
                "LiveKit SDK loaded from {} in {:.0} ms",
                info.path.display(),
                ms(info.load_time)
            )
        },
    );
    // Devices first: no point joining the room without them, and their errors are the ones
    // a creator can act on.
    let sources = Sources::start(
        &video_input(&args),
        &audio_input(&args),
        args.width,
        args.height,
        args.fps,
        None,
    )
    .await
    .map_err(flatten)?;
    if let Some(record) = recording::settings(&args.record, args.record_encoder) {
        let result = sources.start_recording(&record).await;
        recording::started(out, &record.path, &result);
    }

    let start = Instant::now();
    let (room, mut events) =
        match Room::connect(&args.creds.url, &token, RoomOptions::default()).await {
            Ok(joined) => joined,
            Err(err) => {
                // Nothing went on air, but what was recorded meanwhile is finished and said.
                let _ = sources.stop(Duration::from_secs(2)).await;
                if let Some(end) = sources.finish_recording(FINISH_LIMIT).await {
                    recording::ended(out, &end);
                }
                return Err(err.into());
            }
        };
    let local = room.local_participant();
    out.event(
        "connected",
        json!({"room": room.name(), "identity": local.identity(), "ms": ms(start.elapsed())}),
        || {
            format!(
                "connected to room {:?} as {:?} in {:.0} ms",
                room.name(),
                local.identity(),
                ms(start.elapsed())
            )
        },
    );

    let result = stream(&args, &room, &mut events, &sources, start, out).await;
    if let Err(err) = sources.stop(Duration::from_secs(2)).await {
        tracing::warn!(%err, "sources did not stop in time");
    }
    // Every frame is in: the file ends where the stream did.
    let recorded = match sources.finish_recording(FINISH_LIMIT).await {
        Some(end) => recording::ended(out, &end),
        None => true,
    };

    // Teardown, in order: stop feeding frames (the sources stopped above), unpublish and
    // disconnect (Room::close), then report what the engine still holds.
    let close = room.close().await;
    drop(room);
    drop(events);
    drop(sources);
    let live_handles = onair_livekit::live_handle_count();
    let (reason, frames) = result?;
    let close = close?;
    let (reason_name, message, code) = match &reason {
        EndReason::Duration => (
            "duration".to_owned(),
            "the requested duration elapsed".to_owned(),
            0,
        ),
        EndReason::Signal(name) => (name.to_string(), format!("stopped by {name}"), 0),
        EndReason::Server(r) => (r.as_str().to_owned(), r.describe().to_owned(), 3),
    };
    out.event(
        "ended",
        json!({
            "reason": reason_name,
            "message": message,
            "frames_sent": frames,
            "unpublished": close.unpublished,
            "unpublish_errors": close.unpublish_errors,
            "disconnect_confirmed": close.disconnect_confirmed,
            "close_ms": ms(close.duration),
            "live_handles": live_handles,
        }),
        || {
            format!(
                "stream ended: {message}. {} frames sent; {} track(s) unpublished, disconnect {} in {:.0} ms; native handles still open: {live_handles}",
                frames,
                close.unpublished.len(),
                if close.disconnect_confirmed { "confirmed" } else { "NOT confirmed" },
                ms(close.duration),
            )
        },
    );
    if code != 0 {
        eprintln!("error: the stream was ended by the server: {message}");
        eprintln!("  next: start the stream again when you are ready (`onair live`)");
    }
    Ok(if code == 0 && !recorded { 1 } else { code })
}

/// What the flags ask to put on air.
pub fn video_input(args: &LiveArgs) -> VideoInput {
    match &args.camera {
        None => VideoInput::TestPattern,
        Some(id) => VideoInput::Camera((id != "default").then(|| id.clone())),
    }
}

pub fn audio_input(args: &LiveArgs) -> AudioInput {
    match (&args.mic, args.no_audio) {
        (_, true) => AudioInput::Off,
        (None, false) => AudioInput::Tone {
            hz: args.tone_hz,
            beeps: args.sync_beeps,
        },
        (Some(id), false) => AudioInput::Microphone {
            device: (id != "default").then(|| id.clone()),
            processing: AudioProcessingOptions {
                noise_suppression: args.noise_suppression,
                echo_cancellation: args.echo_cancellation,
                auto_gain_control: args.auto_gain,
                high_pass_filter: false,
            },
        },
    }
}

/// A device error reads as one (with its hint), not as a session failure.
pub fn flatten(err: SessionError) -> CliError {
    match err {
        SessionError::Capture(e) => CliError::Capture(e),
        SessionError::Connect(e) => CliError::Connect(e),
        SessionError::Room(e) => CliError::Room(e),
        SessionError::Engine(e) => CliError::Engine(e),
        other => CliError::Session(other),
    }
}

async fn stream(
    args: &LiveArgs,
    room: &Room,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<RoomEvent>,
    sources: &Sources,
    start: Instant,
    out: &Reporter,
) -> Result<(EndReason, u32), CliError> {
    let local = room.local_participant();
    let options = PublishOptions {
        video: TrackPublishOptions {
            video_codec: args.codec,
            max_bitrate: args.max_bitrate,
            max_framerate: Some(args.fps),
            simulcast: args.simulcast,
            degradation_preference: Some(match args.degradation {
                Degradation::Balanced => DegradationPreference::Balanced,
                Degradation::MaintainFramerate => DegradationPreference::MaintainFramerate,
                Degradation::MaintainResolution => DegradationPreference::MaintainResolution,
            }),
            encoder: match args.encoder {
                Encoder::Auto => EncoderBackend::Auto,
                Encoder::Software => EncoderBackend::Software,
                Encoder::Hardware => EncoderBackend::Hardware,
            },
            ..Default::default()
        },
    };
    // Video, then audio, each announced as soon as it is published.
    let (video_track, video_pub) = link::publish_video(&local, &sources.video, &options)
        .await
        .map_err(flatten)?;
    let (width, height) = sources.video.resolution();
    let label = &sources.video_label;
    out.event(
        "published",
        json!({"kind": "video", "sid": video_pub.sid(), "codec": args.codec, "width": width, "height": height, "fps": args.fps, "simulcast": args.simulcast, "source": label, "ms": ms(start.elapsed())}),
        || format!("published video {} ({} {}x{}@{}{}, {label}) at {:.0} ms", video_pub.sid(), args.codec, width, height, args.fps, if args.simulcast { ", simulcast" } else { "" }, ms(start.elapsed())),
    );

    let mut audio_track = None;
    if let (Some(source), Some(what)) = (&sources.audio, &sources.audio_label) {
        let (track, publication) = link::publish_audio(&local, source).await.map_err(flatten)?;
        out.event(
            "published",
            json!({"kind": "audio", "sid": publication.sid(), "source": what, "ms": ms(start.elapsed())}),
            || format!("published audio {} ({what}) at {:.0} ms", publication.sid(), ms(start.elapsed())),
        );
        audio_track = Some(track);
    }
    out.event("live", json!({"ms": ms(start.elapsed())}), || {
        format!(
            "LIVE — connect + publish took {:.0} ms. Ctrl-C ends the stream.",
            ms(start.elapsed())
        )
    });

    let deadline = args
        .duration
        .map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d.max(0.0)));
    let stats_period = Duration::from_secs_f64(args.stats_every.max(0.2));
    // The first line comes one period in: bitrate needs an interval to be measured over.
    let mut stats_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + stats_period, stats_period);
    let mut first_stats_tick = tokio::time::interval(Duration::from_millis(100));
    let mut first_stats_seen = false;
    let mut send_rate = onair_livekit::SendRate::default();
    let mut sigterm = crate::sigterm()?;
    let mut recording_stop_said = false;

    let reason = loop {
        tokio::select! {
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break EndReason::Duration,
            _ = tokio::signal::ctrl_c() => break EndReason::Signal("SIGINT"),
            _ = sigterm.recv() => break EndReason::Signal("SIGTERM"),
            event = events.recv() => match event {
                Some(RoomEvent::Disconnected { reason }) => {
                    out.event("disconnected", json!({"reason": reason.as_str(), "message": reason.describe()}), || format!("disconnected: {}", reason.describe()));
                    break EndReason::Server(reason);
                }
                Some(RoomEvent::Reconnecting) => out.event("reconnecting", json!({}), || "connection lost — reconnecting…".into()),
                Some(RoomEvent::Reconnected) => out.event("reconnected", json!({}), || "reconnected".into()),
                Some(RoomEvent::ParticipantConnected(p)) => out.event("participant_joined", json!({"identity": p.identity()}), || format!("{} joined", p.identity())),
                Some(RoomEvent::ParticipantDisconnected { identity, .. }) => out.event("participant_left", json!({"identity": identity}), || format!("{identity} left")),
                Some(_) => {}
                None => break EndReason::Server(onair_livekit::DisconnectReason::Unknown),
            },
            _ = first_stats_tick.tick(), if !first_stats_seen => {
                if let Ok(stats) = video_track.get_stats().await {
                    if let Some(layer) = stats.top_layer().filter(|l| l.frames_sent > 0) {
                        first_stats_seen = true;
                        // The first stats line then has an interval to measure bitrate over.
                        send_rate.sample(&stats, Instant::now());
                        out.event("first_stats", json!({"ms": ms(start.elapsed()), "width": layer.width, "height": layer.height, "encoder": layer.encoder}),
                            || format!("first frames on the wire at {:.0} ms: {}x{} ({})", ms(start.elapsed()), layer.width, layer.height, layer.encoder));
                    }
                }
            }
            _ = stats_tick.tick() => {
                let recorded = sources.recording();
                if let Some(stop) = recorded.as_ref().and_then(|r| r.stopped.as_ref()).filter(|_| !recording_stop_said) {
                    recording_stop_said = true;
                    eprintln!("warning: {}", stop.message);
                    eprintln!("  the stream goes on without the recording");
                    out.event("recording_stopped", json!({"kind": stop.kind, "message": stop.message}), || format!("recording stopped ({}): {}", stop.kind, stop.message));
                }
                if let Ok(stats) = video_track.get_stats().await {
                    let bitrate = send_rate.sample(&stats, Instant::now());
                    let layers: Vec<_> = stats.layers.iter().map(|l| json!({"rid": l.rid, "width": l.width, "height": l.height, "fps": l.fps, "frames_sent": l.frames_sent, "key_frames": l.key_frames_encoded, "target_bitrate": l.target_bitrate, "limitation": l.quality_limitation.as_str(), "encoder": l.encoder, "nack": l.nack_count, "pli": l.pli_count})).collect();
                    let top = stats.top_layer().cloned().unwrap_or_default();
                    out.event("stats", json!({"uptime_s": start.elapsed().as_secs_f64(), "frames_captured": sources.frames.load(Ordering::Relaxed), "bitrate": bitrate, "rtt_ms": stats.round_trip_time.map(|r| r * 1000.0), "fraction_lost": stats.fraction_lost, "layers": layers, "recording": recorded.as_ref().map(recording::status_json)}),
                        || format!("live {:>6.1} s · {}x{} {:.0} fps · {} · limit {} · rtt {} · {}{}",
                            start.elapsed().as_secs_f64(), top.width, top.height, top.fps,
                            bitrate.map(|b| format!("{:.2} Mbit/s", b / 1e6)).unwrap_or_else(|| "– Mbit/s".into()),
                            top.quality_limitation.as_str(),
                            stats.round_trip_time.map(|r| format!("{:.0} ms", r * 1000.0)).unwrap_or_else(|| "–".into()),
                            top.encoder,
                            recorded.as_ref().map(recording::status_line).unwrap_or_default()));
                }
            }
        }
    };

    drop(audio_track);
    Ok((reason, sources.frames.load(Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::parse_bitrate;

    #[test]
    fn bitrates_accept_k_and_m_suffixes() {
        assert_eq!(parse_bitrate("2.5M"), Ok(2_500_000));
        assert_eq!(parse_bitrate("800k"), Ok(800_000));
        assert_eq!(parse_bitrate("1000000"), Ok(1_000_000));
    }

    #[test]
    fn nonsense_bitrates_explain_the_format() {
        assert!(parse_bitrate("fast").unwrap_err().contains("2.5M"));
        assert!(parse_bitrate("10").unwrap_err().contains("out of range"));
    }
}

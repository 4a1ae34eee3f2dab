//! `cargo bench --bench golive`: how fast OnAir goes live, how late frames arrive, what
//! publishing costs next to ffmpeg's encoders, and how fast a closed session leaves the server.
//! Everything runs against a real livekit-server on loopback; figures are printed, not asserted.
//!
//! `ONAIR_BENCH_RUNS` (default 20) sets the go-live repetitions, `ONAIR_BENCH_SECS` (default
//! 30) the CPU measurement window.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use onair_capture::{TestPattern, VideoSource};
use onair_e2e::harness::{load_engine, onair_bin, JsonProcess, LiveKitServer};
use onair_e2e::process_cost::sample_process;
use onair_e2e::publisher::{Publisher, PublisherConfig};
use onair_livekit::{NativeVideoStream, Room, RoomEvent, RoomOptions, TrackKind};
use tokio::io::AsyncWriteExt;

fn main() -> Result<()> {
    // Like `onair` itself (see `tune_memory`).
    onair_livekit::tune_memory();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run())
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() -> Result<()> {
    let runs = env_number("ONAIR_BENCH_RUNS", 20).max(1) as usize;
    let window = Duration::from_secs(env_number("ONAIR_BENCH_SECS", 30).max(5));
    load_engine()?;
    onair_bin().context("build the CLI first: cargo build -p onair-cli")?;
    let server = LiveKitServer::start().await?;
    println!(
        "OnAir go-live benchmark · livekit-server v1.13.5 on loopback · {} cores",
        num_cores()
    );

    go_live(&server, runs).await?;
    for codec in ["vp8", "h264"] {
        glass_to_glass(&server, codec).await?;
    }
    encoder_cost(&server, window).await?;
    Ok(())
}

/// Connect start → first frame decoded at a viewer already in the room, then close → gone
/// from `ListParticipants`, `runs` times with a new publisher each time.
async fn go_live(server: &LiveKitServer, runs: usize) -> Result<()> {
    println!("\n## go-live: 1280x720@30 VP8 + tone, viewer already connected ({runs} runs)");
    let room_name = "golive";
    let options = RoomOptions {
        auto_subscribe: true,
        ..Default::default()
    };
    let (viewer, mut events) = Room::connect(
        &server.url(),
        &server.token(room_name, "viewer", false),
        options,
    )
    .await?;
    let (mut live, mut publish, mut close, mut gone) = (vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        let identity = format!("creator-{run}");
        let started = Instant::now();
        let publisher = Publisher::start(
            &server.url(),
            &server.token(room_name, &identity, true),
            PublisherConfig::default(),
        )
        .await?;
        publish.push(ms(publisher.go_live));
        let track = loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Some(RoomEvent::TrackSubscribed {
                    participant_identity,
                    track,
                })) if participant_identity == identity && track.kind() == TrackKind::Video => {
                    break track
                }
                Ok(Some(_)) => continue,
                Ok(None) => bail!("viewer's event stream ended"),
                Err(_) => bail!("run {run}: the viewer was not subscribed within 10 s"),
            }
        };
        let mut stream = NativeVideoStream::new(&track, 4)?;
        tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .context("no first frame within 10 s")?
            .context("video stream ended before a frame")?;
        live.push(ms(started.elapsed()));
        drop(stream);

        let closing = Instant::now();
        let report = publisher.stop().await?;
        close.push(ms(report.duration));
        server
            .wait_presence(room_name, &identity, false, Duration::from_secs(5))
            .await?;
        gone.push(ms(closing.elapsed()));
        drop(publisher);
    }
    viewer.close().await?;
    print_row("connect + publish (every track published)", &mut publish);
    print_row("go-live: connect start → first frame decoded", &mut live);
    print_row("close (disconnect confirmed by the server)", &mut close);
    print_row("close start → gone from ListParticipants", &mut gone);
    Ok(())
}

/// Glass-to-glass at 720p30 from frame metadata, measured by `onair watch` in its own process.
async fn glass_to_glass(server: &LiveKitServer, codec: &str) -> Result<()> {
    let room = format!("g2g-{codec}");
    let mut watch = JsonProcess::onair_watch(server, &room, "monitor", &["--duration", "30"])?;
    watch
        .wait_event("connected", Duration::from_secs(15))
        .await?;
    let mut live = JsonProcess::onair_live(server, &room, &["--codec", codec, "--duration", "12"])?;
    if live.finish(Duration::from_secs(40)).await? != 0 {
        bail!("onair live failed: {}", live.stderr());
    }
    watch
        .wait_event("participant_left", Duration::from_secs(10))
        .await?;
    watch.terminate()?;
    watch.finish(Duration::from_secs(15)).await?;
    let ended = watch
        .last_event("ended")
        .context("watch printed no summary")?;
    let size = watch
        .seen
        .iter()
        .rev()
        .find(|v| v["event"] == "report" && v["frames"].as_u64().unwrap_or(0) > 0)
        .map(|v| format!("{}x{}", v["width"], v["height"]))
        .unwrap_or_default();
    println!(
        "\n## glass-to-glass, {codec} 1280x720@30, 12 s: p50 {:.1} ms · p95 {:.1} ms · {} frames · arrives at {size} · {} frame-id gaps",
        ended["latency_ms_p50"].as_f64().unwrap_or(f64::NAN),
        ended["latency_ms_p95"].as_f64().unwrap_or(f64::NAN),
        ended["frames"],
        ended["frame_id_gaps"],
    );
    Ok(())
}

/// CPU and RSS of `onair live` at 720p30 (one layer, simulcast), and of ffmpeg's libvpx and
/// libx264 encoding the same test-pattern frames at the bitrate the SDK chose.
async fn encoder_cost(server: &LiveKitServer, window: Duration) -> Result<()> {
    println!(
        "\n## publisher cost at 1280x720@30 over {} s (CPU in % of one core; a viewer watches)",
        window.as_secs()
    );
    let mut vp8_bitrate = None;
    let mut vp8_cpu = None;
    let mut h264_cpu = None;
    for (label, extra) in [
        ("onair live, VP8, one layer", vec!["--codec", "vp8"]),
        (
            "onair live, VP8, simulcast (3 layers)",
            vec!["--codec", "vp8", "--simulcast"],
        ),
        ("onair live, H.264, one layer", vec!["--codec", "h264"]),
    ] {
        let cost = publisher_cost(server, &extra, window).await?;
        println!(
            "{label:<44} CPU {:>5.1} %  RSS mean {:>4.0} MB, peak {:>4.0} MB  sent {:.2} Mbit/s",
            cost.cpu_percent,
            cost.rss_mean_kb / 1024.0,
            cost.rss_peak_kb as f64 / 1024.0,
            cost.bitrate_bps / 1e6
        );
        if label.contains("VP8, one") {
            vp8_bitrate = Some(cost.bitrate_bps);
            vp8_cpu = Some(cost.cpu_percent);
        }
        if label.contains("H.264") {
            h264_cpu = Some(cost.cpu_percent);
        }
    }
    let bitrate = vp8_bitrate.unwrap_or(2_500_000.0).max(300_000.0) as u64;
    let pattern = pattern_cost()?;
    println!(
        "{:<44} CPU {:>5.1} %  (part of every onair live figure above)",
        "  of which drawing the test pattern", pattern
    );
    let k = format!("{}k", bitrate / 1000);
    let vpx = ffmpeg_cost(
        &[
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-cpu-used",
            "-6",
            "-lag-in-frames",
            "0",
            "-b:v",
            &k,
        ],
        window,
    )
    .await?;
    let x264 = ffmpeg_cost(
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-b:v",
            &k,
        ],
        window,
    )
    .await?;
    for (label, cost, ours) in [
        ("ffmpeg libvpx realtime (cpu-used -6)", vpx, vp8_cpu),
        ("ffmpeg libx264 ultrafast zerolatency", x264, h264_cpu),
    ] {
        let ratio = ours
            .map(|o| format!("onair/ffmpeg {:.2}x", o / cost.cpu_percent))
            .unwrap_or_default();
        println!(
            "{:<44} CPU {:>5.1} %  RSS mean {:>4.0} MB, peak {:>4.0} MB  at {k}bit/s  {ratio}",
            label,
            cost.cpu_percent,
            cost.rss_mean_kb / 1024.0,
            cost.rss_peak_kb as f64 / 1024.0
        );
    }
    Ok(())
}

/// Seconds on air after which the publisher's figures count.
const SETTLED_S: f64 = 4.0;

struct Cost {
    cpu_percent: f64,
    rss_mean_kb: f64,
    rss_peak_kb: u64,
    bitrate_bps: f64,
}

async fn publisher_cost(server: &LiveKitServer, extra: &[&str], window: Duration) -> Result<Cost> {
    let room = "cost";
    let mut watch = JsonProcess::onair_watch(server, room, "monitor", &[])?;
    watch
        .wait_event("connected", Duration::from_secs(15))
        .await?;
    let total = (window + Duration::from_secs(8)).as_secs().to_string();
    let mut args = extra.to_vec();
    args.extend(["--duration", total.as_str(), "--stats-every", "1"]);
    let mut live = JsonProcess::onair_live(server, room, &args)?;
    // Encoders settle their rate control in the first seconds; measure after that.
    live.wait_for("settled stats", Duration::from_secs(20), |v| {
        v["event"] == "stats" && v["uptime_s"].as_f64().unwrap_or(0.0) >= SETTLED_S
    })
    .await?;
    let pid = live.pid().context("onair live exited early")?;
    let (cpu_percent, rss_mean_kb, rss_peak_kb) = sample_process(pid, window).await?;
    let exit = live.finish(Duration::from_secs(30)).await?;
    if exit != 0 {
        bail!("onair live failed ({exit}): {}", live.stderr());
    }
    let bitrates: Vec<f64> = live
        .seen
        .iter()
        .filter(|v| v["event"] == "stats" && v["uptime_s"].as_f64().unwrap_or(0.0) >= SETTLED_S)
        .filter_map(|v| v["bitrate"].as_f64())
        .collect();
    watch.terminate()?;
    watch.finish(Duration::from_secs(15)).await?;
    Ok(Cost {
        cpu_percent,
        rss_mean_kb,
        rss_peak_kb,
        bitrate_bps: bitrates.iter().sum::<f64>() / bitrates.len().max(1) as f64,
    })
}

/// ffmpeg encoding the test pattern, fed in real time at 30 fps through a pipe.
async fn ffmpeg_cost(codec: &[&str], window: Duration) -> Result<Cost> {
    let mut child = tokio::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-s", "1280x720", "-framerate", "30", "-i", "pipe:0"])
        .args(codec)
        .args(["-f", "null", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("ffmpeg (installed by scripts/setup.sh)")?;
    let mut stdin = child.stdin.take().context("ffmpeg stdin")?;
    let pid = child.id().context("ffmpeg exited at once")?;
    let total = window + Duration::from_secs(4);
    let (fed_tx, mut fed) = tokio::sync::watch::channel(0u64);
    let feeder = tokio::spawn(async move {
        let mut pattern = TestPattern::new(1280, 720, 30.0)?;
        let started = Instant::now();
        let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / 30.0));
        let mut frames = 0;
        while started.elapsed() < total {
            pace.tick().await;
            let f = pattern.next_frame()?;
            stdin.write_all(f.frame.y()).await?;
            stdin.write_all(f.frame.u()).await?;
            stdin.write_all(f.frame.v()).await?;
            frames += 1;
            fed_tx.send_replace(frames);
        }
        anyhow::Ok(())
    });
    // Measure once the encoder has two seconds of input behind it.
    tokio::time::timeout(Duration::from_secs(10), fed.wait_for(|&n| n >= 60))
        .await
        .context("ffmpeg did not take 60 frames within 10 s")??;
    let (cpu_percent, rss_mean_kb, rss_peak_kb) = sample_process(pid, window).await?;
    feeder.await??;
    let status = child.wait().await?;
    if !status.success() {
        bail!("ffmpeg {codec:?} failed: {status}");
    }
    Ok(Cost {
        cpu_percent,
        rss_mean_kb,
        rss_peak_kb,
        bitrate_bps: 0.0,
    })
}

/// CPU of drawing 1280x720 test-pattern frames at 30 fps, in % of one core.
fn pattern_cost() -> Result<f64> {
    let mut pattern = TestPattern::new(1280, 720, 30.0)?;
    let frames = 300;
    let started = Instant::now();
    for _ in 0..frames {
        std::hint::black_box(pattern.next_frame()?);
    }
    Ok(started.elapsed().as_secs_f64() / frames as f64 * 30.0 * 100.0)
}

fn num_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print_row(label: &str, values: &mut [f64]) {
    values.sort_by(f64::total_cmp);
    let pick = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label:<48} p50 {:>6.1} ms · p95 {:>6.1} ms · min {:>6.1} · max {:>6.1} (n={})",
        pick(0.5),
        pick(0.95),
        values[0],
        values[values.len() - 1],
        values.len()
    );
}

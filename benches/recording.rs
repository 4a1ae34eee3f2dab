//! `cargo bench --bench recording`: what recording while streaming costs on top of streaming
//! 720p30 (the test pattern and tone through `onair live`, VP8, to a real livekit-server):
//! CPU in % of one core and RSS, with no recording, with x264 (`veryfast`) and with OpenH264;
//! the file's size per minute, and End → file finalised. Figures are printed, not asserted.
//! `ONAIR_BENCH_SECS` (default 20) sets the measurement window.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use onair_e2e::harness::{JsonProcess, LiveKitServer};
use onair_e2e::media_file;
use onair_e2e::process_cost::sample_process;

/// Seconds on air before measuring: encoders settle their rate control first.
const SETTLED_S: f64 = 4.0;

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run())
}

struct Row {
    label: &'static str,
    cpu_percent: f64,
    rss_mean_mb: f64,
    mb_per_minute: Option<f64>,
    finalised_ms: Option<f64>,
}

async fn run() -> Result<()> {
    let window = Duration::from_secs(
        std::env::var("ONAIR_BENCH_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    );
    let server = LiveKitServer::start().await?;
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();
    for (label, encoder) in [
        ("streaming only", None),
        ("+ recording, x264 veryfast", Some("x264")),
        ("+ recording, OpenH264", Some("openh264")),
    ] {
        let file = dir
            .path()
            .join(format!("{}.mp4", encoder.unwrap_or("none")));
        rows.push(measure(&server, label, encoder, &file, window).await?);
    }
    println!(
        "\nrecording while streaming 1280x720@30 (test pattern + tone, VP8 on air), {} s window, {} cores",
        window.as_secs(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<28} {:>10} {:>10} {:>12} {:>12} {:>14}",
        "", "CPU %", "extra", "RSS MB", "MB/minute", "finalised ms"
    );
    let base = rows[0].cpu_percent;
    for r in &rows {
        println!(
            "{:<28} {:>10.1} {:>10} {:>12.1} {:>12} {:>14}",
            r.label,
            r.cpu_percent,
            if r.mb_per_minute.is_some() {
                format!("{:+.1}", r.cpu_percent - base)
            } else {
                "–".into()
            },
            r.rss_mean_mb,
            r.mb_per_minute.map_or("–".into(), |v| format!("{v:.1}")),
            r.finalised_ms.map_or("–".into(), |v| format!("{v:.0}")),
        );
    }
    Ok(())
}

async fn measure(
    server: &LiveKitServer,
    label: &'static str,
    encoder: Option<&str>,
    file: &std::path::Path,
    window: Duration,
) -> Result<Row> {
    let total = (window + Duration::from_secs(8)).as_secs().to_string();
    let path = file.to_str().context("a UTF-8 path")?;
    let mut args = vec!["--duration", total.as_str(), "--stats-every", "1"];
    if let Some(encoder) = encoder {
        args.extend(["--record", path, "--record-encoder", encoder]);
    }
    let mut live = JsonProcess::onair_live(server, "recording-cost", &args)?;
    live.wait_for("settled stats", Duration::from_secs(20), |v| {
        v["event"] == "stats" && v["uptime_s"].as_f64().unwrap_or(0.0) >= SETTLED_S
    })
    .await?;
    let pid = live.pid().context("onair live exited early")?;
    let (cpu_percent, rss_mean_kb, _) = sample_process(pid, window).await?;
    let exit = live.finish(Duration::from_secs(60)).await?;
    if exit != 0 {
        bail!("onair live failed ({exit}): {}", live.stderr());
    }
    let (mb_per_minute, finalised_ms) = match encoder {
        None => (None, None),
        Some(_) => {
            let finished = live
                .last_event("recording_finished")
                .context("no recording_finished event")?;
            let probe = media_file::probe(file)?;
            let bytes = finished["bytes"].as_f64().unwrap_or(0.0);
            (
                Some(bytes / 1e6 / probe.duration * 60.0),
                finished["finalised_in_ms"].as_f64(),
            )
        }
    };
    Ok(Row {
        label,
        cpu_percent,
        rss_mean_mb: rss_mean_kb / 1024.0,
        mb_per_minute,
        finalised_ms,
    })
}

//! The viewer page: page load → first video frame (the `<video>`'s first painted frame,
//! measured in the page from the start of navigation) over ONAIR_BENCH_RUNS fresh pages
//! (default 20) in Debian's Chromium, on loopback, while `onair live --backend` publishes
//! 1280x720@30; and the bytes of JavaScript and CSS the page ships, as the backend sends them
//! (gzip). `bash scripts/bench.sh viewer`.

use std::time::Duration;

use anyhow::{Context, Result};
use onair_e2e::backend::Stack;
use onair_e2e::browser::Browser;
use onair_e2e::harness::repo_root;

fn runs() -> usize {
    std::env::var("ONAIR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    // Every page load asks for a viewer token: more than the default 10 a minute from one
    // address.
    let s = Stack::start_with("bench", |c| {
        c.rate_limit_per_minute = std::num::NonZeroU32::new(1000).expect("non-zero");
    })
    .await?;
    let browser = Browser::launch().await?;
    let mut creator = s.go_live("bench", "Benchmark").await?;
    let url = s.backend.url("/live/bench");

    let mut first_frame = Vec::new();
    const STEPS: [&str; 6] = [
        "script",
        "status",
        "token",
        "connected",
        "subscribed",
        "first_frame",
    ];
    let mut steps: Vec<Vec<f64>> = vec![Vec::new(); STEPS.len()];
    for run in 0..runs() {
        let page = browser.open(&url, 1280, 800).await?;
        let at = page
            .wait("window.onairViewer?.firstFrameAt", Duration::from_secs(20))
            .await?
            .as_f64()
            .context("first frame time")?;
        page.wait_state("live", Duration::from_secs(5)).await?;
        first_frame.push(at);
        let marks = page.eval("window.onairViewer.marks").await?;
        for (i, step) in STEPS.iter().enumerate() {
            steps[i].push(marks[step].as_f64().context("a step mark")?);
        }
        eprintln!("run {run}: first frame at {at:.0} ms");
        page.close().await?;
    }
    first_frame.sort_by(f64::total_cmp);
    println!(
        "page load → first video frame (1280x720, loopback, n={}): p50 {:.0} ms, p95 {:.0} ms, min {:.0} ms, max {:.0} ms",
        first_frame.len(),
        percentile(&first_frame, 50.0),
        percentile(&first_frame, 95.0),
        first_frame[0],
        first_frame[first_frame.len() - 1],
    );

    let mut line = String::from("  steps, p50 ms since navigation began:");
    for (i, step) in STEPS.iter().enumerate() {
        steps[i].sort_by(f64::total_cmp);
        line.push_str(&format!(" {step} {:.0}", percentile(&steps[i], 50.0)));
    }
    println!("{line}");

    // What a browser downloads: every asset of the page as the backend serves it, gzip-encoded
    // (reqwest here does not decode, so the body length is the bytes on the wire).
    let http = reqwest::Client::new();
    let mut js = (0usize, 0usize);
    let mut css = (0usize, 0usize);
    for entry in std::fs::read_dir(repo_root().join("ui/dist-viewer/assets"))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let raw = std::fs::metadata(&path)?.len() as usize;
        let response = http
            .get(s.backend.url(&format!("/live/assets/{name}")))
            .header("accept-encoding", "gzip")
            .send()
            .await?
            .error_for_status()?;
        let encoding = response
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_owned();
        let sent = response.bytes().await?.len();
        eprintln!("{name}: {raw} bytes, {sent} sent ({encoding})");
        let total = if name.ends_with(".js") {
            &mut js
        } else {
            &mut css
        };
        total.0 += raw;
        total.1 += sent;
    }
    println!(
        "JavaScript shipped: {:.1} kB gzip ({:.1} kB minified); CSS {:.1} kB gzip",
        js.1 as f64 / 1000.0,
        js.0 as f64 / 1000.0,
        css.1 as f64 / 1000.0,
    );
    creator.terminate()?;
    creator.finish(Duration::from_secs(20)).await?;
    Ok(())
}

//! The desktop studio's footprint: RSS and PSS of every OnAir process (the app and the
//! WebKit processes it starts) and their CPU, in four states — idle with the window open
//! (preview of the test pattern shown), live at 720p30 with the preview shown, live with the
//! window closed (preview hidden, tray only), and idle tray-only (started with `--tray`) —
//! plus the preview's frame rate. The app is the release build (`cargo build --release -p
//! onair-studio`), driven by WebDriver under `scripts/with-desktop.sh`.
//! `bash scripts/bench.sh studio`; ONAIR_BENCH_SECS (default 10) per state.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use onair_e2e::backend::Stack;
use onair_e2e::desktop::Desktop;
use onair_e2e::harness::retry_for;

fn secs() -> u64 {
    std::env::var("ONAIR_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// `pid` and every process below it.
fn tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1).and_then(|p| p.parse().ok())) {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found
}

/// Fields of /proc/PID/stat after the command name (state is [0], ppid [1], utime [11]…).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn kb(pid: u32, file: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| stat_fields(*p))
        .map(|f| f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0))
        .sum()
}

struct Figures {
    rss_mb: f64,
    pss_mb: f64,
    cpu_percent: f64,
    /// Each process: name, PSS MB, CPU %.
    processes: Vec<(String, f64, f64)>,
}

/// Memory (at the end, after samples every 500 ms that follow the process tree) and CPU (percent of one core) over `secs`
/// for the tree under `root`.
async fn measure(root: u32) -> Figures {
    let ticks_per_s = 100.0; // CLK_TCK on Linux
    let t0 = Instant::now();
    let start: Vec<(u32, u64)> = tree(root)
        .into_iter()
        .map(|p| (p, cpu_ticks(&[p])))
        .collect();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let (mut rss, mut pss) = (0u64, 0u64);
    let mut pids = Vec::new();
    for _ in 0..secs() * 2 + 1 {
        tick.tick().await;
        pids = tree(root);
        rss = pids.iter().map(|p| kb(*p, "status", "VmRSS:")).sum();
        pss = pids.iter().map(|p| kb(*p, "smaps_rollup", "Pss:")).sum();
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let processes: Vec<(String, f64, f64)> = pids
        .iter()
        .map(|p| {
            let before = start.iter().find(|(q, _)| q == p).map_or(0, |(_, t)| *t);
            let cpu = cpu_ticks(&[*p]).saturating_sub(before) as f64 / ticks_per_s / elapsed;
            (
                name(*p),
                kb(*p, "smaps_rollup", "Pss:") as f64 / 1024.0,
                cpu * 100.0,
            )
        })
        .collect();
    Figures {
        rss_mb: rss as f64 / 1024.0,
        pss_mb: pss as f64 / 1024.0,
        cpu_percent: processes.iter().map(|p| p.2).sum(),
        processes,
    }
}

async fn preview_frames(desktop: &Desktop) -> Result<u64> {
    Ok(desktop
        .attr("#preview", "data-frames")
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

fn row(state: &str, f: &Figures, preview_fps: Option<f64>) {
    println!(
        "{state:<38} RSS {:>6.1} MB  PSS {:>6.1} MB  CPU {:>5.1} %  preview {:>5}  [{}]",
        f.rss_mb,
        f.pss_mb,
        f.cpu_percent,
        preview_fps.map_or("-".into(), |v| format!("{v:.1} fps")),
        f.processes
            .iter()
            .map(|(n, pss, cpu)| format!("{n} {pss:.0} MB {cpu:.0} %"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(bench())
}

async fn bench() -> Result<()> {
    let stack = Stack::start("bench").await?;
    let url = stack.backend.url("");
    let url = url.trim_end_matches('/');
    let extra: Vec<(String, String)> = std::env::var("ONAIR_BENCH_APP_ENV")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    let extra: Vec<(&str, &str)> = extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut desktop = Desktop::start(&extra).await?;
    desktop.launch().await?;
    desktop.sign_in(url, &stack.key).await?;
    desktop
        .wait_js(
            "the preview",
            Duration::from_secs(15),
            "return Number(document.getElementById('preview').dataset.frames) > 30",
        )
        .await?;
    let app = *desktop.pids().first().context("the app's process")?;
    println!(
        "studio: {}  ({} s per state)",
        desktop.app.display(),
        secs()
    );

    let frames = preview_frames(&desktop).await?;
    let t = Instant::now();
    let idle = measure(app).await;
    let fps = (preview_frames(&desktop).await? - frames) as f64 / t.elapsed().as_secs_f64();
    row("idle, window open (preview shown)", &idle, Some(fps));

    desktop.click("#go-live").await?;
    desktop.wait_phase("live", Duration::from_secs(20)).await?;
    desktop
        .wait_js(
            "stats",
            Duration::from_secs(10),
            "return document.getElementById('stats').textContent.includes('1280×720')",
        )
        .await?;
    let frames = preview_frames(&desktop).await?;
    let t = Instant::now();
    let live = measure(app).await;
    let fps = (preview_frames(&desktop).await? - frames) as f64 / t.elapsed().as_secs_f64();
    row("live 720p30, window open (preview)", &live, Some(fps));

    // Close the window. The answer may be lost with the page; the app's log says when the
    // window is gone. (Under WebDriver, WebKit may keep a web process for the automation
    // session: the tray-only figure below comes from an app that never had a window.)
    let _ = desktop
        .client()
        .execute(
            "window.__TAURI_INTERNALS__.invoke('close_window'); return true",
            vec![],
        )
        .await;
    retry_for(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            if desktop
                .log()
                .contains("window closed; OnAir stays in the tray")
            {
                Ok(())
            } else {
                bail!("the window is still open")
            }
        },
    )
    .await?;
    let hidden = measure(app).await;
    row("live 720p30, window closed (tray only)", &hidden, None);
    stack
        .livekit
        .wait_presence("bench", "creator-bench", true, Duration::from_secs(1))
        .await
        .context("still live with the window closed")?;

    std::process::Command::new("kill")
        .args(["-TERM", &app.to_string()])
        .status()?;
    retry_for(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            if desktop.pids().is_empty() {
                Ok(())
            } else {
                bail!("app still running")
            }
        },
    )
    .await?;
    desktop.client.take();

    // Tray only from the start, signed in from the keyring.
    let log = std::fs::File::create(desktop.dir.path().join("tray.log"))?;
    let mut tray = std::process::Command::new(&desktop.app)
        .arg("--tray")
        .env("XDG_CONFIG_HOME", desktop.dir.path().join("config"))
        .stderr(log)
        .spawn()?;
    let log_path = desktop.dir.path().join("tray.log");
    retry_for(
        Duration::from_secs(15),
        Duration::from_millis(50),
        || async {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if text.contains("OnAir started") {
                Ok(())
            } else {
                bail!("not started")
            }
        },
    )
    .await?;
    let tray_only = measure(tray.id()).await;
    row("idle, tray only (--tray)", &tray_only, None);
    std::process::Command::new("kill")
        .args(["-TERM", &tray.id().to_string()])
        .status()?;
    tray.wait()?;
    println!(
        "goals: tray-only idle ≤ 80 MB RSS: {:.1} MB; live with the preview hidden ≤ 35 % of one core: {:.1} %",
        tray_only.rss_mb, hidden.cpu_percent
    );
    Ok(())
}

//! 100 go-live → end cycles of `LiveSession` in one process, through the real backend (in
//! process) and livekit-server. Prints the session's figures: go-live timeline per step,
//! End → participant gone, and threads, fds, RSS and the Rust heap after 1, 10 and 100
//! cycles, with whether they stayed within ±5 % of cycle 1 (issue 6's goal; not met yet, see
//! README). `cargo bench --bench session`; ONAIR_BENCH_CYCLES (default 100).

use std::time::Duration;

use anyhow::Context;
use anyhow::{ensure, Result};
use onair_e2e::harness::{
    free_tcp_port, load_engine, retry_for, settled_process_figures, LiveKitServer, API_KEY,
    API_SECRET,
};
use onair_session::{BackendClient, LiveSession, SessionSettings};

fn cycles_wanted() -> usize {
    std::env::var("ONAIR_BENCH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

// Counts what Rust code (session, backend, engine) holds on the heap, apart from what the SDK
// library allocates on its side: a leak of ours shows here even when RSS is noisy.
#[global_allocator]
static GLOBAL: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

fn rust_heap_kb() -> i64 {
    let s = GLOBAL.stats();
    (s.bytes_allocated as i64 - s.bytes_deallocated as i64) / 1024
}

// Its own `main` (harness = false) so that, like `onair` and the studio, it caps malloc arenas
// before any thread starts.
fn main() -> Result<()> {
    onair_livekit::cap_malloc_arenas(1);
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(cycles())
}

/// A child process killed when the guard drops.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentiles(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

async fn cycles() -> Result<()> {
    load_engine()?;
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}", dir.path().join("onair.db").display());
    let port = free_tcp_port()?;
    let livekit = LiveKitServer::start_with(Some(&format!(
        "http://127.0.0.1:{port}/api/livekit/webhook"
    )))
    .await?;
    // The backend runs as its own process, so the figures below are the session's alone
    // (an in-process backend adds its SQLite page caches, which grow with the database).
    let server_bin = std::env::current_exe()?
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("onair-server"))
        .filter(|p| p.exists())
        .context("onair-server is not built next to this bench: `cargo build --release -p onair-server` (scripts/bench.sh does)")?;
    let env = [
        ("ONAIR_DATABASE_URL", db_url.clone()),
        ("ONAIR_KEY_SECRET", "bench".to_owned()),
        ("LIVEKIT_URL", livekit.url()),
        ("LIVEKIT_API_KEY", API_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", API_SECRET.to_owned()),
        // 100 token requests in a minute from one address.
        ("ONAIR_RATE_LIMIT", "1000".to_owned()),
        (
            "ONAIR_LOG",
            std::env::var("ONAIR_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        ),
    ];
    let added = std::process::Command::new(&server_bin)
        .args(["streamer", "add", "soak"])
        .envs(env.clone())
        .output()?;
    ensure!(
        added.status.success(),
        "streamer add: {}",
        String::from_utf8_lossy(&added.stderr)
    );
    let key = String::from_utf8(added.stdout)?.trim().to_owned();
    let _backend = ChildGuard(
        std::process::Command::new(&server_bin)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .envs(env)
            .spawn()
            .context("start onair-server")?,
    );
    let base = format!("http://127.0.0.1:{port}");
    retry_for(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            reqwest::get(format!("{base}/api/health"))
                .await?
                .error_for_status()?;
            Ok(())
        },
    )
    .await
    .context("onair-server did not answer")?;
    let client = BackendClient::new(&base, &key);
    let settings = SessionSettings {
        title: "Soak".into(),
        width: 640,
        height: 360,
        ..Default::default()
    };

    let mut steps: std::collections::BTreeMap<&'static str, Vec<f64>> = Default::default();
    let mut gone_ms = Vec::new();
    let mut checkpoints = Vec::new();
    let total = cycles_wanted();
    for cycle in 1..=total {
        let session = LiveSession::go_live(client.clone(), settings.clone()).await?;
        for step in session.timeline() {
            steps
                .entry(step.step)
                .or_default()
                .push(step.duration.as_secs_f64() * 1000.0);
        }
        let report = session.end().await;
        ensure!(
            report.all_ok() && report.participant_gone,
            "cycle {cycle}: {report:#?}"
        );
        let to_gone: Duration = report
            .steps
            .iter()
            .take_while(|s| s.step != "release native handles")
            .map(|s| s.duration)
            .filter(|d| !d.is_zero())
            .fold(Duration::ZERO, |a, d| a.max(d));
        gone_ms.push(to_gone.as_secs_f64() * 1000.0);
        drop(session);
        ensure!(
            onair_livekit::live_handle_count() == 0,
            "cycle {cycle}: handles left"
        );
        if cycle == 1 || cycle == 10 || cycle == total {
            let figures = settled_process_figures().await?;
            let heap = rust_heap_kb();
            println!(
                "after cycle {cycle}: threads {}, fds {}, RSS {} kB, Rust heap {heap} kB",
                figures.0, figures.1, figures.2
            );
            checkpoints.push((cycle, figures, heap));
        }
    }
    for (step, values) in &steps {
        let (p50, p95) = percentiles(values.clone());
        println!(
            "go-live step {step}: p50 {p50:.1} ms, p95 {p95:.1} ms (n={})",
            values.len()
        );
    }
    let (p50, p95) = percentiles(gone_ms);
    println!("end → participant gone (SDK-confirmed disconnect): p50 {p50:.1} ms, p95 {p95:.1} ms");
    let (_, first, first_heap) = checkpoints[0];
    let (_, last, last_heap) = *checkpoints.last().expect("cycle 100 ran");
    println!("Rust heap {first_heap} → {last_heap} kB");
    let within = |a: f64, b: f64| (b - a).abs() <= a * 0.05;
    println!(
        "within ±5 % of cycle 1: threads {}, fds {}, RSS {} ({:+.1} %)",
        within(first.0 as f64, last.0 as f64),
        within(first.1 as f64, last.1 as f64),
        within(first.2 as f64, last.2 as f64),
        (last.2 as f64 / first.2 as f64 - 1.0) * 100.0
    );
    Ok(())
}

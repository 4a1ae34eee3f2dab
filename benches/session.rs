//! 100 go-live → end cycles of `LiveSession` in one process, through the real backend (its
//! own process) and livekit-server. Prints the session's figures: go-live timeline per step,
//! End → participant gone, threads, fds, RSS and the Rust heap after 1 … 100 cycles (with
//! whether they stayed within ±5 % of cycle 1); End → devices released (a PulseAudio
//! microphone); livekit-server restart → live again and → first frame at a viewer.
//! `cargo bench --bench session`; ONAIR_BENCH_CYCLES (default 100).

use std::time::Duration;

use anyhow::Context;
use anyhow::{ensure, Result};
use onair_e2e::backend::{wait_video_sent, BackendProcess};
use onair_e2e::harness::{
    free_tcp_port, load_engine, settled_process_figures, JsonProcess, LiveKitServer,
};
use onair_e2e::pulse::Pulse;
use onair_livekit::AudioProcessingOptions;
use onair_session::{AudioInput, LiveSession, SessionSettings, SessionState};

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

// Its own `main` (harness = false) so that, like `onair` and the studio, it sets the allocator
// up before any thread starts.
fn main() -> Result<()> {
    onair_livekit::tune_memory();
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(cycles())
}

fn percentiles(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

async fn cycles() -> Result<()> {
    load_engine()?;
    let port = free_tcp_port()?;
    let mut livekit = LiveKitServer::with_backend_on(port).await?;
    // The backend runs as its own process, so the figures below are the session's alone
    // (an in-process backend adds its SQLite page caches, which grow with the database).
    let backend = BackendProcess::start(&livekit.url(), port, "soak").await?;
    let client = backend.client();
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
        // On air means frames on the wire. A cycle ended before its first frame leaves parts
        // of the SDK library's code (the encoder's) unread from disk until some later cycle
        // sends one, and RSS then steps up by about 1.2 MB of file-backed pages.
        wait_video_sent(&session)
            .await
            .with_context(|| format!("cycle {cycle}"))?;
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
        if [1, 10, 25, 50, 75].contains(&cycle) || cycle == total {
            let figures = settled_process_figures().await?;
            let heap = rust_heap_kb();
            println!(
                "after cycle {cycle}: threads {}, fds {}, RSS {} kB (anonymous {} kB, file-backed {} kB), Rust heap {heap} kB",
                figures.threads, figures.fds, figures.rss_kb, figures.anon_kb, figures.file_kb
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
    devices_released(&client, &settings).await?;
    server_restart(&mut livekit, &client, &settings).await?;
    let (_, first, first_heap) = checkpoints[0];
    let (_, last, last_heap) = *checkpoints.last().expect("cycle 100 ran");
    println!("Rust heap {first_heap} → {last_heap} kB");
    println!(
        "after cycle {} against cycle 1: RSS {:+.1} %, anonymous {:+} kB, file-backed {:+} kB; {}",
        checkpoints.last().expect("cycle 100 ran").0,
        (last.rss_kb as f64 / first.rss_kb as f64 - 1.0) * 100.0,
        last.anon_kb as i64 - first.anon_kb as i64,
        last.file_kb as i64 - first.file_kb as i64,
        first.within(&last).map_or_else(
            |e| format!("outside the tests' bounds: {e}"),
            |()| "within the tests' bounds".into()
        )
    );
    Ok(())
}

/// End → the microphone closed: the "stop capture" step of sessions publishing a PulseAudio
/// microphone, and whether the sound server still had a recording stream after End.
async fn devices_released(
    client: &onair_client::BackendClient,
    settings: &SessionSettings,
) -> Result<()> {
    let mut pulse = Pulse::start().await?;
    pulse.play(440, 0.5);
    let mut stop = Vec::new();
    for _ in 0..10 {
        let session = LiveSession::go_live(
            client.clone(),
            SessionSettings {
                audio: AudioInput::Microphone {
                    device: None,
                    processing: AudioProcessingOptions::default(),
                },
                ..settings.clone()
            },
        )
        .await?;
        ensure!(session.devices_open().await == 1);
        let report = session.end().await;
        ensure!(report.all_ok(), "{report:#?}");
        ensure!(
            pulse.source_outputs() == 0,
            "a recording stream is left after End"
        );
        stop.push(report.steps[0].duration.as_secs_f64() * 1000.0);
    }
    let (p50, p95) = percentiles(stop);
    println!(
        "end → devices released (stop capture with a microphone; none left open): p50 {p50:.1} ms, p95 {p95:.1} ms (n=10)"
    );
    Ok(())
}

/// livekit-server killed and restarted on the same port while live: from the server answering
/// again to the session live again and to the first frame at a viewer that joins then.
async fn server_restart(
    livekit: &mut LiveKitServer,
    client: &onair_client::BackendClient,
    settings: &SessionSettings,
) -> Result<()> {
    let (mut live_ms, mut frame_ms) = (Vec::new(), Vec::new());
    for run in 0..5 {
        let session = LiveSession::go_live(client.clone(), settings.clone()).await?;
        let mut states = session.states();
        livekit.kill()?;
        tokio::time::timeout(
            Duration::from_secs(20),
            states.wait_for(|e| matches!(e.state, SessionState::Reconnecting { .. })),
        )
        .await
        .context("the session did not notice the server going")??;
        livekit.restart().await?;
        let back = tokio::time::Instant::now();
        let mut viewer = JsonProcess::viewer(
            livekit,
            "soak",
            &format!("viewer-{run}"),
            Duration::from_secs(30),
        )?;
        tokio::time::timeout(
            Duration::from_secs(30),
            states.wait_for(|e| e.state == SessionState::Live),
        )
        .await
        .context("not live again")??;
        live_ms.push(back.elapsed().as_secs_f64() * 1000.0);
        viewer
            .wait_event("first_frame", Duration::from_secs(30))
            .await?;
        frame_ms.push(back.elapsed().as_secs_f64() * 1000.0);
        session.end().await;
        viewer.terminate()?;
        viewer.finish(Duration::from_secs(10)).await?;
    }
    let (l50, l95) = percentiles(live_ms);
    let (f50, f95) = percentiles(frame_ms);
    println!(
        "server restart → session live again: p50 {l50:.0} ms, p95 {l95:.0} ms; → first frame at a new viewer: p50 {f50:.0} ms, p95 {f95:.0} ms (n=5)"
    );
    Ok(())
}

//! 100 go-live → end cycles of `LiveSession` in one process, through the real backend (its
//! own process) and livekit-server: threads, fds and RSS stay within ±5 % of where the first
//! cycle left them. The process runs with the allocator set up as `onair` and the studio set
//! it up (`onair_livekit::tune_memory`); with glibc's defaults RSS ends 5–8 % higher while
//! the memory in use stays flat (see README). Figures are read once counts hold still
//! (libwebrtc frees a closed room's threads in batches) and after the session's teardown gave
//! freed memory back.

use anyhow::{ensure, Context, Result};
use onair_e2e::backend::{wait_video_sent, BackendProcess};
use onair_e2e::harness::{free_tcp_port, load_engine, settled_process_figures, LiveKitServer};
use onair_session::{LiveSession, SessionSettings};

fn main() -> Result<()> {
    onair_e2e::harness::run_alone(
        "a_hundred_go_live_cycles_leave_threads_fds_and_rss_within_5_percent_of_the_first_cycle",
        cycles,
    )
}

async fn cycles() -> Result<()> {
    load_engine()?;
    let port = free_tcp_port()?;
    let livekit = LiveKitServer::with_backend_on(port).await?;
    let backend = BackendProcess::start(&livekit.url(), port, "cycles").await?;
    let client = backend.client();
    let settings = SessionSettings {
        title: "Cycles".into(),
        width: 640,
        height: 360,
        ..Default::default()
    };
    let mut first = None;
    for cycle in 1..=100 {
        let session = LiveSession::go_live(client.clone(), settings.clone()).await?;
        // On air means frames on the wire: every cycle runs the encoder and the sender.
        wait_video_sent(&session)
            .await
            .with_context(|| format!("cycle {cycle}"))?;
        let report = session.end().await;
        ensure!(
            report.all_ok() && report.participant_gone,
            "cycle {cycle}: {report:#?}"
        );
        drop(session);
        ensure!(
            onair_livekit::live_handle_count() == 0,
            "cycle {cycle}: native handles left"
        );
        if cycle == 1 || cycle % 25 == 0 {
            let (threads, fds, rss_kb) = settled_process_figures().await?;
            println!("after cycle {cycle}: threads {threads}, fds {fds}, RSS {rss_kb} kB");
            let (t1, f1, r1) = *first.get_or_insert((threads, fds, rss_kb));
            let within = |a: u64, b: u64| (b as f64 - a as f64).abs() <= a as f64 * 0.05;
            println!(
                "  RSS {:+.1} % on cycle 1",
                (rss_kb as f64 / r1 as f64 - 1.0) * 100.0
            );
            ensure!(
                within(t1 as u64, threads as u64),
                "threads {t1} → {threads}"
            );
            ensure!(within(f1 as u64, fds as u64), "fds {f1} → {fds}");
            ensure!(
                within(r1, rss_kb),
                "RSS {r1} kB after cycle 1 → {rss_kb} kB after cycle {cycle}"
            );
        }
    }
    drop(livekit);
    Ok(())
}

//! 100 go-live → end cycles of `LiveSession` in one process, through the real backend (its
//! own process) and livekit-server: threads and fds stay within ±5 % of where the first cycle
//! left them, and RSS stops growing — within ±5 % from cycle 50 to cycle 100, where a leak
//! would keep climbing. (Against cycle 1, RSS ends 5–12 % higher: anonymous memory on the
//! SDK's side grows over the first cycles while the Rust heap stays flat; see README.)
//! Figures are read once counts hold still (libwebrtc frees a closed room's threads in
//! batches) and after the session's teardown gave freed memory back.

use anyhow::{ensure, Result};
use onair_e2e::backend::BackendProcess;
use std::time::Duration;

use onair_e2e::harness::{
    free_tcp_port, load_engine, retry_for, settled_process_figures, LiveKitServer,
};
use onair_session::{LiveSession, SessionSettings};

fn main() -> Result<()> {
    onair_e2e::harness::run_alone(
        "a_hundred_go_live_cycles_leave_threads_and_fds_where_the_first_left_them_and_rss_levels_off",
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
    let mut settled_rss = None;
    for cycle in 1..=100 {
        let session = LiveSession::go_live(client.clone(), settings.clone()).await?;
        // On air means frames on the wire: every cycle runs the encoder and the sender.
        retry_for(
            Duration::from_secs(10),
            Duration::from_millis(20),
            || async {
                let sent = session.video_stats().await.map_or(0, |s| s.bytes_sent());
                ensure!(sent > 0, "cycle {cycle}: no video sent yet");
                Ok(())
            },
        )
        .await?;
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
            let within = |a: usize, b: usize| (b as f64 - a as f64).abs() <= a as f64 * 0.05;
            ensure!(within(t1, threads), "threads {t1} → {threads}");
            ensure!(within(f1, fds), "fds {f1} → {fds}");
            println!(
                "  RSS {:+.1} % on cycle 1",
                (rss_kb as f64 / r1 as f64 - 1.0) * 100.0
            );
            if cycle >= 50 {
                let r50 = *settled_rss.get_or_insert(rss_kb);
                ensure!(
                    within(r50 as usize, rss_kb as usize),
                    "RSS {r50} kB after cycle 50 → {rss_kb} kB after cycle {cycle}: still growing"
                );
            }
        }
    }
    drop(livekit);
    Ok(())
}

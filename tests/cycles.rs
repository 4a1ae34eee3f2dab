//! 100 go-live → end cycles of `LiveSession` in one process, through the real backend (its
//! own process) and livekit-server: threads, fds and memory stay where the first cycle left
//! them (`ProcessBaseline`'s bounds). The process runs with the allocator set up as `onair`
//! and the studio set it up (`onair_livekit::tune_memory`); with glibc's defaults RSS ends
//! 5–8 % higher while the memory in use stays flat (see README). Figures are read once counts
//! hold still (libwebrtc frees a closed room's threads in batches) and after the session's
//! teardown gave freed memory back.

use anyhow::{Context, Result};
use onair_e2e::backend::{end_cleanly, wait_video_sent, BackendProcess};
use onair_e2e::harness::{free_tcp_port, load_engine, LiveKitServer, ProcessBaseline};
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
    let mut baseline = ProcessBaseline::default();
    for cycle in 1..=100 {
        let session = LiveSession::go_live(client.clone(), settings.clone()).await?;
        // On air means frames on the wire: every cycle runs the encoder and the sender.
        wait_video_sent(&session)
            .await
            .with_context(|| format!("cycle {cycle}"))?;
        end_cleanly(session, &format!("cycle {cycle}")).await?;
        if cycle == 1 || cycle % 25 == 0 {
            baseline.check(&format!("cycle {cycle}")).await?;
        }
    }
    drop(livekit);
    Ok(())
}

//! 50 connect → publish → close cycles in one process leak no threads, fds or memory.

use std::time::Duration;

use anyhow::{bail, Result};
use onair_e2e::harness::{load_engine, process_figures, LiveKitServer};
use onair_e2e::publisher::{Publisher, PublisherConfig};
use tokio::time::Instant;

/// The SDK frees a closed room's WebRTC threads in batches on a timer of about 5 s, so a
/// cycle's figures are read once thread and fd counts have held still for 6 s.
async fn settled_figures() -> Result<(usize, usize, u64)> {
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut last = process_figures();
    let mut stable_since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = process_figures();
        if (now.0, now.1) != (last.0, last.1) {
            stable_since = Instant::now();
        }
        last = now;
        if stable_since.elapsed() >= Duration::from_secs(6) {
            return Ok(last);
        }
        if Instant::now() > deadline {
            bail!("threads and fds never settled: {last:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_go_live_cycles_leave_threads_fds_and_memory_where_the_first_left_them() -> Result<()> {
    load_engine()?;
    let server = LiveKitServer::start().await?;
    let config = PublisherConfig { width: 640, height: 360, ..Default::default() };
    let mut after_first = None;
    for cycle in 1..=50 {
        let identity = format!("creator-{cycle}");
        let publisher = Publisher::start(&server.url(), &server.token("soak", &identity, true), config.clone()).await?;
        let report = publisher.stop().await?;
        assert!(report.disconnect_confirmed, "cycle {cycle}: {report:?}");
        drop(publisher);
        assert_eq!(onair_livekit::live_handle_count(), 0, "cycle {cycle}");
        server.wait_presence("soak", &identity, false, Duration::from_secs(2)).await?;
        if cycle % 5 == 0 { eprintln!("cycle {cycle}: {:?}", process_figures()); }
        if cycle == 1 {
            after_first = Some(settled_figures().await?);
        }
    }
    let (threads1, fds1, rss1) = after_first.unwrap();
    let (threads50, fds50, rss50) = settled_figures().await?;
    eprintln!("after cycle 1: {threads1} threads, {fds1} fds, {rss1} kB RSS; after cycle 50: {threads50} threads, {fds50} fds, {rss50} kB RSS");
    let within = |a: f64, b: f64, pct: f64| (b - a).abs() <= a * pct / 100.0;
    assert!(within(threads1 as f64, threads50 as f64, 5.0), "threads {threads1} → {threads50}");
    assert!(within(fds1 as f64, fds50 as f64, 5.0), "fds {fds1} → {fds50}");
    assert!(within(rss1 as f64, rss50 as f64, 10.0), "RSS {rss1} kB → {rss50} kB");
    Ok(())
}

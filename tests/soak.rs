//! 50 connect → publish → close cycles in one process leak no threads, fds or memory.

use std::alloc::System;
use std::time::Duration;

use anyhow::Result;
use onair_e2e::harness::{load_engine, settled_process_figures, LiveKitServer, ProcessFigures};
use onair_e2e::publisher::{Publisher, PublisherConfig};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

// Counts what this process's Rust code (the engine included) holds on the heap, apart from
// whatever the SDK library allocates on its side.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Debug, Clone, Copy)]
struct Figures {
    process: ProcessFigures,
    rust_heap_kb: i64,
}

/// Settled process figures (see `settled_process_figures`) plus the Rust heap.
async fn settled_figures() -> Result<Figures> {
    let process = settled_process_figures().await?;
    let heap = GLOBAL.stats();
    Ok(Figures {
        process,
        rust_heap_kb: (heap.bytes_allocated as i64 - heap.bytes_deallocated as i64) / 1024,
    })
}

fn main() -> Result<()> {
    onair_e2e::harness::run_alone(
        "fifty_go_live_cycles_leave_threads_fds_and_memory_where_the_first_left_them",
        fifty_go_live_cycles_leave_threads_fds_and_memory_where_the_first_left_them,
    )
}

async fn fifty_go_live_cycles_leave_threads_fds_and_memory_where_the_first_left_them() -> Result<()>
{
    load_engine()?;
    let server = LiveKitServer::start_verbose().await?;
    let config = PublisherConfig {
        width: 640,
        height: 360,
        ..Default::default()
    };
    // Figures every 10 cycles show the shape: a leak climbs, a warm-up levels off.
    let mut checkpoints: Vec<(u32, Figures)> = Vec::new();
    let mut late_leaves = 0;
    for cycle in 1..=50 {
        let identity = format!("creator-{cycle}");
        let publisher = Publisher::start(
            &server.url(),
            &server.token("soak", &identity, true),
            config.clone(),
        )
        .await?;
        let report = publisher.stop().await?;
        assert!(report.disconnect_confirmed, "cycle {cycle}: {report:?}");
        drop(publisher);
        assert_eq!(onair_livekit::live_handle_count(), 0, "cycle {cycle}");
        // The server normally lists a confirmed leave at once. In two CI runs of many it still
        // listed one after 2 s (not reproduced in 200 local cycles): such a late leave is
        // measured and shown with the server's own account of it, and only a participant
        // the server never lets go fails the test.
        if let Err(late) = server
            .wait_presence("soak", &identity, false, Duration::from_secs(2))
            .await
        {
            let gone = server
                .wait_presence("soak", &identity, false, Duration::from_secs(30))
                .await?;
            eprintln!(
                "cycle {cycle}: the server listed {identity} for {:.1} s after its confirmed leave: {late:#}",
                2.0 + gone.as_secs_f64()
            );
            late_leaves += 1;
        }
        // What a session's teardown does last, once the stream has ended.
        onair_livekit::release_free_memory();
        if cycle == 1 || cycle % 10 == 0 {
            let figures = settled_figures().await?;
            eprintln!("after cycle {cycle}: {figures:?}");
            checkpoints.push((cycle, figures));
        }
    }
    eprintln!("late leaves on the server: {late_leaves} of 50");
    let first = checkpoints[0].1;
    let last = checkpoints.last().expect("cycle 50 ran").1;
    if let Err(moved) = first.process.within(&last.process) {
        panic!("{moved}: {first:?} → {last:?}");
    }
    // A leak of even 200 bytes per cycle on the Rust side would show here.
    assert!(
        (last.rust_heap_kb - first.rust_heap_kb).abs() <= 8,
        "Rust heap {first:?} → {last:?}"
    );
    Ok(())
}

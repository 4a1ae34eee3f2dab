//! What a running process costs, read from `/proc`: CPU in % of one core and resident memory,
//! for the benchmarks.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// CPU (% of one core) and RSS (mean, peak) of `pid` over `window`.
pub async fn sample_process(pid: u32, window: Duration) -> Result<(f64, f64, u64)> {
    let ticks = clock_ticks();
    let cpu0 = cpu_ticks(pid)?;
    let started = Instant::now();
    let mut rss = Vec::new();
    let mut every = tokio::time::interval(Duration::from_millis(500));
    while started.elapsed() < window {
        every.tick().await;
        rss.push(rss_kb(pid)?);
    }
    let cpu1 = cpu_ticks(pid)?;
    let cpu = (cpu1 - cpu0) as f64 / ticks / started.elapsed().as_secs_f64() * 100.0;
    let mean = rss.iter().sum::<u64>() as f64 / rss.len().max(1) as f64;
    Ok((cpu, mean, rss.iter().copied().max().unwrap_or(0)))
}

fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("process ended")?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("process ended")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

//! Microphone figures against a real PulseAudio null sink playing a 440 Hz tone:
//!   - capture → frame delivered to the consumer, p50/p95 (the callback's arrival time, less
//!     the chunk's duration, to the moment the consumer has the 10 ms frame);
//!   - CPU of capture (cpal + our thread) over ONAIR_BENCH_SECS (default 10) seconds;
//!   - resampling cost per 10 ms (44.1 kHz stereo → 48 kHz mono, the common odd case);
//!   - the SDK's audio processing per 10 ms frame, all off vs noise suppression on.
//!
//! `cargo bench --bench audio` (scripts/bench.sh runs it).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use onair_capture::mic::{Chunk, MicConfig, Microphone, Pipeline};
use onair_e2e::pulse::Pulse;
use onair_livekit::{AudioProcessingOptions, AudioProcessor};

fn cpu_seconds() -> f64 {
    // utime + stime, fields 14 and 15 of /proc/self/stat, in clock ticks (100 Hz here).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let secs: u64 = std::env::var("ONAIR_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    onair_e2e::harness::load_engine()?;
    let mut pulse = Pulse::start().await?;
    pulse.play(440, 0.5);

    let mut mic = Microphone::open(MicConfig::default())?;
    // The first second after a sound server starts lags; leave it out.
    for _ in 0..100 {
        mic.next_frame_timeout(Duration::from_secs(2))?;
    }
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let mut latencies = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        if let Some(frame) = mic.next_frame_timeout(Duration::from_secs(1))? {
            latencies.push((now_us().saturating_sub(frame.capture_time_us)) as f64 / 1000.0);
        }
    }
    let cpu = (cpu_seconds() - cpu_before) / started.elapsed().as_secs_f64() * 100.0;
    let report = mic.stop();
    latencies.sort_by(f64::total_cmp);
    println!(
        "mic capture → frame delivered: p50 {:.2} ms  p95 {:.2} ms  (n={}, dropped {}, overruns {})",
        pct(&latencies, 0.5),
        pct(&latencies, 0.95),
        latencies.len(),
        report.dropped,
        report.overruns
    );
    println!("mic capture CPU (48 kHz device, mono 10 ms frames): {cpu:.2} % of one core");

    let mut pipeline = Pipeline::new(44_100, 2, 1);
    let chunk: Vec<f32> = (0..441 * 2)
        .map(|i| (i as f32 * 0.01).sin() * 0.5)
        .collect();
    let n = 3000;
    let t = Instant::now();
    for i in 0..n {
        std::hint::black_box(pipeline.push(&Chunk {
            samples: chunk.clone(),
            arrived_us: i * 10_000,
        }));
    }
    println!(
        "resampling 44.1 kHz stereo → 48 kHz mono: {:.1} µs per 10 ms ({:.2} % of one core)",
        t.elapsed().as_micros() as f64 / n as f64,
        t.elapsed().as_secs_f64() / (n as f64 * 0.01) * 100.0
    );

    let frame = onair_core::AudioFrame {
        samples: (0..480)
            .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
            .collect(),
        sample_rate: 48_000,
        channels: 1,
    };
    for (name, options) in [
        ("off", AudioProcessingOptions::default()),
        (
            "noise suppression",
            AudioProcessingOptions {
                noise_suppression: true,
                ..Default::default()
            },
        ),
        (
            "NS + echo cancellation + auto gain",
            AudioProcessingOptions {
                noise_suppression: true,
                echo_cancellation: true,
                auto_gain_control: true,
                high_pass_filter: false,
            },
        ),
    ] {
        let mut apm = AudioProcessor::new(options)?;
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            let mut f = frame.clone();
            apm.process(&mut f)?;
        }
        println!(
            "SDK audio processing, {name}: {:.1} µs per 10 ms frame ({:.2} % of one core)",
            t.elapsed().as_micros() as f64 / n as f64,
            t.elapsed().as_secs_f64() / (n as f64 * 0.01) * 100.0
        );
    }
    Ok(())
}

//! The microphone through cpal against a real sound server (`onair_e2e::pulse`): capture,
//! pitch and level, mute, release, open/close cycles, and `onair live --mic` heard by the
//! Python viewer. One test at a time (scripts/test.sh passes --test-threads=1).

use std::time::{Duration, Instant};

use onair_capture::mic::{list_microphones, measure, MicConfig, Microphone};
use onair_capture::AudioSource;
use onair_e2e::harness::{JsonProcess, LiveKitServer};
use onair_e2e::pulse::Pulse;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Frames for `duration` after the first `skip` (the first capture after a daemon starts lags).
fn capture(mic: &mut Microphone, skip: usize, count: usize) -> Vec<f32> {
    let mut samples = Vec::new();
    for i in 0..skip + count {
        let frame = mic.next_frame().unwrap();
        if i >= skip {
            samples.extend(frame.frame.samples.iter().map(|s| *s as f32 / 32767.0));
        }
    }
    samples
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tone_played_into_the_sound_server_is_captured_at_48_khz_with_its_pitch_and_level() {
    let mut pulse = Pulse::start().await.unwrap();
    pulse.play(440, 0.5);
    let mics = list_microphones().unwrap();
    assert!(!mics.is_empty(), "cpal lists the PulseAudio-backed devices");
    let mut mic = Microphone::open(MicConfig::default()).unwrap();
    assert_eq!(mic.info().sample_rate, 48_000);
    let samples = capture(&mut mic, 100, 100);
    let hz = onair_capture::analysis::dominant_frequency(&samples, 48_000).unwrap();
    let played_dbfs = 20.0 * (0.5f32 / 2f32.sqrt()).log10();
    let level = mic.level();
    println!("captured {hz:.1} Hz; meter {level:?}; played {played_dbfs:.2} dBFS RMS");
    assert!((hz - 440.0).abs() <= 2.0, "{hz} Hz");
    assert!((level.rms_dbfs - played_dbfs).abs() <= 1.0, "{level:?}");
    assert!((measure(&samples).rms_dbfs - played_dbfs).abs() <= 1.0);
    let report = mic.stop();
    assert!(report.frames >= 200, "{report:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn mute_sends_digital_silence_while_the_device_stays_open() {
    let mut pulse = Pulse::start().await.unwrap();
    pulse.play(440, 0.5);
    let mut mic = Microphone::open(MicConfig::default()).unwrap();
    capture(&mut mic, 100, 1);
    mic.set_muted(true);
    // Frames already queued before the switch may still carry sound; then only zeros.
    let samples = capture(&mut mic, 60, 50);
    assert!(
        samples.iter().all(|s| *s == 0.0),
        "muted frames are all zero"
    );
    assert!(
        mic.level().rms_dbfs > -20.0,
        "the meter still reads the signal: {:?}",
        mic.level()
    );
    assert_eq!(pulse.source_outputs(), 1, "the device stayed open");
    mic.set_muted(false);
    let samples = capture(&mut mic, 60, 50);
    assert!(measure(&samples).rms_dbfs > -20.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_closes_the_device_and_ends_the_thread_before_it_returns() {
    let pulse = Pulse::start().await.unwrap();
    let baseline = threads();
    let mut mic = Microphone::open(MicConfig::default()).unwrap();
    mic.next_frame().unwrap();
    assert_eq!(pulse.source_outputs(), 1);
    assert!(threads() > baseline);
    let report = mic.stop();
    assert_eq!(
        threads(),
        baseline,
        "capture and cpal threads gone when stop returned"
    );
    assert_eq!(
        pulse.source_outputs(),
        0,
        "PulseAudio lists no recording stream of ours"
    );
    println!("stop took {:?}", report.stop_time);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_open_close_cycles_leave_threads_fds_and_memory_where_they_were() {
    let pulse = Pulse::start().await.unwrap();
    let figures = || {
        let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let rss: u64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap();
        (threads(), fds, rss)
    };
    // One cycle first, so one-time allocations (ALSA configuration, PulseAudio client
    // library) are in the baseline.
    Microphone::open(MicConfig::default()).unwrap().stop();
    let start = figures();
    let began = Instant::now();
    for cycle in 0..200 {
        let mut mic = Microphone::open(MicConfig::default()).unwrap();
        mic.next_frame()
            .unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        mic.stop();
    }
    let end = figures();
    println!(
        "200 cycles in {:?}: threads/fds/RSS kB {start:?} → {end:?}",
        began.elapsed()
    );
    assert_eq!(pulse.source_outputs(), 0);
    assert_eq!(start.0, end.0, "threads");
    assert!(
        end.1.abs_diff(start.1) as f64 <= start.1 as f64 * 0.05,
        "fds"
    );
    assert!(
        end.2.abs_diff(start.2) as f64 <= start.2 as f64 * 0.05,
        "RSS"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_microphone_is_a_clear_error() {
    let _pulse = Pulse::start().await.unwrap();
    let err = Microphone::open(MicConfig {
        device: Some("no-such-mic".into()),
        channels: 1,
    })
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("no-such-mic") && err.contains("onair devices"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn onair_live_publishes_the_microphone_and_the_viewer_hears_the_tone() {
    let mut pulse = Pulse::start().await.unwrap();
    pulse.play(440, 0.5);
    let server = LiveKitServer::start().await.unwrap();
    let mut publisher = JsonProcess::onair_live(&server, "mic", &["--mic", "default"]).unwrap();
    publisher
        .wait_for("the microphone published", Duration::from_secs(20), |v| {
            v["event"] == "published" && v["kind"] == "audio"
        })
        .await
        .unwrap();
    let mut viewer =
        JsonProcess::viewer(&server, "mic", "listener", Duration::from_secs(6)).unwrap();
    viewer.finish(Duration::from_secs(30)).await.unwrap();
    let summary = viewer.last_event("summary").expect("a summary").clone();
    let hz = summary["audio_hz"].as_f64().expect("sound was heard");
    println!("viewer heard {hz:.1} Hz at RMS {}", summary["audio_rms"]);
    assert!((hz - 440.0).abs() <= 2.0, "{summary}");
    publisher.terminate().unwrap();
    assert_eq!(publisher.finish(Duration::from_secs(10)).await.unwrap(), 0);
    assert_eq!(
        pulse.source_outputs(),
        0,
        "onair live closed the microphone on exit"
    );
}

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
async fn a_tone_from_a_44_1_khz_device_is_captured_at_48_khz_with_its_pitch_and_level() {
    let mut pulse = Pulse::start_at(44_100).await.unwrap();
    pulse.play(440, 0.5);
    let mics = list_microphones().unwrap();
    assert!(!mics.is_empty(), "cpal lists the PulseAudio-backed devices");
    let mut mic = Microphone::open(MicConfig::default()).unwrap();
    assert_eq!(
        mic.device_format().0,
        44_100,
        "the resampler is in the path"
    );
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
    let mut first_data = Vec::with_capacity(200);
    for cycle in 0..200 {
        let opened = Instant::now();
        let mut mic = Microphone::open(MicConfig::default()).unwrap();
        mic.next_frame()
            .unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        first_data.push(opened.elapsed());
        mic.stop();
    }
    let end = figures();
    first_data.sort();
    println!(
        "200 cycles in {:?}: threads/fds/RSS kB {start:?} → {end:?}; open → first frame p50 {:?}, p95 {:?}, max {:?}, over 2 s: {}",
        began.elapsed(),
        first_data[100],
        first_data[189],
        first_data[199],
        first_data.iter().filter(|d| d.as_secs_f64() > 2.0).count()
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
    // 44.1 kHz: the published audio went through our resampler.
    let mut pulse = Pulse::start_at(44_100).await.unwrap();
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

#[tokio::test(flavor = "multi_thread")]
async fn the_sdks_noise_suppression_lowers_steady_noise_and_is_off_by_default() {
    use onair_livekit::{AudioProcessingOptions, AudioProcessor};
    onair_e2e::harness::load_engine().unwrap();
    let mut pulse = Pulse::start().await.unwrap();
    pulse.play_noise(0.3);
    let mut mic = Microphone::open(MicConfig::default()).unwrap();
    let mut off = AudioProcessor::new(AudioProcessingOptions::default()).unwrap();
    let mut on = AudioProcessor::new(AudioProcessingOptions {
        noise_suppression: true,
        ..Default::default()
    })
    .unwrap();
    assert!(!AudioProcessingOptions::default().any(), "off by default");
    let (mut raw, mut passed, mut suppressed) = (Vec::new(), Vec::new(), Vec::new());
    let (mut cost_off, mut cost_on) = (Duration::ZERO, Duration::ZERO);
    // 1 s to converge, then 2 s measured.
    for i in 0..300 {
        let frame = mic.next_frame().unwrap().frame;
        let (mut a, mut b) = (frame.clone(), frame.clone());
        let t = Instant::now();
        off.process(&mut a).unwrap();
        cost_off += t.elapsed();
        let t = Instant::now();
        on.process(&mut b).unwrap();
        cost_on += t.elapsed();
        if i >= 100 {
            let f = |s: &[i16]| s.iter().map(|v| *v as f32 / 32767.0).collect::<Vec<_>>();
            raw.extend(f(&frame.samples));
            passed.extend(f(&a.samples));
            suppressed.extend(f(&b.samples));
        }
    }
    mic.stop();
    let (raw, passed, suppressed) = (
        measure(&raw).rms_dbfs,
        measure(&passed).rms_dbfs,
        measure(&suppressed).rms_dbfs,
    );
    println!(
        "white noise: captured {raw:.1} dBFS, processing off {passed:.1} dBFS, noise suppression {suppressed:.1} dBFS; \
         {:.0} µs per 10 ms frame off, {:.0} µs on",
        cost_off.as_micros() as f64 / 300.0,
        cost_on.as_micros() as f64 / 300.0
    );
    assert!((passed - raw).abs() < 0.5, "all stages off changes nothing");
    assert!(
        suppressed < raw - 6.0,
        "suppression takes at least 6 dB off steady noise"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn muting_the_microphone_gives_the_viewer_digital_silence_while_the_device_stays_open() {
    use onair_livekit::{
        AudioSourceOptions, LocalAudioTrack, NativeAudioSource, Room, RoomOptions,
        TrackPublishOptions, TrackSource,
    };
    onair_e2e::harness::load_engine().unwrap();
    let mut pulse = Pulse::start().await.unwrap();
    pulse.play(440, 0.5);
    let server = LiveKitServer::start().await.unwrap();
    let (room, _events) = Room::connect(
        &server.url(),
        &server.token("mute", "creator", true),
        RoomOptions::default(),
    )
    .await
    .unwrap();
    let source = NativeAudioSource::new(AudioSourceOptions::default(), 48_000, 1, 0).unwrap();
    let track = LocalAudioTrack::create_audio_track("microphone", source.clone()).unwrap();
    room.local_participant()
        .publish_track(
            track,
            TrackPublishOptions {
                source: TrackSource::Microphone,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut mic = Microphone::open(MicConfig::default()).unwrap();
    let switch = mic.mute_switch();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pump_stop = stop.clone();
    let runtime = tokio::runtime::Handle::current();
    let pump = tokio::task::spawn_blocking(move || {
        while !pump_stop.load(std::sync::atomic::Ordering::SeqCst) {
            if let Ok(Some(f)) = mic.next_frame_timeout(Duration::from_millis(100)) {
                if runtime.block_on(source.capture_frame(&f.frame)).is_err() {
                    break;
                }
            }
        }
        mic.stop()
    });
    let mut viewer =
        JsonProcess::viewer(&server, "mute", "listener", Duration::from_secs(30)).unwrap();
    let loud = |v: &serde_json::Value| {
        v["event"] == "report" && v["audio_rms_200ms"].as_f64().is_some_and(|r| r > 0.2)
    };
    viewer
        .wait_for("the tone", Duration::from_secs(15), loud)
        .await
        .unwrap();
    let muted_at = Instant::now();
    switch.set(true);
    // A report from after the switch: the viewer may have reported silence before the
    // microphone's first samples arrived.
    let silent = viewer
        .wait_new("digital silence", Duration::from_secs(10), |v| {
            v["event"] == "report" && v["audio_peak_200ms"].as_f64() == Some(0.0)
        })
        .await
        .unwrap();
    println!(
        "silent at the viewer within {:?}: {silent}",
        muted_at.elapsed()
    );
    assert_eq!(
        pulse.source_outputs(),
        1,
        "the device stayed open while muted"
    );
    switch.set(false);
    let seen = viewer.seen.len();
    viewer
        .wait_for("the tone again", Duration::from_secs(10), |v| {
            loud(v) && v["t"].as_f64() > silent["t"].as_f64()
        })
        .await
        .unwrap();
    assert!(viewer.seen.len() > seen);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let report = pump.await.unwrap();
    println!("{report:?}");
    room.close().await.unwrap();
    assert_eq!(pulse.source_outputs(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_microphone_that_goes_away_is_a_typed_device_lost_error_not_a_hang_or_a_panic() {
    let mut pulse = Pulse::start().await.unwrap();
    pulse.play(440, 0.5);
    let mut mic = Microphone::open(MicConfig::default()).unwrap();
    mic.next_frame().unwrap();
    pulse.kill_server();
    let lost_at = Instant::now();
    let err = loop {
        match mic.next_frame_timeout(Duration::from_secs(5)) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error within 5 s of the server dying"),
            Err(err) => break err,
        }
    };
    println!("{err} ({:?} after the server died)", lost_at.elapsed());
    assert!(
        matches!(err, onair_capture::CaptureError::DeviceLost(_)),
        "{err}"
    );
    let report = mic.stop();
    assert!(report.stop_time < Duration::from_secs(2), "{report:?}");
}

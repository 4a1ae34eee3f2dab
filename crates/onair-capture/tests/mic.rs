//! The microphone through cpal against a real sound server: PulseAudio with a null sink whose
//! monitor is the default source, a 440 Hz tone played into it with sox | paplay (the recipe
//! in docs/testing.md). Needs `pulseaudio`, `pactl`, `paplay` and `sox` (scripts/setup.sh).
//! Run one test at a time (`--test-threads=1`, as scripts/test.sh does): each sets
//! PULSE_SERVER for this process.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use onair_capture::mic::{list_microphones, measure, MicConfig, Microphone};
use onair_capture::AudioSource;

/// A PulseAudio daemon of our own, in the foreground, killed on drop.
struct Pulse {
    daemon: Child,
    player: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Pulse {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--load=module-native-protocol-unix auth-anonymous=1",
                "--load=module-null-sink sink_name=onair_sink rate=48000 channels=2",
                "--load=module-always-sink",
            ])
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pulseaudio (scripts/setup.sh installs it)");
        let pulse = Self {
            daemon,
            player: Vec::new(),
            dir,
        };
        // Tests run one at a time (see the module comment): nothing else reads it meanwhile.
        std::env::set_var("PULSE_SERVER", pulse.server());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pulse.pactl(&["info"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "pulseaudio did not start within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(pulse
            .pactl(&["set-default-source", "onair_sink.monitor"])
            .status
            .success());
        pulse
    }

    fn server(&self) -> String {
        format!("unix:{}/pulse/native", self.dir.path().display())
    }

    fn pactl(&self, args: &[&str]) -> std::process::Output {
        Command::new("pactl")
            .args(args)
            .env("PULSE_SERVER", self.server())
            .output()
            .unwrap()
    }

    /// Plays a sine of `hz` at linear amplitude `amplitude` into the null sink.
    fn play(&mut self, hz: u32, amplitude: f32) {
        let mut sox = Command::new("sox")
            .args([
                "-n", "-r", "48000", "-c", "2", "-t", "wav", "-", "synth", "60", "sine",
            ])
            .arg(hz.to_string())
            .args(["vol", &amplitude.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sox");
        let paplay = Command::new("paplay")
            .arg("--latency-msec=20")
            .env("PULSE_SERVER", self.server())
            .stdin(Stdio::from(sox.stdout.take().unwrap()))
            .spawn()
            .expect("paplay");
        self.player.push(sox);
        self.player.push(paplay);
    }

    /// Source outputs (recording streams) the server has open.
    fn source_outputs(&self) -> usize {
        let out = self.pactl(&["list", "short", "source-outputs"]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        for child in self
            .player
            .iter_mut()
            .chain(std::iter::once(&mut self.daemon))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

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

#[test]
fn a_tone_played_into_the_sound_server_is_captured_at_48_khz_with_its_pitch_and_level() {
    let mut pulse = Pulse::start();
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

#[test]
fn mute_sends_digital_silence_while_the_device_stays_open() {
    let mut pulse = Pulse::start();
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

#[test]
fn stopping_closes_the_device_and_ends_the_thread_before_it_returns() {
    let pulse = Pulse::start();
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

#[test]
fn two_hundred_open_close_cycles_leave_threads_fds_and_memory_where_they_were() {
    let pulse = Pulse::start();
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

#[test]
fn an_unknown_microphone_is_a_clear_error() {
    let _pulse = Pulse::start();
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

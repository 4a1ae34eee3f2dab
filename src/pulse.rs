//! A PulseAudio server of our own for tests that capture sound through cpal: a null sink whose
//! monitor is the default source, and a tone played into it with sox | paplay (the recipe in
//! docs/testing.md). Needs `pulseaudio`, `pactl`, `paplay` and `sox` (scripts/setup.sh).
//! Starting one sets PULSE_SERVER for this process and its children, so tests using it run
//! one at a time (scripts/test.sh passes --test-threads=1).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::harness::retry_for;

/// A PulseAudio daemon of our own, in the foreground, killed on drop.
pub struct Pulse {
    daemon: Child,
    player: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Pulse {
    /// A server whose sink (and so the default source) runs at 48 kHz.
    pub async fn start() -> Result<Self> {
        Self::start_at(48_000).await
    }

    /// A server whose sink runs at `rate`: 44,100 makes every capture go through resampling.
    pub async fn start_at(rate: u32) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let daemon = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--load=module-native-protocol-unix auth-anonymous=1",
                &format!("--load=module-null-sink sink_name=onair_sink rate={rate} channels=2"),
                "--load=module-always-sink",
            ])
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start pulseaudio (scripts/setup.sh installs it)")?;
        let pulse = Self {
            daemon,
            player: Vec::new(),
            dir,
        };
        // Tests using this run one at a time (see the module comment).
        std::env::set_var("PULSE_SERVER", pulse.server());
        retry_for(
            Duration::from_secs(10),
            Duration::from_millis(20),
            || async {
                anyhow::ensure!(
                    pulse.pactl(&["info"]).status.success(),
                    "pulseaudio not answering"
                );
                Ok(())
            },
        )
        .await
        .context("pulseaudio did not start within 10 s")?;
        anyhow::ensure!(
            pulse
                .pactl(&["set-default-source", "onair_sink.monitor"])
                .status
                .success(),
            "pactl set-default-source failed"
        );
        Ok(pulse)
    }

    pub fn server(&self) -> String {
        format!("unix:{}/pulse/native", self.dir.path().display())
    }

    pub fn pactl(&self, args: &[&str]) -> std::process::Output {
        Command::new("pactl")
            .args(args)
            .env("PULSE_SERVER", self.server())
            .output()
            .unwrap()
    }

    /// Plays a sine of `hz` at linear amplitude `amplitude` into the null sink.
    pub fn play(&mut self, hz: u32, amplitude: f32) {
        self.play_synth(&["sine", &hz.to_string()], amplitude);
    }

    /// Plays white noise at linear amplitude `amplitude` into the null sink.
    pub fn play_noise(&mut self, amplitude: f32) {
        self.play_synth(&["whitenoise"], amplitude);
    }

    fn play_synth(&mut self, synth: &[&str], amplitude: f32) {
        let mut sox = Command::new("sox")
            .args([
                "-n", "-r", "48000", "-c", "2", "-t", "wav", "-", "synth", "60",
            ])
            .args(synth)
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

    /// Kills the sound server, as a crash (or a pulled USB device) would.
    pub fn kill_server(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }

    /// Source outputs (recording streams) the server has open.
    pub fn source_outputs(&self) -> usize {
        self.source_output_ids().len()
    }

    /// The index of each open recording stream: a device closed and opened again shows as a
    /// new index.
    pub fn source_output_ids(&self) -> Vec<String> {
        let out = self.pactl(&["list", "short", "source-outputs"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .collect()
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

//! A continuous sine tone: a creator's "is my audio path working" check, and the reference
//! signal tests measure at the far end.

use std::f64::consts::TAU;

use onair_core::{clock, AudioFrame};

use crate::{AudioInfo, AudioSource, CaptureError, CapturedAudioFrame};

/// A phase-continuous sine tone in 10 ms frames.
#[derive(Debug, Clone)]
pub struct Tone {
    frequency: f64,
    sample_rate: u32,
    channels: u32,
    amplitude: f64,
    phase: f64,
    beeps: bool,
}

/// With beeps on, the tone sounds for this long from each whole second of the wall clock.
pub const BEEP_MS: u64 = 200;

impl Tone {
    /// `amplitude_dbfs` ≤ 0 (−12 dBFS is a comfortable level).
    pub fn new(
        frequency: f64,
        sample_rate: u32,
        channels: u32,
        amplitude_dbfs: f64,
    ) -> Result<Self, CaptureError> {
        if !(20.0..=20_000.0).contains(&frequency) || frequency * 2.0 >= sample_rate as f64 {
            return Err(CaptureError::InvalidSettings(format!(
                "tone frequency {frequency} Hz must be 20–20000 Hz and below half the {sample_rate} Hz sample rate"
            )));
        }
        if !(1..=2).contains(&channels) || !sample_rate.is_multiple_of(100) || amplitude_dbfs > 0.0
        {
            return Err(CaptureError::InvalidSettings(format!(
                "tone needs 1 or 2 channels, a sample rate divisible by 100 and a level ≤ 0 dBFS (got {channels} channels, {sample_rate} Hz, {amplitude_dbfs} dBFS)"
            )));
        }
        Ok(Self {
            frequency,
            sample_rate,
            channels,
            amplitude: 10f64.powf(amplitude_dbfs / 20.0),
            phase: 0.0,
            beeps: false,
        })
    }

    /// Sounds only for the first [`BEEP_MS`] of each second of the wall clock (the test
    /// pattern's stamp carries the same clock): a sync check, whose onsets line up with the
    /// pictures of whole seconds when picture and sound are in sync.
    pub fn beeping(mut self) -> Self {
        self.beeps = true;
        self
    }

    /// 440 Hz, 48 kHz mono, −12 dBFS.
    pub fn a440() -> Self {
        Self::new(440.0, 48_000, 1, -12.0).expect("valid constants")
    }

    /// Renders the next 10 ms.
    pub fn render(&mut self) -> AudioFrame {
        let n = (self.sample_rate / 100) as usize;
        let step = TAU * self.frequency / self.sample_rate as f64;
        let mut samples = Vec::with_capacity(n * self.channels as usize);
        for _ in 0..n {
            let value = (self.phase.sin() * self.amplitude * i16::MAX as f64).round() as i16;
            for _ in 0..self.channels {
                samples.push(value);
            }
            self.phase = (self.phase + step) % TAU;
        }
        AudioFrame {
            samples,
            sample_rate: self.sample_rate,
            channels: self.channels,
        }
    }
}

impl AudioSource for Tone {
    fn info(&self) -> AudioInfo {
        AudioInfo {
            name: format!("Tone {} Hz", self.frequency),
            sample_rate: self.sample_rate,
            channels: self.channels,
        }
    }

    fn next_frame(&mut self) -> Result<CapturedAudioFrame, CaptureError> {
        let capture_time_us = clock::unix_micros();
        let mut frame = self.render();
        if self.beeps {
            let channels = self.channels as usize;
            for (i, sample) in frame.samples.chunks_mut(channels).enumerate() {
                let at_us = capture_time_us + i as u64 * 1_000_000 / self.sample_rate as u64;
                if at_us / 1_000 % 1_000 >= BEEP_MS {
                    sample.fill(0);
                }
            }
        }
        Ok(CapturedAudioFrame {
            frame,
            capture_time_us,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis;

    #[test]
    fn the_tone_measures_at_its_own_frequency() {
        let mut tone = Tone::new(440.0, 48_000, 2, -12.0).unwrap();
        let mut mono = Vec::new();
        for _ in 0..100 {
            let frame = tone.render();
            assert_eq!(frame.samples.len(), 960);
            mono.extend(frame.samples.chunks(2).map(|c| c[0] as f32 / 32768.0));
        }
        let f = analysis::dominant_frequency(&mono, 48_000).unwrap();
        assert!((f - 440.0).abs() < 0.5, "{f}");
    }

    #[test]
    fn the_tone_level_matches_its_setting() {
        let mut tone = Tone::new(1000.0, 48_000, 1, -12.0).unwrap();
        let frame = tone.render();
        let level = analysis::Level::of_i16(&frame.samples);
        // A sine's RMS is 3 dB below its peak.
        assert!((level.peak_dbfs + 12.0).abs() < 0.2, "{level:?}");
        assert!((level.rms_dbfs + 15.0).abs() < 0.2, "{level:?}");
    }

    #[test]
    fn a_tone_above_nyquist_is_refused() {
        assert!(Tone::new(30_000.0, 48_000, 1, -12.0).is_err());
    }
}

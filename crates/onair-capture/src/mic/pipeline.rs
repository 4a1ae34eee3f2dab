//! What the microphone's thread does to each callback's samples, without a device: mixing to
//! the requested channels, resampling to 48 kHz (rubato), cutting 10 ms frames, and the
//! meter's level.

use rubato::{FftFixedIn, Resampler};

use super::{FRAME_SAMPLES, OUTPUT_RATE};

/// The meter's reading of the latest 10 ms, before mute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub rms_dbfs: f32,
    pub peak_dbfs: f32,
}

fn dbfs(x: f32) -> f32 {
    if x <= 1e-9 {
        -180.0
    } else {
        20.0 * x.log10()
    }
}

/// Measures one frame of samples in -1..1.
pub fn measure(samples: &[f32]) -> Level {
    if samples.is_empty() {
        return Level {
            rms_dbfs: -180.0,
            peak_dbfs: -180.0,
        };
    }
    let sum: f32 = samples.iter().map(|s| s * s).sum();
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    Level {
        rms_dbfs: dbfs((sum / samples.len() as f32).sqrt()),
        peak_dbfs: dbfs(peak),
    }
}

/// A chunk from the audio callback: interleaved f32 and when it arrived.
pub struct Chunk {
    pub samples: Vec<f32>,
    /// Wall clock, microseconds since the Unix epoch.
    pub arrived_us: u64,
}

/// Channel mixing, resampling and 10 ms framing: pure, so it is tested without a device.
pub struct Pipeline {
    in_channels: usize,
    out_channels: usize,
    resampler: Option<FftFixedIn<f32>>,
    /// Per output channel, samples at the input rate not yet resampled.
    pending_in: Vec<Vec<f32>>,
    /// Interleaved output samples not yet framed.
    pending_out: Vec<f32>,
    /// Capture time of the first sample in `pending_out`.
    pending_out_us: u64,
    in_rate: u32,
}

impl Pipeline {
    pub fn new(in_rate: u32, in_channels: usize, out_channels: usize) -> Self {
        let resampler = (in_rate != OUTPUT_RATE).then(|| {
            FftFixedIn::new(
                in_rate as usize,
                OUTPUT_RATE as usize,
                in_rate as usize / 100,
                2,
                out_channels,
            )
            .expect("valid rates")
        });
        Self {
            in_channels: in_channels.max(1),
            out_channels,
            resampler,
            pending_in: vec![Vec::new(); out_channels],
            pending_out: Vec::new(),
            pending_out_us: 0,
            in_rate,
        }
    }

    /// Feeds one callback's interleaved samples; returns the complete 10 ms frames
    /// (interleaved, at 48 kHz) with the capture time of their first sample.
    pub fn push(&mut self, chunk: &Chunk) -> Vec<(Vec<f32>, u64)> {
        let frames_in = chunk.samples.len() / self.in_channels;
        let chunk_start_us = chunk
            .arrived_us
            .saturating_sub(frames_in as u64 * 1_000_000 / self.in_rate as u64);
        // Mix: mono takes the mean of all input channels; stereo takes the first two (or
        // duplicates a mono input).
        for frame in chunk.samples.chunks_exact(self.in_channels) {
            if self.out_channels == 1 {
                self.pending_in[0].push(frame.iter().sum::<f32>() / frame.len() as f32);
            } else {
                self.pending_in[0].push(frame[0]);
                self.pending_in[1].push(*frame.get(1).unwrap_or(&frame[0]));
            }
        }
        if self.pending_out.is_empty() {
            let backlog = self.pending_in[0].len().saturating_sub(frames_in) as u64;
            self.pending_out_us =
                chunk_start_us.saturating_sub(backlog * 1_000_000 / self.in_rate as u64);
        }
        match &mut self.resampler {
            None => {
                let n = self.pending_in[0].len();
                for i in 0..n {
                    for ch in 0..self.out_channels {
                        self.pending_out.push(self.pending_in[ch][i]);
                    }
                }
                for ch in &mut self.pending_in {
                    ch.clear();
                }
            }
            Some(resampler) => {
                while self.pending_in[0].len() >= resampler.input_frames_next() {
                    let need = resampler.input_frames_next();
                    let input: Vec<Vec<f32>> = self
                        .pending_in
                        .iter_mut()
                        .map(|c| c.drain(..need).collect())
                        .collect();
                    let Ok(output) = resampler.process(&input, None) else {
                        break;
                    };
                    for i in 0..output[0].len() {
                        for ch in output.iter() {
                            self.pending_out.push(ch[i]);
                        }
                    }
                }
            }
        }
        let frame_len = FRAME_SAMPLES * self.out_channels;
        let mut out = Vec::new();
        while self.pending_out.len() >= frame_len {
            let samples: Vec<f32> = self.pending_out.drain(..frame_len).collect();
            out.push((samples, self.pending_out_us));
            self.pending_out_us += 10_000;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, channels: usize, hz: f32, amplitude: f32, ms: usize) -> Vec<f32> {
        let n = rate as usize * ms / 1000;
        (0..n)
            .flat_map(|i| {
                let s =
                    amplitude * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin();
                std::iter::repeat_n(s, channels)
            })
            .collect()
    }

    #[test]
    fn a_full_scale_sine_reads_minus_3_dbfs_rms_and_0_dbfs_peak() {
        let level = measure(&sine(48_000, 1, 1000.0, 1.0, 10));
        assert!((level.rms_dbfs + 3.01).abs() < 0.05, "{level:?}");
        assert!(level.peak_dbfs.abs() < 0.05, "{level:?}");
        assert_eq!(measure(&[0.0; 480]).rms_dbfs, -180.0);
    }

    #[test]
    fn a_44_1_khz_stereo_tone_comes_out_as_48_khz_mono_10_ms_frames_at_the_same_pitch() {
        let mut p = Pipeline::new(44_100, 2, 1);
        let input = sine(44_100, 2, 440.0, 0.5, 1000);
        let mut out = Vec::new();
        for (i, piece) in input.chunks(2 * 441).enumerate() {
            let chunk = Chunk {
                samples: piece.to_vec(),
                arrived_us: 1_000_000 + i as u64 * 10_000,
            };
            out.extend(p.push(&chunk));
        }
        assert!(out.len() >= 95, "{} frames", out.len());
        assert!(out.iter().all(|(f, _)| f.len() == 480));
        let samples: Vec<f32> = out.iter().skip(10).flat_map(|(f, _)| f.clone()).collect();
        let hz = crate::analysis::dominant_frequency(&samples, 48_000).unwrap();
        assert!((hz - 440.0).abs() < 2.0, "{hz} Hz");
        let level = measure(&samples);
        assert!((level.rms_dbfs - (-9.03)).abs() < 0.3, "{level:?}");
        // Frame times advance by 10 ms.
        assert_eq!(out[5].1 - out[4].1, 10_000);
    }

    #[test]
    fn stereo_out_of_a_mono_device_duplicates_the_channel() {
        let mut p = Pipeline::new(48_000, 1, 2);
        let out = p.push(&Chunk {
            samples: sine(48_000, 1, 440.0, 0.5, 10),
            arrived_us: 10_000,
        });
        assert_eq!(out.len(), 1);
        let f = &out[0].0;
        assert!(f.chunks_exact(2).all(|lr| lr[0] == lr[1]));
    }
}

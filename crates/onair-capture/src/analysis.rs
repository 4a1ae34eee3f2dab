//! Measurements on audio: level for meters, dominant frequency for checks at the far end.

use rustfft::{num_complex::Complex, FftPlanner};

/// RMS and peak level in dBFS (0 dBFS = full scale; silence is −∞, reported as −120).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub rms_dbfs: f64,
    pub peak_dbfs: f64,
}

const FLOOR_DB: f64 = -120.0;

fn to_db(x: f64) -> f64 {
    if x <= 0.0 {
        FLOOR_DB
    } else {
        (20.0 * x.log10()).max(FLOOR_DB)
    }
}

impl Level {
    pub fn of_i16(samples: &[i16]) -> Self {
        if samples.is_empty() {
            return Self {
                rms_dbfs: FLOOR_DB,
                peak_dbfs: FLOOR_DB,
            };
        }
        let scale = 1.0 / 32768.0;
        let mut sum = 0.0f64;
        let mut peak = 0.0f64;
        for &s in samples {
            let x = s as f64 * scale;
            sum += x * x;
            peak = peak.max(x.abs());
        }
        Self {
            rms_dbfs: to_db((sum / samples.len() as f64).sqrt()),
            peak_dbfs: to_db(peak),
        }
    }
}

/// The strongest frequency in `samples` (mono, −1..1), interpolated between FFT bins.
/// `None` for silence or fewer than 256 samples.
pub fn dominant_frequency(samples: &[f32], sample_rate: u32) -> Option<f64> {
    let n = samples.len();
    if n < 256 {
        return None;
    }
    // A Hann window keeps a tone that does not fit the window exactly from smearing.
    let mut buffer: Vec<Complex<f32>> = samples
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let w = 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / (n - 1) as f32).cos();
            Complex::new(x * w, 0.0)
        })
        .collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut buffer);
    let magnitudes: Vec<f64> = buffer[..n / 2].iter().map(|c| c.norm() as f64).collect();
    let (peak, &max) = magnitudes
        .iter()
        .enumerate()
        .skip(1)
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    if max < 1e-3 {
        return None;
    }
    // Quadratic interpolation on log magnitudes around the peak bin.
    let offset = if peak + 1 < magnitudes.len() {
        let (a, b, c) = (
            magnitudes[peak - 1].max(1e-12).ln(),
            max.ln(),
            magnitudes[peak + 1].max(1e-12).ln(),
        );
        let denom = a - 2.0 * b + c;
        if denom.abs() > 1e-12 {
            0.5 * (a - c) / denom
        } else {
            0.0
        }
    } else {
        0.0
    };
    Some((peak as f64 + offset) * sample_rate as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_has_no_dominant_frequency_and_a_floor_level() {
        assert_eq!(dominant_frequency(&[0.0; 4800], 48_000), None);
        assert_eq!(Level::of_i16(&[0; 480]).rms_dbfs, -120.0);
    }

    #[test]
    fn full_scale_peaks_read_zero_dbfs() {
        let level = Level::of_i16(&[i16::MIN, 0, 0, 0]);
        assert!(level.peak_dbfs.abs() < 1e-9);
    }

    #[test]
    fn a_tone_between_fft_bins_is_still_found() {
        let rate = 48_000;
        let samples: Vec<f32> = (0..4800)
            .map(|i| (std::f32::consts::TAU * 1234.5 * i as f32 / rate as f32).sin())
            .collect();
        let f = dominant_frequency(&samples, rate).unwrap();
        assert!((f - 1234.5).abs() < 2.0, "{f}");
    }
}

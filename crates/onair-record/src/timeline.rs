//! The recording's timestamps, from the capture clock: one origin for the picture and the
//! sound, so they stay in sync however each source is paced.

use std::time::Duration;

/// A sound source whose capture times stray this far from its sample count is re-anchored
/// (frames were lost, or its clock drifts): small jitter is ignored, real gaps are kept.
pub const RESYNC: Duration = Duration::from_millis(40);
/// The most silence one gap becomes (a capture thread stalled longer than this leaves the
/// sound that much behind rather than one huge buffer of zeros).
pub const MAX_SILENCE: Duration = Duration::from_secs(10);

/// Maps capture times (µs since the Unix epoch) to recording time.
#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    origin_us: u64,
}

impl Timeline {
    pub fn starting_at(origin_us: u64) -> Self {
        Self { origin_us }
    }

    /// The recording time of a capture time; `None` before the recording started.
    pub fn at(&self, capture_time_us: u64) -> Option<Duration> {
        capture_time_us
            .checked_sub(self.origin_us)
            .map(Duration::from_micros)
    }
}

/// Where each block of samples goes. The sound is written as one unbroken run of samples
/// from the recording's start (the muxer gives a track no gaps and starts it at zero): small
/// jitter in capture times is ignored, a lost stretch becomes silence, and sound that runs
/// ahead of its capture clock is dropped until the clock catches up.
#[derive(Debug, Clone)]
pub struct SampleClock {
    start: Duration,
    written: u64,
}

/// What to write for one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Drop,
    Write {
        pts: Duration,
        /// Silent samples (per channel) before the block.
        silence: u64,
        /// Samples (per channel) at the block's start to leave out: before the start.
        skip: u64,
    },
}

fn samples_in(d: Duration, rate: u32) -> u64 {
    (d.as_nanos() * rate as u128 / 1_000_000_000) as u64
}

impl SampleClock {
    /// Sound from `start` on (the first picture's time).
    pub fn starting_at(start: Duration) -> Self {
        Self { start, written: 0 }
    }

    pub fn place(&mut self, captured: Duration, samples: u64, rate: u32) -> Placement {
        let counted = self.start + Duration::from_nanos(self.written * 1_000_000_000 / rate as u64);
        let (silence, skip) = if self.written == 0 {
            if captured >= self.start {
                (
                    samples_in((captured - self.start).min(MAX_SILENCE), rate),
                    0,
                )
            } else {
                let skip = samples_in(self.start - captured, rate);
                if skip >= samples {
                    return Placement::Drop;
                }
                (0, skip)
            }
        } else if captured > counted + RESYNC {
            (samples_in((captured - counted).min(MAX_SILENCE), rate), 0)
        } else if counted > captured + RESYNC {
            return Placement::Drop;
        } else {
            (0, 0)
        };
        self.written += silence + samples - skip;
        Placement::Write {
            pts: counted,
            silence,
            skip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn write(pts: Duration, silence: u64, skip: u64) -> Placement {
        Placement::Write { pts, silence, skip }
    }

    #[test]
    fn capture_times_before_the_start_are_not_recorded() {
        let timeline = Timeline::starting_at(1_000_000);
        assert_eq!(timeline.at(999_999), None);
        assert_eq!(timeline.at(1_000_000), Some(Duration::ZERO));
        assert_eq!(timeline.at(1_033_333), Some(Duration::from_micros(33_333)));
    }

    #[test]
    fn jittery_capture_times_give_evenly_spaced_sound() {
        let mut clock = SampleClock::starting_at(MS * 100);
        let jitter = [0, 7, 3, 12, 1, 9, 0, 15];
        let placed: Vec<_> = jitter
            .iter()
            .enumerate()
            .map(|(i, j)| clock.place(MS * (100 + 10 * i as u32 + j), 480, 48_000))
            .collect();
        let expected: Vec<_> = (0..8).map(|i| write(MS * (100 + 10 * i), 0, 0)).collect();
        assert_eq!(placed, expected);
    }

    #[test]
    fn sound_from_before_the_first_picture_is_cut_at_it() {
        let mut clock = SampleClock::starting_at(MS * 105);
        assert_eq!(clock.place(MS * 90, 480, 48_000), Placement::Drop);
        assert_eq!(clock.place(MS * 100, 480, 48_000), write(MS * 105, 0, 240));
        assert_eq!(clock.place(MS * 110, 480, 48_000), write(MS * 110, 0, 0));
    }

    #[test]
    fn sound_starting_after_the_first_picture_is_preceded_by_silence() {
        let mut clock = SampleClock::starting_at(MS * 100);
        assert_eq!(
            clock.place(MS * 130, 480, 48_000),
            write(MS * 100, 1_440, 0)
        );
        assert_eq!(clock.place(MS * 140, 480, 48_000), write(MS * 140, 0, 0));
    }

    #[test]
    fn a_gap_in_the_sound_becomes_silence() {
        let mut clock = SampleClock::starting_at(Duration::ZERO);
        assert_eq!(
            clock.place(Duration::ZERO, 480, 48_000),
            write(Duration::ZERO, 0, 0)
        );
        assert_eq!(clock.place(MS * 10, 480, 48_000), write(MS * 10, 0, 0));
        // 200 ms of frames lost.
        assert_eq!(clock.place(MS * 220, 480, 48_000), write(MS * 20, 9_600, 0));
        assert_eq!(clock.place(MS * 232, 480, 48_000), write(MS * 230, 0, 0));
    }

    #[test]
    fn a_stall_longer_than_ten_seconds_is_filled_with_ten_seconds_at_most() {
        let mut clock = SampleClock::starting_at(Duration::ZERO);
        assert_eq!(
            clock.place(Duration::ZERO, 480, 48_000),
            write(Duration::ZERO, 0, 0)
        );
        let Placement::Write { silence, .. } = clock.place(MS * 600_000, 480, 48_000) else {
            panic!("dropped");
        };
        assert_eq!(silence, 480_000);
    }

    #[test]
    fn sound_running_ahead_of_its_capture_clock_is_dropped_until_it_is_back() {
        let mut clock = SampleClock::starting_at(Duration::ZERO);
        assert_eq!(
            clock.place(Duration::ZERO, 4_800, 48_000),
            write(Duration::ZERO, 0, 0)
        );
        // 100 ms counted, but only 50 ms passed.
        assert_eq!(clock.place(MS * 50, 480, 48_000), Placement::Drop);
        assert_eq!(clock.place(MS * 95, 480, 48_000), write(MS * 100, 0, 0));
    }
}

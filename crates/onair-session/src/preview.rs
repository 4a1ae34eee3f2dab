//! A small, throttled copy of the picture going on air, for the studio's preview, and the
//! level of the sound going with it, for its meter. Frames are
//! scaled to fit [`PREVIEW_WIDTH`] wide and converted to RGBA at most [`PREVIEW_FPS`] times
//! a second (about 1 ms each for 720p), and only while someone is looking (a reader asked within [`WATCH_WINDOW`]): a
//! hidden or closed window costs nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onair_capture::analysis::Level;
use onair_core::I420Frame;

/// As fast as a 30 fps camera delivers: a slower cap would take every other frame (15 fps).
pub const PREVIEW_FPS: f64 = 30.0;
pub const PREVIEW_WIDTH: u32 = 384;
/// A reader that has not asked for this long is gone.
pub const WATCH_WINDOW: Duration = Duration::from_secs(2);
/// No sound for this long means no sound source (audio off, or stopped).
const LEVEL_STALE: Duration = Duration::from_millis(500);

/// One preview picture.
#[derive(Debug, PartialEq, Eq)]
pub struct PreviewFrame {
    /// Increases by one per picture.
    pub seq: u64,
    pub width: u32,
    pub height: u32,
    /// `width * height * 4` bytes, row by row.
    pub rgba: Vec<u8>,
}

#[derive(Default)]
struct State {
    latest: Option<Arc<PreviewFrame>>,
    seq: u64,
    converted_at: Option<Instant>,
    watched_at: Option<Instant>,
    level: Option<(Level, Instant)>,
}

/// Shared by the source that feeds it and the window that reads it. Cheap to clone.
#[derive(Clone, Default)]
pub struct PreviewTap {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for PreviewTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviewTap").finish_non_exhaustive()
    }
}

impl PreviewTap {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A frame on its way to the encoder: kept (scaled) when a reader is looking and the last
    /// kept one is old enough. The conversion runs outside the lock.
    pub fn offer(&self, frame: &I420Frame) {
        let now = Instant::now();
        {
            let mut state = self.lock();
            let watched = state
                .watched_at
                .is_some_and(|t| now.duration_since(t) < WATCH_WINDOW);
            let due = state
                .converted_at
                .is_none_or(|t| now.duration_since(t).as_secs_f64() >= 0.9 / PREVIEW_FPS);
            if !(watched && due) {
                return;
            }
            state.converted_at = Some(now);
        }
        let (width, height) = fit(frame.width(), frame.height(), PREVIEW_WIDTH);
        let rgba = to_rgba(frame, width, height);
        let mut state = self.lock();
        state.seq += 1;
        state.latest = Some(Arc::new(PreviewFrame {
            seq: state.seq,
            width,
            height,
            rgba,
        }));
    }

    /// The newest picture if newer than `seq`; counts as looking.
    pub fn latest_after(&self, seq: u64) -> Option<Arc<PreviewFrame>> {
        let mut state = self.lock();
        state.watched_at = Some(Instant::now());
        state.latest.clone().filter(|f| f.seq > seq)
    }

    /// Sound on its way to the encoder (10 ms of it): measured when a reader is looking.
    pub fn offer_audio(&self, samples: &[i16]) {
        let now = Instant::now();
        let watched = self
            .lock()
            .watched_at
            .is_some_and(|t| now.duration_since(t) < WATCH_WINDOW);
        if watched {
            let level = Level::of_i16(samples);
            self.lock().level = Some((level, now));
        }
    }

    /// The level of the newest sound, unless there has been none lately; counts as looking.
    pub fn level(&self) -> Option<Level> {
        let now = Instant::now();
        let mut state = self.lock();
        state.watched_at = Some(now);
        state
            .level
            .filter(|(_, at)| now.duration_since(*at) < LEVEL_STALE)
            .map(|(level, _)| level)
    }

    /// Forgets the picture and the level (the sources stopped: nothing stale is shown).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.latest = None;
        state.level = None;
    }
}

/// `width`×`height` scaled to at most `max_width` wide, both sides even.
fn fit(width: u32, height: u32, max_width: u32) -> (u32, u32) {
    if width <= max_width {
        return (width, height);
    }
    let h = (u64::from(height) * u64::from(max_width) / u64::from(width)) as u32;
    (max_width, (h & !1).max(2))
}

/// Nearest-neighbour scale and BT.601 studio-range YUV → RGBA.
pub fn to_rgba(frame: &I420Frame, width: u32, height: u32) -> Vec<u8> {
    let (sw, sh) = (frame.width() as usize, frame.height() as usize);
    let cw = frame.chroma_width() as usize;
    let (y_plane, u_plane, v_plane) = (frame.y(), frame.u(), frame.v());
    let mut out = Vec::with_capacity(width as usize * height as usize * 4);
    for row in 0..height as usize {
        let sy = row * sh / height as usize;
        for col in 0..width as usize {
            let sx = col * sw / width as usize;
            let y = i32::from(y_plane[sy * sw + sx]) - 16;
            let ci = (sy / 2) * cw + sx / 2;
            let u = i32::from(u_plane[ci]) - 128;
            let v = i32::from(v_plane[ci]) - 128;
            let c = 298 * y;
            let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
            out.extend_from_slice(&[
                clamp(c + 409 * v),
                clamp(c - 100 * u - 208 * v),
                clamp(c + 516 * u),
                255,
            ]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(y: u8, u: u8, v: u8) -> I420Frame {
        let (w, h) = (1280usize, 720usize);
        I420Frame::from_planes(
            w as u32,
            h as u32,
            vec![y; w * h],
            vec![u; w * h / 4],
            vec![v; w * h / 4],
        )
        .unwrap()
    }

    #[test]
    fn the_meter_measures_sound_only_while_someone_looks_and_forgets_it_when_cleared() {
        let tap = PreviewTap::default();
        let half_scale = vec![16384i16; 480];
        tap.offer_audio(&half_scale);
        assert!(tap.lock().level.is_none(), "nobody looked yet");
        assert!(tap.level().is_none());
        tap.offer_audio(&half_scale);
        let level = tap.level().expect("a level");
        assert!((level.rms_dbfs - -6.02).abs() < 0.01, "{level:?}");
        tap.clear();
        assert!(tap.level().is_none());
    }

    #[test]
    fn nothing_is_converted_while_nobody_looks() {
        let tap = PreviewTap::default();
        tap.offer(&flat(235, 128, 128));
        assert!(tap.lock().latest.is_none());
    }

    #[test]
    fn a_720p_frame_becomes_a_384x216_rgba_picture_with_the_right_colours() {
        let tap = PreviewTap::default();
        assert!(tap.latest_after(0).is_none());
        tap.offer(&flat(235, 128, 128));
        let white = tap.latest_after(0).unwrap();
        assert_eq!(
            (white.width, white.height, white.rgba.len()),
            (384, 216, 384 * 216 * 4)
        );
        assert_eq!(&white.rgba[..4], &[255, 255, 255, 255]);
        assert!(
            tap.latest_after(white.seq).is_none(),
            "no newer picture yet"
        );
        // Studio-range red (Y 81, U 90, V 240).
        let red = to_rgba(&flat(81, 90, 240), 2, 2);
        assert!(red[0] > 250 && red[1] < 5 && red[2] < 5, "{:?}", &red[..4]);
    }

    #[test]
    fn pictures_are_throttled_to_the_preview_rate() {
        let tap = PreviewTap::default();
        tap.latest_after(0);
        for _ in 0..10 {
            tap.offer(&flat(16, 128, 128));
        }
        assert_eq!(tap.latest_after(0).unwrap().seq, 1);
    }
}

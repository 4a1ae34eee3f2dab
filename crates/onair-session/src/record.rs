//! Record while streaming: the sources hand every frame they give the engine to a
//! [`RecordTap`] as well, and a recording armed on it writes them to a file (`onair-record`).
//! The tap exists from the sources' start, so a recording can begin on sources already running
//! (the studio's preview going on air); the recording's failures never reach the stream.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onair_capture::{CapturedAudioFrame, CapturedVideoFrame};
pub use onair_record::{
    RecordError, Recorder, RecordingStatus, RecordingSummary, StopReason, VideoEncoder,
    FINISH_LIMIT,
};

/// What to record to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSettings {
    /// A new file (an existing one is refused, never overwritten).
    pub path: PathBuf,
    pub encoder: VideoEncoder,
    pub video_kbps: u32,
}

impl RecordSettings {
    pub fn to(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            encoder: VideoEncoder::Auto,
            video_kbps: 4_000,
        }
    }
}

#[derive(Default)]
enum Slot {
    #[default]
    Off,
    On(Arc<Recorder>),
    /// Asked for, but it could not start: kept so the report says why.
    NotStarted {
        path: PathBuf,
        error: RecordError,
    },
}

/// Where the sources' frames go besides the engine. Cheap to clone; feeding it never blocks
/// for longer than a copy of the frame.
#[derive(Clone, Default)]
pub struct RecordTap {
    slot: Arc<Mutex<Slot>>,
}

impl std::fmt::Debug for RecordTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordTap").finish_non_exhaustive()
    }
}

/// How a recording ended, for the teardown report.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordingEnd {
    Finished(RecordingSummary),
    Failed { path: PathBuf, error: RecordError },
}

impl RecordTap {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn recorder(&self) -> Option<Arc<Recorder>> {
        match &*self.lock() {
            Slot::On(recorder) => Some(recorder.clone()),
            _ => None,
        }
    }

    pub fn video(&self, frame: &CapturedVideoFrame) {
        if let Some(recorder) = self.recorder() {
            recorder.push_video(&frame.frame, frame.capture_time_us);
        }
    }

    pub fn audio(&self, frame: &CapturedAudioFrame) {
        if let Some(recorder) = self.recorder() {
            recorder.push_audio(&frame.frame, frame.capture_time_us);
        }
    }

    /// Starts recording what comes through from now on (GStreamer starts off the async
    /// threads). A failure is kept for the report and returned; the sources run on either way.
    pub async fn start(
        &self,
        settings: &RecordSettings,
        fps: f64,
        audio: bool,
    ) -> Result<(), RecordError> {
        if matches!(*self.lock(), Slot::On(_)) {
            // Replacing it would drop it unfinished.
            return Err(RecordError::Pipeline(
                "a recording is already under way on these sources: end it first".into(),
            ));
        }
        let config = onair_record::RecordingConfig {
            path: settings.path.clone(),
            fps,
            audio,
            video_kbps: settings.video_kbps,
            encoder: settings.encoder,
        };
        let started = tokio::task::spawn_blocking(move || Recorder::start(config))
            .await
            .unwrap_or_else(|e| Err(RecordError::Pipeline(format!("the start failed: {e}"))));
        let mut slot = self.lock();
        match started {
            Ok(recorder) => {
                *slot = Slot::On(Arc::new(recorder));
                Ok(())
            }
            Err(error) => {
                *slot = Slot::NotStarted {
                    path: settings.path.clone(),
                    error: error.clone(),
                };
                Err(error)
            }
        }
    }

    /// The recording under way (or stopped early), if any.
    pub fn status(&self) -> Option<RecordingStatus> {
        self.recorder().map(|r| r.status())
    }

    /// Ends the recording, if one was asked for: takes it off the tap, then waits (at most
    /// `limit`) for the file to be finalised. `None` when there was none.
    pub async fn finish(&self, limit: Duration) -> Option<RecordingEnd> {
        let taken = std::mem::take(&mut *self.lock());
        let recorder = match taken {
            Slot::Off => return None,
            Slot::NotStarted { path, error } => return Some(RecordingEnd::Failed { path, error }),
            Slot::On(recorder) => recorder,
        };
        let path = recorder.path().to_owned();
        let finished = tokio::task::spawn_blocking(move || recorder.finish(limit))
            .await
            .unwrap_or_else(|e| Err(RecordError::Pipeline(format!("finishing failed: {e}"))));
        Some(match finished {
            Ok(summary) => RecordingEnd::Finished(summary),
            Err(error) => RecordingEnd::Failed { path, error },
        })
    }
}

impl RecordingEnd {
    /// The file worth keeping (and uploading): a finished recording, or one that stopped
    /// early but plays up to where it stopped.
    pub fn kept_file(&self) -> Option<&std::path::Path> {
        match self {
            Self::Finished(summary) => Some(&summary.path),
            Self::Failed { path, error }
                if matches!(
                    error,
                    RecordError::DiskFull { .. }
                        | RecordError::WriteFailed { .. }
                        | RecordError::NotFinalised { .. }
                ) && path.exists() =>
            {
                Some(path)
            }
            Self::Failed { .. } => None,
        }
    }

    /// The teardown step's line.
    pub fn describe(&self) -> Result<String, String> {
        match self {
            Self::Finished(s) => Ok(format!(
                "{}: {:.1} s, {:.1} MB, {} frames ({}), finalised in {} ms",
                s.path.display(),
                s.duration_secs,
                s.bytes as f64 / 1e6,
                s.video_frames,
                s.encoder,
                s.finalised_in_ms
            )),
            Self::Failed { error, .. } => Err(format!("{}: {error}", error.kind())),
        }
    }
}

//! What can go wrong with a recording, each with what to do about it.

use std::path::PathBuf;
use std::time::Duration;

/// Why a recording could not start, stopped early or was not finalised. The stream itself is
/// never stopped by any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error(
        "GStreamer could not start ({0}): install libgstreamer1.0-0 and gstreamer1.0-plugins-base"
    )]
    NoGStreamer(String),
    #[error(
        "the GStreamer element {element} is missing: install {package} (apt-get install {package})"
    )]
    MissingPlugin {
        element: &'static str,
        package: &'static str,
    },
    #[error("{} already exists: choose another file name (a recording never overwrites one)", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {reason} — choose a folder you can write to", path.display())]
    Unwritable { path: PathBuf, reason: String },
    #[error("the disk holding {} is full: the recording stopped after {:.1} s (the file plays up to there); free some space or record elsewhere", path.display(), at.as_secs_f64())]
    DiskFull { path: PathBuf, at: Duration },
    #[error("writing {} failed after {:.1} s: {reason} (the file plays up to there)", path.display(), at.as_secs_f64())]
    WriteFailed {
        path: PathBuf,
        at: Duration,
        reason: String,
    },
    #[error("the recording pipeline failed: {0}")]
    Pipeline(String),
    #[error("nothing was recorded: no picture reached the recorder")]
    Empty,
    #[error(
        "the recording was not finalised within {limit:?} (the file plays up to its last fragment)"
    )]
    NotFinalised { limit: Duration },
}

impl RecordError {
    /// A stable name for the UI and the CLI's JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoGStreamer(_) => "no_gstreamer",
            Self::MissingPlugin { .. } => "missing_plugin",
            Self::Exists(_) => "exists",
            Self::Unwritable { .. } => "unwritable",
            Self::DiskFull { .. } => "disk_full",
            Self::WriteFailed { .. } => "write_failed",
            Self::Pipeline(_) => "pipeline",
            Self::Empty => "empty",
            Self::NotFinalised { .. } => "not_finalised",
        }
    }
}

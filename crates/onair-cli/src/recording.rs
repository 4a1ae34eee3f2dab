//! `onair live --record FILE`: the recording's start, progress and end, as events. A
//! recording that fails never ends the stream; it is said at once, and the exit code says it.

use std::path::PathBuf;

use clap::ValueEnum;
use onair_session::record::{RecordError, RecordingEnd, RecordingStatus, VideoEncoder};
use onair_session::RecordSettings;
use serde_json::{json, Value};

use crate::output::Reporter;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RecordEncoder {
    /// x264 when installed, else OpenH264.
    Auto,
    X264,
    Openh264,
}

pub fn settings(path: &Option<PathBuf>, encoder: RecordEncoder) -> Option<RecordSettings> {
    path.as_ref().map(|path| RecordSettings {
        encoder: match encoder {
            RecordEncoder::Auto => VideoEncoder::Auto,
            RecordEncoder::X264 => VideoEncoder::X264,
            RecordEncoder::Openh264 => VideoEncoder::OpenH264,
        },
        ..RecordSettings::to(path)
    })
}

pub fn started(out: &Reporter, path: &std::path::Path, result: &Result<(), RecordError>) {
    match result {
        Ok(()) => out.event("recording", json!({"path": path}), || {
            format!("recording to {}", path.display())
        }),
        Err(err) => failed(out, err),
    }
}

fn failed(out: &Reporter, err: &RecordError) {
    eprintln!("warning: {err}");
    eprintln!("  the stream goes on without the recording");
    out.event(
        "recording_failed",
        json!({"kind": err.kind(), "message": err.to_string()}),
        || format!("recording failed ({}): {err}", err.kind()),
    );
}

/// The status for a stats line, and whether it stopped early (said once, by the caller).
pub fn status_json(status: &RecordingStatus) -> Value {
    json!({
        "duration_s": status.duration_secs,
        "bytes": status.bytes,
        "stopped": status.stopped.as_ref().map(|s| json!({"kind": s.kind, "message": s.message})),
    })
}

pub fn status_line(status: &RecordingStatus) -> String {
    match &status.stopped {
        None => format!(
            " · rec {:.1} s {:.1} MB",
            status.duration_secs,
            status.bytes as f64 / 1e6
        ),
        Some(stop) => format!(" · rec stopped ({})", stop.kind),
    }
}

/// Says how the recording ended; false when it failed.
pub fn ended(out: &Reporter, end: &RecordingEnd) -> bool {
    match end {
        RecordingEnd::Finished(summary) => {
            out.event(
                "recording_finished",
                serde_json::to_value(summary).unwrap_or_default(),
                || {
                    format!(
                        "recording saved: {} ({:.1} s, {:.1} MB, finalised in {} ms)",
                        summary.path.display(),
                        summary.duration_secs,
                        summary.bytes as f64 / 1e6,
                        summary.finalised_in_ms
                    )
                },
            );
            true
        }
        RecordingEnd::Failed { error, .. } => {
            failed(out, error);
            if let Some(path) = end.kept_file() {
                eprintln!("  what was recorded is kept in {}", path.display());
            }
            false
        }
    }
}

/// For the end report's JSON.
pub fn end_json(end: &RecordingEnd) -> Value {
    match end {
        RecordingEnd::Finished(summary) => serde_json::to_value(summary).unwrap_or_default(),
        RecordingEnd::Failed { path, error } => {
            json!({"path": path, "kind": error.kind(), "message": error.to_string()})
        }
    }
}

//! The studio's recordings folder: each stream recorded with Record on is an `.mp4` there,
//! with a small `.onair.json` beside it saying which stream it is and whether its replay was
//! uploaded. The list the window shows is read from the folder, so a recording left by a crash
//! (no upload noted) is offered for upload at the next start; a file is never deleted here.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What the studio notes beside a recording.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// The backend's stream it recorded.
    pub stream_id: Option<i64>,
    /// Where its replay plays, once uploaded.
    pub replay_url: Option<String>,
}

/// Where a recording's upload stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UploadState {
    /// Not uploaded (yet, or the upload is offered after a crash).
    Local,
    Uploading {
        percent: f32,
    },
    Uploaded {
        replay_url: String,
    },
    Failed {
        message: String,
    },
}

/// One recording in the folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RecordingItem {
    /// The file's name in the folder (what the window asks to upload).
    pub file: String,
    pub bytes: f64,
    /// Unix ms of its last change.
    pub modified_ms: f64,
    /// The stream it recorded, when known.
    pub stream_id: Option<f64>,
    pub upload: UploadState,
}

/// The recording under way, while live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RecordingLive {
    pub file: String,
    pub duration_secs: f64,
    pub bytes: f64,
    /// Why it stopped early (the stream goes on), e.g. "disk_full: …".
    pub stopped: Option<String>,
}

fn sidecar_path(recording: &Path) -> PathBuf {
    let mut name = recording.as_os_str().to_owned();
    name.push(".onair.json");
    PathBuf::from(name)
}

pub fn read_sidecar(recording: &Path) -> Sidecar {
    std::fs::read(sidecar_path(recording))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

pub fn write_sidecar(recording: &Path, sidecar: &Sidecar) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(sidecar).map_err(std::io::Error::other)?;
    std::fs::write(sidecar_path(recording), json)
}

/// A new recording's name: the local time it started, which sorts and reads well in a file
/// manager ("OnAir 2026-12-08 18-04-05.mp4"); a second one in the same second gets " (2)".
pub fn new_file(dir: &Path, started: chrono::DateTime<chrono::Local>) -> PathBuf {
    let stem = started.format("OnAir %Y-%m-%d %H-%M-%S").to_string();
    let mut path = dir.join(format!("{stem}.mp4"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem} ({n}).mp4"));
        n += 1;
    }
    path
}

/// The recordings in `dir`, newest first, with their noted upload state (`Local` or
/// `Uploaded`; uploads under way are the studio's to overlay).
pub fn list(dir: &Path) -> Vec<RecordingItem> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut items: Vec<RecordingItem> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "mp4"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            let sidecar = read_sidecar(&e.path());
            Some(RecordingItem {
                file: e.file_name().to_string_lossy().into_owned(),
                bytes: meta.len() as f64,
                modified_ms: meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0.0, |d| d.as_millis() as f64),
                stream_id: sidecar.stream_id.map(|id| id as f64),
                upload: match sidecar.replay_url {
                    Some(replay_url) => UploadState::Uploaded { replay_url },
                    None => UploadState::Local,
                },
            })
        })
        .collect();
    items.sort_by(|a, b| {
        b.modified_ms
            .total_cmp(&a.modified_ms)
            .then(b.file.cmp(&a.file))
    });
    items
}

/// `file` as a path in `dir`, refusing anything that is not a plain recording name there.
pub fn in_folder(dir: &Path, file: &str) -> Option<PathBuf> {
    let name = Path::new(file);
    let plain = name.components().count() == 1
        && name.extension().is_some_and(|x| x == "mp4")
        && !file.starts_with('.');
    plain.then(|| dir.join(name)).filter(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn recordings_are_named_by_their_start_and_never_reuse_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let at = chrono::Local
            .with_ymd_and_hms(2026, 12, 8, 18, 4, 5)
            .unwrap();
        let first = new_file(dir.path(), at);
        assert_eq!(first.file_name().unwrap(), "OnAir 2026-12-08 18-04-05.mp4");
        std::fs::write(&first, b"x").unwrap();
        let second = new_file(dir.path(), at);
        assert_eq!(
            second.file_name().unwrap(),
            "OnAir 2026-12-08 18-04-05 (2).mp4"
        );
    }

    #[test]
    fn the_list_shows_each_recording_with_its_noted_stream_and_upload() {
        let dir = tempfile::tempdir().unwrap();
        let uploaded = dir.path().join("a.mp4");
        let left = dir.path().join("b.mp4");
        std::fs::write(&uploaded, b"12345").unwrap();
        std::fs::write(&left, b"123").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"not a recording").unwrap();
        write_sidecar(
            &uploaded,
            &Sidecar {
                stream_id: Some(7),
                replay_url: Some("/live/a/replays/7".into()),
            },
        )
        .unwrap();
        write_sidecar(
            &left,
            &Sidecar {
                stream_id: Some(8),
                replay_url: None,
            },
        )
        .unwrap();
        let mut items = list(dir.path());
        items.sort_by(|a, b| a.file.cmp(&b.file));
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].bytes, items[0].stream_id), (5.0, Some(7.0)));
        assert_eq!(
            items[0].upload,
            UploadState::Uploaded {
                replay_url: "/live/a/replays/7".into()
            }
        );
        assert_eq!(
            (items[1].stream_id, &items[1].upload),
            (Some(8.0), &UploadState::Local)
        );
    }

    #[test]
    fn only_a_recording_in_the_folder_is_named_by_the_window() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.mp4"), b"x").unwrap();
        assert!(in_folder(dir.path(), "a.mp4").is_some());
        assert!(in_folder(dir.path(), "../a.mp4").is_none());
        assert!(in_folder(dir.path(), "/etc/passwd").is_none());
        assert!(in_folder(dir.path(), "missing.mp4").is_none());
        assert!(in_folder(dir.path(), "a.mp4.onair.json").is_none());
    }
}

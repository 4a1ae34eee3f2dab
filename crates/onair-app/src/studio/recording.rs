//! Record while live, from the studio: the recording's file for Go Live, its size and length
//! while live, and after End its upload as the stream's replay (with progress, restartable
//! from the window; the file stays in the folder whatever happens).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use onair_session::record::RecordingEnd;
use onair_session::{LiveSession, RecordSettings};
use tracing::Instrument;

use super::{lock, Studio};
use crate::error::{ErrorKind, UiError};
use crate::recordings::{self, RecordingLive, Sidecar, UploadState};

/// Uploads under way or failed, by file name (the folder knows the rest).
pub(super) type Uploads = HashMap<String, UploadState>;

impl Studio {
    /// Where recordings go (the app sets the creator's videos folder; tests a folder of
    /// their own). The list is read from it at once.
    pub fn set_recordings_dir(&self, dir: PathBuf) {
        *lock(&self.inner.recordings_dir) = dir;
        self.refresh_recordings();
    }

    pub fn recordings_dir(&self) -> PathBuf {
        lock(&self.inner.recordings_dir).clone()
    }

    /// The recording Go Live asks for, in a new file of the folder.
    pub(super) fn recording_for_go_live(&self) -> Result<RecordSettings, UiError> {
        let dir = self.recordings_dir();
        std::fs::create_dir_all(&dir).map_err(|e| {
            UiError::new(
                ErrorKind::Recording,
                format!(
                    "Cannot create the recordings folder {}: {e}. Turn Record off, or free the folder.",
                    dir.display()
                ),
            )
        })?;
        Ok(RecordSettings::to(recordings::new_file(
            &dir,
            chrono::Local::now(),
        )))
    }

    /// Notes the stream a recording belongs to as soon as it is live: a crash from here on
    /// leaves a file the next start offers to upload.
    pub(super) fn note_recording(&self, session: &LiveSession, path: &Path) {
        if let Some(stream_id) = session.stream_id() {
            let sidecar = Sidecar {
                stream_id: Some(stream_id),
                replay_url: None,
            };
            if let Err(err) = recordings::write_sidecar(path, &sidecar) {
                tracing::warn!(%err, path = %path.display(), "the recording's note was not written");
            }
        }
        self.refresh_recordings();
    }

    /// The recording's line while live.
    pub(super) async fn recording_live(session: &LiveSession) -> Option<RecordingLive> {
        session.recording().await.map(|status| RecordingLive {
            file: status
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            duration_secs: status.duration_secs,
            bytes: status.bytes as f64,
            stopped: status.stopped.map(|s| format!("{}: {}", s.kind, s.message)),
        })
    }

    /// After End: uploads what was recorded, if anything worth keeping was.
    pub(super) fn after_recording(&self, stream_id: Option<i64>, end: Option<&RecordingEnd>) {
        self.update(|v| v.recording = None);
        if let (Some(stream_id), Some(path)) = (stream_id, end.and_then(|e| e.kept_file())) {
            self.start_upload(path.to_owned(), stream_id);
        }
        self.refresh_recordings();
    }

    /// Uploads a recording of the folder as its stream's replay (again, after a failure or a
    /// crash). Refused for a file not in the folder, or whose stream is not known.
    pub fn upload_recording(&self, file: &str) -> Result<(), UiError> {
        let dir = self.recordings_dir();
        let path = recordings::in_folder(&dir, file).ok_or_else(|| {
            UiError::new(
                ErrorKind::Recording,
                format!("{file} is not a recording in {}.", dir.display()),
            )
        })?;
        let stream_id = recordings::read_sidecar(&path).stream_id.ok_or_else(|| {
            UiError::new(
                ErrorKind::Recording,
                format!("Which stream {file} recorded is not known: upload it with `onair replay upload --stream ID`."),
            )
        })?;
        if matches!(
            lock(&self.inner.uploads).get(file),
            Some(UploadState::Uploading { .. })
        ) {
            return Ok(());
        }
        self.start_upload(path, stream_id);
        Ok(())
    }

    fn start_upload(&self, path: PathBuf, stream_id: i64) {
        let Ok(backend) = self.backend() else {
            self.set_upload(
                &path,
                UploadState::Failed {
                    message: "Sign in to upload.".into(),
                },
            );
            return;
        };
        let username = self.view().account.map(|a| a.username).unwrap_or_default();
        self.set_upload(&path, UploadState::Uploading { percent: 0.0 });
        let studio = self.clone();
        self.inner.tasks.spawn(
            async move {
                let shown = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
                let (progress_studio, progress_path) = (studio.clone(), path.clone());
                let progress = move |sent: u64, total: u64| {
                    let percent = (sent as f64 * 100.0 / total.max(1) as f64).floor() as u32;
                    // One view update per whole percent.
                    if shown.swap(percent, std::sync::atomic::Ordering::Relaxed) != percent {
                        progress_studio.set_upload(
                            &progress_path,
                            UploadState::Uploading {
                                percent: percent as f32,
                            },
                        );
                    }
                };
                let state = match backend.upload_replay(stream_id, &path, progress).await {
                    Ok(replay) => {
                        let replay_url = format!(
                            "{}/live/{username}/replays/{}",
                            backend.base_url(),
                            replay.stream_id
                        );
                        let sidecar = Sidecar {
                            stream_id: Some(stream_id),
                            replay_url: Some(replay_url.clone()),
                        };
                        if let Err(err) = recordings::write_sidecar(&path, &sidecar) {
                            tracing::warn!(%err, "the upload's note was not written");
                        }
                        tracing::info!(stream_id, bytes = replay.bytes, "replay uploaded");
                        UploadState::Uploaded { replay_url }
                    }
                    Err(err) => {
                        tracing::warn!(%err, stream_id, "replay upload failed");
                        UploadState::Failed {
                            message: format!("{err}. The recording is kept: Upload tries again."),
                        }
                    }
                };
                studio.set_upload(&path, state);
            }
            .instrument(tracing::info_span!("studio-replay-upload", stream_id)),
        );
    }

    fn set_upload(&self, path: &Path, state: UploadState) {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        {
            let mut uploads = lock(&self.inner.uploads);
            match state {
                // Done: the note beside the file says so from now on.
                UploadState::Uploaded { .. } => uploads.remove(&file),
                state => uploads.insert(file, state),
            };
        }
        self.refresh_recordings();
    }

    /// Reads the folder again into the view, with the uploads under way over it.
    pub fn refresh_recordings(&self) {
        let mut items = recordings::list(&self.recordings_dir());
        {
            let uploads = lock(&self.inner.uploads);
            for item in &mut items {
                if let Some(state) = uploads.get(&item.file) {
                    item.upload = state.clone();
                }
            }
        }
        self.update(|v| {
            if v.recordings != items {
                v.recordings = items;
            }
        });
    }
}

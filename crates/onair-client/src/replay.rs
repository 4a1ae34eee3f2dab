//! The creator's replays on the backend: upload a stream's recording after End (streamed from
//! the file, with progress), list and delete them.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use onair_core::wire::replay::Replay;

use crate::backend::{BackendClient, BackendError};

/// How long one upload may take in all (a long stream's recording on a slow uplink).
pub const UPLOAD_LIMIT: Duration = Duration::from_secs(3 * 3600);

impl BackendClient {
    /// Uploads `path` as the replay of the creator's ended stream `stream_id`, calling
    /// `progress(sent, total)` as the bytes leave. Restartable: a failed upload is sent again
    /// whole, and the backend keeps nothing of one it did not take.
    pub async fn upload_replay(
        &self,
        stream_id: i64,
        path: &Path,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> Result<Replay, BackendError> {
        let unreadable = |e: std::io::Error| BackendError::Invalid {
            field: Some("file".into()),
            message: format!("cannot read {}: {e}", path.display()),
        };
        let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        let total = file.metadata().await.map_err(unreadable)?.len();
        let mut sent = 0u64;
        progress(0, total);
        let chunks =
            tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).map(move |chunk| {
                if let Ok(bytes) = &chunk {
                    sent += bytes.len() as u64;
                    progress(sent, total);
                }
                chunk
            });
        let body = self
            .send(
                self.http()
                    .put(self.url(&format!("/api/replays/{stream_id}")))
                    .bearer_auth(self.key())
                    .header(reqwest::header::CONTENT_TYPE, "video/mp4")
                    .header(reqwest::header::CONTENT_LENGTH, total)
                    .timeout(UPLOAD_LIMIT)
                    .body(reqwest::Body::wrap_stream(chunks)),
            )
            .await?;
        serde_json::from_str(&body).map_err(|e| BackendError::Protocol(format!("replay: {e}")))
    }

    /// `username`'s replays, newest stream first.
    pub async fn replays(&self, username: &str) -> Result<Vec<Replay>, BackendError> {
        let body = self
            .send(
                self.http()
                    .get(self.url(&format!("/api/streams/{username}/replays"))),
            )
            .await?;
        serde_json::from_str(&body).map_err(|e| BackendError::Protocol(format!("replays: {e}")))
    }

    /// Deletes the replay of one of the creator's streams.
    pub async fn delete_replay(&self, stream_id: i64) -> Result<(), BackendError> {
        self.send(
            self.http()
                .delete(self.url(&format!("/api/replays/{stream_id}")))
                .bearer_auth(self.key()),
        )
        .await
        .map(|_| ())
    }
}

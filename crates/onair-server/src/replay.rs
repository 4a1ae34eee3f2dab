//! Replays: a creator uploads a stream's recording after End; it is checked with ffprobe
//! (`rules`: an H.264 MP4 not far longer than the stream), remuxed with its index first
//! (`media`), kept in the replay folder with a row per stream (`store`), and played from the
//! viewer page with byte ranges. A pay-per-view stream's replay needs a ticket for it.

pub mod media;
pub mod rules;
pub mod store;

use std::path::{Path, PathBuf};

use axum::body::Body;
use futures::StreamExt;
use onair_core::wire::replay::Replay;
use tokio::io::AsyncWriteExt;

use crate::db::Streamer;
use crate::live::now_ms;
use crate::AppState;
use rules::Refusal;
use store::{NewReplay, ReplayRow};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    NotFound(String),
    #[error("stream {0} has not ended: upload its recording after End")]
    NotEnded(i64),
    #[error("the upload is larger than this server takes ({limit_mb} MB)")]
    TooLarge { limit_mb: u64 },
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("the file is not a recording: {0}")]
    Unreadable(String),
    #[error("the upload was cut off: {0}; send it again")]
    CutOff(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl ReplayRow {
    pub fn view(&self, currency: &str) -> Replay {
        Replay {
            stream_id: self.stream_id,
            title: self.title.clone(),
            started_at: self.started_at,
            ended_at: self.ended_at,
            duration_ms: self.duration_ms,
            width: self.width,
            height: self.height,
            bytes: self.bytes,
            ppv_price_cents: self.ppv_price_cents,
            currency: currency.to_owned(),
            video_url: format!("/api/replays/{}/video", self.stream_id),
            created_at: self.created_at,
        }
    }

    /// The file on disk.
    pub fn path(&self, state: &AppState) -> PathBuf {
        state.config.replay_dir.join(&self.file)
    }
}

/// A file removed when dropped, unless kept.
struct Scratch(Option<PathBuf>);

impl Scratch {
    fn keep(mut self) -> PathBuf {
        self.0.take().expect("kept once")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Takes `body` as the recording of the creator's ended stream `stream_id`: written to a
/// scratch file (at most the configured size), checked, remuxed, kept. A new upload replaces
/// the stream's replay; a refused one changes nothing.
pub async fn upload(
    state: &AppState,
    streamer: &Streamer,
    stream_id: i64,
    declared_bytes: Option<u64>,
    body: Body,
) -> Result<Replay, ReplayError> {
    let limit_mb = state.config.replay_max_mb;
    // Said before anything is read: a client then gets the 413, not a reset connection.
    if declared_bytes.is_some_and(|n| n > limit_mb * 1_000_000) {
        return Err(ReplayError::TooLarge { limit_mb });
    }
    let stream = store::stream_times(&state.db, stream_id)
        .await?
        .filter(|s| s.streamer_id == streamer.id)
        .ok_or_else(|| {
            ReplayError::NotFound(format!("{} has no stream {stream_id}", streamer.username))
        })?;
    let (Some(started), Some(ended)) = (stream.started_at, stream.ended_at) else {
        return Err(ReplayError::NotEnded(stream_id));
    };
    let dir = &state.config.replay_dir;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| anyhow::anyhow!("the replay folder {}: {e}", dir.display()))?;
    let nonce = {
        use rand::RngCore;
        let mut bytes = [0u8; 8];
        rand::rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    };
    let upload = Scratch(Some(dir.join(format!(".upload-{stream_id}-{nonce}.mp4"))));
    receive(
        body,
        upload.0.as_deref().expect("set"),
        state.config.replay_max_mb,
    )
    .await?;

    let facts = media::probe(upload.0.as_deref().expect("set"))
        .await?
        .map_err(ReplayError::Unreadable)?;
    rules::check(&facts, ended - started)?;
    let video = facts.video.clone().ok_or(Refusal::NoVideo)?;

    let file = format!("{stream_id}-{nonce}.mp4");
    // Remuxed straight into its final name, removed again unless its row is saved: no
    // file without a row, whatever fails or drops this request.
    let kept = Scratch(Some(dir.join(&file)));
    media::remux(
        upload.0.as_deref().expect("set"),
        kept.0.as_deref().expect("set"),
    )
    .await?;
    let bytes = tokio::fs::metadata(kept.0.as_deref().expect("set"))
        .await
        .map(|m| m.len() as i64)
        .unwrap_or(0);
    // One save at a time (two short queries), so the file replaced is the one the row named.
    let _one_at_a_time = state.replay_save.lock().await;
    let previous = store::by_stream(&state.db, stream_id).await?;
    store::save(
        &state.db,
        &NewReplay {
            stream_id,
            file: &file,
            bytes,
            duration_ms: facts.duration_ms,
            width: video.width,
            height: video.height,
            now_ms: now_ms(),
        },
    )
    .await?;
    kept.keep();
    if let Some(previous) = previous.filter(|p| p.file != file) {
        let _ = tokio::fs::remove_file(previous.path(state)).await;
    }
    tracing::info!(
        stream_id,
        bytes,
        duration_ms = facts.duration_ms,
        "replay kept"
    );
    let row = store::by_stream(&state.db, stream_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the replay just saved is gone"))?;
    Ok(row.view(&state.config.currency))
}

/// Removes what uploads left behind when the server stopped mid-way (scratch files) and
/// replay files no row names, at start.
pub async fn sweep(state: &AppState) -> anyhow::Result<usize> {
    let dir = &state.config.replay_dir;
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return Ok(0);
    };
    let named: std::collections::HashSet<String> =
        store::files(&state.db).await?.into_iter().collect();
    let mut removed = 0;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let scratch = name.starts_with(".upload-") || name.starts_with(".remux-");
        let orphan = name.ends_with(".mp4") && !name.starts_with('.') && !named.contains(&name);
        if (scratch || orphan) && tokio::fs::remove_file(entry.path()).await.is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, dir = %dir.display(), "replay folder swept");
    }
    Ok(removed)
}

/// Writes the body to `path`, refusing past `limit_mb`.
async fn receive(body: Body, path: &Path, limit_mb: u64) -> Result<(), ReplayError> {
    let limit = limit_mb * 1_000_000;
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ReplayError::CutOff(e.to_string()))?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(ReplayError::TooLarge { limit_mb });
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    file.flush()
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}

/// Deletes the replay of one of the creator's streams (row, then file).
pub async fn delete(
    state: &AppState,
    streamer: &Streamer,
    stream_id: i64,
) -> Result<(), ReplayError> {
    let row = store::by_stream(&state.db, stream_id)
        .await?
        .filter(|r| r.streamer_id == streamer.id);
    let not_found = || {
        ReplayError::NotFound(format!(
            "{} has no replay of stream {stream_id}",
            streamer.username
        ))
    };
    let row = row.ok_or_else(not_found)?;
    if !store::delete(&state.db, stream_id, streamer.id).await? {
        return Err(not_found());
    }
    let _ = tokio::fs::remove_file(row.path(state)).await;
    Ok(())
}

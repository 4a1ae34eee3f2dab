//! `onair replay upload|list|delete`: the creator's replays on the backend, and the upload
//! that `onair live --backend --record FILE --upload` runs after End.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use onair_client::BackendClient;
use onair_core::wire::replay::Replay;
use serde_json::json;

use crate::error::CliError;
use crate::output::Reporter;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The OnAir backend; the API key comes from ONAIR_API_KEY or the OS keyring.
    #[arg(long, env = "ONAIR_BACKEND", value_name = "URL", global = true)]
    pub backend: Option<String>,
    #[command(subcommand)]
    pub command: ReplayCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReplayCommand {
    /// Upload a stream's recording as its replay (after the stream ended).
    Upload {
        /// The stream's id (`onair live --backend` prints it).
        #[arg(long)]
        stream: i64,
        /// The recording (`onair live --record FILE` or the studio wrote it).
        file: PathBuf,
    },
    /// A streamer's replays (yours without a name).
    List { username: Option<String> },
    /// Delete the replay of one of your streams.
    Delete {
        /// The stream's id.
        stream: i64,
    },
}

pub async fn run(args: ReplayArgs, out: &Reporter) -> Result<u8, CliError> {
    let backend = args.backend.ok_or_else(|| {
        CliError::Usage("which backend? pass --backend URL or set ONAIR_BACKEND".into())
    })?;
    let client = BackendClient::new(&backend, &crate::session::api_key(&backend)?);
    match args.command {
        ReplayCommand::Upload { stream, file } => {
            upload(&client, stream, &file, out).await?;
        }
        ReplayCommand::List { username } => {
            let username = match username {
                Some(name) => name,
                None => client.me().await?,
            };
            let replays = client.replays(&username).await?;
            out.event("replays", json!({"replays": replays}), || {
                if replays.is_empty() {
                    format!("{username} has no replays")
                } else {
                    replays
                        .iter()
                        .map(|r| {
                            format!(
                                "{:>5}  {}  {:.0} s  {}",
                                r.stream_id,
                                r.title,
                                r.duration_ms as f64 / 1e3,
                                r.video_url
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            });
        }
        ReplayCommand::Delete { stream } => {
            client.delete_replay(stream).await?;
            out.event("deleted", json!({"stream_id": stream}), || {
                format!("replay of stream {stream} deleted")
            });
        }
    }
    Ok(0)
}

/// Uploads `file` as stream `stream_id`'s replay, with a progress line about twice a second.
pub async fn upload(
    client: &BackendClient,
    stream_id: i64,
    file: &Path,
    out: &Reporter,
) -> Result<Replay, CliError> {
    let started = Instant::now();
    let last = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let json_out = out.is_json();
    let progress = move |sent: u64, total: u64| {
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        if sent < total && last.is_some_and(|t| t.elapsed() < Duration::from_millis(500)) {
            return;
        }
        *last = Some(Instant::now());
        Reporter::new(json_out).event(
            "upload_progress",
            json!({"sent": sent, "total": total}),
            || {
                format!(
                    "uploading {:.1} / {:.1} MB ({:.0} %)",
                    sent as f64 / 1e6,
                    total as f64 / 1e6,
                    sent as f64 * 100.0 / total.max(1) as f64
                )
            },
        );
    };
    let replay = client
        .upload_replay(stream_id, file, progress)
        .await
        .inspect_err(|_| {
            eprintln!("  the recording is kept in {}: send it again with `onair replay upload --stream {stream_id} {}`", file.display(), file.display());
        })?;
    out.event(
        "replay",
        json!({"replay": replay, "upload_ms": started.elapsed().as_secs_f64() * 1e3}),
        || {
            format!(
                "replay of stream {} kept: {:.1} s, {}x{} · {}",
                replay.stream_id,
                replay.duration_ms as f64 / 1e3,
                replay.width,
                replay.height,
                replay.video_url
            )
        },
    );
    Ok(replay)
}

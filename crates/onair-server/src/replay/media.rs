//! ffprobe and ffmpeg, run as processes: what a file holds, and the remux that puts its index
//! first so a browser can start playing (and seek) before it has the whole file.

use std::path::Path;

use anyhow::{bail, Context};
use serde::Deserialize;

use super::rules::{MediaFacts, VideoFacts};

/// ffmpeg's names of the MP4 family's demuxer.
const MP4_FAMILY: &str = "mov,mp4,m4a,3gp,3g2,mj2";

#[derive(Deserialize)]
struct Probe {
    format: Option<Format>,
    #[serde(default)]
    streams: Vec<Stream>,
}

#[derive(Deserialize)]
struct Format {
    format_name: String,
    duration: Option<String>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
    nb_read_packets: Option<String>,
}

/// What the file holds; `Err` with ffprobe's reason when it is no media file at all.
pub async fn probe(path: &Path) -> anyhow::Result<Result<MediaFacts, String>> {
    let out = tokio::process::Command::new("ffprobe")
        // Only MP4 family containers, only this file: an upload that is a playlist or a
        // concat list is not followed anywhere.
        .args([
            "-v",
            "error",
            "-format_whitelist",
            MP4_FAMILY,
            "-protocol_whitelist",
            "file",
        ])
        .args(["-count_packets", "-show_entries"])
        .arg(
            "format=format_name,duration:stream=codec_type,codec_name,width,height,nb_read_packets",
        )
        .args(["-of", "json"])
        .arg(path)
        .kill_on_drop(true)
        .output()
        .await
        .context("ffprobe could not run (apt-get install ffmpeg)")?;
    if !out.status.success() {
        // ffprobe's reason names the server's file: the uploader gets the gist, the log the rest.
        tracing::info!(stderr = %String::from_utf8_lossy(&out.stderr).trim(), "an upload ffprobe cannot read");
        return Ok(Err("ffprobe cannot read it as an MP4 file".into()));
    }
    let probe: Probe = serde_json::from_slice(&out.stdout).context("ffprobe's JSON")?;
    let Some(format) = probe.format else {
        return Ok(Err("ffprobe found no container".into()));
    };
    let video = probe
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video"))
        .map(|s| VideoFacts {
            codec: s.codec_name.clone().unwrap_or_default(),
            width: s.width.unwrap_or(0),
            height: s.height.unwrap_or(0),
            frames: s
                .nb_read_packets
                .as_deref()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        });
    let audio_codec = probe
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"))
        .map(|s| s.codec_name.clone().unwrap_or_default());
    let duration_ms = format
        .duration
        .as_deref()
        .and_then(|d| d.parse::<f64>().ok())
        .map_or(0, |d| (d * 1000.0).round() as i64);
    Ok(Ok(MediaFacts {
        format: format.format_name,
        duration_ms,
        video,
        audio_codec,
    }))
}

/// The same pictures and sound, not re-encoded, with the index at the front (`+faststart`).
pub async fn remux(from: &Path, to: &Path) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(from)
        .args([
            "-map",
            "0",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ])
        .arg(to)
        .kill_on_drop(true)
        .output()
        .await
        .context("ffmpeg could not run (apt-get install ffmpeg)")?;
    if !out.status.success() {
        bail!(
            "ffmpeg could not remux {}: {}",
            from.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

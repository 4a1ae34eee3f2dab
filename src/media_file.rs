//! What a recorded file holds, read back with ffprobe and ffmpeg (real decoders, not ours):
//! its streams, its pictures' stamps and times, its sound and where the sync beeps start.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use onair_capture::test_pattern::decode_stamp;
use onair_core::I420Frame;

fn run(command: &mut Command) -> Result<Vec<u8>> {
    let out = command
        .output()
        .with_context(|| format!("{command:?} (apt-get install ffmpeg)"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

fn ffprobe(path: &Path, args: &[&str]) -> Result<String> {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(path))?;
    Ok(String::from_utf8(out)?)
}

/// One stream as ffprobe sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub codec: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub start_time: f64,
}

/// The file's streams, its duration (seconds) and how many pictures decode.
#[derive(Debug, Clone)]
pub struct Probe {
    pub streams: Vec<Stream>,
    pub duration: f64,
    pub video_frames: u64,
}

pub fn probe(path: &Path) -> Result<Probe> {
    let streams = ffprobe(
        path,
        &[
            "-show_entries",
            "stream=codec_name,width,height,start_time",
            "-of",
            "csv=p=0",
        ],
    )?
    .lines()
    .map(|line| {
        let f: Vec<&str> = line.split(',').collect();
        Stream {
            codec: f[0].to_owned(),
            width: f.get(1).and_then(|v| v.parse().ok()),
            height: f.get(2).and_then(|v| v.parse().ok()),
            start_time: f.last().and_then(|v| v.parse().ok()).unwrap_or(0.0),
        }
    })
    .collect();
    let duration = ffprobe(
        path,
        &["-show_entries", "format=duration", "-of", "csv=p=0"],
    )?
    .trim()
    .parse()
    .context("the file's duration")?;
    let video_frames = ffprobe(
        path,
        &[
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ],
    )?
    .trim()
    .parse()
    .context("the file's picture count")?;
    Ok(Probe {
        streams,
        duration,
        video_frames,
    })
}

/// A picture of the test pattern read back: its time in the file and its stamp.
#[derive(Debug, Clone, Copy)]
pub struct StampedPicture {
    pub at: f64,
    pub frame_id: u32,
    pub capture_ms_low: u32,
}

/// Every picture's time and stamp (pictures whose stamp does not read are left out).
pub fn stamped_pictures(path: &Path, width: u32, height: u32) -> Result<Vec<StampedPicture>> {
    let times: Vec<f64> = ffprobe(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=best_effort_timestamp_time",
            "-of",
            "csv=p=0",
        ],
    )?
    .lines()
    .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
    .collect();
    let raw = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-",
        ]))?;
    let (luma, chroma) = ((width * height) as usize, (width * height / 4) as usize);
    let size = luma + 2 * chroma;
    if raw.len() / size != times.len() {
        bail!(
            "{} pictures decoded but {} timestamps listed",
            raw.len() / size,
            times.len()
        );
    }
    let mut pictures = Vec::new();
    for (picture, at) in raw.chunks_exact(size).zip(times) {
        let frame = I420Frame::from_planes(
            width,
            height,
            picture[..luma].to_vec(),
            picture[luma..luma + chroma].to_vec(),
            picture[luma + chroma..].to_vec(),
        )?;
        if let Some(stamp) = decode_stamp(&frame) {
            pictures.push(StampedPicture {
                at,
                frame_id: stamp.frame_id,
                capture_ms_low: stamp.capture_ms_low,
            });
        }
    }
    Ok(pictures)
}

/// The sound, mono at 48 kHz (−1..1), and the time in the file of its first sample.
pub fn sound(path: &Path) -> Result<(Vec<f32>, f64)> {
    let start = probe(path)?
        .streams
        .iter()
        .find(|s| s.codec == "aac")
        .map(|s| s.start_time)
        .context("no AAC stream")?;
    let raw = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", "48000", "-",
        ]))?;
    let samples = raw
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
        .collect();
    Ok((samples, start))
}

/// Where sound starts after at least 100 ms of silence (seconds from the first sample).
pub fn onsets(samples: &[f32], rate: u32) -> Vec<f64> {
    let window = (rate / 1000) as usize;
    let quiet_needed = 100;
    let mut quiet = 0;
    let mut found = Vec::new();
    for (i, chunk) in samples.chunks(window).enumerate() {
        let loud = chunk.iter().any(|s| s.abs() > 0.05);
        if loud {
            if quiet >= quiet_needed {
                // The first loud sample within the window.
                let first = chunk.iter().position(|s| s.abs() > 0.05).unwrap_or(0);
                found.push((i * window + first) as f64 / rate as f64);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    found
}

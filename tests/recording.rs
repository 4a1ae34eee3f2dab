//! Record while streaming, for real: `onair live --record` publishing to livekit-server while
//! GStreamer writes the file, read back by ffprobe and ffmpeg.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use onair_capture::analysis::dominant_frequency;
use onair_e2e::harness::{self, JsonProcess, LiveKitServer, API_KEY, API_SECRET};
use onair_e2e::media_file;

/// `onair live --json` in `room` with `extra` flags and `env`.
fn onair_live(
    server: &LiveKitServer,
    room: &str,
    extra: &[&str],
    env: &[(&str, &Path)],
) -> Result<JsonProcess> {
    let mut cmd = tokio::process::Command::new(harness::onair_bin()?);
    cmd.args(["live", "--json", "--url", &server.url()])
        .args(["--api-key", API_KEY, "--api-secret", API_SECRET])
        .args(["--room", room, "--identity", "creator"])
        .args(extra);
    for (name, value) in env {
        cmd.env(name, value);
    }
    JsonProcess::spawn(cmd)
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

#[tokio::test]
async fn twenty_seconds_recorded_while_live_read_back_in_sync_and_complete() -> Result<()> {
    let server = LiveKitServer::start().await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("out.mp4");
    let mut live = onair_live(
        &server,
        "recorded",
        &["--record", arg(&file), "--sync-beeps", "--duration", "20"],
        &[],
    )?;
    let code = live.finish(Duration::from_secs(60)).await?;
    assert_eq!(code, 0, "onair live failed: {}", live.stderr());
    let finished = live
        .last_event("recording_finished")
        .context("a recording_finished event")?
        .clone();
    eprintln!("recording: {finished}");

    let probe = media_file::probe(&file)?;
    eprintln!("ffprobe: {probe:?}");
    let codecs: Vec<_> = probe.streams.iter().map(|s| s.codec.as_str()).collect();
    assert_eq!(codecs, ["h264", "aac"], "{probe:?}");
    assert_eq!(
        (probe.streams[0].width, probe.streams[0].height),
        (Some(1280), Some(720))
    );
    assert!((probe.duration - 20.0).abs() <= 0.5, "{probe:?}");
    assert!(probe.video_frames.abs_diff(600) <= 15, "{probe:?}");

    // The tone, from the file's own sound.
    let (samples, sound_start) = media_file::sound(&file)?;
    let hz = dominant_frequency(&samples[..samples.len().min(10 * 48_000)], 48_000)
        .context("no tone in the file")?;
    eprintln!("tone {hz:.2} Hz");
    assert!((hz - 440.0).abs() <= 2.0, "tone {hz} Hz");

    // Pictures: in order, none missing for more than two frame intervals.
    let pictures = media_file::stamped_pictures(&file, 1280, 720)?;
    assert!(
        pictures.len() as u64 >= probe.video_frames - 5,
        "stamps read: {}",
        pictures.len()
    );
    let worst_gap = pictures
        .windows(2)
        .map(|w| {
            assert!(w[1].frame_id > w[0].frame_id, "out of order: {w:?}");
            w[1].frame_id - w[0].frame_id
        })
        .max()
        .unwrap_or(0);
    eprintln!(
        "pictures {} · largest step in frame ids {worst_gap}",
        pictures.len()
    );
    assert!(worst_gap <= 2, "a gap of {worst_gap} frames");

    // Sync: a picture says when it was captured (ms, wall clock); each beep starts at a whole
    // second of the same clock. In sync, both map file time to the wall clock the same way.
    // The stamp keeps the low 32 bits of the milliseconds (2³² ms is not whole seconds): the
    // rest comes from today's clock.
    let now_ms = onair_core::clock::unix_micros() / 1000;
    let full_ms = |low: u32| {
        let high = now_ms & !0xffff_ffff;
        let candidate = high | low as u64;
        if candidate > now_ms {
            candidate - (1 << 32)
        } else {
            candidate
        }
    };
    let first_ms = full_ms(pictures[0].capture_ms_low);
    let mut picture_offsets: Vec<f64> = pictures
        .iter()
        .map(|p| (full_ms(p.capture_ms_low) - first_ms) as f64 - p.at * 1000.0)
        .collect();
    let picture_offset = median(&mut picture_offsets) + first_ms as f64;
    let onsets = media_file::onsets(&samples, 48_000);
    assert!(onsets.len() >= 15, "beeps found: {onsets:?}");
    let mut skews: Vec<f64> = onsets
        .iter()
        .map(|onset| {
            // The wall clock at the onset per the pictures, against the whole second it is.
            let wall = (sound_start + onset) * 1000.0 + picture_offset;
            let off = wall.rem_euclid(1000.0);
            if off > 500.0 {
                off - 1000.0
            } else {
                off
            }
        })
        .collect();
    let skew = median(&mut skews);
    eprintln!("audio/video offset {skew:.1} ms (per beep: {skews:.0?})");
    assert!(skew.abs() <= 40.0, "audio/video offset {skew} ms");
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::test]
async fn a_recording_killed_mid_stream_still_plays_up_to_its_last_fragment() -> Result<()> {
    let server = LiveKitServer::start().await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("killed.mp4");
    let mut live = onair_live(
        &server,
        "killed",
        &[
            "--record",
            arg(&file),
            "--duration",
            "120",
            "--stats-every",
            "1",
        ],
        &[],
    )?;
    live.wait_for("15 s recorded", Duration::from_secs(60), |v| {
        v["event"] == "stats" && v["recording"]["duration_s"].as_f64().unwrap_or(0.0) >= 15.0
    })
    .await?;
    let pid = live.pid().context("onair live is running")?;
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    live.finish(Duration::from_secs(10)).await?;
    let probe = media_file::probe(&file)?;
    eprintln!("after kill -9: {probe:?}");
    assert!(probe.duration >= 13.0, "{probe:?}");
    assert!(probe.video_frames >= 13 * 30, "{probe:?}");
    Ok(())
}

/// A small tmpfs, unmounted however the test ends.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Result<Self> {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()?;
        if !status.success() {
            bail!("this test mounts a small tmpfs to fill: it needs root (CI runs as root)");
        }
        Ok(Self(at.to_owned()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_stops_the_recording_and_the_stream_goes_on() -> Result<()> {
    let server = LiveKitServer::start().await?;
    let dir = tempfile::tempdir()?;
    let _disk = SmallDisk::mount(dir.path(), "2m")?;
    let file = dir.path().join("full.mp4");
    let mut live = onair_live(
        &server,
        "full",
        &[
            "--record",
            arg(&file),
            "--duration",
            "60",
            "--stats-every",
            "1",
        ],
        &[],
    )?;
    let stopped = live
        .wait_event("recording_stopped", Duration::from_secs(45))
        .await?;
    eprintln!("{stopped}");
    assert_eq!(stopped["kind"], "disk_full", "{stopped}");
    // Still streaming: pictures keep reaching the encoder after the recording stopped.
    let frames_then = live
        .wait_new("a stats line", Duration::from_secs(10), |v| {
            v["event"] == "stats"
        })
        .await?["frames_captured"]
        .as_u64()
        .unwrap_or(0);
    let frames_later = live
        .wait_new("a later stats line", Duration::from_secs(10), |v| {
            v["event"] == "stats" && v["frames_captured"].as_u64().unwrap_or(0) >= frames_then + 30
        })
        .await?;
    assert_eq!(frames_later["recording"]["stopped"]["kind"], "disk_full");
    live.terminate()?;
    let code = live.finish(Duration::from_secs(20)).await?;
    assert_eq!(
        code,
        1,
        "a failed recording is a failed run: {}",
        live.stderr()
    );
    let failed = live
        .last_event("recording_failed")
        .context("recording_failed")?;
    assert_eq!(failed["kind"], "disk_full", "{failed}");
    let ended = live.last_event("ended").context("ended")?;
    assert_eq!(ended["disconnect_confirmed"], true, "{ended}");
    assert!(
        live.stderr().contains("free some space"),
        "{}",
        live.stderr()
    );
    let probe = media_file::probe(&file)?;
    eprintln!("the full disk's file: {probe:?}");
    assert!(probe.duration > 1.0, "{probe:?}");
    Ok(())
}

#[tokio::test]
async fn a_missing_gstreamer_plugin_is_named_with_its_package_and_the_stream_goes_on() -> Result<()>
{
    let server = LiveKitServer::start().await?;
    let dir = tempfile::tempdir()?;
    let no_plugins = dir.path().join("no-plugins");
    std::fs::create_dir(&no_plugins)?;
    let registry = dir.path().join("registry.bin");
    let file = dir.path().join("never.mp4");
    let mut live = onair_live(
        &server,
        "unplugged",
        &["--record", arg(&file), "--duration", "3"],
        &[
            ("GST_PLUGIN_SYSTEM_PATH_1_0", &no_plugins),
            ("GST_PLUGIN_PATH_1_0", &no_plugins),
            ("GST_REGISTRY_1_0", &registry),
        ],
    )?;
    let failed = live
        .wait_event("recording_failed", Duration::from_secs(20))
        .await?;
    assert_eq!(failed["kind"], "missing_plugin", "{failed}");
    assert!(
        failed["message"]
            .as_str()
            .unwrap_or("")
            .contains("apt-get install gstreamer1.0-plugins-"),
        "{failed}"
    );
    live.wait_event("live", Duration::from_secs(20)).await?;
    let code = live.finish(Duration::from_secs(30)).await?;
    assert_eq!(code, 1, "{}", live.stderr());
    assert!(!file.exists(), "no empty file is left behind");
    Ok(())
}

#[tokio::test]
async fn through_the_backend_the_teardown_report_finishes_the_recording_after_capture_stops(
) -> Result<()> {
    let stack = onair_e2e::backend::Stack::start("rec").await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("session.mp4");
    let mut creator = stack
        .go_live_with("rec", "Recorded", &["--record", arg(&file), "--no-audio"])
        .await?;
    // A few seconds on air, measured by the file growing rather than by a sleep.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    while std::fs::metadata(&file).map_or(0, |m| m.len()) < 500_000 {
        if tokio::time::Instant::now() > deadline {
            bail!("the recording did not grow to 500 kB within 30 s");
        }
        tick.tick().await;
    }
    creator.terminate()?;
    let code = creator.finish(Duration::from_secs(30)).await?;
    assert_eq!(code, 0, "{}", creator.stderr());
    let ended = creator.last_event("ended").context("ended")?.clone();
    let steps: Vec<&str> = ended["steps"]
        .as_array()
        .context("steps")?
        .iter()
        .filter_map(|s| s["step"].as_str())
        .collect();
    let at = |name: &str| steps.iter().position(|s| *s == name);
    assert!(
        at("stop capture") < at("finish recording")
            && at("finish recording") < at("unpublish tracks"),
        "{steps:?}"
    );
    assert_eq!(
        ended["recording"]["video_frames"].as_u64().map(|n| n > 30),
        Some(true),
        "{ended}"
    );
    let probe = media_file::probe(&file)?;
    assert_eq!(probe.streams.len(), 1, "video only: {probe:?}");
    assert!(
        (probe.duration - ended["recording"]["duration_secs"].as_f64().unwrap_or(0.0)).abs() < 0.2,
        "{probe:?} against {ended}"
    );
    Ok(())
}

#[tokio::test]
async fn a_stream_recorded_and_uploaded_after_end_plays_and_seeks_on_its_replay_page() -> Result<()>
{
    use onair_e2e::browser::Browser;
    let stack = onair_e2e::backend::Stack::start("rewind").await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("rewind.mp4");
    let mut creator = stack
        .go_live_with(
            "rewind",
            "Rewind me",
            &["--record", arg(&file), "--upload", "--duration", "12"],
        )
        .await?;
    let code = creator.finish(Duration::from_secs(60)).await?;
    assert_eq!(code, 0, "{}", creator.stderr());
    let progress = creator
        .seen
        .iter()
        .filter(|v| v["event"] == "upload_progress")
        .count();
    let replay = creator.last_event("replay").context("a replay event")?["replay"].clone();
    eprintln!("replay {replay} after {progress} progress line(s)");
    assert!(progress >= 2, "progress from 0 to the whole file");
    let id = replay["stream_id"].as_i64().context("stream_id")?;
    assert!(file.exists(), "the recording is kept after the upload");

    // Byte ranges, as a player asks for them.
    let http = reqwest::Client::new();
    let part = http
        .get(stack.backend.url(&format!("/api/replays/{id}/video")))
        .header("Range", "bytes=0-99")
        .send()
        .await?;
    assert_eq!(part.status().as_u16(), 206);
    let range = part.headers()["content-range"].to_str()?.to_owned();
    assert!(range.starts_with("bytes 0-99/"), "{range}");

    let browser = Browser::launch().await?;
    let page = browser
        .open(&stack.backend.url("/live/rewind"), 1280, 800)
        .await?;
    page.wait(
        "document.querySelectorAll('#replay-list li a').length === 1",
        Duration::from_secs(20),
    )
    .await?;
    page.click("#replay-list li a").await?;
    page.wait(
        "document.getElementById('app')?.dataset.state === 'ready'",
        Duration::from_secs(20),
    )
    .await?;
    let width = page
        .wait(
            "document.getElementById('video').videoWidth",
            Duration::from_secs(20),
        )
        .await?;
    assert_eq!(width, 1280);
    page.eval("(() => { const v = document.getElementById('video'); v.muted = true; return v.play().then(() => true); })()")
        .await?;
    let frames_then = page
        .wait(
            "document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames",
            Duration::from_secs(20),
        )
        .await?
        .as_f64()
        .unwrap_or(0.0);
    page.wait(
        &format!(
            "document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames > {}",
            frames_then + 30.0
        ),
        Duration::from_secs(20),
    )
    .await?;
    page.eval("(() => { const v = document.getElementById('video'); window.seekedAt = null; v.addEventListener('seeked', () => { window.seekedAt = v.currentTime; }, { once: true }); v.currentTime = v.duration / 2; return true; })()")
        .await?;
    let seeked = page
        .wait("window.seekedAt", Duration::from_secs(20))
        .await?
        .as_f64()
        .unwrap_or(0.0);
    let duration = page
        .eval("document.getElementById('video').duration")
        .await?
        .as_f64()
        .unwrap_or(0.0);
    eprintln!("replay page: 1280 wide, playing, seeked to {seeked:.2} s of {duration:.2} s");
    assert!(
        (seeked - duration / 2.0).abs() < 1.0,
        "seeked to {seeked} of {duration}"
    );
    page.screenshot("replay-page").await?;
    Ok(())
}

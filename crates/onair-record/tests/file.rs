//! Recordings written by real GStreamer and read back by ffprobe.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use onair_capture::{AudioSource, TestPattern, Tone, VideoSource};
use onair_core::clock;
use onair_record::{RecordError, Recorder, RecordingConfig};

fn probe(path: &Path, entries: &str) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "compact=p=0:nk=1",
            "-show_entries",
            entries,
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Waits (at most 5 s) until the recorder took everything pushed so far: these tests feed
/// faster than real time, and its queues drop what piles up.
fn drained(recorder: &Recorder) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while recorder.queued() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the recorder's queues did not drain"
        );
        std::thread::yield_now();
    }
}

/// Feeds `seconds` of the pattern (30 fps) and the tone (10 ms blocks) with capture times
/// laid out from now, as fast as the recorder takes them.
fn feed(recorder: &Recorder, seconds: u32) {
    let mut pattern = TestPattern::new(640, 360, 30.0).unwrap();
    let mut tone = Tone::a440();
    let start = clock::unix_micros() + 1_000;
    for tick in 0..seconds * 100 {
        let at = start + tick as u64 * 10_000;
        let sound = tone.next_frame().unwrap();
        recorder.push_audio(&sound.frame, at);
        if tick % 10 == 0 || tick % 10 == 3 || tick % 10 == 7 {
            let picture = pattern.next_frame().unwrap();
            recorder.push_video(&picture.frame, at);
        }
        drained(recorder);
    }
}

#[test]
fn three_seconds_recorded_read_back_as_h264_and_aac_of_three_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.mp4");
    let recorder = Recorder::start(RecordingConfig::new(&path, 30.0, true)).unwrap();
    feed(&recorder, 3);
    let summary = recorder.finish(Duration::from_secs(10)).unwrap();
    assert_eq!(summary.video_frames, 90);
    assert!(summary.bytes > 10_000, "{summary:?}");
    let streams = probe(&path, "stream=codec_name,width,height");
    assert_eq!(
        streams.lines().collect::<Vec<_>>(),
        ["h264|640|360", "aac"],
        "{streams}"
    );
    let duration: f64 = probe(&path, "format=duration").trim().parse().unwrap();
    assert!((duration - 3.0).abs() < 0.15, "duration {duration}");
    // Finishing again changes nothing and says the same.
    assert_eq!(recorder.finish(Duration::from_secs(1)), Ok(summary));
}

#[test]
fn an_existing_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.mp4");
    std::fs::write(&path, b"an earlier recording").unwrap();
    let err = Recorder::start(RecordingConfig::new(&path, 30.0, true)).unwrap_err();
    assert_eq!(err.kind(), "exists");
    assert_eq!(std::fs::read(&path).unwrap(), b"an earlier recording");
}

#[test]
fn a_folder_that_does_not_exist_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("out.mp4");
    let err = Recorder::start(RecordingConfig::new(&path, 30.0, false)).unwrap_err();
    assert!(matches!(err, RecordError::Unwritable { .. }), "{err:?}");
    assert!(err.to_string().contains("missing/out.mp4"), "{err}");
}

#[test]
fn a_recording_given_no_picture_ends_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.mp4");
    let recorder = Recorder::start(RecordingConfig::new(&path, 30.0, false)).unwrap();
    assert_eq!(
        recorder.finish(Duration::from_secs(2)),
        Err(RecordError::Empty)
    );
}

#[test]
fn sound_that_starts_before_the_picture_is_cut_to_start_with_it() {
    // The muxer starts every track at zero: sound kept from before the first picture would
    // play that much early.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late-picture.mp4");
    let recorder = Recorder::start(RecordingConfig::new(&path, 30.0, true)).unwrap();
    let mut pattern = TestPattern::new(640, 360, 30.0).unwrap();
    let mut tone = Tone::a440();
    let start = clock::unix_micros() + 1_000;
    for tick in 0..300u64 {
        let at = start + tick * 10_000;
        recorder.push_audio(&tone.next_frame().unwrap().frame, at);
        if tick >= 30 && tick % 10 == 0 {
            recorder.push_video(&pattern.next_frame().unwrap().frame, at);
        }
        drained(&recorder);
    }
    recorder.finish(Duration::from_secs(10)).unwrap();
    let durations: Vec<f64> = probe(&path, "stream=duration")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    // 2.7 s of both, not 3 s of sound against 2.7 s of picture.
    assert!((durations[0] - 2.7).abs() < 0.12, "{durations:?}");
    assert!((durations[1] - 2.7).abs() < 0.05, "{durations:?}");
}

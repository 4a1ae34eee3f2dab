//! A local recording of what goes on air: the frames the session gives the engine, with their
//! capture times, encoded by GStreamer (H.264 + AAC) into a fragmented MP4 that survives a
//! crash. Feeding it never blocks the capture threads, and nothing here can stop the stream:
//! a failure stops the recording and says why ([`RecordError`]).

mod error;
mod pipeline;
pub mod timeline;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;
use onair_core::{clock, AudioFrame, I420Frame};
use parking_lot::Mutex;

pub use error::RecordError;
pub use pipeline::{VideoEncoder, FRAGMENT_MS};
use timeline::{Placement, SampleClock, Timeline};

/// Samples an AAC-LC encoder emits before the first one it was given.
const AAC_PRIMING: u64 = 1024;

/// How long End waits for the file to be finalised, by default.
pub const FINISH_LIMIT: Duration = Duration::from_secs(5);

/// What to record and how.
#[derive(Debug, Clone)]
pub struct RecordingConfig {
    /// A new file: an existing one is never overwritten.
    pub path: PathBuf,
    /// The picture's frame rate (its key frames fall on fragment boundaries).
    pub fps: f64,
    /// Record sound too (the session has an audio source).
    pub audio: bool,
    pub video_kbps: u32,
    pub encoder: VideoEncoder,
}

impl RecordingConfig {
    pub fn new(path: impl Into<PathBuf>, fps: f64, audio: bool) -> Self {
        Self {
            path: path.into(),
            fps,
            audio,
            video_kbps: 4_000,
            encoder: VideoEncoder::Auto,
        }
    }
}

/// A recording under way, for the studio and the CLI.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordingStatus {
    pub path: PathBuf,
    /// Recorded so far (the newest picture's time).
    pub duration_secs: f64,
    /// The file's size on disk.
    pub bytes: u64,
    /// Why the recording stopped early, if it did.
    pub stopped: Option<StopReason>,
}

/// A stopped recording's reason, with its stable kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StopReason {
    pub kind: &'static str,
    pub message: String,
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordingSummary {
    pub path: PathBuf,
    pub duration_secs: f64,
    pub bytes: u64,
    pub video_frames: u64,
    /// Pictures not recorded because they were of another size than the first. (Pictures a
    /// slow encoder's queue dropped are not counted: the queue does not say.)
    pub frames_skipped: u64,
    pub encoder: &'static str,
    /// From End to the file's index written.
    pub finalised_in_ms: u64,
}

struct Picture {
    info: Option<gst_video::VideoInfo>,
}

struct Sound {
    caps: Option<(u32, u32)>,
    /// From the first picture on (before it, no sound is kept).
    clock: Option<SampleClock>,
}

/// Records while it lives. Shared by the threads that feed it (`&self` everywhere); dropping
/// the last handle stops the pipeline, leaving the file playable up to its last fragment.
pub struct Recorder {
    path: PathBuf,
    fps: f64,
    encoder: &'static str,
    pipeline: gst::Pipeline,
    video: gst_app::AppSrc,
    audio: Option<gst_app::AppSrc>,
    timeline: Timeline,
    picture: Mutex<Picture>,
    sound: Mutex<Sound>,
    /// The first picture's time: the sound starts there too, as the muxer starts every
    /// track at zero.
    first_picture: Mutex<Option<Duration>>,
    /// One reader of the bus at a time (the feeding threads and End).
    bus: Mutex<gst::Bus>,
    /// No more frames are taken (stopped by a failure, or ending).
    closed: AtomicBool,
    failure: Mutex<Option<RecordError>>,
    eos: AtomicBool,
    newest_pts_ns: AtomicU64,
    frames: AtomicU64,
    skipped: AtomicU64,
    finished: Mutex<Option<Result<RecordingSummary, RecordError>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("encoder", &self.encoder)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Creates the file (never over an existing one) and starts the pipeline; frames captured
    /// from now on are recorded. Blocks briefly (GStreamer's start): call it off async threads.
    pub fn start(config: RecordingConfig) -> Result<Self, RecordError> {
        create_new(&config.path)?;
        let path = config.path.clone();
        Self::start_on_new_file(config).inspect_err(|_| {
            // The empty file was ours: nothing is lost by removing it.
            let _ = std::fs::remove_file(&path);
        })
    }

    fn start_on_new_file(config: RecordingConfig) -> Result<Self, RecordError> {
        let built = pipeline::build(&pipeline::Settings {
            path: &config.path,
            fps: config.fps,
            audio: config.audio,
            video_kbps: config.video_kbps,
            encoder: config.encoder,
        });
        let built = built?;
        let bus = built
            .pipeline
            .bus()
            .ok_or_else(|| RecordError::Pipeline("the pipeline has no bus".into()))?;
        let recorder = Self {
            path: config.path,
            fps: config.fps,
            encoder: built.encoder,
            pipeline: built.pipeline,
            video: built.video,
            audio: built.audio,
            timeline: Timeline::starting_at(clock::unix_micros()),
            picture: Mutex::new(Picture { info: None }),
            sound: Mutex::new(Sound {
                caps: None,
                clock: None,
            }),
            first_picture: Mutex::new(None),
            bus: Mutex::new(bus),
            closed: AtomicBool::new(false),
            failure: Mutex::new(None),
            eos: AtomicBool::new(false),
            newest_pts_ns: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            finished: Mutex::new(None),
        };
        recorder
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| RecordError::Pipeline(format!("the pipeline did not start: {e}")))?;
        recorder.read_bus(Duration::ZERO);
        if let Some(err) = recorder.failure.lock().clone() {
            return Err(err);
        }
        tracing::info!(path = %recorder.path.display(), encoder = recorder.encoder, "recording");
        Ok(recorder)
    }

    /// Buffers waiting in the recorder's queues (for tests that feed faster than real time and
    /// must not have the leaky queues drop any).
    pub fn queued(&self) -> u64 {
        self.video.current_level_buffers()
            + self.audio.as_ref().map_or(0, |a| a.current_level_buffers())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A picture on its way to the encoder, with its capture time (µs since the epoch).
    pub fn push_video(&self, frame: &I420Frame, capture_time_us: u64) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        self.read_bus(Duration::ZERO);
        let Some(pts) = self.timeline.at(capture_time_us) else {
            return;
        };
        let buffer = {
            let mut picture = self.picture.lock();
            let info = match &picture.info {
                Some(info) => info.clone(),
                None => match self.set_video_caps(frame) {
                    Ok(info) => picture.info.insert(info).clone(),
                    Err(err) => return self.fail(err),
                },
            };
            if info.width() != frame.width() || info.height() != frame.height() {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let mut data = vec![0u8; info.size()];
            for (plane, pixels) in [frame.y(), frame.u(), frame.v()].into_iter().enumerate() {
                let (width, rows) = if plane == 0 {
                    (frame.width() as usize, frame.height() as usize)
                } else {
                    (
                        frame.chroma_width() as usize,
                        frame.chroma_height() as usize,
                    )
                };
                let (offset, stride) = (info.offset()[plane], info.stride()[plane] as usize);
                for row in 0..rows {
                    let at = offset + row * stride;
                    data[at..at + width].copy_from_slice(&pixels[row * width..(row + 1) * width]);
                }
            }
            let mut buffer = gst::Buffer::from_mut_slice(data);
            let b = buffer.get_mut().expect("a new buffer has one owner");
            b.set_pts(gst::ClockTime::from_nseconds(pts.as_nanos() as u64));
            b.set_duration(gst::ClockTime::from_nseconds(
                (1e9 / self.fps.max(1.0)) as u64,
            ));
            buffer
        };
        if self.video.push_buffer(buffer).is_ok() {
            self.first_picture.lock().get_or_insert(pts);
            self.frames.fetch_add(1, Ordering::Relaxed);
            self.newest_pts_ns
                .fetch_max(pts.as_nanos() as u64, Ordering::Relaxed);
        }
    }

    /// Sound (10 ms of it) on its way to the encoder, with its capture time.
    pub fn push_audio(&self, frame: &AudioFrame, capture_time_us: u64) {
        let Some(audio) = &self.audio else { return };
        if self.closed.load(Ordering::Acquire) || frame.samples.is_empty() {
            return;
        }
        let Some(captured) = self.timeline.at(capture_time_us) else {
            return;
        };
        let Some(first_picture) = *self.first_picture.lock() else {
            return;
        };
        let (pts, silence, skip) = {
            let mut sound = self.sound.lock();
            if sound.caps.is_none() {
                let caps = gst_audio::AudioInfo::builder(
                    gst_audio::AUDIO_FORMAT_S16,
                    frame.sample_rate,
                    frame.channels,
                )
                .build()
                .and_then(|info| info.to_caps());
                match caps {
                    Ok(caps) => audio.set_caps(Some(&caps)),
                    Err(e) => {
                        return self.fail(RecordError::Pipeline(format!("sound format: {e}")))
                    }
                }
                sound.caps = Some((frame.sample_rate, frame.channels));
            }
            if sound.caps != Some((frame.sample_rate, frame.channels)) {
                return;
            }
            let samples = frame.samples_per_channel() as u64;
            // An AAC encoder puts 1024 samples of its own first, and a fragmented file has no
            // edit list to tell players to skip them: starting the sound that much later
            // keeps the sound that is heard in step with the picture.
            let priming =
                Duration::from_nanos(AAC_PRIMING * 1_000_000_000 / frame.sample_rate as u64);
            let clock = sound
                .clock
                .get_or_insert_with(|| SampleClock::starting_at(first_picture + priming));
            match clock.place(captured, samples, frame.sample_rate) {
                Placement::Drop => return,
                Placement::Write { pts, silence, skip } => (pts, silence, skip),
            }
        };
        let channels = frame.channels as usize;
        let kept = &frame.samples[(skip as usize * channels).min(frame.samples.len())..];
        let mut bytes = vec![0u8; silence as usize * channels * 2];
        bytes.extend(kept.iter().flat_map(|s| s.to_le_bytes()));
        let per_channel = (bytes.len() / 2 / channels) as u64;
        let mut buffer = gst::Buffer::from_mut_slice(bytes);
        let b = buffer.get_mut().expect("a new buffer has one owner");
        b.set_pts(gst::ClockTime::from_nseconds(pts.as_nanos() as u64));
        b.set_duration(gst::ClockTime::from_nseconds(
            per_channel * 1_000_000_000 / frame.sample_rate as u64,
        ));
        let _ = audio.push_buffer(buffer);
    }

    fn set_video_caps(&self, frame: &I420Frame) -> Result<gst_video::VideoInfo, RecordError> {
        let (num, den) = fraction(self.fps);
        let info = gst_video::VideoInfo::builder(
            gst_video::VideoFormat::I420,
            frame.width(),
            frame.height(),
        )
        .fps(gst::Fraction::new(num, den))
        .build()
        .map_err(|e| RecordError::Pipeline(format!("picture format: {e}")))?;
        let caps = info
            .to_caps()
            .map_err(|e| RecordError::Pipeline(format!("picture format: {e}")))?;
        self.video.set_caps(Some(&caps));
        Ok(info)
    }

    /// Where the recording stands.
    pub fn status(&self) -> RecordingStatus {
        self.read_bus(Duration::ZERO);
        RecordingStatus {
            path: self.path.clone(),
            duration_secs: self.recorded().as_secs_f64(),
            bytes: file_size(&self.path),
            stopped: self.failure.lock().as_ref().map(|e| StopReason {
                kind: e.kind(),
                message: e.to_string(),
            }),
        }
    }

    /// From the first picture to the newest (the file's length, as players count it).
    fn recorded(&self) -> Duration {
        let first = self.first_picture.lock().unwrap_or_default();
        Duration::from_nanos(self.newest_pts_ns.load(Ordering::Relaxed)).saturating_sub(first)
    }

    /// Ends the recording: the sources' end goes down the pipeline and the muxer writes the
    /// file's index, waited for at most `limit`. Idempotent: a second call returns the first's
    /// result. Blocks: call it off async threads.
    pub fn finish(&self, limit: Duration) -> Result<RecordingSummary, RecordError> {
        let mut finished = self.finished.lock();
        if let Some(result) = finished.as_ref() {
            return result.clone();
        }
        let started = Instant::now();
        self.closed.store(true, Ordering::Release);
        let result = self.end(limit, started);
        let _ = self.pipeline.set_state(gst::State::Null);
        match &result {
            Ok(summary) => tracing::info!(?summary, "recording finished"),
            Err(err) => tracing::warn!(%err, "recording ended with an error"),
        }
        *finished = Some(result.clone());
        result
    }

    fn end(&self, limit: Duration, started: Instant) -> Result<RecordingSummary, RecordError> {
        if let Some(err) = self.failure.lock().clone() {
            return Err(err);
        }
        if self.frames.load(Ordering::Relaxed) == 0 {
            // Not one picture: the file holds nothing worth keeping.
            let _ = std::fs::remove_file(&self.path);
            return Err(RecordError::Empty);
        }
        let _ = self.video.end_of_stream();
        if let Some(audio) = &self.audio {
            let _ = audio.end_of_stream();
        }
        let deadline = started + limit;
        while !self.eos.load(Ordering::Acquire) {
            if let Some(err) = self.failure.lock().clone() {
                return Err(err);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecordError::NotFinalised { limit });
            }
            self.read_bus(left.min(Duration::from_millis(50)));
        }
        Ok(RecordingSummary {
            path: self.path.clone(),
            duration_secs: self.recorded().as_secs_f64(),
            bytes: file_size(&self.path),
            video_frames: self.frames.load(Ordering::Relaxed),
            frames_skipped: self.skipped.load(Ordering::Relaxed),
            encoder: self.encoder,
            finalised_in_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Takes what the pipeline said (waiting up to `wait` for the first message): an error
    /// stops the recording; the end of stream marks it finalised.
    fn read_bus(&self, wait: Duration) {
        let bus = self.bus.lock();
        let mut timeout = gst::ClockTime::from_nseconds(wait.as_nanos() as u64);
        while let Some(message) =
            bus.timed_pop_filtered(timeout, &[gst::MessageType::Error, gst::MessageType::Eos])
        {
            timeout = gst::ClockTime::ZERO;
            match message.view() {
                gst::MessageView::Eos(_) => self.eos.store(true, Ordering::Release),
                gst::MessageView::Error(err) => {
                    let at = self.recorded();
                    let error = err.error();
                    let reason = format!(
                        "{} ({})",
                        error.message(),
                        err.src().map(|s| s.name().to_string()).unwrap_or_default()
                    );
                    let failure = if error.matches(gst::ResourceError::NoSpaceLeft) {
                        RecordError::DiskFull {
                            path: self.path.clone(),
                            at,
                        }
                    } else if error.matches(gst::ResourceError::Write)
                        || error.matches(gst::ResourceError::OpenWrite)
                    {
                        RecordError::WriteFailed {
                            path: self.path.clone(),
                            at,
                            reason,
                        }
                    } else {
                        RecordError::Pipeline(format!(
                            "{reason}{}",
                            err.debug().map(|d| format!(": {d}")).unwrap_or_default()
                        ))
                    };
                    drop(bus);
                    return self.fail(failure);
                }
                _ => {}
            }
        }
    }

    /// Stops recording for `err` (the first failure is the one kept); the stream goes on.
    /// Runs on a capture thread: it only stops taking frames; the pipeline is stopped by
    /// `finish` or drop (stopping waits for GStreamer's threads).
    fn fail(&self, err: RecordError) {
        tracing::warn!(%err, "recording stopped");
        self.closed.store(true, Ordering::Release);
        self.failure.lock().get_or_insert(err);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn create_new(path: &Path) -> Result<(), RecordError> {
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(RecordError::Exists(path.to_owned()))
        }
        Err(e) => Err(RecordError::Unwritable {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// A frame rate as a fraction GStreamer keeps exactly (29.97 → 30000/1001).
fn fraction(fps: f64) -> (i32, i32) {
    let fps = fps.clamp(1.0, 240.0);
    if (fps - fps.round()).abs() < 1e-6 {
        (fps.round() as i32, 1)
    } else {
        ((fps * 1001.0).round() as i32, 1001)
    }
}

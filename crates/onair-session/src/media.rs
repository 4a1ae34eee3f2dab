//! What goes on air: the camera or the test pattern, the microphone or the tone. Opened once
//! per session, before joining, and kept open across reconnects — a rejoin publishes new
//! tracks over the same sources, so the devices never blink. Every device belongs to the
//! thread that reads it; stopping joins those threads, which close their device on the way
//! out.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onair_capture::camera::{Camera, CameraConfig};
use onair_capture::mic::{MicConfig, Microphone};
use onair_capture::{
    AudioSource, CaptureError, CapturedAudioFrame, CapturedVideoFrame, TestPattern, Tone,
    VideoSource,
};
use onair_livekit::{AudioProcessingOptions, AudioProcessor, NativeAudioSource, NativeVideoSource};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::error::SessionError;
use crate::preview::PreviewTap;
use crate::pump;
use crate::record::{RecordError, RecordSettings, RecordTap, RecordingEnd, RecordingStatus};

/// The picture.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VideoInput {
    /// Colour bars with a clock: no device needed.
    #[default]
    TestPattern,
    /// A camera: an id from `onair_capture::camera::list_cameras`, or `None` for the first.
    Camera(Option<String>),
}

/// The sound.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioInput {
    /// Video only.
    Off,
    /// A sine tone at `hz`: no device needed.
    Tone {
        hz: f64,
        /// Sound only at the start of each second (a sync check).
        beeps: bool,
    },
    /// A microphone: an id from `onair_capture::mic::list_microphones`, or `None` for the
    /// system default; with the SDK's audio processing as chosen.
    Microphone {
        device: Option<String>,
        processing: AudioProcessingOptions,
    },
}

impl Default for AudioInput {
    fn default() -> Self {
        Self::Tone {
            hz: 440.0,
            beeps: false,
        }
    }
}

/// A device read for how long before checking whether to stop.
const READ_SLICE: Duration = Duration::from_millis(20);

/// The picture asked for: the input and the size and rate it runs at.
#[derive(Debug, Clone, PartialEq)]
struct Picture {
    input: VideoInput,
    width: u32,
    height: u32,
    fps: f64,
}

/// Where the sources' frames go besides the engine: the studio's preview and the recording.
#[derive(Debug, Clone, Default)]
pub struct Taps {
    pub preview: Option<PreviewTap>,
    pub record: RecordTap,
}

impl Taps {
    pub fn video(&self, frame: &CapturedVideoFrame) {
        if let Some(preview) = &self.preview {
            preview.offer(&frame.frame);
        }
        self.record.video(frame);
    }

    pub fn audio(&self, frame: &CapturedAudioFrame) {
        if let Some(preview) = &self.preview {
            preview.offer_audio(&frame.frame.samples);
        }
        self.record.audio(frame);
    }
}

/// The running sources and their readers: the engine's video source (and audio source,
/// unless audio is off), fed until [`Sources::stop`] or drop. The picture and the sound run
/// apart, so one can be kept while the other changes ([`Sources::reuse`]).
pub struct Sources {
    pub video: NativeVideoSource,
    pub audio: Option<NativeAudioSource>,
    /// What is on air, for people ("camera \"HD Webcam\" 1280x720", "440 Hz tone").
    pub video_label: String,
    pub audio_label: Option<String>,
    /// Video frames handed to the engine so far.
    pub frames: Arc<AtomicU32>,
    /// Every frame handed to the engine also goes here (see [`Sources::start_recording`]).
    record: RecordTap,
    picture: (Picture, Readers),
    sound: (AudioInput, Readers),
}

/// The tasks and threads that feed one source, and how many devices they hold open. Dropped,
/// they stop: the readers see it and close their devices on their own threads.
#[derive(Default)]
struct Readers {
    tasks: TaskTracker,
    cancel: CancellationToken,
    /// Devices open right now (decremented once a device is closed).
    devices_open: Arc<AtomicUsize>,
}

/// A picture device opened, not yet read.
enum OpenPicture {
    Camera(Camera),
    Pattern,
}

/// A sound device opened (or made), not yet read.
enum OpenSound {
    Off,
    Tone(Tone, f64),
    Mic(Microphone, Option<AudioProcessor>),
}

impl Sources {
    /// Opens the devices (off the async threads: opening can block for seconds) and starts
    /// feeding the sources. Nothing is left open when this fails.
    pub async fn start(
        video: &VideoInput,
        audio: &AudioInput,
        width: u32,
        height: u32,
        fps: f64,
        preview: Option<PreviewTap>,
    ) -> Result<Self, SessionError> {
        let picture = Picture {
            input: video.clone(),
            width,
            height,
            fps,
        };
        // Both devices open before either is read: a failure closes them at once, here.
        let opened_picture = open_picture(&picture).await?;
        let opened_sound = open_sound(audio).await?;
        let taps = Taps {
            preview,
            record: RecordTap::default(),
        };
        let (video, video_label, frames, picture_readers) =
            run_picture(opened_picture, &picture, taps.clone())?;
        let (audio_source, audio_label, sound_readers) = run_sound(opened_sound, taps.clone())?;
        Ok(Self {
            video,
            audio: audio_source,
            video_label,
            audio_label,
            frames,
            record: taps.record,
            picture: (picture, picture_readers),
            sound: (audio.clone(), sound_readers),
        })
    }

    /// Sources for what is asked now, keeping each part of these that already is what is
    /// asked (its device stays open: the studio's preview becomes the stream without closing
    /// the microphone) and starting the rest anew. A part not kept is stopped first, so its
    /// device is free for the other to open.
    pub async fn reuse(
        self,
        video: &VideoInput,
        audio: &AudioInput,
        width: u32,
        height: u32,
        fps: f64,
        preview: Option<PreviewTap>,
    ) -> Result<Self, SessionError> {
        let picture = Picture {
            input: video.clone(),
            width,
            height,
            fps,
        };
        let keep_picture = self.picture.0 == picture;
        let keep_sound = self.sound.0 == *audio;
        let Sources {
            video: video_source,
            audio: audio_source,
            video_label,
            audio_label,
            frames,
            record,
            picture: (_, picture_readers),
            sound: (_, sound_readers),
        } = self;
        // The parts kept feed the tap they were started with: the new parts feed it too.
        let taps = Taps {
            preview,
            record: record.clone(),
        };
        if !keep_picture {
            let _ = picture_readers.stop(STOP_LIMIT).await;
        }
        if !keep_sound {
            let _ = sound_readers.stop(STOP_LIMIT).await;
        }
        let opened_picture = if keep_picture {
            None
        } else {
            Some(open_picture(&picture).await?)
        };
        let opened_sound = if keep_sound {
            None
        } else {
            Some(open_sound(audio).await?)
        };
        let (video_source, video_label, frames, picture_readers) = match opened_picture {
            None => (video_source, video_label, frames, picture_readers),
            Some(opened) => run_picture(opened, &picture, taps.clone())?,
        };
        let (audio_source, audio_label, sound_readers) = match opened_sound {
            None => (audio_source, audio_label, sound_readers),
            Some(opened) => run_sound(opened, taps)?,
        };
        tracing::info!(keep_picture, keep_sound, "sources handed over");
        Ok(Self {
            video: video_source,
            audio: audio_source,
            video_label,
            audio_label,
            frames,
            record,
            picture: (picture, picture_readers),
            sound: (audio.clone(), sound_readers),
        })
    }

    /// Records every frame these sources deliver from now on to a new file, beside the
    /// stream. A failure is returned (and kept for [`Sources::finish_recording`]'s report);
    /// the sources run on either way.
    pub async fn start_recording(&self, settings: &RecordSettings) -> Result<(), RecordError> {
        self.record
            .start(settings, self.picture.0.fps, self.audio.is_some())
            .await
    }

    /// The recording under way, if any.
    pub fn recording(&self) -> Option<RecordingStatus> {
        self.record.status()
    }

    /// Ends the recording (if one was asked for) within `limit`.
    pub async fn finish_recording(&self, limit: Duration) -> Option<RecordingEnd> {
        self.record.finish(limit).await
    }

    /// Stops every reader and pump and waits (at most `limit`) until the devices are closed.
    pub async fn stop(&self, limit: Duration) -> Result<String, String> {
        let opened = self.devices_open();
        let started = Instant::now();
        let (picture, sound) = tokio::join!(self.picture.1.stop(limit), self.sound.1.stop(limit));
        match (picture, sound) {
            (true, true) => Ok(format!(
                "{opened} device(s) closed, sources stopped in {:.1} ms",
                started.elapsed().as_secs_f64() * 1e3
            )),
            _ => Err(format!(
                "{} device(s) still open after {limit:?}",
                self.devices_open()
            )),
        }
    }

    /// Devices open right now.
    pub fn devices_open(&self) -> usize {
        self.picture.1.devices_open.load(Ordering::SeqCst)
            + self.sound.1.devices_open.load(Ordering::SeqCst)
    }
}

/// How long a part that is not kept may take to stop.
const STOP_LIMIT: Duration = Duration::from_secs(2);

async fn open_picture(picture: &Picture) -> Result<OpenPicture, SessionError> {
    Ok(match &picture.input {
        VideoInput::TestPattern => OpenPicture::Pattern,
        VideoInput::Camera(device) => {
            let config = CameraConfig {
                device: device.clone(),
                width: picture.width,
                height: picture.height,
                fps: picture.fps.round().max(1.0) as u32,
            };
            OpenPicture::Camera(blocking(move || Camera::open(config)).await?)
        }
    })
}

async fn open_sound(audio: &AudioInput) -> Result<OpenSound, SessionError> {
    Ok(match audio {
        AudioInput::Off => OpenSound::Off,
        AudioInput::Tone { hz, beeps } => {
            let tone = Tone::new(*hz, 48_000, 1, -12.0)?;
            OpenSound::Tone(if *beeps { tone.beeping() } else { tone }, *hz)
        }
        AudioInput::Microphone { device, processing } => {
            let config = MicConfig {
                device: device.clone(),
                channels: 1,
            };
            let mic = blocking(move || Microphone::open(config)).await?;
            let processor = if processing.any() {
                Some(AudioProcessor::new(*processing)?)
            } else {
                None
            };
            OpenSound::Mic(mic, processor)
        }
    })
}

/// Starts reading the opened picture into a new video source (and the preview).
fn run_picture(
    opened: OpenPicture,
    picture: &Picture,
    taps: Taps,
) -> Result<(NativeVideoSource, String, Arc<AtomicU32>, Readers), SessionError> {
    let readers = Readers::default();
    let frames = Arc::new(AtomicU32::new(0));
    let (source, label) = match opened {
        OpenPicture::Camera(camera) => {
            let info = camera.info();
            let source = NativeVideoSource::new(info.width, info.height)?;
            let label = format!("camera {:?} {}x{}", info.name, info.width, info.height);
            let (source_for, frames) = (source.clone(), frames.clone());
            readers.spawn_reader(
                "camera",
                camera,
                |camera| camera.next_frame_timeout(READ_SLICE),
                move |captured| {
                    taps.video(&captured);
                    let sent = source_for.capture_frame(
                        &captured.frame,
                        captured.capture_time_us,
                        captured.frame_id,
                    );
                    match sent {
                        Ok(()) => {
                            frames.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                        Err(err) => {
                            tracing::warn!(%err, "video frame not accepted");
                            false
                        }
                    }
                },
                |camera| tracing::debug!(report = ?camera.stop(), "camera closed"),
            );
            (source, label)
        }
        OpenPicture::Pattern => {
            let (width, height) = (picture.width, picture.height);
            let pattern = TestPattern::new(width, height, picture.fps)?;
            let source = NativeVideoSource::new(width, height)?;
            pump::spawn_pattern(
                &readers.tasks,
                readers.cancel.clone(),
                pattern,
                source.clone(),
                frames.clone(),
                taps,
            );
            (source, format!("test pattern {width}x{height}"))
        }
    };
    Ok((source, label, frames, readers))
}

/// Starts reading the opened sound into a new audio source (and the preview's meter).
fn run_sound(
    opened: OpenSound,
    taps: Taps,
) -> Result<(Option<NativeAudioSource>, Option<String>, Readers), SessionError> {
    let readers = Readers::default();
    let (source, label) = match opened {
        OpenSound::Off => (None, None),
        OpenSound::Mic(mic, processor) => {
            let info = mic.info();
            let source = pump::audio_source(&info)?;
            readers.spawn_mic(mic, processor, source.clone(), taps);
            (Some(source), Some(format!("microphone {:?}", info.name)))
        }
        OpenSound::Tone(tone, hz) => {
            let source = pump::audio_source(&tone.info())?;
            pump::spawn_tone(
                &readers.tasks,
                readers.cancel.clone(),
                tone,
                source.clone(),
                taps,
            );
            (Some(source), Some(format!("{hz} Hz tone")))
        }
    };
    Ok((source, label, readers))
}

async fn blocking<T: Send + 'static>(
    open: impl FnOnce() -> Result<T, CaptureError> + Send + 'static,
) -> Result<T, SessionError> {
    tokio::task::spawn_blocking(open)
        .await
        .map_err(|e| CaptureError::DeviceLost(format!("the device thread failed: {e}")))?
        .map_err(SessionError::from)
}

impl Drop for Readers {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.tasks.close();
    }
}

impl Readers {
    /// Stops the readers and pumps and waits (at most `limit`) until their devices are
    /// closed; false if they were not by then.
    async fn stop(&self, limit: Duration) -> bool {
        self.cancel.cancel();
        self.tasks.close();
        tokio::time::timeout(limit, self.tasks.wait()).await.is_ok()
    }

    /// Reads `device` on a thread of its own until the session stops or the device fails,
    /// handing each frame to `deliver` (false stops reading), then closes it with `close` and
    /// counts it closed. Devices deliver at their own pace; this thread is theirs alone.
    fn spawn_reader<D: Send + 'static, T>(
        &self,
        name: &'static str,
        mut device: D,
        mut read: impl FnMut(&mut D) -> Result<Option<T>, CaptureError> + Send + 'static,
        mut deliver: impl FnMut(T) -> bool + Send + 'static,
        close: impl FnOnce(D) + Send + 'static,
    ) {
        let (cancel, devices_open) = (self.cancel.clone(), self.devices_open.clone());
        devices_open.fetch_add(1, Ordering::SeqCst);
        self.tasks.spawn_blocking(move || {
            let _span = tracing::debug_span!("onair-device-reader", device = name).entered();
            while !cancel.is_cancelled() {
                match read(&mut device) {
                    Ok(Some(frame)) => {
                        if !deliver(frame) {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(err) => {
                        tracing::warn!(%err, "the device stopped");
                        break;
                    }
                }
            }
            close(device);
            devices_open.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// The microphone's reader (with the SDK's processing, if any) and the task that feeds the
    /// engine's async audio source from it.
    fn spawn_mic(
        &self,
        mic: Microphone,
        mut processor: Option<AudioProcessor>,
        source: NativeAudioSource,
        taps: Taps,
    ) {
        let (frames_tx, mut frames_rx) = tokio::sync::mpsc::channel(50);
        self.spawn_reader(
        "microphone",
        mic,
        move |mic| {
            let mut frame = mic.next_frame_timeout(READ_SLICE)?;
            if let (Some(frame), Some(apm)) = (frame.as_mut(), processor.as_mut()) {
                if let Err(err) = apm.process(&mut frame.frame) {
                    tracing::warn!(%err, "audio processing failed; sending the frame as captured");
                }
            }
            Ok(frame)
        },
        move |frame| {
            taps.audio(&frame);
            frames_tx.blocking_send(frame).is_ok()
        },
        |mic| tracing::debug!(report = ?mic.stop(), "microphone closed"),
    );
        let cancel = self.cancel.clone();
        self.tasks.spawn(
            async move {
                loop {
                    let captured = tokio::select! {
                        _ = cancel.cancelled() => break,
                        frame = frames_rx.recv() => match frame {
                            Some(frame) => frame,
                            None => break,
                        },
                    };
                    if let Err(err) = source.capture_frame(&captured.frame).await {
                        tracing::warn!(%err, "audio frame not accepted");
                        break;
                    }
                }
            }
            .instrument(tracing::debug_span!("onair-mic-pump")),
        );
    }
}

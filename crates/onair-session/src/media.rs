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
use onair_capture::{AudioSource, CaptureError, TestPattern, Tone, VideoSource};
use onair_livekit::{
    AudioProcessingOptions, AudioProcessor, AudioSourceOptions, NativeAudioSource,
    NativeVideoSource,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::pump;
use crate::session::SessionError;

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
    Tone { hz: f64 },
    /// A microphone: an id from `onair_capture::mic::list_microphones`, or `None` for the
    /// system default; with the SDK's audio processing as chosen.
    Microphone {
        device: Option<String>,
        processing: AudioProcessingOptions,
    },
}

impl Default for AudioInput {
    fn default() -> Self {
        Self::Tone { hz: 440.0 }
    }
}

/// A device read for how long before checking whether to stop.
const READ_SLICE: Duration = Duration::from_millis(20);

/// The running sources and their readers: the engine's video source (and audio source,
/// unless audio is off), fed until [`Sources::stop`] or drop.
pub struct Sources {
    pub video: NativeVideoSource,
    pub audio: Option<NativeAudioSource>,
    /// What is on air, for people ("camera \"HD Webcam\" 1280x720", "440 Hz tone").
    pub video_label: String,
    pub audio_label: Option<String>,
    /// Video frames handed to the engine so far.
    pub frames: Arc<AtomicU32>,
    /// Devices open right now (decremented once a device is closed).
    devices_open: Arc<AtomicUsize>,
    tasks: TaskTracker,
    cancel: CancellationToken,
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
    ) -> Result<Self, SessionError> {
        let camera = match video {
            VideoInput::TestPattern => None,
            VideoInput::Camera(device) => {
                let config = CameraConfig {
                    device: device.clone(),
                    width,
                    height,
                    fps: fps.round().max(1.0) as u32,
                };
                Some(blocking(move || Camera::open(config)).await?)
            }
        };
        let mic = match audio {
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
                Some((mic, processor))
            }
            _ => None,
        };

        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let frames = Arc::new(AtomicU32::new(0));
        let devices_open = Arc::new(AtomicUsize::new(0));
        let (video_source, video_label) = match camera {
            Some(camera) => {
                let info = camera.info();
                let source = NativeVideoSource::new(info.width, info.height)?;
                let label = format!("camera {:?} {}x{}", info.name, info.width, info.height);
                devices_open.fetch_add(1, Ordering::SeqCst);
                spawn_camera_reader(
                    &tasks,
                    &cancel,
                    camera,
                    source.clone(),
                    &frames,
                    &devices_open,
                );
                (source, label)
            }
            None => {
                let pattern = TestPattern::new(width, height, fps)?;
                let source = NativeVideoSource::new(width, height)?;
                pump::spawn_pattern(
                    &tasks,
                    cancel.clone(),
                    pattern,
                    source.clone(),
                    frames.clone(),
                );
                (source, format!("test pattern {width}x{height}"))
            }
        };
        let (audio_source, audio_label) = match (audio, mic) {
            (AudioInput::Off, _) => (None, None),
            (_, Some((mic, processor))) => {
                let info = mic.info();
                let source = NativeAudioSource::new(
                    AudioSourceOptions::default(),
                    info.sample_rate,
                    info.channels,
                    100,
                )?;
                let label = format!("microphone {:?}", info.name);
                devices_open.fetch_add(1, Ordering::SeqCst);
                spawn_mic_reader(
                    &tasks,
                    &cancel,
                    mic,
                    processor,
                    source.clone(),
                    &devices_open,
                );
                (Some(source), Some(label))
            }
            (_, None) => {
                let hz = match audio {
                    AudioInput::Tone { hz } => *hz,
                    _ => 440.0,
                };
                let tone = Tone::new(hz, 48_000, 1, -12.0)?;
                let info = tone.info();
                let source = NativeAudioSource::new(
                    AudioSourceOptions::default(),
                    info.sample_rate,
                    info.channels,
                    100,
                )?;
                pump::spawn_tone(&tasks, cancel.clone(), tone, source.clone());
                (Some(source), Some(format!("{hz} Hz tone")))
            }
        };
        Ok(Self {
            video: video_source,
            audio: audio_source,
            video_label,
            audio_label,
            frames,
            devices_open,
            tasks,
            cancel,
        })
    }

    /// Stops every reader and pump and waits (at most `limit`) until the devices are closed.
    pub async fn stop(&self, limit: Duration) -> Result<String, String> {
        let opened = self.devices_open.load(Ordering::SeqCst);
        let started = Instant::now();
        self.cancel.cancel();
        self.tasks.close();
        match tokio::time::timeout(limit, self.tasks.wait()).await {
            Ok(()) => Ok(format!(
                "{opened} device(s) closed, sources stopped in {:.1} ms",
                started.elapsed().as_secs_f64() * 1e3
            )),
            Err(_) => Err(format!(
                "{} device(s) still open after {limit:?}",
                self.devices_open.load(Ordering::SeqCst)
            )),
        }
    }

    /// Devices open right now.
    pub fn devices_open(&self) -> usize {
        self.devices_open.load(Ordering::SeqCst)
    }
}

impl Drop for Sources {
    fn drop(&mut self) {
        // Dropped without stop (the session dropped): the readers see this and close their
        // devices on their own threads.
        self.cancel.cancel();
        self.tasks.close();
    }
}

async fn blocking<T: Send + 'static>(
    open: impl FnOnce() -> Result<T, CaptureError> + Send + 'static,
) -> Result<T, SessionError> {
    tokio::task::spawn_blocking(open)
        .await
        .map_err(|e| CaptureError::DeviceLost(format!("the device thread failed: {e}")))?
        .map_err(SessionError::from)
}

/// The camera delivers at its own pace on its own thread; this one hands its frames to the
/// encoder and closes the camera when the stream ends or the camera fails.
fn spawn_camera_reader(
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    mut camera: Camera,
    source: NativeVideoSource,
    frames: &Arc<AtomicU32>,
    devices_open: &Arc<AtomicUsize>,
) {
    let (cancel, frames, devices_open) = (cancel.clone(), frames.clone(), devices_open.clone());
    tasks.spawn_blocking(move || {
        let _span = tracing::debug_span!("onair-camera-reader").entered();
        while !cancel.is_cancelled() {
            match camera.next_frame_timeout(READ_SLICE) {
                Ok(Some(captured)) => {
                    if let Err(err) = source.capture_frame(
                        &captured.frame,
                        captured.capture_time_us,
                        captured.frame_id,
                    ) {
                        tracing::warn!(%err, "video frame not accepted");
                        break;
                    }
                    frames.fetch_add(1, Ordering::Relaxed);
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(%err, "camera stopped");
                    break;
                }
            }
        }
        let report = camera.stop();
        devices_open.fetch_sub(1, Ordering::SeqCst);
        tracing::debug!(?report, "camera closed");
    });
}

/// The microphone's reader thread (with the SDK's processing, if any) and the task that
/// feeds the engine's async audio source.
fn spawn_mic_reader(
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    mut mic: Microphone,
    mut processor: Option<AudioProcessor>,
    source: NativeAudioSource,
    devices_open: &Arc<AtomicUsize>,
) {
    let (frames_tx, mut frames_rx) = tokio::sync::mpsc::channel(50);
    let (reader_cancel, devices_open) = (cancel.clone(), devices_open.clone());
    tasks.spawn_blocking(move || {
        let _span = tracing::debug_span!("onair-mic-reader").entered();
        while !reader_cancel.is_cancelled() {
            match mic.next_frame_timeout(READ_SLICE) {
                Ok(Some(mut frame)) => {
                    if let Some(apm) = processor.as_mut() {
                        if let Err(err) = apm.process(&mut frame.frame) {
                            tracing::warn!(%err, "audio processing failed; sending the frame as captured");
                        }
                    }
                    if frames_tx.blocking_send(frame).is_err() {
                        break;
                    }
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(%err, "microphone stopped");
                    break;
                }
            }
        }
        let report = mic.stop();
        devices_open.fetch_sub(1, Ordering::SeqCst);
        tracing::debug!(?report, "microphone closed");
    });
    let cancel = cancel.clone();
    tasks.spawn(
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

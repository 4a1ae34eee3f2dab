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
use onair_livekit::{AudioProcessingOptions, AudioProcessor, NativeAudioSource, NativeVideoSource};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::error::SessionError;
use crate::preview::PreviewTap;
use crate::pump;

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
    readers: Readers,
}

/// The tasks and threads that feed the sources, and how many devices they hold open.
#[derive(Default)]
struct Readers {
    tasks: TaskTracker,
    cancel: CancellationToken,
    /// Devices open right now (decremented once a device is closed).
    devices_open: Arc<AtomicUsize>,
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
        // Audio as planned, the microphone (if any) already open.
        enum Audio {
            Tone(Tone, f64),
            Mic(Microphone, Option<AudioProcessor>),
        }
        let audio = match audio {
            AudioInput::Off => None,
            AudioInput::Tone { hz } => Some(Audio::Tone(Tone::new(*hz, 48_000, 1, -12.0)?, *hz)),
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
                Some(Audio::Mic(mic, processor))
            }
        };

        let readers = Readers::default();
        let (tasks, cancel) = (&readers.tasks, &readers.cancel);
        let meter = preview.clone();
        let frames = Arc::new(AtomicU32::new(0));
        let (video_source, video_label) = match camera {
            Some(camera) => {
                let info = camera.info();
                let source = NativeVideoSource::new(info.width, info.height)?;
                let label = format!("camera {:?} {}x{}", info.name, info.width, info.height);
                let (source_for, frames) = (source.clone(), frames.clone());
                readers.spawn_reader(
                    "camera",
                    camera,
                    |camera| camera.next_frame_timeout(READ_SLICE),
                    move |captured| {
                        if let Some(preview) = &preview {
                            preview.offer(&captured.frame);
                        }
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
            None => {
                let pattern = TestPattern::new(width, height, fps)?;
                let source = NativeVideoSource::new(width, height)?;
                pump::spawn_pattern(
                    tasks,
                    cancel.clone(),
                    pattern,
                    source.clone(),
                    frames.clone(),
                    preview,
                );
                (source, format!("test pattern {width}x{height}"))
            }
        };
        let (audio_source, audio_label) = match audio {
            None => (None, None),
            Some(Audio::Mic(mic, processor)) => {
                let info = mic.info();
                let source = pump::audio_source(&info)?;
                readers.spawn_mic(mic, processor, source.clone(), meter);
                (Some(source), Some(format!("microphone {:?}", info.name)))
            }
            Some(Audio::Tone(tone, hz)) => {
                let source = pump::audio_source(&tone.info())?;
                pump::spawn_tone(tasks, cancel.clone(), tone, source.clone(), meter);
                (Some(source), Some(format!("{hz} Hz tone")))
            }
        };
        Ok(Self {
            video: video_source,
            audio: audio_source,
            video_label,
            audio_label,
            frames,
            readers,
        })
    }

    /// Stops every reader and pump and waits (at most `limit`) until the devices are closed.
    pub async fn stop(&self, limit: Duration) -> Result<String, String> {
        let Readers {
            tasks,
            cancel,
            devices_open,
        } = &self.readers;
        let opened = devices_open.load(Ordering::SeqCst);
        let started = Instant::now();
        cancel.cancel();
        tasks.close();
        match tokio::time::timeout(limit, tasks.wait()).await {
            Ok(()) => Ok(format!(
                "{opened} device(s) closed, sources stopped in {:.1} ms",
                started.elapsed().as_secs_f64() * 1e3
            )),
            Err(_) => Err(format!(
                "{} device(s) still open after {limit:?}",
                devices_open.load(Ordering::SeqCst)
            )),
        }
    }

    /// Devices open right now.
    pub fn devices_open(&self) -> usize {
        self.readers.devices_open.load(Ordering::SeqCst)
    }
}

impl Drop for Sources {
    fn drop(&mut self) {
        // Dropped without stop (the session dropped): the readers see this and close their
        // devices on their own threads.
        self.readers.cancel.cancel();
        self.readers.tasks.close();
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

impl Readers {
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
        meter: Option<PreviewTap>,
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
            if let Some(meter) = &meter {
                meter.offer_audio(&frame.frame.samples);
            }
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

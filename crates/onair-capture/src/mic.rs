//! Microphones through cpal: listing, and capture on a dedicated thread owned by a guard.
//!
//! cpal calls back on its own audio thread; the callback only copies samples into a bounded
//! queue (never blocking the audio thread; overflow is counted). The guard's thread owns the
//! cpal stream, mixes to the requested channel count, resamples to 48 kHz (rubato), cuts
//! 10 ms frames, measures their level for a meter, applies mute (digital silence, device
//! kept open) and hands frames to the consumer. Stopping (or dropping) the guard ends the
//! thread, which drops the stream and closes the device, before `stop` returns.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use onair_core::clock::unix_micros;
use onair_core::AudioFrame;

mod pipeline;

pub use pipeline::{measure, Chunk, Level, Pipeline};

use crate::device::{DeviceThread, Opening};
use crate::{AudioInfo, AudioSource, CaptureError, CapturedAudioFrame};

/// The rate every frame leaves at.
pub const OUTPUT_RATE: u32 = 48_000;
const FRAME_SAMPLES: usize = (OUTPUT_RATE / 100) as usize;

/// A microphone as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MicInfo {
    /// What to pass back to open it (the ALSA/PulseAudio device name, stable across runs).
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub min_sample_rate: u32,
    pub max_sample_rate: u32,
    /// Channel counts it offers.
    pub channels: Vec<u16>,
}

/// Every input device of the default host.
pub fn list_microphones() -> Result<Vec<MicInfo>, CaptureError> {
    let host = cpal::default_host();
    let default_name = host.default_input_device().and_then(|d| d.name().ok());
    let devices = host
        .input_devices()
        .map_err(|e| CaptureError::DeviceLost(format!("cannot list microphones: {e}")))?;
    let mut mics = Vec::new();
    for device in devices {
        let Ok(name) = device.name() else { continue };
        let Ok(configs) = device.supported_input_configs() else {
            continue;
        };
        let configs: Vec<_> = configs.collect();
        if configs.is_empty() {
            continue;
        }
        let mut channels: Vec<u16> = configs.iter().map(|c| c.channels()).collect();
        channels.sort_unstable();
        channels.dedup();
        mics.push(MicInfo {
            id: name.clone(),
            is_default: default_name.as_deref() == Some(name.as_str()),
            name,
            min_sample_rate: configs
                .iter()
                .map(|c| c.min_sample_rate().0)
                .min()
                .unwrap_or(0),
            max_sample_rate: configs
                .iter()
                .map(|c| c.max_sample_rate().0)
                .max()
                .unwrap_or(0),
            channels,
        });
    }
    Ok(mics)
}

/// What to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicConfig {
    /// A [`MicInfo::id`], or `None` for the system default.
    pub device: Option<String>,
    /// 1 (mono) or 2 (stereo) output channels.
    pub channels: u32,
}

impl Default for MicConfig {
    fn default() -> Self {
        Self {
            device: None,
            channels: 1,
        }
    }
}

struct Shared {
    muted: AtomicBool,
    rms_bits: AtomicU32,
    peak_bits: AtomicU32,
    /// Chunks the audio callback could not queue (the capture thread fell behind).
    overruns: AtomicU64,
    /// Frames the consumer did not take in time.
    dropped: AtomicU64,
    frames: AtomicU64,
}

/// What a stopped microphone did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MicReport {
    pub frames: u64,
    pub dropped: u64,
    pub overruns: u64,
    /// From `stop()` called to the device closed and the thread joined.
    pub stop_time: Duration,
}

/// Mutes a [`Microphone`] from another thread; harmless once the microphone is closed.
#[derive(Clone)]
pub struct MuteSwitch(Arc<Shared>);

impl MuteSwitch {
    pub fn set(&self, muted: bool) {
        self.0.muted.store(muted, Ordering::SeqCst);
    }

    pub fn is_muted(&self) -> bool {
        self.0.muted.load(Ordering::SeqCst)
    }
}

/// An open microphone. `#[must_use]`: dropping it closes the device.
#[must_use = "dropping the guard closes the microphone"]
pub struct Microphone {
    info: AudioInfo,
    device_format: (u32, u16),
    shared: Arc<Shared>,
    frames: Receiver<Result<CapturedAudioFrame, CaptureError>>,
    device: DeviceThread,
}

/// How long a running device may deliver nothing before it counts as lost.
const SILENCE_LIMIT: Duration = Duration::from_secs(2);
/// How long a device just opened may take to deliver its first samples. Longer than
/// [`SILENCE_LIMIT`]: a sound server may hand a new recording stream its first data only at
/// the end of the block it is rendering, and PulseAudio renders blocks of up to 2 s for a sink
/// nothing plays into (a null sink, the monitor of an idle output): measured 2.03 s on this
/// machine's test server under load, where a 2 s limit from the open called the device lost.
const FIRST_DATA_LIMIT: Duration = Duration::from_secs(5);

impl Microphone {
    /// Opens the device and starts capturing; returns once the stream runs (or failed to).
    pub fn open(config: MicConfig) -> Result<Self, CaptureError> {
        if !(1..=2).contains(&config.channels) {
            return Err(CaptureError::InvalidSettings(format!(
                "{} channels: a microphone is captured as mono (1) or stereo (2)",
                config.channels
            )));
        }
        let shared = Arc::new(Shared {
            muted: AtomicBool::new(false),
            rms_bits: AtomicU32::new((-180.0f32).to_bits()),
            peak_bits: AtomicU32::new((-180.0f32).to_bits()),
            overruns: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            frames: AtomicU64::new(0),
        });
        // 50 frames = 500 ms of slack for a slow consumer.
        let (frames_tx, frames) = mpsc::sync_channel(50);
        let thread_shared = shared.clone();
        let (device, (info, device_format)) =
            DeviceThread::spawn("onair-mic", "microphone", move |opening| {
                capture_thread(config, opening, thread_shared, frames_tx)
            })?;
        Ok(Self {
            info,
            device_format,
            shared,
            frames,
            device,
        })
    }

    /// The rate and channel count the device delivers (before mixing and resampling).
    pub fn device_format(&self) -> (u32, u16) {
        self.device_format
    }

    /// Sends silence instead of the signal; the device stays open (the meter keeps reading).
    pub fn set_muted(&self, muted: bool) {
        self.shared.muted.store(muted, Ordering::SeqCst);
    }

    pub fn is_muted(&self) -> bool {
        self.shared.muted.load(Ordering::SeqCst)
    }

    /// A handle that mutes and unmutes from elsewhere (a UI, a tray) while the capture
    /// loop owns the guard.
    pub fn mute_switch(&self) -> MuteSwitch {
        MuteSwitch(self.shared.clone())
    }

    /// The meter: level of the latest 10 ms, before mute.
    pub fn level(&self) -> Level {
        Level {
            rms_dbfs: f32::from_bits(self.shared.rms_bits.load(Ordering::Relaxed)),
            peak_dbfs: f32::from_bits(self.shared.peak_bits.load(Ordering::Relaxed)),
        }
    }

    /// The next frame, waiting at most `limit`.
    pub fn next_frame_timeout(
        &mut self,
        limit: Duration,
    ) -> Result<Option<CapturedAudioFrame>, CaptureError> {
        match self.frames.recv_timeout(limit) {
            Ok(frame) => frame.map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                Err(CaptureError::DeviceLost("the microphone stopped".into()))
            }
        }
    }

    /// Stops capturing: the stream is dropped and the device closed on the capture thread,
    /// which has ended when this returns.
    pub fn stop(mut self) -> MicReport {
        self.shutdown()
    }

    fn shutdown(&mut self) -> MicReport {
        let started = Instant::now();
        self.device.stop();
        MicReport {
            frames: self.shared.frames.load(Ordering::SeqCst),
            dropped: self.shared.dropped.load(Ordering::SeqCst),
            overruns: self.shared.overruns.load(Ordering::SeqCst),
            stop_time: started.elapsed(),
        }
    }
}

impl Drop for Microphone {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl AudioSource for Microphone {
    fn info(&self) -> AudioInfo {
        self.info.clone()
    }

    /// Blocks until the device delivers the next 10 ms.
    fn next_frame(&mut self) -> Result<CapturedAudioFrame, CaptureError> {
        loop {
            if let Some(frame) = self.next_frame_timeout(Duration::from_secs(1))? {
                return Ok(frame);
            }
        }
    }
}

fn find_device(host: &cpal::Host, id: Option<&str>) -> Result<cpal::Device, CaptureError> {
    match id {
        None => host
            .default_input_device()
            .ok_or(CaptureError::NoDevice("microphone")),
        Some(id) => host
            .input_devices()
            .map_err(|e| CaptureError::DeviceLost(e.to_string()))?
            .find(|d| d.name().is_ok_and(|n| n == id))
            .ok_or_else(|| {
                CaptureError::InvalidSettings(format!(
                    "no microphone {id:?}; `onair devices` lists them"
                ))
            }),
    }
}

fn build_stream(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    chunks: SyncSender<Chunk>,
    shared: Arc<Shared>,
    failed: SyncSender<String>,
    period: Option<u32>,
) -> Result<cpal::Stream, cpal::BuildStreamError> {
    fn make<T: cpal::SizedSample>(
        device: &cpal::Device,
        config: &cpal::StreamConfig,
        chunks: SyncSender<Chunk>,
        shared: Arc<Shared>,
        failed: SyncSender<String>,
    ) -> Result<cpal::Stream, cpal::BuildStreamError>
    where
        f32: cpal::FromSample<T>,
    {
        device.build_input_stream(
            config,
            move |data: &[T], _| {
                let samples = data
                    .iter()
                    .map(|s| <f32 as cpal::FromSample<T>>::from_sample_(*s))
                    .collect();
                let chunk = Chunk {
                    samples,
                    arrived_us: unix_micros(),
                };
                if let Err(TrySendError::Full(_)) = chunks.try_send(chunk) {
                    shared.overruns.fetch_add(1, Ordering::Relaxed);
                }
            },
            move |err| {
                let _ = failed.try_send(err.to_string());
            },
            None,
        )
    }
    let mut stream_config = config.config();
    if let Some(frames) = period {
        stream_config.buffer_size = cpal::BufferSize::Fixed(frames);
    }
    use cpal::SampleFormat as F;
    match config.sample_format() {
        F::F32 => make::<f32>(device, &stream_config, chunks, shared, failed),
        F::I16 => make::<i16>(device, &stream_config, chunks, shared, failed),
        F::U16 => make::<u16>(device, &stream_config, chunks, shared, failed),
        F::I32 => make::<i32>(device, &stream_config, chunks, shared, failed),
        F::I8 => make::<i8>(device, &stream_config, chunks, shared, failed),
        _ => Err(cpal::BuildStreamError::StreamConfigNotSupported),
    }
}

fn capture_thread(
    config: MicConfig,
    opening: Opening<(AudioInfo, (u32, u16))>,
    shared: Arc<Shared>,
    frames: SyncSender<Result<CapturedAudioFrame, CaptureError>>,
) {
    let Opening { stop, ready } = opening;
    let host = cpal::default_host();
    let opened = find_device(&host, config.device.as_deref()).and_then(|device| {
        let supported = device.default_input_config().map_err(|e| {
            CaptureError::DeviceLost(format!("the microphone has no usable format: {e}"))
        })?;
        let name = device.name().unwrap_or_else(|_| "microphone".into());
        Ok((device, supported, name))
    });
    let (device, supported, name) = match opened {
        Ok(v) => v,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let in_rate = supported.sample_rate().0;
    let in_channels = supported.channels() as usize;
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Chunk>(64);
    let (fail_tx, fail_rx) = mpsc::sync_channel::<String>(4);
    // Ask for a short buffer: cpal's default can hold several periods of 25 ms or more, each
    // of them latency. Devices refuse sizes they cannot do; then the next, then their default.
    let ten_ms = in_rate / 100;
    let mut built = Err(cpal::BuildStreamError::StreamConfigNotSupported);
    for period in [Some(ten_ms * 2), Some(ten_ms * 4), None] {
        built = build_stream(
            &device,
            &supported,
            chunk_tx.clone(),
            shared.clone(),
            fail_tx.clone(),
            period,
        );
        if built.is_ok() {
            break;
        }
    }
    drop((chunk_tx, fail_tx));
    let stream = match built
        .map_err(|e| e.to_string())
        .and_then(|s| s.play().map(|_| s).map_err(|e| e.to_string()))
    {
        Ok(stream) => stream,
        Err(err) => {
            let _ = ready.send(Err(CaptureError::DeviceLost(format!(
                "cannot open {name:?}: {err} (is another app holding it?)"
            ))));
            return;
        }
    };
    let out_channels = config.channels as usize;
    let _ = ready.send(Ok((
        AudioInfo {
            name: name.clone(),
            sample_rate: OUTPUT_RATE,
            channels: config.channels,
        },
        (in_rate, in_channels as u16),
    )));

    let mut pipeline = Pipeline::new(in_rate, in_channels, out_channels);
    let mut last_chunk = Instant::now();
    let mut delivered = false;
    while !stop.load(Ordering::SeqCst) {
        let quiet_for = last_chunk.elapsed();
        let lost = match fail_rx.try_recv() {
            Ok(err) => Some(format!("{name:?}: {err}")),
            Err(_) if !delivered && quiet_for > FIRST_DATA_LIMIT => Some(format!(
                "{name:?} delivered nothing in the {FIRST_DATA_LIMIT:?} after it was opened: unplugged, or taken by another app?"
            )),
            // Some backends just go quiet when the device disappears (or the sound server
            // dies); a live microphone delivers every few milliseconds.
            Err(_) if delivered && quiet_for > SILENCE_LIMIT => Some(format!(
                "{name:?} delivered nothing for {SILENCE_LIMIT:?}: unplugged, or taken by another app?"
            )),
            Err(_) => None,
        };
        if let Some(message) = lost {
            let _ = frames.try_send(Err(CaptureError::DeviceLost(message)));
            break;
        }
        let chunk = match chunk_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => chunk,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        last_chunk = Instant::now();
        delivered = true;
        for (samples, capture_time_us) in pipeline.push(&chunk) {
            let level = measure(&samples);
            shared
                .rms_bits
                .store(level.rms_dbfs.to_bits(), Ordering::Relaxed);
            shared
                .peak_bits
                .store(level.peak_dbfs.to_bits(), Ordering::Relaxed);
            let muted = shared.muted.load(Ordering::Relaxed);
            let pcm = samples
                .iter()
                .map(|s| {
                    if muted {
                        0
                    } else {
                        (s.clamp(-1.0, 1.0) * i16::MAX as f32).round() as i16
                    }
                })
                .collect();
            let frame = CapturedAudioFrame {
                frame: AudioFrame {
                    samples: pcm,
                    sample_rate: OUTPUT_RATE,
                    channels: out_channels as u32,
                },
                capture_time_us,
            };
            shared.frames.fetch_add(1, Ordering::Relaxed);
            match frames.try_send(Ok(frame)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => break,
            }
        }
    }
    // The device closes here, on the thread that opened it.
    drop(stream);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_two_channels_is_refused_with_a_reason() {
        let err = Microphone::open(MicConfig {
            device: None,
            channels: 6,
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("mono (1) or stereo (2)"), "{err}");
    }
}

//! Frame pumps: tasks that feed a synthetic source (test pattern, tone) to the engine in real
//! time until cancelled. One definition for the session, the CLI and the test harness.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use onair_capture::{AudioInfo, AudioSource, TestPattern, Tone, VideoSource};
use onair_livekit::{AudioSourceOptions, EngineError, NativeAudioSource, NativeVideoSource};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Feeds `pattern` to `source` at its frame rate (a late tick is skipped, never bunched) and
/// counts frames accepted into `frames`.
pub fn spawn_pattern(
    tasks: &TaskTracker,
    cancel: CancellationToken,
    mut pattern: TestPattern,
    source: NativeVideoSource,
    frames: Arc<AtomicU32>,
    taps: crate::media::Taps,
) {
    let period = Duration::from_secs_f64(1.0 / pattern.info().fps);
    tasks.spawn(
        async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let Ok(f) = pattern.next_frame() else { break };
                taps.video(&f);
                match source.capture_frame(&f.frame, f.capture_time_us, f.frame_id) {
                    Ok(()) => {
                        frames.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => {
                        tracing::warn!(%err, "video frame not accepted");
                        break;
                    }
                }
            }
        }
        .instrument(tracing::debug_span!("onair-video-pump")),
    );
}

/// Feeds `tone` to `source`, 10 ms at a time.
pub fn spawn_tone(
    tasks: &TaskTracker,
    cancel: CancellationToken,
    mut tone: Tone,
    source: NativeAudioSource,
    taps: crate::media::Taps,
) {
    tasks.spawn(
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let Ok(f) = tone.next_frame() else { break };
                taps.audio(&f);
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    result = source.capture_frame(&f.frame) => if let Err(err) = result {
                        tracing::warn!(%err, "audio frame not accepted");
                        break;
                    },
                }
            }
        }
        .instrument(tracing::debug_span!("onair-audio-pump")),
    );
}

/// The engine's audio source for what a capture source delivers (rate, channels), without
/// the SDK's queue: every source delivers exactly 10 ms frames at its own pace, which the
/// SDK then hands straight to the encoder.
///
/// A queue (`queue_size_ms` > 0) gives each source a libwebrtc task-queue thread that pulls
/// 10 ms from the queue every 10 ms, and the SDK's source frees its sinks and its buffer
/// before it stops that thread (`webrtc-sys` `AudioTrackSource::InternalSource`: an empty
/// destructor, members destroyed before the queue is joined), so a tick racing the end of a
/// session works on freed memory. Without a queue there is no such thread.
pub fn audio_source(info: &AudioInfo) -> Result<NativeAudioSource, EngineError> {
    NativeAudioSource::new(
        AudioSourceOptions::default(),
        info.sample_rate,
        info.channels,
        0,
    )
}

/// A 440 Hz tone's audio source, already fed by a pump (publish a track over it).
pub fn tone_source(
    tasks: &TaskTracker,
    cancel: CancellationToken,
) -> Result<NativeAudioSource, EngineError> {
    let tone = Tone::a440();
    let source = audio_source(&tone.info())?;
    spawn_tone(tasks, cancel, tone, source.clone(), Default::default());
    Ok(source)
}

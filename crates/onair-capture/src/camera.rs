//! Cameras through nokhwa: listing, and capture on a dedicated thread owned by a guard.
//!
//! The guard's thread opens the device in the requested (or closest) mode, converts each
//! frame to I420 (`convert`), stamps it with its capture time and puts it in a small queue
//! that drops the oldest frame when the consumer is slow (counted), so the camera thread
//! never waits on the encoder. Stopping (or dropping) the guard stops the stream and closes
//! the device before it returns, within a bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use onair_core::clock::unix_micros;

use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use crate::convert::{Converter, PixelFormat};
use crate::device::{DeviceThread, Opening};
use crate::{CaptureError, CapturedVideoFrame, VideoInfo, VideoSource};

/// One mode a camera offers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CameraMode {
    /// `MJPEG`, `YUYV`, `NV12`, `GRAY`, `RAWRGB`…
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Whether OnAir can convert it.
    pub usable: bool,
}

/// A camera as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CameraInfo {
    /// What to pass back to open it (the V4L2 device index).
    pub id: String,
    pub name: String,
    pub modes: Vec<CameraMode>,
}

fn pixel_format(format: FrameFormat) -> Option<PixelFormat> {
    match format {
        FrameFormat::MJPEG => Some(PixelFormat::Mjpeg),
        FrameFormat::YUYV => Some(PixelFormat::Yuyv),
        FrameFormat::NV12 => Some(PixelFormat::Nv12),
        _ => None,
    }
}

fn index_id(index: &CameraIndex) -> String {
    match index {
        CameraIndex::Index(n) => n.to_string(),
        CameraIndex::String(s) => s.clone(),
    }
}

/// Every camera, with its modes. An empty list is the normal answer on a machine without one.
pub fn list_cameras() -> Result<Vec<CameraInfo>, CaptureError> {
    let found = nokhwa::query(ApiBackend::Auto)
        .map_err(|e| CaptureError::DeviceLost(format!("cannot list cameras: {e}")))?;
    let mut cameras = Vec::new();
    for info in found {
        let mut modes = Vec::new();
        // Listing modes opens the device (no streaming); a busy camera still gets listed.
        if let Ok(mut camera) = nokhwa::Camera::new(
            info.index().clone(),
            RequestedFormat::new::<RgbFormat>(RequestedFormatType::None),
        ) {
            if let Ok(formats) = camera.compatible_camera_formats() {
                modes = formats
                    .into_iter()
                    .map(|f| CameraMode {
                        format: f.format().to_string(),
                        width: f.width(),
                        height: f.height(),
                        fps: f.frame_rate(),
                        usable: pixel_format(f.format()).is_some(),
                    })
                    .collect();
            }
        }
        cameras.push(CameraInfo {
            id: index_id(info.index()),
            name: info.human_name(),
            modes,
        });
    }
    Ok(cameras)
}

/// What to open.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// A [`CameraInfo::id`], or `None` for the first camera.
    pub device: Option<String>,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// A queue of at most `capacity` frames that drops the oldest when full.
pub struct FrameQueue {
    frames: Mutex<(VecDeque<CapturedVideoFrame>, Option<CaptureError>)>,
    ready: Condvar,
    capacity: usize,
    dropped: AtomicU64,
}

impl FrameQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            frames: Mutex::new((VecDeque::new(), None)),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
        }
    }

    /// Adds a frame, dropping the oldest if the queue is full; never blocks for long.
    pub fn push(&self, frame: CapturedVideoFrame) {
        let mut guard = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        if guard.0.len() == self.capacity {
            guard.0.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        guard.0.push_back(frame);
        self.ready.notify_one();
    }

    /// Ends the queue with an error the consumer sees after the frames already queued.
    pub fn fail(&self, err: CaptureError) {
        let mut guard = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        guard.1 = Some(err);
        self.ready.notify_all();
    }

    /// The oldest frame, waiting at most `limit`.
    pub fn pop(&self, limit: Duration) -> Result<Option<CapturedVideoFrame>, CaptureError> {
        let guard = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .ready
            .wait_timeout_while(guard, limit, |(q, err)| q.is_empty() && err.is_none())
            .unwrap_or_else(|p| p.into_inner());
        if let Some(frame) = guard.0.pop_front() {
            return Ok(Some(frame));
        }
        match &guard.1 {
            Some(err) => Err(err.clone()),
            None => Ok(None),
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// What a stopped camera did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraReport {
    pub frames: u64,
    pub dropped: u64,
    /// Frames that did not convert (a torn MJPEG frame, say) and were skipped.
    pub bad_frames: u64,
    /// Whether the device closed within the bound.
    pub closed: bool,
    pub stop_time: Duration,
}

#[derive(Default)]
struct Counters {
    frames: AtomicU64,
    bad_frames: AtomicU64,
}

/// An open camera. Dropping the guard closes the device.
#[must_use = "dropping the guard closes the camera"]
pub struct Camera {
    info: VideoInfo,
    counters: Arc<Counters>,
    queue: Arc<FrameQueue>,
    device: DeviceThread,
}

impl Camera {
    /// Opens the camera in the requested or the closest mode and starts capturing.
    pub fn open(config: CameraConfig) -> Result<Self, CaptureError> {
        let counters = Arc::new(Counters::default());
        let queue = Arc::new(FrameQueue::new(2));
        let (thread_counters, thread_queue) = (counters.clone(), queue.clone());
        let (device, info) = DeviceThread::spawn("onair-camera", "camera", move |opening| {
            camera_thread(config, opening, &thread_counters, &thread_queue)
        })?;
        Ok(Self {
            info,
            counters,
            queue,
            device,
        })
    }

    /// The next frame, waiting at most `limit`.
    pub fn next_frame_timeout(
        &mut self,
        limit: Duration,
    ) -> Result<Option<CapturedVideoFrame>, CaptureError> {
        self.queue.pop(limit)
    }

    /// Stops the stream and closes the device (waiting at most 2 s for a stuck driver).
    pub fn stop(mut self) -> CameraReport {
        self.shutdown()
    }

    fn shutdown(&mut self) -> CameraReport {
        let started = Instant::now();
        let closed = self.device.stop();
        CameraReport {
            frames: self.counters.frames.load(Ordering::SeqCst),
            dropped: self.queue.dropped(),
            bad_frames: self.counters.bad_frames.load(Ordering::SeqCst),
            closed,
            stop_time: started.elapsed(),
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl VideoSource for Camera {
    fn info(&self) -> VideoInfo {
        self.info.clone()
    }

    fn next_frame(&mut self) -> Result<CapturedVideoFrame, CaptureError> {
        loop {
            if let Some(frame) = self.queue.pop(Duration::from_secs(1))? {
                return Ok(frame);
            }
        }
    }
}

fn camera_thread(
    config: CameraConfig,
    opening: Opening<VideoInfo>,
    counters: &Counters,
    queue: &FrameQueue,
) {
    let opened = open_device(&config);
    let (mut camera, mut converter, info) = match opened {
        Ok(v) => v,
        Err(err) => {
            let _ = opening.ready.send(Err(err));
            return;
        }
    };
    let _ = opening.ready.send(Ok(info));
    let mut frame_id = 0u32;
    while !opening.stop.load(Ordering::SeqCst) {
        match camera.frame_raw() {
            Ok(bytes) => {
                let capture_time_us = unix_micros();
                match converter.convert(&bytes) {
                    Ok(frame) => {
                        counters.frames.fetch_add(1, Ordering::Relaxed);
                        queue.push(CapturedVideoFrame {
                            frame,
                            capture_time_us,
                            frame_id,
                        });
                        frame_id = frame_id.wrapping_add(1);
                    }
                    Err(err) => {
                        counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%err, "skipped a camera frame");
                    }
                }
            }
            Err(err) => {
                queue.fail(CaptureError::DeviceLost(format!(
                    "the camera stopped delivering ({err}); was it unplugged or taken by another app?"
                )));
                break;
            }
        }
    }
    let _ = camera.stop_stream();
}

type Opened = (nokhwa::Camera, Converter, VideoInfo);

fn open_device(config: &CameraConfig) -> Result<Opened, CaptureError> {
    let cameras = nokhwa::query(ApiBackend::Auto).unwrap_or_default();
    let Some(first) = cameras.first() else {
        return Err(CaptureError::NoDevice("camera"));
    };
    let chosen = match &config.device {
        None => first,
        Some(id) => cameras
            .iter()
            .find(|c| &index_id(c.index()) == id)
            .ok_or_else(|| {
                CaptureError::InvalidSettings(format!(
                    "no camera {id:?}; `onair devices` lists them"
                ))
            })?,
    };
    let requested =
        RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(CameraFormat::new(
            Resolution::new(config.width, config.height),
            FrameFormat::MJPEG,
            config.fps,
        )));
    let mut camera = nokhwa::Camera::new(chosen.index().clone(), requested).map_err(|e| {
        CaptureError::DeviceLost(format!(
            "cannot open {:?}: {e}; is another app using it?",
            chosen.human_name()
        ))
    })?;
    let mode = camera.camera_format();
    let format = pixel_format(mode.format()).ok_or_else(|| {
        CaptureError::InvalidSettings(format!(
            "{:?} offers {} at {}x{}, which OnAir cannot use; pick another size",
            chosen.human_name(),
            mode.format(),
            mode.width(),
            mode.height()
        ))
    })?;
    let converter = Converter::new(format, mode.width(), mode.height())
        .map_err(|e| CaptureError::InvalidSettings(e.to_string()))?;
    camera.open_stream().map_err(|e| {
        CaptureError::DeviceLost(format!("{:?} would not start: {e}", chosen.human_name()))
    })?;
    let info = VideoInfo {
        name: chosen.human_name(),
        width: mode.width(),
        height: mode.height(),
        fps: mode.frame_rate() as f64,
    };
    Ok((camera, converter, info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use onair_core::I420Frame;

    fn frame(id: u32) -> CapturedVideoFrame {
        CapturedVideoFrame {
            frame: I420Frame::black(2, 2).unwrap(),
            capture_time_us: id as u64,
            frame_id: id,
        }
    }

    #[test]
    fn a_slow_consumer_gets_the_newest_frames_and_the_drops_are_counted() {
        let q = FrameQueue::new(2);
        for id in 0..5 {
            q.push(frame(id));
        }
        assert_eq!(q.dropped(), 3);
        let got: Vec<u32> = (0..2)
            .map(|_| q.pop(Duration::ZERO).unwrap().unwrap().frame_id)
            .collect();
        assert_eq!(got, [3, 4]);
        assert!(q.pop(Duration::from_millis(1)).unwrap().is_none());
    }

    #[test]
    fn a_lost_device_reaches_the_consumer_after_the_queued_frames() {
        let q = FrameQueue::new(2);
        q.push(frame(7));
        q.fail(CaptureError::DeviceLost("unplugged".into()));
        assert_eq!(q.pop(Duration::ZERO).unwrap().unwrap().frame_id, 7);
        assert!(matches!(
            q.pop(Duration::ZERO),
            Err(CaptureError::DeviceLost(_))
        ));
    }

    #[test]
    fn with_no_camera_present_opening_one_is_the_typed_no_device_error() {
        // Our machines have no camera; on one that has, this checks nothing.
        if !nokhwa::query(ApiBackend::Auto)
            .unwrap_or_default()
            .is_empty()
        {
            return;
        }
        let err = Camera::open(CameraConfig {
            device: None,
            width: 1280,
            height: 720,
            fps: 30,
        })
        .err()
        .unwrap();
        assert_eq!(err, CaptureError::NoDevice("camera"));
        assert!(err.to_string().contains("test pattern"), "{err}");
        assert!(list_cameras().unwrap().is_empty());
    }
}

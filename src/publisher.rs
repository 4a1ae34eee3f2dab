//! An in-process publisher on our engine: test pattern + tone, paced in real time.

use std::time::{Duration, Instant};

use anyhow::Result;
use onair_capture::TestPattern;
use onair_livekit::{
    CloseReport, LocalAudioTrack, LocalTrackPublication, LocalVideoTrack, NativeVideoSource, Room,
    RoomEvent, RoomOptions, TrackPublishOptions, VideoCodec,
};
use onair_session::link::{self, PublishOptions};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone)]
pub struct PublisherConfig {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub codec: VideoCodec,
    pub simulcast: bool,
    pub audio: bool,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            fps: 30.0,
            codec: VideoCodec::Vp8,
            simulcast: false,
            audio: true,
        }
    }
}

pub struct Publisher {
    pub room: Room,
    pub events: UnboundedReceiver<RoomEvent>,
    pub video: LocalVideoTrack,
    pub video_publication: LocalTrackPublication,
    pub audio: Option<(LocalAudioTrack, LocalTrackPublication)>,
    /// Time from connect start until every track was published.
    pub go_live: Duration,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Publisher {
    pub async fn start(url: &str, token: &str, config: PublisherConfig) -> Result<Self> {
        let started = Instant::now();
        let (room, events) = Room::connect(url, token, RoomOptions::default()).await?;
        let local = room.local_participant();
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();

        let source = NativeVideoSource::new(config.width, config.height)?;
        let pattern = TestPattern::new(config.width, config.height, config.fps)?;
        onair_session::pump::spawn_pattern(
            &tasks,
            cancel.clone(),
            pattern,
            source.clone(),
            Default::default(),
            Default::default(),
        );
        let options = PublishOptions {
            video: TrackPublishOptions {
                video_codec: config.codec,
                simulcast: config.simulcast,
                max_framerate: Some(config.fps),
                ..Default::default()
            },
        };
        let (video, video_publication) = link::publish_video(&local, &source, &options).await?;

        let audio = if config.audio {
            let source = onair_session::pump::tone_source(&tasks, cancel.clone())?;
            Some(link::publish_audio(&local, &source).await?)
        } else {
            None
        };
        Ok(Self {
            room,
            events,
            video,
            video_publication,
            audio,
            go_live: started.elapsed(),
            cancel,
            tasks,
        })
    }

    /// Waits for a room event matching `pred`.
    pub async fn wait_event(
        &mut self,
        limit: Duration,
        pred: impl Fn(&RoomEvent) -> bool,
    ) -> Result<RoomEvent> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) if pred(&e) => return Ok(e),
                Ok(Some(_)) => continue,
                Ok(None) => anyhow::bail!("room event stream ended"),
                Err(_) => anyhow::bail!("no matching room event within {limit:?}"),
            }
        }
    }

    /// Stops the frame pumps, then closes the room. Tracks and sources are released when
    /// `self` is dropped.
    pub async fn stop(&self) -> Result<CloseReport> {
        self.cancel.cancel();
        self.tasks.close();
        tokio::time::timeout(Duration::from_secs(2), self.tasks.wait()).await?;
        Ok(self.room.close().await?)
    }
}

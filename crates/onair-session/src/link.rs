//! The one place that joins a room and publishes the intended tracks over running sources:
//! a session's first join, each of its rejoins, its track check, and `onair live` without a
//! backend all go through here, so a track is always published the same way.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use onair_livekit::{
    LocalAudioTrack, LocalParticipant, LocalTrack, LocalTrackPublication, LocalVideoTrack,
    NativeAudioSource, NativeVideoSource, Room, RoomEvent, RoomOptions, TrackPublishOptions,
    TrackSource,
};
use tokio::sync::mpsc;

use crate::error::SessionError;

/// A joined room with our tracks in it.
pub struct Link {
    pub room: Room,
    pub video: LocalVideoTrack,
    pub audio: Option<LocalAudioTrack>,
}

/// How each kind of track is published.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// For the camera (or test pattern) track; its `source` is set to the camera.
    pub video: TrackPublishOptions,
}

impl PublishOptions {
    fn video(&self) -> TrackPublishOptions {
        TrackPublishOptions {
            source: TrackSource::Camera,
            ..self.video.clone()
        }
    }

    fn audio() -> TrackPublishOptions {
        TrackPublishOptions {
            source: TrackSource::Microphone,
            ..Default::default()
        }
    }
}

/// What [`publish`] published: a fresh track and its publication per kind asked for.
#[derive(Default)]
pub struct Published {
    pub video: Option<(LocalVideoTrack, LocalTrackPublication)>,
    pub audio: Option<(LocalAudioTrack, LocalTrackPublication)>,
}

/// How long each part of [`join`] took.
#[derive(Debug, Clone, Copy)]
pub struct JoinTimes {
    pub connect: Duration,
    pub publish: Duration,
}

/// Connects to the room `token` admits us to and publishes the camera track over `video`
/// and, with a source, the microphone track over `audio`. On any failure the room is
/// dropped, which leaves the server.
pub async fn join(
    url: &str,
    token: &str,
    video: &NativeVideoSource,
    audio: Option<&NativeAudioSource>,
    options: &PublishOptions,
) -> Result<
    (
        Link,
        Published,
        mpsc::UnboundedReceiver<RoomEvent>,
        JoinTimes,
    ),
    SessionError,
> {
    let started = Instant::now();
    let (room, events) = Room::connect(url, token, RoomOptions::default()).await?;
    let connect = started.elapsed();
    let local = room.local_participant();
    let (video_track, video_publication) = publish_video(&local, video, options).await?;
    let audio = match audio {
        Some(source) => Some(publish_audio(&local, source).await?),
        None => None,
    };
    let times = JoinTimes {
        connect,
        publish: started.elapsed() - connect,
    };
    let link = Link {
        room,
        video: video_track.clone(),
        audio: audio.as_ref().map(|(track, _)| track.clone()),
    };
    let published = Published {
        video: Some((video_track, video_publication)),
        audio,
    };
    Ok((link, published, events, times))
}

/// Publishes a new track over each source given, video first.
pub async fn publish(
    local: &LocalParticipant,
    video: Option<&NativeVideoSource>,
    audio: Option<&NativeAudioSource>,
    options: &PublishOptions,
) -> Result<Published, SessionError> {
    let video = match video {
        Some(source) => Some(publish_video(local, source, options).await?),
        None => None,
    };
    let audio = match audio {
        Some(source) => Some(publish_audio(local, source).await?),
        None => None,
    };
    Ok(Published { video, audio })
}

/// Publishes a new camera track over `source`.
pub async fn publish_video(
    local: &LocalParticipant,
    source: &NativeVideoSource,
    options: &PublishOptions,
) -> Result<(LocalVideoTrack, LocalTrackPublication), SessionError> {
    let track = LocalVideoTrack::create_video_track("camera", source.clone())?;
    let publication = publish_one(local, track.clone().into(), options.video()).await?;
    Ok((track, publication))
}

/// Publishes a new microphone track over `source`.
pub async fn publish_audio(
    local: &LocalParticipant,
    source: &NativeAudioSource,
) -> Result<(LocalAudioTrack, LocalTrackPublication), SessionError> {
    let track = LocalAudioTrack::create_audio_track("microphone", source.clone())?;
    let publication = publish_one(local, track.clone().into(), PublishOptions::audio()).await?;
    Ok((track, publication))
}

async fn publish_one(
    local: &LocalParticipant,
    track: LocalTrack,
    options: TrackPublishOptions,
) -> Result<LocalTrackPublication, SessionError> {
    Ok(local.publish_track(track, options).await?)
}

/// After a reconnect, how long each intended track gets to show packets leaving.
const TRACK_CHECK: Duration = Duration::from_secs(5);

/// Which of the intended tracks show no packets leaving within [`TRACK_CHECK`] (video,
/// audio): those are to be published again. Both false when `cancel` fires.
pub async fn stale(
    video: &LocalVideoTrack,
    audio: Option<&LocalAudioTrack>,
    cancel: &CancellationToken,
) -> (bool, bool) {
    let audio_sending = async {
        match audio {
            Some(audio) => sending(cancel, || audio.get_stats()).await,
            None => true,
        }
    };
    let (video_sending, audio_sending) =
        tokio::join!(sending(cancel, || video.get_stats()), audio_sending);
    if cancel.is_cancelled() {
        return (false, false);
    }
    (!video_sending, !audio_sending)
}

/// Whether the track's packets are leaving: bytes sent grow within [`TRACK_CHECK`].
async fn sending<F, Fut>(cancel: &CancellationToken, stats: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<onair_livekit::TrackStats, onair_livekit::RoomError>>,
{
    let first = stats().await.map(|s| s.bytes_sent()).unwrap_or(0);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let check = async {
        loop {
            tick.tick().await;
            if stats().await.is_ok_and(|s| s.bytes_sent() > first) {
                return true;
            }
        }
    };
    tokio::select! {
        _ = cancel.cancelled() => false,
        sent = tokio::time::timeout(TRACK_CHECK, check) => sent.unwrap_or(false),
    }
}

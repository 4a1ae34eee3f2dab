//! Local tracks (ours, to publish) and remote tracks (a publisher's, to watch).

use std::sync::Arc;
use std::time::Duration;

use crate::engine;
use crate::error::{EngineError, RoomError};
use crate::handle::FfiHandle;
use crate::options::{TrackKind, TrackSource};
use crate::proto::{self, ffi_event, ffi_request, ffi_response};
use crate::source::{NativeAudioSource, NativeVideoSource};
use crate::stats::TrackStats;

const STATS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct LocalTrackInner {
    handle: FfiHandle,
    name: String,
}

/// A video track fed by a [`NativeVideoSource`].
#[derive(Debug, Clone)]
pub struct LocalVideoTrack {
    inner: Arc<LocalTrackInner>,
    source: NativeVideoSource,
}

/// An audio track fed by a [`NativeAudioSource`].
#[derive(Debug, Clone)]
pub struct LocalAudioTrack {
    inner: Arc<LocalTrackInner>,
    source: NativeAudioSource,
}

fn create_track(
    name: &str,
    video: bool,
    source_handle: u64,
) -> Result<Arc<LocalTrackInner>, EngineError> {
    let engine = engine::get()?;
    let request = if video {
        ffi_request::Message::CreateVideoTrack(proto::CreateVideoTrackRequest {
            name: name.to_owned(),
            source_handle,
        })
    } else {
        ffi_request::Message::CreateAudioTrack(proto::CreateAudioTrackRequest {
            name: name.to_owned(),
            source_handle,
        })
    };
    let track = match engine.request(request)? {
        ffi_response::Message::CreateVideoTrack(r) => r.track,
        ffi_response::Message::CreateAudioTrack(r) => r.track,
        other => {
            return Err(EngineError::Protocol(format!(
                "CreateTrack answered {other:?}"
            )))
        }
    };
    Ok(Arc::new(LocalTrackInner {
        handle: FfiHandle::new(track.handle.id),
        name: name.to_owned(),
    }))
}

fn set_muted(handle: u64, mute: bool) -> Result<bool, EngineError> {
    let engine = engine::get()?;
    match engine.request(ffi_request::Message::LocalTrackMute(
        proto::LocalTrackMuteRequest {
            track_handle: handle,
            mute,
        },
    ))? {
        ffi_response::Message::LocalTrackMute(r) => Ok(r.muted),
        other => Err(EngineError::Protocol(format!(
            "LocalTrackMute answered {other:?}"
        ))),
    }
}

pub(crate) async fn get_stats(track_handle: u64) -> Result<Vec<proto::RtcStats>, RoomError> {
    let engine = engine::get()?;
    let async_id = engine.next_async_id();
    let request = ffi_request::Message::GetStats(proto::GetStatsRequest {
        track_handle,
        request_async_id: Some(async_id),
    });
    let wait = engine.request_async(async_id, request, None, |r| match r {
        ffi_response::Message::GetStats(r) => Some(r.async_id),
        _ => None,
    });
    let event = tokio::time::timeout(STATS_TIMEOUT, wait)
        .await
        .map_err(|_| RoomError::Timeout {
            operation: "get_stats",
            timeout: STATS_TIMEOUT,
        })??;
    match event {
        ffi_event::Message::GetStats(cb) => match cb.error {
            Some(error) => Err(RoomError::Stats(error)),
            None => Ok(cb.stats),
        },
        other => Err(EngineError::Protocol(format!("unexpected callback {other:?}")).into()),
    }
}

impl LocalVideoTrack {
    pub fn create_video_track(name: &str, source: NativeVideoSource) -> Result<Self, EngineError> {
        Ok(Self {
            inner: create_track(name, true, source.handle_id())?,
            source,
        })
    }
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    pub fn source(&self) -> &NativeVideoSource {
        &self.source
    }
    /// Viewers see the track muted; the encoder sends no frames meanwhile.
    pub fn mute(&self) -> Result<(), EngineError> {
        set_muted(self.inner.handle.id(), true).map(|_| ())
    }
    pub fn unmute(&self) -> Result<(), EngineError> {
        set_muted(self.inner.handle.id(), false).map(|_| ())
    }
    /// Per-layer encoder and transport figures.
    pub async fn get_stats(&self) -> Result<TrackStats, RoomError> {
        Ok(TrackStats::from_rtc(
            &get_stats(self.inner.handle.id()).await?,
        ))
    }
    pub(crate) fn handle_id(&self) -> u64 {
        self.inner.handle.id()
    }
}

impl LocalAudioTrack {
    pub fn create_audio_track(name: &str, source: NativeAudioSource) -> Result<Self, EngineError> {
        Ok(Self {
            inner: create_track(name, false, source.handle_id())?,
            source,
        })
    }
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    pub fn source(&self) -> &NativeAudioSource {
        &self.source
    }
    pub fn mute(&self) -> Result<(), EngineError> {
        set_muted(self.inner.handle.id(), true).map(|_| ())
    }
    pub fn unmute(&self) -> Result<(), EngineError> {
        set_muted(self.inner.handle.id(), false).map(|_| ())
    }
    pub async fn get_stats(&self) -> Result<TrackStats, RoomError> {
        Ok(TrackStats::from_rtc(
            &get_stats(self.inner.handle.id()).await?,
        ))
    }
    pub(crate) fn handle_id(&self) -> u64 {
        self.inner.handle.id()
    }
}

/// A track of ours, to publish.
#[derive(Debug, Clone)]
pub enum LocalTrack {
    Video(LocalVideoTrack),
    Audio(LocalAudioTrack),
}

impl LocalTrack {
    pub(crate) fn handle_id(&self) -> u64 {
        match self {
            Self::Video(t) => t.handle_id(),
            Self::Audio(t) => t.handle_id(),
        }
    }
    pub fn kind(&self) -> TrackKind {
        match self {
            Self::Video(_) => TrackKind::Video,
            Self::Audio(_) => TrackKind::Audio,
        }
    }
}

impl From<LocalVideoTrack> for LocalTrack {
    fn from(t: LocalVideoTrack) -> Self {
        Self::Video(t)
    }
}

impl From<LocalAudioTrack> for LocalTrack {
    fn from(t: LocalAudioTrack) -> Self {
        Self::Audio(t)
    }
}

/// Facts about a publication, ours or a remote participant's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationInfo {
    pub sid: String,
    pub name: String,
    pub kind: TrackKind,
    pub source: TrackSource,
    pub mime_type: String,
    pub simulcasted: bool,
    pub width: u32,
    pub height: u32,
    pub muted: bool,
}

impl PublicationInfo {
    pub(crate) fn from_proto(info: &proto::TrackPublicationInfo) -> Self {
        Self {
            sid: info.sid.clone(),
            name: info.name.clone(),
            kind: TrackKind::from_proto(info.kind),
            source: TrackSource::from_proto(info.source),
            mime_type: info.mime_type.clone(),
            simulcasted: info.simulcasted,
            width: info.width,
            height: info.height,
            muted: info.muted,
        }
    }
}

/// One of our tracks, published.
#[derive(Debug, Clone)]
pub struct LocalTrackPublication {
    inner: Arc<LocalPublicationInner>,
}

#[derive(Debug)]
struct LocalPublicationInner {
    _handle: FfiHandle,
    info: PublicationInfo,
    track: LocalTrack,
}

impl LocalTrackPublication {
    pub(crate) fn new(owned: proto::OwnedTrackPublication, track: LocalTrack) -> Self {
        Self::with_handle(FfiHandle::new(owned.handle.id), &owned.info, track)
    }

    pub(crate) fn with_handle(
        handle: FfiHandle,
        info: &proto::TrackPublicationInfo,
        track: LocalTrack,
    ) -> Self {
        Self {
            inner: Arc::new(LocalPublicationInner {
                _handle: handle,
                info: PublicationInfo::from_proto(info),
                track,
            }),
        }
    }
    pub fn sid(&self) -> &str {
        &self.inner.info.sid
    }
    pub fn info(&self) -> &PublicationInfo {
        &self.inner.info
    }
    pub fn track(&self) -> &LocalTrack {
        &self.inner.track
    }
}

/// A remote participant's publication (subscribed or not).
#[derive(Debug, Clone)]
pub struct RemoteTrackPublication {
    inner: Arc<RemotePublicationInner>,
}

#[derive(Debug)]
struct RemotePublicationInner {
    handle: FfiHandle,
    info: PublicationInfo,
}

impl RemoteTrackPublication {
    pub(crate) fn new(owned: proto::OwnedTrackPublication) -> Self {
        Self {
            inner: Arc::new(RemotePublicationInner {
                handle: FfiHandle::new(owned.handle.id),
                info: PublicationInfo::from_proto(&owned.info),
            }),
        }
    }
    pub fn sid(&self) -> &str {
        &self.inner.info.sid
    }
    pub fn info(&self) -> &PublicationInfo {
        &self.inner.info
    }
    /// Subscribe to (or drop) this track; needed when the room does not auto-subscribe.
    pub fn set_subscribed(&self, subscribed: bool) -> Result<(), EngineError> {
        let engine = engine::get()?;
        engine.request(ffi_request::Message::SetSubscribed(
            proto::SetSubscribedRequest {
                subscribe: subscribed,
                publication_handle: self.inner.handle.id(),
            },
        ))?;
        Ok(())
    }
}

/// A subscribed remote track.
#[derive(Debug, Clone)]
pub struct RemoteTrack {
    inner: Arc<RemoteTrackInner>,
}

#[derive(Debug)]
struct RemoteTrackInner {
    handle: FfiHandle,
    sid: String,
    name: String,
    kind: TrackKind,
}

impl RemoteTrack {
    pub(crate) fn new(owned: proto::OwnedTrack) -> Self {
        Self {
            inner: Arc::new(RemoteTrackInner {
                handle: FfiHandle::new(owned.handle.id),
                sid: owned.info.sid,
                name: owned.info.name,
                kind: TrackKind::from_proto(owned.info.kind),
            }),
        }
    }
    pub fn sid(&self) -> &str {
        &self.inner.sid
    }
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    pub fn kind(&self) -> TrackKind {
        self.inner.kind
    }
    pub(crate) fn handle_id(&self) -> u64 {
        self.inner.handle.id()
    }
    /// Receive-side figures (decoded frames, jitter, loss).
    pub async fn get_stats(&self) -> Result<TrackStats, RoomError> {
        Ok(TrackStats::from_rtc(&get_stats(self.handle_id()).await?))
    }
}

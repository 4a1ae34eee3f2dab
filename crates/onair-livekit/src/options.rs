//! Public options and small enums, converted to the SDK's protocol values here only.

use std::time::Duration;

use onair_core::VideoCodec;

use crate::proto;

/// How to join a room.
#[derive(Debug, Clone)]
pub struct RoomOptions {
    /// Subscribe to every remote track as it is published (viewers); publishers leave it off.
    pub auto_subscribe: bool,
    pub adaptive_stream: bool,
    /// Pause simulcast layers no subscriber wants.
    pub dynacast: bool,
    /// Upper bound on `Room::connect`, enforced by the SDK and again by us.
    pub connect_timeout: Duration,
    /// Extra join attempts the SDK makes before giving up.
    pub join_retries: u32,
}

impl Default for RoomOptions {
    fn default() -> Self {
        Self {
            auto_subscribe: false,
            adaptive_stream: false,
            dynacast: false,
            connect_timeout: Duration::from_secs(10),
            join_retries: 1,
        }
    }
}

impl RoomOptions {
    pub(crate) fn to_proto(&self) -> proto::RoomOptions {
        proto::RoomOptions {
            auto_subscribe: Some(self.auto_subscribe),
            adaptive_stream: Some(self.adaptive_stream),
            dynacast: Some(self.dynacast),
            join_retries: Some(self.join_retries),
            connect_timeout_ms: Some(self.connect_timeout.as_millis() as u64),
            ..Default::default()
        }
    }
}

/// Which device a track comes from, as viewers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackSource {
    Unknown,
    Camera,
    Microphone,
    Screenshare,
    ScreenshareAudio,
}

impl TrackSource {
    pub(crate) fn to_proto(self) -> proto::TrackSource {
        match self {
            Self::Unknown => proto::TrackSource::SourceUnknown,
            Self::Camera => proto::TrackSource::SourceCamera,
            Self::Microphone => proto::TrackSource::SourceMicrophone,
            Self::Screenshare => proto::TrackSource::SourceScreenshare,
            Self::ScreenshareAudio => proto::TrackSource::SourceScreenshareAudio,
        }
    }

    pub(crate) fn from_proto(value: i32) -> Self {
        match proto::TrackSource::try_from(value) {
            Ok(proto::TrackSource::SourceCamera) => Self::Camera,
            Ok(proto::TrackSource::SourceMicrophone) => Self::Microphone,
            Ok(proto::TrackSource::SourceScreenshare) => Self::Screenshare,
            Ok(proto::TrackSource::SourceScreenshareAudio) => Self::ScreenshareAudio,
            _ => Self::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    Audio,
    Video,
    Unknown,
}

impl TrackKind {
    pub(crate) fn from_proto(value: i32) -> Self {
        match proto::TrackKind::try_from(value) {
            Ok(proto::TrackKind::KindAudio) => Self::Audio,
            Ok(proto::TrackKind::KindVideo) => Self::Video,
            _ => Self::Unknown,
        }
    }
}

/// What the encoder gives up first when bandwidth or CPU is short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DegradationPreference {
    /// libwebrtc's default for cameras: trade some of each.
    #[default]
    Balanced,
    MaintainFramerate,
    /// Keep the resolution (screens, and test patterns whose stamps must stay readable).
    MaintainResolution,
}

impl DegradationPreference {
    fn to_proto(self) -> proto::DegradationPreference {
        match self {
            Self::Balanced => proto::DegradationPreference::Balanced,
            Self::MaintainFramerate => proto::DegradationPreference::MaintainFramerate,
            Self::MaintainResolution => proto::DegradationPreference::MaintainResolution,
        }
    }
}

/// Which video encoder implementation the SDK should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncoderBackend {
    #[default]
    Auto,
    Software,
    Hardware,
}

impl EncoderBackend {
    fn to_proto(self) -> proto::VideoEncoderBackend {
        match self {
            Self::Auto => proto::VideoEncoderBackend::EncoderBackendAuto,
            Self::Software => proto::VideoEncoderBackend::EncoderBackendSoftware,
            Self::Hardware => proto::VideoEncoderBackend::EncoderBackendHardware,
        }
    }
}

/// How to publish a track.
#[derive(Debug, Clone)]
pub struct TrackPublishOptions {
    pub video_codec: VideoCodec,
    /// Bits per second for the top layer; the SDK picks one from the resolution when `None`.
    pub max_bitrate: Option<u64>,
    pub max_framerate: Option<f64>,
    pub simulcast: bool,
    pub source: TrackSource,
    pub degradation_preference: Option<DegradationPreference>,
    pub encoder: EncoderBackend,
    /// Send each frame's capture time and id in the packet trailer (glass-to-glass meter).
    pub frame_metadata: bool,
    /// Audio: discontinuous transmission during silence.
    pub dtx: bool,
    /// Audio: redundant encoding against loss.
    pub red: bool,
    pub audio_max_bitrate: Option<u64>,
}

impl Default for TrackPublishOptions {
    fn default() -> Self {
        Self {
            video_codec: VideoCodec::Vp8,
            max_bitrate: None,
            max_framerate: None,
            simulcast: false,
            source: TrackSource::Unknown,
            degradation_preference: None,
            encoder: EncoderBackend::Auto,
            frame_metadata: true,
            dtx: false,
            red: true,
            audio_max_bitrate: None,
        }
    }
}

impl TrackPublishOptions {
    pub(crate) fn to_proto(&self) -> proto::TrackPublishOptions {
        let video_codec = match self.video_codec {
            VideoCodec::Vp8 => proto::VideoCodec::Vp8,
            VideoCodec::H264 => proto::VideoCodec::H264,
            VideoCodec::Vp9 => proto::VideoCodec::Vp9,
            VideoCodec::Av1 => proto::VideoCodec::Av1,
        };
        let video_encoding = self.max_bitrate.map(|max_bitrate| proto::VideoEncoding {
            max_bitrate,
            max_framerate: self.max_framerate.unwrap_or(30.0),
        });
        let frame_metadata_features = if self.frame_metadata {
            vec![
                proto::FrameMetadataFeature::FmfUserTimestamp as i32,
                proto::FrameMetadataFeature::FmfFrameId as i32,
            ]
        } else {
            Vec::new()
        };
        proto::TrackPublishOptions {
            video_encoding,
            audio_encoding: self
                .audio_max_bitrate
                .map(|max_bitrate| proto::AudioEncoding { max_bitrate }),
            video_codec: Some(video_codec as i32),
            dtx: Some(self.dtx),
            red: Some(self.red),
            simulcast: Some(self.simulcast),
            source: Some(self.source.to_proto() as i32),
            frame_metadata_features,
            video_encoder: Some(self.encoder.to_proto() as i32),
            degradation_preference: self.degradation_preference.map(|d| d.to_proto() as i32),
            ..Default::default()
        }
    }
}

/// Why a room ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    Unknown,
    ClientInitiated,
    DuplicateIdentity,
    ServerShutdown,
    ParticipantRemoved,
    RoomDeleted,
    StateMismatch,
    JoinFailure,
    Migration,
    SignalClose,
    RoomClosed,
    ConnectionTimeout,
    MediaFailure,
    /// The SDK library panicked; the engine is unusable for the rest of the process.
    EnginePanic,
    Other(i32),
}

impl DisconnectReason {
    pub(crate) fn from_proto(value: i32) -> Self {
        use proto::DisconnectReason as P;
        match P::try_from(value) {
            Ok(P::UnknownReason) => Self::Unknown,
            Ok(P::ClientInitiated) => Self::ClientInitiated,
            Ok(P::DuplicateIdentity) => Self::DuplicateIdentity,
            Ok(P::ServerShutdown) => Self::ServerShutdown,
            Ok(P::ParticipantRemoved) => Self::ParticipantRemoved,
            Ok(P::RoomDeleted) => Self::RoomDeleted,
            Ok(P::StateMismatch) => Self::StateMismatch,
            Ok(P::JoinFailure) => Self::JoinFailure,
            Ok(P::Migration) => Self::Migration,
            Ok(P::SignalClose) => Self::SignalClose,
            Ok(P::RoomClosed) => Self::RoomClosed,
            Ok(P::ConnectionTimeout) => Self::ConnectionTimeout,
            Ok(P::MediaFailure) => Self::MediaFailure,
            _ => Self::Other(value),
        }
    }

    /// A stable machine-readable name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::ClientInitiated => "client_initiated",
            Self::DuplicateIdentity => "duplicate_identity",
            Self::ServerShutdown => "server_shutdown",
            Self::ParticipantRemoved => "participant_removed",
            Self::RoomDeleted => "room_deleted",
            Self::StateMismatch => "state_mismatch",
            Self::JoinFailure => "join_failure",
            Self::Migration => "migration",
            Self::SignalClose => "signal_close",
            Self::RoomClosed => "room_closed",
            Self::ConnectionTimeout => "connection_timeout",
            Self::MediaFailure => "media_failure",
            Self::EnginePanic => "engine_panic",
            Self::Other(_) => "other",
        }
    }

    /// What a person should read.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::ClientInitiated => "the stream was ended here",
            Self::DuplicateIdentity => "someone joined with the same identity elsewhere",
            Self::ServerShutdown => "the LiveKit server shut down",
            Self::ParticipantRemoved => "the server removed this participant",
            Self::RoomDeleted => "the server deleted the room (the stream was ended remotely)",
            Self::RoomClosed => "the room was closed",
            Self::ConnectionTimeout | Self::SignalClose | Self::MediaFailure => {
                "the connection to the server was lost and could not be restored"
            }
            Self::JoinFailure => "joining the room failed",
            Self::EnginePanic => "the LiveKit SDK crashed",
            _ => "the connection ended",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    Disconnected,
    Connected,
    Reconnecting,
}

impl ConnectionState {
    pub(crate) fn from_proto(value: i32) -> Self {
        match proto::ConnectionState::try_from(value) {
            Ok(proto::ConnectionState::ConnConnected) => Self::Connected,
            Ok(proto::ConnectionState::ConnReconnecting) => Self::Reconnecting,
            _ => Self::Disconnected,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionQuality {
    Excellent,
    Good,
    Poor,
    Lost,
}

impl ConnectionQuality {
    pub(crate) fn from_proto(value: i32) -> Self {
        match proto::ConnectionQuality::try_from(value) {
            Ok(proto::ConnectionQuality::QualityExcellent) => Self::Excellent,
            Ok(proto::ConnectionQuality::QualityGood) => Self::Good,
            Ok(proto::ConnectionQuality::QualityLost) => Self::Lost,
            _ => Self::Poor,
        }
    }
}

/// Resilience scenarios the SDK can simulate (for tests and a "reconnect now" action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimulateScenario {
    SignalReconnect,
    NodeFailure,
    ServerLeave,
    Migration,
    FullReconnect,
}

impl SimulateScenario {
    pub(crate) fn to_proto(self) -> proto::SimulateScenarioKind {
        use proto::SimulateScenarioKind as K;
        match self {
            Self::SignalReconnect => K::SimulateSignalReconnect,
            Self::NodeFailure => K::SimulateNodeFailure,
            Self::ServerLeave => K::SimulateServerLeave,
            Self::Migration => K::SimulateMigration,
            Self::FullReconnect => K::SimulateFullReconnect,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_metadata_is_requested_by_default() {
        let options = TrackPublishOptions::default().to_proto();
        assert_eq!(
            options.frame_metadata_features,
            vec![
                proto::FrameMetadataFeature::FmfUserTimestamp as i32,
                proto::FrameMetadataFeature::FmfFrameId as i32
            ]
        );
    }

    #[test]
    fn a_max_bitrate_becomes_a_video_encoding_with_the_framerate_cap() {
        let options = TrackPublishOptions {
            max_bitrate: Some(2_500_000),
            max_framerate: Some(24.0),
            video_codec: VideoCodec::H264,
            ..Default::default()
        }
        .to_proto();
        let encoding = options.video_encoding.unwrap();
        assert_eq!(encoding.max_bitrate, 2_500_000);
        assert_eq!(encoding.max_framerate, 24.0);
        assert_eq!(options.video_codec, Some(proto::VideoCodec::H264 as i32));
    }

    #[test]
    fn a_room_deleted_by_the_server_is_named_as_such() {
        let reason = DisconnectReason::from_proto(proto::DisconnectReason::RoomDeleted as i32);
        assert_eq!(reason, DisconnectReason::RoomDeleted);
        assert_eq!(reason.as_str(), "room_deleted");
    }

    #[test]
    fn unknown_disconnect_reasons_keep_their_number() {
        assert_eq!(
            DisconnectReason::from_proto(999),
            DisconnectReason::Other(999)
        );
    }
}

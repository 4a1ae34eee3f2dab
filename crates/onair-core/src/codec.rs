use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A video codec the engine can publish with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    #[default]
    Vp8,
    H264,
    Vp9,
    Av1,
}

impl VideoCodec {
    pub const ALL: [VideoCodec; 4] = [Self::Vp8, Self::H264, Self::Vp9, Self::Av1];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vp8 => "vp8",
            Self::H264 => "h264",
            Self::Vp9 => "vp9",
            Self::Av1 => "av1",
        }
    }

    /// The RTP mime type a viewer sees for this codec.
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Vp8 => "video/VP8",
            Self::H264 => "video/H264",
            Self::Vp9 => "video/VP9",
            Self::Av1 => "video/AV1",
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown video codec {0:?}: expected one of vp8, h264, vp9, av1")]
pub struct UnknownCodec(pub String);

impl FromStr for VideoCodec {
    type Err = UnknownCodec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vp8" => Ok(Self::Vp8),
            "h264" | "h.264" | "avc" => Ok(Self::H264),
            "vp9" => Ok(Self::Vp9),
            "av1" => Ok(Self::Av1),
            _ => Err(UnknownCodec(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_names_round_trip_through_parsing() {
        for codec in VideoCodec::ALL {
            assert_eq!(codec.as_str().parse::<VideoCodec>(), Ok(codec));
        }
    }

    #[test]
    fn common_spellings_of_h264_are_accepted() {
        assert_eq!("H.264".parse::<VideoCodec>(), Ok(VideoCodec::H264));
        assert_eq!("AVC".parse::<VideoCodec>(), Ok(VideoCodec::H264));
    }

    #[test]
    fn an_unknown_codec_names_the_valid_choices() {
        let err = "h265".parse::<VideoCodec>().unwrap_err();
        assert!(err.to_string().contains("vp8, h264, vp9, av1"), "{err}");
    }

    #[test]
    fn codecs_serialize_as_lowercase_names() {
        assert_eq!(
            serde_json::to_string(&VideoCodec::H264).unwrap(),
            "\"h264\""
        );
    }
}

//! Whether an uploaded file can be a stream's replay: pure, over what ffprobe found.

/// What ffprobe says about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFacts {
    /// ffprobe's `format_name` (`mov,mp4,m4a,3gp,3g2,mj2` for MP4).
    pub format: String,
    pub duration_ms: i64,
    pub video: Option<VideoFacts>,
    /// The sound's codec, if the file has sound.
    pub audio_codec: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFacts {
    pub codec: String,
    pub width: i64,
    pub height: i64,
    /// Pictures in the file (packets counted, nothing decoded).
    pub frames: i64,
}

/// Why a file is not taken, for the uploader.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("the file is not an MP4 recording ({0}): upload the .mp4 the studio or `onair live --record` wrote")]
    NotMp4(String),
    #[error("the file has no pictures")]
    NoVideo,
    #[error("the pictures are {0}, not H.264: upload the recording as OnAir wrote it")]
    VideoCodec(String),
    #[error("the sound is {0}, not AAC: upload the recording as OnAir wrote it")]
    AudioCodec(String),
    #[error("the recording is {file_s:.0} s long but the stream was on air for {stream_s:.0} s: this is not its recording")]
    TooLong { file_s: f64, stream_s: f64 },
}

/// How much longer than the stream its recording may be: it starts while going live (before
/// the room is joined) and ends after the last picture went out.
pub fn longest_for(stream_ms: i64) -> i64 {
    stream_ms + (stream_ms / 10).max(30_000)
}

pub fn check(facts: &MediaFacts, stream_ms: i64) -> Result<(), Refusal> {
    if !facts.format.split(',').any(|f| f == "mp4" || f == "mov") {
        return Err(Refusal::NotMp4(facts.format.clone()));
    }
    let video = match &facts.video {
        Some(video) if video.frames > 0 => video,
        _ => return Err(Refusal::NoVideo),
    };
    if video.codec != "h264" {
        return Err(Refusal::VideoCodec(video.codec.clone()));
    }
    if let Some(codec) = facts.audio_codec.as_ref().filter(|c| *c != "aac") {
        return Err(Refusal::AudioCodec(codec.clone()));
    }
    if facts.duration_ms > longest_for(stream_ms) {
        return Err(Refusal::TooLong {
            file_s: facts.duration_ms as f64 / 1e3,
            stream_s: stream_ms as f64 / 1e3,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(duration_ms: i64) -> MediaFacts {
        MediaFacts {
            format: "mov,mp4,m4a,3gp,3g2,mj2".into(),
            duration_ms,
            video: Some(VideoFacts {
                codec: "h264".into(),
                width: 1280,
                height: 720,
                frames: duration_ms * 30 / 1000,
            }),
            audio_codec: Some("aac".into()),
        }
    }

    #[test]
    fn a_recording_as_long_as_its_stream_is_taken() {
        assert_eq!(check(&recording(20_300), 20_000), Ok(()));
    }

    #[test]
    fn a_recording_cut_short_by_a_full_disk_is_still_taken() {
        assert_eq!(check(&recording(4_000), 600_000), Ok(()));
    }

    #[test]
    fn a_recording_far_longer_than_its_stream_is_refused() {
        assert!(matches!(
            check(&recording(120_000), 20_000),
            Err(Refusal::TooLong { .. })
        ));
        // An hour's stream may run six minutes over (the tenth), not more.
        assert_eq!(check(&recording(3_960_000), 3_600_000), Ok(()));
        assert!(check(&recording(3_961_000), 3_600_000).is_err());
    }

    #[test]
    fn other_containers_and_codecs_are_refused() {
        let mut webm = recording(10_000);
        webm.format = "matroska,webm".into();
        assert!(matches!(check(&webm, 10_000), Err(Refusal::NotMp4(_))));
        let mut vp8 = recording(10_000);
        vp8.video.as_mut().unwrap().codec = "vp8".into();
        assert!(matches!(check(&vp8, 10_000), Err(Refusal::VideoCodec(_))));
        let mut mp3 = recording(10_000);
        mp3.audio_codec = Some("mp3".into());
        assert!(matches!(check(&mp3, 10_000), Err(Refusal::AudioCodec(_))));
    }

    #[test]
    fn a_file_without_pictures_is_refused() {
        let mut sound_only = recording(10_000);
        sound_only.video = None;
        assert_eq!(check(&sound_only, 10_000), Err(Refusal::NoVideo));
    }
}

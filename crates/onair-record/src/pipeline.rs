//! The GStreamer pipeline: two live `appsrc`s (picture, sound) → H.264 and AAC → `mp4mux` in
//! fragments → the file. Fragments make the file crash-safe: each stands alone, so a kill
//! leaves everything up to the last one playable, and a clean end adds the index.

use std::path::Path;

use gst::prelude::*;

use crate::error::RecordError;

/// One fragment every two seconds, each starting on a key frame: at most two seconds are lost
/// to a crash.
pub const FRAGMENT_MS: u32 = 2_000;
/// How much an `appsrc` may hold before it drops its oldest buffers: a slow encoder costs
/// frames of the recording, never a stall of the capture thread that feeds the stream.
const QUEUE_NS: u64 = 1_000_000_000;

/// Which H.264 encoder writes the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoEncoder {
    /// x264 when installed, else OpenH264.
    #[default]
    Auto,
    /// x264 (`x264enc`, gstreamer1.0-plugins-ugly), at its `veryfast` preset.
    X264,
    /// Cisco's OpenH264 (`openh264enc`, gstreamer1.0-plugins-bad).
    OpenH264,
}

/// The Debian package that has `element`.
fn package_of(element: &str) -> &'static str {
    match element {
        "x264enc" => "gstreamer1.0-plugins-ugly",
        "openh264enc" | "h264parse" | "voaacenc" => "gstreamer1.0-plugins-bad",
        "avenc_aac" => "gstreamer1.0-libav",
        "mp4mux" => "gstreamer1.0-plugins-good",
        "appsrc" | "audioconvert" | "audioresample" => "gstreamer1.0-plugins-base",
        _ => "libgstreamer1.0-0",
    }
}

fn require(element: &'static str) -> Result<(), RecordError> {
    match gst::ElementFactory::find(element) {
        Some(_) => Ok(()),
        None => Err(RecordError::MissingPlugin {
            element,
            package: package_of(element),
        }),
    }
}

/// The first of `elements` installed, or the error naming the first choice.
fn first_installed(elements: &[&'static str]) -> Result<&'static str, RecordError> {
    elements
        .iter()
        .copied()
        .find(|e| gst::ElementFactory::find(e).is_some())
        .ok_or_else(|| RecordError::MissingPlugin {
            element: elements[0],
            package: package_of(elements[0]),
        })
}

fn make(factory: &str) -> Result<gst::Element, RecordError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|e| RecordError::Pipeline(format!("{factory}: {e}")))
}

/// The built pipeline, not yet playing.
pub struct Built {
    pub pipeline: gst::Pipeline,
    pub video: gst_app::AppSrc,
    pub audio: Option<gst_app::AppSrc>,
    pub encoder: &'static str,
}

pub struct Settings<'a> {
    pub path: &'a Path,
    pub fps: f64,
    pub audio: bool,
    pub video_kbps: u32,
    pub encoder: VideoEncoder,
}

pub fn build(settings: &Settings) -> Result<Built, RecordError> {
    gst::init().map_err(|e| RecordError::NoGStreamer(e.to_string()))?;
    for element in ["appsrc", "queue", "mp4mux", "filesink"] {
        require(element)?;
    }
    let encoder = match settings.encoder {
        VideoEncoder::Auto => first_installed(&["x264enc", "openh264enc"])?,
        VideoEncoder::X264 => first_installed(&["x264enc"])?,
        VideoEncoder::OpenH264 => first_installed(&["openh264enc"])?,
    };
    // OpenH264 writes a byte stream; the muxer wants it framed.
    if encoder == "openh264enc" {
        require("h264parse")?;
    }
    let aac = if settings.audio {
        require("audioconvert")?;
        require("audioresample")?;
        Some(first_installed(&["avenc_aac", "voaacenc"])?)
    } else {
        None
    };

    let pipeline = gst::Pipeline::with_name("onair-recording");
    let appsrc = |name: &str| {
        gst_app::AppSrc::builder()
            .name(name)
            .format(gst::Format::Time)
            .is_live(true)
            .do_timestamp(false)
            .max_bytes(0)
            .max_buffers(0)
            .max_time(Some(gst::ClockTime::from_nseconds(QUEUE_NS)))
            .leaky_type(gst_app::AppLeakyType::Downstream)
            .build()
    };
    let video = appsrc("picture");
    let key_int = (settings.fps * FRAGMENT_MS as f64 / 1000.0)
        .round()
        .max(1.0) as u32;
    let venc = match encoder {
        "x264enc" => gst::ElementFactory::make("x264enc")
            .property_from_str("tune", "zerolatency")
            .property_from_str("speed-preset", "veryfast")
            .property("key-int-max", key_int)
            .property("bitrate", settings.video_kbps),
        _ => gst::ElementFactory::make("openh264enc")
            .property("gop-size", key_int)
            .property("bitrate", settings.video_kbps * 1000),
    }
    .build()
    .map_err(|e| RecordError::Pipeline(format!("{encoder}: {e}")))?;
    let vqueue = make("queue")?;
    let mux = gst::ElementFactory::make("mp4mux")
        .property("fragment-duration", FRAGMENT_MS)
        .build()
        .map_err(|e| RecordError::Pipeline(format!("mp4mux: {e}")))?;
    let sink = gst::ElementFactory::make("filesink")
        .property("location", settings.path.to_string_lossy().as_ref())
        .build()
        .map_err(|e| RecordError::Pipeline(format!("filesink: {e}")))?;
    let link = |e: gst::glib::BoolError| RecordError::Pipeline(e.to_string());

    pipeline
        .add_many([video.upcast_ref(), &venc, &vqueue, &mux, &sink])
        .map_err(link)?;
    if encoder == "openh264enc" {
        let parse = make("h264parse")?;
        pipeline.add(&parse).map_err(link)?;
        gst::Element::link_many([video.upcast_ref(), &venc, &parse, &vqueue, &mux])
            .map_err(link)?;
    } else {
        gst::Element::link_many([video.upcast_ref(), &venc, &vqueue, &mux]).map_err(link)?;
    }
    mux.link(&sink).map_err(link)?;

    let audio = match aac {
        None => None,
        Some(aac) => {
            let asrc = appsrc("sound");
            let elements = [
                make("audioconvert")?,
                make("audioresample")?,
                make(aac)?,
                make("queue")?,
            ];
            pipeline.add(&asrc).map_err(link)?;
            pipeline.add_many(&elements).map_err(link)?;
            gst::Element::link_many(
                std::iter::once(asrc.upcast_ref::<gst::Element>())
                    .chain(elements.iter())
                    .chain(std::iter::once(&mux)),
            )
            .map_err(link)?;
            Some(asrc)
        }
    };
    Ok(Built {
        pipeline,
        video,
        audio,
        encoder,
    })
}

//! Camera formats → I420 against ffmpeg's own conversion of the same frame. Fixtures are made
//! by ffmpeg (a real encoder and real pixel layouts) from its `testsrc2` picture at 1280x720;
//! the MJPEG fixtures are real JPEG files, 4:2:2 and 4:2:0, and the same 4:2:2 file with its
//! Huffman tables cut out, as many UVC cameras send them.

use std::process::Command;

use onair_capture::convert::{psnr, Converter, PixelFormat};
use onair_core::I420Frame;

const W: u32 = 1280;
const H: u32 = 720;

/// One frame of ffmpeg's test picture, encoded by ffmpeg with `args`, as bytes.
fn ffmpeg(input: Option<&[u8]>, args: &[&str]) -> Vec<u8> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error"]);
    match input {
        None => cmd.args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={W}x{H}:rate=1"),
            "-frames:v",
            "1",
        ]),
        Some(_) => cmd.args(["-f", "mjpeg", "-i", "pipe:0"]),
    };
    cmd.args(args).arg("pipe:1");
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("ffmpeg (installed by scripts/setup.sh)");
    if let Some(data) = input {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(data).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "ffmpeg {args:?} failed");
    out.stdout
}

fn raw(pix_fmt: &str) -> Vec<u8> {
    ffmpeg(None, &["-pix_fmt", pix_fmt, "-f", "rawvideo"])
}

fn i420(bytes: &[u8]) -> I420Frame {
    let luma = (W * H) as usize;
    let chroma = luma / 4;
    I420Frame::from_planes(
        W,
        H,
        bytes[..luma].to_vec(),
        bytes[luma..luma + chroma].to_vec(),
        bytes[luma + chroma..luma + 2 * chroma].to_vec(),
    )
    .unwrap()
}

fn jpeg(pix_fmt: &str) -> Vec<u8> {
    // Standard (not optimised) Huffman tables: the ones a decoder must assume when a camera
    // leaves them out.
    ffmpeg(
        None,
        &[
            "-pix_fmt", pix_fmt, "-c:v", "mjpeg", "-q:v", "3", "-huffman", "default", "-f", "mjpeg",
        ],
    )
}

/// ffmpeg's decoding of `jpeg` to I420 (limited range): the reference for ours.
fn reference_for(jpeg: &[u8]) -> I420Frame {
    i420(&ffmpeg(
        Some(jpeg),
        &["-pix_fmt", "yuv420p", "-f", "rawvideo"],
    ))
}

/// The same JPEG without its DHT segments.
fn without_huffman_tables(jpeg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(jpeg.len());
    let mut i = 0;
    while i + 4 <= jpeg.len() {
        if jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA {
            // Start of scan: the entropy-coded data follows; copy the rest as is.
            break;
        }
        if jpeg[i] == 0xFF && jpeg[i + 1] != 0xD8 && jpeg[i + 1] != 0xFF {
            let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
            if jpeg[i + 1] != 0xC4 {
                out.extend_from_slice(&jpeg[i..i + 2 + len]);
            }
            i += 2 + len;
        } else {
            out.push(jpeg[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&jpeg[i..]);
    out
}

fn check(format: PixelFormat, data: &[u8], reference: &I420Frame) -> f64 {
    let mut converter = Converter::new(format, W, H).unwrap();
    let ours = converter.convert(data).unwrap();
    let db = psnr(&ours, reference);
    println!("{format:?}: PSNR {db:.1} dB against ffmpeg");
    assert!(db >= 40.0, "{format:?}: PSNR {db:.1} dB < 40 dB");
    db
}

#[test]
fn yuyv_frames_match_ffmpegs_i420_within_40_db() {
    check(PixelFormat::Yuyv, &raw("yuyv422"), &i420(&raw("yuv420p")));
}

#[test]
fn nv12_frames_match_ffmpegs_i420_exactly() {
    let db = check(PixelFormat::Nv12, &raw("nv12"), &i420(&raw("yuv420p")));
    assert!(db.is_infinite(), "NV12 → I420 loses nothing");
}

#[test]
fn mjpeg_422_and_420_frames_match_ffmpegs_decoding_within_40_db() {
    for pix_fmt in ["yuvj422p", "yuvj420p"] {
        let jpeg = jpeg(pix_fmt);
        check(PixelFormat::Mjpeg, &jpeg, &reference_for(&jpeg));
    }
}

#[test]
fn mjpeg_frames_without_huffman_tables_decode_like_those_with_them() {
    let jpeg = jpeg("yuvj422p");
    let stripped = without_huffman_tables(&jpeg);
    assert!(stripped.len() < jpeg.len(), "the DHT segments were cut");
    assert!(!stripped
        .windows(2)
        .take_while(|w| w != &[0xFF, 0xDA])
        .any(|w| w == [0xFF, 0xC4]));
    check(PixelFormat::Mjpeg, &stripped, &reference_for(&jpeg));
    let mut converter = Converter::new(PixelFormat::Mjpeg, W, H).unwrap();
    assert_eq!(
        converter.convert(&stripped).unwrap(),
        converter.convert(&jpeg).unwrap()
    );
}

#[test]
fn a_jpeg_of_the_wrong_size_is_refused_with_both_sizes() {
    let jpeg = jpeg("yuvj420p");
    let mut converter = Converter::new(PixelFormat::Mjpeg, 640, 480).unwrap();
    let err = converter.convert(&jpeg).unwrap_err().to_string();
    assert!(err.contains("1280x720") && err.contains("640x480"), "{err}");
}

//! Per-frame cost of each camera-format conversion to I420 at 720p and 1080p, on frames made
//! by ffmpeg (its `testsrc2` picture). `cargo bench -p onair-capture --bench convert`;
//! ONAIR_BENCH_FRAMES (default 200) frames per case.

use std::process::{Command, Stdio};
use std::time::Instant;

use onair_capture::convert::{Converter, PixelFormat};

fn ffmpeg(width: u32, height: u32, args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={width}x{height}:rate=1"))
        .args(["-frames:v", "1"])
        .args(args)
        .arg("pipe:1")
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg (installed by scripts/setup.sh)");
    assert!(out.status.success(), "ffmpeg {args:?}");
    out.stdout
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let frames: usize = std::env::var("ONAIR_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for (width, height) in [(1280, 720), (1920, 1080)] {
        let cases: [(PixelFormat, &str, Vec<u8>); 4] = [
            (
                PixelFormat::Yuyv,
                "YUYV",
                ffmpeg(width, height, &["-pix_fmt", "yuyv422", "-f", "rawvideo"]),
            ),
            (
                PixelFormat::Nv12,
                "NV12",
                ffmpeg(width, height, &["-pix_fmt", "nv12", "-f", "rawvideo"]),
            ),
            (
                PixelFormat::Mjpeg,
                "MJPEG 4:2:2",
                ffmpeg(
                    width,
                    height,
                    &[
                        "-pix_fmt", "yuvj422p", "-c:v", "mjpeg", "-q:v", "3", "-f", "mjpeg",
                    ],
                ),
            ),
            (
                PixelFormat::Mjpeg,
                "MJPEG 4:2:0",
                ffmpeg(
                    width,
                    height,
                    &[
                        "-pix_fmt", "yuvj420p", "-c:v", "mjpeg", "-q:v", "3", "-f", "mjpeg",
                    ],
                ),
            ),
        ];
        for (format, name, data) in cases {
            let mut converter = Converter::new(format, width, height).expect("even size");
            let mut times = Vec::with_capacity(frames);
            for _ in 0..frames {
                let start = Instant::now();
                let frame = converter.convert(&data).expect("converts");
                times.push(start.elapsed().as_secs_f64() * 1000.0);
                std::hint::black_box(frame);
            }
            times.sort_by(f64::total_cmp);
            let mean = times.iter().sum::<f64>() / times.len() as f64;
            println!(
                "{width}x{height} {name:<12} mean {mean:.2} ms  p50 {:.2} ms  p95 {:.2} ms  (n={frames})",
                times[times.len() / 2],
                times[times.len() * 95 / 100]
            );
        }
    }
}

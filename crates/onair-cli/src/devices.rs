//! `onair devices`: the cameras and microphones this machine offers, with the ids
//! `onair live --camera` and `--mic` take.

use clap::Args;
use onair_capture::camera::list_cameras;
use onair_capture::mic::list_microphones;
use serde_json::json;

use crate::error::CliError;
use crate::output::Reporter;

#[derive(Debug, Args)]
pub struct DevicesArgs {}

pub fn run(_args: DevicesArgs, out: &Reporter) -> Result<u8, CliError> {
    let cameras = list_cameras()?;
    if cameras.is_empty() {
        out.event("cameras", json!({"cameras": []}), || {
            "no camera found: connect one, or go live with the test pattern (the default)".into()
        });
    } else {
        out.event("cameras", json!({ "cameras": cameras }), || {
            let mut text = String::from("cameras (pass the id to `onair live --camera`):");
            for c in &cameras {
                let usable: Vec<String> = c
                    .modes
                    .iter()
                    .filter(|m| m.usable)
                    .map(|m| format!("{} {}x{}@{}", m.format, m.width, m.height, m.fps))
                    .collect();
                text.push_str(&format!(
                    "\n  {}  {}  — {}",
                    c.id,
                    c.name,
                    usable.join(", ")
                ));
            }
            text
        });
    }
    let mics = list_microphones()?;
    if mics.is_empty() {
        out.event("microphones", json!({"microphones": []}), || {
            "no microphone found: connect one, or go live with the tone (the default)".into()
        });
        return Ok(0);
    }
    out.event("microphones", json!({ "microphones": mics }), || {
        let mut text = String::from("microphones (pass the id to `onair live --mic`):");
        for m in &mics {
            text.push_str(&format!(
                "\n  {}{}  — {}–{} Hz, {} channel(s)",
                m.id,
                if m.is_default { " (default)" } else { "" },
                m.min_sample_rate,
                m.max_sample_rate,
                m.channels
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join("/")
            ));
        }
        text
    });
    Ok(0)
}

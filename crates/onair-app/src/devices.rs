//! The cameras and microphones a creator can pick, with why a list is empty.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct DeviceOption {
    pub id: String,
    pub name: String,
}

/// What can go on air besides the test pattern and the tone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct DeviceList {
    pub cameras: Vec<DeviceOption>,
    pub microphones: Vec<DeviceOption>,
    /// Why a list is empty or incomplete, for people ("No camera found: …").
    pub notes: Vec<String>,
}

pub(crate) fn list_devices() -> DeviceList {
    let mut notes = Vec::new();
    let cameras = match onair_capture::camera::list_cameras() {
        Ok(list) => list
            .into_iter()
            .map(|c| DeviceOption {
                id: c.id,
                name: c.name,
            })
            .collect(),
        Err(e) => {
            notes.push(format!("Cameras cannot be listed: {e}"));
            Vec::new()
        }
    };
    if cameras.is_empty() && notes.is_empty() {
        notes.push("No camera found: the test pattern stands in.".into());
    }
    let microphones = match onair_capture::mic::list_microphones() {
        Ok(list) => list
            .into_iter()
            .map(|m| DeviceOption {
                name: if m.is_default {
                    format!("{} (default)", m.name)
                } else {
                    m.name
                },
                id: m.id,
            })
            .collect(),
        Err(e) => {
            notes.push(format!("Microphones cannot be listed: {e}"));
            Vec::new()
        }
    };
    DeviceList {
        cameras,
        microphones,
        notes,
    }
}

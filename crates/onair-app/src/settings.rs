//! What the creator chose last (devices, title, price), kept in a JSON file so the tray's Go
//! Live can reuse it. A file that cannot be read is set aside, never silently overwritten.

use std::path::{Path, PathBuf};

use onair_session::{AudioInput, SessionSettings, VideoInput};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, UiError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VideoChoice {
    TestPattern,
    /// `id` from the device list.
    Camera {
        id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AudioChoice {
    Off,
    /// A 440 Hz tone.
    Tone,
    /// `id` from the device list.
    Microphone {
        id: String,
    },
}

/// What the window shows before going live: the picture in the preview, the sound on the
/// meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct PreviewChoice {
    pub video: VideoChoice,
    pub audio: AudioChoice,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct StudioSettings {
    pub video: VideoChoice,
    pub audio: AudioChoice,
    pub title: String,
    /// As typed ("4.99"); empty for a free stream.
    pub ppv_price: String,
    /// Record each stream to the recordings folder (and upload it as its replay after End).
    #[serde(default)]
    pub record: bool,
}

impl Default for StudioSettings {
    fn default() -> Self {
        Self {
            video: VideoChoice::TestPattern,
            audio: AudioChoice::Tone,
            title: "Live on OnAir".into(),
            ppv_price: String::new(),
            record: false,
        }
    }
}

impl StudioSettings {
    /// Checks the title and price with the backend's own rules; the first bad field wins.
    pub fn validate(&self) -> Result<(), UiError> {
        self.field_errors().into_iter().next().map_or(Ok(()), Err)
    }

    /// Every bad field, for inline display.
    pub fn field_errors(&self) -> Vec<UiError> {
        let mut errors = Vec::new();
        if let Err(e) = onair_core::validate::title(&self.title) {
            errors.push(e.into());
        }
        if !self.ppv_price.trim().is_empty() {
            if let Err(e) = onair_core::validate::price_cents(self.ppv_price.trim()) {
                errors.push(e.into());
            }
        }
        errors
    }

    /// What the session goes live with.
    pub fn session_settings(&self) -> SessionSettings {
        let price = self.ppv_price.trim();
        SessionSettings {
            title: self.title.clone(),
            ppv_price: (!price.is_empty()).then(|| price.to_owned()),
            video: match &self.video {
                VideoChoice::TestPattern => VideoInput::TestPattern,
                VideoChoice::Camera { id } => VideoInput::Camera(Some(id.clone())),
            },
            audio: match &self.audio {
                AudioChoice::Off => AudioInput::Off,
                AudioChoice::Tone => AudioInput::Tone {
                    hz: 440.0,
                    beeps: false,
                },
                AudioChoice::Microphone { id } => AudioInput::Microphone {
                    device: Some(id.clone()),
                    processing: Default::default(),
                },
            },
            ..SessionSettings::default()
        }
    }
}

/// Everything kept on disk: the settings and which backend the creator signed in to (the
/// key itself is in the keyring).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Saved {
    pub settings: StudioSettings,
    pub backend_url: Option<String>,
    /// Whose key the keyring holds for `backend_url`; `None` once signed out.
    pub username: Option<String>,
}

/// The settings file.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    path: PathBuf,
}

impl SettingsStore {
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("settings.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state; defaults when there is none. A file that does not parse is renamed
    /// to `settings.json.bad` (kept for the creator) and defaults are used.
    pub fn load(&self) -> Saved {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Saved::default(),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), "cannot read settings: {e}");
                return Saved::default();
            }
        };
        match serde_json::from_str(&text) {
            Ok(saved) => saved,
            Err(e) => {
                let bad = self.path.with_extension("json.bad");
                tracing::warn!(path = %self.path.display(), "unreadable settings ({e}); kept as {}", bad.display());
                let _ = std::fs::rename(&self.path, bad);
                Saved::default()
            }
        }
    }

    /// Writes atomically: a crash mid-write leaves the previous file.
    pub fn save(&self, saved: &Saved) -> Result<(), UiError> {
        let fail = |e: std::io::Error| {
            UiError::new(
                ErrorKind::Settings,
                format!("Cannot save settings to {}: {e}", self.path.display()),
            )
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(saved).expect("settings serialize");
        std::fs::write(&tmp, json).map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_settings_come_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::new(dir.path());
        let saved = Saved {
            settings: StudioSettings {
                video: VideoChoice::Camera { id: "0".into() },
                audio: AudioChoice::Off,
                title: "Launch day".into(),
                ppv_price: "4.99".into(),
                record: true,
            },
            backend_url: Some("http://127.0.0.1:8080".into()),
            username: Some("alice".into()),
        };
        store.save(&saved).unwrap();
        assert_eq!(SettingsStore::new(dir.path()).load(), saved);
    }

    #[test]
    fn a_corrupt_file_is_set_aside_and_defaults_are_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::new(dir.path());
        std::fs::write(store.path(), "{not json").unwrap();
        assert_eq!(store.load(), Saved::default());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("settings.json.bad")).unwrap(),
            "{not json"
        );
    }

    #[test]
    fn a_101_character_title_and_a_price_of_1000_are_both_refused() {
        let settings = StudioSettings {
            title: "x".repeat(101),
            ppv_price: "1000".into(),
            ..StudioSettings::default()
        };
        let fields: Vec<_> = settings
            .field_errors()
            .into_iter()
            .map(|e| e.field.unwrap())
            .collect();
        assert_eq!(fields, ["title", "ppv_price"]);
    }

    #[test]
    fn an_empty_price_means_a_free_stream() {
        let settings = StudioSettings::default();
        assert!(settings.validate().is_ok());
        assert_eq!(settings.session_settings().ppv_price, None);
    }
}

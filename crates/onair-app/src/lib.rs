//! The OnAir studio's state and decisions, without Tauri: who is signed in (the key in the OS
//! keyring), the saved settings, going live and ending through `onair-session`, the one
//! [`StudioView`] the window renders, and the [`TrayModel`] the tray projects. The desktop
//! shell (`src-tauri`) only forwards commands here and renders what comes back.

pub mod chat;
pub mod devices;
pub mod error;
pub mod keys;
pub mod recordings;
pub mod schedule;
pub mod settings;
pub mod studio;
pub mod tray;
pub mod view;

pub use chat::{
    BanOutcomeView, BanView, ChatLineView, ChatPanelView, ChatSettings, ModerationView,
};
pub use devices::{DeviceList, DeviceOption};
pub use error::{Action, ErrorKind, UiError};
pub use keys::{KeyStore, OsKeyring};
pub use recordings::{RecordingItem, RecordingLive, UploadState};
pub use schedule::{ScheduleForm, ScheduleView, ScheduledItem};
pub use settings::{AudioChoice, PreviewChoice, SettingsStore, StudioSettings, VideoChoice};
pub use studio::Studio;
pub use tray::{tray_model, TrayIcon, TrayModel};
pub use view::{Account, MicLevel, Phase, StudioView};

//! The OnAir studio's state and decisions, without Tauri: who is signed in (the key in the OS
//! keyring), the saved settings, going live and ending through `onair-session`, the one
//! [`StudioView`] the window renders, and the [`TrayModel`] the tray projects. The desktop
//! shell (`src-tauri`) only forwards commands here and renders what comes back.

pub mod error;
pub mod settings;
pub mod studio;
pub mod tray;
pub mod view;

pub use error::{Action, ErrorKind, UiError};
pub use settings::{AudioChoice, PreviewChoice, SettingsStore, StudioSettings, VideoChoice};
pub use studio::{DeviceList, DeviceOption, KeyStore, OsKeyring, Studio};
pub use tray::{tray_model, TrayIcon, TrayModel};
pub use view::{Account, MicLevel, Phase, StudioView};

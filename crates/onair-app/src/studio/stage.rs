//! What the studio is doing: offline with the preview's devices, or live with the session.
//! The one answer to "is something live?"; the view is its projection.

use onair_session::media::Sources;
use onair_session::LiveSession;

use crate::settings::PreviewChoice;

/// What the studio is doing. The view ([`crate::StudioView`]) is its projection for the window and
/// the tray.
pub(super) enum Stage {
    /// With the chosen camera (or test pattern) and sound open for the preview and the meter
    /// while the window shows them; Go Live hands them to the session.
    Offline {
        preview: Option<Box<(PreviewChoice, Sources)>>,
    },
    Live(LiveSession),
}

impl Stage {
    pub(super) fn offline() -> Self {
        Self::Offline { preview: None }
    }

    pub(super) fn session(&self) -> Option<&LiveSession> {
        match self {
            Self::Live(session) => Some(session),
            Self::Offline { .. } => None,
        }
    }

    /// The session, leaving the stage offline; `None` (and the preview untouched) offline.
    pub(super) fn take_session(&mut self) -> Option<LiveSession> {
        match std::mem::replace(self, Self::offline()) {
            Self::Live(session) => Some(session),
            offline => {
                *self = offline;
                None
            }
        }
    }

    /// The preview's sources, leaving none; `None` while live.
    pub(super) fn take_preview(&mut self) -> Option<Sources> {
        match self {
            Self::Offline { preview } => preview.take().map(|open| open.1),
            Self::Live(_) => None,
        }
    }
}

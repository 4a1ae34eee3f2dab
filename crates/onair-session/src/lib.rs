//! One OnAir live session, for the studio and the CLI: `LiveSession` (go live, stay live,
//! end with a report), its state machine (`state`), its sources (`media`), joining and
//! publishing (`link`), the rejoin policy (`reconnect`) and the one ordered teardown. The
//! backend is reached through `onair-client`.

pub mod error;
mod journal;
pub mod link;
pub mod media;
pub mod preview;
pub mod pump;
pub mod reconnect;
pub mod record;
pub mod session;
mod settings;
pub mod state;
mod teardown;

pub use media::{AudioInput, VideoInput};
pub use preview::{PreviewFrame, PreviewTap};
pub use reconnect::ReconnectPolicy;
pub use record::{RecordSettings, RecordTap, RecordingEnd};
pub use session::{
    LiveSession, Notice, SessionError, SessionSettings, TeardownReport, TeardownStep, TimelineStep,
};
pub use state::{next, SessionState, StateEvent, Trigger};

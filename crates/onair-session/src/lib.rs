//! One OnAir live session, for the studio and the CLI: the state machine (`state`), the
//! backend client — publisher tokens with retries, ending, the live viewer count
//! (`backend`, `viewers`). The session object that joins capture, the engine and these
//! follows (issue 6).

pub mod backend;
pub mod credentials;
pub mod pump;
pub mod session;
pub mod state;
pub mod viewers;

pub use backend::{BackendClient, BackendError, PublisherToken, TokenRequest};
pub use session::{
    LiveSession, SessionError, SessionSettings, TeardownReport, TeardownStep, TimelineStep,
};
pub use state::{next, SessionState, StateEvent, Trigger};
pub use viewers::{ViewerCountSubscription, ViewerCountView};

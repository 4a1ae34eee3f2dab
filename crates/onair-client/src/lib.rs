//! A client of the OnAir backend, for everything that talks to it from the creator's side
//! (the live session, the studio, the CLI): publisher tokens with retry and the end of a
//! stream (`backend`), the streamer's API key in the OS keyring (`credentials`), and the live
//! viewer count over server-sent events (`viewers`), the chat with its moderation (`chat`) and
//! the creator's schedule (`schedule`). The bodies it sends and reads are the
//! backend's own (`onair_core::wire`).

pub mod backend;
pub mod chat;
pub mod credentials;
pub mod replay;
pub mod schedule;
pub mod viewers;

pub use backend::{
    BackendClient, BackendError, Earnings, EndResponse, PublisherToken, StreamEarnings,
    TokenRequest,
};
pub use chat::{ChatSubscription, ChatView};
pub use viewers::{ViewerCountSubscription, ViewerCountView};

//! Shared harness for OnAir's end-to-end tests and benchmarks: a real `livekit-server` on
//! loopback with its own ports, tokens, the real Python viewer, the `onair` binary, and an
//! in-process publisher on our engine.

pub mod backend;
pub mod browser;
pub mod chatter;
pub mod desktop;
pub mod harness;
pub mod media_file;
pub mod process_cost;
pub mod publisher;
pub mod pulse;

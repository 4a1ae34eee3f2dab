//! The wall clock that stamps captured frames. Publisher and viewers on one machine (or on
//! NTP-synced machines) compare these stamps for glass-to-glass latency, so it must be the
//! system clock in microseconds since the Unix epoch, never a monotonic clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

//! When and how often the session rejoins by itself after the SDK gives up (pure), and the
//! supervisor that does it ([`supervisor`]).

pub(crate) mod supervisor;

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use onair_livekit::DisconnectReason;

/// How the session rejoins after the SDK has given up on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// First wait between attempts; doubles (with jitter) up to `max_delay`.
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// After this long without getting back, the session ends (a network that never comes
    /// back ends the stream like End does).
    pub give_up_after: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(500),
            // With jitter a wait stays under 6 s: a server that is back is rejoined within
            // about that.
            max_delay: Duration::from_secs(3),
            give_up_after: Duration::from_secs(120),
        }
    }
}

impl ReconnectPolicy {
    /// The waits between attempts: exponential with jitter, never ending (the window bounds
    /// the attempts, not a count).
    pub fn delays(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

/// Whether a room that ended for `reason` is worth rejoining. The server or the creator
/// meant these to end the stream; everything else is a connection that broke.
pub fn should_rejoin(reason: &DisconnectReason) -> bool {
    !matches!(
        reason,
        DisconnectReason::ClientInitiated
            | DisconnectReason::DuplicateIdentity
            | DisconnectReason::ParticipantRemoved
            | DisconnectReason::RoomDeleted
            | DisconnectReason::RoomClosed
            | DisconnectReason::EnginePanic
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_connection_or_a_restarting_server_is_rejoined() {
        for reason in [
            DisconnectReason::SignalClose,
            DisconnectReason::ConnectionTimeout,
            DisconnectReason::ServerShutdown,
            DisconnectReason::JoinFailure,
            DisconnectReason::MediaFailure,
            DisconnectReason::StateMismatch,
            DisconnectReason::Migration,
            DisconnectReason::Unknown,
        ] {
            assert!(should_rejoin(&reason), "{reason:?}");
        }
    }

    #[test]
    fn an_ending_the_server_or_the_creator_meant_is_not_rejoined() {
        for reason in [
            DisconnectReason::RoomDeleted,
            DisconnectReason::ParticipantRemoved,
            DisconnectReason::DuplicateIdentity,
            DisconnectReason::ClientInitiated,
            DisconnectReason::RoomClosed,
            DisconnectReason::EnginePanic,
        ] {
            assert!(!should_rejoin(&reason), "{reason:?}");
        }
    }

    #[test]
    fn waits_grow_to_the_cap_with_jitter_and_never_run_out() {
        let policy = ReconnectPolicy::default();
        let waits: Vec<Duration> = policy.delays().take(20).collect();
        assert_eq!(waits.len(), 20, "no attempt limit: the window bounds them");
        assert!(waits[0] >= policy.min_delay && waits[0] <= policy.min_delay * 2);
        for w in &waits {
            assert!(
                *w <= policy.max_delay * 2,
                "{w:?} (cap plus at most one cap of jitter)"
            );
        }
        assert!(waits[10] >= policy.max_delay, "reaches the cap");
    }
}

//! The session's states and the one function that moves between them. Pure: the session
//! feeds it what happened and publishes what it answers.
//!
//! ```text
//! idle → preparing → connecting → live ⇄ reconnecting
//!                 ↘            ↘       ↘            ↘
//!                   ending (from any of these) → ended
//!   any failure → failed(reason) → (ending → ended, once torn down)
//! ```

use serde::{Deserialize, Serialize};

/// Where a session is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SessionState {
    Idle,
    /// Validating settings, fetching the token, opening devices.
    Preparing,
    /// Joining the room and publishing.
    Connecting,
    Live,
    /// The connection dropped; the SDK or our outer loop is getting it back.
    Reconnecting {
        attempt: u32,
        /// What happened and what is being tried, for the creator.
        detail: String,
    },
    /// Teardown under way.
    Ending,
    Ended,
    /// Something went wrong; teardown follows through the same path as End.
    Failed {
        reason: String,
    },
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    GoLive,
    Prepared,
    Published,
    /// The connection dropped (the SDK is resuming) or another rejoin attempt starts; says
    /// which.
    ConnectionLost(String),
    Reconnected,
    /// The creator (or Quit, SIGTERM, the server ending the room) asked to end.
    End,
    TornDown,
    Fail(String),
}

/// The state after `trigger` in `state`, or `None` when the trigger means nothing there (an
/// End while already ending, a Reconnected after the session ended…), which callers ignore.
pub fn next(state: &SessionState, trigger: &Trigger) -> Option<SessionState> {
    use SessionState as S;
    use Trigger as T;
    Some(match (state, trigger) {
        (S::Idle, T::GoLive) => S::Preparing,
        (S::Preparing, T::Prepared) => S::Connecting,
        (S::Connecting, T::Published) => S::Live,
        (S::Live, T::ConnectionLost(detail)) => S::Reconnecting {
            attempt: 1,
            detail: detail.clone(),
        },
        (S::Reconnecting { attempt, .. }, T::ConnectionLost(detail)) => S::Reconnecting {
            attempt: attempt + 1,
            detail: detail.clone(),
        },
        (S::Reconnecting { .. }, T::Reconnected) => S::Live,
        (S::Preparing | S::Connecting | S::Live | S::Reconnecting { .. }, T::Fail(reason)) => {
            S::Failed {
                reason: reason.clone(),
            }
        }
        (S::Idle, T::End) => S::Ended,
        (
            S::Preparing | S::Connecting | S::Live | S::Reconnecting { .. } | S::Failed { .. },
            T::End,
        ) => S::Ending,
        (S::Ending, T::TornDown) => S::Ended,
        _ => return None,
    })
}

impl SessionState {
    /// Whether media may be flowing (so a teardown has something to release).
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Self::Preparing | Self::Connecting | Self::Live | Self::Reconnecting { .. }
        )
    }

    /// Whether the session is over (nothing more will happen).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Ended)
    }
}

/// A state as subscribers see it: which session it belongs to (a new Go Live is a new
/// generation, so a late event from the last one cannot be mistaken for this one's), and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateEvent {
    pub generation: u64,
    #[serde(flatten)]
    pub state: SessionState,
    /// Unix milliseconds.
    pub at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionState as S;
    use Trigger as T;

    fn run(triggers: &[Trigger]) -> Vec<SessionState> {
        let mut state = S::Idle;
        let mut seen = vec![state.clone()];
        for t in triggers {
            if let Some(n) = next(&state, t) {
                state = n;
                seen.push(state.clone());
            }
        }
        seen
    }

    #[test]
    fn a_normal_stream_goes_live_and_ends() {
        assert_eq!(
            run(&[T::GoLive, T::Prepared, T::Published, T::End, T::TornDown]),
            [
                S::Idle,
                S::Preparing,
                S::Connecting,
                S::Live,
                S::Ending,
                S::Ended
            ]
        );
    }

    #[test]
    fn reconnect_attempts_are_counted_and_end_live_again() {
        let states = run(&[
            T::GoLive,
            T::Prepared,
            T::Published,
            T::ConnectionLost("resuming".into()),
            T::ConnectionLost("rejoining".into()),
            T::Reconnected,
        ]);
        assert_eq!(
            states[4],
            S::Reconnecting {
                attempt: 1,
                detail: "resuming".into()
            }
        );
        assert_eq!(
            states[5],
            S::Reconnecting {
                attempt: 2,
                detail: "rejoining".into()
            }
        );
        assert_eq!(states[6], S::Live);
    }

    #[test]
    fn a_failure_half_way_ends_through_the_same_teardown() {
        let states = run(&[
            T::GoLive,
            T::Fail("token refused".into()),
            T::End,
            T::TornDown,
        ]);
        assert_eq!(
            &states[2..],
            [
                S::Failed {
                    reason: "token refused".into()
                },
                S::Ending,
                S::Ended
            ]
        );
    }

    #[test]
    fn ending_twice_or_late_events_change_nothing() {
        let ended = run(&[T::GoLive, T::Prepared, T::Published, T::End, T::TornDown]);
        let last = ended.last().unwrap();
        for t in [
            T::End,
            T::Reconnected,
            T::ConnectionLost("late".into()),
            T::Published,
            T::TornDown,
        ] {
            assert_eq!(next(last, &t), None, "{t:?} after the end");
        }
        assert_eq!(next(&S::Ending, &T::End), None, "End while ending");
        assert_eq!(
            next(&S::Idle, &T::End),
            Some(S::Ended),
            "End before going live"
        );
    }

    #[test]
    fn states_serialize_with_a_stable_tag() {
        let e = StateEvent {
            generation: 3,
            state: S::Reconnecting {
                attempt: 2,
                detail: "rejoining".into(),
            },
            at_ms: 5,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"generation": 3, "state": "reconnecting", "attempt": 2, "detail": "rejoining", "at_ms": 5})
        );
    }
}

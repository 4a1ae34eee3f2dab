//! What a session tells while it runs, besides its state: how long each go-live step took,
//! and notices for the creator (a reconnect, a republished track).

use std::sync::Mutex;
use std::time::Duration;

use onair_core::clock::unix_micros;
use tokio::sync::watch;

/// One go-live step and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineStep {
    pub step: &'static str,
    pub duration: Duration,
}

/// Something the creator should know about while live (a reconnect, a republished track).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// 1, 2, 3… for this session: what a reader has shown already, even after older notices
    /// were dropped.
    pub seq: u64,
    /// Unix milliseconds.
    pub at_ms: i64,
    pub message: String,
}

/// How many notices are kept.
const NOTICES: usize = 50;

/// A session's timeline and notices.
#[derive(Default)]
pub(crate) struct Journal {
    timeline: Mutex<Vec<TimelineStep>>,
    notices: watch::Sender<Vec<Notice>>,
}

impl Journal {
    pub(crate) fn step(&self, step: &'static str, duration: Duration) {
        self.timeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(TimelineStep { step, duration });
    }

    pub(crate) fn timeline(&self) -> Vec<TimelineStep> {
        self.timeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds a notice; the oldest goes once [`NOTICES`] are kept, the numbering goes on.
    pub(crate) fn notice(&self, message: String) {
        tracing::info!(%message, "session notice");
        self.notices.send_modify(|notices| {
            let seq = notices.last().map_or(1, |n| n.seq + 1);
            if notices.len() == NOTICES {
                notices.remove(0);
            }
            notices.push(Notice {
                seq,
                at_ms: (unix_micros() / 1000) as i64,
                message,
            });
        });
    }

    pub(crate) fn notices(&self) -> watch::Receiver<Vec<Notice>> {
        self.notices.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_keep_the_latest_fifty_and_their_numbers_go_on() {
        let journal = Journal::default();
        for i in 1..=60 {
            journal.notice(format!("notice {i}"));
        }
        let notices = journal.notices().borrow().clone();
        assert_eq!(notices.len(), NOTICES);
        assert_eq!(notices.first().map(|n| n.seq), Some(11));
        assert_eq!(notices.last().map(|n| n.seq), Some(60));
        assert_eq!(
            notices.last().map(|n| n.message.as_str()),
            Some("notice 60")
        );
    }

    #[test]
    fn the_timeline_lists_steps_in_the_order_they_ran() {
        let journal = Journal::default();
        journal.step("token", Duration::from_millis(3));
        journal.step("capture", Duration::from_millis(40));
        let steps: Vec<_> = journal.timeline().iter().map(|s| s.step).collect();
        assert_eq!(steps, ["token", "capture"]);
    }
}

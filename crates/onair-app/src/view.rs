//! Everything the window shows, in one value: the shell sends it whole on every change, so
//! the window never assembles state from separate events. Durations are whole milliseconds
//! (`u32`); Unix times are `f64` milliseconds (JavaScript has no 64-bit integers).

use onair_session::{SessionState, TeardownReport};
use serde::{Deserialize, Serialize};

use crate::error::UiError;

/// Whole milliseconds: durations the window shows (a `u32` is a plain `number` in TypeScript;
/// floats may be `null` there).
pub fn millis(d: std::time::Duration) -> u32 {
    d.as_millis().min(u128::from(u32::MAX)) as u32
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Account {
    pub backend_url: String,
    pub username: String,
}

/// Where the stream is, as the creator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Offline,
    /// Token, devices.
    Preparing,
    /// Joining and publishing.
    Connecting,
    Live,
    Reconnecting {
        attempt: u32,
        detail: String,
    },
    Ending,
}

impl Phase {
    /// The studio's phase for a session state. A failed session is ending (its teardown
    /// follows at once); an ended one is offline.
    pub fn of(state: &SessionState) -> Self {
        match state {
            SessionState::Idle | SessionState::Ended => Self::Offline,
            SessionState::Preparing => Self::Preparing,
            SessionState::Connecting => Self::Connecting,
            SessionState::Live => Self::Live,
            SessionState::Reconnecting { attempt, detail } => Self::Reconnecting {
                attempt: *attempt,
                detail: detail.clone(),
            },
            SessionState::Ending | SessionState::Failed { .. } => Self::Ending,
        }
    }

    /// Whether a stream is under way (End makes sense).
    pub fn is_active(&self) -> bool {
        !matches!(self, Self::Offline | Self::Ending)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ViewersView {
    pub count: u32,
    pub peak: u32,
    /// When the backend last confirmed it, Unix ms.
    pub confirmed_at_ms: Option<f64>,
    /// The events stream is down: the count may be out of date.
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct TimelineEntry {
    pub step: String,
    /// How long after the previous entry this one finished.
    pub ms: u32,
    /// How long after Go Live was pressed.
    pub at_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ReportStep {
    pub step: String,
    pub ms: u32,
    pub ok: bool,
    /// What was done, or what went wrong.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ReportView {
    pub steps: Vec<ReportStep>,
    pub total_ms: u32,
    pub participant_gone: bool,
    pub all_ok: bool,
    pub reason: String,
}

impl From<&TeardownReport> for ReportView {
    fn from(r: &TeardownReport) -> Self {
        Self {
            steps: r
                .steps
                .iter()
                .map(|s| ReportStep {
                    step: s.step.to_owned(),
                    ms: millis(s.duration),
                    ok: s.result.is_ok(),
                    detail: match &s.result {
                        Ok(d) | Err(d) => d.clone(),
                    },
                })
                .collect(),
            total_ms: millis(r.total),
            participant_gone: r.participant_gone,
            all_ok: r.all_ok(),
            reason: r.reason.clone(),
        }
    }
}

/// Sending statistics of the video track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct StatsView {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Measured from bytes sent between two samples.
    pub bitrate_kbps: Option<f64>,
    /// "none", "cpu", "bandwidth", "other".
    pub quality_limitation: String,
    pub rtt_ms: Option<f64>,
    pub loss_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct NoticeView {
    pub seq: u32,
    pub at_ms: f64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct StudioView {
    pub account: Option<Account>,
    pub phase: Phase,
    /// The session shown (0 before the first Go Live): a late update of an older session is
    /// recognisable.
    pub generation: u32,
    /// Unix ms when the stream went live.
    pub live_since_ms: Option<f64>,
    pub viewers: Option<ViewersView>,
    /// Chat messages the creator has not seen yet (the chat itself is its own event).
    pub chat_unread: u32,
    pub timeline: Vec<TimelineEntry>,
    pub stats: Option<StatsView>,
    pub notices: Vec<NoticeView>,
    /// The last End's report, until the next Go Live.
    pub report: Option<ReportView>,
    /// Pay-per-view earnings, from the backend (after sign-in, start-up and every End).
    pub earnings: Option<EarningsView>,
    /// The creator's scheduled streams, from the backend (after sign-in, start-up, every
    /// change and every End).
    pub schedule: Option<crate::schedule::ScheduleView>,
    /// The recording under way, while live with Record on.
    pub recording: Option<crate::recordings::RecordingLive>,
    /// The recordings folder, newest first, with each one's upload.
    pub recordings: Vec<crate::recordings::RecordingItem>,
    pub error: Option<UiError>,
    /// What the banner at the top of the window shows: an error not about one form field,
    /// or while rejoining, the connection being restored with "Reconnect now". Derived from
    /// the rest of the view ([`StudioView::banner_now`]) on every change.
    pub banner: Option<UiError>,
}

impl StudioView {
    /// The banner for the view as it is: the error if it is not a field's (a field's error
    /// shows beside its field), else the rejoin under way.
    pub fn banner_now(&self) -> Option<UiError> {
        match (&self.error, &self.phase) {
            (Some(error), _) if error.field.is_none() => Some(error.clone()),
            (_, Phase::Reconnecting { detail, .. }) => Some(UiError {
                action: crate::error::Action::ReconnectNow,
                ..UiError::new(crate::error::ErrorKind::Network, detail.clone())
            }),
            _ => None,
        }
    }
}

/// What pay-per-view earned: confirmed payments minus refunds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct EarningsView {
    pub currency: String,
    /// Over every stream, in cents.
    pub total_cents: f64,
    /// The newest stream that sold tickets.
    pub latest: Option<StreamEarningsView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct StreamEarningsView {
    pub title: String,
    pub total_cents: f64,
    pub paid_tickets: u32,
    pub refunded_tickets: u32,
}

impl From<&onair_client::Earnings> for EarningsView {
    fn from(e: &onair_client::Earnings) -> Self {
        Self {
            currency: e.currency.clone(),
            total_cents: e.total_cents as f64,
            latest: e.streams.first().map(|s| StreamEarningsView {
                title: s.title.clone(),
                total_cents: s.total_cents as f64,
                paid_tickets: s.paid_tickets.max(0) as u32,
                refunded_tickets: s.refunded_tickets.max(0) as u32,
            }),
        }
    }
}

impl Default for StudioView {
    fn default() -> Self {
        Self {
            account: None,
            phase: Phase::Offline,
            generation: 0,
            live_since_ms: None,
            viewers: None,
            chat_unread: 0,
            timeline: Vec::new(),
            stats: None,
            notices: Vec::new(),
            report: None,
            earnings: None,
            schedule: None,
            recording: None,
            recordings: Vec::new(),
            error: None,
            banner: None,
        }
    }
}

/// The meter: the level of the sound going out (or that would, before going live).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, specta::Type)]
pub struct MicLevel {
    pub rms_dbfs: f32,
    pub peak_dbfs: f32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Action, ErrorKind};

    #[test]
    fn while_rejoining_the_banner_says_why_and_offers_to_reconnect_now() {
        let view = StudioView {
            phase: Phase::Reconnecting {
                attempt: 2,
                detail: "rejoining (attempt 2): signal closed".into(),
            },
            ..StudioView::default()
        };
        let banner = view.banner_now().expect("a banner");
        assert_eq!(banner.kind, ErrorKind::Network);
        assert_eq!(banner.action, Action::ReconnectNow);
        assert_eq!(banner.message, "rejoining (attempt 2): signal closed");
    }

    #[test]
    fn an_error_takes_the_banner_unless_it_belongs_to_a_field() {
        let failed = UiError::new(ErrorKind::Connect, "could not join the room");
        let view = StudioView {
            error: Some(failed.clone()),
            phase: Phase::Reconnecting {
                attempt: 1,
                detail: "rejoining".into(),
            },
            ..StudioView::default()
        };
        assert_eq!(view.banner_now(), Some(failed));
        let field = StudioView {
            error: Some(UiError::field("title", "a title is needed")),
            ..StudioView::default()
        };
        assert_eq!(field.banner_now(), None);
        assert_eq!(StudioView::default().banner_now(), None);
    }

    #[test]
    fn earnings_show_the_total_and_the_newest_stream_that_sold_tickets() {
        let stream = |id, total, paid, refunded| onair_client::StreamEarnings {
            stream_id: id,
            title: format!("show {id}"),
            currency: "usd".into(),
            total_cents: total,
            paid_tickets: paid,
            refunded_tickets: refunded,
        };
        let view = EarningsView::from(&onair_client::Earnings {
            username: "alice".into(),
            currency: "usd".into(),
            total_cents: 1497,
            streams: vec![stream(9, 499, 2, 1), stream(4, 998, 2, 0)],
        });
        assert_eq!(view.total_cents, 1497.0);
        let latest = view.latest.unwrap();
        assert_eq!(
            (
                latest.title.as_str(),
                latest.total_cents,
                latest.paid_tickets,
                latest.refunded_tickets
            ),
            ("show 9", 499.0, 2, 1)
        );
        let none = EarningsView::from(&onair_client::Earnings {
            username: "alice".into(),
            currency: "usd".into(),
            total_cents: 0,
            streams: vec![],
        });
        assert_eq!(none.latest, None);
    }
}

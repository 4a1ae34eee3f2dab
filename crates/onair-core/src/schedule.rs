//! Scheduled streams: when one may be planned, for how long, how many at once, what state it
//! is in, and which one a Go Live takes over. The backend decides with these functions and
//! the studio checks with them as the creator types, so both refuse the same input with the
//! same words. Times are Unix milliseconds in UTC; showing them in a time zone is the
//! reader's business.

use serde::{Deserialize, Serialize};

use crate::validate::FieldError;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The earliest start, from now: a stream planned for less than a minute ahead is a Go Live.
pub const MIN_LEAD_MS: i64 = MINUTE_MS;
/// The latest start, from now.
pub const MAX_LEAD_MS: i64 = 365 * DAY_MS;
pub const DURATION_MIN_MINUTES: u32 = 1;
/// Twelve hours.
pub const DURATION_MAX_MINUTES: u32 = 720;
/// Upcoming (scheduled, not yet started) streams one streamer may have.
pub const MAX_UPCOMING: usize = 50;
pub const DESCRIPTION_MAX: usize = 2000;
/// A Go Live this long before a scheduled start takes that stream over.
pub const ATTACH_BEFORE_MS: i64 = 30 * MINUTE_MS;
/// … and this long after it.
pub const ATTACH_AFTER_MS: i64 = 2 * HOUR_MS;
/// By default a stream not started by the end of its Go Live window is missed.
pub const DEFAULT_GRACE_MS: i64 = ATTACH_AFTER_MS;

/// Where a scheduled stream is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ScheduleState {
    /// Planned, not started.
    Scheduled,
    Live,
    Ended,
    /// The creator called it off before it started.
    Cancelled,
    /// Not started within the grace period after its start.
    Missed,
}

impl ScheduleState {
    /// Still ahead: counts towards [`MAX_UPCOMING`], can be edited and cancelled.
    pub fn is_upcoming(self) -> bool {
        self == Self::Scheduled
    }
}

/// What decides a scheduled stream's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Slot {
    pub starts_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub cancelled_at_ms: Option<i64>,
    pub missed_at_ms: Option<i64>,
}

impl Slot {
    pub fn state(&self) -> ScheduleState {
        if self.ended_at_ms.is_some() && self.started_at_ms.is_some() {
            ScheduleState::Ended
        } else if self.started_at_ms.is_some() {
            ScheduleState::Live
        } else if self.cancelled_at_ms.is_some() {
            ScheduleState::Cancelled
        } else if self.missed_at_ms.is_some() {
            ScheduleState::Missed
        } else {
            ScheduleState::Scheduled
        }
    }

    /// Whether a stream still scheduled at `now_ms` has passed its grace period unstarted.
    pub fn is_overdue(&self, now_ms: i64, grace_ms: i64) -> bool {
        self.state() == ScheduleState::Scheduled && now_ms > self.starts_at_ms + grace_ms
    }

    /// Whether a Go Live at `now_ms` takes this stream over by itself.
    pub fn takes_go_live_at(&self, now_ms: i64) -> bool {
        self.state() == ScheduleState::Scheduled
            && now_ms >= self.starts_at_ms - ATTACH_BEFORE_MS
            && now_ms <= self.starts_at_ms + ATTACH_AFTER_MS
    }
}

/// The scheduled stream a Go Live at `now_ms` takes over, of `(id, slot)` pairs: among those
/// whose window holds `now_ms`, the one whose start is nearest (the earlier on a tie).
pub fn stream_for_go_live<I>(slots: I, now_ms: i64) -> Option<i64>
where
    I: IntoIterator<Item = (i64, Slot)>,
{
    slots
        .into_iter()
        .filter(|(_, slot)| slot.takes_go_live_at(now_ms))
        .min_by_key(|(_, slot)| ((slot.starts_at_ms - now_ms).abs(), slot.starts_at_ms))
        .map(|(id, _)| id)
}

fn field_error(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// A start time: at least a minute and at most a year after `now_ms`. Returned in whole
/// seconds (a calendar's times have no finer unit, so the feed and the API agree).
pub fn starts_at(now_ms: i64, starts_at_ms: i64) -> Result<i64, FieldError> {
    let field = "starts_at";
    // Any 64-bit number may arrive: no arithmetic here may overflow.
    let starts_at_ms = starts_at_ms.saturating_sub(starts_at_ms.rem_euclid(1000));
    if starts_at_ms < now_ms + MIN_LEAD_MS {
        return Err(field_error(
            field,
            if starts_at_ms < now_ms {
                "is in the past: pick a time at least a minute from now".to_owned()
            } else {
                "is less than a minute away: press Go Live instead, or pick a later time".to_owned()
            },
        ));
    }
    if starts_at_ms > now_ms + MAX_LEAD_MS {
        return Err(field_error(
            field,
            "is more than a year away: pick a time within a year",
        ));
    }
    Ok(starts_at_ms)
}

/// An expected duration in whole minutes: 1–720 (12 hours).
pub fn duration_minutes(minutes: i64) -> Result<u32, FieldError> {
    match u32::try_from(minutes) {
        Ok(m) if (DURATION_MIN_MINUTES..=DURATION_MAX_MINUTES).contains(&m) => Ok(m),
        _ => Err(field_error(
            "duration_minutes",
            format!(
                "must be {DURATION_MIN_MINUTES}–{DURATION_MAX_MINUTES} minutes (12 hours), not {minutes}"
            ),
        )),
    }
}

/// A description: trimmed, at most 2,000 characters, may be empty and may have several lines
/// (tabs and newlines are the only control characters kept).
pub fn description(input: &str) -> Result<String, FieldError> {
    let field = "description";
    let normalized = input.replace("\r\n", "\n");
    let trimmed = normalized.trim();
    let count = trimmed.chars().count();
    if count > DESCRIPTION_MAX {
        return Err(field_error(
            field,
            format!("must be at most {DESCRIPTION_MAX} characters, not {count}"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(field_error(
            field,
            "must not contain control characters other than newlines and tabs",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Whether one more upcoming stream fits beside `upcoming` ones.
pub fn room_for_another(upcoming: usize) -> Result<(), FieldError> {
    if upcoming >= MAX_UPCOMING {
        return Err(field_error(
            "starts_at",
            format!(
                "you already have {MAX_UPCOMING} upcoming streams: cancel one or wait until one has taken place"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn scheduled_at(starts_at_ms: i64) -> Slot {
        Slot {
            starts_at_ms,
            ..Slot::default()
        }
    }

    #[test]
    fn a_start_between_a_minute_and_a_year_ahead_is_accepted_and_anything_else_names_the_field() {
        assert_eq!(starts_at(NOW, NOW + MINUTE_MS), Ok(NOW + MINUTE_MS));
        assert_eq!(
            starts_at(NOW, NOW + 2 * MINUTE_MS + 999),
            Ok(NOW + 2 * MINUTE_MS)
        );
        assert_eq!(starts_at(NOW, NOW + MAX_LEAD_MS), Ok(NOW + MAX_LEAD_MS));
        for bad in [
            NOW - 1,
            NOW,
            NOW + MINUTE_MS - 1,
            NOW + MAX_LEAD_MS + 1000,
            NOW + 2 * MAX_LEAD_MS,
            i64::MIN,
            i64::MAX,
        ] {
            let err = starts_at(NOW, bad).unwrap_err();
            assert_eq!(err.field, "starts_at", "{bad}");
        }
        assert!(starts_at(NOW, NOW - 1)
            .unwrap_err()
            .message
            .contains("past"));
        assert!(starts_at(NOW, NOW + 1)
            .unwrap_err()
            .message
            .contains("Go Live"));
    }

    #[test]
    fn a_duration_must_be_one_to_seven_hundred_twenty_minutes() {
        assert_eq!(duration_minutes(1), Ok(1));
        assert_eq!(duration_minutes(720), Ok(720));
        for bad in [0, 721, -5, i64::from(u32::MAX) + 1] {
            assert_eq!(duration_minutes(bad).unwrap_err().field, "duration_minutes");
        }
    }

    #[test]
    fn a_description_is_trimmed_keeps_its_lines_and_refuses_other_control_characters() {
        assert_eq!(
            description("  two\r\nlines\t ok \n"),
            Ok("two\nlines\t ok".into())
        );
        assert_eq!(description(""), Ok(String::new()));
        assert!(description("bell\u{7}").is_err());
        assert!(description(&"é".repeat(DESCRIPTION_MAX)).is_ok());
        assert_eq!(
            description(&"a".repeat(DESCRIPTION_MAX + 1))
                .unwrap_err()
                .field,
            "description"
        );
    }

    #[test]
    fn the_fifty_first_upcoming_stream_is_refused() {
        assert!(room_for_another(MAX_UPCOMING - 1).is_ok());
        assert!(room_for_another(MAX_UPCOMING).is_err());
    }

    #[test]
    fn a_stream_goes_scheduled_live_ended_or_is_cancelled_or_missed() {
        let mut slot = scheduled_at(NOW);
        assert_eq!(slot.state(), ScheduleState::Scheduled);
        assert!(slot.state().is_upcoming());
        slot.started_at_ms = Some(NOW);
        assert_eq!(slot.state(), ScheduleState::Live);
        slot.ended_at_ms = Some(NOW + HOUR_MS);
        assert_eq!(slot.state(), ScheduleState::Ended);

        let cancelled = Slot {
            cancelled_at_ms: Some(NOW - HOUR_MS),
            ..scheduled_at(NOW)
        };
        assert_eq!(cancelled.state(), ScheduleState::Cancelled);
        let missed = Slot {
            missed_at_ms: Some(NOW + 3 * HOUR_MS),
            ..scheduled_at(NOW)
        };
        assert_eq!(missed.state(), ScheduleState::Missed);
        assert!(!missed.state().is_upcoming());
    }

    #[test]
    fn a_stream_is_overdue_only_once_its_grace_period_has_passed_unstarted() {
        let slot = scheduled_at(NOW);
        assert!(!slot.is_overdue(NOW + DEFAULT_GRACE_MS, DEFAULT_GRACE_MS));
        assert!(slot.is_overdue(NOW + DEFAULT_GRACE_MS + 1, DEFAULT_GRACE_MS));
        let started = Slot {
            started_at_ms: Some(NOW),
            ..slot
        };
        assert!(!started.is_overdue(NOW + 10 * DEFAULT_GRACE_MS, DEFAULT_GRACE_MS));
        let cancelled = Slot {
            cancelled_at_ms: Some(NOW),
            ..slot
        };
        assert!(!cancelled.is_overdue(NOW + 10 * DEFAULT_GRACE_MS, DEFAULT_GRACE_MS));
    }

    #[test]
    fn go_live_takes_over_a_stream_from_thirty_minutes_before_to_two_hours_after_its_start() {
        let slot = scheduled_at(NOW);
        assert!(slot.takes_go_live_at(NOW - ATTACH_BEFORE_MS));
        assert!(slot.takes_go_live_at(NOW));
        assert!(slot.takes_go_live_at(NOW + ATTACH_AFTER_MS));
        assert!(!slot.takes_go_live_at(NOW - ATTACH_BEFORE_MS - 1));
        assert!(!slot.takes_go_live_at(NOW - 3 * HOUR_MS));
        assert!(!slot.takes_go_live_at(NOW + ATTACH_AFTER_MS + 1));
        let cancelled = Slot {
            cancelled_at_ms: Some(NOW - DAY_MS),
            ..slot
        };
        assert!(!cancelled.takes_go_live_at(NOW));
    }

    #[test]
    fn go_live_takes_the_stream_starting_nearest_to_now() {
        let slots = [
            (1, scheduled_at(NOW - HOUR_MS)),
            (2, scheduled_at(NOW + 20 * MINUTE_MS)),
            (3, scheduled_at(NOW + DAY_MS)),
        ];
        assert_eq!(stream_for_go_live(slots, NOW), Some(2));
        assert_eq!(stream_for_go_live(slots, NOW - 3 * HOUR_MS), None);
        let tie = [
            (7, scheduled_at(NOW + 10 * MINUTE_MS)),
            (8, scheduled_at(NOW - 10 * MINUTE_MS)),
        ];
        assert_eq!(
            stream_for_go_live(tie, NOW),
            Some(8),
            "the earlier start on a tie"
        );
    }
}

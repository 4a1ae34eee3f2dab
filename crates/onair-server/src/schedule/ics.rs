//! Scheduled streams as iCalendar (RFC 5545): a feed per streamer that calendar apps
//! subscribe to, and one file per stream for "Add to calendar". Each stream keeps one UID for
//! its whole life and raises `SEQUENCE` with every change, so a subscribed calendar updates
//! the event instead of adding another; a cancelled or missed stream stays in the feed as
//! `STATUS:CANCELLED`, and once a stream has run its times are the actual start and end.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};
use onair_core::schedule::{ScheduleState, MINUTE_MS};

use super::store::ScheduleRow;

/// The feed's product identifier.
const PRODID: &str = "-//OnAir//Scheduled streams//EN";

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A stream's UID: its id and the feed's host, never anything that can change.
pub fn uid(id: i64, host: &str) -> String {
    format!("stream-{id}@{host}")
}

/// The event's start and end: the actual ones once it has run, the planned ones before (a
/// live stream ends when planned, as far as anyone knows yet).
fn times(row: &ScheduleRow) -> (i64, i64) {
    let planned = row.duration_minutes.max(1) * MINUTE_MS;
    match (row.state(), row.started_at, row.ended_at) {
        (ScheduleState::Ended, Some(start), Some(end)) => (start, end.max(start)),
        (ScheduleState::Live, Some(start), _) => (start, start + planned),
        _ => (row.scheduled_start, row.scheduled_start + planned),
    }
}

fn event(row: &ScheduleRow, host: &str, page_url: &str) -> Event {
    let (start, end) = times(row);
    let state = row.state();
    let mut description = row.description.clone();
    let note = match state {
        ScheduleState::Cancelled => Some("This stream was cancelled."),
        ScheduleState::Missed => Some("This stream did not take place."),
        _ => None,
    };
    if let Some(note) = note {
        description = if description.is_empty() {
            note.to_owned()
        } else {
            format!("{note}\n\n{description}")
        };
    }
    let status = match state {
        ScheduleState::Cancelled | ScheduleState::Missed => EventStatus::Cancelled,
        _ => EventStatus::Confirmed,
    };
    let changed = utc(row.changed_at());
    Event::new()
        .uid(&uid(row.id, host))
        .summary(&row.title)
        .description(&description)
        .starts(utc(start))
        .ends(utc(end))
        .status(status)
        .sequence(u32::try_from(row.sequence).unwrap_or(u32::MAX))
        .url(page_url)
        .timestamp(changed)
        .last_modified(changed)
        .done()
}

/// A calendar named `name` of `rows`, each linking to `page_url`.
pub fn calendar(name: &str, rows: &[ScheduleRow], host: &str, page_url: &str) -> String {
    let mut calendar = Calendar::empty();
    calendar.append_property(("VERSION", "2.0"));
    calendar.append_property(("PRODID", PRODID));
    calendar.append_property(("CALSCALE", "GREGORIAN"));
    calendar.append_property(("METHOD", "PUBLISH"));
    calendar.name(name);
    for row in rows {
        calendar.push(event(row, host, page_url));
    }
    calendar.done().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_800_000_000_000;

    fn row() -> ScheduleRow {
        ScheduleRow {
            id: 42,
            streamer_id: 1,
            username: "alice".into(),
            title: "Friday jam; bring snacks, and friends".into(),
            description: "Line one\nLine two with a backslash \\ and more".into(),
            scheduled_start: START,
            duration_minutes: 90,
            ppv_price_cents: None,
            sequence: 0,
            created_at: START - 86_400_000,
            updated_at: None,
            started_at: None,
            ended_at: None,
            cancelled_at: None,
            missed_at: None,
        }
    }

    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "").replace("\r\n\t", "")
    }

    fn property<'a>(unfolded: &'a str, name: &str) -> Vec<&'a str> {
        unfolded
            .split("\r\n")
            .filter_map(|line| line.strip_prefix(name))
            .filter_map(|rest| {
                rest.strip_prefix(':')
                    .or_else(|| rest.split_once(':').map(|(_, v)| v))
            })
            .collect()
    }

    #[test]
    fn a_planned_stream_is_a_confirmed_event_at_its_utc_start_with_a_stable_uid() {
        let text = calendar(
            "alice on OnAir",
            &[row()],
            "onair.test",
            "http://onair.test/live/alice",
        );
        let unfolded = unfold(&text);
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
        assert!(text.ends_with("END:VCALENDAR\r\n"), "{text}");
        assert_eq!(property(&unfolded, "UID"), ["stream-42@onair.test"]);
        assert_eq!(property(&unfolded, "DTSTART"), ["20270115T080000Z"]);
        assert_eq!(property(&unfolded, "DTEND"), ["20270115T093000Z"]);
        assert_eq!(property(&unfolded, "STATUS"), ["CONFIRMED"]);
        assert_eq!(property(&unfolded, "SEQUENCE"), ["0"]);
        assert_eq!(property(&unfolded, "PRODID"), [PRODID]);
    }

    #[test]
    fn text_is_escaped_and_every_line_is_folded_to_75_octets_with_crlf() {
        let mut long = row();
        long.description = "Ünïcödé ".repeat(40);
        let text = calendar(
            "alice on OnAir",
            &[long, row()],
            "onair.test",
            "http://onair.test/live/alice",
        );
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
            assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        }
        let unfolded = unfold(&text);
        assert!(
            property(&unfolded, "SUMMARY").contains(&"Friday jam\\; bring snacks\\, and friends"),
            "{unfolded}"
        );
        assert!(
            property(&unfolded, "DESCRIPTION")
                .contains(&"Line one\\nLine two with a backslash \\\\ and more"),
            "{unfolded}"
        );
        assert!(unfolded.contains(&"Ünïcödé ".repeat(40).trim_end().to_owned()));
    }

    #[test]
    fn a_cancelled_or_missed_stream_stays_in_the_feed_as_cancelled_with_its_sequence() {
        let cancelled = ScheduleRow {
            cancelled_at: Some(START - 1000),
            sequence: 2,
            ..row()
        };
        let unfolded = unfold(&calendar("c", &[cancelled], "h", "u"));
        assert_eq!(property(&unfolded, "STATUS"), ["CANCELLED"]);
        assert_eq!(property(&unfolded, "SEQUENCE"), ["2"]);
        assert!(property(&unfolded, "DESCRIPTION")[0].starts_with("This stream was cancelled."));

        let missed = ScheduleRow {
            missed_at: Some(START + 7_200_001),
            ..row()
        };
        let unfolded = unfold(&calendar("c", &[missed], "h", "u"));
        assert_eq!(property(&unfolded, "STATUS"), ["CANCELLED"]);
        assert!(
            property(&unfolded, "DESCRIPTION")[0].starts_with("This stream did not take place.")
        );
    }

    #[test]
    fn after_the_stream_its_event_has_the_actual_start_and_end() {
        let ran = ScheduleRow {
            started_at: Some(START + 5 * 60_000),
            ended_at: Some(START + 47 * 60_000),
            ..row()
        };
        let unfolded = unfold(&calendar("c", &[ran], "h", "u"));
        assert_eq!(property(&unfolded, "DTSTART"), ["20270115T080500Z"]);
        assert_eq!(property(&unfolded, "DTEND"), ["20270115T084700Z"]);
        assert_eq!(property(&unfolded, "STATUS"), ["CONFIRMED"]);
    }
}

//! The studio's Schedule view: the creator's scheduled streams as the window lists them, the
//! form that plans or changes one (its time typed in this computer's time zone), and the
//! tray's "Next: Fri 18:00 — Title". Pure: times come in as arguments; the studio fetches and
//! sends (`studio::schedule`).

use chrono::{DateTime, Local, NaiveDateTime, TimeZone};
use onair_core::schedule::{self as rules, ScheduleState, Slot};
use onair_core::wire::schedule::{ScheduleRequest, ScheduledStream};
use serde::{Deserialize, Serialize};

use crate::error::UiError;

/// One scheduled stream in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduledItem {
    /// The stream's id (a whole number; `f64` because JavaScript has no 64-bit integers).
    pub id: f64,
    pub title: String,
    pub description: String,
    /// Unix ms.
    pub starts_at_ms: f64,
    /// As a `datetime-local` input holds it, in this computer's time zone ("2026-12-11T18:00").
    pub starts_local: String,
    /// For reading: "Fri 11 Dec 18:00".
    pub when: String,
    pub duration_minutes: u32,
    /// The price as it would be typed ("4.99"); empty for a free stream.
    pub ppv_price: String,
    pub state: ScheduleState,
    /// A Go Live now takes this stream over: of those whose start is 30 minutes away or up to
    /// 2 hours past, the one nearest now (the backend's choice, `stream_for_go_live`).
    pub goes_live_now: bool,
}

/// What the Schedule view lists: upcoming streams (soonest first), then the last 30 days'
/// ended, cancelled and missed ones (newest first). The one live now is in neither.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduleView {
    pub upcoming: Vec<ScheduledItem>,
    pub past: Vec<ScheduledItem>,
}

/// The form that plans a stream or changes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct ScheduleForm {
    pub title: String,
    pub description: String,
    /// `datetime-local`'s value: "2026-12-11T18:00", in this computer's time zone.
    pub starts_local: String,
    /// As typed.
    pub duration_minutes: String,
    /// As typed ("4.99"); empty for a free stream.
    pub ppv_price: String,
}

fn local(ms: i64) -> Option<DateTime<Local>> {
    Local.timestamp_millis_opt(ms).single()
}

/// "Fri 11 Dec 18:00" in this computer's time zone.
pub fn when(ms: i64) -> String {
    local(ms).map_or_else(String::new, |t| t.format("%a %-d %b %H:%M").to_string())
}

fn price_text(cents: Option<i64>) -> String {
    cents.map_or_else(String::new, |c| format!("{}.{:02}", c / 100, c % 100))
}

fn slot(stream: &ScheduledStream) -> Slot {
    Slot {
        starts_at_ms: stream.starts_at,
        started_at_ms: stream.started_at,
        ended_at_ms: stream.ended_at,
        cancelled_at_ms: stream.cancelled_at,
        missed_at_ms: (stream.state == ScheduleState::Missed).then_some(stream.starts_at),
    }
}

/// One stream as the window lists it; `goes_live_now` as `view` decided it.
fn item(stream: &ScheduledStream, goes_live_now: bool) -> ScheduledItem {
    ScheduledItem {
        id: stream.id as f64,
        title: stream.title.clone(),
        description: stream.description.clone(),
        starts_at_ms: stream.starts_at as f64,
        starts_local: local(stream.starts_at)
            .map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M").to_string()),
        when: when(stream.starts_at),
        duration_minutes: stream.duration_minutes,
        ppv_price: price_text(stream.ppv_price_cents),
        state: stream.state,
        goes_live_now,
    }
}

/// The view of `streams` (as the backend lists them) at `now_ms`.
pub fn view(streams: &[ScheduledStream], now_ms: i64) -> ScheduleView {
    let upcoming_slots = streams
        .iter()
        .filter(|s| s.state.is_upcoming())
        .map(|s| (s.id, slot(s)));
    let taken = rules::stream_for_go_live(upcoming_slots, now_ms);
    let (mut upcoming, mut past): (Vec<_>, Vec<_>) = streams
        .iter()
        .filter(|s| s.state != ScheduleState::Live)
        .map(|s| item(s, Some(s.id) == taken))
        .partition(|i| i.state.is_upcoming());
    upcoming.sort_by(|a, b| a.starts_at_ms.total_cmp(&b.starts_at_ms));
    past.sort_by(|a, b| b.starts_at_ms.total_cmp(&a.starts_at_ms));
    ScheduleView { upcoming, past }
}

/// The form as a request, each field checked with the rules the backend applies (so a
/// mistake shows beside its field before anything is sent).
pub fn request(form: &ScheduleForm, now_ms: i64) -> Result<ScheduleRequest, UiError> {
    let title = onair_core::validate::title(&form.title)?;
    let description = rules::description(&form.description)?;
    let naive = NaiveDateTime::parse_from_str(form.starts_local.trim(), "%Y-%m-%dT%H:%M")
        .map_err(|_| UiError::field("starts_at", "pick a date and a time"))?;
    let starts_at = Local
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(|| {
            UiError::field(
                "starts_at",
                "that time does not exist here (the clocks change then): pick another",
            )
        })?
        .timestamp_millis();
    let starts_at = rules::starts_at(now_ms, starts_at)?;
    let minutes: i64 = form
        .duration_minutes
        .trim()
        .parse()
        .map_err(|_| UiError::field("duration_minutes", "write the length in whole minutes"))?;
    let duration_minutes = rules::duration_minutes(minutes)?;
    let price = form.ppv_price.trim();
    if !price.is_empty() {
        onair_core::validate::price_cents(price)?;
    }
    Ok(ScheduleRequest {
        title,
        description,
        starts_at,
        duration_minutes: i64::from(duration_minutes),
        ppv_price: (!price.is_empty()).then(|| serde_json::Value::String(price.to_owned())),
    })
}

/// The tray's line while offline: "Next: Fri 18:00 — Title" for the soonest upcoming stream.
pub fn next_line(view: &ScheduleView) -> Option<String> {
    let next = view.upcoming.first()?;
    let short = local(next.starts_at_ms as i64)
        .map_or_else(String::new, |t| t.format("%a %H:%M").to_string());
    Some(format!("Next: {short} — {}", next.title))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn stream(id: i64, starts_at: i64, state: ScheduleState) -> ScheduledStream {
        ScheduledStream {
            id,
            username: "alice".into(),
            title: format!("Stream {id}"),
            description: String::new(),
            starts_at,
            duration_minutes: 60,
            ppv_price_cents: Some(499),
            currency: "usd".into(),
            state,
            sequence: 0,
            started_at: None,
            ended_at: None,
            cancelled_at: None,
        }
    }

    fn form(starts_local: &str) -> ScheduleForm {
        ScheduleForm {
            title: "Friday jam".into(),
            description: String::new(),
            starts_local: starts_local.into(),
            duration_minutes: "90".into(),
            ppv_price: "4.99".into(),
        }
    }

    fn local_input(ms: i64) -> String {
        local(ms).unwrap().format("%Y-%m-%dT%H:%M").to_string()
    }

    #[test]
    fn a_form_typed_in_local_time_becomes_a_utc_request() {
        let at = NOW + 2 * 3_600_000;
        let request = request(&form(&local_input(at)), NOW).unwrap();
        assert_eq!(request.starts_at, at - at.rem_euclid(60_000));
        assert_eq!(request.duration_minutes, 90);
        assert_eq!(request.ppv_price, Some(serde_json::json!("4.99")));
    }

    #[test]
    fn each_wrong_field_is_named_before_anything_is_sent() {
        let field = |f: ScheduleForm| request(&f, NOW).unwrap_err().field.unwrap();
        assert_eq!(field(form("")), "starts_at");
        assert_eq!(field(form(&local_input(NOW - 3_600_000))), "starts_at");
        let ahead = local_input(NOW + 3_600_000);
        assert_eq!(
            field(ScheduleForm {
                duration_minutes: "721".into(),
                ..form(&ahead)
            }),
            "duration_minutes"
        );
        assert_eq!(
            field(ScheduleForm {
                duration_minutes: "an hour".into(),
                ..form(&ahead)
            }),
            "duration_minutes"
        );
        assert_eq!(
            field(ScheduleForm {
                title: " ".into(),
                ..form(&ahead)
            }),
            "title"
        );
        assert_eq!(
            field(ScheduleForm {
                ppv_price: "1000".into(),
                ..form(&ahead)
            }),
            "ppv_price"
        );
    }

    #[test]
    fn the_view_lists_upcoming_streams_apart_and_marks_the_one_go_live_takes_now() {
        let streams = [
            stream(1, NOW + 10 * 60_000, ScheduleState::Scheduled),
            stream(2, NOW + 86_400_000, ScheduleState::Scheduled),
            stream(3, NOW - 86_400_000, ScheduleState::Cancelled),
        ];
        let view = view(&streams, NOW);
        assert_eq!(view.upcoming.len(), 2);
        assert!(view.upcoming[0].goes_live_now);
        assert!(!view.upcoming[1].goes_live_now);
        assert_eq!(view.past[0].state, ScheduleState::Cancelled);
        assert_eq!(view.upcoming[0].ppv_price, "4.99");
        assert_eq!(
            view.upcoming[0].starts_local,
            local_input(NOW + 10 * 60_000)
        );
    }

    #[test]
    fn go_live_is_shown_taking_the_stream_nearest_now_as_the_backend_picks_it() {
        let streams = [
            stream(1, NOW - 60 * 60_000, ScheduleState::Scheduled),
            stream(2, NOW + 20 * 60_000, ScheduleState::Scheduled),
            stream(3, NOW - 86_400_000, ScheduleState::Ended),
            stream(4, NOW - 2 * 86_400_000, ScheduleState::Cancelled),
            stream(5, NOW - 10 * 60_000, ScheduleState::Live),
        ];
        let view = view(&streams, NOW);
        let marked: Vec<_> = view
            .upcoming
            .iter()
            .map(|i| (i.id, i.goes_live_now))
            .collect();
        assert_eq!(marked, [(1.0, false), (2.0, true)]);
        let past: Vec<_> = view.past.iter().map(|i| i.id).collect();
        assert_eq!(past, [3.0, 4.0], "newest first, the live one in neither");
    }

    #[test]
    fn the_tray_names_the_next_stream_with_its_day_and_time() {
        let view = view(
            &[stream(1, NOW + 10 * 60_000, ScheduleState::Scheduled)],
            NOW,
        );
        let line = next_line(&view).unwrap();
        assert!(line.starts_with("Next: "), "{line}");
        assert!(line.ends_with(" — Stream 1"), "{line}");
        assert_eq!(next_line(&super::view(&[], NOW)), None);
    }
}

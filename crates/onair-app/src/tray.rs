//! The tray as a projection of the studio's view: one pure function decides what every item
//! says and whether it is enabled; the shell applies it on every change. Linux trays deliver
//! no clicks, so every action is a menu item.

use serde::{Deserialize, Serialize};

use crate::view::{Phase, StudioView};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum TrayIcon {
    Idle,
    Live,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct TrayModel {
    pub go_live_enabled: bool,
    pub end_enabled: bool,
    /// The disabled status line.
    pub status: String,
    pub icon: TrayIcon,
}

fn clock(ms: f64) -> String {
    let s = (ms.max(0.0) / 1000.0) as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// What the tray shows for `view` at `now_ms` (Unix ms, for the time on air).
pub fn tray_model(view: &StudioView, now_ms: f64) -> TrayModel {
    let signed_in = view.account.is_some();
    let status = match &view.phase {
        Phase::Offline if !signed_in => "Offline · not signed in".to_owned(),
        Phase::Offline => match view.schedule.as_ref().and_then(crate::schedule::next_line) {
            Some(next) => format!("Offline · {next}"),
            None => "Offline".to_owned(),
        },
        Phase::Preparing | Phase::Connecting => "Going live…".to_owned(),
        Phase::Live => {
            let viewers = match &view.viewers {
                Some(v) => {
                    let noun = if v.count == 1 { "viewer" } else { "viewers" };
                    let stale = if v.stale { " (not current)" } else { "" };
                    format!("{} {noun}{stale}", v.count)
                }
                None => "viewers unknown".to_owned(),
            };
            let since = view.live_since_ms.map_or(0.0, |t| now_ms - t);
            format!("Live · {viewers} · {}", clock(since))
        }
        Phase::Reconnecting { .. } => "Reconnecting…".to_owned(),
        Phase::Ending => "Ending…".to_owned(),
    };
    // With the window closed, the tray is where the creator learns someone wrote.
    let status = match view.chat_unread {
        0 => status,
        1 => format!("{status} · 1 new chat message"),
        n => format!("{status} · {n} new chat messages"),
    };
    TrayModel {
        go_live_enabled: signed_in && view.phase == Phase::Offline,
        end_enabled: view.phase.is_active(),
        status,
        icon: match view.phase {
            Phase::Live | Phase::Reconnecting { .. } => TrayIcon::Live,
            _ => TrayIcon::Idle,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{Account, ViewersView};

    fn signed_in(phase: Phase) -> StudioView {
        StudioView {
            account: Some(Account {
                backend_url: "http://127.0.0.1:8080".into(),
                username: "alice".into(),
            }),
            phase,
            ..StudioView::default()
        }
    }

    #[test]
    fn offline_and_signed_in_offers_go_live_only() {
        let m = tray_model(&signed_in(Phase::Offline), 0.0);
        assert!(m.go_live_enabled && !m.end_enabled);
        assert_eq!((m.status.as_str(), m.icon), ("Offline", TrayIcon::Idle));
    }

    #[test]
    fn offline_with_a_stream_scheduled_names_the_next_one() {
        let mut view = signed_in(Phase::Offline);
        view.schedule = Some(crate::schedule::ScheduleView {
            upcoming: vec![crate::schedule::ScheduledItem {
                id: 7.0,
                title: "Friday jam".into(),
                description: String::new(),
                starts_at_ms: 1_800_000_000_000.0,
                starts_local: String::new(),
                when: String::new(),
                duration_minutes: 60,
                ppv_price: String::new(),
                state: onair_core::schedule::ScheduleState::Scheduled,
                goes_live_now: false,
            }],
            past: Vec::new(),
        });
        let m = tray_model(&view, 0.0);
        assert!(m.status.starts_with("Offline · Next: "), "{}", m.status);
        assert!(m.status.ends_with(" — Friday jam"), "{}", m.status);
    }

    #[test]
    fn signed_out_offers_neither_and_says_why() {
        let m = tray_model(&StudioView::default(), 0.0);
        assert!(!m.go_live_enabled && !m.end_enabled);
        assert_eq!(m.status, "Offline · not signed in");
    }

    #[test]
    fn live_shows_viewers_and_time_on_air_with_the_live_icon() {
        let mut view = signed_in(Phase::Live);
        view.live_since_ms = Some(1_000.0);
        view.viewers = Some(ViewersView {
            count: 12,
            peak: 12,
            confirmed_at_ms: Some(1.0),
            stale: false,
        });
        let m = tray_model(&view, 1_000.0 + 845_000.0);
        assert_eq!(m.status, "Live · 12 viewers · 00:14:05");
        assert!(!m.go_live_enabled && m.end_enabled);
        assert_eq!(m.icon, TrayIcon::Live);
    }

    #[test]
    fn one_viewer_is_singular_and_a_stale_count_says_so() {
        let mut view = signed_in(Phase::Live);
        view.live_since_ms = Some(0.0);
        view.viewers = Some(ViewersView {
            count: 1,
            peak: 1,
            confirmed_at_ms: None,
            stale: true,
        });
        assert_eq!(
            tray_model(&view, 3_600_000.0).status,
            "Live · 1 viewer (not current) · 01:00:00"
        );
    }

    #[test]
    fn unread_chat_is_counted_on_the_status_line_until_seen() {
        let mut view = signed_in(Phase::Live);
        view.live_since_ms = Some(0.0);
        view.chat_unread = 3;
        assert_eq!(
            tray_model(&view, 61_000.0).status,
            "Live · viewers unknown · 00:01:01 · 3 new chat messages"
        );
        view.chat_unread = 1;
        assert!(tray_model(&view, 0.0)
            .status
            .ends_with(" · 1 new chat message"));
        view.chat_unread = 0;
        assert!(!tray_model(&view, 0.0).status.contains("chat"));
    }

    #[test]
    fn every_phase_between_go_live_and_ended_allows_end_only() {
        for phase in [
            Phase::Preparing,
            Phase::Connecting,
            Phase::Reconnecting {
                attempt: 2,
                detail: "server gone".into(),
            },
        ] {
            let m = tray_model(&signed_in(phase.clone()), 0.0);
            assert!(!m.go_live_enabled && m.end_enabled, "{phase:?}");
        }
        let m = tray_model(&signed_in(Phase::Ending), 0.0);
        assert!(!m.go_live_enabled && !m.end_enabled);
        assert_eq!(m.status, "Ending…");
    }
}

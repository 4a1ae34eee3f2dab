//! Counting a stream's viewers from LiveKit's webhooks so the count cannot drift: webhooks
//! can be lost, repeated or arrive out of order, and a periodic `ListParticipants` snapshot
//! corrects whatever they got wrong.
//!
//! The count is the number of distinct viewer identities among the participant sessions
//! (sids) present. A sid is added when it joins and removed for good when it leaves: a
//! `left` that overtakes its own `joined` leaves a tombstone so the late `joined` is ignored,
//! and a repeated event changes nothing. The creator, hidden participants, recorders, agents
//! and non-standard participants (egress, ingress, SIP) never count.

use std::collections::{HashMap, HashSet, VecDeque};

/// A stream's viewer count as the backend publishes it (`GET …/viewers`, and each `viewers`
/// event of `…/viewers/events`), and as the studio and the viewer page read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ViewerCount {
    /// Whether the creator is on air.
    pub live: bool,
    /// Viewers watching now (distinct identities; the creator never counts).
    pub viewers: u32,
    /// Most viewers at once during the current (or, once ended, the last) stream.
    pub peak: u32,
    /// When the server last confirmed the count (a webhook or a check against LiveKit), Unix
    /// milliseconds; absent until the first confirmation.
    pub confirmed_at: Option<i64>,
    /// The stream on air, or the one that just ended.
    pub stream_id: Option<i64>,
    /// Tracks the creator publishes (0 while joining, 2 with camera and mic).
    pub publisher_tracks: u32,
}

impl ViewerCount {
    /// Nobody on air.
    pub fn offline() -> Self {
        Self {
            live: false,
            viewers: 0,
            peak: 0,
            confirmed_at: None,
            stream_id: None,
            publisher_tracks: 0,
        }
    }
}

/// What kind of client a participant is (LiveKit's `ParticipantInfo.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantKind {
    Standard,
    Ingress,
    Egress,
    Sip,
    Agent,
    Other,
}

/// The facts about a participant that decide whether it is a viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub sid: String,
    pub identity: String,
    pub kind: ParticipantKind,
    pub hidden: bool,
    pub recorder: bool,
    pub agent: bool,
    /// Fully connected (LiveKit's ACTIVE). Snapshots also list participants still joining.
    pub active: bool,
    /// When it joined, milliseconds since the Unix epoch (0 if unknown).
    pub joined_at_ms: i64,
}

impl Participant {
    /// Whether this participant counts as a viewer of `publisher_identity`'s stream.
    pub fn is_viewer(&self, publisher_identity: &str) -> bool {
        self.identity != publisher_identity
            && self.kind == ParticipantKind::Standard
            && !self.hidden
            && !self.recorder
            && !self.agent
    }
}

/// A participant webhook, reduced to what counting needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantEvent {
    /// LiveKit's event id (`EV_…`), for dropping repeats.
    pub id: String,
    /// When the server emitted it, seconds since the Unix epoch.
    pub created_at_s: i64,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `participant_joined`.
    Joined(Participant),
    /// `participant_left` or `participant_connection_aborted`.
    Left(Participant),
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The count changed to this.
    Changed(usize),
    /// Applied, the count is the same (a second session of the same viewer, say).
    Unchanged,
    /// Seen before (same event id), or about a session that already left.
    Stale,
    /// Not a viewer (the creator, a recorder…).
    NotAViewer,
}

/// How many event ids to remember for dropping repeats. LiveKit retries within minutes, and
/// the sid rules make an old repeat harmless anyway; this only saves work.
const REMEMBERED_EVENT_IDS: usize = 4096;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Session {
    identity: String,
    since_ms: i64,
    /// When we learnt of it: a snapshot requested before then cannot know about it.
    added_at_ms: i64,
}

/// The viewers of one stream (one LiveKit room), with the figures its record keeps.
///
/// Serializable so a backend can persist it and carry a live stream's figures across a
/// restart; remembered event ids are not kept (after a restart the sid rules alone make a
/// repeated event harmless).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ViewerTally {
    publisher_identity: String,
    present: HashMap<String, Session>,
    /// Sids that left: a `joined` arriving after its own `left` must not bring them back.
    gone: HashSet<String>,
    #[serde(skip)]
    seen_ids: HashSet<String>,
    #[serde(skip)]
    seen_order: VecDeque<String>,
    unique: HashSet<String>,
    peak: usize,
    /// Watch time of sessions that have ended.
    closed_watch_ms: i64,
}

impl ViewerTally {
    pub fn new(publisher_identity: impl Into<String>) -> Self {
        Self {
            publisher_identity: publisher_identity.into(),
            present: HashMap::new(),
            gone: HashSet::new(),
            seen_ids: HashSet::new(),
            seen_order: VecDeque::new(),
            unique: HashSet::new(),
            peak: 0,
            closed_watch_ms: 0,
        }
    }

    /// Viewers watching now: distinct identities among the sessions present.
    pub fn viewers(&self) -> usize {
        self.present
            .values()
            .map(|s| s.identity.as_str())
            .collect::<HashSet<_>>()
            .len()
    }

    /// The most viewers at once so far.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Distinct viewer identities that ever watched.
    pub fn unique_viewers(&self) -> usize {
        self.unique.len()
    }

    /// Total time viewers have been connected, sessions still open counted up to `now_ms`.
    pub fn watch_time_ms(&self, now_ms: i64) -> i64 {
        self.closed_watch_ms
            + self
                .present
                .values()
                .map(|s| (now_ms - s.since_ms).max(0))
                .sum::<i64>()
    }

    /// Applies one webhook received at `now_ms`.
    pub fn apply(&mut self, event: &ParticipantEvent, now_ms: i64) -> Outcome {
        if !self.remember(&event.id) {
            return Outcome::Stale;
        }
        let before = self.viewers();
        match &event.change {
            Change::Joined(p) => {
                if !p.is_viewer(&self.publisher_identity) {
                    return Outcome::NotAViewer;
                }
                if self.gone.contains(&p.sid) || self.present.contains_key(&p.sid) {
                    return Outcome::Stale;
                }
                let since_ms = if p.joined_at_ms > 0 {
                    p.joined_at_ms.min(now_ms)
                } else {
                    event_time_ms(event.created_at_s, now_ms)
                };
                self.add(p, since_ms, now_ms);
            }
            Change::Left(p) => {
                if !p.is_viewer(&self.publisher_identity) {
                    return Outcome::NotAViewer;
                }
                if !self.gone.insert(p.sid.clone()) {
                    return Outcome::Stale;
                }
                self.remove(&p.sid, event_time_ms(event.created_at_s, now_ms));
            }
        }
        self.outcome(before)
    }

    /// Makes the tally agree with a `ListParticipants` snapshot requested at `requested_at_ms`
    /// and applied at `now_ms`: sessions the server no longer lists have left (unless a
    /// webhook announced them after the request went out); active viewers it lists that
    /// webhooks never announced are added (unless they are known to have left already).
    pub fn reconcile(
        &mut self,
        snapshot: &[Participant],
        requested_at_ms: i64,
        now_ms: i64,
    ) -> Outcome {
        let before = self.viewers();
        let listed: HashMap<&str, &Participant> = snapshot
            .iter()
            .filter(|p| p.is_viewer(&self.publisher_identity))
            .map(|p| (p.sid.as_str(), p))
            .collect();
        let vanished: Vec<String> = self
            .present
            .iter()
            .filter(|(sid, s)| {
                !listed.contains_key(sid.as_str()) && s.added_at_ms < requested_at_ms
            })
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in vanished {
            self.gone.insert(sid.clone());
            self.remove(&sid, now_ms);
        }
        for p in listed.values() {
            if p.active && !self.present.contains_key(&p.sid) && !self.gone.contains(&p.sid) {
                let since_ms = if p.joined_at_ms > 0 {
                    p.joined_at_ms.min(now_ms)
                } else {
                    now_ms
                };
                self.add(p, since_ms, now_ms);
            }
        }
        self.outcome(before)
    }

    /// Ends every open session at `now_ms` (the stream ended); returns the final count, 0.
    pub fn end_all(&mut self, now_ms: i64) -> usize {
        let sids: Vec<String> = self.present.keys().cloned().collect();
        for sid in sids {
            self.gone.insert(sid.clone());
            self.remove(&sid, now_ms);
        }
        self.viewers()
    }

    fn add(&mut self, p: &Participant, since_ms: i64, now_ms: i64) {
        self.present.insert(
            p.sid.clone(),
            Session {
                identity: p.identity.clone(),
                since_ms,
                added_at_ms: now_ms,
            },
        );
        self.unique.insert(p.identity.clone());
        self.peak = self.peak.max(self.viewers());
    }

    fn remove(&mut self, sid: &str, at_ms: i64) {
        if let Some(session) = self.present.remove(sid) {
            self.closed_watch_ms += (at_ms - session.since_ms).max(0);
        }
    }

    fn outcome(&self, before: usize) -> Outcome {
        let after = self.viewers();
        if after == before {
            Outcome::Unchanged
        } else {
            Outcome::Changed(after)
        }
    }

    /// Records an event id; false if it was seen before.
    fn remember(&mut self, id: &str) -> bool {
        if id.is_empty() {
            return true;
        }
        if !self.seen_ids.insert(id.to_owned()) {
            return false;
        }
        self.seen_order.push_back(id.to_owned());
        if self.seen_order.len() > REMEMBERED_EVENT_IDS {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen_ids.remove(&old);
            }
        }
        true
    }
}

/// When an event happened: its `created_at` has whole seconds only, so a timely event is
/// timed on receipt, and a late one no later than the end of its second.
fn event_time_ms(created_at_s: i64, now_ms: i64) -> i64 {
    if created_at_s <= 0 {
        return now_ms;
    }
    now_ms.min(created_at_s * 1000 + 999)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn viewer(sid: &str, identity: &str) -> Participant {
        Participant {
            sid: sid.into(),
            identity: identity.into(),
            kind: ParticipantKind::Standard,
            hidden: false,
            recorder: false,
            agent: false,
            active: true,
            joined_at_ms: 0,
        }
    }

    fn joined(id: &str, p: Participant) -> ParticipantEvent {
        ParticipantEvent {
            id: id.into(),
            created_at_s: 0,
            change: Change::Joined(p),
        }
    }

    fn left(id: &str, p: Participant) -> ParticipantEvent {
        ParticipantEvent {
            id: id.into(),
            created_at_s: 0,
            change: Change::Left(p),
        }
    }

    #[test]
    fn three_viewers_join_then_two_leave() {
        let mut t = ViewerTally::new("creator");
        assert_eq!(
            t.apply(&joined("e1", viewer("PA", "a")), T0),
            Outcome::Changed(1)
        );
        assert_eq!(
            t.apply(&joined("e2", viewer("PB", "b")), T0),
            Outcome::Changed(2)
        );
        assert_eq!(
            t.apply(&joined("e3", viewer("PC", "c")), T0),
            Outcome::Changed(3)
        );
        assert_eq!(
            t.apply(&left("e4", viewer("PA", "a")), T0),
            Outcome::Changed(2)
        );
        assert_eq!(
            t.apply(&left("e5", viewer("PB", "b")), T0),
            Outcome::Changed(1)
        );
        assert_eq!((t.viewers(), t.peak(), t.unique_viewers()), (1, 3, 3));
    }

    #[test]
    fn the_creator_recorders_agents_hidden_and_egress_never_count() {
        let mut t = ViewerTally::new("creator");
        let mut hidden = viewer("P2", "ghost");
        hidden.hidden = true;
        let mut recorder = viewer("P3", "rec");
        recorder.recorder = true;
        let mut agent = viewer("P4", "bot");
        agent.agent = true;
        let mut egress = viewer("P5", "egress");
        egress.kind = ParticipantKind::Egress;
        for (i, p) in [viewer("P1", "creator"), hidden, recorder, agent, egress]
            .into_iter()
            .enumerate()
        {
            assert_eq!(
                t.apply(&joined(&format!("e{i}"), p), T0),
                Outcome::NotAViewer
            );
        }
        assert_eq!(t.viewers(), 0);
    }

    #[test]
    fn a_replayed_webhook_does_not_count_twice() {
        let mut t = ViewerTally::new("creator");
        t.apply(&joined("e1", viewer("PA", "a")), T0);
        assert_eq!(
            t.apply(&joined("e1", viewer("PA", "a")), T0),
            Outcome::Stale
        );
        // The same join under another id (a resend) is still one session.
        assert_eq!(
            t.apply(&joined("e9", viewer("PA", "a")), T0),
            Outcome::Stale
        );
        assert_eq!(t.viewers(), 1);
    }

    #[test]
    fn a_leave_that_overtakes_its_join_keeps_the_viewer_out() {
        let mut t = ViewerTally::new("creator");
        assert_eq!(
            t.apply(&left("e2", viewer("PA", "a")), T0),
            Outcome::Unchanged
        );
        assert_eq!(
            t.apply(&joined("e1", viewer("PA", "a")), T0),
            Outcome::Stale
        );
        assert_eq!(t.viewers(), 0);
    }

    #[test]
    fn the_count_never_goes_negative() {
        let mut t = ViewerTally::new("creator");
        t.apply(&left("e1", viewer("PA", "a")), T0);
        t.apply(&left("e2", viewer("PB", "b")), T0);
        assert_eq!(t.viewers(), 0);
    }

    #[test]
    fn one_person_on_two_sessions_is_one_viewer() {
        let mut t = ViewerTally::new("creator");
        t.apply(&joined("e1", viewer("PA1", "a")), T0);
        assert_eq!(
            t.apply(&joined("e2", viewer("PA2", "a")), T0),
            Outcome::Unchanged
        );
        assert_eq!(
            t.apply(&left("e3", viewer("PA1", "a")), T0),
            Outcome::Unchanged
        );
        assert_eq!(t.viewers(), 1);
        assert_eq!(t.unique_viewers(), 1);
    }

    #[test]
    fn reconciling_adds_viewers_whose_join_was_lost_and_drops_those_whose_leave_was_lost() {
        let mut t = ViewerTally::new("creator");
        t.apply(&joined("e1", viewer("PA", "a")), T0);
        t.apply(&joined("e2", viewer("PB", "b")), T0);
        let mut joining = viewer("PD", "d");
        joining.active = false;
        let snapshot = [
            viewer("PB", "b"),
            viewer("PC", "c"),
            viewer("P0", "creator"),
            joining,
        ];
        assert_eq!(
            t.reconcile(&snapshot, T0 + 900, T0 + 1000),
            Outcome::Unchanged
        );
        assert_eq!(
            t.viewers(),
            2,
            "b stays, a is gone, c is added, d still joining"
        );
        assert_eq!(
            t.reconcile(&snapshot, T0 + 1900, T0 + 2000),
            Outcome::Unchanged
        );
        // a's late join webhook cannot bring a back.
        assert_eq!(
            t.apply(&joined("e3", viewer("PA", "a")), T0 + 3000),
            Outcome::Stale
        );
    }

    #[test]
    fn a_snapshot_taken_before_a_leave_does_not_resurrect_the_viewer() {
        let mut t = ViewerTally::new("creator");
        t.apply(&joined("e1", viewer("PA", "a")), T0);
        t.apply(&left("e2", viewer("PA", "a")), T0 + 500);
        assert_eq!(
            t.reconcile(&[viewer("PA", "a")], T0 + 400, T0 + 600),
            Outcome::Unchanged
        );
        assert_eq!(t.viewers(), 0);
    }

    #[test]
    fn a_snapshot_requested_before_a_join_does_not_remove_the_new_viewer() {
        let mut t = ViewerTally::new("creator");
        t.apply(&joined("e1", viewer("PA", "a")), T0 + 500);
        assert_eq!(t.reconcile(&[], T0 + 400, T0 + 600), Outcome::Unchanged);
        assert_eq!(t.viewers(), 1);
        assert_eq!(t.reconcile(&[], T0 + 700, T0 + 800), Outcome::Changed(0));
    }

    #[test]
    fn watch_time_sums_each_sessions_connected_time() {
        let mut t = ViewerTally::new("creator");
        let mut a = viewer("PA", "a");
        a.joined_at_ms = T0;
        let mut b = viewer("PB", "b");
        b.joined_at_ms = T0 + 2_000;
        t.apply(&joined("e1", a.clone()), T0 + 10);
        t.apply(&joined("e2", b), T0 + 2_010);
        t.apply(&left("e3", a), T0 + 5_000);
        assert_eq!(t.watch_time_ms(T0 + 6_000), 5_000 + 4_000);
        t.end_all(T0 + 8_000);
        assert_eq!(t.watch_time_ms(T0 + 60_000), 5_000 + 6_000);
        assert_eq!(t.viewers(), 0);
    }

    #[test]
    fn a_late_webhook_is_timed_within_its_own_second() {
        assert_eq!(
            event_time_ms(1_700_000_000, 1_700_000_000_400),
            1_700_000_000_400
        );
        assert_eq!(
            event_time_ms(1_700_000_000, 1_700_000_030_000),
            1_700_000_000_999
        );
        assert_eq!(event_time_ms(0, 42), 42);
    }

    #[test]
    fn old_event_ids_are_forgotten_so_memory_stays_bounded() {
        let mut t = ViewerTally::new("creator");
        for i in 0..(REMEMBERED_EVENT_IDS + 100) {
            t.remember(&format!("e{i}"));
        }
        assert_eq!(t.seen_ids.len(), REMEMBERED_EVENT_IDS);
        assert!(t.remember("e0"), "the oldest id was forgotten");
    }

    #[test]
    fn a_tally_restored_from_its_saved_form_keeps_viewers_figures_and_tombstones() {
        let mut t = ViewerTally::new("creator");
        t.apply(&joined("e1", viewer("PA_a", "a")), T0);
        t.apply(&joined("e2", viewer("PA_b", "b")), T0);
        t.apply(&left("e3", viewer("PA_b", "b")), T0 + 1_000);
        let saved = serde_json::to_string(&t).unwrap();
        let mut restored: ViewerTally = serde_json::from_str(&saved).unwrap();
        assert_eq!(restored.viewers(), 1);
        assert_eq!((restored.peak(), restored.unique_viewers()), (2, 2));
        assert_eq!(
            restored.watch_time_ms(T0 + 2_000),
            t.watch_time_ms(T0 + 2_000)
        );
        // A late repeat of b's join after the restart still cannot bring b back.
        restored.apply(&joined("e2", viewer("PA_b", "b")), T0 + 3_000);
        assert_eq!(restored.viewers(), 1);
    }
}

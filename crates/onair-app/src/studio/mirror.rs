//! The studio's view follows the live session: its state, viewer count, notices and
//! sending statistics, the go-live timeline's last steps, and the stream's chat.

use std::time::{Duration, Instant};

use onair_client::ViewerCountView;
use onair_session::{LiveSession, SessionState};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{lock, Studio};
use crate::view::{NoticeView, Phase, StatsView, TimelineEntry, ViewersView};

/// How often stats are sampled while live.
const STATS_EVERY: Duration = Duration::from_secs(1);
const FIRST_FRAMES_PROBE: Duration = Duration::from_millis(50);

impl Studio {
    /// Mirrors the session's state, viewer count, notices and stats into the view until it
    /// ends; a session that ends itself (the server deleted the room, the network never came
    /// back) is finished here, through the same path as End.
    pub(super) fn start_mirror(&self, session: LiveSession, pressed: Instant) {
        let cancel = CancellationToken::new();
        if let Some(old) = lock(&self.inner.mirror).replace(cancel.clone()) {
            old.cancel();
        }
        let studio = self.clone();
        let span = tracing::info_span!("studio-mirror", generation = session.generation());
        self.inner
            .tasks
            .spawn(async move { studio.mirror(session, pressed, cancel).await }.instrument(span));
    }

    /// Follows the session into the view until it ends; completes the go-live timeline with
    /// the first frames leaving and the first viewer the backend confirms (`pressed`: when Go
    /// Live was pressed).
    async fn mirror(&self, session: LiveSession, pressed: Instant, cancel: CancellationToken) {
        let generation = session.generation() as u32;
        let mut states = session.states();
        let mut notices = session.notices();
        let mut viewers = session.viewers();
        let backend = lock(&self.inner.backend).clone();
        let username = self.view().account.map(|a| a.username);
        let mut chat = backend
            .zip(username)
            .map(|(backend, username)| self.open_chat(&backend, &username));
        let mut tick = tokio::time::interval(STATS_EVERY);
        let mut send_rate = onair_livekit::SendRate::default();
        // Until the first frames leave, look often, so the timeline says when.
        let mut probe = tokio::time::interval(FIRST_FRAMES_PROBE);
        let (mut frames_sent, mut first_viewer) = (false, false);
        let milestone = |step: &str| {
            let at_ms = crate::view::millis(pressed.elapsed());
            self.update(|v| {
                if v.generation == generation {
                    let previous = v.timeline.last().map_or(0, |e| e.at_ms);
                    v.timeline.push(TimelineEntry {
                        step: step.to_owned(),
                        ms: at_ms.saturating_sub(previous),
                        at_ms,
                    });
                }
            });
        };
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                changed = states.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let state = states.borrow_and_update().state.clone();
                    self.update(|v| if v.generation == generation && v.phase != Phase::Offline {
                        v.phase = Phase::of(&state);
                    });
                    if matches!(state, SessionState::Ended | SessionState::Failed { .. }) {
                        break;
                    }
                }
                changed = notices.changed() => {
                    if changed.is_err() {
                        continue;
                    }
                    let list: Vec<NoticeView> = notices.borrow_and_update().iter().map(|n| NoticeView {
                        seq: n.seq as u32,
                        at_ms: n.at_ms as f64,
                        message: n.message.clone(),
                    }).collect();
                    self.update(|v| if v.generation == generation { v.notices = list; });
                }
                Some(count) = next_count(&mut viewers) => {
                    let watched = count.as_ref().is_some_and(|c| c.count > 0);
                    self.update(|v| if v.generation == generation { v.viewers = count; });
                    if watched && !first_viewer {
                        first_viewer = true;
                        milestone("first viewer");
                    }
                }
                Some(current) = next_value(&mut chat) => self.show_chat(&current),
                _ = probe.tick(), if !frames_sent => {
                    let sent = session.video_stats().await.is_some_and(|stats| {
                        stats.top_layer().is_some_and(|layer| layer.frames_sent > 0)
                    });
                    if sent {
                        frames_sent = true;
                        milestone("first frames sent");
                    }
                }
                _ = tick.tick() => {
                    let recording = Self::recording_live(&session).await;
                    self.update(|v| if v.generation == generation && v.recording != recording { v.recording = recording; });
                    if let Some(stats) = session.video_stats().await {
                        let view = stats_view(&stats, &mut send_rate);
                        self.update(|v| if v.generation == generation { v.stats = view; });
                    }
                }
            }
        }
        // The session ended itself: the stage goes offline (unless End already took it) once
        // its report is shown.
        let mut stage = self.inner.stage.lock().await;
        if stage
            .session()
            .is_some_and(|s| s.generation() == session.generation())
        {
            stage.take_session();
        }
        self.finish(&session).await;
        drop(stage);
    }
}

/// The next value of `changes`, or pending forever once its sender is gone (or without one).
async fn next_value<T: Clone>(changes: &mut Option<watch::Receiver<T>>) -> Option<T> {
    let Some(rx) = changes else {
        return std::future::pending().await;
    };
    if rx.changed().await.is_err() {
        *changes = None;
        return std::future::pending().await;
    }
    Some(rx.borrow_and_update().clone())
}

/// The next viewer count, or pending forever without a subscription.
async fn next_count(
    viewers: &mut Option<watch::Receiver<ViewerCountView>>,
) -> Option<Option<ViewersView>> {
    next_value(viewers).await.map(|view| viewers_view(&view))
}

fn viewers_view(view: &ViewerCountView) -> Option<ViewersView> {
    let count = view.count.as_ref()?;
    Some(ViewersView {
        count: count.viewers,
        peak: count.peak,
        confirmed_at_ms: count.confirmed_at.map(|t| t as f64),
        stale: view.is_stale(),
    })
}

/// The session's steps, back to back from when Go Live was pressed.
pub(super) fn timeline(session: &LiveSession) -> Vec<TimelineEntry> {
    let mut at = Duration::ZERO;
    session
        .timeline()
        .into_iter()
        .map(|s| {
            at += s.duration;
            TimelineEntry {
                step: s.step.to_owned(),
                ms: crate::view::millis(s.duration),
                at_ms: crate::view::millis(at),
            }
        })
        .collect()
}

/// What is being sent: the top layer's picture, every layer's bytes (the same figures as
/// `onair live` prints).
fn stats_view(
    stats: &onair_livekit::TrackStats,
    rate: &mut onair_livekit::SendRate,
) -> Option<StatsView> {
    let bitrate_kbps = rate.sample(stats, Instant::now()).map(|bps| bps / 1e3);
    let layer = stats.top_layer()?;
    Some(StatsView {
        width: layer.width,
        height: layer.height,
        fps: layer.fps.round() as u32,
        bitrate_kbps,
        quality_limitation: format!("{:?}", layer.quality_limitation).to_lowercase(),
        rtt_ms: stats.round_trip_time.map(|s| s * 1e3),
        loss_percent: stats.fraction_lost.map(|f| f * 100.0),
    })
}

//! The creator's scheduled streams in the studio: fetched after sign-in, start-up, every
//! change and every End, shown in the window's Schedule view and the tray's "Next:" line;
//! planning, changing and calling off go to the backend with the signed-in key.

use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tracing::Instrument;

use super::{lock, now_ms, Studio};
use crate::chat::id_from_window;
use crate::error::UiError;
use crate::schedule::{self, ScheduleForm, ScheduleView};

impl Studio {
    /// Asks the backend for the schedule and shows it (in the background, like the earnings:
    /// a slow or unreachable backend delays nothing).
    pub fn refresh_schedule(&self) {
        let Some(backend) = lock(&self.inner.backend).clone() else {
            return;
        };
        let studio = self.clone();
        self.inner.tasks.spawn(
            async move {
                match backend.schedule().await {
                    // Signed out (or in elsewhere) meanwhile: not this account's schedule.
                    Ok(_) if !studio.asks_the_same_backend(&backend) => {}
                    Ok(streams) => {
                        let view = schedule::view(&streams, now_ms() as i64);
                        studio.update(|v| v.schedule = Some(view));
                    }
                    Err(err) => tracing::debug!(%err, "schedule unavailable"),
                }
            }
            .instrument(tracing::info_span!("studio-schedule")),
        );
    }

    /// Asks for the schedule again every `every` until shutdown: which stream Go Live would
    /// take over and the tray's "Next:" line move with the clock, and a stream planned
    /// elsewhere (the CLI, another computer) or one that went missed shows up.
    pub fn keep_schedule_current(&self, every: Duration) {
        let studio = self.clone();
        let closing = self.inner.closing.clone();
        self.inner.tasks.spawn(
            async move {
                let mut clock = tokio::time::interval(every);
                clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
                // The first tick is at once; start-up and sign-in ask by themselves.
                clock.tick().await;
                loop {
                    tokio::select! {
                        () = closing.cancelled() => break,
                        _ = clock.tick() => studio.refresh_schedule(),
                    }
                }
            }
            .instrument(tracing::info_span!("studio-schedule-clock")),
        );
    }

    fn asks_the_same_backend(&self, backend: &onair_client::BackendClient) -> bool {
        lock(&self.inner.backend)
            .as_ref()
            .is_some_and(|now| now.base_url() == backend.base_url())
    }

    /// The schedule as it is after a change the backend accepted. The change is done even
    /// when this read fails: the window is answered with what it showed (and asks again in
    /// the background) rather than an error that would invite doing it twice.
    async fn reload_schedule(&self) -> Result<ScheduleView, UiError> {
        let read = async { Ok::<_, UiError>(self.backend()?.schedule().await?) };
        match read.await {
            Ok(streams) => {
                let view = schedule::view(&streams, now_ms() as i64);
                self.update(|v| v.schedule = Some(view.clone()));
                Ok(view)
            }
            Err(err) => {
                tracing::warn!(%err, "the schedule changed but could not be read back");
                self.refresh_schedule();
                Ok(self.view().schedule.unwrap_or_default())
            }
        }
    }

    /// Plans a stream; a wrong field comes back by name and nothing is stored.
    pub async fn schedule_stream(&self, form: ScheduleForm) -> Result<ScheduleView, UiError> {
        let request = schedule::request(&form, now_ms() as i64)?;
        self.backend()?.schedule_stream(&request).await?;
        self.reload_schedule().await
    }

    /// Changes an upcoming stream.
    pub async fn edit_scheduled(
        &self,
        id: f64,
        form: ScheduleForm,
    ) -> Result<ScheduleView, UiError> {
        let id = id_from_window("id", id)?;
        let request = schedule::request(&form, now_ms() as i64)?;
        self.backend()?.edit_scheduled_stream(id, &request).await?;
        self.reload_schedule().await
    }

    /// Calls an upcoming stream off; its paid tickets are refunded (and the earnings shown
    /// again).
    pub async fn cancel_scheduled(&self, id: f64) -> Result<ScheduleView, UiError> {
        let id = id_from_window("id", id)?;
        let cancelled = self.backend()?.cancel_scheduled_stream(id).await?;
        if cancelled.refunded_tickets > 0 {
            self.refresh_earnings();
        }
        self.reload_schedule().await
    }
}

//! The creator's scheduled streams in the studio: fetched after sign-in, start-up, every
//! change and every End, shown in the window's Schedule view and the tray's "Next:" line;
//! planning, changing and calling off go to the backend with the signed-in key.

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

    /// The schedule as it is now, fetched (for the window after a change).
    async fn reload_schedule(&self) -> Result<ScheduleView, UiError> {
        let streams = self.backend()?.schedule().await?;
        let view = schedule::view(&streams, now_ms() as i64);
        self.update(|v| v.schedule = Some(view.clone()));
        Ok(view)
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

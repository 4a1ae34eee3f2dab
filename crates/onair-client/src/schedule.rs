//! The creator's schedule on the backend: plan, list, change and call off streams ahead.

use onair_core::wire::schedule::{CancelResponse, ScheduleRequest, ScheduledStream};

use crate::backend::{BackendClient, BackendError};

fn parse<T: serde::de::DeserializeOwned>(body: &str, what: &str) -> Result<T, BackendError> {
    serde_json::from_str(body).map_err(|e| BackendError::Protocol(format!("{what}: {e}")))
}

impl BackendClient {
    /// Plans a stream; a wrong field comes back as `BackendError::Api` naming it.
    pub async fn schedule_stream(
        &self,
        request: &ScheduleRequest,
    ) -> Result<ScheduledStream, BackendError> {
        let body = self
            .send(
                self.http()
                    .post(self.url("/api/schedule"))
                    .bearer_auth(self.key())
                    .json(request),
            )
            .await?;
        parse(&body, "scheduled stream")
    }

    /// The creator's scheduled streams of the last 30 days and ahead, by start.
    pub async fn schedule(&self) -> Result<Vec<ScheduledStream>, BackendError> {
        let body = self
            .send(
                self.http()
                    .get(self.url("/api/schedule"))
                    .bearer_auth(self.key()),
            )
            .await?;
        parse(&body, "schedule")
    }

    pub async fn edit_scheduled_stream(
        &self,
        id: i64,
        request: &ScheduleRequest,
    ) -> Result<ScheduledStream, BackendError> {
        let body = self
            .send(
                self.http()
                    .put(self.url(&format!("/api/schedule/{id}")))
                    .bearer_auth(self.key())
                    .json(request),
            )
            .await?;
        parse(&body, "scheduled stream")
    }

    /// Calls a scheduled stream off; its paid tickets are refunded.
    pub async fn cancel_scheduled_stream(&self, id: i64) -> Result<CancelResponse, BackendError> {
        let body = self
            .send(
                self.http()
                    .delete(self.url(&format!("/api/schedule/{id}")))
                    .bearer_auth(self.key()),
            )
            .await?;
        parse(&body, "cancelled stream")
    }
}

//! Scheduled streams in the database: rows of `streams` with a `scheduled_start`. Every
//! change that a calendar subscriber should see raises `sequence` in the same statement.

use onair_core::schedule::{ScheduleState, Slot};
use onair_core::wire::schedule::ScheduledStream;
use sqlx::SqlitePool;

use crate::db::{TicketRow, TICKET_COLUMNS, TICKET_FROM};

/// A scheduled stream as stored, with its streamer's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: i64,
    pub streamer_id: i64,
    pub username: String,
    pub title: String,
    pub description: String,
    pub scheduled_start: i64,
    pub duration_minutes: i64,
    pub ppv_price_cents: Option<i64>,
    pub sequence: i64,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    pub missed_at: Option<i64>,
}

impl ScheduleRow {
    pub fn slot(&self) -> Slot {
        Slot {
            starts_at_ms: self.scheduled_start,
            started_at_ms: self.started_at,
            ended_at_ms: self.ended_at,
            cancelled_at_ms: self.cancelled_at,
            missed_at_ms: self.missed_at,
        }
    }

    pub fn state(&self) -> ScheduleState {
        self.slot().state()
    }

    /// When it last changed (for `DTSTAMP`/`LAST-MODIFIED`).
    pub fn changed_at(&self) -> i64 {
        self.updated_at.unwrap_or(self.created_at)
    }

    /// As the API shows it; `currency` is the server's.
    pub fn view(&self, currency: &str) -> ScheduledStream {
        ScheduledStream {
            id: self.id,
            username: self.username.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            starts_at: self.scheduled_start,
            duration_minutes: u32::try_from(self.duration_minutes).unwrap_or_default(),
            ppv_price_cents: self.ppv_price_cents,
            currency: currency.to_owned(),
            state: self.state(),
            sequence: self.sequence,
            started_at: self.started_at,
            ended_at: self.ended_at.filter(|_| self.started_at.is_some()),
            cancelled_at: self.cancelled_at,
        }
    }
}

const COLUMNS: &str = "s.id, s.streamer_id, st.username, s.title, s.description, \
     s.scheduled_start, s.duration_minutes, s.ppv_price_cents, s.sequence, s.created_at, \
     s.updated_at, s.started_at, s.ended_at, s.cancelled_at, s.missed_at";

/// Still ahead: not started, ended, cancelled or missed.
const UPCOMING: &str = "s.scheduled_start IS NOT NULL AND s.started_at IS NULL \
     AND s.ended_at IS NULL AND s.cancelled_at IS NULL AND s.missed_at IS NULL";

/// What a creator planned, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub title: String,
    pub description: String,
    pub starts_at_ms: i64,
    pub duration_minutes: u32,
    pub ppv_price_cents: Option<u32>,
}

pub async fn insert(
    pool: &SqlitePool,
    streamer_id: i64,
    plan: &Plan,
    now_ms: i64,
) -> sqlx::Result<i64> {
    let result = sqlx::query(
        "INSERT INTO streams (streamer_id, title, description, ppv_price_cents, \
         scheduled_start, duration_minutes, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(streamer_id)
    .bind(&plan.title)
    .bind(&plan.description)
    .bind(plan.ppv_price_cents)
    .bind(plan.starts_at_ms)
    .bind(plan.duration_minutes)
    .bind(now_ms)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(result.last_insert_rowid())
}

pub async fn count_upcoming(pool: &SqlitePool, streamer_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM streams s WHERE s.streamer_id = ? AND {UPCOMING}"
    ))
    .bind(streamer_id)
    .fetch_one(pool)
    .await
}

pub async fn get(pool: &SqlitePool, id: i64) -> sqlx::Result<Option<ScheduleRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM streams s JOIN streamers st ON st.id = s.streamer_id \
         WHERE s.id = ? AND s.scheduled_start IS NOT NULL"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A streamer's upcoming streams, soonest first.
pub async fn upcoming_of(pool: &SqlitePool, streamer_id: i64) -> sqlx::Result<Vec<ScheduleRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM streams s JOIN streamers st ON st.id = s.streamer_id \
         WHERE s.streamer_id = ? AND {UPCOMING} ORDER BY s.scheduled_start, s.id"
    ))
    .bind(streamer_id)
    .fetch_all(pool)
    .await
}

/// Every streamer's upcoming streams, soonest first.
pub async fn upcoming_all(pool: &SqlitePool, limit: i64) -> sqlx::Result<Vec<ScheduleRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM streams s JOIN streamers st ON st.id = s.streamer_id \
         WHERE {UPCOMING} ORDER BY s.scheduled_start, s.id LIMIT ?"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A streamer's scheduled streams in any state that start (or started) after `since_ms`,
/// soonest first: what the calendar feed publishes.
pub async fn feed_of(
    pool: &SqlitePool,
    streamer_id: i64,
    since_ms: i64,
) -> sqlx::Result<Vec<ScheduleRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM streams s JOIN streamers st ON st.id = s.streamer_id \
         WHERE s.streamer_id = ? AND s.scheduled_start IS NOT NULL \
         AND COALESCE(s.ended_at, s.scheduled_start) >= ? \
         ORDER BY s.scheduled_start, s.id"
    ))
    .bind(streamer_id)
    .bind(since_ms)
    .fetch_all(pool)
    .await
}

/// Replaces an upcoming stream's details (raising its sequence); false if it is not one of
/// the streamer's upcoming streams.
pub async fn update(
    pool: &SqlitePool,
    id: i64,
    streamer_id: i64,
    plan: &Plan,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(&format!(
        "UPDATE streams AS s SET title = ?, description = ?, ppv_price_cents = ?, \
         scheduled_start = ?, duration_minutes = ?, sequence = sequence + 1, updated_at = ? \
         WHERE s.id = ? AND s.streamer_id = ? AND s.claimed_at IS NULL AND {UPCOMING}"
    ))
    .bind(&plan.title)
    .bind(&plan.description)
    .bind(plan.ppv_price_cents)
    .bind(plan.starts_at_ms)
    .bind(plan.duration_minutes)
    .bind(now_ms)
    .bind(id)
    .bind(streamer_id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Calls an upcoming stream off; false if it is not one of the streamer's upcoming streams.
pub async fn cancel(
    pool: &SqlitePool,
    id: i64,
    streamer_id: i64,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(&format!(
        "UPDATE streams AS s SET cancelled_at = ?, sequence = sequence + 1, updated_at = ? \
         WHERE s.id = ? AND s.streamer_id = ? AND {UPCOMING}"
    ))
    .bind(now_ms)
    .bind(now_ms)
    .bind(id)
    .bind(streamer_id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A Go Live takes the upcoming stream over: the creator's next join starts it. False if it
/// is not one of the streamer's upcoming streams.
pub async fn claim(
    pool: &SqlitePool,
    id: i64,
    streamer_id: i64,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(&format!(
        "UPDATE streams AS s SET claimed_at = ? WHERE s.id = ? AND s.streamer_id = ? AND {UPCOMING}"
    ))
    .bind(now_ms)
    .bind(id)
    .bind(streamer_id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Gives back the streams a Go Live took over but never started (End before going on air):
/// they are upcoming again.
pub async fn release_claims(pool: &SqlitePool, streamer_id: i64) -> sqlx::Result<u64> {
    let result = sqlx::query(&format!(
        "UPDATE streams AS s SET claimed_at = NULL \
         WHERE s.streamer_id = ? AND s.claimed_at IS NOT NULL AND {UPCOMING}"
    ))
    .bind(streamer_id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Marks upcoming streams whose start was before `started_before_ms` as missed; answers
/// which (stream id, streamer id).
pub async fn mark_missed(
    pool: &SqlitePool,
    started_before_ms: i64,
    now_ms: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as(&format!(
        "UPDATE streams AS s SET missed_at = ?, sequence = sequence + 1, updated_at = ? \
         WHERE s.scheduled_start < ? AND {UPCOMING} RETURNING id, streamer_id"
    ))
    .bind(now_ms)
    .bind(now_ms)
    .bind(started_before_ms)
    .fetch_all(pool)
    .await
}

/// Every paid ticket of stream `stream_id`.
pub async fn paid_tickets_of_stream(
    pool: &SqlitePool,
    stream_id: i64,
) -> sqlx::Result<Vec<TicketRow>> {
    sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} WHERE t.stream_id = ? AND t.payment = 'paid'"
    ))
    .bind(stream_id)
    .fetch_all(pool)
    .await
}

/// How many tickets of stream `stream_id` were bought (paid, or awaiting payment).
pub async fn tickets_sold(pool: &SqlitePool, stream_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM tickets WHERE stream_id = ? AND payment IN ('paid', 'awaiting')",
    )
    .bind(stream_id)
    .fetch_one(pool)
    .await
}

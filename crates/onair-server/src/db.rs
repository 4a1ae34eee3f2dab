//! Persistence: SQLite by default, schema by sqlx migrations (`migrations/`).

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// Opens (creating if needed) the database at `url` and brings its schema up to date.
pub async fn open(url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // With WAL, NORMAL cannot corrupt the database and survives a crash of this process;
        // only a power cut can lose the last commits. FULL would fsync every token request.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Streamer {
    pub id: i64,
    pub username: String,
}

/// Creates a streamer; `None` if the username is taken.
pub async fn add_streamer(
    pool: &SqlitePool,
    username: &str,
    key_hash: &str,
    now_ms: i64,
) -> sqlx::Result<Option<i64>> {
    let result = sqlx::query(
        "INSERT INTO streamers (username, key_hash, created_at) VALUES (?, ?, ?) \
         ON CONFLICT(username) DO NOTHING",
    )
    .bind(username)
    .bind(key_hash)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok((result.rows_affected() == 1).then(|| result.last_insert_rowid()))
}

pub async fn streamer_by_key_hash(
    pool: &SqlitePool,
    key_hash: &str,
) -> sqlx::Result<Option<Streamer>> {
    sqlx::query_as("SELECT id, username FROM streamers WHERE key_hash = ?")
        .bind(key_hash)
        .fetch_optional(pool)
        .await
}

pub async fn create_stream(
    pool: &SqlitePool,
    streamer_id: i64,
    title: &str,
    ppv_price_cents: Option<u32>,
    now_ms: i64,
) -> sqlx::Result<i64> {
    let result = sqlx::query(
        "INSERT INTO streams (streamer_id, title, ppv_price_cents, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(streamer_id)
    .bind(title)
    .bind(ppv_price_cents)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(result.last_insert_rowid())
}

/// `id` if it is one of the streamer's streams and not ended.
pub async fn open_stream_of(
    pool: &SqlitePool,
    streamer_id: i64,
    id: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM streams WHERE id = ? AND streamer_id = ? AND ended_at IS NULL",
    )
    .bind(id)
    .bind(streamer_id)
    .fetch_optional(pool)
    .await
}

pub async fn streamer_by_username(
    pool: &SqlitePool,
    username: &str,
) -> sqlx::Result<Option<Streamer>> {
    sqlx::query_as("SELECT id, username FROM streamers WHERE username = ?")
        .bind(username)
        .fetch_optional(pool)
        .await
}

/// A stream as its record and the history show it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StreamRecord {
    pub id: i64,
    pub title: String,
    /// Pay-per-view price in cents; absent for a free stream.
    pub ppv_price_cents: Option<i64>,
    /// Unix milliseconds; absent if the creator never went on air.
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub peak_viewers: i64,
    pub unique_viewers: i64,
    /// Sum of every viewer's connected time.
    pub watch_time_ms: i64,
    pub end_reason: Option<String>,
}

const RECORD_COLUMNS: &str = "id, title, ppv_price_cents, started_at, ended_at, peak_viewers, \
     unique_viewers, watch_time_ms, end_reason";

pub async fn stream(pool: &SqlitePool, id: i64) -> sqlx::Result<Option<StreamRecord>> {
    sqlx::query_as(&format!(
        "SELECT {RECORD_COLUMNS} FROM streams WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Marks the streamer's newest pending stream (token issued, never on air, not ended) as
/// started; creates an untitled one if there is none (a token from before a database reset).
pub async fn start_stream(pool: &SqlitePool, streamer_id: i64, now_ms: i64) -> sqlx::Result<i64> {
    let pending: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM streams WHERE streamer_id = ? AND started_at IS NULL AND ended_at IS NULL \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(streamer_id)
    .fetch_optional(pool)
    .await?;
    let id = match pending {
        Some(id) => id,
        None => create_stream(pool, streamer_id, "Untitled stream", None, now_ms).await?,
    };
    sqlx::query("UPDATE streams SET started_at = ? WHERE id = ?")
        .bind(now_ms)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(id)
}

/// A stream on air when the server last knew.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveRow {
    pub id: i64,
    pub username: String,
    pub started_at: i64,
    pub tally: Option<String>,
    pub tally_version: i64,
}

pub async fn live_streams(pool: &SqlitePool) -> sqlx::Result<Vec<LiveRow>> {
    sqlx::query_as(
        "SELECT s.id, r.username, s.started_at, s.tally, s.tally_version FROM streams s \
         JOIN streamers r ON r.id = s.streamer_id \
         WHERE s.started_at IS NOT NULL AND s.ended_at IS NULL",
    )
    .fetch_all(pool)
    .await
}

/// Figures of a stream, written as they change.
#[derive(Debug, Clone)]
pub struct Figures {
    pub peak: i64,
    pub unique: i64,
    pub watch_time_ms: i64,
    pub tally: String,
    pub version: i64,
}

/// Stores `figures` unless a newer version is already stored.
pub async fn save_figures(pool: &SqlitePool, id: i64, f: &Figures) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE streams SET peak_viewers = ?, unique_viewers = ?, watch_time_ms = ?, tally = ?, \
         tally_version = ? WHERE id = ? AND tally_version < ? AND ended_at IS NULL",
    )
    .bind(f.peak)
    .bind(f.unique)
    .bind(f.watch_time_ms)
    .bind(&f.tally)
    .bind(f.version)
    .bind(id)
    .bind(f.version)
    .execute(pool)
    .await?;
    Ok(())
}

/// Closes a stream with its final figures; false if it was already closed.
pub async fn end_stream(
    pool: &SqlitePool,
    id: i64,
    f: &Figures,
    ended_at_ms: i64,
    reason: &str,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE streams SET peak_viewers = ?, unique_viewers = ?, watch_time_ms = ?, tally = ?, \
         tally_version = ?, ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
    )
    .bind(f.peak)
    .bind(f.unique)
    .bind(f.watch_time_ms)
    .bind(&f.tally)
    .bind(f.version)
    .bind(ended_at_ms)
    .bind(reason)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Closes streams that were prepared (token issued) but never went on air.
pub async fn close_pending(
    pool: &SqlitePool,
    streamer_id: i64,
    now_ms: i64,
    reason: &str,
) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "UPDATE streams SET ended_at = ?, end_reason = ? \
         WHERE streamer_id = ? AND started_at IS NULL AND ended_at IS NULL",
    )
    .bind(now_ms)
    .bind(reason)
    .bind(streamer_id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Past broadcasts, newest first.
pub async fn history(
    pool: &SqlitePool,
    streamer_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<StreamRecord>> {
    sqlx::query_as(&format!(
        "SELECT {RECORD_COLUMNS} FROM streams WHERE streamer_id = ? \
         AND started_at IS NOT NULL AND ended_at IS NOT NULL \
         ORDER BY started_at DESC, id DESC LIMIT ?"
    ))
    .bind(streamer_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

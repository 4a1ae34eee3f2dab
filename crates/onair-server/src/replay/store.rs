//! The replays table: one replay per stream, with the stream's own details joined in.

use sqlx::SqlitePool;

/// A replay with its stream's details.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplayRow {
    pub stream_id: i64,
    pub streamer_id: i64,
    pub title: String,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub ppv_price_cents: Option<i64>,
    pub file: String,
    pub bytes: i64,
    pub duration_ms: i64,
    pub width: i64,
    pub height: i64,
    pub created_at: i64,
}

const COLUMNS: &str = "r.stream_id, s.streamer_id, s.title, s.started_at, s.ended_at, \
    s.ppv_price_cents, r.file, r.bytes, r.duration_ms, r.width, r.height, r.created_at";

/// The stream a replay would belong to: its creator and when it was on air.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StreamTimes {
    pub streamer_id: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

pub async fn stream_times(pool: &SqlitePool, stream_id: i64) -> sqlx::Result<Option<StreamTimes>> {
    sqlx::query_as("SELECT streamer_id, started_at, ended_at FROM streams WHERE id = ?")
        .bind(stream_id)
        .fetch_optional(pool)
        .await
}

pub struct NewReplay<'a> {
    pub stream_id: i64,
    pub file: &'a str,
    pub bytes: i64,
    pub duration_ms: i64,
    pub width: i64,
    pub height: i64,
    pub now_ms: i64,
}

/// Keeps the replay; a new upload for the same stream takes the old one's place.
pub async fn save(pool: &SqlitePool, r: &NewReplay<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO replays (stream_id, file, bytes, duration_ms, width, height, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (stream_id) DO UPDATE SET file = excluded.file, bytes = excluded.bytes, \
         duration_ms = excluded.duration_ms, width = excluded.width, height = excluded.height, \
         created_at = excluded.created_at",
    )
    .bind(r.stream_id)
    .bind(r.file)
    .bind(r.bytes)
    .bind(r.duration_ms)
    .bind(r.width)
    .bind(r.height)
    .bind(r.now_ms)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn by_stream(pool: &SqlitePool, stream_id: i64) -> sqlx::Result<Option<ReplayRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM replays r JOIN streams s ON s.id = r.stream_id WHERE r.stream_id = ?"
    ))
    .bind(stream_id)
    .fetch_optional(pool)
    .await
}

/// A streamer's replays, newest stream first.
pub async fn of_streamer(pool: &SqlitePool, streamer_id: i64) -> sqlx::Result<Vec<ReplayRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM replays r JOIN streams s ON s.id = r.stream_id \
         WHERE s.streamer_id = ? ORDER BY s.started_at DESC, r.stream_id DESC"
    ))
    .bind(streamer_id)
    .fetch_all(pool)
    .await
}

/// Forgets the replay of one of the streamer's streams; false if there was none.
pub async fn delete(pool: &SqlitePool, stream_id: i64, streamer_id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "DELETE FROM replays WHERE stream_id = ? \
         AND stream_id IN (SELECT id FROM streams WHERE streamer_id = ?)",
    )
    .bind(stream_id)
    .bind(streamer_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Every replay file a row names.
pub async fn files(pool: &SqlitePool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT file FROM replays")
        .fetch_all(pool)
        .await
}

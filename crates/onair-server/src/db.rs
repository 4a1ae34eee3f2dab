//! Persistence: SQLite by default, schema by sqlx migrations (`migrations/`).

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;

/// Opens (creating if needed) the database at `url` and brings its schema up to date.
pub async fn open(url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
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

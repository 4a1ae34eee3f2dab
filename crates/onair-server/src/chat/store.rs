//! The chat's rows (migration `0004_chat.sql`): events, chatters, names, bans, the devices
//! viewer tokens went to, settings and the moderation log.

use onair_core::wire::chat::{ChatBan, ChatMessage, ModerationEntry};
use sqlx::SqlitePool;

use crate::moderation::{BlockedTerms, ChatRules, Chatter};

/// One row of the event sequence, as a feed sends it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub text: String,
    pub message_id: Option<i64>,
    pub hidden_at: Option<i64>,
    pub at: i64,
}

pub const KIND_MESSAGE: &str = "message";
pub const KIND_HIDDEN: &str = "hidden";

impl EventRow {
    pub fn message(&self) -> ChatMessage {
        ChatMessage {
            id: self.id,
            name: self.name.clone(),
            text: self.text.clone(),
            sent_at: self.at,
        }
    }
}

/// The author of a message, as moderation needs them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Author {
    pub message_id: i64,
    pub stream_id: i64,
    pub device: String,
    pub address_hash: Option<String>,
    pub name: String,
    pub hidden_at: Option<i64>,
}

/// Events of the streamer after `after`, oldest first, at most `limit`.
pub async fn events_after(
    pool: &SqlitePool,
    streamer_id: i64,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(
        "SELECT id, kind, name, text, message_id, hidden_at, at FROM chat_events \
         WHERE streamer_id = ? AND id > ? ORDER BY id LIMIT ?",
    )
    .bind(streamer_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The newest `limit` messages of the streamer still shown, oldest first.
pub async fn recent_messages(
    pool: &SqlitePool,
    streamer_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<ChatMessage>> {
    let mut rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, kind, name, text, message_id, hidden_at, at FROM chat_events \
         WHERE streamer_id = ? AND kind = 'message' AND hidden_at IS NULL \
         ORDER BY id DESC LIMIT ?",
    )
    .bind(streamer_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.reverse();
    Ok(rows.iter().map(EventRow::message).collect())
}

/// The newest event id of the streamer (0 when there is none).
pub async fn last_event_id(pool: &SqlitePool, streamer_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM chat_events WHERE streamer_id = ?")
        .bind(streamer_id)
        .fetch_one(pool)
        .await
}

/// What the rules need to know about `device` (and the address it comes from now).
pub async fn chatter(
    pool: &SqlitePool,
    streamer_id: i64,
    device: &str,
    address_hash: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<Chatter> {
    let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT first_watched_at, last_message_at, timed_out_until FROM chatters \
         WHERE streamer_id = ? AND device = ?",
    )
    .bind(streamer_id)
    .bind(device)
    .fetch_optional(pool)
    .await?;
    let (first_watched_ms, last_message_ms, timed_out_until_ms) = row.unwrap_or_default();
    Ok(Chatter {
        banned: banned(pool, streamer_id, device, address_hash, now_ms).await?,
        timed_out_until_ms,
        first_watched_ms,
        last_message_ms,
    })
}

/// Whether `device`, or `address_hash` while its ban holds, is banned by the streamer.
pub async fn banned(
    pool: &SqlitePool,
    streamer_id: i64,
    device: &str,
    address_hash: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let hits: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM chat_bans WHERE streamer_id = ? AND lifted_at IS NULL AND \
         (device = ? OR (address_hash IS NOT NULL AND address_hash = ? AND address_expires_at > ?))",
    )
    .bind(streamer_id)
    .bind(device)
    .bind(address_hash)
    .bind(now_ms)
    .fetch_one(pool)
    .await?;
    Ok(hits > 0)
}

/// The device is watching: remembers when it first did (for "established chatters only")
/// and which LiveKit identity it was given.
pub async fn record_viewer(
    pool: &SqlitePool,
    streamer_id: i64,
    identity: &str,
    device: &str,
    address_hash: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO chatters (streamer_id, device, first_watched_at) VALUES (?, ?, ?) \
         ON CONFLICT (streamer_id, device) DO UPDATE SET \
         first_watched_at = COALESCE(chatters.first_watched_at, excluded.first_watched_at)",
    )
    .bind(streamer_id)
    .bind(device)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO viewer_devices (identity, streamer_id, device, address_hash, issued_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (identity) DO NOTHING",
    )
    .bind(identity)
    .bind(streamer_id)
    .bind(device)
    .bind(address_hash)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The device a viewer identity was issued to, and the address it came from.
pub async fn viewer_device(
    pool: &SqlitePool,
    identity: &str,
) -> sqlx::Result<Option<(i64, String, Option<String>)>> {
    sqlx::query_as(
        "SELECT streamer_id, device, address_hash FROM viewer_devices WHERE identity = ?",
    )
    .bind(identity)
    .fetch_optional(pool)
    .await
}

/// The newest `limit` viewer identities issued to `device` or (when given) `address_hash`.
pub async fn identities_of(
    pool: &SqlitePool,
    streamer_id: i64,
    device: &str,
    address_hash: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT identity FROM viewer_devices WHERE streamer_id = ? AND \
         (device = ? OR (address_hash IS NOT NULL AND address_hash = ?)) \
         ORDER BY issued_at DESC LIMIT ?",
    )
    .bind(streamer_id)
    .bind(device)
    .bind(address_hash)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Gives `name` to `device` for the stream, releasing the name it had; `false` if another
/// device holds the name.
pub async fn claim_name(
    pool: &SqlitePool,
    stream_id: i64,
    name: &str,
    device: &str,
) -> sqlx::Result<bool> {
    let key = name.to_ascii_lowercase();
    let mut tx = pool.begin().await?;
    let holder: Option<String> =
        sqlx::query_scalar("SELECT device FROM chat_names WHERE stream_id = ? AND name_key = ?")
            .bind(stream_id)
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
    match holder {
        Some(holder) if holder == device => return Ok(true),
        Some(_) => return Ok(false),
        None => {}
    }
    sqlx::query("DELETE FROM chat_names WHERE stream_id = ? AND device = ?")
        .bind(stream_id)
        .bind(device)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO chat_names (stream_id, name_key, device) VALUES (?, ?, ?)")
        .bind(stream_id)
        .bind(&key)
        .bind(device)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

pub struct NewMessage<'a> {
    pub streamer_id: i64,
    pub stream_id: i64,
    pub device: &'a str,
    pub address_hash: Option<&'a str>,
    pub name: &'a str,
    pub text: &'a str,
    pub now_ms: i64,
}

/// Stores a message and the author's last message time, in one transaction.
pub async fn insert_message(pool: &SqlitePool, m: &NewMessage<'_>) -> sqlx::Result<ChatMessage> {
    let mut tx = pool.begin().await?;
    let id = sqlx::query(
        "INSERT INTO chat_events (streamer_id, stream_id, kind, device, address_hash, name, text, at) \
         VALUES (?, ?, 'message', ?, ?, ?, ?, ?)",
    )
    .bind(m.streamer_id)
    .bind(m.stream_id)
    .bind(m.device)
    .bind(m.address_hash)
    .bind(m.name)
    .bind(m.text)
    .bind(m.now_ms)
    .execute(&mut *tx)
    .await?
    .last_insert_rowid();
    sqlx::query(
        "INSERT INTO chatters (streamer_id, device, last_message_at) VALUES (?, ?, ?) \
         ON CONFLICT (streamer_id, device) DO UPDATE SET last_message_at = excluded.last_message_at",
    )
    .bind(m.streamer_id)
    .bind(m.device)
    .bind(m.now_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ChatMessage {
        id,
        name: m.name.to_owned(),
        text: m.text.to_owned(),
        sent_at: m.now_ms,
    })
}

/// The author of the streamer's message `id`.
pub async fn author(
    pool: &SqlitePool,
    streamer_id: i64,
    message_id: i64,
) -> sqlx::Result<Option<Author>> {
    sqlx::query_as(
        "SELECT id AS message_id, stream_id, device, address_hash, name, hidden_at FROM chat_events \
         WHERE id = ? AND streamer_id = ? AND kind = 'message'",
    )
    .bind(message_id)
    .bind(streamer_id)
    .fetch_optional(pool)
    .await
}

/// Takes message `a` down and adds the hide to the event sequence; the new event's id, or
/// `None` if it was down already.
pub async fn hide(pool: &SqlitePool, a: &Author, now_ms: i64) -> sqlx::Result<Option<i64>> {
    let mut tx = pool.begin().await?;
    let fresh =
        sqlx::query("UPDATE chat_events SET hidden_at = ? WHERE id = ? AND hidden_at IS NULL")
            .bind(now_ms)
            .bind(a.message_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    if !fresh {
        return Ok(None);
    }
    let id = sqlx::query(
        "INSERT INTO chat_events (streamer_id, stream_id, kind, device, message_id, at) \
         SELECT streamer_id, stream_id, 'hidden', device, id, ? FROM chat_events WHERE id = ?",
    )
    .bind(now_ms)
    .bind(a.message_id)
    .execute(&mut *tx)
    .await?
    .last_insert_rowid();
    tx.commit().await?;
    Ok(Some(id))
}

pub async fn time_out(
    pool: &SqlitePool,
    streamer_id: i64,
    device: &str,
    until_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO chatters (streamer_id, device, timed_out_until) VALUES (?, ?, ?) \
         ON CONFLICT (streamer_id, device) DO UPDATE SET timed_out_until = excluded.timed_out_until",
    )
    .bind(streamer_id)
    .bind(device)
    .bind(until_ms)
    .execute(pool)
    .await?;
    Ok(())
}

pub struct NewBan<'a> {
    pub streamer_id: i64,
    pub device: &'a str,
    pub address_hash: Option<&'a str>,
    pub address_expires_at: i64,
    pub name: &'a str,
    pub reason: Option<&'a str>,
    pub now_ms: i64,
}

pub async fn ban(pool: &SqlitePool, b: &NewBan<'_>) -> sqlx::Result<ChatBan> {
    let id = sqlx::query(
        "INSERT INTO chat_bans (streamer_id, device, address_hash, address_expires_at, name, reason, banned_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(b.streamer_id)
    .bind(b.device)
    .bind(b.address_hash)
    .bind(b.address_hash.map(|_| b.address_expires_at))
    .bind(b.name)
    .bind(b.reason)
    .bind(b.now_ms)
    .execute(pool)
    .await?
    .last_insert_rowid();
    Ok(ChatBan {
        id,
        name: b.name.to_owned(),
        banned_at: b.now_ms,
        address: b.address_hash.is_some(),
        reason: b.reason.map(str::to_owned),
    })
}

/// Lifts ban `id` of the streamer; the device it banned, or `None` if there is no such ban
/// in force.
pub async fn unban(
    pool: &SqlitePool,
    streamer_id: i64,
    id: i64,
    now_ms: i64,
) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as(
        "UPDATE chat_bans SET lifted_at = ? WHERE id = ? AND streamer_id = ? AND lifted_at IS NULL \
         RETURNING device, name",
    )
    .bind(now_ms)
    .bind(id)
    .bind(streamer_id)
    .fetch_optional(pool)
    .await
}

pub async fn bans(pool: &SqlitePool, streamer_id: i64) -> sqlx::Result<Vec<ChatBan>> {
    sqlx::query_as(
        "SELECT id, name, banned_at, address_hash IS NOT NULL AS address, reason FROM chat_bans \
         WHERE streamer_id = ? AND lifted_at IS NULL ORDER BY id DESC",
    )
    .bind(streamer_id)
    .fetch_all(pool)
    .await
}

/// The streamer's chat rules (defaults when never set).
pub async fn rules(pool: &SqlitePool, streamer_id: i64) -> sqlx::Result<ChatRules> {
    let row: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT slow_mode_secs, established_minutes, blocked_terms FROM chat_settings \
         WHERE streamer_id = ?",
    )
    .bind(streamer_id)
    .fetch_optional(pool)
    .await?;
    let Some((slow, established, terms)) = row else {
        return Ok(ChatRules::default());
    };
    // Only `save_rules` writes the column, from terms that passed `BlockedTerms::new`.
    let terms: Vec<String> = serde_json::from_str(&terms).unwrap_or_default();
    Ok(ChatRules {
        slow_mode_secs: u32::try_from(slow).unwrap_or(0),
        established_minutes: u32::try_from(established).unwrap_or(0),
        blocked: BlockedTerms::new(terms).unwrap_or_default(),
    })
}

pub async fn save_rules(pool: &SqlitePool, streamer_id: i64, r: &ChatRules) -> sqlx::Result<()> {
    let terms = serde_json::to_string(r.blocked.terms()).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO chat_settings (streamer_id, slow_mode_secs, established_minutes, blocked_terms) \
         VALUES (?, ?, ?, ?) ON CONFLICT (streamer_id) DO UPDATE SET \
         slow_mode_secs = excluded.slow_mode_secs, established_minutes = excluded.established_minutes, \
         blocked_terms = excluded.blocked_terms",
    )
    .bind(streamer_id)
    .bind(i64::from(r.slow_mode_secs))
    .bind(i64::from(r.established_minutes))
    .bind(terms)
    .execute(pool)
    .await?;
    Ok(())
}

pub struct LogEntry<'a> {
    pub action: &'a str,
    pub name: Option<&'a str>,
    pub message_id: Option<i64>,
    pub detail: Option<&'a str>,
}

pub async fn log(
    pool: &SqlitePool,
    streamer_id: i64,
    e: &LogEntry<'_>,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO moderation_log (streamer_id, action, name, message_id, detail, at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(streamer_id)
    .bind(e.action)
    .bind(e.name)
    .bind(e.message_id)
    .bind(e.detail)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn moderation_log(
    pool: &SqlitePool,
    streamer_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<ModerationEntry>> {
    sqlx::query_as(
        "SELECT id, action, name, message_id, detail, at FROM moderation_log \
         WHERE streamer_id = ? ORDER BY id DESC LIMIT ?",
    )
    .bind(streamer_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Forgets address hashes older than `before_ms` (messages and viewer tokens) and lets
/// address bans lapse by their own expiry: an address is a person only for a while.
pub async fn forget_addresses(pool: &SqlitePool, before_ms: i64) -> sqlx::Result<u64> {
    let messages = sqlx::query(
        "UPDATE chat_events SET address_hash = NULL WHERE address_hash IS NOT NULL AND at < ?",
    )
    .bind(before_ms)
    .execute(pool)
    .await?
    .rows_affected();
    let viewers = sqlx::query(
        "UPDATE viewer_devices SET address_hash = NULL WHERE address_hash IS NOT NULL AND issued_at < ?",
    )
    .bind(before_ms)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(messages + viewers)
}

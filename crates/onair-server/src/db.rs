//! Persistence: SQLite by default, schema by sqlx migrations (`migrations/`).

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub use onair_core::wire::{StreamEarnings, StreamRecord};

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
    // A scheduled stream is pending only once a Go Live took it over (claimed it); cancelled
    // and missed ones never are.
    let pending: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM streams WHERE streamer_id = ? AND started_at IS NULL AND ended_at IS NULL \
         AND cancelled_at IS NULL AND missed_at IS NULL \
         AND (scheduled_start IS NULL OR claimed_at IS NOT NULL) \
         ORDER BY COALESCE(claimed_at, created_at) DESC, id DESC LIMIT 1",
    )
    .bind(streamer_id)
    .fetch_optional(pool)
    .await?;
    let id = match pending {
        Some(id) => id,
        None => create_stream(pool, streamer_id, "Untitled stream", None, now_ms).await?,
    };
    // The calendar's copy of a scheduled stream changes to its actual start.
    sqlx::query(
        "UPDATE streams SET started_at = ?, sequence = sequence + 1, updated_at = ? WHERE id = ?",
    )
    .bind(now_ms)
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
         tally_version = ?, ended_at = ?, end_reason = ?, sequence = sequence + 1, \
         updated_at = ? WHERE id = ? AND ended_at IS NULL",
    )
    .bind(f.peak)
    .bind(f.unique)
    .bind(f.watch_time_ms)
    .bind(&f.tally)
    .bind(f.version)
    .bind(ended_at_ms)
    .bind(reason)
    .bind(ended_at_ms)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Closes streams that were prepared (token issued) but never went on air. Scheduled streams
/// stay: a Go Live that took one over and ended before going on air gives it back.
pub async fn close_pending(
    pool: &SqlitePool,
    streamer_id: i64,
    now_ms: i64,
    reason: &str,
) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "UPDATE streams SET ended_at = ?, end_reason = ? \
         WHERE streamer_id = ? AND started_at IS NULL AND ended_at IS NULL \
         AND scheduled_start IS NULL",
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

/// A pay-per-view ticket as stored; [`TicketRow::rules`] is its state for the pure rules in
/// `tickets`, [`save_ticket`] writes their outcome back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub id: String,
    pub stream_id: i64,
    pub streamer_id: i64,
    pub username: String,
    pub price_cents: i64,
    pub currency: String,
    pub provider: String,
    pub checkout_url: Option<String>,
    pub payment_ref: Option<String>,
    pub payment: String,
    pub hold_identity: Option<String>,
    pub hold_until: Option<i64>,
    pub hold_joined: bool,
    pub consumed_at: Option<i64>,
    pub version: i64,
}

impl TicketRow {
    pub fn rules(&self) -> crate::tickets::Ticket {
        use crate::tickets::{Hold, Payment, Ticket};
        Ticket {
            stream_id: self.stream_id,
            // Only this module writes the column, always from `Payment::as_str`.
            payment: Payment::parse(&self.payment).unwrap_or(Payment::Awaiting),
            hold: self.hold_identity.as_ref().map(|identity| Hold {
                identity: identity.clone(),
                until_ms: self.hold_until.unwrap_or(0),
                joined: self.hold_joined,
            }),
            consumed_at_ms: self.consumed_at,
        }
    }
}

pub(crate) const TICKET_COLUMNS: &str =
    "t.id, t.stream_id, s.streamer_id, u.username, t.price_cents, \
     t.currency, t.provider, t.checkout_url, t.payment_ref, t.payment, t.hold_identity, \
     t.hold_until, t.hold_joined, t.consumed_at, t.version";
pub(crate) const TICKET_FROM: &str =
    "tickets t JOIN streams s ON s.id = t.stream_id JOIN streamers u ON u.id = s.streamer_id";

pub struct NewTicket<'a> {
    pub id: &'a str,
    /// The buyer's device (the chat's cookie), so a ban can settle the ticket.
    pub device: Option<&'a str>,
    pub stream_id: i64,
    pub price_cents: i64,
    pub currency: &'a str,
    pub provider: &'a str,
    pub now_ms: i64,
}

pub async fn create_ticket(pool: &SqlitePool, t: &NewTicket<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tickets (id, stream_id, price_cents, currency, provider, payment, created_at, device) \
         VALUES (?, ?, ?, ?, ?, 'awaiting', ?, ?)",
    )
    .bind(t.id)
    .bind(t.stream_id)
    .bind(t.price_cents)
    .bind(t.currency)
    .bind(t.provider)
    .bind(t.now_ms)
    .bind(t.device)
    .execute(pool)
    .await?;
    Ok(())
}

/// Remembers the provider's checkout for a ticket.
pub async fn set_checkout(
    pool: &SqlitePool,
    id: &str,
    checkout_id: &str,
    checkout_url: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE tickets SET checkout_id = ?, checkout_url = ? WHERE id = ?")
        .bind(checkout_id)
        .bind(checkout_url)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn ticket(pool: &SqlitePool, id: &str) -> sqlx::Result<Option<TicketRow>> {
    sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} WHERE t.id = ?"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The ticket bound to the viewer `identity`, if any.
pub async fn ticket_held_by(pool: &SqlitePool, identity: &str) -> sqlx::Result<Option<TicketRow>> {
    sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} WHERE t.hold_identity = ?"
    ))
    .bind(identity)
    .fetch_optional(pool)
    .await
}

/// Writes the rules' outcome for `row` if nobody changed the ticket since it was read;
/// `false` means someone did (read it again and decide again).
pub async fn save_ticket(
    pool: &SqlitePool,
    row: &TicketRow,
    ticket: &crate::tickets::Ticket,
) -> sqlx::Result<bool> {
    let hold = ticket.hold.as_ref();
    let result = sqlx::query(
        "UPDATE tickets SET payment = ?, hold_identity = ?, hold_until = ?, hold_joined = ?, \
         consumed_at = ?, version = version + 1 WHERE id = ? AND version = ?",
    )
    .bind(ticket.payment.as_str())
    .bind(hold.map(|h| h.identity.as_str()))
    .bind(hold.map(|h| h.until_ms))
    .bind(hold.is_some_and(|h| h.joined))
    .bind(ticket.consumed_at_ms)
    .bind(&row.id)
    .bind(row.version)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records a provider's confirmation: the ticket becomes paid and its price is added to the
/// earnings, in one transaction. `false` if the event was handled before or the ticket is not
/// awaiting payment (a replay, or a refund came first): nothing changes then.
pub async fn confirm_payment(
    pool: &SqlitePool,
    event_id: &str,
    ticket_id: &str,
    payment_ref: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let fresh = sqlx::query(
        "INSERT INTO payment_events (id, received_at) VALUES (?, ?) ON CONFLICT(id) DO NOTHING",
    )
    .bind(event_id)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    let paid = sqlx::query(
        "UPDATE tickets SET payment = 'paid', paid_at = ?, payment_ref = COALESCE(?, payment_ref), \
         version = version + 1 WHERE id = ? AND payment = 'awaiting'",
    )
    .bind(now_ms)
    .bind(payment_ref)
    .bind(ticket_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if paid {
        add_to_ledger(&mut tx, ticket_id, Entry::Payment, now_ms).await?;
    }
    // The event id is kept either way: a replay of it must change nothing later either.
    tx.commit().await?;
    Ok(paid)
}

/// Records a refund the provider made: the ticket admits nobody any more and its price is
/// taken back from the earnings. `false` if it was not paid.
pub async fn record_refund(pool: &SqlitePool, ticket_id: &str, now_ms: i64) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let refunded = sqlx::query(
        "UPDATE tickets SET payment = 'refunded', refunded_at = ?, hold_identity = NULL, \
         hold_until = NULL, hold_joined = 0, version = version + 1 \
         WHERE id = ? AND payment = 'paid'",
    )
    .bind(now_ms)
    .bind(ticket_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if refunded {
        add_to_ledger(&mut tx, ticket_id, Entry::Refund, now_ms).await?;
    }
    tx.commit().await?;
    Ok(refunded)
}

/// The paid tickets `device` bought for stream `stream_id`.
pub async fn paid_tickets_of_device(
    pool: &SqlitePool,
    stream_id: i64,
    device: &str,
) -> sqlx::Result<Vec<TicketRow>> {
    sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} \
         WHERE t.stream_id = ? AND t.device = ? AND t.payment = 'paid'"
    ))
    .bind(stream_id)
    .bind(device)
    .fetch_all(pool)
    .await
}

/// A banned viewer's paid ticket kept by the creator: it admits nobody, its price stays in
/// the earnings. `false` if it was not paid.
pub async fn forfeit(pool: &SqlitePool, ticket_id: &str) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE tickets SET payment = 'forfeited', hold_identity = NULL, hold_until = NULL, \
         hold_joined = 0, version = version + 1 WHERE id = ? AND payment = 'paid'",
    )
    .bind(ticket_id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

#[derive(Clone, Copy)]
enum Entry {
    Payment,
    Refund,
}

/// One ledger row for the ticket: its price for a payment, minus its price for a refund. At
/// most one of each per ticket, so a repeat adds nothing.
async fn add_to_ledger(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    ticket_id: &str,
    entry: Entry,
    now_ms: i64,
) -> sqlx::Result<()> {
    let (name, sign) = match entry {
        Entry::Payment => ("payment", 1),
        Entry::Refund => ("refund", -1),
    };
    sqlx::query(
        "INSERT INTO earnings (ticket_id, entry, stream_id, amount_cents, currency, at) \
         SELECT id, ?, stream_id, ? * price_cents, currency, ? FROM tickets WHERE id = ? \
         ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(sign)
    .bind(now_ms)
    .bind(ticket_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Per stream (newest first) for the streamer, from the ledger.
pub async fn earnings(pool: &SqlitePool, streamer_id: i64) -> sqlx::Result<Vec<StreamEarnings>> {
    sqlx::query_as(
        "SELECT e.stream_id, s.title, e.currency, SUM(e.amount_cents) AS total_cents, \
         SUM(e.entry = 'payment') AS paid_tickets, SUM(e.entry = 'refund') AS refunded_tickets \
         FROM earnings e JOIN streams s ON s.id = e.stream_id WHERE s.streamer_id = ? \
         GROUP BY e.stream_id, e.currency ORDER BY e.stream_id DESC",
    )
    .bind(streamer_id)
    .fetch_all(pool)
    .await
}

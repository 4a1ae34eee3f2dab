//! Tickets at the door: admitting a viewer of a pay-per-view stream with a ticket, and
//! LiveKit's joins and leaves applied to the tickets they hold. The rules are pure, in
//! [`crate::tickets`]; this applies them to stored tickets with compare-and-swap updates, so
//! two requests (or a request and a webhook) racing for one ticket cannot both win. Apart
//! from HTTP: the token endpoint and the webhook dispatch call it.

use std::time::Duration;

use onair_core::viewers::{Change, ParticipantEvent};
use onair_core::wire::ErrorKind;

use crate::db::{self, TicketRow};
use crate::live::now_ms;
use crate::tickets::Refusal;
use crate::{room_name, AppState};

/// How often a compare-and-swap update is tried before giving up on a ticket that keeps
/// changing under it.
const ATTEMPTS: usize = 5;

/// Why a viewer is not let in, or a ticket could not be updated.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    #[error("{0} is not live right now")]
    Offline(String),
    /// No ticket that admits this viewer: `kind` says why (`payment_required`,
    /// `payment_pending`, `ticket_refunded`); the price of a ticket comes with it.
    #[error("{message}")]
    NeedsTicket {
        kind: ErrorKind,
        message: String,
        price_cents: i64,
        currency: String,
    },
    #[error("{0}")]
    InUse(&'static str),
    #[error("this ticket was forfeited when you were banned from this stream")]
    Forfeited,
    #[error("the database failed: {0}")]
    Store(#[from] sqlx::Error),
}

/// The pay-per-view stream `username` has on air: its id and price; `None` for a free one.
pub async fn paid_stream_on_air(
    state: &AppState,
    username: &str,
) -> Result<Option<(i64, i64)>, AdmissionError> {
    let Some(stream_id) = state.hub.on_air(username).await else {
        return Err(AdmissionError::Offline(username.to_owned()));
    };
    let record = db::stream(&state.db, stream_id).await?;
    Ok(record
        .and_then(|r| r.ppv_price_cents)
        .map(|price| (stream_id, price)))
}

pub fn format_price(cents: i64, currency: &str) -> String {
    format!(
        "{}.{:02} {}",
        cents / 100,
        cents % 100,
        currency.to_uppercase()
    )
}

/// For a viewer token: whether `username`'s stream needs a ticket, and if so binds `ticket`
/// to `identity` and reserves it. Answers how long the token may live (a pay-per-view token
/// dies with its reservation, so a late join cannot ride on a ticket someone else now
/// holds); `None` for a free stream.
pub async fn admit(
    state: &AppState,
    username: &str,
    ticket: Option<&str>,
    identity: &str,
) -> Result<Option<Duration>, AdmissionError> {
    let Some((stream_id, price_cents)) = paid_stream_on_air(state, username).await? else {
        return Ok(None);
    };
    let currency = &state.config.currency;
    let needs = |kind: ErrorKind, message: String| AdmissionError::NeedsTicket {
        kind,
        message,
        price_cents,
        currency: currency.clone(),
    };
    let price = format_price(price_cents, currency);
    let Some(ticket_id) = ticket.filter(|t| crate::tickets::valid_ticket_id(t)) else {
        return Err(needs(
            ErrorKind::PaymentRequired,
            format!("{username}'s stream is pay-per-view: a ticket costs {price}"),
        ));
    };
    let reservation = state.config.ticket_reservation_ms();
    for _ in 0..ATTEMPTS {
        let Some(row) = db::ticket(&state.db, ticket_id).await? else {
            return Err(needs(
                ErrorKind::PaymentRequired,
                format!(
                    "this ticket is unknown here; a ticket for {username}'s stream costs {price}"
                ),
            ));
        };
        let mut rules = row.rules();
        let now = now_ms();
        let mut outcome = rules.admit(stream_id, identity, now, reservation);
        if outcome == Err(Refusal::InUse) && holder_is_gone(state, username, &row).await {
            // Its viewer left without LiveKit telling us (a lost webhook): free it.
            rules.hold = None;
            outcome = rules.admit(stream_id, identity, now, reservation);
        }
        match outcome {
            Ok(()) => {
                if db::save_ticket(&state.db, &row, &rules).await? {
                    return Ok(Some(Duration::from_millis(reservation as u64)));
                }
            }
            Err(refusal) => return Err(refused(state, refusal, price_cents)),
        }
    }
    Err(AdmissionError::InUse(
        "this ticket is being used from several places at once; try again",
    ))
}

/// For the chat of `username`'s pay-per-view stream on air (`stream_id`, `price_cents`):
/// whether `ticket` is paid for it and still good. Chatting does not bind the ticket: the
/// viewer watching with it may chat from the same page.
pub async fn holds_ticket(
    state: &AppState,
    username: &str,
    (stream_id, price_cents): (i64, i64),
    ticket: Option<&str>,
) -> Result<(), AdmissionError> {
    let row = match ticket.filter(|t| crate::tickets::valid_ticket_id(t)) {
        Some(id) => db::ticket(&state.db, id).await?,
        None => None,
    };
    let Some(row) = row else {
        return Err(AdmissionError::NeedsTicket {
            kind: ErrorKind::PaymentRequired,
            message: format!(
                "only ticket holders chat during {username}'s stream: a ticket costs {}",
                format_price(price_cents, &state.config.currency)
            ),
            price_cents,
            currency: state.config.currency.clone(),
        });
    };
    row.rules()
        .valid_for(stream_id)
        .map_err(|refusal| refused(state, refusal, price_cents))
}

/// What a viewer is told when their ticket does not admit them (a ticket costs
/// `price_cents`).
fn refused(state: &AppState, refusal: Refusal, price_cents: i64) -> AdmissionError {
    let currency = &state.config.currency;
    let price = format_price(price_cents, currency);
    let needs = |kind: ErrorKind, message: String| AdmissionError::NeedsTicket {
        kind,
        message,
        price_cents,
        currency: currency.clone(),
    };
    match refusal {
        Refusal::NotPaid => needs(
            ErrorKind::PaymentPending,
            "this ticket's payment is not confirmed yet; try again in a moment".into(),
        ),
        Refusal::Refunded => needs(
            ErrorKind::TicketRefunded,
            format!("this ticket was refunded; a new one costs {price}"),
        ),
        Refusal::OtherStream => needs(
            ErrorKind::PaymentRequired,
            format!("this ticket is for another stream; a ticket for this one costs {price}"),
        ),
        Refusal::Forfeited => AdmissionError::Forfeited,
        Refusal::InUse => AdmissionError::InUse(
            "this ticket is being used to watch somewhere else; close the other player first",
        ),
    }
}

/// A ticket held by a viewer LiveKit no longer lists (asked only when the ticket looks taken).
async fn holder_is_gone(state: &AppState, username: &str, row: &TicketRow) -> bool {
    let Some(identity) = row.hold_identity.as_deref().filter(|_| row.hold_joined) else {
        return false;
    };
    match state.hub.is_present(&room_name(username), identity).await {
        Ok(present) => !present,
        Err(err) => {
            tracing::warn!(error = %err, "cannot ask LiveKit whether a ticket's viewer is still there");
            false
        }
    }
}

/// Why a join or leave could not be applied to tickets (logged by the webhook dispatch: the
/// webhook itself is still accepted).
#[derive(Debug, thiserror::Error)]
pub enum ParticipantError {
    #[error("the database failed: {0}")]
    Store(#[from] sqlx::Error),
    #[error("the ticket kept changing under the webhook")]
    Contended,
}

/// LiveKit says a participant joined or left `room`: a ticket bound to it is consumed (a
/// confirmed join while the streamer is live) or let go. A join with a token whose
/// reservation went to someone else is thrown out of the room.
pub async fn on_participant(
    state: &AppState,
    room: &str,
    event: &ParticipantEvent,
) -> Result<(), ParticipantError> {
    let (identity, joined) = match &event.change {
        Change::Joined(p) => (&p.identity, true),
        Change::Left(p) => (&p.identity, false),
    };
    for _ in 0..ATTEMPTS {
        let Some(row) = db::ticket_held_by(&state.db, identity).await? else {
            if joined {
                refuse_unticketed(state, room, identity).await;
            }
            return Ok(());
        };
        let mut rules = row.rules();
        if joined {
            let live = state.hub.on_air(room).await == Some(row.stream_id);
            let outcome = rules.joined(identity, live, now_ms());
            if !db::save_ticket(&state.db, &row, &rules).await? {
                continue;
            }
            tracing::info!(ticket = %&row.id[..7], ?outcome, "viewer with a ticket joined");
        } else {
            rules.released(identity);
            if !db::save_ticket(&state.db, &row, &rules).await? {
                continue;
            }
            tracing::info!(ticket = %&row.id[..7], "viewer with a ticket left; the ticket is free");
        }
        return Ok(());
    }
    Err(ParticipantError::Contended)
}

/// A viewer in a pay-per-view room whose identity holds no ticket (its reservation lapsed
/// and went to someone else before it joined): removed.
async fn refuse_unticketed(state: &AppState, room: &str, identity: &str) {
    if !identity.starts_with("viewer-") {
        return;
    }
    let paid = matches!(paid_stream_on_air(state, room).await, Ok(Some(_)));
    if paid {
        tracing::warn!(
            room,
            identity,
            "a viewer joined a pay-per-view stream without a ticket; removing it"
        );
        if let Err(err) = state.hub.remove_participant(room, identity).await {
            tracing::warn!(error = %err, "could not remove the viewer");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_as_money() {
        assert_eq!(format_price(499, "usd"), "4.99 USD");
        assert_eq!(format_price(100_000 - 1, "eur"), "999.99 EUR");
        assert_eq!(format_price(5, "usd"), "0.05 USD");
    }
}

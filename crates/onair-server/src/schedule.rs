//! Scheduled streams: planning, changing and calling off a stream ahead of time, Go Live
//! taking one over, marking the ones nobody started as missed, and refunding the tickets of a
//! paid one that is called off. The rules are `onair_core::schedule`'s; the rows are
//! `store`'s; the calendar files `ics`'s.

pub mod ics;
pub mod store;

use onair_core::schedule::{self as rules, ScheduleState};
use onair_core::validate;
use onair_core::wire::schedule::{ScheduleRequest, ScheduledStream};
use onair_core::FieldError;

use crate::db::{self, Streamer};
use crate::live::now_ms;
use crate::payments::PaymentError;
use crate::AppState;
use store::{Plan, ScheduleRow};

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("you have no scheduled stream {0}")]
    NotFound(i64),
    #[error("this stream is {0}: only a stream that has not started can change")]
    NotUpcoming(&'static str),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

fn state_word(state: ScheduleState) -> &'static str {
    match state {
        ScheduleState::Scheduled => "scheduled",
        ScheduleState::Live => "live",
        ScheduleState::Ended => "over",
        ScheduleState::Cancelled => "cancelled",
        ScheduleState::Missed => "missed",
    }
}

/// A request checked field by field, in the order a form shows them.
pub fn plan(request: &ScheduleRequest, now_ms: i64) -> Result<Plan, FieldError> {
    let title = validate::title(&request.title)?;
    let description = rules::description(&request.description)?;
    let starts_at_ms = rules::starts_at(now_ms, request.starts_at)?;
    let duration_minutes = rules::duration_minutes(request.duration_minutes)?;
    let ppv_price_cents = match request.price_text() {
        None => None,
        Some(text) => Some(validate::price_cents(&text)?),
    };
    Ok(Plan {
        title,
        description,
        starts_at_ms,
        duration_minutes,
        ppv_price_cents,
    })
}

/// One of `streamer`'s scheduled streams, in any state.
async fn own(state: &AppState, streamer: &Streamer, id: i64) -> Result<ScheduleRow, ScheduleError> {
    match store::get(&state.db, id).await? {
        Some(row) if row.streamer_id == streamer.id => Ok(row),
        _ => Err(ScheduleError::NotFound(id)),
    }
}

async fn reread(state: &AppState, id: i64) -> Result<ScheduledStream, ScheduleError> {
    store::get(&state.db, id)
        .await?
        .map(|row| row.view(&state.config.currency))
        .ok_or(ScheduleError::NotFound(id))
}

/// Plans a stream; nothing is stored if any field is wrong.
pub async fn create(
    state: &AppState,
    streamer: &Streamer,
    request: &ScheduleRequest,
) -> Result<ScheduledStream, ScheduleError> {
    let now = now_ms();
    let plan = plan(request, now)?;
    let upcoming = store::count_upcoming(&state.db, streamer.id).await?;
    rules::room_for_another(usize::try_from(upcoming).unwrap_or(usize::MAX))?;
    let id = store::insert(&state.db, streamer.id, &plan, now).await?;
    tracing::info!(
        streamer = streamer.username,
        id,
        starts_at = plan.starts_at_ms,
        "stream scheduled"
    );
    reread(state, id).await
}

/// Replaces an upcoming stream's details. Its price cannot change once tickets were bought.
pub async fn edit(
    state: &AppState,
    streamer: &Streamer,
    id: i64,
    request: &ScheduleRequest,
) -> Result<ScheduledStream, ScheduleError> {
    let row = own(state, streamer, id).await?;
    if !row.state().is_upcoming() {
        return Err(ScheduleError::NotUpcoming(state_word(row.state())));
    }
    let plan = plan(request, now_ms())?;
    let new_price = plan.ppv_price_cents.map(i64::from);
    if new_price != row.ppv_price_cents && store::tickets_sold(&state.db, id).await? > 0 {
        return Err(FieldError {
            field: "ppv_price",
            message: "tickets were already bought at the old price: keep it, or cancel the stream (which refunds them) and schedule a new one".into(),
        }
        .into());
    }
    if !store::update(&state.db, id, streamer.id, &plan, now_ms()).await? {
        // Started (or taken over by a Go Live) or cancelled since it was read.
        let now = store::get(&state.db, id).await?.map(|r| r.state());
        return Err(ScheduleError::NotUpcoming(state_word(
            now.unwrap_or(ScheduleState::Live),
        )));
    }
    reread(state, id).await
}

/// What calling a stream off did.
#[derive(Debug)]
pub struct Cancelled {
    pub stream: ScheduledStream,
    pub refunded_tickets: u32,
}

/// Calls an upcoming stream off and refunds its paid tickets through the payment provider
/// (their price comes off the earnings). A refund that fails leaves the ticket paid and the
/// call failing: calling off again retries the refunds still owed.
pub async fn cancel(
    state: &AppState,
    streamer: &Streamer,
    id: i64,
) -> Result<Cancelled, ScheduleError> {
    let row = own(state, streamer, id).await?;
    match row.state() {
        ScheduleState::Scheduled => {
            if !store::cancel(&state.db, id, streamer.id, now_ms()).await? {
                let now = store::get(&state.db, id).await?.map(|r| r.state());
                return Err(ScheduleError::NotUpcoming(state_word(
                    now.unwrap_or(ScheduleState::Live),
                )));
            }
        }
        // Called off before: go on with refunds a failure left owed.
        ScheduleState::Cancelled => {}
        other => return Err(ScheduleError::NotUpcoming(state_word(other))),
    }
    let mut refunded_tickets = 0;
    for ticket in store::paid_tickets_of_stream(&state.db, id).await? {
        if ticket.provider != state.payments.name() {
            tracing::warn!(
                ticket_provider = ticket.provider,
                "a ticket of a cancelled stream was bought through another provider: refund it there"
            );
            continue;
        }
        state
            .payments
            .refund(&ticket.id, ticket.payment_ref.as_deref())
            .await?;
        if db::record_refund(&state.db, &ticket.id, now_ms()).await? {
            refunded_tickets += 1;
        }
    }
    tracing::info!(
        streamer = streamer.username,
        id,
        refunded_tickets,
        "scheduled stream cancelled"
    );
    Ok(Cancelled {
        stream: reread(state, id).await?,
        refunded_tickets,
    })
}

/// The scheduled stream a Go Live takes over, claimed for the creator's next join: the one
/// asked for, or else the one whose Go Live window holds now. `None`: a new stream.
pub async fn take_for_go_live(
    state: &AppState,
    streamer: &Streamer,
    asked: Option<i64>,
) -> Result<Option<ScheduleRow>, ScheduleError> {
    let now = now_ms();
    let id = match asked {
        Some(id) => {
            let row = own(state, streamer, id).await?;
            if !row.state().is_upcoming() {
                return Err(ScheduleError::NotUpcoming(state_word(row.state())));
            }
            id
        }
        None => {
            let upcoming = store::upcoming_of(&state.db, streamer.id).await?;
            let Some(id) =
                rules::stream_for_go_live(upcoming.iter().map(|r| (r.id, r.slot())), now)
            else {
                return Ok(None);
            };
            id
        }
    };
    if !store::claim(&state.db, id, streamer.id, now).await? {
        return Err(ScheduleError::NotUpcoming("taken"));
    }
    Ok(store::get(&state.db, id).await?)
}

/// Marks streams nobody started within `grace_ms` of their start as missed (run by the
/// reconciliation loop).
pub async fn mark_missed(state: &AppState, grace_ms: i64) -> Result<usize, sqlx::Error> {
    let now = now_ms();
    let missed = store::mark_missed(&state.db, now - grace_ms, now).await?;
    for (id, streamer_id) in &missed {
        tracing::info!(
            streamer_id,
            id,
            "scheduled stream missed: nobody started it in time"
        );
    }
    Ok(missed.len())
}

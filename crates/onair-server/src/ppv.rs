//! Pay-per-view over HTTP: buying a ticket, its state, the payment provider's webhook,
//! refunds and earnings. Admitting a viewer with a ticket, and joins and leaves applied to
//! tickets, are in [`crate::admission`]; the rules themselves in [`crate::tickets`].

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use axum_extra::extract::cookie::SignedCookieJar;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::{self, TicketRow};
use crate::error::{ErrorBody, ErrorKind};
use crate::extract::{Authenticated, PathStreamer, PathTicket, ViewerDevice};
use crate::live::now_ms;
use crate::payments::{Notice, PaymentError, Purchase};
use crate::tickets::Payment;
use crate::{ApiError, AppState};
pub use onair_core::wire::Earnings;
use onair_core::wire::Health;

/// A ticket as its holder and the streamer see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketView {
    /// The ticket's secret: whoever has it may watch with it.
    #[schema(example = "tk_5f0c…")]
    pub id: String,
    pub username: String,
    /// The one stream it is good for.
    pub stream_id: i64,
    pub price_cents: i64,
    pub currency: String,
    /// `stripe` or `development`.
    pub provider: String,
    pub payment: Payment,
    /// Used to watch at least once (LiveKit confirmed the join).
    pub consumed: bool,
    /// A viewer holds it right now (watching, or a token not yet used).
    pub in_use: bool,
    /// Where to pay, while payment is awaited.
    pub checkout_url: Option<String>,
}

impl TicketView {
    fn of(row: &TicketRow) -> Self {
        let rules = row.rules();
        Self {
            id: row.id.clone(),
            username: row.username.clone(),
            stream_id: row.stream_id,
            price_cents: row.price_cents,
            currency: row.currency.clone(),
            provider: row.provider.clone(),
            payment: rules.payment,
            consumed: rules.consumed_at_ms.is_some(),
            in_use: rules.in_use(now_ms()),
            checkout_url: row
                .checkout_url
                .clone()
                .filter(|_| rules.payment == Payment::Awaiting),
        }
    }
}

fn new_ticket_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("tk_{}", hex::encode(bytes))
}

/// A ticket this request just wrote, as it is now.
async fn reread(state: &AppState, id: &str) -> Result<TicketRow, ApiError> {
    db::ticket(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("ticket {id} vanished")))
}

/// Where checkout sends the buyer back: the viewer page, carrying the ticket.
fn page_url(state: &AppState, headers: &HeaderMap, username: &str) -> String {
    let base = state.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1:8080");
        format!("http://{host}")
    });
    format!("{}/live/{username}", base.trim_end_matches('/'))
}

/// Buys a ticket for the stream on air, or in advance for a scheduled one (it admits its
/// holder once that stream is live): answers the ticket and, with Stripe, the checkout page to
/// send the buyer to. The ticket is paid once the provider confirms (with the development
/// provider, at once).
#[utoipa::path(
    post, path = "/api/streams/{username}/tickets", tag = "pay-per-view",
    params(("username" = String, Path, description = "The streamer", example = "alice"), BuyQuery),
    responses(
        (status = 201, body = TicketView, description = "Pay at `checkout_url` (absent when already paid)"),
        (status = 400, body = ErrorBody, description = "Malformed username or stream id"),
        (status = 404, body = ErrorBody, description = "No such streamer, or `stream_id` is not one of their streams on air or scheduled"),
        (status = 409, body = ErrorBody, description = "`offline`: not live and no paid stream scheduled; or `free`: this stream needs no ticket"),
        (status = 429, body = ErrorBody, description = "Rate limited; see Retry-After"),
        (status = 502, body = ErrorBody, description = "`payment_provider`: the provider failed; try again"),
    )
)]
pub async fn buy_ticket(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathStreamer(streamer): PathStreamer,
    query: Result<Query<BuyQuery>, QueryRejection>,
    ViewerDevice { device, jar }: ViewerDevice,
) -> Result<(StatusCode, SignedCookieJar, Json<TicketView>), ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (stream_id, price_cents) = stream_to_sell(&state, &streamer, query.stream_id).await?;
    let id = new_ticket_id();
    let now = now_ms();
    db::create_ticket(
        &state.db,
        &db::NewTicket {
            id: &id,
            device: Some(&device.id),
            stream_id,
            price_cents,
            currency: &state.config.currency,
            provider: state.payments.name(),
            now_ms: now,
        },
    )
    .await?;
    let page = page_url(&state, &headers, &streamer.username);
    let title = db::stream(&state.db, stream_id)
        .await?
        .map(|r| r.title)
        .unwrap_or_default();
    let description = format!("{} — {title}", streamer.username);
    let checkout = state
        .payments
        .checkout(&Purchase {
            ticket_id: &id,
            amount_cents: price_cents,
            currency: &state.config.currency,
            description: &description,
            return_url: &format!("{page}?ticket={id}"),
            cancel_url: &format!("{page}?checkout=cancelled"),
        })
        .await?;
    db::set_checkout(&state.db, &id, &checkout.id, checkout.url.as_deref()).await?;
    if checkout.paid {
        db::confirm_payment(&state.db, &checkout.id, &id, None, now_ms()).await?;
    }
    let row = reread(&state, &id).await?;
    tracing::info!(ticket = %&id[..7], stream_id, provider = state.payments.name(), paid = checkout.paid, "ticket bought");
    Ok((StatusCode::CREATED, jar, Json(TicketView::of(&row))))
}

/// Which stream a ticket is bought for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct BuyQuery {
    /// A stream on air or scheduled; by default the one on air, else the next scheduled one
    /// with a price.
    pub stream_id: Option<i64>,
}

/// The stream a ticket bought now is for, with its price: the one asked for (on air or still
/// upcoming), else the one on air, else the next upcoming scheduled stream with a price.
async fn stream_to_sell(
    state: &AppState,
    streamer: &db::Streamer,
    asked: Option<i64>,
) -> Result<(i64, i64), ApiError> {
    let on_air = state.hub.on_air(&streamer.username).await;
    let free = || {
        ApiError::Conflict(
            ErrorKind::Free,
            format!(
                "{}'s stream is free to watch: no ticket needed",
                streamer.username
            ),
        )
    };
    let price_on_air = |id| async move {
        Ok::<_, ApiError>(
            db::stream(&state.db, id)
                .await?
                .and_then(|r| r.ppv_price_cents),
        )
    };
    match (asked, on_air) {
        (Some(id), Some(live)) if id == live => {
            price_on_air(id).await?.map(|p| (id, p)).ok_or_else(free)
        }
        (Some(id), _) => {
            let row = crate::schedule::store::get(&state.db, id)
                .await?
                .filter(|r| r.streamer_id == streamer.id && r.state().is_upcoming())
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "{} has no stream {id} on air or scheduled",
                        streamer.username
                    ))
                })?;
            row.ppv_price_cents.map(|p| (id, p)).ok_or_else(free)
        }
        (None, Some(live)) => price_on_air(live)
            .await?
            .map(|p| (live, p))
            .ok_or_else(free),
        (None, None) => crate::schedule::store::upcoming_of(&state.db, streamer.id)
            .await?
            .into_iter()
            .find_map(|r| r.ppv_price_cents.map(|p| (r.id, p)))
            .ok_or_else(|| {
                ApiError::Conflict(
                    ErrorKind::Offline,
                    format!(
                        "{} is not live and has no paid stream scheduled",
                        streamer.username
                    ),
                )
            }),
    }
}

/// A ticket's state: paid yet, used, in use.
#[utoipa::path(
    get, path = "/api/tickets/{id}", tag = "pay-per-view",
    params(("id" = String, Path, description = "The ticket")),
    responses(
        (status = 200, body = TicketView),
        (status = 400, body = ErrorBody, description = "Not a ticket id"),
        (status = 404, body = ErrorBody, description = "No such ticket"),
    )
)]
pub async fn ticket(PathTicket(row): PathTicket) -> Json<TicketView> {
    Json(TicketView::of(&row))
}

/// The payment provider's webhook (Stripe: `checkout.session.completed`), verified by its
/// signature; repeats of an event change nothing.
#[utoipa::path(
    post, path = "/api/payments/stripe/webhook", tag = "pay-per-view",
    request_body(content = String, content_type = "application/json"),
    responses(
        (status = 200, body = Health, description = "Accepted (or a repeat, ignored)"),
        (status = 400, body = ErrorBody, description = "Signed, but not an event"),
        (status = 401, body = ErrorBody, description = "Missing, wrong or stale signature"),
        (status = 404, body = ErrorBody, description = "This server does not take Stripe payments"),
    )
)]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Health>, ApiError> {
    let now_s = now_ms() / 1000;
    let notice = state
        .payments
        .verify(&headers, &body, now_s)
        .map_err(|err| match err {
            PaymentError::Unsupported(why) => ApiError::NotFound(why.into()),
            PaymentError::Malformed(why) => {
                ApiError::BadRequest(format!("not a Stripe event: {why}"))
            }
            other => {
                tracing::warn!(error = %other, "refused a payment webhook");
                ApiError::BadSignature
            }
        })?;
    match notice {
        Notice::Paid {
            event_id,
            ticket_id,
            amount_cents,
            currency,
            payment_ref,
        } => {
            let Some(row) = db::ticket(&state.db, &ticket_id).await? else {
                tracing::warn!(event_id, "a payment for a ticket this server does not have");
                return Ok(Json(Health { ok: true }));
            };
            let amount_ok = amount_cents.is_none_or(|a| a == row.price_cents)
                && currency.is_none_or(|c| c.eq_ignore_ascii_case(&row.currency));
            if !amount_ok {
                tracing::error!(event_id, ticket = %&row.id[..7], ?amount_cents, "a payment whose amount is not the ticket's price; not confirming it");
                return Ok(Json(Health { ok: true }));
            }
            let confirmed = db::confirm_payment(
                &state.db,
                &event_id,
                &ticket_id,
                payment_ref.as_deref(),
                now_ms(),
            )
            .await?;
            tracing::info!(event_id, ticket = %&row.id[..7], confirmed, "payment webhook");
        }
        Notice::Other { event_id, kind } => {
            tracing::debug!(event_id, kind, "payment webhook ignored");
        }
    }
    Ok(Json(Health { ok: true }))
}

/// Refunds a ticket through the provider it was bought with; its price comes off the
/// earnings and it admits nobody any more. Only the stream's creator may.
#[utoipa::path(
    post, path = "/api/tickets/{id}/refund", tag = "pay-per-view",
    params(("id" = String, Path, description = "The ticket")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = TicketView),
        (status = 400, body = ErrorBody, description = "Not a ticket id"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 404, body = ErrorBody, description = "No such ticket for this streamer"),
        (status = 409, body = ErrorBody, description = "`not_paid`: nothing to refund"),
        (status = 502, body = ErrorBody, description = "`payment_provider`: the refund failed; try again"),
    )
)]
pub async fn refund(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    PathTicket(row): PathTicket,
) -> Result<Json<TicketView>, ApiError> {
    if row.streamer_id != streamer.id {
        return Err(ApiError::NotFound("there is no such ticket".into()));
    }
    if row.rules().payment != Payment::Paid {
        return Err(ApiError::Conflict(
            ErrorKind::NotPaid,
            format!("this ticket is {}: there is nothing to refund", row.payment),
        ));
    }
    if row.provider != state.payments.name() {
        return Err(ApiError::Conflict(
            ErrorKind::NotPaid,
            format!(
                "this ticket was bought through {}, not {}: refund it there",
                row.provider,
                state.payments.name()
            ),
        ));
    }
    state
        .payments
        .refund(&row.id, row.payment_ref.as_deref())
        .await?;
    db::record_refund(&state.db, &row.id, now_ms()).await?;
    Ok(Json(TicketView::of(&reread(&state, &row.id).await?)))
}

/// What the streamer earned: from confirmed payments only, minus refunds.
#[utoipa::path(
    get, path = "/api/streams/{username}/earnings", tag = "pay-per-view",
    params(("username" = String, Path, description = "The streamer", example = "alice")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Earnings),
        (status = 400, body = ErrorBody, description = "Malformed username"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 403, body = ErrorBody, description = "Another streamer's key"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
    )
)]
pub async fn earnings(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    PathStreamer(streamer): PathStreamer,
) -> Result<Json<Earnings>, ApiError> {
    if streamer.id != me.id {
        return Err(ApiError::Forbidden(format!(
            "this API key is {}'s; only {} sees {}'s earnings",
            me.username, streamer.username, streamer.username
        )));
    }
    let streams = db::earnings(&state.db, streamer.id).await?;
    Ok(Json(Earnings {
        username: streamer.username,
        currency: state.config.currency.clone(),
        total_cents: streams.iter().map(|s| s.total_cents).sum(),
        streams,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ViewerTokenRequest {
    /// For a pay-per-view stream: the ticket to watch with.
    #[serde(default)]
    pub ticket: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_are_tk_and_32_hex_digits() {
        let id = new_ticket_id();
        assert!(crate::tickets::valid_ticket_id(&id), "{id}");
        assert!(!crate::tickets::valid_ticket_id("tk_xyz"));
        assert!(!crate::tickets::valid_ticket_id(&id.replace("tk_", "tx_")));
        assert_ne!(new_ticket_id(), id);
    }
}

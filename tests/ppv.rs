//! Pay-per-view end to end: the real livekit-server and its webhooks, the backend with
//! Stripe's own `stripe-mock` as the Stripe API (webhooks signed here with the endpoint
//! secret, as Stripe signs them), `onair live --ppv-price` as the creator and Python viewers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use onair_core::wire::schedule::ScheduleRequest;
use onair_e2e::backend::Stack;
use onair_e2e::browser::Browser;
use onair_e2e::chatter::Chatter;
use onair_e2e::harness::{abandon_join, retry_for, JsonProcess, StripeMock};
use onair_server::payments::stripe_signature;
use onair_server::Payments;
use serde_json::{json, Value};

const STREAMER: &str = "carol";
const WEBHOOK_SECRET: &str = "whsec_onair_e2e";
const WAIT: Duration = Duration::from_secs(20);

struct Ppv {
    stack: Stack,
    http: reqwest::Client,
    _stripe: Option<StripeMock>,
}

/// The stack with Stripe (stripe-mock) as the payment provider and 2 s reservations, and
/// `carol` live at 4.99.
async fn live_at_4_99() -> Result<(Ppv, JsonProcess)> {
    live_at_4_99_reserving(2.0).await
}

async fn live_at_4_99_reserving(reservation_secs: f64) -> Result<(Ppv, JsonProcess)> {
    let p = Ppv::with_stripe(reservation_secs).await?;
    let creator = p
        .stack
        .go_live_with(STREAMER, "Premiere", &["--ppv-price", "4.99"])
        .await?;
    Ok((p, creator))
}

fn unix_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Ppv {
    /// The stack with Stripe (stripe-mock) as the payment provider, `carol` offline.
    async fn with_stripe(reservation_secs: f64) -> Result<Self> {
        let stripe = StripeMock::start().await?;
        let api = stripe.url();
        let stack = Stack::start_with(STREAMER, |c| {
            c.payments = Payments::Stripe;
            c.stripe_api_base = api;
            c.stripe_secret_key = "sk_test_onair".into();
            c.stripe_webhook_secret = WEBHOOK_SECRET.into();
            c.ticket_reservation_secs = reservation_secs;
            c.rate_limit_per_minute = 1000.try_into().unwrap();
        })
        .await?;
        Ok(Self::over(stack, Some(stripe)))
    }

    fn over(stack: Stack, stripe: Option<StripeMock>) -> Self {
        Self {
            stack,
            http: reqwest::Client::new(),
            _stripe: stripe,
        }
    }

    fn url(&self, path: &str) -> String {
        self.stack.backend.url(path)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Value)> {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// `POST …/tickets` as answered.
    async fn try_buy(&self) -> Result<(u16, Value)> {
        self.send(
            self.http
                .post(self.url(&format!("/api/streams/{STREAMER}/tickets"))),
        )
        .await
    }

    /// Buys a ticket for the scheduled stream `id` ahead of it and confirms it with a
    /// correctly signed webhook.
    async fn paid_ticket_ahead(&self, id: i64, event_id: &str) -> Result<String> {
        let (status, ticket) = self
            .send(
                self.http
                    .post(self.url(&format!("/api/streams/{STREAMER}/tickets?stream_id={id}"))),
            )
            .await?;
        ensure!(status == 201, "buying a ticket ahead: {status} {ticket}");
        ensure!(ticket["stream_id"] == id, "{ticket}");
        ensure!(ticket["payment"] == "awaiting", "{ticket}");
        let ticket = ticket["id"].as_str().context("ticket id")?.to_owned();
        let status = self
            .stripe_webhook(event_id, &ticket, Some((WEBHOOK_SECRET, unix_s())))
            .await?;
        ensure!(status == 200, "the signed webhook answered {status}");
        Ok(ticket)
    }

    async fn buy(&self) -> Result<Value> {
        let (status, body) = self.try_buy().await?;
        ensure!(status == 201, "buying a ticket: {status} {body}");
        Ok(body)
    }

    /// `POST /api/tickets/{id}/refund` with the streamer's key, as answered.
    async fn refund(&self, id: &str) -> Result<(u16, Value)> {
        self.send(
            self.http
                .post(self.url(&format!("/api/tickets/{id}/refund")))
                .bearer_auth(&self.stack.key),
        )
        .await
    }

    async fn ticket(&self, id: &str) -> Result<Value> {
        let (status, body) = self
            .send(self.http.get(self.url(&format!("/api/tickets/{id}"))))
            .await?;
        ensure!(status == 200, "ticket state: {status} {body}");
        Ok(body)
    }

    async fn viewer_token(&self, ticket: Option<&str>) -> Result<(u16, Value)> {
        let mut request = self
            .http
            .post(self.url(&format!("/api/streams/{STREAMER}/viewer-token")));
        if let Some(ticket) = ticket {
            request = request.json(&json!({ "ticket": ticket }));
        }
        self.send(request).await
    }

    /// Posts `checkout.session.completed` for `ticket` as Stripe would, signed with `secret`
    /// at `signed_at`; `None` posts it unsigned.
    async fn stripe_webhook(
        &self,
        event_id: &str,
        ticket: &str,
        signing: Option<(&str, i64)>,
    ) -> Result<u16> {
        let body = json!({
            "id": event_id,
            "object": "event",
            "type": "checkout.session.completed",
            "data": { "object": {
                "id": "cs_test_onair",
                "object": "checkout.session",
                "client_reference_id": ticket,
                "payment_status": "paid",
                "status": "complete",
                "amount_total": 499,
                "currency": "usd",
                "payment_intent": format!("pi_{event_id}"),
            }},
        })
        .to_string();
        let mut request = self
            .http
            .post(self.url("/api/payments/stripe/webhook"))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some((secret, at)) = signing {
            request = request.header(
                "Stripe-Signature",
                stripe_signature(secret, body.as_bytes(), at),
            );
        }
        Ok(request.send().await?.status().as_u16())
    }

    /// Buys a ticket and confirms it with a correctly signed webhook.
    async fn paid_ticket(&self, event_id: &str) -> Result<String> {
        let ticket = self.buy().await?;
        let id = ticket["id"].as_str().context("ticket id")?.to_owned();
        let status = self
            .stripe_webhook(event_id, &id, Some((WEBHOOK_SECRET, unix_s())))
            .await?;
        ensure!(status == 200, "the signed webhook answered {status}");
        Ok(id)
    }

    async fn earnings(&self) -> Result<Value> {
        let (status, body) = self
            .send(
                self.http
                    .get(self.url(&format!("/api/streams/{STREAMER}/earnings")))
                    .bearer_auth(&self.stack.key),
            )
            .await?;
        ensure!(status == 200, "earnings: {status} {body}");
        Ok(body)
    }

    /// Waits until the ticket shows `field == value` (set by LiveKit's webhooks).
    async fn wait_ticket(&self, id: &str, field: &str, value: bool) -> Result<Value> {
        retry_for(WAIT, Duration::from_millis(50), || async {
            let t = self.ticket(id).await?;
            ensure!(
                t[field] == json!(value),
                "ticket {field} is not {value}: {t}"
            );
            Ok(t)
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paid_stream_admits_only_with_a_ticket_stripe_confirmed_and_forged_webhooks_change_nothing(
) -> Result<()> {
    let (p, _creator) = live_at_4_99().await?;

    // No ticket: 402 with the price.
    let (status, body) = p.viewer_token(None).await?;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["kind"], "payment_required");
    assert_eq!(body["error"]["price_cents"], 499);
    assert_eq!(body["error"]["currency"], "usd");

    // Buying starts a Stripe Checkout Session; the ticket is not paid until Stripe says so.
    let ticket = p.buy().await?;
    let id = ticket["id"].as_str().unwrap().to_owned();
    assert_eq!(ticket["payment"], "awaiting", "{ticket}");
    assert_eq!(ticket["price_cents"], 499);
    assert_eq!(ticket["provider"], "stripe");
    assert!(
        ticket["checkout_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://")),
        "{ticket}"
    );
    let (status, body) = p.viewer_token(Some(&id)).await?;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (402, Some("payment_pending"))
    );

    // Unsigned, wrongly signed, stale: refused, nothing changes.
    let now = unix_s();
    assert_eq!(p.stripe_webhook("evt_forged", &id, None).await?, 401);
    assert_eq!(
        p.stripe_webhook("evt_forged", &id, Some(("whsec_wrong", now)))
            .await?,
        401
    );
    assert_eq!(
        p.stripe_webhook("evt_forged", &id, Some((WEBHOOK_SECRET, now - 600)))
            .await?,
        401
    );
    assert_eq!(p.ticket(&id).await?["payment"], "awaiting");
    assert_eq!(p.earnings().await?["total_cents"], 0);

    // Signed by Stripe's scheme: paid, and the price is earned once.
    assert_eq!(
        p.stripe_webhook("evt_paid", &id, Some((WEBHOOK_SECRET, now)))
            .await?,
        200
    );
    assert_eq!(p.ticket(&id).await?["payment"], "paid");
    assert_eq!(p.earnings().await?["total_cents"], 499);
    // A replay (the same event, signed afresh) and a second event for the same ticket: no change.
    assert_eq!(
        p.stripe_webhook("evt_paid", &id, Some((WEBHOOK_SECRET, unix_s())))
            .await?,
        200
    );
    assert_eq!(
        p.stripe_webhook("evt_paid_again", &id, Some((WEBHOOK_SECRET, unix_s())))
            .await?,
        200
    );
    assert_eq!(p.earnings().await?["total_cents"], 499);

    // Paid → a token, good for a short reservation only.
    let (status, token) = p.viewer_token(Some(&id)).await?;
    assert_eq!(status, 200, "{token}");
    let lifetime = token["expires_at"].as_i64().unwrap() - unix_s();
    assert!((1..=3).contains(&lifetime), "{lifetime} s");
    // An unknown ticket, or one that is not a ticket id: 402 with the price.
    let (status, body) = p
        .viewer_token(Some("tk_00000000000000000000000000000000"))
        .await?;
    assert_eq!(
        (status, body["error"]["price_cents"].as_i64()),
        (402, Some(499))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ticket_is_consumed_only_when_livekit_confirms_the_join_and_watches_from_one_place_at_a_time(
) -> Result<()> {
    let (p, _creator) = live_at_4_99().await?;
    let id = p.paid_ticket("evt_one_place").await?;

    // A token reserves the ticket without consuming it; a second place is refused meanwhile.
    let (status, _unused) = p.viewer_token(Some(&id)).await?;
    assert_eq!(status, 200);
    let t = p.ticket(&id).await?;
    assert_eq!(
        (t["in_use"].as_bool(), t["consumed"].as_bool()),
        (Some(true), Some(false)),
        "{t}"
    );
    let (status, body) = p.viewer_token(Some(&id)).await?;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (409, Some("ticket_in_use"))
    );

    // Nobody used that token: after the reservation the ticket is valid again, unconsumed.
    p.wait_ticket(&id, "in_use", false).await?;
    assert_eq!(p.ticket(&id).await?["consumed"], false);

    // A viewer really joins: consumed when LiveKit's participant_joined arrives.
    let (status, token) = p.viewer_token(Some(&id)).await?;
    assert_eq!(status, 200, "{token}");
    let mut viewer = JsonProcess::viewer_with_token(
        token["url"].as_str().unwrap(),
        token["token"].as_str().unwrap(),
        Duration::from_secs(120),
    )?;
    viewer.wait_event("first_frame", WAIT).await?;
    let t = p.wait_ticket(&id, "consumed", true).await?;
    assert_eq!(t["in_use"], true);
    // Watching, long past the reservation: still one place only.
    let (status, body) = p.viewer_token(Some(&id)).await?;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (409, Some("ticket_in_use"))
    );

    // The viewer leaves (a reload, a closed tab): the same ticket watches again, unpaid for.
    viewer.terminate()?;
    viewer.finish(WAIT).await?;
    p.wait_ticket(&id, "in_use", false).await?;
    let (status, token) = p.viewer_token(Some(&id)).await?;
    assert_eq!(status, 200, "{token}");
    assert_eq!(p.earnings().await?["total_cents"], 499);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_aborted_before_it_became_active_frees_the_ticket_unconsumed() -> Result<()> {
    // Reservations of a minute: what frees the ticket below is the abort, not the clock.
    let (p, _creator) = live_at_4_99_reserving(60.0).await?;
    let id = p.paid_ticket("evt_aborted").await?;
    let (status, token) = p.viewer_token(Some(&id)).await?;
    assert_eq!(status, 200, "{token}");
    assert_eq!(p.ticket(&id).await?["in_use"], true);
    let left = std::time::Instant::now();
    abandon_join(p.stack.livekit.http_port, token["token"].as_str().unwrap()).await?;
    let t = p.wait_ticket(&id, "in_use", false).await?;
    println!(
        "connection aborted → ticket free again after {} ms",
        left.elapsed().as_millis()
    );
    assert_eq!(t["consumed"], false, "{t}");
    let (status, _) = p.viewer_token(Some(&id)).await?;
    assert_eq!(status, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn earnings_of_two_paid_viewers_are_twice_the_price_survive_a_restart_and_a_refund_takes_one_back(
) -> Result<()> {
    let (mut p, _creator) = live_at_4_99().await?;
    let first = p.paid_ticket("evt_first").await?;
    let _second = p.paid_ticket("evt_second").await?;
    // One bought and never paid earns nothing.
    let _unpaid = p.buy().await?;
    let earnings = p.earnings().await?;
    assert_eq!(earnings["total_cents"], 998, "{earnings}");
    assert_eq!(earnings["streams"][0]["paid_tickets"], 2);
    assert_eq!(earnings["streams"][0]["title"], "Premiere");

    p.stack.backend.restart().await?;
    assert_eq!(p.earnings().await?["total_cents"], 998);

    // Another streamer's key sees nothing of it.
    let other = p.stack.backend.add_streamer("dave").await?;
    let (status, _) = p
        .send(
            p.http
                .get(p.url(&format!("/api/streams/{STREAMER}/earnings")))
                .bearer_auth(&other),
        )
        .await?;
    assert_eq!(status, 403);

    // A refund through Stripe (stripe-mock's Refunds API) takes its price back; the ticket
    // admits nobody any more.
    let (status, refunded) = p.refund(&first).await?;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(refunded["payment"], "refunded");
    let earnings = p.earnings().await?;
    assert_eq!(earnings["total_cents"], 499, "{earnings}");
    assert_eq!(earnings["streams"][0]["refunded_tickets"], 1);
    let (status, body) = p.viewer_token(Some(&first)).await?;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (402, Some("ticket_refunded"))
    );
    // A second refund: nothing to refund.
    let (status, _) = p.refund(&first).await?;
    assert_eq!(status, 409);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_banned_paying_viewer_is_refunded_through_stripe_or_forfeits_and_their_ticket_admits_nobody(
) -> Result<()> {
    let (p, _creator) = live_at_4_99().await?;
    // Two paying viewers who chat (loopback: each ban takes their device only).
    let mut viewers = Vec::new();
    for (n, name) in ["refunded_fan", "forfeit_fan"].into_iter().enumerate() {
        let chatter = Chatter::at("127.0.0.1", STREAMER);
        let ticket = chatter.buy_ticket(&p.stack).await?;
        ensure!(ticket.status == 201, "{ticket:?}");
        let id = ticket.body["id"].as_str().context("ticket id")?.to_owned();
        let status = p
            .stripe_webhook(
                &format!("evt_ban_{n}"),
                &id,
                Some((WEBHOOK_SECRET, unix_s())),
            )
            .await?;
        ensure!(status == 200, "the signed webhook answered {status}");
        let token = chatter.viewer_token(&p.stack).await?;
        ensure!(token.status == 200, "{token:?}");
        let message = chatter.say(&p.stack, name, "first!").await?;
        viewers.push((chatter, id, message));
    }
    // Without a ticket, nobody chats beside the paywall.
    let outsider = Chatter::at("127.0.0.1", STREAMER);
    let refused = outsider.post(&p.stack, "outsider", "let me in").await?;
    ensure!(refused.status == 402, "{refused:?}");
    assert_eq!(p.earnings().await?["total_cents"], 998);

    // Bans the author of `message`; answers (refunded, forfeited) tickets.
    let ppv = &p;
    let ban = move |message: i64, refund: bool| async move {
        let p = ppv;
        let (status, outcome) = p
            .send(
                p.http
                    .post(p.url("/api/chat/bans"))
                    .bearer_auth(&p.stack.key)
                    .json(&json!({"message_id": message, "refund": refund})),
            )
            .await?;
        assert_eq!(status, 201, "{outcome}");
        let count = |field: &str| outcome[field].as_u64();
        anyhow::Ok((count("refunded_tickets"), count("forfeited_tickets")))
    };
    // Refunded: through Stripe, the price leaves the earnings, the ticket admits nobody.
    let (chatter, ticket, message) = &viewers[0];
    assert_eq!(ban(*message, true).await?, (Some(1), Some(0)));
    let earnings = p.earnings().await?;
    assert_eq!(earnings["total_cents"], 499, "{earnings}");
    assert_eq!(earnings["streams"][0]["refunded_tickets"], 1, "{earnings}");
    assert_eq!(p.ticket(ticket).await?["payment"], "refunded");
    let again = chatter.viewer_token(&p.stack).await?;
    assert_eq!(
        (again.status, again.kind()),
        (403, Some("banned")),
        "{again:?}"
    );
    let (status, body) = p.viewer_token(Some(ticket)).await?;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (402, Some("ticket_refunded")),
        "the refunded ticket in another browser"
    );

    // Forfeited: the price stays earned, the ticket admits nobody, in any browser.
    let (chatter, ticket, message) = &viewers[1];
    assert_eq!(ban(*message, false).await?, (Some(0), Some(1)));
    assert_eq!(p.earnings().await?["total_cents"], 499);
    let again = chatter.viewer_token(&p.stack).await?;
    assert_eq!(
        (again.status, again.kind()),
        (403, Some("banned")),
        "{again:?}"
    );
    let (status, body) = p.viewer_token(Some(ticket)).await?;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (403, Some("banned")),
        "the forfeited ticket in another browser: {body}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_development_provider_a_ticket_is_paid_at_once_and_a_free_stream_needs_none(
) -> Result<()> {
    let p = Ppv::over(Stack::start(STREAMER).await?, None);
    let mut creator = p
        .stack
        .go_live_with(STREAMER, "Local show", &["--ppv-price", "2.50"])
        .await?;
    let ticket = p.buy().await?;
    assert_eq!(
        (
            ticket["payment"].as_str(),
            ticket["provider"].as_str(),
            ticket["checkout_url"].as_str()
        ),
        (Some("paid"), Some("development"), None),
        "{ticket}"
    );
    let (status, _) = p.viewer_token(ticket["id"].as_str()).await?;
    assert_eq!(status, 200);
    creator.terminate()?;
    creator.finish(WAIT).await?;

    // Free: no ticket needed, and none sold.
    let _free = p.stack.go_live(STREAMER, "Free show").await?;
    let (status, _) = p.viewer_token(None).await?;
    assert_eq!(status, 200);
    let (status, body) = p.try_buy().await?;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["kind"], "free");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_shows_the_paywall_buys_through_checkout_plays_on_return_and_reuses_the_ticket_on_reload(
) -> Result<()> {
    let (p, _creator) = live_at_4_99().await?;
    let browser = Browser::launch().await?;
    let page = browser
        .open(&p.url(&format!("/live/{STREAMER}")), 1280, 800)
        .await?;
    page.wait_state("paywall", WAIT).await?;
    let action = page.text("action").await?;
    assert!(action.contains("4.99"), "{action}");
    let notice = page.text("notice").await?;
    assert!(
        notice.contains("Premiere") && notice.contains("4.99"),
        "{notice}"
    );
    page.screenshot("viewer-paywall").await?;
    let phone = browser
        .open(&p.url(&format!("/live/{STREAMER}")), 390, 844)
        .await?;
    phone.wait_state("paywall", WAIT).await?;
    phone.screenshot("viewer-paywall-phone").await?;
    phone.close().await?;

    // Buy: the page sends the buyer to the checkout page Stripe (stripe-mock) gave the backend.
    page.stand_in(
        "https://checkout.stripe.com/**",
        "<!doctype html><title>Checkout</title><h1>Stripe Checkout (stand-in)</h1>",
    )
    .await?;
    page.click("#action").await?;
    let at_checkout = retry_for(WAIT, Duration::from_millis(50), || async {
        let url = page.url().await?;
        ensure!(url.starts_with("https://checkout.stripe.com/"), "at {url}");
        Ok(url)
    })
    .await?;
    println!("sent to checkout: {at_checkout}");

    // Back on the page (not through checkout's success page) before Stripe confirmed: it
    // knows its ticket, waits for the payment and offers the way back to checkout.
    page.goto(&p.url(&format!("/live/{STREAMER}"))).await?;
    page.wait_state("confirming", WAIT).await?;
    page.wait(
        "!document.getElementById('action').hidden && \
         document.getElementById('action').textContent === 'Back to checkout'",
        WAIT,
    )
    .await?;
    page.screenshot("viewer-checkout-left").await?;
    let ticket = page
        .eval(&format!("localStorage.getItem('onair.ticket.{STREAMER}')"))
        .await?
        .as_str()
        .context("the page keeps its ticket")?
        .to_owned();
    // Checkout's way back, with the ticket in the address (taken off it at once).
    page.goto(&p.url(&format!("/live/{STREAMER}?ticket={ticket}")))
        .await?;
    page.wait_state("confirming", WAIT).await?;
    assert_eq!(
        page.eval("document.getElementById('action').hidden")
            .await?,
        json!(true),
        "paid at checkout: nothing to go back to"
    );
    assert_eq!(
        page.eval("location.search").await?,
        json!(""),
        "the ticket stays out of the address bar"
    );
    page.screenshot("viewer-checkout-return").await?;
    assert_eq!(p.ticket(&ticket).await?["payment"], "awaiting");

    // Stripe's signed webhook confirms it: the page plays, and LiveKit's join consumes it.
    let status = p
        .stripe_webhook("evt_page", &ticket, Some((WEBHOOK_SECRET, unix_s())))
        .await?;
    assert_eq!(status, 200);
    page.wait_state("live", WAIT).await?;
    page.wait("document.getElementById('video').videoWidth === 1280", WAIT)
        .await?;
    p.wait_ticket(&ticket, "consumed", true).await?;
    page.screenshot("viewer-paid-live").await?;

    // A reload watches again with the same ticket: nothing bought twice.
    page.goto(&p.url(&format!("/live/{STREAMER}"))).await?;
    page.wait_state("live", WAIT).await?;
    assert_eq!(p.earnings().await?["total_cents"], 499);
    assert_eq!(p.earnings().await?["streams"][0]["paid_tickets"], 1);
    page.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ticket_bought_ahead_through_stripe_plays_once_live_without_paying_again_and_calling_a_stream_off_refunds_through_stripe(
) -> Result<()> {
    let p = Ppv::with_stripe(2.0).await?;
    // Whole seconds, as the schedule keeps them.
    let soon = (unix_s() + 5 * 60) * 1000;
    let plan = |title: &str, starts_at: i64| ScheduleRequest {
        title: title.into(),
        description: String::new(),
        starts_at,
        duration_minutes: 60,
        ppv_price: Some(json!("4.99")),
    };
    let premiere = p
        .stack
        .client
        .schedule_stream(&plan("Premiere", soon))
        .await?;
    let later = p
        .stack
        .client
        .schedule_stream(&plan("Encore", soon + 86_400_000))
        .await?;

    // Bought and paid (Stripe's signed webhook) before either starts.
    let ahead = p.paid_ticket_ahead(premiere.id, "evt_ahead").await?;
    let other = p.paid_ticket_ahead(later.id, "evt_other").await?;
    assert_eq!(p.earnings().await?["total_cents"], 998);
    let (status, body) = p.viewer_token(Some(&ahead)).await?;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (409, Some("offline")),
        "{body}"
    );

    // The creator goes live five minutes early: the premiere is the stream on air, and the
    // ticket bought ahead plays it without paying again.
    let _creator = p.stack.go_live(STREAMER, "Premiere").await?;
    assert_eq!(
        p.stack.backend.state().hub.on_air(STREAMER).await,
        Some(premiere.id)
    );
    let (status, token) = p.viewer_token(Some(&ahead)).await?;
    assert_eq!(status, 200, "{token}");
    let mut viewer = JsonProcess::viewer_with_token(
        token["url"].as_str().context("url")?,
        token["token"].as_str().context("token")?,
        Duration::from_secs(120),
    )?;
    viewer.wait_event("first_frame", WAIT).await?;
    p.wait_ticket(&ahead, "consumed", true).await?;
    assert_eq!(
        p.earnings().await?["total_cents"],
        998,
        "nothing paid twice"
    );

    // Calling the encore off refunds its ticket through Stripe: the price leaves the earnings
    // and the ticket admits nobody.
    let cancelled = p.stack.client.cancel_scheduled_stream(later.id).await?;
    assert_eq!(cancelled.refunded_tickets, 1);
    assert_eq!(p.ticket(&other).await?["payment"], "refunded");
    assert_eq!(p.earnings().await?["total_cents"], 499);
    let (status, body) = p.viewer_token(Some(&other)).await?;
    assert_eq!(status, 402, "the refunded ticket admitted: {body}");
    viewer.terminate()?;
    viewer.finish(WAIT).await?;
    Ok(())
}

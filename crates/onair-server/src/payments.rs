//! Where a ticket's money comes from: a [`PaymentProvider`] starts a checkout, confirms
//! payments from its own signed webhooks, and refunds. [`Stripe`] talks to Stripe's API
//! (Checkout Sessions, Refunds) with reqwest; [`Development`] confirms every purchase at once
//! and moves no money, for local runs.
//!
//! Only a provider's confirmation makes a ticket paid: never the browser coming back from
//! checkout.

use std::time::Duration;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// How old a signed Stripe webhook may be (Stripe's own libraries use 5 minutes).
pub const SIGNATURE_TOLERANCE_S: i64 = 300;

/// A purchase to check out.
#[derive(Debug, Clone)]
pub struct Purchase<'a> {
    pub ticket_id: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    /// What the buyer sees on the checkout page.
    pub description: &'a str,
    /// Where checkout sends the buyer back after paying, and after giving up.
    pub return_url: &'a str,
    pub cancel_url: &'a str,
}

/// A checkout the provider started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The provider's id for it (Stripe: `cs_…`).
    pub id: String,
    /// Where the buyer pays; `None` when nothing is left to do.
    pub url: Option<String>,
    /// Confirmed already (the development provider); otherwise a webhook will say so.
    pub paid: bool,
}

/// What a verified provider webhook says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The payment for `ticket_id` is confirmed.
    Paid {
        event_id: String,
        ticket_id: String,
        amount_cents: Option<i64>,
        currency: Option<String>,
        /// What a refund will need (Stripe: the PaymentIntent `pi_…`).
        payment_ref: Option<String>,
    },
    /// Verified, but nothing the backend acts on (other event types, unpaid sessions).
    Other { event_id: String, kind: String },
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("the payment webhook's signature does not verify")]
    BadSignature,
    #[error("the payment webhook is signed {age_s} s ago, more than the {SIGNATURE_TOLERANCE_S} s allowed")]
    Stale { age_s: i64 },
    #[error("not a payment event: {0}")]
    Malformed(String),
    #[error("the payment provider refused: {0}")]
    Refused(String),
    #[error("the payment provider cannot be reached: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Unsupported(&'static str),
}

#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    /// `stripe` or `development`; stored with every ticket.
    fn name(&self) -> &'static str;
    async fn checkout(&self, purchase: &Purchase<'_>) -> Result<Checkout, PaymentError>;
    /// Verifies a webhook the provider sent (signature and age) and reads it.
    fn verify(&self, headers: &HeaderMap, body: &[u8], now_s: i64) -> Result<Notice, PaymentError>;
    /// Gives the money back for a confirmed payment.
    async fn refund(&self, ticket_id: &str, payment_ref: Option<&str>) -> Result<(), PaymentError>;
}

/// For local runs: every checkout is paid at once and no money moves.
pub struct Development;

#[async_trait::async_trait]
impl PaymentProvider for Development {
    fn name(&self) -> &'static str {
        "development"
    }

    async fn checkout(&self, purchase: &Purchase<'_>) -> Result<Checkout, PaymentError> {
        Ok(Checkout {
            id: format!("dev_{}", purchase.ticket_id),
            url: None,
            paid: true,
        })
    }

    fn verify(&self, _: &HeaderMap, _: &[u8], _: i64) -> Result<Notice, PaymentError> {
        Err(PaymentError::Unsupported(
            "the development payment provider sends no webhooks",
        ))
    }

    async fn refund(&self, _: &str, _: Option<&str>) -> Result<(), PaymentError> {
        Ok(())
    }
}

/// Stripe Checkout. `api_base` is `https://api.stripe.com`, or stripe-mock in tests.
pub struct Stripe {
    http: reqwest::Client,
    api_base: String,
    secret_key: String,
    webhook_secret: String,
}

impl Stripe {
    pub fn new(api_base: &str, secret_key: &str, webhook_secret: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a TLS backend is compiled in"),
            api_base: api_base.trim_end_matches('/').to_owned(),
            secret_key: secret_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
        }
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<T, PaymentError> {
        let response = self
            .http
            .post(format!("{}{path}", self.api_base))
            .bearer_auth(&self.secret_key)
            // A retried request (after a timeout) must not charge or refund twice.
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send()
            .await
            .map_err(|e| PaymentError::Unreachable(e.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| PaymentError::Unreachable(e.to_string()))?;
        if !status.is_success() {
            #[derive(Deserialize)]
            struct Failure {
                error: FailureDetail,
            }
            #[derive(Deserialize)]
            struct FailureDetail {
                message: Option<String>,
            }
            let message = serde_json::from_slice::<Failure>(&body)
                .ok()
                .and_then(|f| f.error.message)
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(PaymentError::Refused(message));
        }
        serde_json::from_slice(&body).map_err(|e| PaymentError::Refused(e.to_string()))
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn checkout(&self, purchase: &Purchase<'_>) -> Result<Checkout, PaymentError> {
        #[derive(Deserialize)]
        struct Session {
            id: String,
            url: Option<String>,
        }
        let form = [
            ("mode", "payment".to_owned()),
            ("client_reference_id", purchase.ticket_id.to_owned()),
            ("metadata[ticket]", purchase.ticket_id.to_owned()),
            ("line_items[0][quantity]", "1".to_owned()),
            (
                "line_items[0][price_data][currency]",
                purchase.currency.to_owned(),
            ),
            (
                "line_items[0][price_data][unit_amount]",
                purchase.amount_cents.to_string(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                purchase.description.to_owned(),
            ),
            ("success_url", purchase.return_url.to_owned()),
            ("cancel_url", purchase.cancel_url.to_owned()),
        ];
        let session: Session = self
            .post(
                "/v1/checkout/sessions",
                &form,
                &format!("checkout-{}", purchase.ticket_id),
            )
            .await?;
        Ok(Checkout {
            id: session.id,
            url: session.url,
            paid: false,
        })
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8], now_s: i64) -> Result<Notice, PaymentError> {
        let signature = headers
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or(PaymentError::BadSignature)?;
        verify_stripe_signature(&self.webhook_secret, signature, body, now_s)?;
        read_stripe_event(body)
    }

    async fn refund(&self, ticket_id: &str, payment_ref: Option<&str>) -> Result<(), PaymentError> {
        let payment_intent = payment_ref.ok_or(PaymentError::Unsupported(
            "Stripe did not name the payment of this ticket; refund it in the Stripe dashboard",
        ))?;
        #[derive(Deserialize)]
        struct Refund {
            status: Option<String>,
        }
        let refund: Refund = self
            .post(
                "/v1/refunds",
                &[("payment_intent", payment_intent.to_owned())],
                &format!("refund-{ticket_id}"),
            )
            .await?;
        match refund.status.as_deref() {
            Some("failed" | "canceled") => Err(PaymentError::Refused(format!(
                "Stripe answered the refund with status {}",
                refund.status.unwrap_or_default()
            ))),
            _ => Ok(()),
        }
    }
}

/// Stripe's scheme: `Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "t.body")>`,
/// possibly with several `v1` (while a secret is rolled); one must match, and `t` must be
/// within [`SIGNATURE_TOLERANCE_S`] of now.
pub fn verify_stripe_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now_s: i64,
) -> Result<(), PaymentError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.extend(hex::decode(sig).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(PaymentError::BadSignature)?;
    let matches = signatures.iter().any(|sig| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key size");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // Constant-time comparison.
        mac.verify_slice(sig).is_ok()
    });
    if !matches {
        return Err(PaymentError::BadSignature);
    }
    let age_s = now_s - timestamp;
    if age_s.abs() > SIGNATURE_TOLERANCE_S {
        return Err(PaymentError::Stale { age_s });
    }
    Ok(())
}

/// Reads a verified Stripe event: a Checkout Session completed (or its delayed payment
/// succeeded) with `payment_status: paid` confirms the ticket in `client_reference_id`.
pub fn read_stripe_event(body: &[u8]) -> Result<Notice, PaymentError> {
    #[derive(Deserialize)]
    struct Event {
        id: String,
        #[serde(rename = "type")]
        kind: String,
        data: Data,
    }
    #[derive(Deserialize)]
    struct Data {
        object: serde_json::Value,
    }
    let event: Event =
        serde_json::from_slice(body).map_err(|e| PaymentError::Malformed(e.to_string()))?;
    let object = &event.data.object;
    let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let confirms = matches!(
        event.kind.as_str(),
        "checkout.session.completed" | "checkout.session.async_payment_succeeded"
    ) && text("payment_status").as_deref() == Some("paid");
    match text("client_reference_id") {
        Some(ticket_id) if confirms => Ok(Notice::Paid {
            event_id: event.id,
            ticket_id,
            amount_cents: object.get("amount_total").and_then(|v| v.as_i64()),
            currency: text("currency"),
            payment_ref: text("payment_intent"),
        }),
        _ => Ok(Notice::Other {
            event_id: event.id,
            kind: event.kind,
        }),
    }
}

/// Signs `body` as Stripe does, for tests and local tools.
pub fn stripe_signature(secret: &str, body: &[u8], timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key size");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","client_reference_id":"tk_1","payment_status":"paid","amount_total":499,"currency":"usd","payment_intent":"pi_1"}}}"#;

    #[test]
    fn a_correctly_signed_recent_webhook_verifies() {
        let header = stripe_signature(SECRET, BODY, 1_000);
        verify_stripe_signature(SECRET, &header, BODY, 1_010).unwrap();
    }

    #[test]
    fn a_wrong_secret_a_changed_body_or_no_signature_is_refused() {
        let header = stripe_signature("whsec_other", BODY, 1_000);
        assert!(matches!(
            verify_stripe_signature(SECRET, &header, BODY, 1_000),
            Err(PaymentError::BadSignature)
        ));
        let header = stripe_signature(SECRET, BODY, 1_000);
        let mut changed = BODY.to_vec();
        changed[10] ^= 1;
        assert!(verify_stripe_signature(SECRET, &header, &changed, 1_000).is_err());
        assert!(verify_stripe_signature(SECRET, "t=1000", BODY, 1_000).is_err());
        assert!(verify_stripe_signature(SECRET, "", BODY, 1_000).is_err());
    }

    #[test]
    fn a_signature_older_than_the_tolerance_is_stale() {
        let header = stripe_signature(SECRET, BODY, 1_000);
        assert!(matches!(
            verify_stripe_signature(SECRET, &header, BODY, 1_000 + SIGNATURE_TOLERANCE_S + 1),
            Err(PaymentError::Stale { .. })
        ));
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let good = stripe_signature(SECRET, BODY, 1_000);
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=1000,v1={},v1={v1},v0=ignored", "ab".repeat(32));
        verify_stripe_signature(SECRET, &header, BODY, 1_000).unwrap();
    }

    #[test]
    fn a_paid_checkout_session_confirms_its_ticket() {
        assert_eq!(
            read_stripe_event(BODY).unwrap(),
            Notice::Paid {
                event_id: "evt_1".into(),
                ticket_id: "tk_1".into(),
                amount_cents: Some(499),
                currency: Some("usd".into()),
                payment_ref: Some("pi_1".into()),
            }
        );
    }

    #[test]
    fn an_unpaid_session_or_another_event_confirms_nothing() {
        let unpaid = String::from_utf8_lossy(BODY).replace("\"paid\"", "\"unpaid\"");
        assert!(matches!(
            read_stripe_event(unpaid.as_bytes()).unwrap(),
            Notice::Other { .. }
        ));
        let other = br#"{"id":"evt_2","type":"charge.succeeded","data":{"object":{"client_reference_id":"tk_1","payment_status":"paid"}}}"#;
        assert!(matches!(
            read_stripe_event(other).unwrap(),
            Notice::Other { .. }
        ));
        assert!(read_stripe_event(b"not json").is_err());
    }
}

//! Pay-per-view tickets: who may watch with a ticket, and when a ticket counts as used.
//! Pure (no I/O, times passed in), so every rule is unit-tested; the API and the webhooks
//! drive it.
//!
//! The rules (architecture.md, Pay-per-view): a ticket is good for one stream once paid; a
//! viewer token issued for it binds it to one participant identity and reserves it for a
//! while; the ticket is *consumed* only when LiveKit confirms that identity joined while the
//! streamer is live; a connection that aborts, or a reservation nobody used, frees it again;
//! one ticket is never watched from two places at once; once its viewer has left, the same
//! ticket lets its holder watch again (a reload), without paying again.

/// How long a viewer token's reservation holds before the ticket is free again, by default.
pub const RESERVATION_MS: i64 = 60_000;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Payment {
    /// Checkout started, no confirmation from the provider yet.
    Awaiting,
    /// Confirmed by the provider (for Stripe, its signed `checkout.session.completed`).
    Paid,
    /// Refunded through the provider: no longer admits anyone, earns nothing.
    Refunded,
    /// Taken from a viewer the creator banned without a refund: admits nobody, still earns.
    Forfeited,
}

impl Payment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Awaiting => "awaiting",
            Self::Paid => "paid",
            Self::Refunded => "refunded",
            Self::Forfeited => "forfeited",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "awaiting" => Some(Self::Awaiting),
            "paid" => Some(Self::Paid),
            "refunded" => Some(Self::Refunded),
            "forfeited" => Some(Self::Forfeited),
            _ => None,
        }
    }
}

/// The participant a ticket is bound to right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub identity: String,
    /// Until when an unused reservation holds (Unix ms); ignored once the viewer joined.
    pub until_ms: i64,
    /// LiveKit confirmed the join: held for as long as the viewer stays.
    pub joined: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub stream_id: i64,
    pub payment: Payment,
    pub hold: Option<Hold>,
    /// When the ticket was first used to watch (Unix ms).
    pub consumed_at_ms: Option<i64>,
}

/// Why a ticket does not admit a viewer now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this ticket is not paid yet")]
    NotPaid,
    #[error("this ticket was refunded")]
    Refunded,
    #[error("this ticket was forfeited when its holder was banned")]
    Forfeited,
    #[error("this ticket is for another stream")]
    OtherStream,
    #[error("this ticket is being used to watch somewhere else")]
    InUse,
}

/// What a confirmed join meant for the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// The first join with this ticket: it is now consumed.
    Consumed,
    /// Its holder is back (the ticket was consumed before).
    Rejoined,
    /// Not this ticket's identity, or the streamer is not live: nothing changes.
    Ignored,
}

impl Ticket {
    pub fn new(stream_id: i64) -> Self {
        Self {
            stream_id,
            payment: Payment::Awaiting,
            hold: None,
            consumed_at_ms: None,
        }
    }

    /// A viewer token for `identity` to watch `stream_id`: binds the ticket to it and
    /// reserves it for `reservation_ms`.
    pub fn admit(
        &mut self,
        stream_id: i64,
        identity: &str,
        now_ms: i64,
        reservation_ms: i64,
    ) -> Result<(), Refusal> {
        self.valid_for(stream_id)?;
        if self.in_use(now_ms) {
            return Err(Refusal::InUse);
        }
        self.hold = Some(Hold {
            identity: identity.to_owned(),
            until_ms: now_ms + reservation_ms,
            joined: false,
        });
        Ok(())
    }

    /// Whether the ticket is paid for `stream_id` and still good (wherever it is used):
    /// what watching needs before the ticket is bound, and all that chatting needs.
    pub fn valid_for(&self, stream_id: i64) -> Result<(), Refusal> {
        match self.payment {
            Payment::Awaiting => return Err(Refusal::NotPaid),
            Payment::Refunded => return Err(Refusal::Refunded),
            Payment::Forfeited => return Err(Refusal::Forfeited),
            Payment::Paid => {}
        }
        if stream_id != self.stream_id {
            return Err(Refusal::OtherStream);
        }
        Ok(())
    }

    /// LiveKit's `participant_joined` for `identity`; `live`: the streamer is on air.
    pub fn joined(&mut self, identity: &str, live: bool, now_ms: i64) -> Joined {
        let Some(hold) = self.hold.as_mut().filter(|h| h.identity == identity) else {
            return Joined::Ignored;
        };
        if !live || self.payment != Payment::Paid {
            return Joined::Ignored;
        }
        hold.joined = true;
        if self.consumed_at_ms.is_none() {
            self.consumed_at_ms = Some(now_ms);
            Joined::Consumed
        } else {
            Joined::Rejoined
        }
    }

    /// `participant_left` or `participant_connection_aborted` for `identity`: the ticket is
    /// free again (consumed or not, as it was).
    pub fn released(&mut self, identity: &str) -> bool {
        if self.hold.as_ref().is_some_and(|h| h.identity == identity) {
            self.hold = None;
            true
        } else {
            false
        }
    }

    /// The provider confirmed the payment; `false` if it was confirmed before (a repeated
    /// confirmation must not count twice) or refunded since.
    pub fn paid(&mut self) -> bool {
        if self.payment == Payment::Awaiting {
            self.payment = Payment::Paid;
            true
        } else {
            false
        }
    }

    /// A refund went through: the ticket admits nobody from now on. `false` if it was not paid.
    pub fn refunded(&mut self) -> bool {
        if self.payment == Payment::Paid {
            self.payment = Payment::Refunded;
            true
        } else {
            false
        }
    }

    /// Whether a viewer holds it right now (watching, or a reservation not yet lapsed).
    pub fn in_use(&self, now_ms: i64) -> bool {
        self.hold
            .as_ref()
            .is_some_and(|h| h.joined || h.until_ms > now_ms)
    }

    /// Its holder was banned and the creator kept the money: the ticket admits nobody from
    /// now on. `false` if it was not paid.
    pub fn forfeited(&mut self) -> bool {
        if self.payment == Payment::Paid {
            self.payment = Payment::Forfeited;
            self.hold = None;
            true
        } else {
            false
        }
    }

    /// Whether this ticket's payment counts towards earnings.
    pub fn earns(&self) -> bool {
        matches!(self.payment, Payment::Paid | Payment::Forfeited)
    }
}

/// Whether `id` has the shape of a ticket id: `tk_` and 32 hex digits.
pub fn valid_ticket_id(id: &str) -> bool {
    id.strip_prefix("tk_")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid() -> Ticket {
        Ticket {
            payment: Payment::Paid,
            ..Ticket::new(7)
        }
    }

    #[test]
    fn an_unpaid_or_refunded_ticket_admits_nobody() {
        let mut t = Ticket::new(7);
        assert_eq!(
            t.admit(7, "viewer-a", 0, RESERVATION_MS),
            Err(Refusal::NotPaid)
        );
        t.payment = Payment::Refunded;
        assert_eq!(
            t.admit(7, "viewer-a", 0, RESERVATION_MS),
            Err(Refusal::Refunded)
        );
        assert!(!t.earns());
    }

    #[test]
    fn a_ticket_is_good_for_its_own_stream_only() {
        assert_eq!(
            paid().admit(8, "viewer-a", 0, RESERVATION_MS),
            Err(Refusal::OtherStream)
        );
    }

    #[test]
    fn a_token_reserves_the_ticket_but_only_a_confirmed_join_consumes_it() {
        let mut t = paid();
        t.admit(7, "viewer-a", 1_000, RESERVATION_MS).unwrap();
        assert_eq!(t.consumed_at_ms, None);
        assert_eq!(t.joined("viewer-a", true, 2_000), Joined::Consumed);
        assert_eq!(t.consumed_at_ms, Some(2_000));
    }

    #[test]
    fn a_second_place_is_refused_while_the_ticket_is_reserved_or_watched() {
        let mut t = paid();
        t.admit(7, "viewer-a", 0, RESERVATION_MS).unwrap();
        assert_eq!(
            t.admit(7, "viewer-b", 1_000, RESERVATION_MS),
            Err(Refusal::InUse)
        );
        t.joined("viewer-a", true, 2_000);
        // Long after the reservation would have lapsed: still watching, still refused.
        assert_eq!(
            t.admit(7, "viewer-b", 10 * RESERVATION_MS, RESERVATION_MS),
            Err(Refusal::InUse)
        );
    }

    #[test]
    fn an_unused_reservation_lapses_and_the_ticket_is_valid_again() {
        let mut t = paid();
        t.admit(7, "viewer-a", 0, RESERVATION_MS).unwrap();
        assert!(t
            .admit(7, "viewer-b", RESERVATION_MS + 1, RESERVATION_MS)
            .is_ok());
        assert_eq!(t.consumed_at_ms, None);
        // The first token's late join changes nothing: the ticket is bound to viewer-b.
        assert_eq!(
            t.joined("viewer-a", true, RESERVATION_MS + 2),
            Joined::Ignored
        );
    }

    #[test]
    fn an_aborted_connection_leaves_the_ticket_unconsumed_and_free() {
        let mut t = paid();
        t.admit(7, "viewer-a", 0, RESERVATION_MS).unwrap();
        assert!(t.released("viewer-a"));
        assert_eq!(t.consumed_at_ms, None);
        assert!(t.admit(7, "viewer-b", 1, RESERVATION_MS).is_ok());
    }

    #[test]
    fn a_join_while_the_streamer_is_not_live_does_not_consume() {
        let mut t = paid();
        t.admit(7, "viewer-a", 0, RESERVATION_MS).unwrap();
        assert_eq!(t.joined("viewer-a", false, 1), Joined::Ignored);
        assert_eq!(t.consumed_at_ms, None);
    }

    #[test]
    fn after_its_viewer_left_the_same_ticket_watches_again_without_paying() {
        let mut t = paid();
        t.admit(7, "viewer-a", 0, RESERVATION_MS).unwrap();
        t.joined("viewer-a", true, 1);
        assert!(t.released("viewer-a"));
        t.admit(7, "viewer-c", 5, RESERVATION_MS).unwrap();
        assert_eq!(t.joined("viewer-c", true, 6), Joined::Rejoined);
        assert_eq!(t.consumed_at_ms, Some(1));
        assert!(t.earns());
    }

    #[test]
    fn a_payment_confirmed_twice_counts_once_and_a_refund_stops_the_ticket() {
        let mut t = Ticket::new(7);
        assert!(t.paid());
        assert!(!t.paid());
        assert!(t.earns());
        assert!(t.refunded());
        assert!(!t.refunded());
        assert!(!t.earns());
        // A late confirmation after the refund does not bring it back.
        assert!(!t.paid());
        assert_eq!(
            t.admit(7, "viewer-a", 0, RESERVATION_MS),
            Err(Refusal::Refunded)
        );
    }

    #[test]
    fn someone_else_leaving_does_not_free_the_ticket() {
        let mut t = paid();
        t.admit(7, "viewer-a", 0, RESERVATION_MS).unwrap();
        assert!(!t.released("viewer-z"));
        assert_eq!(
            t.admit(7, "viewer-b", 1, RESERVATION_MS),
            Err(Refusal::InUse)
        );
    }

    #[test]
    fn a_forfeited_ticket_admits_nobody_but_its_price_is_still_earned() {
        let mut t = paid();
        t.admit(7, "viewer-a", 0, RESERVATION_MS).unwrap();
        assert!(t.forfeited());
        assert_eq!(t.hold, None);
        assert_eq!(
            t.admit(7, "viewer-b", 1, RESERVATION_MS),
            Err(Refusal::Forfeited)
        );
        assert_eq!(t.valid_for(7), Err(Refusal::Forfeited));
        assert!(t.earns());
        // Neither refunded nor forfeited twice afterwards.
        assert!(!t.refunded());
        assert!(!t.forfeited());
    }

    #[test]
    fn a_paid_ticket_is_valid_for_its_stream_even_while_someone_watches_with_it() {
        let mut t = paid();
        t.admit(7, "viewer-a", 0, RESERVATION_MS).unwrap();
        assert_eq!(t.valid_for(7), Ok(()));
        assert_eq!(t.valid_for(8), Err(Refusal::OtherStream));
        assert_eq!(Ticket::new(7).valid_for(7), Err(Refusal::NotPaid));
    }
}

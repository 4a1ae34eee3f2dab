-- Pay-per-view tickets. The id is the bearer secret a viewer's browser keeps; a ticket is
-- good for one stream. `version` makes every change a compare-and-swap, so two requests
-- racing for one ticket cannot both win.
CREATE TABLE tickets (
    id             TEXT PRIMARY KEY,
    stream_id      INTEGER NOT NULL REFERENCES streams(id),
    price_cents    INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    provider       TEXT NOT NULL,            -- "stripe" | "development"
    checkout_id    TEXT,                     -- the provider's checkout (Stripe: cs_…)
    checkout_url   TEXT,
    payment_ref    TEXT,                     -- what a refund needs (Stripe: pi_…)
    payment        TEXT NOT NULL,            -- "awaiting" | "paid" | "refunded"
    hold_identity  TEXT UNIQUE,              -- the viewer identity it is bound to
    hold_until     INTEGER,                  -- unix ms; an unused reservation lapses then
    hold_joined    INTEGER NOT NULL DEFAULT 0,
    consumed_at    INTEGER,
    created_at     INTEGER NOT NULL,
    paid_at        INTEGER,
    refunded_at    INTEGER,
    version        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tickets_by_stream ON tickets(stream_id);

-- Earnings as a ledger: a confirmed payment adds the price, a refund takes it back. Rows are
-- never updated; one row per (ticket, entry kind) so a repeated confirmation cannot count twice.
CREATE TABLE earnings (
    ticket_id    TEXT NOT NULL REFERENCES tickets(id),
    entry        TEXT NOT NULL,              -- "payment" | "refund"
    stream_id    INTEGER NOT NULL REFERENCES streams(id),
    amount_cents INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, entry)
);
CREATE INDEX earnings_by_stream ON earnings(stream_id);

-- Payment-provider webhook events already handled (Stripe's evt_… ids): replays are ignored.
CREATE TABLE payment_events (
    id           TEXT PRIMARY KEY,
    received_at  INTEGER NOT NULL
);

-- Creators who may go live. The API key itself is never stored: only its keyed hash.
CREATE TABLE streamers (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL  -- unix ms
);

-- One row per token request that may become a broadcast; live from the publisher's
-- participant_joined webhook, closed when it ends.
CREATE TABLE streams (
    id               INTEGER PRIMARY KEY,
    streamer_id      INTEGER NOT NULL REFERENCES streamers(id),
    title            TEXT NOT NULL,
    ppv_price_cents  INTEGER,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    ended_at         INTEGER,
    peak_viewers     INTEGER NOT NULL DEFAULT 0,
    unique_viewers   INTEGER NOT NULL DEFAULT 0,
    watch_time_ms    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX streams_by_streamer ON streams(streamer_id, created_at);

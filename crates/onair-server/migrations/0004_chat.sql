-- Chat and its moderation. Integers and text only, so the schema reads the same on
-- PostgreSQL. Times are unix ms. A chatter is a device (the id in the backend's signed
-- cookie) and, for bans only, the keyed hash of an address; the address itself is never kept.

-- Messages and hides share one sequence of ids, each event's SSE id: a client resuming
-- after id N is sent every event after N, hides included.
CREATE TABLE chat_events (
    id           INTEGER PRIMARY KEY,
    streamer_id  INTEGER NOT NULL REFERENCES streamers(id),
    stream_id    INTEGER NOT NULL REFERENCES streams(id),
    kind         TEXT NOT NULL,              -- "message" | "hidden"
    device       TEXT NOT NULL,              -- the author; the moderator's for "hidden"
    address_hash TEXT,                       -- the author's, for a ban; cleared when it expires
    name         TEXT NOT NULL DEFAULT '',
    text         TEXT NOT NULL DEFAULT '',
    message_id   INTEGER,                    -- for "hidden": the message taken down
    hidden_at    INTEGER,                    -- for "message": when it was taken down
    at           INTEGER NOT NULL
);
CREATE INDEX chat_events_by_streamer ON chat_events(streamer_id, id);

-- One row per device that watched or chatted with a creator: what the rules need.
CREATE TABLE chatters (
    streamer_id      INTEGER NOT NULL REFERENCES streamers(id),
    device           TEXT NOT NULL,
    first_watched_at INTEGER,
    last_message_at  INTEGER,
    timed_out_until  INTEGER,
    PRIMARY KEY (streamer_id, device)
);

-- A display name belongs to one device within a stream.
CREATE TABLE chat_names (
    stream_id   INTEGER NOT NULL REFERENCES streams(id),
    name_key    TEXT NOT NULL,               -- lower-cased
    device      TEXT NOT NULL,
    PRIMARY KEY (stream_id, name_key)
);
CREATE UNIQUE INDEX chat_names_by_device ON chat_names(stream_id, device);

CREATE TABLE chat_bans (
    id                 INTEGER PRIMARY KEY,
    streamer_id        INTEGER NOT NULL REFERENCES streamers(id),
    device             TEXT NOT NULL,
    address_hash       TEXT,                 -- absent when the address is shared
    address_expires_at INTEGER,
    name               TEXT NOT NULL,
    reason             TEXT,
    banned_at          INTEGER NOT NULL,
    lifted_at          INTEGER
);
CREATE INDEX chat_bans_by_device ON chat_bans(streamer_id, device);
CREATE INDEX chat_bans_by_address ON chat_bans(streamer_id, address_hash);

-- Which device (and address) each viewer token went to: a ban reaches the LiveKit
-- participants of that device, and a banned device joining with an older token is removed.
CREATE TABLE viewer_devices (
    identity     TEXT PRIMARY KEY,
    streamer_id  INTEGER NOT NULL REFERENCES streamers(id),
    device       TEXT NOT NULL,
    address_hash TEXT,
    issued_at    INTEGER NOT NULL
);
CREATE INDEX viewer_devices_by_device ON viewer_devices(streamer_id, device);

CREATE TABLE chat_settings (
    streamer_id         INTEGER PRIMARY KEY REFERENCES streamers(id),
    slow_mode_secs      INTEGER NOT NULL DEFAULT 0,
    established_minutes INTEGER NOT NULL DEFAULT 0,
    blocked_terms       TEXT NOT NULL DEFAULT '[]'  -- JSON array of lower-cased terms
);

CREATE TABLE moderation_log (
    id          INTEGER PRIMARY KEY,
    streamer_id INTEGER NOT NULL REFERENCES streamers(id),
    action      TEXT NOT NULL,
    name        TEXT,
    message_id  INTEGER,
    detail      TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX moderation_log_by_streamer ON moderation_log(streamer_id, id);

-- The device that bought a ticket: a ban can refund or forfeit it.
ALTER TABLE tickets ADD COLUMN device TEXT;

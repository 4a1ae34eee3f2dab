-- A live stream's viewer tally (JSON), written after every change so its figures survive a
-- restart; the version keeps a slower, older write from overwriting a newer one.
ALTER TABLE streams ADD COLUMN tally TEXT;
ALTER TABLE streams ADD COLUMN tally_version INTEGER NOT NULL DEFAULT 0;
-- Why it ended: "ended by the creator", "connection_timeout", "room_finished"…
ALTER TABLE streams ADD COLUMN end_reason TEXT;
-- Finding what is on air at start-up.
CREATE INDEX streams_live ON streams(ended_at, started_at);

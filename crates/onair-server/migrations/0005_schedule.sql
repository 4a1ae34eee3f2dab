-- Streams planned ahead. A scheduled stream is a row of `streams` made before Go Live, so
-- tickets, counts and earnings attach to it as to any stream; these columns stay null (or
-- their default) for a stream that was never scheduled.
ALTER TABLE streams ADD COLUMN scheduled_start INTEGER;            -- unix ms
ALTER TABLE streams ADD COLUMN duration_minutes INTEGER;
ALTER TABLE streams ADD COLUMN description TEXT NOT NULL DEFAULT '';
-- The calendar event's SEQUENCE: raised by every change a subscriber should see.
ALTER TABLE streams ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN updated_at INTEGER;
ALTER TABLE streams ADD COLUMN cancelled_at INTEGER;
ALTER TABLE streams ADD COLUMN missed_at INTEGER;
-- A Go Live took it over (a publisher token was issued for it): the creator's next join
-- starts this stream.
ALTER TABLE streams ADD COLUMN claimed_at INTEGER;
CREATE INDEX streams_scheduled ON streams(streamer_id, scheduled_start);

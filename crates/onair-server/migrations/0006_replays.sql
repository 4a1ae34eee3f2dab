-- A stream's replay: its creator's recording, uploaded after End, checked and remuxed by the
-- backend. At most one per stream; the file lives in the replay folder under `file`.
CREATE TABLE replays (
    stream_id    INTEGER PRIMARY KEY REFERENCES streams(id),
    file         TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL  -- unix ms
);

-- Core schema: mailboxes, content-addressed raw messages, message state machine, events.
-- Times are Unix milliseconds (UTC).

CREATE TABLE mailboxes (
    mailbox     TEXT    NOT NULL,
    folder      TEXT    NOT NULL,
    uidvalidity INTEGER NOT NULL DEFAULT 0,
    last_uid    INTEGER NOT NULL DEFAULT 0, -- highest UID durably recorded
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (mailbox, folder)
) WITHOUT ROWID;

-- Raw bytes, content-addressed so a message cc'd to two mailboxes is stored once.
-- A rowid table: SQLite keeps large rows out of the B-tree pages this way.
CREATE TABLE blobs (
    sha256 TEXT    PRIMARY KEY,
    size   INTEGER NOT NULL,
    data   BLOB    NOT NULL
);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    sha256          TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,          -- header value, or synthesized from sha256 when missing
    mailbox         TEXT    NOT NULL,          -- first location it was seen at
    folder          TEXT    NOT NULL,
    uidvalidity     INTEGER NOT NULL,
    uid             INTEGER NOT NULL,
    size            INTEGER NOT NULL,
    header_only     INTEGER NOT NULL DEFAULT 0, -- body not kept (too large)
    subject         TEXT    NOT NULL DEFAULT '',
    from_addr       TEXT    NOT NULL DEFAULT '',
    sent_at         INTEGER,                   -- Date header
    parsed          BLOB,                      -- JSON of ingest.Parsed
    state           TEXT    NOT NULL CHECK (state IN ('received','deduped','classified','enriched','done','skipped','dead')),
    reason          TEXT    NOT NULL DEFAULT '', -- reason code for skipped/dead
    resume_state    TEXT    NOT NULL DEFAULT '', -- state a dead message is replayed into
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    leased_until    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (message_id, sha256)
);
CREATE INDEX messages_work ON messages (state, next_attempt_at);
CREATE INDEX messages_message_id ON messages (message_id);

-- Every place a message was seen; the unique key stops a UID being recorded twice.
CREATE TABLE message_locations (
    message_id  INTEGER NOT NULL REFERENCES messages(id),
    mailbox     TEXT    NOT NULL,
    folder      TEXT    NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    acked       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (mailbox, folder, uidvalidity, uid)
) WITHOUT ROWID;
CREATE INDEX message_locations_msg ON message_locations (message_id);

-- Append-only audit of what happened to each message; stages all write here.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER,
    at         INTEGER NOT NULL,
    stage      TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_message ON events (message_id, id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events is append-only'); END;

-- Each stage's result for a message (JSON), written in the same transaction as the state change.
CREATE TABLE stage_data (
    message_id INTEGER NOT NULL REFERENCES messages(id),
    stage      TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, stage)
) WITHOUT ROWID;

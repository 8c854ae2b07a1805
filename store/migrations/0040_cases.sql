-- cases: the write ledger (exactly-once Salesforce effects), the hash-chained
-- audit trail, cases the app touched (changes flowing back) and sync values.
-- Times are Unix milliseconds (UTC).

-- One row per message whose Salesforce writes were attempted. The row is
-- written BEFORE the request goes out (state 'sending'), so after a crash or
-- a timeout the next attempt knows Salesforce may already hold the effects and
-- looks for the EmailMessage by MessageIdentifier before writing again.
CREATE TABLE cases_writes (
    message_id         INTEGER PRIMARY KEY,
    state              TEXT    NOT NULL CHECK (state IN ('sending','failed','committed','dry_run')),
    action             TEXT    NOT NULL DEFAULT '',
    thread_key         TEXT    NOT NULL DEFAULT '',
    message_identifier TEXT    NOT NULL DEFAULT '',
    case_id            TEXT    NOT NULL DEFAULT '',
    email_message_id   TEXT    NOT NULL DEFAULT '',
    contact_id         TEXT    NOT NULL DEFAULT '',
    task_id            TEXT    NOT NULL DEFAULT '',
    plan               TEXT    NOT NULL DEFAULT '',  -- JSON of the (redacted) writes
    sends              INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX cases_writes_case ON cases_writes (case_id) WHERE case_id <> '';

-- Append-only, hash-chained audit trail of every Salesforce write.
CREATE TABLE cases_audit (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    message_id   INTEGER NOT NULL DEFAULT 0,
    action       TEXT    NOT NULL,
    sobject      TEXT    NOT NULL DEFAULT '',
    record_id    TEXT    NOT NULL DEFAULT '',
    fields       TEXT    NOT NULL DEFAULT '{}',  -- JSON, PII-redacted
    result       TEXT    NOT NULL DEFAULT '',    -- ok, dry_run or the error code
    detail       TEXT    NOT NULL DEFAULT '',
    integration_user TEXT NOT NULL DEFAULT '',
    agent        TEXT    NOT NULL DEFAULT '',
    prev_hash    TEXT    NOT NULL,
    hash         TEXT    NOT NULL
);
CREATE INDEX cases_audit_at ON cases_audit (at);
CREATE INDEX cases_audit_msg ON cases_audit (message_id) WHERE message_id <> 0;
CREATE TRIGGER cases_audit_no_update BEFORE UPDATE ON cases_audit
BEGIN SELECT RAISE(ABORT, 'cases_audit is append-only'); END;
CREATE TRIGGER cases_audit_no_delete BEFORE DELETE ON cases_audit
BEGIN SELECT RAISE(ABORT, 'cases_audit is append-only'); END;

-- Cases the app wrote, with what Salesforce last told us about them.
CREATE TABLE cases_touched (
    case_id     TEXT    PRIMARY KEY,
    thread_key  TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL DEFAULT '',
    is_closed   INTEGER NOT NULL DEFAULT 0,
    owner_id    TEXT    NOT NULL DEFAULT '',
    modstamp    INTEGER NOT NULL DEFAULT 0,  -- SystemModstamp last seen
    source      TEXT    NOT NULL DEFAULT '', -- write, poll, webhook
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Watermarks (poll position) and small settings.
CREATE TABLE cases_sync (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

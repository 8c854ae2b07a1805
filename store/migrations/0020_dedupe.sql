-- dedupe: thread index, participants, contact claims, loop breaker, sync watermarks.
-- Times are Unix milliseconds (UTC). Addresses are normalised (dedupe.NormalizeAddress).

-- One row per thread; thread_key is the Case external ID (Triage_Key__c).
CREATE TABLE dedupe_threads (
    thread_key      TEXT    PRIMARY KEY,
    root_message_id TEXT    NOT NULL,
    case_id         TEXT    NOT NULL DEFAULT '',  -- Salesforce Case Id once known
    parent_case_id  TEXT    NOT NULL DEFAULT '',  -- closed case this thread follows up
    subject_norm    TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX dedupe_threads_case ON dedupe_threads (case_id) WHERE case_id <> '';

-- Every Message-ID seen (received or only referenced) → its thread.
CREATE TABLE dedupe_message_ids (
    message_id   TEXT    PRIMARY KEY,           -- without angle brackets
    thread_key   TEXT    NOT NULL REFERENCES dedupe_threads(thread_key),
    msg_row      INTEGER,                       -- messages.id when we received it
    sender       TEXT    NOT NULL DEFAULT '',
    subject_norm TEXT    NOT NULL DEFAULT '',
    seen_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX dedupe_message_ids_thread ON dedupe_message_ids (thread_key);
CREATE INDEX dedupe_message_ids_subject ON dedupe_message_ids (sender, subject_norm, seen_at) WHERE msg_row IS NOT NULL;

-- Who may use a thread's token: senders and recipients of its messages, the case contact.
CREATE TABLE dedupe_participants (
    thread_key TEXT NOT NULL,
    address    TEXT NOT NULL,
    PRIMARY KEY (thread_key, address)
) WITHOUT ROWID;

-- Address → Contact. The primary key is what makes "one Contact per address"
-- hold under concurrency: creating needs the row's claim (state 'pending').
CREATE TABLE dedupe_contacts (
    address       TEXT    PRIMARY KEY,
    state         TEXT    NOT NULL CHECK (state IN ('pending','linked','created')),
    contact_id    TEXT    NOT NULL DEFAULT '',
    account_id    TEXT    NOT NULL DEFAULT '',
    source        TEXT    NOT NULL DEFAULT '',
    claim_token   TEXT    NOT NULL DEFAULT '',
    claimed_until INTEGER NOT NULL DEFAULT 0,
    resolved_at   INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX dedupe_contacts_contact ON dedupe_contacts (contact_id) WHERE contact_id <> '';
CREATE INDEX dedupe_contacts_account ON dedupe_contacts (account_id) WHERE account_id <> '';

-- Loop breaker: recent hits per (sender, subject), keyed by message so a retried
-- message is counted once; a tripped pair stays blocked until quiet.
CREATE TABLE dedupe_loop_hits (
    sender  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    msg_row INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (sender, subject, msg_row)
) WITHOUT ROWID;
CREATE TABLE dedupe_loops (
    sender     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    tripped_at INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    blocked    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sender, subject)
) WITHOUT ROWID;

-- Watermarks of the Salesforce change polls (Contact/Account SystemModstamp).
CREATE TABLE dedupe_sync (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

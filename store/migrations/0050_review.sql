-- Review UI: users, sessions, the UI action log, manager labels (approvals and
-- corrections, the training data the classifier learns from) and the state of
-- each escalation-queue item. Times are Unix milliseconds (UTC).

CREATE TABLE review_users (
    name          TEXT    PRIMARY KEY,
    role          TEXT    NOT NULL CHECK (role IN ('viewer','manager','admin')),
    password_hash TEXT    NOT NULL,           -- bcrypt
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- Sessions are looked up by the SHA-256 of the cookie token: a leaked database
-- does not hand out live sessions.
CREATE TABLE review_sessions (
    token_hash   TEXT    PRIMARY KEY,
    user_name    TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('viewer','manager','admin')),
    source       TEXT    NOT NULL DEFAULT 'password', -- password, oidc, local
    csrf         TEXT    NOT NULL,                    -- session-bound CSRF token
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX review_sessions_expires ON review_sessions (expires_at);

-- Every action taken in the UI (and every login), append-only.
CREATE TABLE review_actions (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    role       TEXT    NOT NULL DEFAULT '',
    action     TEXT    NOT NULL,
    message_id INTEGER,
    detail     TEXT    NOT NULL DEFAULT '',
    ok         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX review_actions_at ON review_actions (at);
CREATE INDEX review_actions_message ON review_actions (message_id);
CREATE TRIGGER review_actions_no_update BEFORE UPDATE ON review_actions BEGIN SELECT RAISE(ABORT, 'review_actions is append-only'); END;
CREATE TRIGGER review_actions_no_delete BEFORE DELETE ON review_actions BEGIN SELECT RAISE(ABORT, 'review_actions is append-only'); END;

-- A manager's verdict on a classification: 'approve' (the AI was right) or
-- 'correct' (the manager's values). The latest row per message is the label.
CREATE TABLE review_labels (
    id                 INTEGER PRIMARY KEY,
    message_id         INTEGER NOT NULL REFERENCES messages(id),
    kind               TEXT    NOT NULL CHECK (kind IN ('approve','correct')),
    actor              TEXT    NOT NULL,
    at                 INTEGER NOT NULL,
    predicted_category TEXT    NOT NULL DEFAULT '',
    predicted_priority TEXT    NOT NULL DEFAULT '',
    predicted_escalate INTEGER NOT NULL DEFAULT 0,
    confidence         REAL    NOT NULL DEFAULT 0,
    model              TEXT    NOT NULL DEFAULT '',
    category           TEXT    NOT NULL DEFAULT '',
    priority           TEXT    NOT NULL DEFAULT '',
    escalate           INTEGER NOT NULL DEFAULT 0,
    escalation_reason  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX review_labels_message ON review_labels (message_id, id);
CREATE INDEX review_labels_at ON review_labels (at);

-- Where an escalated message stands in the queue; no row means open.
CREATE TABLE review_items (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id),
    status     TEXT    NOT NULL CHECK (status IN ('open','approved','corrected','closed')),
    contact_id TEXT    NOT NULL DEFAULT '',  -- contact picked by a manager
    actor      TEXT    NOT NULL,
    at         INTEGER NOT NULL
);

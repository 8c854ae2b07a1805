-- classify: calibrations per model, managers' corrections (training data) and
-- trained offline models. Times are Unix milliseconds (UTC).

-- One calibration per model name (classify.Calibration as JSON), fitted by `triage eval --fit-calibration`.
CREATE TABLE classify_calibrations (
    model     TEXT    PRIMARY KEY,
    data      BLOB    NOT NULL,
    n         INTEGER NOT NULL DEFAULT 0,
    fitted_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Labelled corrections from the review UI. subject/body hold the redacted new
-- text only (classify.Redactor), never the raw email. One row per message (the latest wins).
CREATE TABLE classify_corrections (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    subject    TEXT    NOT NULL DEFAULT '',
    body       TEXT    NOT NULL DEFAULT '',
    category   TEXT    NOT NULL,
    priority   TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX classify_corrections_message ON classify_corrections (message_id);

-- Offline models written by `triage train` when no model file is configured
-- (gzip'd gob of classify.Model).
CREATE TABLE classify_models (
    name       TEXT    PRIMARY KEY,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- message_parsed: the parsed form (JSON of ingest.Parsed) moves out of the
-- messages row. Every state change, lease and retry rewrites a whole row, and
-- the parsed text and HTML made it tens of kilobytes (overflow pages): most
-- of the bytes the pipeline wrote were that JSON again and again. It is
-- written once, at ingest, and read where it was read before.
CREATE TABLE message_parsed (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id),
    data       BLOB    NOT NULL
);
INSERT INTO message_parsed (message_id, data) SELECT id, parsed FROM messages WHERE parsed IS NOT NULL;
ALTER TABLE messages DROP COLUMN parsed;

-- attachments: the files the cases stage uploads as Salesforce Files, one row
-- per (thread, file content). The key makes a file that every reply of a
-- thread repeats (a logo, a signature image) upload once per case; the state
-- makes the upload exactly-once across retries and crashes ("sending" before
-- the request goes out; an attempt that finds it asks Salesforce first).
CREATE TABLE attachments (
	thread_key          TEXT    NOT NULL,            -- the thread's key, or "case:<id>"
	sha256              TEXT    NOT NULL,            -- of the decoded file
	message_id          INTEGER NOT NULL,            -- the message whose upload this is
	part                TEXT    NOT NULL DEFAULT '', -- MIME part path in that message
	filename            TEXT    NOT NULL DEFAULT '',
	size                INTEGER NOT NULL DEFAULT 0,
	md5                 TEXT    NOT NULL DEFAULT '', -- ContentVersion.Checksum: finds an upload again
	mode                TEXT    NOT NULL DEFAULT '', -- composite | multipart
	state               TEXT    NOT NULL,            -- pending | sending | committed | failed
	content_version_id  TEXT    NOT NULL DEFAULT '',
	content_document_id TEXT    NOT NULL DEFAULT '',
	last_error          TEXT    NOT NULL DEFAULT '',
	created_at          INTEGER NOT NULL,
	updated_at          INTEGER NOT NULL,
	PRIMARY KEY (thread_key, sha256)
);
CREATE INDEX attachments_message ON attachments (message_id);

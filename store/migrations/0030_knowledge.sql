-- Knowledge: articles (Salesforce Knowledge or imported files), their FTS5 index,
-- optional embeddings, the sync cursor, knowledge gaps and rejected suggestions.
-- Times are Unix milliseconds (UTC).

CREATE TABLE knowledge_articles (
    id                   INTEGER PRIMARY KEY,          -- also the rowid in knowledge_fts
    source               TEXT    NOT NULL,             -- 'salesforce' or 'file'
    origin               TEXT    NOT NULL DEFAULT '',  -- import path (files) or object name (salesforce)
    article_key          TEXT    NOT NULL,             -- stable identity: KnowledgeArticleId/language, or import id
    article_id           TEXT    NOT NULL,             -- Salesforce version Id (ka0…) or import id
    knowledge_article_id TEXT    NOT NULL DEFAULT '',  -- Salesforce master id (kA0…), shared by versions and translations
    article_number       TEXT    NOT NULL DEFAULT '',
    url_name             TEXT    NOT NULL DEFAULT '',
    url                  TEXT    NOT NULL DEFAULT '',
    language             TEXT    NOT NULL,             -- as the source names it (en_US, de, …)
    title                TEXT    NOT NULL,
    summary              TEXT    NOT NULL DEFAULT '',
    body                 TEXT    NOT NULL DEFAULT '',  -- plain text, markup stripped
    version              INTEGER NOT NULL DEFAULT 0,
    modstamp             INTEGER NOT NULL DEFAULT 0,   -- SystemModstamp / file mtime
    updated_at           INTEGER NOT NULL,
    UNIQUE (source, article_key)
);
CREATE INDEX knowledge_articles_article_id ON knowledge_articles (article_id);
CREATE INDEX knowledge_articles_origin ON knowledge_articles (source, origin);

-- Contentless index of pre-processed text: the knowledge package strips markup,
-- drops stop words and stems per language in Go, so unicode61 only splits on the
-- spaces it put there. `lang` holds the base language (en, de, …) as a token so
-- a query can be restricted to one language inside MATCH; its BM25 weight is 0.
CREATE VIRTUAL TABLE knowledge_fts USING fts5 (
    title, summary, body, lang,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE knowledge_vocab USING fts5vocab (knowledge_fts, 'row');

CREATE TABLE knowledge_embeddings (
    article  INTEGER PRIMARY KEY REFERENCES knowledge_articles(id) ON DELETE CASCADE,
    model    TEXT    NOT NULL,
    hash     TEXT    NOT NULL,  -- SHA-256 of the embedded text: re-embed only when it changes
    vector   BLOB    NOT NULL   -- little-endian float32
);

CREATE TABLE knowledge_sync (
    source       TEXT    PRIMARY KEY,
    cursor       TEXT    NOT NULL DEFAULT '',  -- newest SystemModstamp seen (RFC 3339)
    last_sync_at INTEGER NOT NULL DEFAULT 0,
    articles     INTEGER NOT NULL DEFAULT 0,
    api_calls    INTEGER NOT NULL DEFAULT 0    -- calls used by the last sync
) WITHOUT ROWID;

-- One row per email the knowledge base could not answer ('no_match') or whose
-- suggestions an agent rejected ('rejected').
CREATE TABLE knowledge_gaps (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('no_match', 'rejected')),
    subject      TEXT    NOT NULL DEFAULT '',
    category     TEXT    NOT NULL DEFAULT '',
    language     TEXT    NOT NULL DEFAULT '',
    key_terms    TEXT    NOT NULL DEFAULT '[]', -- JSON array of surface forms
    best_score   REAL    NOT NULL DEFAULT 0,
    best_article TEXT    NOT NULL DEFAULT '',
    at           INTEGER NOT NULL,
    UNIQUE (message_id, kind)
);
CREATE INDEX knowledge_gaps_at ON knowledge_gaps (at);

CREATE TABLE knowledge_rejections (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL,
    article_ids TEXT    NOT NULL, -- JSON array
    by          TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX knowledge_rejections_message ON knowledge_rejections (message_id);

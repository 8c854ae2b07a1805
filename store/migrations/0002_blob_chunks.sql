-- Raw messages above 1 MB are stored as 1 MB chunks: SQLite builds a whole
-- row in memory (a copy of the bound value, then the record), so one 25 MB
-- row cost about 50 MB of C memory to write and again to read; a chunk row
-- costs about 2 MB. blobs.chunks is how many chunk rows the blob has (0: the
-- bytes are in blobs.data).
ALTER TABLE blobs ADD COLUMN chunks INTEGER NOT NULL DEFAULT 0;

CREATE TABLE blob_chunks (
    sha256 TEXT    NOT NULL REFERENCES blobs(sha256),
    seq    INTEGER NOT NULL,
    data   BLOB    NOT NULL,
    PRIMARY KEY (sha256, seq)
);

-- cases: find the case of a thread from the ledger (a reply processed before
-- dedupe learned its thread's case).
CREATE INDEX cases_writes_thread ON cases_writes (thread_key, state) WHERE thread_key <> '';

-- Run records, version 10: a run whose steps workers execute from the step queue
-- (`weft worker`), not the process that recorded it. No process owns such a run: it is
-- never resumed in-process after a restart, and its commits advance it (records'
-- `advance.rs`).
ALTER TABLE runs ADD COLUMN on_workers BOOLEAN NOT NULL DEFAULT FALSE;

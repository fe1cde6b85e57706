-- Run records, version 10: runs whose steps workers execute from the step queue
-- (`weft worker`), not the process that recorded them. No process owns such a run: it is
-- never resumed in-process after a restart, and its commits advance it (records'
-- `advance.rs`). `step_limit` is the most steps of the run's tenant executing at once over
-- every worker (0: no limit), copied to each queued step as `tenant_limit`, which claims
-- respect.
ALTER TABLE runs ADD COLUMN on_workers BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE runs ADD COLUMN step_limit BIGINT NOT NULL DEFAULT 0;
ALTER TABLE step_queue ADD COLUMN tenant_limit BIGINT NOT NULL DEFAULT 0;
-- `deadline_at` (ms since the epoch, NULL for none) is when a run on workers must have
-- ended: past it, any worker stops the run and it fails (`timed_out`).
ALTER TABLE runs ADD COLUMN deadline_at BIGINT;
ALTER TABLE runs ADD COLUMN timed_out BOOLEAN NOT NULL DEFAULT FALSE;

-- Run records, version 9: the step queue of workers sharing one database (`weft worker`).
-- A row is a step ready to execute (`ready`) or claimed by a worker under a lease
-- (`leased`, until `lease_expires_at`, ms since the epoch). `fence` grows at every claim:
-- a worker commits only with the fence it claimed with, so one whose lease was taken over
-- can never commit over the later attempt. `runs_on` is the one label a worker must carry
-- to claim it ('' for any worker). The row is deleted when the step's result is committed.
CREATE TABLE step_queue (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    tenant TEXT NOT NULL,
    runs_on TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'ready',
    fence BIGINT NOT NULL DEFAULT 0,
    claims BIGINT NOT NULL DEFAULT 0,
    worker TEXT,
    lease_expires_at BIGINT,
    ready_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, step)
);
CREATE INDEX step_queue_by_state ON step_queue (state, ready_at);
CREATE INDEX step_queue_by_worker ON step_queue (worker);

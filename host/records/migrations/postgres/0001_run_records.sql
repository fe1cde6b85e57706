-- Run records, version 1, for PostgreSQL: the SQLite schema with BIGINT for every integer
-- (sqlx reads all of them as i64, and Postgres does not widen INTEGER on read).
-- Times are milliseconds since the Unix epoch; digests are `sha256:<hex>` text.

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    workflow TEXT NOT NULL,
    -- The workflow file as given, its text and the `--param` overrides (JSON object of
    -- strings), as they were when the run started (resume executes the locked plan).
    file TEXT NOT NULL,
    source TEXT NOT NULL,
    overrides TEXT NOT NULL,
    -- The run's parameters after defaults (JSON object).
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX runs_by_start ON runs (tenant, started_at);

-- Workflow inputs as stored.
CREATE TABLE run_inputs (
    run_id TEXT NOT NULL REFERENCES runs (id),
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX run_inputs_by_digest ON run_inputs (digest);

-- One row per planned step (matrix instances included), written when the run starts and
-- updated when the step is committed.
CREATE TABLE steps (
    run_id TEXT NOT NULL REFERENCES runs (id),
    step TEXT NOT NULL,
    position BIGINT NOT NULL,
    uses TEXT NOT NULL,
    component TEXT NOT NULL,
    -- Matrix instance: the authored step id and its values (JSON), else NULL.
    instance_of TEXT,
    instance_values TEXT,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    -- `cached` (with the run it came from) or `resumed` when not executed in this run.
    reuse TEXT,
    reused_from TEXT,
    cache_key TEXT,
    duration_ms DOUBLE PRECISION,
    error TEXT,
    finished_at BIGINT,
    PRIMARY KEY (run_id, step)
);
CREATE INDEX steps_by_cache_key ON steps (cache_key);

CREATE TABLE attempts (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    number BIGINT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    duration_ms DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, step, number),
    FOREIGN KEY (run_id, step) REFERENCES steps (run_id, step)
);

-- What each step read, in binding order (a fan-in port has one row per artifact).
CREATE TABLE step_inputs (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    position BIGINT NOT NULL,
    port TEXT NOT NULL,
    source TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (run_id, step, position),
    FOREIGN KEY (run_id, step) REFERENCES steps (run_id, step)
);

-- Artifacts by producer: every output a step published (or reused from the cache).
CREATE TABLE step_outputs (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    port TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    PRIMARY KEY (run_id, step, port),
    FOREIGN KEY (run_id, step) REFERENCES steps (run_id, step)
);
CREATE INDEX step_outputs_by_digest ON step_outputs (digest);

CREATE TABLE metrics (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, step, position),
    FOREIGN KEY (run_id, step) REFERENCES steps (run_id, step)
);

CREATE TABLE logs (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    position BIGINT NOT NULL,
    stream TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, step, position),
    FOREIGN KEY (run_id, step) REFERENCES steps (run_id, step)
);

-- Cache entries: the execution whose outputs serve every later one with the same key.
CREATE TABLE cache_entries (
    tenant TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, cache_key),
    FOREIGN KEY (run_id, step) REFERENCES steps (run_id, step)
);

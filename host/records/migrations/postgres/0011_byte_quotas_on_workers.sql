-- Run records, version 11: the byte quotas of a run on workers. `output_limit` (NULL for
-- none) is the most bytes the run's executed steps may produce together
-- (`run-output-bytes`); `produced_bytes` what its succeeded, executed (not reused) steps
-- produced so far, kept by the commits that record them (records' `advance.rs`), which
-- refuse a step that would take it past the limit. `stored_limit` (NULL for none) is its
-- tenant's `stored-bytes` when the run was handed over, which workers count its steps'
-- writes against.
ALTER TABLE runs ADD COLUMN output_limit BIGINT;
ALTER TABLE runs ADD COLUMN produced_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN stored_limit BIGINT;

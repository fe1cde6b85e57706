-- Run records, version 11: the `run-output-bytes` quota of a run on workers. `output_limit`
-- (NULL for none) is the most bytes the run's executed steps may produce together;
-- `produced_bytes` what its succeeded, executed (not reused) steps produced so far, kept
-- by the commits that record them (records' `advance.rs`), which refuse a step that would
-- take it past the limit.
ALTER TABLE runs ADD COLUMN output_limit BIGINT;
ALTER TABLE runs ADD COLUMN produced_bytes BIGINT NOT NULL DEFAULT 0;

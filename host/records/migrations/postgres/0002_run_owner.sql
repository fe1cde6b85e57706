-- Run records, version 2: which process runs a run, so a run whose process died (killed,
-- crashed, machine rebooted) can be told from one still going.
ALTER TABLE runs ADD COLUMN host TEXT;
ALTER TABLE runs ADD COLUMN pid BIGINT;

-- Run records, version 3: the run's locked plan (every `uses:` pinned to a component
-- digest, every value resolved), the document resume and replay execute. JSON text,
-- written once when the run is recorded; NULL for runs recorded before version 3.
ALTER TABLE runs ADD COLUMN plan TEXT;

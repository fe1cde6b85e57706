-- Run records, version 6: the audit log of a shared Weft — who (which tenant) did what
-- (submitted, cancelled, resumed a run; uploaded, downloaded an artifact), to what, when,
-- with the digests concerned. Append-only: nothing updates or deletes a row.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_tenant ON audit (tenant, id);

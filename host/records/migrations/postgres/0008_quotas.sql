-- Run records, version 8: per-tenant quota overrides of a shared Weft (`weft tenant quota`),
-- as a JSON object of quota name → value; a quota not named takes the server's default.
CREATE TABLE tenant_quotas (
    tenant TEXT PRIMARY KEY,
    quotas TEXT NOT NULL
);

-- Run records, version 7: the step registry of a shared Weft. A tenant publishes a
-- component as NAME@VERSION (its bytes in the tenant's store, content-addressed by
-- `digest`; `info` is its describe() as JSON); a published version never changes. A
-- public version may be used, never changed, by every tenant.
CREATE TABLE registry (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    public BOOLEAN NOT NULL DEFAULT FALSE,
    info TEXT NOT NULL,
    readme TEXT,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, name, version)
);
CREATE INDEX registry_by_name ON registry (name, public);
CREATE INDEX registry_by_digest ON registry (digest);

-- Run records, version 4: small artifacts (at most 64 KiB by default) kept in the records
-- instead of the object store, written in the transaction that commits the step that
-- produced them (weft-artifacts' `inline.rs`). Content-addressed like the store: one row
-- per tenant and digest, whichever run produced it; the bytes are checked against the
-- digest whenever they are read.
CREATE TABLE inline_blobs (
    tenant TEXT NOT NULL,
    digest TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (tenant, digest)
);

-- Run records, version 5: tenants and their API tokens (`weft tenant`). Only the SHA-256
-- of a token is kept: the token itself is shown once, when it is made, and a leaked copy
-- of the records grants nothing.
CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    token_created_at BIGINT NOT NULL
);

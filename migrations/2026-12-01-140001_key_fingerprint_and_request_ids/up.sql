-- The fingerprint of the deployment's secret key (an HMAC of a fixed label
-- under the key, never the key itself), so that a missing or wrong key is
-- refused instead of silently turning every password into a wrong one.
-- One row, named 'secret_key'.
CREATE TABLE key_fingerprints (
    name TEXT PRIMARY KEY NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The X-Request-Id of the request that caused an audit event, if any.
ALTER TABLE events ADD COLUMN request_id TEXT;

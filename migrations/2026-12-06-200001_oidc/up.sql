-- OpenID Connect provider (docs/contract/8-openid-connect.md). Portable SQL:
-- ids are UUID text, times Unix seconds, token and secret hashes hex SHA-256.

-- How each session was signed in (RFC 8176 methods, space-separated: `pwd`,
-- `pwd otp mfa`, `pwd hwk mfa`, `hwk mfa`, `hwk`), for the ID token's `amr`.
-- NULL for sessions older than this migration.
ALTER TABLE sessions ADD COLUMN amr TEXT;

-- Applications registered by the operator. `secret_hash` is NULL for a
-- public client; the URI lists are JSON arrays of strings.
CREATE TABLE oidc_clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    trusted BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

-- A grant is one family of tokens: what one authorization code was
-- exchanged for, and every refresh that followed. Revoking it deletes it,
-- and its tokens go with it.
CREATE TABLE oidc_grants (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    sid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL
);
CREATE INDEX oidc_grants_user_id ON oidc_grants (user_id);
CREATE INDEX oidc_grants_client_id ON oidc_grants (client_id);

-- Authorization codes, hashed. A code is taken once by a conditional
-- UPDATE that sets `grant_id`; the row stays until it expires so that a
-- second use is recognised and revokes the grant the first one made.
CREATE TABLE oidc_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    sid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    grant_id TEXT
);
CREATE INDEX oidc_codes_expires_at ON oidc_codes (expires_at);

-- Remembered consents: one row per account and client.
CREATE TABLE oidc_consents (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Refresh tokens, hashed. Rotation marks a token used by a conditional
-- UPDATE; presenting a used one again revokes its whole grant.
CREATE TABLE oidc_refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oidc_refresh_tokens_grant_id ON oidc_refresh_tokens (grant_id);

-- Access tokens, hashed (opaque bearer tokens).
CREATE TABLE oidc_access_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_access_tokens_grant_id ON oidc_access_tokens (grant_id);
CREATE INDEX oidc_access_tokens_expires_at ON oidc_access_tokens (expires_at);

-- ID-token signing keys: the private key sealed under the deployment's
-- secret key, the public half as a JWK. A key is published from
-- `created_at` and signs from `use_after`.
CREATE TABLE oidc_signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    use_after BIGINT NOT NULL
);

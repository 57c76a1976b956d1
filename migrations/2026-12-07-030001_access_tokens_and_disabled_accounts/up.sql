-- Personal access tokens, disabled accounts and the actor of audit rows
-- (docs/contract/11-access-tokens-and-admin-api.md).

-- Unix seconds when an operator disabled the account; NULL while it may
-- sign in. Read with the account itself, so no login costs a query more.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

-- Who made a change, when it was not the account's own user: `token:<id>`
-- for the admin API (the access token's id), NULL otherwise.
ALTER TABLE events ADD COLUMN actor TEXT;

-- Personal access tokens: only the SHA-256 of each is kept, and a bearer
-- check is one lookup of it through the unique index. `scopes` is a
-- space-separated list (`profile`, `admin:read`, `admin:write`);
-- `expires_at` NULL never expires. The account's deletion takes its tokens.
CREATE TABLE access_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX access_tokens_user_id ON access_tokens (user_id);

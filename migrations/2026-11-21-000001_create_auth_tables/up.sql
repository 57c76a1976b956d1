-- One portable set of tables for SQLite and PostgreSQL: ids are UUIDs as text,
-- times are Unix seconds as BIGINT, token hashes are hex text.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT,
    -- lowercase copies carry the case-insensitive uniqueness on both backends
    username_key TEXT UNIQUE,
    email TEXT,
    email_key TEXT UNIQUE,
    full_name TEXT,
    mothers_favorite_search_engine TEXT,
    password_hash TEXT NOT NULL,
    -- bumped by every password change, so caches of verified credentials can
    -- confirm in one lookup that what they verified still holds
    credential_version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (username IS NOT NULL OR email IS NOT NULL)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    user_agent TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- one live reset token per user: a newer one replaces the row
CREATE TABLE reset_tokens (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- a machine has one user and a user one machine: both sides are unique
CREATE TABLE machines (
    machine_id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    bound_at BIGINT NOT NULL
);

-- consecutive failed logins per account name, known or not; the key is a keyed
-- hash of the name, so names typed by mistake (often passwords) are not kept
CREATE TABLE login_throttle (
    account_key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
CREATE INDEX login_throttle_last_failure_at ON login_throttle (last_failure_at);

-- the audit log; user_id is not a foreign key so the record outlives the account
CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    occurred_at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    client_addr TEXT
);
CREATE INDEX events_occurred_at ON events (occurred_at);

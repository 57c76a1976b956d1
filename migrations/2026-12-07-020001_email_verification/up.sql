-- Owning an e-mail address (docs/contract/10-email.md).

-- When the account's current address was verified; NULL: not verified.
-- Accounts older than this migration start unverified (an operator can
-- vouch for them with `authd user verify-email USERNAME`).
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

-- Verification tokens, hashed (hex SHA-256). One live token per account:
-- asking again, or asking for another address, replaces it. `email` is the
-- address the link proves: the account's own one, or the new address of a
-- change, which becomes the account's only when the link is used. A token
-- is used by one conditional DELETE, so only one caller can win.
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX email_tokens_user_id ON email_tokens (user_id);
CREATE INDEX email_tokens_email_key ON email_tokens (email_key);

-- Accounts whose last successful login used a password found in a breach
-- list: /me shows a banner until the password changes.
CREATE TABLE breached_logins (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    flagged_at BIGINT NOT NULL
);

-- One namespace for usernames and e-mail addresses: a name (NFC, lowercased)
-- belongs to one account whichever field holds it, and this primary key is
-- what settles two sign-ups racing for it on either backend.
CREATE TABLE identifiers (
    name_key TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX identifiers_user_id ON identifiers (user_id);
INSERT INTO identifiers (name_key, user_id)
    SELECT username_key, id FROM users WHERE username_key IS NOT NULL
    ON CONFLICT DO NOTHING;
INSERT INTO identifiers (name_key, user_id)
    SELECT email_key, id FROM users WHERE email_key IS NOT NULL
    ON CONFLICT DO NOTHING;

-- The login throttle, now per account (or per unknown name) and in
-- milliseconds. Its rows are short-lived counts, so the old table is not
-- carried over.
DROP TABLE login_throttle;
CREATE TABLE login_throttle (
    account_key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure_ms BIGINT NOT NULL,
    locked_until_ms BIGINT NOT NULL
);
CREATE INDEX login_throttle_last_failure_ms ON login_throttle (last_failure_ms);

-- Password checks in flight per account: each holds a slot until it is
-- decided, or until its lease runs out if its server died meanwhile.
CREATE TABLE login_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    account_key TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX login_attempts_account_key ON login_attempts (account_key);

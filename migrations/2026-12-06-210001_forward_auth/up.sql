-- Forward authentication for reverse proxies (docs/contract/9-forward-auth.md).

-- When the session's login completed a second factor (the second step, or a
-- passkey sign-in); NULL for a password-only login. A site with
-- second_factor = 'required' lets in only sessions where it is set. It is
-- read with the session itself, so the forward-auth check costs no more
-- queries than a session check.
ALTER TABLE sessions ADD COLUMN second_factor_at BIGINT;

-- The hosts the operator protects, lower-cased (`host` or `host:port`).
-- second_factor is 'optional' or 'required'; allow is 'any' (every account)
-- or 'listed' (only the accounts of site_users: when the last of them is
-- deleted, nobody, never everybody).
CREATE TABLE protected_sites (
    host TEXT PRIMARY KEY NOT NULL,
    second_factor TEXT NOT NULL,
    allow TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The accounts a site with allow = 'listed' lets in.
CREATE TABLE site_users (
    host TEXT NOT NULL REFERENCES protected_sites (host) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (host, user_id)
);
CREATE INDEX site_users_user_id ON site_users (user_id);

-- One row whose version every change of the two tables above bumps, in the
-- same transaction: each server keeps the rules in memory and reads this
-- row (at most once a second) to know whether to reload them.
CREATE TABLE site_rules_version (
    name TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO site_rules_version (name, version) VALUES ('sites', 0);

-- Passkeys (WebAuthn Level 2, docs/contract/7-second-factor.md). `credential` is webauthn-rs's
-- serialized credential (public key, flags, its own copy of the counter);
-- `counter` is the signature counter the server last accepted, the one that
-- decides: an assertion is taken only by a conditional UPDATE that moves it
-- forward (or keeps it at 0 for authenticators without a counter).
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    counter BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- WebAuthn ceremonies in progress, kept here so that any server of a
-- deployment can finish a ceremony another one started. The client holds the
-- ceremony id; the table keeps its SHA-256. `binding` is what the ceremony
-- belongs to besides the account (the session that adds a passkey, the
-- mfa_token of a second step). A ceremony is used once: the finishing
-- request deletes its row, and the deleted-row count decides.
CREATE TABLE webauthn_ceremonies (
    id_hash TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    binding TEXT,
    origin TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);
CREATE INDEX webauthn_ceremonies_user_id ON webauthn_ceremonies (user_id);

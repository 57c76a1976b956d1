-- Second factors (docs/contract/7-second-factor.md). The TOTP secret is kept only encrypted under a
-- key derived from the deployment's secret key (hex of nonce and ciphertext);
-- last_step is the last 30-second step a code was accepted for, so no code
-- works twice. confirmed_at is NULL while an enrolment waits for its first code.
CREATE TABLE totp_factors (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT NOT NULL
);

-- Single-use recovery codes, keyed hashes only; a used code's row is deleted.
CREATE TABLE recovery_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX recovery_codes_user_id ON recovery_codes (user_id);

-- The token between a right password and its second step: hashed, short-lived,
-- and tied to the credential version the password proved.
CREATE TABLE mfa_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX mfa_tokens_user_id ON mfa_tokens (user_id);
CREATE INDEX mfa_tokens_expires_at ON mfa_tokens (expires_at);

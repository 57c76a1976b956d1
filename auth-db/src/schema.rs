//! Diesel's view of the tables in `migrations/`, shared by both backends.

diesel::table! {
    /// Accounts: identifiers, profile and the password hash.
    users (id) {
        id -> Text,
        username -> Nullable<Text>,
        username_key -> Nullable<Text>,
        email -> Nullable<Text>,
        email_key -> Nullable<Text>,
        full_name -> Nullable<Text>,
        mothers_favorite_search_engine -> Nullable<Text>,
        password_hash -> Text,
        credential_version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// Login sessions; only the SHA-256 of each token is stored.
    sessions (id) {
        id -> Text,
        token_hash -> Text,
        user_id -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    /// The one live password-reset token of a user, hashed.
    reset_tokens (user_id) {
        user_id -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Machine bindings of the device check: one machine per user and one user per machine.
    machines (machine_id) {
        machine_id -> Text,
        user_id -> Text,
        bound_at -> BigInt,
    }
}

diesel::table! {
    /// Consecutive failed logins per account (or unknown name), keyed by a hash.
    login_throttle (account_key) {
        account_key -> Text,
        failures -> BigInt,
        last_failure_ms -> BigInt,
        locked_until_ms -> BigInt,
    }
}

diesel::table! {
    /// Password checks in flight, one row each, per throttle key.
    login_attempts (id) {
        id -> Text,
        account_key -> Text,
        expires_ms -> BigInt,
    }
}

diesel::table! {
    /// Every name of every account (username and e-mail, NFC and lowercased):
    /// one namespace, so a name belongs to one account whichever field holds it.
    identifiers (name_key) {
        name_key -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    /// The audit log of security events.
    events (id) {
        id -> Text,
        occurred_at -> BigInt,
        kind -> Text,
        user_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// The fingerprint of the deployment's secret key (never the key itself).
    key_fingerprints (name) {
        name -> Text,
        fingerprint -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Authenticator-app (TOTP) factors: the secret sealed under the deployment key.
    totp_factors (user_id) {
        user_id -> Text,
        secret_sealed -> Text,
        created_at -> BigInt,
        confirmed_at -> Nullable<BigInt>,
        last_step -> BigInt,
    }
}

diesel::table! {
    /// Unused recovery codes, keyed hashes only.
    recovery_codes (code_hash) {
        code_hash -> Text,
        user_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Tokens between a right password and its second step, hashed.
    mfa_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        credential_version -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Passkeys (WebAuthn credentials); `counter` is the one that decides.
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        credential_id -> Text,
        credential -> Text,
        counter -> BigInt,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// WebAuthn ceremonies in progress, single use.
    webauthn_ceremonies (id_hash) {
        id_hash -> Text,
        kind -> Text,
        user_id -> Nullable<Text>,
        binding -> Nullable<Text>,
        origin -> Text,
        state -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(reset_tokens -> users (user_id));
diesel::joinable!(machines -> users (user_id));
diesel::joinable!(identifiers -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    reset_tokens,
    machines,
    login_throttle,
    login_attempts,
    identifiers,
    events,
    key_fingerprints,
    totp_factors,
    recovery_codes,
    mfa_tokens,
    passkeys,
    webauthn_ceremonies
);

//! Diesel's view of the tables in `migrations/`, shared by both backends.

diesel::table! {
    /// Accounts: identifiers, profile and the password hash.
    users (id) {
        /// UUID of the account.
        id -> Text,
        /// The username as the user typed it.
        username -> Nullable<Text>,
        /// The username, lowercased and NFC: what uniqueness and lookups use.
        username_key -> Nullable<Text>,
        /// The e-mail address as the user typed it.
        email -> Nullable<Text>,
        /// The e-mail address, lowercased and NFC.
        email_key -> Nullable<Text>,
        /// Optional profile field.
        full_name -> Nullable<Text>,
        /// Optional profile field (the Holberton exercise has it).
        mothers_favorite_search_engine -> Nullable<Text>,
        /// `hmac-sha256-bcrypt$` and a bcrypt hash of the peppered password.
        password_hash -> Text,
        /// Bumped by every password change; a decision taken on an older one is void.
        credential_version -> BigInt,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds.
        updated_at -> BigInt,
        /// Unix seconds when the current e-mail address was verified; NULL: not verified.
        email_verified_at -> Nullable<BigInt>,
        /// Unix seconds when an operator disabled the account; NULL while it may sign in.
        disabled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// E-mail verification tokens, hashed: one live token per account.
    email_tokens (token_hash) {
        /// Hex SHA-256 of the token.
        token_hash -> Text,
        /// The account.
        user_id -> Text,
        /// The address the token proves, as typed.
        email -> Text,
        /// The address, lowercased and NFC.
        email_key -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds after which the token is void.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Accounts whose last login used a password found in a breach list.
    breached_logins (user_id) {
        /// The account.
        user_id -> Text,
        /// Unix seconds.
        flagged_at -> BigInt,
    }
}

diesel::table! {
    /// Login sessions; only the SHA-256 of each token is stored.
    sessions (id) {
        /// UUID of the session (what the session list shows; not a secret).
        id -> Text,
        /// Hex SHA-256 of the session token.
        token_hash -> Text,
        /// The account.
        user_id -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds of the last use, refreshed at most once a minute.
        last_seen_at -> BigInt,
        /// Unix seconds: the maximum age, whatever the use.
        expires_at -> BigInt,
        /// The `User-Agent` of the login, for the session list.
        user_agent -> Nullable<Text>,
        /// Unix seconds when the login completed a second factor (the
        /// second step or a passkey sign-in); NULL for a password-only login.
        second_factor_at -> Nullable<BigInt>,
        /// How the session was signed in (RFC 8176 methods, space-separated).
        amr -> Nullable<Text>,
    }
}

diesel::table! {
    /// The one live password-reset token of a user, hashed.
    reset_tokens (user_id) {
        /// The account.
        user_id -> Text,
        /// Hex SHA-256 of the reset token.
        token_hash -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Machine bindings of the device check: one machine per user and one user per machine.
    machines (machine_id) {
        /// The machine id the desktop client sent (an HMAC of its identity file).
        machine_id -> Text,
        /// The account bound to it.
        user_id -> Text,
        /// Unix seconds.
        bound_at -> BigInt,
    }
}

diesel::table! {
    /// Consecutive failed logins per account (or unknown name), keyed by a hash.
    login_throttle (account_key) {
        /// Keyed hash of the account id (or of an unknown name).
        account_key -> Text,
        /// Consecutive failed logins.
        failures -> BigInt,
        /// Unix milliseconds of the last failure.
        last_failure_ms -> BigInt,
        /// Unix milliseconds before which no password is checked.
        locked_until_ms -> BigInt,
    }
}

diesel::table! {
    /// Password checks in flight, one row each, per throttle key.
    login_attempts (id) {
        /// UUID of the attempt.
        id -> Text,
        /// The throttle key it counts against.
        account_key -> Text,
        /// Unix milliseconds after which a crashed attempt no longer counts.
        expires_ms -> BigInt,
    }
}

diesel::table! {
    /// Every name of every account (username and e-mail, NFC and lowercased):
    /// one namespace, so a name belongs to one account whichever field holds it.
    identifiers (name_key) {
        /// The name, lowercased and NFC.
        name_key -> Text,
        /// The account that holds it.
        user_id -> Text,
    }
}

diesel::table! {
    /// The audit log of security events.
    events (id) {
        /// UUID of the event.
        id -> Text,
        /// Unix seconds.
        occurred_at -> BigInt,
        /// What happened (`login_succeeded`, `password_reset`, …).
        kind -> Text,
        /// The account, when one is known.
        user_id -> Nullable<Text>,
        /// The client's address.
        client_addr -> Nullable<Text>,
        /// The request's `X-Request-Id`.
        request_id -> Nullable<Text>,
        /// Who made the change for the account (`token:<id>` for the admin API).
        actor -> Nullable<Text>,
    }
}

diesel::table! {
    /// The fingerprint of the deployment's secret key (never the key itself).
    key_fingerprints (name) {
        /// Which key (one row, `secret_key`).
        name -> Text,
        /// HMAC of a fixed label under the key.
        fingerprint -> Text,
        /// Unix seconds.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Authenticator-app (TOTP) factors: the secret sealed under the deployment key.
    totp_factors (user_id) {
        /// The account.
        user_id -> Text,
        /// The TOTP secret sealed with ChaCha20-Poly1305 (nonce and ciphertext, hex).
        secret_sealed -> Text,
        /// Unix seconds of the enrolment.
        created_at -> BigInt,
        /// Unix seconds of the first right code; until then the factor is not in force.
        confirmed_at -> Nullable<BigInt>,
        /// The last time step accepted, so a code works once.
        last_step -> BigInt,
    }
}

diesel::table! {
    /// Unused recovery codes, keyed hashes only.
    recovery_codes (code_hash) {
        /// Keyed hash of an unused code.
        code_hash -> Text,
        /// The account.
        user_id -> Text,
        /// Unix seconds.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Tokens between a right password and its second step, hashed.
    mfa_tokens (token_hash) {
        /// Hex SHA-256 of the second-step token.
        token_hash -> Text,
        /// The account.
        user_id -> Text,
        /// The account's credential version when the password was checked.
        credential_version -> BigInt,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Passkeys (WebAuthn credentials); `counter` is the one that decides.
    passkeys (id) {
        /// UUID of the passkey.
        id -> Text,
        /// The account.
        user_id -> Text,
        /// The name its owner gave it.
        name -> Text,
        /// Base64url of the WebAuthn credential id (unique).
        credential_id -> Text,
        /// The serialized credential (public key and flags).
        credential -> Text,
        /// The last signature counter accepted: the one that decides.
        counter -> BigInt,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds of the last accepted assertion.
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// WebAuthn ceremonies in progress, single use.
    webauthn_ceremonies (id_hash) {
        /// Hex SHA-256 of the ceremony id the client holds.
        id_hash -> Text,
        /// Registration, sign-in or second step.
        kind -> Text,
        /// The account, when known at the start.
        user_id -> Nullable<Text>,
        /// A session id or an mfa_token hash the ceremony belongs to.
        binding -> Nullable<Text>,
        /// The web origin it was started for.
        origin -> Text,
        /// The serialized ceremony state.
        state -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds after which it is void.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Hosts protected by forward authentication (docs/contract/9-forward-auth.md).
    protected_sites (host) {
        /// The host, or `host:port`, lower-cased.
        host -> Text,
        /// `optional` or `required`.
        second_factor -> Text,
        /// `any` (every account) or `listed` (only those of `site_users`).
        allow -> Text,
        /// Unix seconds.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// The accounts a protected site lets in; none listed: every account.
    site_users (host, user_id) {
        /// The protected host.
        host -> Text,
        /// An account it lets in.
        user_id -> Text,
    }
}

diesel::table! {
    /// The version of the site rules, bumped by every change of them.
    site_rules_version (name) {
        /// Which version (one row, `sites`).
        name -> Text,
        /// Bumped by every change of `protected_sites` or `site_users`.
        version -> BigInt,
    }
}

diesel::table! {
    /// OpenID Connect clients registered by the operator.
    oidc_clients (id) {
        /// UUID of the client (its `client_id`).
        id -> Text,
        /// The name shown on the consent page.
        name -> Text,
        /// Hex SHA-256 of the client secret; NULL for a public client.
        secret_hash -> Nullable<Text>,
        /// JSON array of the registered redirect URIs.
        redirect_uris -> Text,
        /// JSON array of the registered post-logout redirect URIs.
        post_logout_redirect_uris -> Text,
        /// A first-party client: no consent page.
        trusted -> Bool,
        /// Unix seconds.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// One family of OIDC tokens (a code's exchange and its refreshes).
    oidc_grants (id) {
        /// UUID of the grant.
        id -> Text,
        /// The client.
        client_id -> Text,
        /// The account.
        user_id -> Text,
        /// The granted scopes, space-separated.
        scope -> Text,
        /// Unix seconds of the login the grant comes from.
        auth_time -> BigInt,
        /// The login's methods (RFC 8176), space-separated.
        amr -> Text,
        /// The authd session id of that login.
        sid -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds of the last token issued.
        last_used_at -> BigInt,
    }
}

diesel::table! {
    /// Authorization codes, hashed; single use.
    oidc_codes (code_hash) {
        /// Hex SHA-256 of the code.
        code_hash -> Text,
        /// The client.
        client_id -> Text,
        /// The account.
        user_id -> Text,
        /// The redirect URI of the request.
        redirect_uri -> Text,
        /// The scopes, space-separated.
        scope -> Text,
        /// The request's nonce.
        nonce -> Nullable<Text>,
        /// The PKCE S256 challenge.
        code_challenge -> Text,
        /// Unix seconds of the login.
        auth_time -> BigInt,
        /// The login's methods, space-separated.
        amr -> Text,
        /// The authd session id.
        sid -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds.
        expires_at -> BigInt,
        /// The grant its one exchange made; NULL while unused.
        grant_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Consents remembered per account and client.
    oidc_consents (user_id, client_id) {
        /// The account.
        user_id -> Text,
        /// The client.
        client_id -> Text,
        /// The consented scopes, space-separated.
        scope -> Text,
        /// Unix seconds.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Refresh tokens, hashed; rotated on use.
    oidc_refresh_tokens (token_hash) {
        /// Hex SHA-256 of the token.
        token_hash -> Text,
        /// The grant.
        grant_id -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds of its one use; NULL while unused.
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Access tokens, hashed.
    oidc_access_tokens (token_hash) {
        /// Hex SHA-256 of the token.
        token_hash -> Text,
        /// The grant.
        grant_id -> Text,
        /// The client.
        client_id -> Text,
        /// The account.
        user_id -> Text,
        /// The scopes, space-separated.
        scope -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// ID-token signing keys, the private half sealed.
    oidc_signing_keys (kid) {
        /// The key id (`kid`).
        kid -> Text,
        /// `RS256` or `ES256`.
        alg -> Text,
        /// The DER private key sealed under the deployment key (hex).
        private_key_sealed -> Text,
        /// The public JWK (JSON).
        public_jwk -> Text,
        /// Unix seconds: published from then.
        created_at -> BigInt,
        /// Unix seconds: used for signing from then.
        use_after -> BigInt,
    }
}

diesel::table! {
    /// Personal access tokens (docs/contract/11-access-tokens-and-admin-api.md); only the SHA-256 is kept.
    access_tokens (id) {
        /// UUID of the token (what lists show and revocation names).
        id -> Text,
        /// Hex SHA-256 of the token.
        token_hash -> Text,
        /// The account it acts for.
        user_id -> Text,
        /// The name its maker gave it.
        name -> Text,
        /// Space-separated scopes.
        scopes -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds; NULL never expires.
        expires_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(access_tokens -> users (user_id));
diesel::joinable!(site_users -> users (user_id));
diesel::joinable!(site_users -> protected_sites (host));
diesel::joinable!(reset_tokens -> users (user_id));
diesel::joinable!(machines -> users (user_id));
diesel::joinable!(identifiers -> users (user_id));
diesel::joinable!(email_tokens -> users (user_id));
diesel::joinable!(breached_logins -> users (user_id));
diesel::joinable!(oidc_grants -> oidc_clients (client_id));
diesel::joinable!(oidc_consents -> oidc_clients (client_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    email_tokens,
    breached_logins,
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
    webauthn_ceremonies,
    protected_sites,
    site_users,
    site_rules_version,
    oidc_clients,
    oidc_grants,
    oidc_codes,
    oidc_consents,
    oidc_refresh_tokens,
    oidc_access_tokens,
    oidc_signing_keys,
    access_tokens
);

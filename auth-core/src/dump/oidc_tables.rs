//! The OpenID Connect provider's tables in a dump
//! (docs/contract/8-openid-connect.md): clients, grants, codes, consents,
//! tokens (all hashed) and signing keys (sealed), after the accounts they
//! refer to.

use auth_db::Snapshot;

use super::Statements;

/// Appends the `oidc_*` tables, in [`super::DUMP_TABLES`]' order.
pub(super) fn render(out: &mut Statements, snapshot: &Snapshot) {
    out.table(
        "oidc_clients",
        &[
            "id",
            "name",
            "secret_hash",
            "redirect_uris",
            "post_logout_redirect_uris",
            "trusted",
            "created_at",
        ],
        &snapshot.oidc_clients,
        |c| {
            vec![
                (&c.id).into(),
                (&c.name).into(),
                (&c.secret_hash).into(),
                (&c.redirect_uris).into(),
                (&c.post_logout_redirect_uris).into(),
                c.trusted.into(),
                c.created_at.into(),
            ]
        },
    );
    out.table(
        "oidc_grants",
        &[
            "id",
            "client_id",
            "user_id",
            "scope",
            "auth_time",
            "amr",
            "sid",
            "created_at",
            "last_used_at",
        ],
        &snapshot.oidc_grants,
        |g| {
            vec![
                (&g.id).into(),
                (&g.client_id).into(),
                (&g.user_id).into(),
                (&g.scope).into(),
                g.auth_time.into(),
                (&g.amr).into(),
                (&g.sid).into(),
                g.created_at.into(),
                g.last_used_at.into(),
            ]
        },
    );
    out.table(
        "oidc_codes",
        &[
            "code_hash",
            "client_id",
            "user_id",
            "redirect_uri",
            "scope",
            "nonce",
            "code_challenge",
            "auth_time",
            "amr",
            "sid",
            "created_at",
            "expires_at",
            "grant_id",
        ],
        &snapshot.oidc_codes,
        |c| {
            vec![
                (&c.code_hash).into(),
                (&c.client_id).into(),
                (&c.user_id).into(),
                (&c.redirect_uri).into(),
                (&c.scope).into(),
                (&c.nonce).into(),
                (&c.code_challenge).into(),
                c.auth_time.into(),
                (&c.amr).into(),
                (&c.sid).into(),
                c.created_at.into(),
                c.expires_at.into(),
                (&c.grant_id).into(),
            ]
        },
    );
    out.table(
        "oidc_consents",
        &["user_id", "client_id", "scope", "created_at"],
        &snapshot.oidc_consents,
        |c| {
            vec![
                (&c.user_id).into(),
                (&c.client_id).into(),
                (&c.scope).into(),
                c.created_at.into(),
            ]
        },
    );
    out.table(
        "oidc_refresh_tokens",
        &["token_hash", "grant_id", "created_at", "used_at"],
        &snapshot.oidc_refresh_tokens,
        |r| {
            vec![
                (&r.token_hash).into(),
                (&r.grant_id).into(),
                r.created_at.into(),
                r.used_at.into(),
            ]
        },
    );
    out.table(
        "oidc_access_tokens",
        &[
            "token_hash",
            "grant_id",
            "client_id",
            "user_id",
            "scope",
            "created_at",
            "expires_at",
        ],
        &snapshot.oidc_access_tokens,
        |a| {
            vec![
                (&a.token_hash).into(),
                (&a.grant_id).into(),
                (&a.client_id).into(),
                (&a.user_id).into(),
                (&a.scope).into(),
                a.created_at.into(),
                a.expires_at.into(),
            ]
        },
    );
    // The private halves are sealed under the deployment's key, as TOTP secrets are.
    out.table(
        "oidc_signing_keys",
        &[
            "kid",
            "alg",
            "private_key_sealed",
            "public_jwk",
            "created_at",
            "use_after",
        ],
        &snapshot.oidc_signing_keys,
        |k| {
            vec![
                (&k.kid).into(),
                (&k.alg).into(),
                (&k.private_key_sealed).into(),
                (&k.public_jwk).into(),
                k.created_at.into(),
                k.use_after.into(),
            ]
        },
    );
}

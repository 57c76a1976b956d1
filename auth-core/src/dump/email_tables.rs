//! The tables of owning an e-mail address in a dump
//! (docs/contract/10-email.md): verification tokens (hashed) and the
//! breached-password flags, after the accounts they refer to.

use auth_db::Snapshot;

use super::Statements;

/// Appends `email_tokens` and `breached_logins`, in [`super::DUMP_TABLES`]' order.
pub(super) fn render(out: &mut Statements, snapshot: &Snapshot) {
    out.table(
        "email_tokens",
        &[
            "token_hash",
            "user_id",
            "email",
            "email_key",
            "created_at",
            "expires_at",
        ],
        &snapshot.email_tokens,
        |t| {
            vec![
                (&t.token_hash).into(),
                (&t.user_id).into(),
                (&t.email).into(),
                (&t.email_key).into(),
                t.created_at.into(),
                t.expires_at.into(),
            ]
        },
    );
    out.table(
        "breached_logins",
        &["user_id", "flagged_at"],
        &snapshot.breached_logins,
        |b| vec![(&b.user_id).into(), b.flagged_at.into()],
    );
}

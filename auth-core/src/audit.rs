//! The audit trail: one row in `events` per security event, written in the
//! same transaction as the change it records, and one log line.

use auth_db::EventRow;

use crate::account::ClientInfo;
use crate::service::Auth;

/// Kinds of audit event.
pub(crate) mod event {
    pub(crate) const USER_REGISTERED: &str = "user_registered";
    pub(crate) const LOGIN_SUCCEEDED: &str = "login_succeeded";
    pub(crate) const LOGIN_FAILED: &str = "login_failed";
    pub(crate) const LOGIN_LOCKED: &str = "login_locked";
    pub(crate) const LOGIN_THROTTLED: &str = "login_throttled";
    pub(crate) const SESSION_ENDED: &str = "session_ended";
    pub(crate) const RESET_REQUESTED: &str = "reset_requested";
    pub(crate) const PASSWORD_RESET: &str = "password_reset";
    pub(crate) const PASSWORD_CHANGED: &str = "password_changed";
    pub(crate) const PASSWORD_SET: &str = "password_set";
    pub(crate) const MACHINE_BOUND: &str = "machine_bound";
    pub(crate) const MACHINE_UNBOUND: &str = "machine_unbound";
    pub(crate) const USER_DELETED: &str = "user_deleted";
    pub(crate) const MFA_FACTOR_ADDED: &str = "mfa_factor_added";
    pub(crate) const MFA_FACTOR_REMOVED: &str = "mfa_factor_removed";
    pub(crate) const MFA_FACTOR_USED: &str = "mfa_factor_used";
    pub(crate) const MFA_CODE_FAILED: &str = "mfa_code_failed";
    pub(crate) const RECOVERY_CODE_USED: &str = "recovery_code_used";
    pub(crate) const RECOVERY_CODES_REPLACED: &str = "recovery_codes_replaced";
    pub(crate) const MFA_RESET: &str = "mfa_reset";
    pub(crate) const PASSKEY_ADDED: &str = "passkey_added";
    pub(crate) const PASSKEY_REMOVED: &str = "passkey_removed";
    pub(crate) const PASSKEY_USED: &str = "passkey_used";
    pub(crate) const PASSKEY_FAILED: &str = "passkey_failed";
    pub(crate) const OIDC_CLIENT_ADDED: &str = "oidc_client_added";
    pub(crate) const OIDC_CLIENT_DELETED: &str = "oidc_client_deleted";
    pub(crate) const OIDC_CLIENT_SECRET_ROTATED: &str = "oidc_client_secret_rotated";
    pub(crate) const SITE_ADDED: &str = "site_added";
    pub(crate) const SITE_DELETED: &str = "site_deleted";
    pub(crate) const OIDC_CONSENT_GIVEN: &str = "oidc_consent_given";
    pub(crate) const OIDC_TOKEN_ISSUED: &str = "oidc_token_issued";
    pub(crate) const OIDC_REUSE_DETECTED: &str = "oidc_reuse_detected";
    pub(crate) const OIDC_REVOKED: &str = "oidc_revoked";
    pub(crate) const ACCESS_TOKEN_ADDED: &str = "access_token_added";
    pub(crate) const ACCESS_TOKEN_REVOKED: &str = "access_token_revoked";
    pub(crate) const USER_DISABLED: &str = "user_disabled";
    pub(crate) const USER_ENABLED: &str = "user_enabled";
    pub(crate) const USER_UPDATED: &str = "user_updated";
    pub(crate) const SESSIONS_ENDED: &str = "sessions_ended";
    pub(crate) const EMAIL_VERIFICATION_SENT: &str = "email_verification_sent";
    pub(crate) const EMAIL_VERIFIED: &str = "email_verified";
}

impl Auth {
    /// The audit row of an event happening now; the caller writes it in the
    /// transaction of the change it records.
    pub(crate) fn event(&self, kind: &str, user_id: Option<&str>, client: &ClientInfo) -> EventRow {
        EventRow {
            id: uuid::Uuid::new_v4().to_string(),
            occurred_at: self.now(),
            kind: kind.to_owned(),
            user_id: user_id.map(str::to_owned),
            client_addr: client.addr.map(|a| a.to_string()),
            request_id: client.request_id.clone(),
            actor: client.actor.clone(),
        }
    }

    /// Records an event that goes with no change of its own (a refused
    /// attempt), and logs it.
    pub(crate) async fn record_event(
        &self,
        kind: &str,
        user_id: Option<&str>,
        client: &ClientInfo,
    ) {
        let row = self.event(kind, user_id, client);
        log_event(kind, user_id, client);
        if let Err(error) = self.db(move |conn| EventRow::record(conn, &row)).await {
            tracing::warn!(%error, "could not record audit event");
        }
    }

    /// Counts audit events of one kind (for operators and tests).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn count_events(&self, kind: &str) -> crate::error::AuthResult<i64> {
        let kind = kind.to_owned();
        self.db(move |conn| EventRow::count_kind(conn, &kind)).await
    }
}

/// One log line per security event; never a secret.
pub(crate) fn log_event(kind: &str, user_id: Option<&str>, client: &ClientInfo) {
    tracing::info!(
        target: "authd::security",
        event = kind,
        user_id,
        client = client.addr.map(|a| a.to_string()).as_deref(),
        "security event"
    );
}

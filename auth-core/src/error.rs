//! The one error type that callers of [`crate::Auth`] see.

use std::time::Duration;

use auth_db::DbError;

use crate::password_rules::PasswordRule;

/// Which identifier of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentifierKind {
    /// The username.
    Username,
    /// The e-mail address.
    Email,
}

/// Every outcome of an `Auth` call that is not success.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request names neither a username nor an e-mail: fix the request.
    #[error("a username or an email is required")]
    MissingIdentifier,
    /// A field is malformed (too long, control characters …): fix the named field.
    #[error("{field}: {message}")]
    InvalidField {
        /// The field's name as the contract spells it.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The username breaks the username rules: choose another.
    #[error("username must be 1 to 64 characters of A-Z a-z 0-9 . _ - @ +")]
    InvalidUsername,
    /// The e-mail address is malformed: fix it.
    #[error("email must be at most 254 characters with exactly one @")]
    InvalidEmail,
    /// The password breaks a rule: choose another; nothing was changed.
    #[error("{}", .0.message())]
    PasswordRejected(PasswordRule),
    /// The username or e-mail belongs to another account: log in or choose another.
    #[error("{} already registered", match .0 { IdentifierKind::Username => "username", IdentifierKind::Email => "email" })]
    AlreadyRegistered(IdentifierKind),
    /// The identifier or password is wrong (which one is never said): try again.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed logins for this account: wait `retry_after` and try again.
    #[error("too many failed attempts; retry later")]
    Throttled {
        /// How long until an attempt is accepted.
        retry_after: Duration,
    },
    /// No live session goes with the request: log in.
    #[error("not authenticated")]
    NotAuthenticated,
    /// No account has that identifier (the reset flow says so, as the exercise asks).
    #[error("no account with that identifier")]
    UnknownAccount,
    /// The reset token is wrong, expired, used or another account's: ask for a new one.
    #[error("invalid or expired reset token")]
    InvalidResetToken,
    /// The thing named (a session id) does not exist for this user.
    #[error("not found")]
    NotFound,
    /// The right password, but the user is bound to another machine.
    #[error("this user is bound to another machine")]
    MachineMismatch,
    /// The right password, but the machine is bound to another user.
    #[error("this machine is bound to another user")]
    MachineTaken,
    /// Too many password hashes are already waiting for a CPU: retry after
    /// `retry_after` (503 with `Retry-After`); nothing was checked or changed.
    #[error("the server is busy checking passwords; retry later")]
    Overloaded {
        /// A suggested wait before retrying.
        retry_after: Duration,
    },
    /// The password was right, but the account has a second factor: send
    /// `mfa_token` with a code of one of `methods` to finish the login.
    #[error("a second factor is required")]
    MfaRequired {
        /// The token of the second step.
        mfa_token: crate::token::MfaToken,
        /// The methods the account has.
        methods: Vec<crate::mfa_method::MfaMethod>,
    },
    /// The code (or the second-step token) is wrong, used or expired: try again.
    #[error("invalid or expired code")]
    InvalidCode,
    /// The database does not answer: retry later (503).
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// The reset message could not be sent (the mail server refused or did
    /// not answer): retry later (503). The token was made; a new request
    /// makes another.
    #[error("the reset e-mail could not be sent; try again later")]
    DeliveryFailed,
    /// A fault on the server's side (500); the details are in the server log.
    #[error("internal error")]
    Internal(String),
}

impl AuthError {
    /// The contract's stable error code (docs/contract/3-json-api.md): the one table of codes
    /// that the HTTP layer, the importer's report and the command line share.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingIdentifier => "missing_field",
            AuthError::InvalidField { .. } => "invalid_field",
            AuthError::InvalidUsername => "invalid_username",
            AuthError::InvalidEmail => "invalid_email",
            AuthError::PasswordRejected(rule) => rule.code(),
            AuthError::AlreadyRegistered(_) => "already_registered",
            AuthError::InvalidCredentials => "invalid_credentials",
            AuthError::Throttled { .. } => "throttled",
            AuthError::NotAuthenticated => "not_authenticated",
            AuthError::UnknownAccount | AuthError::NotFound => "not_found",
            AuthError::InvalidResetToken => "invalid_reset_token",
            AuthError::MachineMismatch => "machine_mismatch",
            AuthError::MachineTaken => "machine_taken",
            AuthError::MfaRequired { .. } => "mfa_required",
            AuthError::InvalidCode => "invalid_code",
            AuthError::Unavailable | AuthError::Overloaded { .. } | AuthError::DeliveryFailed => {
                "unavailable"
            }
            AuthError::Internal(_) => "internal",
        }
    }
}

impl AuthError {
    /// The service's error for a database's. Not a `From` impl: that would
    /// name an auth-db type in the public API.
    pub(crate) fn from_db(error: DbError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "database unavailable");
            AuthError::Unavailable
        } else {
            AuthError::Internal(error.to_string())
        }
    }
}

/// Shorthand for results of this crate.
pub type AuthResult<T> = Result<T, AuthError>;

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
    /// An OAuth / OpenID Connect request failed (docs/contract/8-openid-connect.md):
    /// the inner error names the protocol's code.
    #[error("{0}")]
    OAuth(OAuthError),
    /// The bearer token is not a live access token (wrong, expired,
    /// revoked, or its account disabled or gone): 401 `invalid_token`.
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,
    /// The access token lacks the scope the route needs: 403
    /// `insufficient_scope`; the error names the scope.
    #[error("this access token lacks the scope {0}")]
    InsufficientScope(&'static str),
    /// A paging cursor that this server did not make (malformed or forged): 400.
    #[error("the cursor is not one this server made")]
    InvalidCursor,
    /// The right password, but `--require-verified-email` is on and the
    /// account's address is not verified: open the link sent to it (401).
    #[error("verify your e-mail address first: open the link that was sent to it")]
    EmailUnverified,
    /// The e-mail verification link is wrong, expired or used: ask for a new one.
    #[error("invalid or expired verification link")]
    InvalidEmailToken,
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
            AuthError::InvalidToken => "invalid_token",
            AuthError::InsufficientScope(_) => "insufficient_scope",
            AuthError::InvalidCursor => "invalid_cursor",
            AuthError::Unavailable | AuthError::Overloaded { .. } | AuthError::DeliveryFailed => {
                "unavailable"
            }
            AuthError::OAuth(error) => error.code(),
            AuthError::EmailUnverified => "email_unverified",
            AuthError::InvalidEmailToken => "invalid_email_token",
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

/// An OAuth 2.0 error (RFC 6749 §4.1.2.1, §5.2; OIDC Core §3.1.2.6; RFC 6750).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The authorization request names an unknown client or a redirect URI
    /// the client did not register: shown on a page, never redirected.
    #[error("{0}")]
    UntrustedRedirect(String),
    /// The request is malformed (`invalid_request`).
    #[error("{0}")]
    InvalidRequest(String),
    /// The client is unknown or its authentication failed (`invalid_client`, 401).
    #[error("client authentication failed")]
    InvalidClient,
    /// The code or refresh token is wrong, used, expired or another client's
    /// (`invalid_grant`).
    #[error("{0}")]
    InvalidGrant(String),
    /// The client may not do this (`unauthorized_client`).
    #[error("{0}")]
    UnauthorizedClient(String),
    /// Only `authorization_code` and `refresh_token` are served.
    #[error("unsupported grant_type")]
    UnsupportedGrantType,
    /// Only `response_type=code` is served.
    #[error("unsupported response_type")]
    UnsupportedResponseType,
    /// The scope lacks `openid` or asks for more than was granted.
    #[error("{0}")]
    InvalidScope(String),
    /// The user refused consent.
    #[error("the user denied the request")]
    AccessDenied,
    /// `prompt=none` and nobody is signed in.
    #[error("the user is not signed in")]
    LoginRequired,
    /// `prompt=none` and the user has not consented.
    #[error("the user has not consented")]
    ConsentRequired,
    /// The bearer token is wrong, expired or revoked (RFC 6750 `invalid_token`).
    #[error("the access token is invalid")]
    InvalidToken,
}

impl OAuthError {
    /// The error code the protocol names.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::UntrustedRedirect(_) | OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::UnsupportedResponseType => "unsupported_response_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::AccessDenied => "access_denied",
            OAuthError::LoginRequired => "login_required",
            OAuthError::ConsentRequired => "consent_required",
            OAuthError::InvalidToken => "invalid_token",
        }
    }
}

/// Shorthand for results of this crate.
pub type AuthResult<T> = Result<T, AuthError>;

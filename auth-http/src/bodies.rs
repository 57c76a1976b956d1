//! Answer bodies that several route modules share (the JSON API, the second
//! factors, passkeys): a leaf, so those modules need not import each other.

use auth_core::User;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The account's identifiers (`email`, `username` or both: as registered,
/// or as given to a reset) and a message.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "bob@example.com", "message": "user created"}))]
pub(crate) struct AccountMessage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) email: Option<&'a str>,
    pub(crate) message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) username: Option<&'a str>,
}

impl<'a> AccountMessage<'a> {
    /// The identifiers the account has, with `message`.
    pub(crate) fn of(user: &'a User, message: &'static str) -> Self {
        AccountMessage {
            email: user.email.as_deref(),
            message,
            username: user.username.as_deref(),
        }
    }
}

/// Unix seconds as RFC 3339 UTC.
pub(crate) fn rfc3339(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

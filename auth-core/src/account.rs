//! Accounts as callers see them, and the rules for their fields.

use std::net::IpAddr;

use auth_db::{SessionRow, UserRow};

use crate::error::AuthError;
use crate::secret::Password;
use crate::token::SessionToken;

/// Longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Longest e-mail address, in characters.
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest full name, in characters.
pub const MAX_FULL_NAME_CHARS: usize = 200;
/// Longest search engine name, in characters.
pub const MAX_SEARCH_ENGINE_CHARS: usize = 100;

/// An account, without its password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// UUID of the account.
    pub id: String,
    /// The username as registered.
    pub username: Option<String>,
    /// The e-mail address as registered.
    pub email: Option<String>,
    /// Whether the account proved it owns `email` (docs/contract/10-email.md).
    pub email_verified: bool,
    /// Profile: full name.
    pub full_name: Option<String>,
    /// Profile: mother's favorite search engine.
    pub mothers_favorite_search_engine: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds when an operator disabled the account; `None` while it may sign in.
    pub disabled_at: Option<i64>,
}

impl User {
    /// The name that finds this account with [`Identifier::Any`]: the
    /// username, or else the e-mail.
    pub(crate) fn id_name(&self) -> String {
        self.display_name().to_owned()
    }

    /// The name to show: the username, or else the e-mail.
    pub fn display_name(&self) -> &str {
        self.username
            .as_deref()
            .or(self.email.as_deref())
            .unwrap_or_default()
    }
}

impl User {
    /// The account of a stored row. Crate-private: the public API names no
    /// auth-db type.
    pub(crate) fn from_row(row: UserRow) -> Self {
        User {
            id: row.id,
            username: row.username,
            email_verified: row.email.is_some() && row.email_verified_at.is_some(),
            email: row.email,
            full_name: row.full_name,
            mothers_favorite_search_engine: row.mothers_favorite_search_engine,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
        }
    }
}

/// A login session, without its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// UUID of the session.
    pub id: String,
    /// The account.
    pub user_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last recorded use.
    pub last_seen_at: i64,
    /// Unix seconds when the session ends unless ended earlier: the earlier of
    /// its absolute end and its idle end.
    pub expires_at: i64,
    /// The `User-Agent` of the login.
    pub user_agent: Option<String>,
    /// Unix seconds when the login completed a second factor (the second
    /// step, or a passkey sign-in); `None` for a password-only login.
    pub second_factor_at: Option<i64>,
}

impl Session {
    pub(crate) fn from_row(row: SessionRow, idle_timeout_secs: i64) -> Self {
        Session {
            expires_at: row.expires_at.min(row.last_seen_at + idle_timeout_secs),
            id: row.id,
            user_id: row.user_id,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            user_agent: row.user_agent,
            second_factor_at: row.second_factor_at,
        }
    }
}

/// A signed-in user and the session that proves it.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The account.
    pub user: User,
    /// The session.
    pub session: Session,
}

/// What a successful login hands back.
#[derive(Clone, Debug)]
pub struct LoginSuccess {
    /// The account.
    pub user: User,
    /// The new session.
    pub session: Session,
    /// The new session's token, for the cookie.
    pub token: SessionToken,
}

/// A sign-up request.
#[derive(Clone, Debug, Default)]
pub struct Registration {
    /// Username (at least one of username and e-mail).
    pub username: Option<String>,
    /// E-mail (at least one of username and e-mail).
    pub email: Option<String>,
    /// The password.
    pub password: Password,
    /// Optional profile field.
    pub full_name: Option<String>,
    /// Optional profile field.
    pub mothers_favorite_search_engine: Option<String>,
}

impl Default for Password {
    fn default() -> Self {
        Password::new("")
    }
}

/// How a client names an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identifier {
    /// By username.
    Username(String),
    /// By e-mail.
    Email(String),
    /// By username, or failing that by e-mail (the login form's one field).
    Any(String),
}

impl Identifier {
    /// The name as given.
    pub fn as_str(&self) -> &str {
        match self {
            Identifier::Username(s) | Identifier::Email(s) | Identifier::Any(s) => s,
        }
    }

    /// The key the name is stored and compared under.
    pub(crate) fn key(&self) -> String {
        name_key(self.as_str())
    }
}

/// The key of a username or e-mail address: lowercased, then NFC, so that
/// every spelling of one name (case, composed or decomposed accents) is one
/// key in the one namespace that usernames and e-mails share.
pub(crate) fn name_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.to_lowercase().nfc().collect()
}

/// What is known about the client of a request, for the audit log and the
/// session list.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// The client's address.
    pub addr: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The request's `X-Request-Id`, kept in the audit row.
    pub request_id: Option<String>,
    /// Who acts, when not the account's own user: `token:<id>` for a call
    /// of the admin API (kept in the audit row's `actor`).
    pub actor: Option<String>,
}

/// Checks a username: 1–64 characters of `A-Z a-z 0-9 . _ - @ +`.
pub(crate) fn validate_username(username: &str) -> Result<(), AuthError> {
    let count = username.chars().count();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+');
    if (1..=MAX_USERNAME_CHARS).contains(&count) && username.chars().all(allowed) {
        Ok(())
    } else {
        Err(AuthError::InvalidUsername)
    }
}

/// Checks an e-mail address: at most 254 characters, exactly one `@` with
/// something on each side, no spaces or control characters.
pub(crate) fn validate_email(email: &str) -> Result<(), AuthError> {
    let ok = email.chars().count() <= MAX_EMAIL_CHARS
        && email.matches('@').count() == 1
        && !email.starts_with('@')
        && !email.ends_with('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(AuthError::InvalidEmail)
    }
}

/// Trims a profile field and checks its length; an empty value means unset.
pub(crate) fn clean_profile_field(
    field: &'static str,
    value: Option<String>,
    max_chars: usize,
) -> Result<Option<String>, AuthError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let trimmed = value.trim_matches(' ');
    if trimmed.chars().any(char::is_control) {
        return Err(AuthError::InvalidField {
            field,
            message: "must not contain control characters".into(),
        });
    }
    if trimmed.chars().count() > max_chars {
        return Err(AuthError::InvalidField {
            field,
            message: format!("must be at most {max_chars} characters"),
        });
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_name_is_one_key() {
        let composed = "J\u{00C9}R\u{00D4}ME@EXAMPLE.COM";
        let decomposed = "je\u{0301}ro\u{0302}me@example.com";
        assert_eq!(name_key(composed), name_key(decomposed));
        assert_eq!(name_key(composed), "j\u{00e9}r\u{00f4}me@example.com");
        assert_eq!(name_key("Kvothe"), "kvothe");
    }

    #[test]
    fn usernames() {
        for good in ["a", "kvothe", "jet-setter", "a.b_c-d@e+f", &"x".repeat(64)] {
            assert!(validate_username(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "has space",
            "ünïcode",
            "semi;colon",
            &"x".repeat(65),
            "<script>",
        ] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(validate_email("bob@example.com").is_ok());
        for bad in [
            "bob",
            "@example.com",
            "bob@",
            "a@b@c",
            "bo b@example.com",
            &format!("{}@x.io", "a".repeat(250)),
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn profile_fields_are_trimmed_and_bounded() {
        assert_eq!(
            clean_profile_field("full_name", Some("  Duck Duck Go ".into()), 200).unwrap(),
            Some("Duck Duck Go".into())
        );
        assert_eq!(
            clean_profile_field("full_name", Some("   ".into()), 200).unwrap(),
            None
        );
        assert!(clean_profile_field("full_name", Some("x".repeat(201)), 200).is_err());
        assert!(clean_profile_field("full_name", Some("a\u{7}b".into()), 200).is_err());
    }
}

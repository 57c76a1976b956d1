//! What the pages say about a failed `Auth` call: one sentence per outcome,
//! the same on every page. A leaf: it knows no page and no route.

use auth_core::{AuthError, PasswordRule};

use crate::error::retry_after_secs;

/// What a page says about a failed `Auth` call: one sentence per outcome,
/// the same on every page.
pub(crate) fn sentence(error: &AuthError) -> String {
    match error {
        AuthError::MissingIdentifier => "Enter a username.".into(),
        AuthError::InvalidField { field, message } => {
            sentence_of(&format!("{} {message}", field_label(field)))
        }
        AuthError::InvalidUsername => "Username must be 1 to 64 characters long and may use only \
             letters, digits, dots, underscores, hyphens, @ and +."
            .into(),
        AuthError::InvalidEmail => {
            "E-mail address must have exactly one @ and at most 254 characters.".into()
        }
        AuthError::PasswordRejected(rule) => password_sentence(rule),
        AuthError::AlreadyRegistered(auth_core::IdentifierKind::Username) => {
            "That username is already registered.".into()
        }
        AuthError::AlreadyRegistered(auth_core::IdentifierKind::Email) => {
            "That e-mail address is already registered.".into()
        }
        AuthError::InvalidCredentials => "Wrong username or password.".into(),
        AuthError::MfaRequired { .. } => {
            "Enter the code from your authenticator app, or a recovery code.".into()
        }
        AuthError::InvalidCode => "That code is wrong, expired or already used.".into(),
        AuthError::Throttled { retry_after } => match retry_after_secs(*retry_after) {
            1 => "Too many attempts. Try again in 1 second.".into(),
            n => format!("Too many attempts. Try again in {n} seconds."),
        },
        AuthError::NotAuthenticated => "You are not logged in. Log in and try again.".into(),
        AuthError::UnknownAccount | AuthError::InvalidResetToken => {
            "This password reset link is unknown, has expired or has already been used.".into()
        }
        AuthError::NotFound => "That session has already ended.".into(),
        AuthError::EmailUnverified => "Your e-mail address is not verified yet. A new link is \
             on its way to it: open it, then log in again."
            .into(),
        AuthError::InvalidEmailToken => {
            "This verification link is unknown, has expired or has already been used.".into()
        }
        AuthError::MachineMismatch
        | AuthError::MachineTaken
        | AuthError::OAuth(_)
        | AuthError::InvalidToken
        | AuthError::InsufficientScope(_)
        | AuthError::InvalidCursor => sentence_of(&error.to_string()),
        AuthError::Unavailable
        | AuthError::Overloaded { .. }
        | AuthError::DeliveryFailed
        | AuthError::Internal(_) => "The service is unavailable right now. Try again later.".into(),
    }
}

pub(crate) fn password_sentence(rule: &PasswordRule) -> String {
    sentence_of(&rule.message())
}

pub(crate) fn field_label(field: &str) -> &str {
    match field {
        "username" => "Username",
        "email" => "E-mail address",
        "full_name" => "Full name",
        "mothers_favorite_search_engine" => "Mother's favorite search engine",
        other => other,
    }
}

/// An API message (`password must be at least 15 characters long`) as a
/// sentence: a capital first letter and a full stop.
pub(crate) fn sentence_of(message: &str) -> String {
    let message = message.trim();
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_messages_become_sentences() {
        assert_eq!(
            sentence(&AuthError::PasswordRejected(PasswordRule::TooShort {
                min: 15
            })),
            "Password must be at least 15 characters long."
        );
        assert_eq!(sentence_of("done."), "Done.");
        assert_eq!(sentence_of(""), "");
        assert_eq!(
            sentence(&AuthError::InvalidField {
                field: "full_name",
                message: "must be at most 200 characters".into()
            }),
            "Full name must be at most 200 characters."
        );
    }
}

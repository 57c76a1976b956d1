//! The reset link's `token`: the format is the core's, so that every channel
//! (the e-mail, the log, the page that reads it back) agrees on it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::account::{Identifier, User};
use crate::token::ResetToken;

/// The account's own name, by kind: `Any` would read an e-mail-only
/// account's address as a username first, and it may be another account's.
pub(crate) fn exact_identifier(user: &User) -> Identifier {
    match (&user.username, &user.email) {
        (Some(username), _) => Identifier::Username(username.clone()),
        (None, email) => Identifier::Email(email.clone().unwrap_or_default()),
    }
}

/// The `token` of a reset link: the reset token, a dot, then `u` or `e` and
/// the account's username or e-mail in base64url. The account part lets the
/// page check the token without using it up (`Auth::update_password` needs
/// the account); it is no secret, and a changed one only makes the token
/// fail as another account's would.
pub fn reset_link_token(user: &User, token: &ResetToken) -> String {
    let (kind, name) = match exact_identifier(user) {
        Identifier::Username(name) => ('u', name),
        Identifier::Email(name) | Identifier::Any(name) => ('e', name),
    };
    format!(
        "{}.{kind}{}",
        token.expose(),
        URL_SAFE_NO_PAD.encode(name.as_bytes())
    )
}

/// A reset link's token: the reset token and, when the link names it, the
/// account. `None` for anything that is not such a token.
pub fn parse_reset_link_token(text: &str) -> Option<(String, Option<Identifier>)> {
    let (token, account) = match text.split_once('.') {
        Some((token, account)) => (token, Some(account)),
        None => (text, None),
    };
    ResetToken::parse(token)?;
    let identifier = match account {
        None => None,
        Some(account) => {
            let kind = account.chars().next()?;
            let name = URL_SAFE_NO_PAD.decode(account.get(1..)?).ok()?;
            let name = String::from_utf8(name).ok()?;
            Some(match kind {
                'u' => Identifier::Username(name),
                'e' => Identifier::Email(name),
                _ => return None,
            })
        }
    };
    Some((token.to_owned(), identifier))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tokens_carry_the_account() {
        let token = ResetToken::parse("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234").unwrap();
        let user = User {
            id: "x".into(),
            username: None,
            email: Some("o'brien@example.com".into()),
            email_verified: false,
            full_name: None,
            mothers_favorite_search_engine: None,
            created_at: 0,
            disabled_at: None,
        };
        let link = reset_link_token(&user, &token);
        assert!(link
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        let (raw, account) = parse_reset_link_token(&link).unwrap();
        assert_eq!(raw, token.expose());
        assert_eq!(
            account,
            Some(Identifier::Email("o'brien@example.com".into()))
        );
        assert_eq!(
            parse_reset_link_token(token.expose()).unwrap(),
            (token.expose().to_owned(), None)
        );
        for bad in [
            "",
            "short",
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234.x",
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234.u%%",
        ] {
            assert!(parse_reset_link_token(bad).is_none(), "{bad}");
        }
    }
}

//! The password rules (NIST SP 800-63B-4): what a new password must be.

use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

use crate::secret::Password;

/// Longest password accepted, in UTF-8 bytes after NFC.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A rule that a proposed password breaks; each has a stable error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordRule {
    /// The password is empty.
    Empty,
    /// Fewer code points (after NFC) than the configured minimum.
    TooShort {
        /// The configured minimum.
        min: usize,
    },
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    TooLong,
    /// On the bundled list of commonly used passwords.
    TooCommon,
    /// Contains NUL or another control character.
    InvalidCharacters,
    /// Equal to the account's username or e-mail.
    MatchesIdentifier,
    /// Found in a list of passwords from breaches (`--breached-passwords`).
    Breached,
}

impl PasswordRule {
    /// The contract's error code.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordRule::Empty => "password_empty",
            PasswordRule::TooShort { .. } => "password_too_short",
            PasswordRule::TooLong => "password_too_long",
            PasswordRule::TooCommon => "password_too_common",
            PasswordRule::InvalidCharacters => "password_invalid_characters",
            PasswordRule::MatchesIdentifier => "password_matches_identifier",
            PasswordRule::Breached => "password_breached",
        }
    }

    /// A sentence for people.
    pub fn message(&self) -> String {
        match self {
            PasswordRule::Empty => "password must not be empty".into(),
            PasswordRule::TooShort { min } => {
                format!("password must be at least {min} characters long")
            }
            PasswordRule::TooLong => {
                format!("password must be at most {MAX_PASSWORD_BYTES} bytes long")
            }
            PasswordRule::TooCommon => {
                "password is too common; choose one that is harder to guess".into()
            }
            PasswordRule::InvalidCharacters => {
                "password must not contain control characters".into()
            }
            PasswordRule::MatchesIdentifier => {
                "password must not be the same as the username or e-mail".into()
            }
            PasswordRule::Breached => {
                "password appears in a list of passwords leaked from other sites; choose another"
                    .into()
            }
        }
    }
}

/// The NFC form of a password: what is measured, compared and hashed.
pub(crate) fn normalize(password: &Password) -> String {
    password.expose().nfc().collect()
}

/// Judges a new password by every rule; `identifiers` are the account's
/// username and e-mail. Returns the NFC form to hash.
pub(crate) fn check_new_password(
    password: &Password,
    min_length: usize,
    identifiers: &[Option<&str>],
) -> Result<String, PasswordRule> {
    let nfc = normalize(password);
    if nfc.is_empty() {
        return Err(PasswordRule::Empty);
    }
    if nfc.chars().any(char::is_control) {
        return Err(PasswordRule::InvalidCharacters);
    }
    if nfc.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordRule::TooLong);
    }
    if nfc.chars().count() < min_length {
        return Err(PasswordRule::TooShort { min: min_length });
    }
    let folded = nfc.to_lowercase();
    if is_common(&folded) {
        return Err(PasswordRule::TooCommon);
    }
    if identifiers
        .iter()
        .flatten()
        .any(|identifier| identifier.to_lowercase() == folded)
    {
        return Err(PasswordRule::MatchesIdentifier);
    }
    Ok(nfc)
}

/// Whether a (lowercased) password is on the bundled list.
fn is_common(folded: &str) -> bool {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        let mut words: Vec<&'static str> = include_str!("../data/common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        words.sort_unstable();
        words.dedup();
        words
    });
    list.binary_search(&folded).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str, min: usize) -> Result<String, PasswordRule> {
        check_new_password(
            &Password::new(password),
            min,
            &[Some("kvothe"), Some("kvothe@example.com")],
        )
    }

    #[test]
    fn each_rule_has_its_code() {
        assert_eq!(check("", 15).unwrap_err().code(), "password_empty");
        assert_eq!(check("null", 15).unwrap_err().code(), "password_too_short");
        assert_eq!(check("null", 4).unwrap_err().code(), "password_too_common");
        assert_eq!(
            check("Password1", 4).unwrap_err().code(),
            "password_too_common"
        );
        assert_eq!(
            check("a\0bcdefghijklmnopq", 4).unwrap_err().code(),
            "password_invalid_characters"
        );
        assert_eq!(
            check("tab\tinside-the-password", 4).unwrap_err().code(),
            "password_invalid_characters"
        );
        assert_eq!(
            check(&"x".repeat(1025), 15).unwrap_err().code(),
            "password_too_long"
        );
        assert_eq!(
            check("KVOTHE", 4).unwrap_err().code(),
            "password_matches_identifier"
        );
        assert_eq!(
            check("Kvothe@Example.com", 4).unwrap_err().code(),
            "password_matches_identifier"
        );
        assert!(check("correct horse battery staple", 15).is_ok());
    }

    #[test]
    fn length_is_counted_in_code_points_after_nfc() {
        // "é" as e + combining accent is two code points before NFC, one after.
        let decomposed = "e\u{301}".repeat(8);
        assert_eq!(
            check(&decomposed, 9).unwrap_err(),
            PasswordRule::TooShort { min: 9 }
        );
        assert_eq!(check(&decomposed, 8).unwrap(), "\u{e9}".repeat(8));
        // 1024 bytes of two-byte characters is accepted, one more byte is not.
        assert!(check(&"é".repeat(512), 15).is_ok());
        assert_eq!(
            check(&format!("{}a", "é".repeat(512)), 15).unwrap_err(),
            PasswordRule::TooLong
        );
    }
}

#[cfg(test)]
mod proptests {
    //! Property tests of the password rules of docs/contract/2-accounts.md on arbitrary text.

    use super::*;
    use proptest::prelude::*;

    const IDENTIFIERS: [Option<&str>; 2] = [Some("kvothe"), Some("kvothe@example.com")];

    fn verdict(password: &str, min: usize) -> Result<String, PasswordRule> {
        check_new_password(&Password::new(password), min, &IDENTIFIERS)
    }

    /// What the rules say, written from the contract: the first rule broken,
    /// in the order the service checks them, or the NFC text to hash.
    fn expected(password: &str, min: usize) -> Result<String, PasswordRule> {
        let nfc: String = password.nfc().collect();
        let folded = nfc.to_lowercase();
        if nfc.is_empty() {
            Err(PasswordRule::Empty)
        } else if nfc.chars().any(char::is_control) {
            Err(PasswordRule::InvalidCharacters)
        } else if nfc.len() > MAX_PASSWORD_BYTES {
            Err(PasswordRule::TooLong)
        } else if nfc.chars().count() < min {
            Err(PasswordRule::TooShort { min })
        } else if is_common(&folded) {
            Err(PasswordRule::TooCommon)
        } else if IDENTIFIERS.iter().flatten().any(|i| *i == folded) {
            Err(PasswordRule::MatchesIdentifier)
        } else {
            Ok(nfc)
        }
    }

    /// Characters whose NFC and NFD forms differ, control characters and
    /// characters of 1 to 4 UTF-8 bytes.
    fn interesting_char() -> impl Strategy<Value = char> {
        prop_oneof![
            3 => any::<char>(),
            2 => prop::sample::select(vec![
                'a', 'Z', '7', ' ', 'e', 'A', 'é', 'Å', '€', '𝄞', 'ß', 'İ',
                '\u{301}', '\u{30A}', '\u{323}', '\u{212B}', '\u{FB01}', '\u{1100}',
                '\u{1161}', '\u{11A8}', '\u{AC00}', '\u{0}', '\t', '\n', '\u{7F}',
                '\u{85}', '\u{200B}', '\u{FEFF}',
            ]),
        ]
    }

    fn password() -> impl Strategy<Value = String> {
        let common: Vec<&'static str> = include_str!("../data/common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        prop_oneof![
            // Any characters, control characters included.
            prop::collection::vec(interesting_char(), 0..40).prop_map(String::from_iter),
            // Printable text of every script.
            "\\PC{0,40}",
            // Around the 1024-byte limit, with characters NFC shortens.
            prop::collection::vec(
                prop::sample::select(vec!['a', 'é', 'e', '\u{301}', '€', '𝄞', '\u{212B}']),
                240..1100,
            )
            .prop_map(String::from_iter),
            // Common passwords and identifiers, in any case.
            (
                prop_oneof![
                    prop::sample::select(common),
                    Just("kvothe"),
                    Just("kvothe@example.com")
                ],
                any::<u64>()
            )
                .prop_map(|(word, mask)| {
                    word.chars()
                        .enumerate()
                        .map(|(i, c)| {
                            if mask >> (i % 64) & 1 == 1 {
                                c.to_ascii_uppercase()
                            } else {
                                c
                            }
                        })
                        .collect()
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_verdict_follows_the_contract(password in password(), min in 1usize..24) {
            prop_assert_eq!(verdict(&password, min), expected(&password, min));
        }

        #[test]
        fn each_rule_found_is_really_broken(password in password(), min in 1usize..24) {
            let nfc: String = password.nfc().collect();
            match verdict(&password, min) {
                Ok(hashed) => {
                    prop_assert_eq!(&hashed, &nfc);
                    prop_assert!(!hashed.is_empty());
                    prop_assert!(hashed.len() <= MAX_PASSWORD_BYTES);
                    prop_assert!(hashed.chars().count() >= min);
                    prop_assert!(!hashed.chars().any(char::is_control));
                    prop_assert!(!is_common(&hashed.to_lowercase()));
                }
                Err(PasswordRule::Empty) => prop_assert!(password.is_empty()),
                Err(PasswordRule::InvalidCharacters) => {
                    // NFC never adds or removes a control character.
                    prop_assert!(password.chars().any(char::is_control));
                }
                Err(PasswordRule::TooLong) => prop_assert!(nfc.len() > MAX_PASSWORD_BYTES),
                Err(PasswordRule::TooShort { min: said }) => {
                    prop_assert_eq!(said, min);
                    prop_assert!(nfc.chars().count() < min);
                }
                Err(PasswordRule::TooCommon) => prop_assert!(is_common(&nfc.to_lowercase())),
                Err(PasswordRule::MatchesIdentifier) => {
                    let folded = nfc.to_lowercase();
                    prop_assert!(folded == "kvothe" || folded == "kvothe@example.com");
                }
                Err(PasswordRule::Breached) => prop_assert!(false, "no breach list here"),
            }
        }

        #[test]
        fn nfc_and_nfd_forms_get_the_same_verdict(password in password(), min in 1usize..24) {
            let nfc: String = password.nfc().collect();
            let nfd: String = password.nfd().collect();
            let verdict_as_given = verdict(&password, min);
            prop_assert_eq!(&verdict(&nfc, min), &verdict_as_given);
            prop_assert_eq!(&verdict(&nfd, min), &verdict_as_given);
        }

        #[test]
        fn any_text_and_minimum_never_panic(
            password in prop::collection::vec(any::<char>(), 0..300).prop_map(String::from_iter),
            min in any::<usize>(),
            identifier in proptest::option::of(".{0,20}"),
        ) {
            let identifiers = [identifier.as_deref(), None];
            let _ = check_new_password(&Password::new(password), min, &identifiers);
        }
    }
}

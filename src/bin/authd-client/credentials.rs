//! The username and password from standard input, and the header value made of them.

use std::fmt;
use std::io::{self, BufRead, IsTerminal, Write};

use base64::Engine as _;

pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Prompts on standard error and reads the password without echo when
/// standard input is a terminal; otherwise reads two lines, no prompts.
pub(crate) fn read_credentials() -> Result<Credentials, String> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return credentials_from_lines(&mut stdin.lock());
    }
    eprint!("Username: ");
    let _ = io::stderr().flush();
    let username = read_line(&mut stdin.lock())?.ok_or("no username given")?;
    if username.is_empty() {
        return Err("the username is empty".into());
    }
    let config = rpassword::ConfigBuilder::new()
        .output_writer(io::stderr())
        .build();
    let password = match rpassword::prompt_password_with_config("Password: ", config) {
        Ok(password) => password,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err("no password given".into())
        }
        Err(e) => return Err(format!("cannot read the password: {e}")),
    };
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    Ok(Credentials { username, password })
}

/// The username on the first line, the password on the second.
pub(crate) fn credentials_from_lines(input: &mut impl BufRead) -> Result<Credentials, String> {
    let username = read_line(input)?.ok_or(
        "no username on standard input (expected the username, then the password, one line each)",
    )?;
    if username.is_empty() {
        return Err("the username (first line of standard input) is empty".into());
    }
    let password = read_line(input)?
        .ok_or("no password on standard input (expected it on the second line)")?;
    if password.is_empty() {
        return Err("the password (second line of standard input) is empty".into());
    }
    Ok(Credentials { username, password })
}

/// One line without its line ending (`\n` or `\r\n`), nothing else removed;
/// `None` at the end of input. The last line may lack a line ending.
pub(crate) fn read_line(input: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut bytes = Vec::new();
    let read = input
        .read_until(b'\n', &mut bytes)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    if read == 0 {
        return Ok(None);
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "standard input is not UTF-8".into())
}

/// Standard base64 of `{"username": …, "password": …, "machine_id": …}`.
pub(crate) fn header_value(credentials: &Credentials, machine_id: &str) -> String {
    let json = serde_json::json!({
        "username": credentials.username,
        "password": credentials.password,
        "machine_id": machine_id,
    });
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::io::Cursor;

    /// Any machine ID: the header carries it as given.
    const IDENTITY_MACHINE_ID: &str =
        "bd92666b91c8c2f89f4d41f8f866e6f48ab10e5253301c59091668a9eb8b3478";

    #[test]
    fn the_header_decodes_to_exactly_the_three_members() {
        let credentials = Credentials {
            username: "kvothe".into(),
            password: " a \"quoted\" pässword ".into(),
        };
        let value = header_value(&credentials, IDENTITY_MACHINE_ID);
        let json = base64::engine::general_purpose::STANDARD
            .decode(&value)
            .expect("standard base64");
        let json: Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(
            json,
            serde_json::json!({
                "username": "kvothe",
                "password": " a \"quoted\" pässword ",
                "machine_id": IDENTITY_MACHINE_ID,
            })
        );
        assert_eq!(json.as_object().unwrap().len(), 3);
    }

    fn lines(input: &str) -> Result<Credentials, String> {
        credentials_from_lines(&mut Cursor::new(input.as_bytes().to_vec()))
    }

    #[test]
    fn only_the_line_ending_is_removed() {
        let c = lines("kvothe\n pw with spaces \n").unwrap();
        assert_eq!(c.username, "kvothe");
        assert_eq!(c.password, " pw with spaces ");
        let c = lines("kvothe\r\npw\r\n").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("kvothe", "pw"));
        // The last line may lack its line ending; a lone \r is not one.
        let c = lines("kvothe\npw\r").unwrap();
        assert_eq!(c.password, "pw\r");
        let c = lines("kvothe\npw").unwrap();
        assert_eq!(c.password, "pw");
        let c = lines("  kvothe\t\npw \t\nignored\n").unwrap();
        assert_eq!(c.username, "  kvothe\t");
        assert_eq!(c.password, "pw \t");
    }

    #[test]
    fn read_line_stops_at_the_first_line_ending() {
        let mut input = Cursor::new(b"a\r\nb\n\nc".to_vec());
        assert_eq!(read_line(&mut input), Ok(Some("a".into())));
        assert_eq!(read_line(&mut input), Ok(Some("b".into())));
        assert_eq!(read_line(&mut input), Ok(Some("".into())));
        assert_eq!(read_line(&mut input), Ok(Some("c".into())));
        assert_eq!(read_line(&mut input), Ok(None));
    }

    #[test]
    fn missing_or_empty_lines_and_non_utf8_are_errors() {
        for (input, expected) in [
            ("", "no username"),
            ("\n", "username"),
            ("\npw\n", "username"),
            ("kvothe\n", "no password"),
            ("kvothe", "no password"),
            ("kvothe\n\n", "password"),
            ("kvothe\r\n\r\n", "password"),
        ] {
            let error = lines(input).unwrap_err();
            assert!(error.contains(expected), "{input:?}: {error}");
            assert!(!error.contains('\n'), "{input:?}: one line: {error}");
        }
        let error =
            credentials_from_lines(&mut Cursor::new(b"kv\xffothe\npw\n".to_vec())).unwrap_err();
        assert!(error.contains("UTF-8"), "{error}");
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            username: "kvothe".into(),
            password: "secret-password".into(),
        };
        let debug = format!("{c:?}");
        assert!(debug.contains("kvothe"));
        assert!(!debug.contains("secret-password"), "{debug}");
    }
}

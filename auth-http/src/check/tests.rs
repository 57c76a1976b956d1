use super::*;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};

const MACHINE: &str = "0123456789abcdef-machine";

fn encode(json: &str) -> String {
    STANDARD.encode(json)
}

fn valid_json() -> String {
    format!(r#"{{"username": "kvothe", "password": "p@ss w/ord", "machine_id": "{MACHINE}"}}"#)
}

#[test]
fn a_valid_header_in_either_alphabet_with_or_without_padding() {
    let json = valid_json();
    for value in [
        STANDARD.encode(&json),
        STANDARD_NO_PAD.encode(&json),
        URL_SAFE_NO_PAD.encode(&json),
    ] {
        let credentials = parse_credentials(value.as_bytes()).unwrap();
        assert_eq!(credentials.username, "kvothe");
        assert_eq!(credentials.password.expose(), "p@ss w/ord");
        assert_eq!(credentials.machine_id, MACHINE);
    }
    // A value whose standard form has + and / decodes from the URL-safe form too.
    let awkward = format!(r#"{{"username":"a>>>?","password":"???>>>","machine_id":"{MACHINE}"}}"#);
    assert!(STANDARD.encode(&awkward).contains(['+', '/']));
    assert!(parse_credentials(URL_SAFE_NO_PAD.encode(&awkward).as_bytes()).is_ok());
}

#[test]
fn every_malformed_case_says_which() {
    let cases: Vec<(String, Malformed)> = vec![
        (String::new(), Malformed::Empty),
        ("   ".into(), Malformed::Empty),
        ("not base64!".into(), Malformed::NotBase64),
        ("YWJj*".into(), Malformed::NotBase64),
        (STANDARD.encode([0xff, 0xfe, 0x7b]), Malformed::NotJson),
        (encode("{\"username\": "), Malformed::NotJson),
        (encode("plain text"), Malformed::NotJson),
        (encode(r#"["kvothe", "pw", "m"]"#), Malformed::NotAnObject),
        (encode(r#""a string""#), Malformed::NotAnObject),
        (
            encode(&format!(
                r#"{{"password": "pw", "machine_id": "{MACHINE}"}}"#
            )),
            Malformed::MissingMember("username"),
        ),
        (
            encode(&format!(
                r#"{{"username": "k", "machine_id": "{MACHINE}"}}"#
            )),
            Malformed::MissingMember("password"),
        ),
        (
            encode(r#"{"username": "k", "password": "pw"}"#),
            Malformed::MissingMember("machine_id"),
        ),
        (
            encode(&format!(
                r#"{{"username": 7, "password": "pw", "machine_id": "{MACHINE}"}}"#
            )),
            Malformed::NotAString("username"),
        ),
        (
            encode(&format!(
                r#"{{"username": "k", "password": null, "machine_id": "{MACHINE}"}}"#
            )),
            Malformed::NotAString("password"),
        ),
        (
            encode(r#"{"username": "k", "password": "pw", "machine_id": ["x"]}"#),
            Malformed::NotAString("machine_id"),
        ),
        (
            encode(&format!(
                r#"{{"username": "k", "password": "pw", "machine_id": "{MACHINE}", "admin": true}}"#
            )),
            Malformed::UnexpectedMember("admin".into()),
        ),
        (
            encode(r#"{"username": "k", "password": "pw", "machine_id": "short"}"#),
            Malformed::BadMachineId,
        ),
        (
            encode(&format!(
                r#"{{"username": "k", "password": "pw", "machine_id": "{}"}}"#,
                "m".repeat(129)
            )),
            Malformed::BadMachineId,
        ),
        (
            encode(r#"{"username": "k", "password": "pw", "machine_id": "has spaces in it ok?"}"#),
            Malformed::BadMachineId,
        ),
        (
            encode(r#"{"username": "k", "password": "pw", "machine_id": "ünïcödé-machine-id"}"#),
            Malformed::BadMachineId,
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(
            parse_credentials(value.as_bytes()).unwrap_err(),
            expected,
            "{value:?}"
        );
    }
    assert!(parse_credentials(
        encode(&format!(
            r#"{{"username":"k","password":"","machine_id":"{}"}}"#,
            "m".repeat(128)
        ))
        .as_bytes()
    )
    .is_ok());
    assert!(parse_credentials(
        encode(&format!(
            r#"{{"username":"k","password":"","machine_id":"{}"}}"#,
            "m".repeat(16)
        ))
        .as_bytes()
    )
    .is_ok());
}

#[test]
fn a_member_given_twice_is_refused_however_it_is_spelt() {
    for json in [
        format!(
            r#"{{"username": "a", "username": "b", "password": "pw", "machine_id": "{MACHINE}"}}"#
        ),
        format!(
            r#"{{"username": "a", "username": "b", "password": "pw", "machine_id": "{MACHINE}"}}"#
        ),
        format!(
            r#"{{"username": "a", "password": "pw", "password": "pw", "machine_id": "{MACHINE}"}}"#
        ),
        format!(
            r#"{{"username": "a", "password": "pw", "machine_id": "{MACHINE}", "machine_id": "{MACHINE}"}}"#
        ),
    ] {
        for value in [STANDARD.encode(&json), URL_SAFE_NO_PAD.encode(&json)] {
            let error = parse_credentials(value.as_bytes()).unwrap_err();
            assert!(
                matches!(error, Malformed::RepeatedMember(_)),
                "{json}: {error:?}"
            );
            let failure = CheckFailure::from(error).0;
            assert_eq!(
                (failure.status, failure.code),
                (StatusCode::BAD_REQUEST, "malformed_credentials")
            );
        }
    }
    // Another case of a name is another (unexpected) member.
    let json = format!(
        r#"{{"username": "a", "Username": "b", "password": "pw", "machine_id": "{MACHINE}"}}"#
    );
    assert_eq!(
        parse_credentials(encode(&json).as_bytes()),
        Err(Malformed::UnexpectedMember("Username".into()))
    );
}

#[test]
fn a_missing_or_repeated_header() {
    let missing = credentials_of(&HeaderMap::new()).unwrap_err().0;
    assert_eq!(
        (missing.status, missing.code),
        (StatusCode::UNAUTHORIZED, "missing_credentials")
    );
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&encode(&valid_json())).unwrap();
    headers.append("SEEK_CUSTOM_AUTH", value.clone());
    assert!(credentials_of(&headers).is_ok());
    headers.append("seek_custom_auth", value);
    let repeated = credentials_of(&headers).unwrap_err().0;
    assert_eq!(repeated.code, "malformed_credentials");
}

#[test]
fn debug_output_hides_the_password() {
    let credentials = parse_credentials(encode(&valid_json()).as_bytes()).unwrap();
    assert!(!format!("{credentials:?}").contains("p@ss"));
}

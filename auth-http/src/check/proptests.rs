//! Property tests of the `SEEK_CUSTOM_AUTH` parser (docs/contract/5-device-check.md).

use super::*;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use serde_json::{json, Map};

/// Any text, control characters, quotes and backslashes included.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<char>(),
            1 => prop::sample::select(vec!['"', '\\', '\0', '\n', '/', '+', '=', ' ', 'é', '𝄞']),
        ],
        0..max,
    )
    .prop_map(String::from_iter)
}

fn valid_machine_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{16,128}"
}

fn invalid_machine_id() -> impl Strategy<Value = String> {
    prop_oneof![
        // Right characters, wrong length.
        "[A-Za-z0-9._-]{0,15}",
        "[A-Za-z0-9._-]{129,200}",
        // Right length, one wrong character somewhere.
        ("[A-Za-z0-9._-]{8,60}", text(4), "[A-Za-z0-9._-]{8,60}")
            .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        text(140),
    ]
    .prop_filter("a valid machine ID", |m| !auth_core::valid_machine_id(m))
}

/// The header value as a client would make it, in one of the accepted
/// encodings.
fn encode(json: &Value, encoding: usize) -> String {
    let text = json.to_string();
    match encoding {
        0 => STANDARD.encode(text),
        1 => STANDARD_NO_PAD.encode(text),
        2 => URL_SAFE.encode(text),
        _ => URL_SAFE_NO_PAD.encode(text),
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text(20).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((text(8), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn valid_credentials_come_back_unchanged(
        username in text(40),
        password in text(80),
        machine_id in valid_machine_id(),
        encoding in 0usize..4,
    ) {
        let json = json!({
            "username": username,
            "password": password,
            "machine_id": machine_id,
        });
        let parsed = parse_credentials(encode(&json, encoding).as_bytes());
        prop_assert_eq!(
            parsed,
            Ok(DeviceCredentials {
                username,
                password: Password::new(password),
                machine_id,
            })
        );
    }

    #[test]
    fn a_bad_machine_id_is_said_to_be_one(
        username in text(40),
        password in text(80),
        machine_id in invalid_machine_id(),
        encoding in 0usize..4,
    ) {
        let json = json!({
            "username": username,
            "password": password,
            "machine_id": machine_id,
        });
        prop_assert_eq!(
            parse_credentials(encode(&json, encoding).as_bytes()),
            Err(Malformed::BadMachineId)
        );
    }

    #[test]
    fn members_other_than_the_three_are_refused(
        username in text(20),
        password in text(20),
        machine_id in valid_machine_id(),
        extra in prop::collection::vec((text(80), any_json()), 1..4)
            .prop_filter("only the three members", |extra| {
                extra.iter().any(|(k, _)| !MEMBERS.contains(&k.as_str()))
            }),
        encoding in 0usize..4,
    ) {
        let mut object = Map::new();
        for (key, value) in extra {
            object.insert(key, value);
        }
        object.insert("username".into(), username.into());
        object.insert("password".into(), password.into());
        object.insert("machine_id".into(), machine_id.into());
        let first_extra = object
            .keys()
            .find(|k| !MEMBERS.contains(&k.as_str()))
            .map(|k| k.chars().take(64).collect::<String>());
        let parsed = parse_credentials(encode(&Value::Object(object), encoding).as_bytes());
        prop_assert_eq!(parsed, Err(Malformed::UnexpectedMember(first_extra.unwrap())));
    }

    #[test]
    fn arbitrary_bytes_never_panic(value in prop::collection::vec(any::<u8>(), 0..300)) {
        match parse_credentials(&value) {
            Ok(credentials) => {
                prop_assert!(auth_core::valid_machine_id(&credentials.machine_id));
            }
            Err(Malformed::Empty) => {
                prop_assert!(value.iter().all(u8::is_ascii_whitespace));
            }
            Err(_) => {}
        }
    }

    #[test]
    fn arbitrary_base64_never_panics(
        decoded in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            any_json().prop_map(|json| json.to_string().into_bytes()),
        ],
        encoding in 0usize..4,
    ) {
        let value = match encoding {
            0 => STANDARD.encode(&decoded),
            1 => STANDARD_NO_PAD.encode(&decoded),
            2 => URL_SAFE.encode(&decoded),
            _ => URL_SAFE_NO_PAD.encode(&decoded),
        };
        // Once the base64 is right, every verdict is about what it holds.
        match parse_credentials(value.as_bytes()) {
            Err(Malformed::NotBase64) => prop_assert!(false, "valid base64 refused: {value:?}"),
            Err(Malformed::Empty) => prop_assert!(decoded.is_empty()),
            _ => {}
        }
    }
}

//! Property tests of body decoding (docs/contract/3-json-api.md).

use super::*;
use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{Map, Value};
use warp::http::{HeaderValue, StatusCode};

use crate::error::ApiError;

const FORM: &str = "application/x-www-form-urlencoded";

fn parse(content_type: &str, body: &[u8]) -> Result<Body, ApiError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap(),
    );
    Body::parse(&headers, RawBody(Ok(Bytes::copy_from_slice(body))))
}

fn content_type() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        FORM,
        "application/x-www-form-urlencoded; charset=UTF-8",
    ])
}

/// Any text, with the characters a form encodes specially.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<char>(),
            2 => prop::sample::select(vec!['&', '=', '+', '%', ' ', ';', '\0', 'é', '𝄞']),
        ],
        0..24,
    )
    .prop_map(String::from_iter)
}

/// Bytes that look a little like forms and JSON, and some that do not.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..8),
        prop::sample::select(vec![
            "&", "=", "+", "%", "%2", "%FF", "%C3%A9", "{", "}", "[", "]", "\"", ":", ",", "null",
            "\\u0000", "\\ud800", "1e999", "-0",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat()),
    ]
}

proptest! {
    #[test]
    fn any_body_gives_fields_or_a_client_error(content_type in content_type(), body in body()) {
        match parse(content_type, &body) {
            Ok(_) => prop_assert!(
                content_type.to_ascii_lowercase().contains("json") || content_type.contains("form")
            ),
            Err(error) => {
                prop_assert!(error.status.is_client_error(), "{:?}", error);
                prop_assert_eq!(error.code, "invalid_body");
            }
        }
    }

    #[test]
    fn any_content_type_gives_fields_or_a_client_error(
        content_type in "[ -~]{0,60}",
        body in body(),
    ) {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match parse(&content_type, &body) {
            Ok(_) => prop_assert!(essence == "application/json" || essence == FORM),
            Err(error) => {
                prop_assert!(error.status.is_client_error(), "{:?}", error);
                if essence != "application/json" && essence != FORM {
                    prop_assert_eq!(error.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
                }
            }
        }
    }

    #[test]
    fn a_form_decodes_to_the_pairs_it_was_made_of(
        pairs in prop::collection::vec((text(), text()), 0..8).prop_map(|pairs| {
            let mut seen = std::collections::HashSet::new();
            pairs
                .into_iter()
                .filter(|(name, _)| seen.insert(name.clone()))
                .collect::<Vec<_>>()
        }),
    ) {
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        match parse(FORM, body.as_bytes()) {
            Ok(Body(decoded)) => {
                let pairs: Map<String, Value> =
                    pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                prop_assert_eq!(decoded, pairs);
            }
            other => prop_assert!(false, "{body:?} gave {other:?}"),
        }
    }

    #[test]
    fn a_form_that_repeats_a_name_in_any_spelling_is_refused(
        name in text(),
        before in prop::collection::vec((text(), text()), 0..4),
        between in prop::collection::vec((text(), text()), 0..4),
        values in (text(), text()),
        spelling in prop::collection::vec(0u8..3, 0..32),
    ) {
        // The second copy of the name: each byte as it is, percent-encoded
        // or (a space) as `+`, chosen byte by byte.
        let encoded_once = serde_urlencoded::to_string([(&name, &values.0)]).unwrap();
        let respelt: String = name
            .bytes()
            .enumerate()
            .map(|(i, b)| match (spelling.get(i).copied().unwrap_or(0), b) {
                (_, b' ') if i % 2 == 0 => "+".to_owned(),
                (1, _) | (_, b'&' | b'=' | b'+' | b'%' | b' ') => format!("%{b:02X}"),
                (2, _) if !b.is_ascii() => format!("%{b:02x}"),
                _ if b.is_ascii() => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let rest = |pairs: &[(String, String)]| {
            pairs
                .iter()
                .filter(|(n, _)| n != &name)
                .map(|(n, v)| serde_urlencoded::to_string([(n, v)]).unwrap())
                .collect::<Vec<_>>()
        };
        let mut parts = rest(&before);
        parts.push(encoded_once);
        parts.extend(rest(&between));
        parts.push(format!(
            "{respelt}={}",
            serde_urlencoded::to_string([("", &values.1)]).unwrap().trim_start_matches('=')
        ));
        let body = parts.join("&");
        match parse(FORM, body.as_bytes()) {
            Err(error) => prop_assert_eq!(error.code, "invalid_body"),
            Ok(fields) => prop_assert!(false, "{body:?} gave {fields:?}"),
        }
    }

    #[test]
    fn a_json_object_that_repeats_a_name_in_any_spelling_is_refused(
        name in text(),
        escape in prop::collection::vec(any::<bool>(), 0..32),
        depth in 0usize..3,
    ) {
        // The second copy with some characters as \u escapes (pairs of
        // them for characters outside the BMP).
        let respelt: String = name
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if escape.get(i).copied().unwrap_or(false) {
                    let mut units = [0u16; 2];
                    c.encode_utf16(&mut units)
                        .iter()
                        .map(|u| format!("\\u{u:04x}"))
                        .collect()
                } else {
                    let quoted = Value::String(c.to_string()).to_string();
                    quoted[1..quoted.len() - 1].to_owned()
                }
            })
            .collect();
        let mut object = format!(
            "{{{}: 1, \"{respelt}\": 2}}",
            Value::String(name.clone())
        );
        for _ in 0..depth {
            object = format!("{{\"outer\": [{object}]}}");
        }
        match parse("application/json", object.as_bytes()) {
            Err(error) => prop_assert_eq!(error.code, "invalid_body"),
            Ok(fields) => prop_assert!(false, "{object:?} gave {fields:?}"),
        }
    }

    #[test]
    fn a_json_object_decodes_to_its_members(
        members in prop::collection::vec((text(), text()), 0..8),
    ) {
        let object: Map<String, Value> =
            members.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let body = Value::Object(object.clone()).to_string();
        match parse("application/json", body.as_bytes()) {
            Ok(Body(decoded)) => prop_assert_eq!(decoded, object),
            other => prop_assert!(false, "{body:?} gave {other:?}"),
        }
    }
}

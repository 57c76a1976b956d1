//! JSON parsing that refuses ambiguity (docs/contract/3-json-api.md "Ambiguous requests"): an
//! object that names a member twice, at any depth, is an error rather than a
//! value in which the last one silently wins, as `serde_json::Value` does.
//!
//! Member names are compared after JSON decoding, so `"user\u006eame"` and
//! `"username"` are the same member. They are compared exactly otherwise:
//! JSON names are case-sensitive, and `"Username"` is another member (one we
//! do not know, so it is ignored like any unknown member).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a text is not an unambiguous JSON value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StrictJsonError {
    /// An object names one member more than once.
    #[error("the member {0:?} is given more than once")]
    DuplicateMember(String),
    /// Not JSON at all (or nested too deep).
    #[error("{0}")]
    Syntax(serde_json::Error),
}

/// Parses one JSON value from `bytes`, refusing any object, however deep,
/// that gives a member twice.
pub(crate) fn from_slice(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictValue {
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    parsed.map_err(|error| match duplicate.into_inner() {
        Some(name) => StrictJsonError::DuplicateMember(name),
        None => StrictJsonError::Syntax(error),
    })
}

/// Deserializes a `serde_json::Value`, failing on a repeated member name,
/// which it records in `duplicate` so that the caller can tell that failure
/// from a syntax error.
#[derive(Clone, Copy)]
struct StrictValue<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity; `from_f64` is `None` only for those.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                let shown: String = name.chars().take(64).collect();
                let error = de::Error::custom(format_args!("the member {shown:?} is given twice"));
                *self.duplicate.borrow_mut() = Some(shown);
                return Err(error);
            }
            let value = map.next_value_seed(self)?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate(text: &str) -> Option<String> {
        match from_slice(text.as_bytes()) {
            Err(StrictJsonError::DuplicateMember(name)) => Some(name),
            Ok(_) => None,
            Err(other) => panic!("{text}: {other}"),
        }
    }

    #[test]
    fn a_member_given_twice_is_refused_at_any_depth_and_in_any_spelling() {
        assert_eq!(duplicate(r#"{"a": 1, "a": 1}"#).as_deref(), Some("a"));
        assert_eq!(
            duplicate(r#"{"username": "x", "user\u006eame": "y"}"#).as_deref(),
            Some("username")
        );
        assert_eq!(
            duplicate(r#"{"\u0075sername": "x", "username": "y"}"#).as_deref(),
            Some("username")
        );
        assert_eq!(duplicate(r#"{"": 1, "": 2}"#).as_deref(), Some(""));
        assert_eq!(
            duplicate(r#"{"a\/b": 1, "a/b": 2}"#).as_deref(),
            Some("a/b")
        );
        assert_eq!(
            duplicate(r#"{"x": [{"k": 1}, {"k": 2, "k": 3}]}"#).as_deref(),
            Some("k")
        );
        assert_eq!(
            duplicate(r#"{"x": {"y": {"z": null, "z": null}}}"#).as_deref(),
            Some("z")
        );
        // The same name in two different objects is not a repetition.
        assert_eq!(duplicate(r#"[{"k": 1}, {"k": 2}]"#), None);
        // Names are case-sensitive: Username is another (unknown) member.
        assert_eq!(duplicate(r#"{"username": "x", "Username": "y"}"#), None);
    }

    #[test]
    fn values_come_back_as_serde_json_reads_them() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "s\u00e9"], "b": {"c": {}}, "d": 18446744073709551615}"#;
        assert_eq!(
            from_slice(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn syntax_errors_stay_syntax_errors() {
        for text in ["{", "[1,]", "{} {}", "\"\\ud800\"", "1e999x", ""] {
            assert!(
                matches!(from_slice(text.as_bytes()), Err(StrictJsonError::Syntax(_))),
                "{text}"
            );
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            from_slice(deep.as_bytes()),
            Err(StrictJsonError::Syntax(_))
        ));
    }
}

#[cfg(test)]
mod proptests {
    //! The strict parser against serde_json's own: the same value whenever
    //! no object repeats a name, and a refusal only for a repeated name.

    use super::*;
    use proptest::prelude::*;

    /// Bytes that are often JSON, often nearly JSON, with repeated and
    /// escaped names.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"a\"",
            "\"b\"",
            "\"\\u0061\"",
            "\"\\u00e9\"",
            "\"é\"",
            "1",
            "-2.5e3",
            "true",
            "null",
            "\"x\"",
            " ",
            "\"\\ud800\"",
            "1e999",
        ]);
        let name = prop::sample::select(vec!["\"a\"", "\"\\u0061\"", "\"b\"", "\"A\"", "\"\""]);
        let leaf =
            prop::sample::select(vec!["1", "\"x\"", "null", "[]", "{}"]).prop_map(String::from);
        let value = leaf.prop_recursive(3, 24, 4, move |inner| {
            prop::collection::vec((name.clone(), inner), 0..4).prop_map(|members| {
                let members: Vec<String> =
                    members.iter().map(|(n, v)| format!("{n}: {v}")).collect();
                format!("{{{}}}", members.join(", "))
            })
        });
        prop_oneof![
            prop::collection::vec(piece, 0..30).prop_map(|pieces| pieces.concat().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..64),
            value.prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_but_for_repeated_names(bytes in jsonish()) {
            let loose = serde_json::from_slice::<Value>(&bytes);
            match from_slice(&bytes) {
                Ok(value) => prop_assert_eq!(Some(value), loose.ok()),
                Err(StrictJsonError::Syntax(_)) => prop_assert!(loose.is_err()),
                Err(StrictJsonError::DuplicateMember(_)) => prop_assert!(loose.is_ok()),
            }
        }
    }
}

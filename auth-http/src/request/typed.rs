//! A body's members read into a `#[derive(Deserialize)]` struct, with the
//! contract's faults (docs/contract/3-json-api.md "Bad input").
//!
//! Which fault a client is told first is part of the contract (the
//! transcript of `tests/wire/` holds it), so the fields are read in the
//! order the struct declares them, not in the order the body gives them:
//! every declared field is visited, present or not, and the first that is
//! missing (a field that is not an `Option`) or of the wrong type is the one
//! told. Members the struct does not declare are ignored.
//!
//! A rule between fields (a login names a `username` or else an `email`)
//! runs after them all; a field that must be read only after such a rule, or
//! not at all, is a [`Deferred`], whose fault the handler is told when it
//! reads it.

use std::fmt;

use serde::de::{
    self, value::StrDeserializer, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess,
    SeqAccess, Unexpected, Visitor,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Reads `members` into `T` (a struct), as the module says.
pub(super) fn read<T: DeserializeOwned>(members: &Map<String, Value>) -> Result<T, ApiError> {
    T::deserialize(Members(members)).map_err(|fault| match fault {
        Fault::Told { code, message } => ApiError::bad_request(code, message),
        // Only a field's own faults are unnamed, and `DeclaredFields` names them.
        Fault::Missing | Fault::Invalid(_) => {
            ApiError::bad_request("invalid_body", "the body does not fit this route")
        }
    })
}

/// Why a body does not fit its struct.
#[derive(Debug)]
enum Fault {
    /// The field being read is absent (named by [`DeclaredFields`]).
    Missing,
    /// The field being read is of the wrong type: what it must be.
    Invalid(String),
    /// A fault with its field named: the contract's code and sentence.
    Told { code: &'static str, message: String },
}

impl Fault {
    /// The fault with the name of the field it was met in.
    fn in_field(self, name: &str) -> Fault {
        match self {
            Fault::Missing => Fault::Told {
                code: "missing_field",
                message: format!("{name} is required"),
            },
            Fault::Invalid(must) => Fault::Told {
                code: "invalid_field",
                message: format!("{name} {must}"),
            },
            told @ Fault::Told { .. } => told,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Missing => f.write_str("is required"),
            Fault::Invalid(must) => f.write_str(must),
            Fault::Told { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for Fault {}

impl de::Error for Fault {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Fault::Invalid(message.to_string())
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        match unexpected {
            Unexpected::Unit | Unexpected::Option => {
                Fault::Invalid(format!("must be {expected}, not null"))
            }
            _ => Fault::Invalid(format!("must be {expected}")),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Fault::Missing.in_field(field)
    }
}

/// The whole body, as a deserializer of structs.
struct Members<'a>(&'a Map<String, Value>);

impl<'de> Deserializer<'de> for Members<'_> {
    type Error = Fault;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Fault> {
        visitor.visit_map(DeclaredFields {
            members: self.0,
            fields: fields.iter(),
            current: "",
        })
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Fault> {
        Err(Fault::Told {
            code: "invalid_body",
            message: "the body does not fit this route".into(),
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The struct's fields in their declared order, present or not.
struct DeclaredFields<'a> {
    members: &'a Map<String, Value>,
    fields: std::slice::Iter<'static, &'static str>,
    /// The field whose value is read next.
    current: &'static str,
}

impl<'de> MapAccess<'de> for DeclaredFields<'_> {
    type Error = Fault;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Fault> {
        let Some(&name) = self.fields.next() else {
            return Ok(None);
        };
        self.current = name;
        seed.deserialize(StrDeserializer::<Fault>::new(name))
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Fault> {
        let name = self.current;
        seed.deserialize(Member(self.members.get(name)))
            .map_err(|fault| fault.in_field(name))
    }
}

/// One field's value: a member of the body, or none.
struct Member<'a>(Option<&'a Value>);

impl<'de> Deserializer<'de> for Member<'_> {
    type Error = Fault;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fault> {
        match self.0 {
            None => Err(Fault::Missing),
            Some(Value::Null) => visitor.visit_unit(),
            Some(Value::Bool(b)) => visitor.visit_bool(*b),
            Some(Value::String(s)) => visitor.visit_str(s),
            Some(Value::Number(n)) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (None, Some(i), _) => visitor.visit_i64(i),
                (None, None, Some(f)) => visitor.visit_f64(f),
                (None, None, None) => Err(de::Error::invalid_type(
                    Unexpected::Other("a number"),
                    &visitor,
                )),
            },
            Some(Value::Array(items)) => visitor.visit_seq(ArrayItems(items.iter())),
            Some(Value::Object(object)) => visitor.visit_map(ObjectMembers {
                members: object.iter(),
                value: None,
            }),
        }
    }

    /// Absent is `None`; anything given, `null` included, is read as the
    /// inner type, so `null` is told as the wrong type, not taken as absent.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fault> {
        match self.0 {
            None => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// A JSON object inside a field (a WebAuthn credential), for a field type
/// that reads one whole; its members are read as serde_json reads them.
struct ObjectMembers<'a> {
    members: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
}

impl<'de> MapAccess<'de> for ObjectMembers<'_> {
    type Error = Fault;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Fault> {
        let Some((name, value)) = self.members.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(StrDeserializer::<Fault>::new(name))
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Fault> {
        let value = self.value.take().cloned().unwrap_or(Value::Null);
        seed.deserialize(value)
            .map_err(|e| Fault::Invalid(e.to_string()))
    }
}

/// A JSON array inside a field (a client's redirect URIs: the only arrays
/// a body holds are of strings); its items are read as serde_json reads them.
struct ArrayItems<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for ArrayItems<'_> {
    type Error = Fault;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Fault> {
        let Some(item) = self.0.next() else {
            return Ok(None);
        };
        seed.deserialize(item.clone())
            .map(Some)
            .map_err(|_| Fault::Invalid("must be an array of strings".into()))
    }
}

/// A string field whose fault (absent, `null`, another type) is told only
/// when the handler reads it, with [`Deferred::required`] or
/// [`Deferred::optional`]: for a field read after a rule between fields, or
/// not read at all when another field decides.
#[derive(Debug)]
pub(crate) struct Deferred(Option<Result<String, String>>);

impl<'de> Deserialize<'de> for Deferred {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The fault is kept as what the field must be; the name is added
        // when it is told.
        Ok(Deferred(
            match Option::<String>::deserialize(deserializer) {
                Ok(None) => None,
                Ok(Some(text)) => Some(Ok(text)),
                Err(fault) => Some(Err(fault.to_string())),
            },
        ))
    }
}

impl Deferred {
    /// The string, or the field's fault: `missing_field` when absent.
    pub fn required(self, name: &'static str) -> Result<String, ApiError> {
        self.optional(name)?
            .ok_or_else(|| ApiError::bad_request("missing_field", format!("{name} is required")))
    }

    /// The string if given, or the fault of a value of the wrong type.
    pub fn optional(self, name: &'static str) -> Result<Option<String>, ApiError> {
        match self.0 {
            None => Ok(None),
            Some(Ok(text)) => Ok(Some(text)),
            Some(Err(must)) => Err(ApiError::bad_request(
                "invalid_field",
                format!("{name} {must}"),
            )),
        }
    }
}

/// A field that holds a JSON object (a WebAuthn credential), as JSON text:
/// in a JSON body the object itself or its text as a string, in a form its
/// text. Whether the text is the object wanted is for the caller to judge.
#[derive(Debug)]
pub(crate) struct JsonText(pub String);

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JsonTextVisitor;

        impl<'de> Visitor<'de> for JsonTextVisitor {
            type Value = JsonText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string (its JSON text) or an object")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<JsonText, E> {
                Ok(JsonText(text.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JsonText, A::Error> {
                let object = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(JsonText(object.to_string()))
            }
        }

        deserializer.deserialize_any(JsonTextVisitor)
    }
}

/// A password field, read as a string and kept as a [`auth_core::Password`].
pub(crate) fn password<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<auth_core::Password, D::Error> {
    String::deserialize(deserializer).map(auth_core::Password::new)
}

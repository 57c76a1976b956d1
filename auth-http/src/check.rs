//! The device check: `GET /check` (and `POST /check`) with every credential
//! in one `SEEK_CUSTOM_AUTH` header.

use auth_core::{AuthError, MachineOutcome, Password};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use warp::filters::BoxedFilter;
use warp::http::header::{HeaderMap, HeaderValue, ALLOW, RETRY_AFTER};
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use crate::app::{json, App};
use crate::error::ApiError;
use crate::request::{ctx_with_authority, RequestCtx};
use crate::strict_json::{self, StrictJsonError};

/// The header that carries the credentials.
pub const HEADER: &str = "seek_custom_auth";

/// The three members of the header's JSON object. The password is wrapped so
/// that it never reaches a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCredentials {
    /// The username.
    pub username: String,
    /// The password.
    pub password: Password,
    /// The client's machine ID.
    pub machine_id: String,
}

/// Why a `SEEK_CUSTOM_AUTH` value is not usable; each is a 400
/// `malformed_credentials` whose message says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// The header is present but empty.
    #[error("the SEEK_CUSTOM_AUTH header is empty")]
    Empty,
    /// The header appears more than once.
    #[error("the SEEK_CUSTOM_AUTH header is given more than once")]
    Repeated,
    /// Not base64 (standard or URL-safe, padding optional).
    #[error("the SEEK_CUSTOM_AUTH header is not base64")]
    NotBase64,
    /// The decoded bytes are not UTF-8 JSON.
    #[error("the SEEK_CUSTOM_AUTH header is not UTF-8 JSON")]
    NotJson,
    /// The JSON is not an object.
    #[error("the SEEK_CUSTOM_AUTH header must hold a JSON object")]
    NotAnObject,
    /// A required member is missing.
    #[error("the member {0} is missing")]
    MissingMember(&'static str),
    /// A member is not a string.
    #[error("the member {0} must be a string")]
    NotAString(&'static str),
    /// A member given more than once (however its name is spelt in JSON),
    /// at any depth: no reading is picked.
    #[error("the member {0:?} is given more than once")]
    RepeatedMember(String),
    /// A member other than the three.
    #[error("unexpected member {0:?}: only username, password and machine_id are allowed")]
    UnexpectedMember(String),
    /// The machine ID breaks its rules.
    #[error("machine_id must be 16 to 128 characters of A-Z a-z 0-9 - _ .")]
    BadMachineId,
}

const MEMBERS: [&str; 3] = ["username", "password", "machine_id"];

/// Parses the header's value: base64 (either alphabet, padding optional) of
/// a UTF-8 JSON object with exactly the three string members.
pub fn parse_credentials(value: &[u8]) -> Result<DeviceCredentials, Malformed> {
    if value.iter().all(u8::is_ascii_whitespace) {
        return Err(Malformed::Empty);
    }
    let lenient =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let decoded = GeneralPurpose::new(&alphabet::STANDARD, lenient)
        .decode(value)
        .or_else(|_| GeneralPurpose::new(&alphabet::URL_SAFE, lenient).decode(value))
        .map_err(|_| Malformed::NotBase64)?;
    let text = std::str::from_utf8(&decoded).map_err(|_| Malformed::NotJson)?;
    let parsed = strict_json::from_slice(text.as_bytes()).map_err(|error| match error {
        StrictJsonError::DuplicateMember(name) => Malformed::RepeatedMember(name),
        StrictJsonError::Syntax(_) => Malformed::NotJson,
    })?;
    let Value::Object(object) = parsed else {
        return Err(Malformed::NotAnObject);
    };
    if let Some(extra) = object.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(Malformed::UnexpectedMember(
            extra.chars().take(64).collect(),
        ));
    }
    let member = |name: &'static str| match object.get(name) {
        None => Err(Malformed::MissingMember(name)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Malformed::NotAString(name)),
    };
    let credentials = DeviceCredentials {
        username: member("username")?,
        password: Password::new(member("password")?),
        machine_id: member("machine_id")?,
    };
    if !auth_core::valid_machine_id(&credentials.machine_id) {
        return Err(Malformed::BadMachineId);
    }
    Ok(credentials)
}

/// The header's credentials, or why there are none usable.
fn credentials_of(headers: &HeaderMap) -> Result<DeviceCredentials, CheckFailure> {
    let mut values = headers.get_all(HEADER).iter();
    let value = values.next().ok_or_else(|| {
        CheckFailure::new(
            StatusCode::UNAUTHORIZED,
            "missing_credentials",
            "the SEEK_CUSTOM_AUTH header is required",
        )
    })?;
    if values.next().is_some() {
        return Err(Malformed::Repeated.into());
    }
    parse_credentials(value.as_bytes()).map_err(CheckFailure::from)
}

/// GET /check and POST /check
#[utoipa::path(
    method(get, post),
    path = "/check",
    operation_id = "check",
    tag = "Device check",
    summary = "Check a user's credentials from their machine",
    description = "All credentials travel in the `SEEK_CUSTOM_AUTH` header. With the right \
        username and password, a user without a machine is bound to this machine if it is \
        nobody's, for good; afterwards only that machine passes. The machine rules are \
        revealed only to a caller who proved the password. A wrong password counts toward \
        the same per-account throttle as a failed login. `POST` ignores its body.",
    security(("seek_custom_auth" = [])),
    responses(
        (status = 200, description = "The credentials are right and the machine is the user's.",
            body = CheckOk,
            example = json!({"status": "OK", "username": "kvothe", "machine": "known"})),
        (status = 400, response = CheckBadRequest),
        (status = 401, response = CheckUnauthorized),
        (status = 403, response = CheckForbidden),
        (status = 429, response = CheckTooManyRequests),
        (status = 500, response = CheckInternal),
        (status = 503, response = CheckUnavailable),
    ),
)]
pub(crate) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("check")
        .and(warp::get().or(warp::post()).unify())
        .and(warp::method())
        .and(ctx_with_authority())
        .and(app.filter())
        .then(|method: Method, ctx: RequestCtx, app: App| async move {
            match handle_check(method, ctx, app).await {
                Ok(response) => response,
                Err(failure) => failure.into_response(),
            }
        })
        .boxed()
}

async fn handle_check(method: Method, ctx: RequestCtx, app: App) -> Result<Response, CheckFailure> {
    // POST /check binds machines, so it keeps the JSON API's rule on
    // state-changing methods. A browser cannot send SEEK_CUSTOM_AUTH across
    // sites without a CORS preflight we never grant, so this is depth, not
    // the only defence; GET /check, whose Origin browsers send only for
    // CORS requests, is left to that.
    if method == Method::POST {
        app.same_origin(&ctx)?;
    }
    app.rate_limit(&ctx)?;
    let credentials = credentials_of(&ctx.headers)?;
    let check = app
        .auth
        .check_machine(
            &credentials.username,
            &credentials.password,
            &credentials.machine_id,
            &app.client(&ctx),
        )
        .await
        .map_err(CheckFailure::from_auth)?;
    let machine = match check.outcome {
        MachineOutcome::Bound => Machine::Bound,
        MachineOutcome::Known => Machine::Known,
    };
    Ok(json(
        &CheckOk {
            machine,
            status: OkStatus::Ok,
            username: &check.username,
        },
        StatusCode::OK,
    ))
}

/// A successful `/check`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"status": "OK", "username": "kvothe", "machine": "bound"}))]
pub(crate) struct CheckOk<'a> {
    #[schema(inline)]
    machine: Machine,
    #[schema(inline)]
    status: OkStatus,
    username: &'a str,
}

/// Always `OK`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) enum OkStatus {
    #[serde(rename = "OK")]
    Ok,
}

/// `bound`: the machine was just bound to this user; `known`: it is the
/// user's own machine.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Machine {
    Bound,
    Known,
}

/// A failure of `/check`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(
    as = CheckFailure,
    example = json!({
        "status": "FAILED",
        "error": "missing_credentials",
        "message": "the SEEK_CUSTOM_AUTH header is required"
    })
)]
pub(crate) struct CheckFailureBody<'a> {
    /// `missing_credentials`, `malformed_credentials`, `invalid_credentials`,
    /// `machine_mismatch`, `machine_taken`, `throttled`, `rate_limited`,
    /// `unavailable` or `internal`.
    error: &'a str,
    /// For people.
    message: &'a str,
    #[schema(inline)]
    status: FailedStatus,
}

/// Always `FAILED`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) enum FailedStatus {
    #[serde(rename = "FAILED")]
    Failed,
}

crate::error::error_responses! {
    CheckBadRequest: "CheckFailure", false,
        "`malformed_credentials`: the `SEEK_CUSTOM_AUTH` header is empty, repeated, not \
        base64, not a JSON object, misses a member, gives a member twice, has a member that \
        is not a string or one other than the three, or a bad `machine_id`; the message says \
        which.";
    CheckUnauthorized: "CheckFailure", false,
        "`missing_credentials` (no `SEEK_CUSTOM_AUTH` header) or `invalid_credentials` \
        (wrong username or password).";
    CheckForbidden: "CheckFailure", false,
        "The password is right, but `machine_mismatch` (the user is bound to another \
        machine) or `machine_taken` (the machine is bound to another user); or, on `POST`, \
        `cross_origin` (the `Origin` header names another origin than this site's, or \
        `null`; nothing was checked).";
    CheckTooManyRequests: "CheckFailure", true,
        "`throttled` (too many failed attempts for this account) or `rate_limited` (too many \
        requests from this client address).";
    CheckUnavailable: "CheckFailure", false,
        "`unavailable`: the database does not answer; retry later.";
    CheckInternal: "CheckFailure", false,
        "`internal`: a fault on the server's side, never caused by the input.";
}

/// The 405 for a method /check does not serve, in /check's failure shape
/// (docs/contract/5-device-check.md) rather than the JSON API's.
pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    CheckFailure(ApiError::method_not_allowed(allow)).into_response()
}

/// A failed check: `{"status": "FAILED", "error": …, "message": …}`.
#[derive(Debug)]
struct CheckFailure(ApiError);

impl CheckFailure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        CheckFailure(ApiError::new(status, code, message))
    }

    fn from_auth(error: AuthError) -> Self {
        match error {
            AuthError::InvalidField { .. } => Malformed::BadMachineId.into(),
            other => CheckFailure(ApiError::from(other)),
        }
    }

    fn into_response(self) -> Response {
        let body = CheckFailureBody {
            error: self.0.code,
            message: &self.0.message,
            status: FailedStatus::Failed,
        };
        let mut response = json(&body, self.0.status);
        if let Some(seconds) = self.0.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(allow) = self.0.allow {
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

impl From<Malformed> for CheckFailure {
    fn from(reason: Malformed) -> Self {
        CheckFailure::new(
            StatusCode::BAD_REQUEST,
            "malformed_credentials",
            reason.to_string(),
        )
    }
}

impl From<ApiError> for CheckFailure {
    fn from(error: ApiError) -> Self {
        CheckFailure(error)
    }
}

#[cfg(test)]
mod tests {
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
        let awkward =
            format!(r#"{{"username":"a>>>?","password":"???>>>","machine_id":"{MACHINE}"}}"#);
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
                encode(
                    r#"{"username": "k", "password": "pw", "machine_id": "has spaces in it ok?"}"#,
                ),
                Malformed::BadMachineId,
            ),
            (
                encode(
                    r#"{"username": "k", "password": "pw", "machine_id": "ünïcödé-machine-id"}"#,
                ),
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
}

#[cfg(test)]
mod proptests {
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
}

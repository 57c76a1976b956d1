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
mod tests;

#[cfg(test)]
mod proptests;

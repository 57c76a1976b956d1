//! The contract's error shape, the one mapping from `AuthError`, and the one
//! `recover` for rejections.

use std::convert::Infallible;
use std::time::Duration;

use auth_core::{AuthError, IdentifierKind};
use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{
    ContentBuilder, KnownFormat, ObjectBuilder, Ref, RefOr, ResponseBuilder, SchemaFormat, Type,
};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Rejection, Reply};

/// An error answer: `{"error": code, "message": text}` with a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable snake_case code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
    /// Methods for an `Allow` header.
    pub allow: Option<&'static str>,
    /// A `WWW-Authenticate` challenge (the bearer routes' faults, RFC 6750).
    pub www_authenticate: Option<String>,
}

/// Every error body of the JSON API.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error, example = json!({"error": "not_authenticated", "message": "not authenticated"}))]
pub(crate) struct ErrorBody<'a> {
    /// The stable snake_case code.
    #[schema(pattern = "^[a-z]+(_[a-z]+)*$")]
    error: &'a str,
    /// A sentence for people.
    message: &'a str,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            allow: None,
            www_authenticate: None,
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub(crate) fn method_not_allowed(allow: &'static str) -> Self {
        ApiError {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("method not allowed; allowed: {allow}"),
            )
        }
    }

    /// 429 `rate_limited`: too many requests from this client address (the
    /// per-address limit, a concern of this layer, not of auth-core).
    pub(crate) fn rate_limited(retry_after: Duration) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; retry later",
        )
        .with_retry_after(retry_after)
    }

    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(retry_after_secs(wait));
        self
    }

    /// The JSON response.
    pub fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            message: &self.message,
        };
        let mut response =
            warp::reply::with_status(warp::reply::json(&body), self.status).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(challenge) = self.www_authenticate.as_deref() {
            if let Ok(value) = HeaderValue::from_str(challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// Whole seconds, rounded up, never 0.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        use StatusCode as S;
        let status = match &error {
            AuthError::MissingIdentifier
            | AuthError::InvalidField { .. }
            | AuthError::InvalidUsername
            | AuthError::InvalidEmail
            | AuthError::PasswordRejected(_)
            | AuthError::AlreadyRegistered(_) => S::BAD_REQUEST,
            AuthError::InvalidCredentials
            | AuthError::MfaRequired { .. }
            | AuthError::InvalidCode
            | AuthError::EmailUnverified
            | AuthError::InvalidToken => S::UNAUTHORIZED,
            AuthError::InsufficientScope(_) => S::FORBIDDEN,
            AuthError::InvalidCursor => S::BAD_REQUEST,
            AuthError::Throttled { .. } => S::TOO_MANY_REQUESTS,
            AuthError::NotAuthenticated
            | AuthError::UnknownAccount
            | AuthError::InvalidResetToken
            | AuthError::InvalidEmailToken
            | AuthError::MachineMismatch
            | AuthError::MachineTaken => S::FORBIDDEN,
            AuthError::NotFound => S::NOT_FOUND,
            AuthError::OAuth(
                auth_core::OAuthError::InvalidClient | auth_core::OAuthError::InvalidToken,
            ) => S::UNAUTHORIZED,
            AuthError::OAuth(_) => S::BAD_REQUEST,
            AuthError::Unavailable | AuthError::Overloaded { .. } | AuthError::DeliveryFailed => {
                S::SERVICE_UNAVAILABLE
            }
            AuthError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                return ApiError::internal();
            }
        };
        // The Holberton exercise fixes these messages word for word.
        let message = match &error {
            AuthError::PasswordRejected(rule) => rule.message(),
            AuthError::AlreadyRegistered(IdentifierKind::Email) => {
                "email already registered".into()
            }
            AuthError::AlreadyRegistered(IdentifierKind::Username) => {
                "username already registered".into()
            }
            AuthError::NotFound => "no such session".into(),
            AuthError::MfaRequired { .. } => {
                "a second factor is required: send mfa_token and code to /sessions/mfa".into()
            }
            other => other.to_string(),
        };
        let mut api_error = ApiError::new(status, error.code(), message);
        // RFC 6750 §3: the bearer routes' faults carry their challenge.
        api_error.www_authenticate = match &error {
            AuthError::InvalidToken => {
                Some(r#"Bearer realm="authd", error="invalid_token""#.into())
            }
            AuthError::InsufficientScope(scope) => Some(format!(
                r#"Bearer realm="authd", error="insufficient_scope", scope="{scope}""#
            )),
            _ => None,
        };
        match error {
            AuthError::Throttled { retry_after } | AuthError::Overloaded { retry_after } => {
                api_error.with_retry_after(retry_after)
            }
            _ => api_error,
        }
    }
}

/// An error response with a body of the named schema, and `Retry-After`
/// where the status is 429.
pub(crate) fn error_response(
    description: &str,
    schema: &str,
    retry_after: bool,
) -> RefOr<utoipa::openapi::Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(schema)))
            .build(),
    );
    if retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                        .minimum(Some(1)),
                )
                .description(Some(
                    "Whole seconds (rounded up) to wait before the next attempt.",
                ))
                .build(),
        );
    }
    response.build().into()
}

/// Reusable error responses, referenced from the operations as
/// `#/components/responses/NAME`.
macro_rules! error_responses {
    ($($name:ident: $schema:literal, $retry_after:literal, $description:literal;)*) => {$(
        pub(crate) struct $name;

        impl<'r> utoipa::ToResponse<'r> for $name {
            fn response() -> (
                &'r str,
                utoipa::openapi::RefOr<utoipa::openapi::Response>,
            ) {
                (
                    stringify!($name),
                    $crate::error::error_response($description, $schema, $retry_after),
                )
            }
        }
    )*};
}
pub(crate) use error_responses;

error_responses! {
    BadRequest: "Error", false,
        "The request cannot be used: `invalid_body` (not parseable, or a JSON member or \
        form field given twice), `missing_field`, \
        `invalid_field` (wrong type, JSON null, bad characters or length; the message names \
        the field), `invalid_username`, `invalid_email`, a password rule (`password_empty`, \
        `password_too_short`, `password_too_long`, `password_too_common`, \
        `password_invalid_characters`, `password_matches_identifier`, `password_breached`), \
        or `already_registered`.";
    Unauthorized: "Error", false,
        "`invalid_credentials`: the identifier or the password is wrong (one answer whatever \
        was wrong).";
    LoginUnauthorized: "LoginFailure", false,
        "`invalid_credentials`: the identifier or the password is wrong (one answer whatever \
        was wrong); or `mfa_required`: the password is right and the account has a second \
        factor, so no session yet: `mfa_token` and `methods` say how to finish at \
        `POST /sessions/mfa`; or `email_unverified`: the password is right but \
        `--require-verified-email` is on and the account's address is not verified yet \
        (the link sent to it verifies it).";
    CodeUnauthorized: "Error", false,
        "`invalid_code`: the code is wrong or already used, or the `mfa_token` is unknown, \
        used, expired or void since a password change.";
    Forbidden: "Error", false,
        "`not_authenticated`: no live session cookie.";
    CrossOrigin: "Error", false,
        "`cross_origin`: the `Origin` header names another origin than this site's (or \
        `null`); nothing was changed. Requests without `Origin` are not affected.";
    SignedInForbidden: "Error", false,
        "`not_authenticated` (no live session cookie) or `cross_origin` (the `Origin` header \
        names another origin than this site's, or `null`; nothing was changed).";
    NotFound: "Error", false,
        "`not_found`: no such resource.";
    MethodNotAllowed: "Error", false,
        "`method_not_allowed`: the path is known but not with this method; the `Allow` \
        header lists the methods it serves.";
    PayloadTooLarge: "Error", false,
        "`payload_too_large`: the body is larger than 16 KiB.";
    UnsupportedMediaType: "Error", false,
        "`unsupported_media_type`: the body is neither `application/x-www-form-urlencoded` \
        nor `application/json`, or there is no `Content-Type`.";
    TooManyRequests: "Error", true,
        "`throttled` (too many failed logins for this account) or `rate_limited` (too many \
        requests from this client address).";
    Unavailable: "Error", false,
        "`unavailable`: the database (or, for a reset e-mail, the mail server) does not \
        answer; retry later.";
    Internal: "Error", false,
        "`internal`: a fault on the server's side, never caused by the input.";
}

/// Responses that go together, each a reference to one of the reusable
/// responses above, for the `responses(…)` of many operations.
macro_rules! response_groups {
    ($($(#[$doc:meta])* $name:ident: $(($status:literal, $response:ident)),*;)*) => {$(
        $(#[$doc])*
        pub(crate) struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::Response>,
            > {
                [$(($status, stringify!($response))),*]
                    .into_iter()
                    .map(|(status, name)| {
                        (
                            status.to_owned(),
                            utoipa::openapi::Ref::from_response_name(name).into(),
                        )
                    })
                    .collect()
            }
        }
    )*};
}

response_groups! {
    /// What a route that reads a body may answer about it: 400, 413, 415.
    BodyFaults: ("400", BadRequest), ("413", PayloadTooLarge), ("415", UnsupportedMediaType);
    /// What any route that reaches the database may answer: 500, 503.
    ServerFaults: ("500", Internal), ("503", Unavailable);
    /// What an admin route on one account may answer besides its success:
    /// a bad request, a bad token or scope, no such account, the limit, and
    /// the server's faults (docs/contract/11-access-tokens-and-admin-api.md).
    AdminAccountFaults: ("400", AdminBadRequest), ("401", AdminUnauthorized),
        ("403", AdminForbidden), ("404", AdminNotFound), ("429", TooManyRequests),
        ("500", Internal), ("503", Unavailable);
    /// The same for an admin route on a whole list (no 404).
    AdminListFaults: ("400", AdminBadRequest), ("401", AdminUnauthorized),
        ("403", AdminForbidden), ("429", TooManyRequests), ("500", Internal),
        ("503", Unavailable);
}

/// Turns any rejection that got past the routes into the contract's shape.
/// Routes answer their own errors, so this sees only what warp itself rejects.
pub(crate) async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if rejection.is_not_found() {
        ApiError::not_found()
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        )
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "body is larger than 16 KiB",
        )
    } else if rejection
        .find::<warp::reject::UnsupportedMediaType>()
        .is_some()
    {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "unsupported content type",
        )
    } else if rejection.find::<warp::reject::InvalidHeader>().is_some()
        || rejection.find::<warp::reject::MissingHeader>().is_some()
        || rejection.find::<warp::reject::InvalidQuery>().is_some()
    {
        ApiError::bad_request("invalid_body", "malformed request header or query")
    } else {
        tracing::error!(?rejection, "unhandled rejection");
        ApiError::internal()
    };
    Ok(error.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}

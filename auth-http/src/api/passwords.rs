//! The password routes of the JSON API: asking for a reset token, setting a
//! new password with it, and changing the password of a signed-in user.

use super::*;

/// POST /reset_password
#[utoipa::path(
    post,
    path = "/reset_password",
    tag = "JSON API",
    summary = "Ask for a password-reset token",
    description = "Makes a reset token for the account of `email` (or else `username`), voiding \
        any earlier one. With `--reset-delivery response` the token is in the answer; \
        otherwise it goes out of band (the server log, or e-mail) and the answer says \
        `reset token sent`. An unknown account is a 403 `not_found`.",
    request_body(
        description = "The account.",
        content(
            (ResetRequest = "application/x-www-form-urlencoded"),
            (ResetRequest = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "The identifier as given, and the token or `reset token sent`.",
            body = ResetRequested,
            example = json!({"email": "bob@example.com", "message": "reset token sent"})),
        BodyFaults,
        (status = 403, description = "`not_found`: no account has that identifier; or \
            `cross_origin`: the `Origin` header names another origin than this site's (or \
            `null`), and nothing was done.", body = ErrorBody),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(crate) fn request_reset(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("reset_password").and(warp::post()),
        handle_request_reset,
        respond,
    )
}

pub(crate) async fn handle_request_reset(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    app.rate_limit(&ctx)?;
    let request: ResetRequest = body.read(&ctx.headers)?;
    let (email, username) = request.account()?;
    let identifier = reset_identifier(&email, &username)?;
    let client = app.client(&ctx);
    let mut body = ResetRequested {
        email: email.as_deref(),
        message: None,
        reset_token: None,
        username: username.as_deref(),
    };
    // `response` is the classroom exercise's: the answer carries the token.
    // Otherwise auth-core delivers it (log or e-mail), as for the pages.
    let token;
    if app.config.reset_delivery == ResetDelivery::Response {
        (_, token) = app
            .auth
            .get_reset_password_token(&identifier, &client)
            .await?;
        body.reset_token = Some(token.expose());
    } else {
        app.auth.send_password_reset(&identifier, &client).await?;
        body.message = Some(RESET_TOKEN_SENT);
    }
    Ok(json(&body, StatusCode::OK))
}

pub(crate) const RESET_TOKEN_SENT: &str = "reset token sent";

/// `POST /reset_password`: `email` or `username`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "bob@example.com"}))]
pub(crate) struct ResetRequest {
    /// Used when given and not empty.
    #[schema(nullable = false)]
    email: Option<String>,
    /// Used when there is no `email` (and then only: beside an `email` it is
    /// not looked at, so its type does not matter).
    #[schema(value_type = Option<String>, nullable = false)]
    username: Deferred,
}

impl ResetRequest {
    /// The account as given: a non-empty `email`, or else a non-empty
    /// `username`; neither is a 400.
    fn account(self) -> Result<(Option<String>, Option<String>), ApiError> {
        reset_account(self.email, self.username)
    }
}

/// The account a reset names, as given: a non-empty `email`, or else a
/// non-empty `username` (read only then).
fn reset_account(
    email: Option<String>,
    username: Deferred,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let email = email.filter(|email| !email.is_empty());
    let username = match email {
        Some(_) => None,
        None => username
            .optional("username")?
            .filter(|username| !username.is_empty()),
    };
    if email.is_none() && username.is_none() {
        return Err(no_reset_identifier());
    }
    Ok((email, username))
}

/// The account a reset names: `email`, or else `username`.
pub(crate) fn reset_identifier(
    email: &Option<String>,
    username: &Option<String>,
) -> Result<Identifier, ApiError> {
    match (email, username) {
        (Some(email), _) => Ok(Identifier::Email(email.clone())),
        (None, Some(username)) => Ok(Identifier::Username(username.clone())),
        (None, None) => Err(no_reset_identifier()),
    }
}

pub(crate) fn no_reset_identifier() -> ApiError {
    ApiError::bad_request("missing_field", "email or username is required")
}

/// The answer to a reset request: the identifier as given (`email` or
/// `username`), and `reset_token` with `--reset-delivery response`, else
/// `message: "reset token sent"`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "bob@example.com", "message": "reset token sent"}))]
pub(crate) struct ResetRequested<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reset_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    username: Option<&'a str>,
}

/// PUT /reset_password
#[utoipa::path(
    put,
    path = "/reset_password",
    tag = "JSON API",
    summary = "Set a new password with a reset token",
    description = "Sets the password of the account of `email` (or else `username`) if \
        `reset_token` is its live token, and ends every session of the account. A new \
        password that breaks the rules is a 400 and the token stays usable.",
    request_body(
        description = "The account, the token and the new password.",
        content(
            (ResetPassword = "application/x-www-form-urlencoded"),
            (ResetPassword = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "Updated: the identifier as given and `Password updated`.",
            body = AccountMessage,
            example = json!({"email": "bob@example.com", "message": "Password updated"})),
        BodyFaults,
        (status = 403, description = "`invalid_reset_token`: the token is wrong, expired, used or \
            another account's (or `not_found`: no such account; or `cross_origin`: the `Origin` \
            header names another origin than this site's, or `null`, and nothing changed).",
            body = ErrorBody),
        ServerFaults,
    ),
)]
pub(crate) fn reset_password(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("reset_password").and(warp::put()),
        handle_reset_password,
        respond,
    )
}

pub(crate) async fn handle_reset_password(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let reset: ResetPassword = body.read(&ctx.headers)?;
    let (email, username) = reset_account(reset.email, reset.username)?;
    let identifier = reset_identifier(&email, &username)?;
    let reset_token = reset.reset_token.required("reset_token")?;
    let new_password = Password::new(reset.new_password.required("new_password")?);
    app.auth
        .update_password(&identifier, &reset_token, &new_password, &app.client(&ctx))
        .await?;
    Ok(json(
        &AccountMessage {
            email: email.as_deref(),
            message: "Password updated",
            username: username.as_deref(),
        },
        StatusCode::OK,
    ))
}

/// `PUT /reset_password`: `email` (or `username`), `reset_token`, `new_password`,
/// read in that order: the account as a reset request reads it, then the
/// token and the new password.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "email": "bob@example.com",
    "reset_token": "x2b3Jd0Yk0bLr0o7Jm4mP0nq4s8Q9mZ8z1fS2c3D4e5",
    "new_password": "orbital-pancake-lantern-42"
}))]
pub(crate) struct ResetPassword {
    /// Used when given and not empty.
    #[schema(nullable = false)]
    email: Option<String>,
    /// Used when there is no `email`.
    #[schema(value_type = Option<String>, nullable = false)]
    username: Deferred,
    #[schema(value_type = String)]
    reset_token: Deferred,
    /// Judged by the same rules as at registration.
    #[schema(value_type = String)]
    new_password: Deferred,
}

/// POST /password
#[utoipa::path(
    post,
    path = "/password",
    tag = "JSON API",
    summary = "Change the password",
    description = "Checks `current_password` as a login does (the same throttle), sets \
        `new_password`, ends every session of the user and starts a new one.",
    security(("session_cookie" = [])),
    request_body(
        description = "The current password and the new one.",
        content(
            (PasswordChange = "application/x-www-form-urlencoded"),
            (PasswordChange = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "Changed; the new session's cookie is set.", body = Message,
            headers(("Set-Cookie" = String, description = "The new session cookie.")),
            example = json!({"message": "Password changed"})),
        BodyFaults,
        (status = 401, description = "`invalid_credentials`: the current password is wrong.",
            body = ErrorBody),
        (status = 403, response = SignedInForbidden),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(crate) fn change_password(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("password").and(warp::post()),
        handle_change_password,
        respond,
    )
}

pub(crate) async fn handle_change_password(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let token = app.session_token(&ctx)?;
    let change: PasswordChange = body.read(&ctx.headers)?;
    let success = app
        .auth
        .change_password(
            &token,
            &change.current_password,
            &change.new_password,
            &app.client(&ctx),
        )
        .await?;
    let response = json(
        &Message {
            message: "Password changed",
        },
        StatusCode::OK,
    );
    Ok(with_cookie(
        response,
        app.session_cookie(success.token.expose()),
    ))
}

/// `POST /password`: the current password and the new one.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "current_password": "tangerine rocket harbor 7",
    "new_password": "orbital-pancake-lantern-42"
}))]
pub(crate) struct PasswordChange {
    #[serde(deserialize_with = "password")]
    #[schema(value_type = String)]
    current_password: Password,
    /// Judged by the same rules as at registration.
    #[serde(deserialize_with = "password")]
    #[schema(value_type = String)]
    new_password: Password,
}

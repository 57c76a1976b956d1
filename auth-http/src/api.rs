//! The JSON API (the Holberton user authentication service and its additions).

use auth_core::{Identifier, Password, Registration, Session, User};
use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::{json, redirect, respond, with_cookie, App};
use crate::bodies::{rfc3339, AccountMessage};
use crate::config::ResetDelivery;
use crate::error::{
    ApiError, BadRequest, CrossOrigin, ErrorBody, Forbidden, Internal, LoginUnauthorized, NotFound,
    PayloadTooLarge, SignedInForbidden, TooManyRequests, Unavailable, UnsupportedMediaType,
};
use crate::request::{ctx, ctx_with_authority, raw_body, Fields, RawBody, RequestCtx};

/// Every route of the JSON API.
pub(crate) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    index()
        .or(register(app))
        .unify()
        .or(login(app))
        .unify()
        .or(logout(app))
        .unify()
        .or(list_sessions(app))
        .unify()
        .or(end_session(app))
        .unify()
        .or(profile(app))
        .unify()
        .or(request_reset(app))
        .unify()
        .or(reset_password(app))
        .unify()
        .or(change_password(app))
        .unify()
        .boxed()
}

/// GET /
#[utoipa::path(
    get,
    path = "/",
    tag = "JSON API",
    summary = "Welcome",
    description = "`{\"message\": \"Bienvenue\"}`; a browser (`Accept` preferring `text/html` \
        over `application/json`) is sent to `/me` instead.",
    responses(
        (status = 200, description = "The welcome.", body = Message,
            example = json!({"message": "Bienvenue"})),
        (status = 303, description = "A browser: go to the account page.",
            headers(("Location" = String, description = "`/me`"))),
    ),
)]
fn index() -> BoxedFilter<(Response,)> {
    warp::path::end()
        .and(warp::get())
        .and(ctx())
        .map(|ctx: RequestCtx| {
            if ctx.prefers_html() {
                redirect("/me", StatusCode::SEE_OTHER)
            } else {
                json(
                    &Message {
                        message: "Bienvenue",
                    },
                    StatusCode::OK,
                )
            }
        })
        .boxed()
}

/// POST /users
#[utoipa::path(
    post,
    path = "/users",
    tag = "JSON API",
    summary = "Register an account",
    description = "Creates an account with `username` and/or `email` (at least one) and \
        `password`. The answer carries the identifiers as given. A taken username is \
        reported before a taken e-mail.",
    request_body(
        description = "The new account.",
        content(
            (NewUser = "application/x-www-form-urlencoded"),
            (NewUser = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "Created: the identifiers as given and `user created`.",
            body = AccountMessage,
            example = json!({"email": "bob@example.com", "message": "user created"})),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 403, response = CrossOrigin),
        (status = 429, response = TooManyRequests),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
)]
fn register(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("users")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { respond(handle_register(ctx, body, app).await) })
        .boxed()
}

async fn handle_register(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    app.rate_limit(&ctx)?;
    let new_user = NewUser::from_fields(&Fields::parse(&ctx.headers, body)?)?;
    let user = app
        .auth
        .register_user(new_user.into(), &app.client(&ctx))
        .await?;
    Ok(json(
        &AccountMessage::of(&user, "user created"),
        StatusCode::OK,
    ))
}

// The request bodies are read with `Fields` rather than a derived
// `Deserialize`: one reader for both encodings that refuses a member given
// twice and names a field of the wrong type, and the order in which
// `from_fields` reads the fields decides which fault a client is told first
// (tests/wire.rs holds it).

/// `POST /users`: `username` and/or `email` (at least one), `password`,
/// optional profile fields.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"email": "bob@example.com", "password": "tangerine rocket harbor 7"}))]
pub(crate) struct NewUser {
    /// 1-64 characters of `A-Z a-z 0-9 . _ - @ +`; unique, case-insensitively.
    #[schema(nullable = false, pattern = "^[A-Za-z0-9._@+-]{1,64}$")]
    username: Option<String>,
    /// At most 254 characters with one `@`, something on each side, and no
    /// white space or control characters; unique, case-insensitively.
    #[schema(
        nullable = false,
        max_length = 254,
        pattern = "^[^@\\s\\x00-\\x1f\\x7f-\\x9f]+@[^@\\s\\x00-\\x1f\\x7f-\\x9f]+$"
    )]
    email: Option<String>,
    /// At least `--password-min-length` code points after NFC (15 by default), at
    /// most 1024 bytes, no control characters, not a common password, not the
    /// username or e-mail.
    #[schema(value_type = String, min_length = 1, max_length = 1024)]
    password: Password,
    /// At most 200 characters; surrounding spaces are trimmed.
    #[schema(nullable = false, max_length = 200)]
    full_name: Option<String>,
    /// At most 100 characters; surrounding spaces are trimmed.
    #[schema(nullable = false, max_length = 100)]
    mothers_favorite_search_engine: Option<String>,
}

impl NewUser {
    fn from_fields(fields: &Fields) -> Result<Self, ApiError> {
        Ok(NewUser {
            username: fields.optional("username")?,
            email: fields.optional("email")?,
            password: Password::new(fields.required("password")?),
            full_name: fields.optional("full_name")?,
            mothers_favorite_search_engine: fields.optional("mothers_favorite_search_engine")?,
        })
    }
}

impl From<NewUser> for Registration {
    fn from(new_user: NewUser) -> Self {
        Registration {
            username: new_user.username,
            email: new_user.email,
            password: new_user.password,
            full_name: new_user.full_name,
            mothers_favorite_search_engine: new_user.mothers_favorite_search_engine,
        }
    }
}

/// POST /sessions
#[utoipa::path(
    post,
    path = "/sessions",
    tag = "JSON API",
    summary = "Log in",
    description = "Checks `username` (or else `email`) and `password` and starts a session. \
        A session cookie presented with the request is ended, never reused. After five \
        consecutive failures for one account, each further failure doubles a delay during \
        which every attempt gets 429 `throttled`.",
    request_body(
        description = "The credentials.",
        content(
            (Login = "application/x-www-form-urlencoded"),
            (Login = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "Logged in: the identifiers as registered and `logged in`.",
            body = AccountMessage,
            headers(("Set-Cookie" = String, description = "`session_id=TOKEN; Path=/; HttpOnly; \
                Secure; SameSite=Lax; Max-Age=SECONDS`")),
            example = json!({"email": "bob@example.com", "message": "logged in"})),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 401, response = LoginUnauthorized),
        (status = 403, response = CrossOrigin),
        (status = 429, response = TooManyRequests),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
)]
fn login(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("sessions")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { respond(handle_login(ctx, body, app).await) })
        .boxed()
}

async fn handle_login(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    app.rate_limit(&ctx)?;
    let (identifier, password) =
        Login::from_fields(&Fields::parse(&ctx.headers, body)?)?.into_parts()?;
    let presented = ctx.cookie(&app.config.cookie_name);
    let success = match app
        .auth
        .login(
            &identifier,
            &password,
            presented.as_deref(),
            &app.client(&ctx),
        )
        .await
    {
        Err(auth_core::AuthError::MfaRequired { mfa_token, methods }) => {
            return Ok(crate::mfa::mfa_required(&mfa_token, &methods))
        }
        other => other?,
    };
    let response = json(
        &AccountMessage::of(&success.user, "logged in"),
        StatusCode::OK,
    );
    Ok(with_cookie(
        response,
        app.session_cookie(success.token.expose()),
    ))
}

/// `POST /sessions`: `username` or `email`, and `password`.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"email": "bob@example.com", "password": "tangerine rocket harbor 7"}))]
pub(crate) struct Login {
    /// Used when given and not empty.
    #[schema(nullable = false)]
    username: Option<String>,
    /// Used when there is no `username`.
    #[schema(nullable = false)]
    email: Option<String>,
    #[schema(value_type = String)]
    password: Password,
}

impl Login {
    /// Reads the fields in the order of the answers: a missing identifier is
    /// told before anything about the password.
    fn from_fields(fields: &Fields) -> Result<Self, ApiError> {
        let username = fields.optional_nonempty("username")?;
        let email = fields.optional_nonempty("email")?;
        if username.is_none() && email.is_none() {
            return Err(no_login_identifier());
        }
        Ok(Login {
            username,
            email,
            password: Password::new(fields.required("password")?),
        })
    }

    /// The account to log in to (`username` first) and the password.
    fn into_parts(self) -> Result<(Identifier, Password), ApiError> {
        let identifier = match (self.username, self.email) {
            (Some(username), _) => Identifier::Username(username),
            (None, Some(email)) => Identifier::Email(email),
            (None, None) => return Err(no_login_identifier()),
        };
        Ok((identifier, self.password))
    }
}

fn no_login_identifier() -> ApiError {
    ApiError::bad_request("missing_field", "username or email is required")
}

/// DELETE /sessions
#[utoipa::path(
    delete,
    path = "/sessions",
    tag = "JSON API",
    summary = "Log out",
    description = "Ends the session of the cookie, clears the cookie and redirects to `/`.",
    security(("session_cookie" = [])),
    responses(
        (status = 302, description = "Logged out.",
            headers(
                ("Location" = String, description = "`/`"),
                ("Set-Cookie" = String, description = "The cleared session cookie (`Max-Age=0`)."),
            )),
        (status = 403, response = SignedInForbidden),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
)]
fn logout(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("sessions")
        .and(warp::delete())
        .and(ctx_with_authority())
        .and(app.filter())
        .then(|ctx, app| async move { respond(handle_logout(ctx, app).await) })
        .boxed()
}

async fn handle_logout(ctx: RequestCtx, app: App) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let token = app.session_token(&ctx)?;
    app.auth.destroy_session(&token, &app.client(&ctx)).await?;
    Ok(with_cookie(
        redirect("/", StatusCode::FOUND),
        app.cleared_cookie(),
    ))
}

/// GET /sessions
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "JSON API",
    summary = "List the user's sessions",
    description = "Every live session of the signed-in user; `current` marks the one of the cookie.",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The sessions.", body = [SessionView]),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
)]
fn list_sessions(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("sessions")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx, app| async move { respond(handle_list_sessions(ctx, app).await) })
        .boxed()
}

/// One session of the signed-in user; times in RFC 3339 UTC.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SessionView {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_seen_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    /// The `User-Agent` of the login, if it sent one.
    #[schema(required = true)]
    user_agent: Option<String>,
    /// Whether this is the session of the request's cookie.
    current: bool,
}

async fn handle_list_sessions(ctx: RequestCtx, app: App) -> Result<Response, ApiError> {
    let token = app.session_token(&ctx)?;
    let (signed_in, sessions) = app.auth.list_sessions(&token).await?;
    let views: Vec<SessionView> = sessions
        .into_iter()
        .map(|s: Session| SessionView {
            current: s.id == signed_in.session.id,
            created_at: rfc3339(s.created_at),
            last_seen_at: rfc3339(s.last_seen_at),
            expires_at: rfc3339(s.expires_at),
            user_agent: s.user_agent,
            id: s.id,
        })
        .collect();
    Ok(json(&views, StatusCode::OK))
}

/// DELETE /sessions/{id}
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    tag = "JSON API",
    summary = "End one of the user's sessions",
    security(("session_cookie" = [])),
    params(("id" = String, Path, format = "uuid",
        description = "The `id` of a session from `GET /sessions`.")),
    responses(
        (status = 204, description = "The session has ended."),
        (status = 403, response = SignedInForbidden),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
)]
fn end_session(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("sessions" / String)
        // `/sessions/mfa` and `/sessions/passkey` are routes of their own (POST only).
        .and_then(|id: String| async move {
            if id == "mfa" || id == "passkey" {
                Err(warp::reject::not_found())
            } else {
                Ok(id)
            }
        })
        .and(warp::delete())
        .and(ctx_with_authority())
        .and(app.filter())
        .then(|id, ctx, app| async move { respond(handle_end_session(id, ctx, app).await) })
        .boxed()
}

async fn handle_end_session(id: String, ctx: RequestCtx, app: App) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let token = app.session_token(&ctx)?;
    app.auth.end_session(&token, &id, &app.client(&ctx)).await?;
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

/// GET /profile
#[utoipa::path(
    get,
    path = "/profile",
    tag = "JSON API",
    summary = "The signed-in user's profile",
    description = "Exactly the fields the account has set among `username`, `email`, \
        `full_name` and `mothers_favorite_search_engine`.",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The profile.", body = Profile),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
)]
fn profile(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("profile")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx, app| async move { respond(handle_profile(ctx, app).await) })
        .boxed()
}

async fn handle_profile(ctx: RequestCtx, app: App) -> Result<Response, ApiError> {
    let token = app.session_token(&ctx)?;
    let user = app.auth.get_user_from_session_id(&token).await?.user;
    Ok(json(&Profile::of(&user), StatusCode::OK))
}

/// Exactly the fields the account has set.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "bob@example.com"}))]
pub(crate) struct Profile<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    full_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    mothers_favorite_search_engine: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    username: Option<&'a str>,
}

impl<'a> Profile<'a> {
    fn of(user: &'a User) -> Self {
        Profile {
            email: user.email.as_deref(),
            full_name: user.full_name.as_deref(),
            mothers_favorite_search_engine: user.mothers_favorite_search_engine.as_deref(),
            username: user.username.as_deref(),
        }
    }
}

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
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 403, description = "`not_found`: no account has that identifier; or \
            `cross_origin`: the `Origin` header names another origin than this site's (or \
            `null`), and nothing was done.", body = ErrorBody),
        (status = 429, response = TooManyRequests),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
)]
fn request_reset(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("reset_password")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { respond(handle_request_reset(ctx, body, app).await) })
        .boxed()
}

async fn handle_request_reset(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    app.rate_limit(&ctx)?;
    let request = ResetRequest::from_fields(&Fields::parse(&ctx.headers, body)?)?;
    let identifier = request.identifier()?;
    let client = app.client(&ctx);
    let mut body = ResetRequested {
        email: request.email.as_deref(),
        message: None,
        reset_token: None,
        username: request.username.as_deref(),
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

const RESET_TOKEN_SENT: &str = "reset token sent";

/// `POST /reset_password`: `email` or `username`.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"email": "bob@example.com"}))]
pub(crate) struct ResetRequest {
    /// Used when given and not empty.
    #[schema(nullable = false)]
    email: Option<String>,
    /// Used when there is no `email`.
    #[schema(nullable = false)]
    username: Option<String>,
}

impl ResetRequest {
    /// Reads `email`, and `username` only without one: a `username` beside
    /// an `email` is not looked at, so its type does not matter.
    fn from_fields(fields: &Fields) -> Result<Self, ApiError> {
        let email = fields.optional_nonempty("email")?;
        let username = match email {
            Some(_) => None,
            None => fields.optional_nonempty("username")?,
        };
        if email.is_none() && username.is_none() {
            return Err(no_reset_identifier());
        }
        Ok(ResetRequest { email, username })
    }

    /// The account named: `email`, or else `username`.
    fn identifier(&self) -> Result<Identifier, ApiError> {
        reset_identifier(&self.email, &self.username)
    }
}

/// The account a reset names: `email`, or else `username`.
fn reset_identifier(
    email: &Option<String>,
    username: &Option<String>,
) -> Result<Identifier, ApiError> {
    match (email, username) {
        (Some(email), _) => Ok(Identifier::Email(email.clone())),
        (None, Some(username)) => Ok(Identifier::Username(username.clone())),
        (None, None) => Err(no_reset_identifier()),
    }
}

fn no_reset_identifier() -> ApiError {
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
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 403, description = "`invalid_reset_token`: the token is wrong, expired, used or \
            another account's (or `not_found`: no such account; or `cross_origin`: the `Origin` \
            header names another origin than this site's, or `null`, and nothing changed).",
            body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
)]
fn reset_password(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("reset_password")
        .and(warp::put())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { respond(handle_reset_password(ctx, body, app).await) })
        .boxed()
}

async fn handle_reset_password(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let reset = ResetPassword::from_fields(&Fields::parse(&ctx.headers, body)?)?;
    let identifier = reset_identifier(&reset.email, &reset.username)?;
    app.auth
        .update_password(
            &identifier,
            &reset.reset_token,
            &reset.new_password,
            &app.client(&ctx),
        )
        .await?;
    Ok(json(
        &AccountMessage {
            email: reset.email.as_deref(),
            message: "Password updated",
            username: reset.username.as_deref(),
        },
        StatusCode::OK,
    ))
}

/// `PUT /reset_password`: `email` (or `username`), `reset_token`, `new_password`.
#[derive(utoipa::ToSchema)]
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
    #[schema(nullable = false)]
    username: Option<String>,
    reset_token: String,
    /// Judged by the same rules as at registration.
    #[schema(value_type = String)]
    new_password: Password,
}

impl ResetPassword {
    /// Reads the account as a reset request does, then the token and the
    /// new password.
    fn from_fields(fields: &Fields) -> Result<Self, ApiError> {
        let ResetRequest { email, username } = ResetRequest::from_fields(fields)?;
        Ok(ResetPassword {
            email,
            username,
            reset_token: fields.required("reset_token")?,
            new_password: Password::new(fields.required("new_password")?),
        })
    }
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
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 401, description = "`invalid_credentials`: the current password is wrong.",
            body = ErrorBody),
        (status = 403, response = SignedInForbidden),
        (status = 429, response = TooManyRequests),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
)]
fn change_password(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("password")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { respond(handle_change_password(ctx, body, app).await) })
        .boxed()
}

async fn handle_change_password(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let token = app.session_token(&ctx)?;
    let change = PasswordChange::from_fields(&Fields::parse(&ctx.headers, body)?)?;
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
#[derive(utoipa::ToSchema)]
#[schema(example = json!({
    "current_password": "tangerine rocket harbor 7",
    "new_password": "orbital-pancake-lantern-42"
}))]
pub(crate) struct PasswordChange {
    #[schema(value_type = String)]
    current_password: Password,
    /// Judged by the same rules as at registration.
    #[schema(value_type = String)]
    new_password: Password,
}

impl PasswordChange {
    fn from_fields(fields: &Fields) -> Result<Self, ApiError> {
        Ok(PasswordChange {
            current_password: Password::new(fields.required("current_password")?),
            new_password: Password::new(fields.required("new_password")?),
        })
    }
}

/// A body with a message only.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"message": "Bienvenue"}))]
pub(crate) struct Message {
    message: &'static str,
}

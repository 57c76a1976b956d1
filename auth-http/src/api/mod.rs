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
    ApiError, BodyFaults, CrossOrigin, ErrorBody, Forbidden, LoginUnauthorized, NotFound,
    ServerFaults, SignedInForbidden, TooManyRequests,
};
use crate::request::{ctx, ctx_with_authority, password, Deferred, RawBody, RequestCtx};

mod email;
mod passwords;

pub(crate) use email::*;
pub(crate) use passwords::*;

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
        .or(change_email(app))
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
        BodyFaults,
        (status = 403, response = CrossOrigin),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
fn register(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("users").and(warp::post()),
        handle_register,
        respond,
    )
}

async fn handle_register(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    app.rate_limit(&ctx)?;
    let new_user: NewUser = body.read(&ctx.headers)?;
    let user = app
        .auth
        .register_user(new_user.into(), &app.client(&ctx))
        .await?;
    Ok(json(
        &AccountMessage::of(&user, "user created"),
        StatusCode::OK,
    ))
}

/// `POST /users`: `username` and/or `email` (at least one), `password`,
/// optional profile fields.
#[derive(serde::Deserialize, utoipa::ToSchema)]
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
    #[serde(deserialize_with = "password")]
    #[schema(value_type = String, min_length = 1, max_length = 1024)]
    password: Password,
    /// At most 200 characters; surrounding spaces are trimmed.
    #[schema(nullable = false, max_length = 200)]
    full_name: Option<String>,
    /// At most 100 characters; surrounding spaces are trimmed.
    #[schema(nullable = false, max_length = 100)]
    mothers_favorite_search_engine: Option<String>,
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
        (status = 200, description = "Logged in: the identifiers as registered and `logged in`; \
            `password_breached: true` when the password is on the breach list of \
            `--breached-passwords` (the login still succeeds).",
            body = LoggedIn,
            headers(("Set-Cookie" = String, description = "`session_id=TOKEN; Path=/; HttpOnly; \
                Secure; SameSite=Lax; Max-Age=SECONDS`")),
            example = json!({"email": "bob@example.com", "message": "logged in"})),
        BodyFaults,
        (status = 401, response = LoginUnauthorized),
        (status = 403, response = CrossOrigin),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
fn login(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("sessions").and(warp::post()),
        handle_login,
        respond,
    )
}

async fn handle_login(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    app.rate_limit(&ctx)?;
    let (identifier, password) = body.read::<Login>(&ctx.headers)?.into_parts()?;
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
    // docs/contract/10-email.md: a breached password signs in, and says so.
    let breached = app
        .auth
        .email_status(&success.user)
        .await?
        .password_breached;
    let response = json(
        &LoggedIn {
            account: AccountMessage::of(&success.user, "logged in"),
            password_breached: breached.then_some(true),
        },
        StatusCode::OK,
    );
    Ok(with_cookie(
        response,
        app.session_cookie(success.token.expose()),
    ))
}

/// The answer to a login: the identifiers, `logged in`, and
/// `password_breached: true` when the password is in a breach list.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "bob@example.com", "message": "logged in"}))]
pub(crate) struct LoggedIn<'a> {
    #[serde(flatten)]
    account: AccountMessage<'a>,
    /// Present (and `true`) only when the password was found in a breach list.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    password_breached: Option<bool>,
}

/// `POST /sessions`: `username` or `email`, and `password` (read after
/// them: a missing identifier is told before anything about the password).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "bob@example.com", "password": "tangerine rocket harbor 7"}))]
pub(crate) struct Login {
    /// Used when given and not empty.
    #[schema(nullable = false)]
    username: Option<String>,
    /// Used when there is no `username`.
    #[schema(nullable = false)]
    email: Option<String>,
    #[schema(value_type = String)]
    password: Deferred,
}

impl Login {
    /// The account to log in to (`username` first; an empty one counts as
    /// none, as a form sends it) and then the password.
    fn into_parts(self) -> Result<(Identifier, Password), ApiError> {
        let nonempty = |name: Option<String>| name.filter(|name| !name.is_empty());
        let identifier = match (nonempty(self.username), nonempty(self.email)) {
            (Some(username), _) => Identifier::Username(username),
            (None, Some(email)) => Identifier::Email(email),
            (None, None) => return Err(no_login_identifier()),
        };
        Ok((
            identifier,
            Password::new(self.password.required("password")?),
        ))
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
        ServerFaults,
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
        ServerFaults,
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
        ServerFaults,
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
        `full_name` and `mothers_favorite_search_engine`, and `email_verified: true` once the \
        account proved it owns its address (an unverified address has no `email_verified`, so \
        a Holberton account still gets exactly `{\"email\": …}`). With an `Authorization: Bearer` \
        access token of scope `profile`, the token's account (the cookie is then not read).",
    security(("session_cookie" = []), ("access_token" = ["profile"])),
    responses(
        (status = 200, description = "The profile.", body = Profile),
        (status = 400, response = crate::admin::AdminBadRequest),
        (status = 401, response = crate::admin::AdminUnauthorized),
        (status = 403, description = "`not_authenticated` (no live session cookie) or \
            `insufficient_scope` (the access token lacks `profile`).", body = ErrorBody),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
fn profile(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("profile")
        .and(warp::get())
        .and(ctx())
        .and(crate::bearer::raw_query())
        .and(app.filter())
        .then(|ctx, query, app| async move { respond(handle_profile(ctx, query, app).await) })
        .boxed()
}

async fn handle_profile(ctx: RequestCtx, query: String, app: App) -> Result<Response, ApiError> {
    // A bearer token when one is sent (docs/contract/11-access-tokens-and-admin-api.md),
    // else the session cookie.
    let user = match crate::bearer::presented(&ctx, &query)? {
        crate::bearer::Presented::Token(token) => {
            crate::bearer::check(&app, &ctx, &token, auth_core::Scope::Profile)
                .await?
                .user
        }
        crate::bearer::Presented::Absent => {
            let token = app.session_token(&ctx)?;
            app.auth.get_user_from_session_id(&token).await?.user
        }
    };
    let mut profile = Profile::of(&user);
    profile.email_verified = user.email_verified.then_some(true);
    Ok(json(&profile, StatusCode::OK))
}

/// Exactly the fields the account has set.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "bob@example.com"}))]
pub(crate) struct Profile<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    email: Option<&'a str>,
    /// Present (and `true`) only when the address is verified (docs/contract/10-email.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    email_verified: Option<bool>,
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
            email_verified: None,
            full_name: user.full_name.as_deref(),
            mothers_favorite_search_engine: user.mothers_favorite_search_engine.as_deref(),
            username: user.username.as_deref(),
        }
    }
}

/// A body with a message only.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"message": "Bienvenue"}))]
pub(crate) struct Message {
    message: &'static str,
}

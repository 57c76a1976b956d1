//! The JSON API (the Holberton user authentication service and its additions).

use auth_core::{Identifier, Password, Registration, Session, User};
use serde::Serialize;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::{json, redirect, respond, with_cookie, App};
use crate::config::ResetDelivery;
use crate::error::ApiError;
use crate::request::{ctx, raw_body, Fields, RawBody, RequestCtx};

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
fn index() -> BoxedFilter<(Response,)> {
    warp::path::end()
        .and(warp::get())
        .and(ctx())
        .map(|ctx: RequestCtx| {
            if ctx.prefers_html() {
                redirect("/me", StatusCode::SEE_OTHER)
            } else {
                json(
                    &serde_json::json!({ "message": "Bienvenue" }),
                    StatusCode::OK,
                )
            }
        })
        .boxed()
}

/// POST /users
fn register(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("users")
        .and(warp::post())
        .and(ctx())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { respond(handle_register(ctx, body, app).await) })
        .boxed()
}

async fn handle_register(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, ApiError> {
    app.rate_limit(&ctx)?;
    let fields = Fields::parse(&ctx.headers, body)?;
    let registration = Registration {
        username: fields.optional("username")?,
        email: fields.optional("email")?,
        password: Password::new(fields.required("password")?),
        full_name: fields.optional("full_name")?,
        mothers_favorite_search_engine: fields.optional("mothers_favorite_search_engine")?,
    };
    let user = app
        .auth
        .register_user(registration, &app.client(&ctx))
        .await?;
    Ok(json(
        &with_message(identifiers(&user), "user created"),
        StatusCode::OK,
    ))
}

/// POST /sessions
fn login(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("sessions")
        .and(warp::post())
        .and(ctx())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { respond(handle_login(ctx, body, app).await) })
        .boxed()
}

async fn handle_login(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, ApiError> {
    app.rate_limit(&ctx)?;
    let fields = Fields::parse(&ctx.headers, body)?;
    let identifier = match (
        fields.optional_nonempty("username")?,
        fields.optional_nonempty("email")?,
    ) {
        (Some(username), _) => Identifier::Username(username),
        (None, Some(email)) => Identifier::Email(email),
        (None, None) => {
            return Err(ApiError::bad_request(
                "missing_field",
                "username or email is required",
            ))
        }
    };
    let password = Password::new(fields.required("password")?);
    let presented = ctx.cookie(&app.config.cookie_name);
    let success = app
        .auth
        .login(
            &identifier,
            &password,
            presented.as_deref(),
            &app.client(&ctx),
        )
        .await?;
    let response = json(
        &with_message(identifiers(&success.user), "logged in"),
        StatusCode::OK,
    );
    Ok(with_cookie(
        response,
        app.session_cookie(success.token.expose()),
    ))
}

/// DELETE /sessions
fn logout(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("sessions")
        .and(warp::delete())
        .and(ctx())
        .and(app.filter())
        .then(|ctx, app| async move { respond(handle_logout(ctx, app).await) })
        .boxed()
}

async fn handle_logout(ctx: RequestCtx, app: App) -> Result<Response, ApiError> {
    let token = app.session_token(&ctx)?;
    app.auth.destroy_session(&token, &app.client(&ctx)).await?;
    Ok(with_cookie(
        redirect("/", StatusCode::FOUND),
        app.cleared_cookie(),
    ))
}

/// GET /sessions
fn list_sessions(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("sessions")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx, app| async move { respond(handle_list_sessions(ctx, app).await) })
        .boxed()
}

#[derive(Serialize)]
struct SessionView {
    id: String,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    user_agent: Option<String>,
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
fn end_session(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("sessions" / String)
        .and(warp::delete())
        .and(ctx())
        .and(app.filter())
        .then(|id, ctx, app| async move { respond(handle_end_session(id, ctx, app).await) })
        .boxed()
}

async fn handle_end_session(id: String, ctx: RequestCtx, app: App) -> Result<Response, ApiError> {
    let token = app.session_token(&ctx)?;
    app.auth.end_session(&token, &id, &app.client(&ctx)).await?;
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

/// GET /profile
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
    let mut body = identifiers(&user);
    if let Some(name) = user.full_name {
        body.insert("full_name".into(), Value::String(name));
    }
    if let Some(engine) = user.mothers_favorite_search_engine {
        body.insert(
            "mothers_favorite_search_engine".into(),
            Value::String(engine),
        );
    }
    Ok(json(&body, StatusCode::OK))
}

/// POST /reset_password
fn request_reset(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("reset_password")
        .and(warp::post())
        .and(ctx())
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
    app.rate_limit(&ctx)?;
    let fields = Fields::parse(&ctx.headers, body)?;
    let (field, identifier) = reset_identifier(&fields)?;
    let (user, token) = app
        .auth
        .get_reset_password_token(&identifier, &app.client(&ctx))
        .await?;
    let mut body = Map::new();
    body.insert(field.into(), Value::String(identifier.as_str().to_owned()));
    match app.config.reset_delivery {
        ResetDelivery::Response => {
            body.insert(
                "reset_token".into(),
                Value::String(token.expose().to_owned()),
            );
        }
        ResetDelivery::Log => {
            // The one place a token is ever written out: the contract's
            // development delivery, on standard error, outside the log format.
            eprintln!(
                "password reset token for {}: {}",
                user.display_name(),
                token.expose()
            );
            body.insert("message".into(), Value::String("reset token sent".into()));
        }
    }
    Ok(json(&body, StatusCode::OK))
}

/// PUT /reset_password
fn reset_password(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("reset_password")
        .and(warp::put())
        .and(ctx())
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
    let fields = Fields::parse(&ctx.headers, body)?;
    let (field, identifier) = reset_identifier(&fields)?;
    let reset_token = fields.required("reset_token")?;
    let new_password = Password::new(fields.required("new_password")?);
    app.auth
        .update_password(&identifier, &reset_token, &new_password, &app.client(&ctx))
        .await?;
    let mut body = Map::new();
    body.insert(field.into(), Value::String(identifier.as_str().to_owned()));
    Ok(json(
        &with_message(body, "Password updated"),
        StatusCode::OK,
    ))
}

/// POST /password
fn change_password(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("password")
        .and(warp::post())
        .and(ctx())
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
    let token = app.session_token(&ctx)?;
    let fields = Fields::parse(&ctx.headers, body)?;
    let current = Password::new(fields.required("current_password")?);
    let new = Password::new(fields.required("new_password")?);
    let success = app
        .auth
        .change_password(&token, &current, &new, &app.client(&ctx))
        .await?;
    let response = json(
        &serde_json::json!({ "message": "Password changed" }),
        StatusCode::OK,
    );
    Ok(with_cookie(
        response,
        app.session_cookie(success.token.expose()),
    ))
}

/// The account's identifiers as registered: `email`, `username` or both.
fn identifiers(user: &User) -> Map<String, Value> {
    let mut map = Map::new();
    if let Some(email) = &user.email {
        map.insert("email".into(), Value::String(email.clone()));
    }
    if let Some(username) = &user.username {
        map.insert("username".into(), Value::String(username.clone()));
    }
    map
}

fn with_message(mut map: Map<String, Value>, message: &str) -> Map<String, Value> {
    map.insert("message".into(), Value::String(message.into()));
    map
}

/// The account named by a reset request: `email`, or else `username`.
fn reset_identifier(fields: &Fields) -> Result<(&'static str, Identifier), ApiError> {
    if let Some(email) = fields.optional_nonempty("email")? {
        return Ok(("email", Identifier::Email(email)));
    }
    if let Some(username) = fields.optional_nonempty("username")? {
        return Ok(("username", Identifier::Username(username)));
    }
    Err(ApiError::bad_request(
        "missing_field",
        "email or username is required",
    ))
}

/// Unix seconds as RFC 3339 UTC.
pub(crate) fn rfc3339(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

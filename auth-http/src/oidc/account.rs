//! The account's side: RP-initiated logout (`/oauth/logout`) and the
//! applications page (`/me/apps`).

use askama::Template;
use auth_core::{AuthError, LogoutOutcome};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use super::see_other;
use crate::app::{redirect, with_cookie, App};
use crate::csrf::CsrfScope;
use crate::error::ApiError;
use crate::page_kit::{
    checked_form, error_page, flash_cookie, human_time, page_result, render, Guard, NoFields,
    FLASH_COOKIE,
};
use crate::request::{ctx, ctx_with_authority, raw_body, RawBody, RequestCtx};

/// The notice of a revoked application, shown by `GET /me/apps`.
const FLASH_APP_REVOKED: &str = "app_revoked";

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage {}

/// One row of the applications page.
struct AppRow {
    client_id: String,
    name: String,
    scopes: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "apps.html")]
struct AppsPage<'a> {
    csrf_token: &'a str,
    section: &'a str,
    notice: Option<&'a str>,
    apps: Vec<AppRow>,
}

pub(super) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    logout(app)
        .or(apps(app))
        .unify()
        .or(revoke_app(app))
        .unify()
        .boxed()
}

/// GET /oauth/logout
#[utoipa::path(
    get,
    path = "/oauth/logout",
    operation_id = "oauth_logout",
    tag = "OpenID Connect",
    summary = "End the browser's session (RP-initiated logout)",
    description = "Ends the authd session of the cookie, if any, and clears the cookie. With an \
        `id_token_hint` authd signed and a `post_logout_redirect_uri` registered for that \
        token's client, a 303 there (with `state`); otherwise a signed-out page.",
    params(
        ("id_token_hint" = Option<String>, Query, description = "An ID token authd issued."),
        ("post_logout_redirect_uri" = Option<String>, Query, description = "Where to go after, if registered for the token's client."),
        ("state" = Option<String>, Query, description = "Given back on the redirect."),
    ),
    responses(
        (status = 200, description = "The signed-out page.", content_type = "text/html", body = String),
        (status = 303, description = "To the client's registered post-logout URI.",
            headers(("Location" = String, description = "The URI, with `state`."))),
        (status = 500, description = "An error page: a fault on the server's side.", content_type = "text/html", body = String),
        (status = 503, description = "An error page: the database does not answer.", content_type = "text/html", body = String),
    ),
)]
pub(crate) fn logout(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("oauth" / "logout")
        .and(warp::get())
        .and(ctx())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(app.filter())
        .then(|ctx: RequestCtx, query: String, app: App| async move {
            let param = |name: &str| {
                url::form_urlencoded::parse(query.as_bytes())
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.into_owned())
            };
            let session = ctx.cookie(&app.config.cookie_name);
            let outcome = app
                .auth
                .oidc_logout(
                    param("id_token_hint").as_deref(),
                    param("post_logout_redirect_uri").as_deref(),
                    param("state").as_deref(),
                    session.as_deref(),
                    &app.client(&ctx),
                )
                .await;
            let response = match outcome {
                Ok(LogoutOutcome::Redirect(location)) => see_other(&location),
                Ok(LogoutOutcome::SignedOut) => render(&SignedOutPage {}, StatusCode::OK),
                Err(error) => return error_page(ApiError::from(error)),
            };
            with_cookie(response, app.cleared_cookie())
        })
        .boxed()
}

/// GET /me/apps
#[utoipa::path(
    get,
    path = "/me/apps",
    operation_id = "my_apps",
    tag = "OpenID Connect",
    summary = "The applications page",
    description = "The applications the signed-in account allowed (name, scopes, last use), each \
        with a button that revokes it. Without a live session: a 303 to `/login`.",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in.",
            headers(("Location" = String, description = "`/login`"))),
        (status = 500, description = "An error page: a fault on the server's side.", content_type = "text/html", body = String),
        (status = 503, description = "An error page: the database does not answer.", content_type = "text/html", body = String),
    ),
)]
pub(crate) fn apps(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "apps")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            let Some(token) = ctx.cookie(&app.config.cookie_name) else {
                return redirect("/login", StatusCode::SEE_OTHER);
            };
            let signed_in = match app.auth.get_user_from_session_id(&token).await {
                Ok(signed_in) => signed_in,
                Err(AuthError::NotAuthenticated) => {
                    return redirect("/login", StatusCode::SEE_OTHER)
                }
                Err(error) => return error_page(ApiError::from(error)),
            };
            let found = match app.auth.authorized_apps(&token).await {
                Ok(found) => found,
                Err(error) => return error_page(ApiError::from(error)),
            };
            let csrf_token =
                crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
            let flash = ctx.cookie(FLASH_COOKIE);
            let page = AppsPage {
                csrf_token: &csrf_token,
                section: "apps",
                notice: (flash.as_deref() == Some(FLASH_APP_REVOKED)).then_some("Access revoked"),
                apps: found
                    .into_iter()
                    .map(|found| AppRow {
                        client_id: found.client_id,
                        name: found.name,
                        scopes: found.scopes.join(", "),
                        last_used: found.last_used_at.map(human_time).unwrap_or_default(),
                    })
                    .collect(),
            };
            let response = render(&page, StatusCode::OK);
            match flash {
                Some(_) => with_cookie(response, flash_cookie("", 0)),
                None => response,
            }
        })
        .boxed()
}

/// POST /me/apps/{id}/revoke
#[utoipa::path(
    post,
    path = "/me/apps/{id}/revoke",
    operation_id = "revoke_my_app",
    tag = "OpenID Connect",
    summary = "Revoke an application",
    description = "The form of `/me/apps` (its `csrf_token`, from a page of this session): ends \
        the account's tokens for the client and forgets its consent, then back to `/me/apps`. \
        Without a live session: a 303 to `/login`.",
    params(("id" = String, Path, description = "The client id.")),
    security(("session_cookie" = [])),
    request_body(
        description = "The page's CSRF token.",
        content((crate::page_kit::CsrfField = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 303, description = "Revoked (or nothing to revoke): to `/me/apps`; or to `/login`.",
            headers(("Location" = String, description = "`/me/apps` or `/login`"))),
        (status = 400, description = "An error page: the request cannot be used.", content_type = "text/html", body = String),
        (status = 403, description = "An error page: the CSRF token is missing or wrong, or the form came from another site.", content_type = "text/html", body = String),
        (status = 413, description = "An error page: the body is larger than 16 KiB.", content_type = "text/html", body = String),
        (status = 415, description = "An error page: the body is not a form or JSON.", content_type = "text/html", body = String),
        (status = 500, description = "An error page: a fault on the server's side.", content_type = "text/html", body = String),
        (status = 503, description = "An error page: the database does not answer.", content_type = "text/html", body = String),
    ),
)]
pub(crate) fn revoke_app(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "apps" / String / "revoke")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(
            |client_id: String, ctx: RequestCtx, body: RawBody, app: App| async move {
                page_result(handle_revoke_app(client_id, ctx, body, app).await)
            },
        )
        .boxed()
}

async fn handle_revoke_app(
    client_id: String,
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    checked_form::<NoFields>(&ctx, body, &app, Guard::Session).await?;
    let token = ctx.cookie(&app.config.cookie_name).unwrap_or_default();
    match app
        .auth
        .revoke_app(&token, &client_id, &app.client(&ctx))
        .await
    {
        Ok(()) | Err(AuthError::NotFound) => Ok(with_cookie(
            redirect("/me/apps", StatusCode::SEE_OTHER),
            flash_cookie(FLASH_APP_REVOKED, 60),
        )),
        Err(AuthError::NotAuthenticated) => Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

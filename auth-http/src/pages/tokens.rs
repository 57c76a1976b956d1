//! `/me/tokens`: the signed-in user's personal access tokens of scope
//! `profile` (docs/contract/11-access-tokens-and-admin-api.md); a new one is
//! shown once, in the answer to the form that made it.

use askama::Template;
use auth_core::{AccessTokenInfo, AuthError};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use crate::app::{redirect, with_cookie, App};
use crate::csrf::CsrfScope;
use crate::error::ApiError;
use crate::page_kit::{
    checked_form, error_page, flash_cookie, human_time, page_result, render, Guard, NoFields,
    FLASH_COOKIE,
};
use crate::request::{ctx, ctx_with_authority, raw_body, RawBody, RequestCtx};

/// The notice of a revoked token, shown by `GET /me/tokens`.
const FLASH_TOKEN_REVOKED: &str = "token_revoked";

/// One row of the tokens page.
struct TokenRow {
    id: String,
    name: String,
    scopes: String,
    created: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage<'a> {
    csrf_token: &'a str,
    section: &'a str,
    notice: Option<&'a str>,
    new_token: Option<&'a str>,
    tokens: Vec<TokenRow>,
}

/// The routes of `/me/tokens`.
pub(super) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    tokens_page(app)
        .or(add_token(app))
        .unify()
        .or(revoke_token(app))
        .unify()
        .boxed()
}

/// GET /me/tokens
fn tokens_page(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "tokens")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            let flash = ctx.cookie(FLASH_COOKIE);
            let notice = (flash.as_deref() == Some(FLASH_TOKEN_REVOKED)).then_some("Token revoked");
            let response = page_result(show(&ctx, &app, notice, None).await);
            match flash {
                Some(_) => with_cookie(response, flash_cookie("", 0)),
                None => response,
            }
        })
        .boxed()
}

/// The page for the session of `ctx`, with a notice or a new token's secret.
async fn show(
    ctx: &RequestCtx,
    app: &App,
    notice: Option<&str>,
    new_token: Option<&str>,
) -> Result<Response, Response> {
    let token = ctx
        .cookie(&app.config.cookie_name)
        .ok_or_else(|| redirect("/login", StatusCode::SEE_OTHER))?;
    let signed_in = app
        .auth
        .get_user_from_session_id(&token)
        .await
        .map_err(page_error)?;
    let tokens = app
        .auth
        .list_own_access_tokens(&token)
        .await
        .map_err(page_error)?;
    let csrf_token = crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
    let page = TokensPage {
        csrf_token: &csrf_token,
        section: "tokens",
        notice,
        new_token,
        tokens: tokens.iter().map(row).collect(),
    };
    Ok(render(&page, StatusCode::OK))
}

fn row(token: &AccessTokenInfo) -> TokenRow {
    let scopes: Vec<&str> = token.scopes.iter().map(|s| s.as_str()).collect();
    TokenRow {
        id: token.id.clone(),
        name: token.name.clone(),
        scopes: scopes.join(", "),
        created: human_time(token.created_at),
        expires: token
            .expires_at
            .map_or_else(|| "never".to_owned(), human_time),
    }
}

/// A fault as a page: to the login page without a session.
fn page_error(error: AuthError) -> Response {
    match error {
        AuthError::NotAuthenticated => redirect("/login", StatusCode::SEE_OTHER),
        other => error_page(ApiError::from(other)),
    }
}

/// The form of `POST /me/tokens`.
#[derive(serde::Deserialize)]
struct NewTokenForm {
    name: Option<String>,
}

/// POST /me/tokens
fn add_token(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "tokens")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx: RequestCtx, body: RawBody, app: App| async move {
            page_result(handle_add(ctx, body, app).await)
        })
        .boxed()
}

async fn handle_add(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let form: NewTokenForm = checked_form(&ctx, body, &app, Guard::Session).await?;
    let session = ctx.cookie(&app.config.cookie_name).unwrap_or_default();
    let (_, secret) = app
        .auth
        .add_own_access_token(&session, form.name, &app.client(&ctx))
        .await
        .map_err(page_error)?;
    show(&ctx, &app, None, Some(secret.expose())).await
}

/// POST /me/tokens/{id}/revoke
fn revoke_token(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "tokens" / String / "revoke")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(
            |id: String, ctx: RequestCtx, body: RawBody, app: App| async move {
                page_result(handle_revoke(id, ctx, body, app).await)
            },
        )
        .boxed()
}

async fn handle_revoke(
    id: String,
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    checked_form::<NoFields>(&ctx, body, &app, Guard::Session).await?;
    let session = ctx.cookie(&app.config.cookie_name).unwrap_or_default();
    match app
        .auth
        .revoke_own_access_token(&session, &id, &app.client(&ctx))
        .await
    {
        Ok(()) | Err(AuthError::NotFound) => Ok(with_cookie(
            redirect("/me/tokens", StatusCode::SEE_OTHER),
            flash_cookie(FLASH_TOKEN_REVOKED, 60),
        )),
        Err(error) => Err(page_error(error)),
    }
}

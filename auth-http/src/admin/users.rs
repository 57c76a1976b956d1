//! `/admin/users…`: accounts, for an operator's scripts
//! (docs/contract/11-access-tokens-and-admin-api.md).

use auth_core::{Identifier, Password, Registration, Scope};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use super::bodies::{
    AccountPatch, AdminNewUser, AdminUser, AdminUserDetails, NewPassword, Unbound, UserPage,
    UsersQuery,
};
use super::{
    admin_error, authorize, no_content, read_query, AdminBadRequest, AdminForbidden, AdminNotFound,
    AdminUnauthorized,
};
use crate::app::{json, respond, App};
use crate::bearer::raw_query;
use crate::error::{AdminAccountFaults, AdminListFaults, ApiError, ServerFaults, TooManyRequests};
use crate::request::{ctx, raw_body, RawBody, RequestCtx};

/// The routes under `/admin/users`.
pub(super) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    list_users(app)
        .or(create_user(app))
        .unify()
        .or(show_user(app))
        .unify()
        .or(update_user(app))
        .unify()
        .or(delete_user(app))
        .unify()
        .or(set_password(app))
        .unify()
        .or(end_sessions(app))
        .unify()
        .or(unbind_machine(app))
        .unify()
        .or(mfa_reset(app))
        .unify()
        .boxed()
}

/// One request of an admin route: its parts, query string, body and state.
pub(super) struct Call {
    pub(super) ctx: RequestCtx,
    pub(super) query: String,
    pub(super) body: RawBody,
    pub(super) app: App,
}

/// A route at `path` with `method` whose handler gets a [`Call`] and the
/// path's one parameter (a username, a client id).
pub(super) fn user_route<F, Fut>(
    path: impl Filter<Extract = (String,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    method: impl Filter<Extract = (), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    app: &App,
    handler: F,
) -> BoxedFilter<(Response,)>
where
    F: Fn(String, Call) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    path.and(method)
        .and(ctx())
        .and(raw_query())
        .and(raw_body())
        .and(app.filter())
        .then(move |name: String, ctx, query, body, app| {
            let handler = handler.clone();
            async move {
                respond(
                    handler(
                        name,
                        Call {
                            ctx,
                            query,
                            body,
                            app,
                        },
                    )
                    .await,
                )
            }
        })
        .boxed()
}

/// GET /admin/users
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "Admin API",
    summary = "A page of accounts",
    description = "Accounts in a stable order (each account present throughout a paging \
        is listed once, whatever is added or deleted meanwhile). `q` keeps accounts whose \
        username or e-mail contains it, in any case. Pass `next` as `after` for the \
        following page; `next` is absent on the last page.",
    params(UsersQuery),
    security(("access_token" = ["admin:read"])),
    responses(
        (status = 200, description = "A page of accounts.", body = UserPage),
        AdminListFaults,
    ),
)]
pub(super) fn list_users(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("admin" / "users")
        .and(warp::get())
        .and(ctx())
        .and(raw_query())
        .and(app.filter())
        .then(|ctx, query, app| async move { respond(handle_list(ctx, query, app).await) })
        .boxed()
}

async fn handle_list(ctx: RequestCtx, query: String, app: App) -> Result<Response, ApiError> {
    authorize(&app, &ctx, &query, Scope::AdminRead).await?;
    let params: UsersQuery = read_query(&query)?;
    let page = app
        .auth
        .page_users(params.q.as_deref(), params.after.as_deref(), params.limit)
        .await
        .map_err(admin_error)?;
    let body = UserPage {
        users: page.items.iter().map(AdminUser::of).collect(),
        next: page.next,
    };
    Ok(json(&body, StatusCode::OK))
}

/// POST /admin/users
#[utoipa::path(
    post,
    path = "/admin/users",
    tag = "Admin API",
    summary = "Create an account",
    description = "As `POST /users`, by an operator: with `password`, or without one, and \
        then a reset link is sent to the account (by the server's `--reset-delivery`).",
    request_body(content(
        (AdminNewUser = "application/json"),
        (AdminNewUser = "application/x-www-form-urlencoded"),
    )),
    security(("access_token" = ["admin:write"])),
    responses(
        (status = 201, description = "Created.", body = AdminUser),
        (status = 400, response = AdminBadRequest),
        (status = 401, response = AdminUnauthorized),
        (status = 403, response = AdminForbidden),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(super) fn create_user(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("admin" / "users")
        .and(warp::post())
        .and(ctx())
        .and(raw_query())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, query, body, app| async move {
            respond(handle_create(ctx, query, body, app).await)
        })
        .boxed()
}

async fn handle_create(
    ctx: RequestCtx,
    query: String,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    let (_, client) = authorize(&app, &ctx, &query, Scope::AdminWrite).await?;
    let new: AdminNewUser = body.read(&ctx.headers)?;
    let mut registration = Registration {
        username: new.username,
        email: new.email,
        password: Password::new(""),
        full_name: new.full_name,
        mothers_favorite_search_engine: new.mothers_favorite_search_engine,
    };
    let user = match new.password {
        Some(password) => {
            registration.password = Password::new(password);
            app.auth.register_user(registration, &client).await
        }
        None => {
            app.auth
                .register_with_reset_link(registration, &client)
                .await
        }
    }
    .map_err(admin_error)?;
    Ok(json(&AdminUser::of(&user), StatusCode::CREATED))
}

/// GET /admin/users/{username}
#[utoipa::path(
    get,
    path = "/admin/users/{username}",
    tag = "Admin API",
    summary = "One account, with its machine, second factors and access tokens",
    params(("username" = String, Path, description = "A username or e-mail, any case.")),
    security(("access_token" = ["admin:read"])),
    responses(
        (status = 200, description = "The account.", body = AdminUserDetails),
        AdminAccountFaults,
    ),
)]
pub(super) fn show_user(app: &App) -> BoxedFilter<(Response,)> {
    user_route(
        warp::path!("admin" / "users" / String),
        warp::get(),
        app,
        |name, call| async move {
            authorize(&call.app, &call.ctx, &call.query, Scope::AdminRead).await?;
            let details = call
                .app
                .auth
                .account_details(&Identifier::Any(name))
                .await
                .map_err(admin_error)?;
            Ok(json(&AdminUserDetails::of(&details), StatusCode::OK))
        },
    )
}

/// PATCH /admin/users/{username}
#[utoipa::path(
    patch,
    path = "/admin/users/{username}",
    tag = "Admin API",
    summary = "Change an account",
    description = "Changes the named fields only (`null` clears an optional one). \
        `disabled: true` ends the account's sessions, OIDC grants and access tokens, and \
        no route signs it in until `disabled: false`. A member this route does not name is \
        400 `unknown_field`; an empty body is 400 `invalid_body`.",
    params(("username" = String, Path, description = "A username or e-mail, any case.")),
    request_body(content(
        (AccountPatch = "application/json"),
        (AccountPatch = "application/x-www-form-urlencoded"),
    )),
    security(("access_token" = ["admin:write"])),
    responses(
        (status = 200, description = "The account as changed.", body = AdminUser),
        (status = 400, response = AdminBadRequest),
        (status = 401, response = AdminUnauthorized),
        (status = 403, response = AdminForbidden),
        (status = 404, response = AdminNotFound),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(super) fn update_user(app: &App) -> BoxedFilter<(Response,)> {
    user_route(
        warp::path!("admin" / "users" / String),
        warp::patch(),
        app,
        |name, call| async move {
            let (_, client) =
                authorize(&call.app, &call.ctx, &call.query, Scope::AdminWrite).await?;
            let patch = AccountPatch::read(&call.ctx, call.body)?;
            let user = call
                .app
                .auth
                .update_account(&Identifier::Any(name), patch.into(), &client)
                .await
                .map_err(admin_error)?;
            Ok(json(&AdminUser::of(&user), StatusCode::OK))
        },
    )
}

/// DELETE /admin/users/{username}
#[utoipa::path(
    delete,
    path = "/admin/users/{username}",
    tag = "Admin API",
    summary = "Delete an account",
    description = "With its sessions, tokens, machine and second factors.",
    params(("username" = String, Path, description = "A username or e-mail, any case.")),
    security(("access_token" = ["admin:write"])),
    responses(
        (status = 204, description = "Deleted."),
        AdminAccountFaults,
    ),
)]
pub(super) fn delete_user(app: &App) -> BoxedFilter<(Response,)> {
    user_route(
        warp::path!("admin" / "users" / String),
        warp::delete(),
        app,
        |name, call| async move {
            let (_, client) =
                authorize(&call.app, &call.ctx, &call.query, Scope::AdminWrite).await?;
            call.app
                .auth
                .delete_user(&Identifier::Any(name), &client)
                .await
                .map_err(admin_error)?;
            Ok(no_content())
        },
    )
}

/// POST /admin/users/{username}/password
#[utoipa::path(
    post,
    path = "/admin/users/{username}/password",
    tag = "Admin API",
    summary = "Set an account's password",
    description = "The password rules apply; every session of the account ends.",
    params(("username" = String, Path, description = "A username or e-mail, any case.")),
    request_body(content(
        (NewPassword = "application/json"),
        (NewPassword = "application/x-www-form-urlencoded"),
    )),
    security(("access_token" = ["admin:write"])),
    responses(
        (status = 204, description = "Set."),
        (status = 400, response = AdminBadRequest),
        (status = 401, response = AdminUnauthorized),
        (status = 403, response = AdminForbidden),
        (status = 404, response = AdminNotFound),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(super) fn set_password(app: &App) -> BoxedFilter<(Response,)> {
    user_route(
        warp::path!("admin" / "users" / String / "password"),
        warp::post(),
        app,
        |name, call| async move {
            let (_, client) =
                authorize(&call.app, &call.ctx, &call.query, Scope::AdminWrite).await?;
            let body: NewPassword = call.body.read(&call.ctx.headers)?;
            call.app
                .auth
                .set_password(&Identifier::Any(name), &body.password, &client)
                .await
                .map_err(admin_error)?;
            Ok(no_content())
        },
    )
}

/// A path whose last segment is fixed, under `/admin/users/{username}`.
macro_rules! user_action {
    ($(#[$doc:meta])* $name:ident, $method:ident, $segment:literal, $call:expr) => {
        $(#[$doc])*
        pub(super) fn $name(app: &App) -> BoxedFilter<(Response,)> {
            user_route(
                warp::path!("admin" / "users" / String / $segment),
                warp::$method(),
                app,
                |name, call| async move {
                    let (_, client) =
                        authorize(&call.app, &call.ctx, &call.query, Scope::AdminWrite).await?;
                    let auth = call.app.auth.clone();
                    #[allow(clippy::redundant_closure_call)]
                    ($call)(auth, Identifier::Any(name), client).await
                },
            )
        }
    };
}

user_action!(
    /// DELETE /admin/users/{username}/sessions
    #[utoipa::path(
        delete,
        path = "/admin/users/{username}/sessions",
        tag = "Admin API",
        summary = "End every session of an account",
        params(("username" = String, Path, description = "A username or e-mail, any case.")),
        security(("access_token" = ["admin:write"])),
        responses(
            (status = 204, description = "Every session has ended."),
            AdminAccountFaults,
        ),
    )]
    end_sessions,
    delete,
    "sessions",
    |auth: auth_core::Auth, id: Identifier, client| async move {
        auth.end_sessions_of(&id, &client).await.map_err(admin_error)?;
        Ok::<_, ApiError>(no_content())
    }
);

user_action!(
    /// POST /admin/users/{username}/unbind-machine
    #[utoipa::path(
        post,
        path = "/admin/users/{username}/unbind-machine",
        tag = "Admin API",
        summary = "Free an account's machine",
        description = "The account may then bind a new machine at `/check`.",
        params(("username" = String, Path, description = "A username or e-mail, any case.")),
        security(("access_token" = ["admin:write"])),
        responses(
            (status = 200, description = "Whether a machine was bound.", body = Unbound),
            AdminAccountFaults,
        ),
    )]
    unbind_machine,
    post,
    "unbind-machine",
    |auth: auth_core::Auth, id: Identifier, client| async move {
        let unbound = auth.unbind_machine(&id, &client).await.map_err(admin_error)?;
        Ok::<_, ApiError>(json(&Unbound { unbound }, StatusCode::OK))
    }
);

user_action!(
    /// POST /admin/users/{username}/mfa-reset
    #[utoipa::path(
        post,
        path = "/admin/users/{username}/mfa-reset",
        tag = "Admin API",
        summary = "Remove every second factor of an account",
        description = "For a lost phone: the authenticator app, recovery codes and passkeys \
            go, and every session, OIDC grant and access token of the account ends.",
        params(("username" = String, Path, description = "A username or e-mail, any case.")),
        security(("access_token" = ["admin:write"])),
        responses(
            (status = 204, description = "Done."),
            AdminAccountFaults,
        ),
    )]
    mfa_reset,
    post,
    "mfa-reset",
    |auth: auth_core::Auth, id: Identifier, client| async move {
        auth.mfa_reset(&id, &client).await.map_err(admin_error)?;
        Ok::<_, ApiError>(no_content())
    }
);

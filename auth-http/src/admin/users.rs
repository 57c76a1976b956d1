//! `/admin/users…`: accounts, for an operator's scripts
//! (docs/contract/11-access-tokens-and-admin-api.md).

use auth_core::{
    AccessTokenInfo, AccountChanges, AccountDetails, Identifier, Password, Registration, Scope,
    User,
};
use serde::{Deserialize, Serialize};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use super::{
    admin_error, authorize, no_content, read_query, AdminBadRequest, AdminForbidden, AdminNotFound,
    AdminUnauthorized,
};
use crate::app::{json, respond, App};
use crate::bearer::raw_query;
use crate::bodies::rfc3339;
use crate::error::{ApiError, ServerFaults, TooManyRequests};
use crate::request::{ctx, raw_body, Body, RawBody, RequestCtx};

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
struct Call {
    ctx: RequestCtx,
    query: String,
    body: RawBody,
    app: App,
}

/// A route at `path` with `method` whose handler gets a [`Call`] and the
/// path's username.
fn user_route<F, Fut>(
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
        (status = 400, response = AdminBadRequest),
        (status = 401, response = AdminUnauthorized),
        (status = 403, response = AdminForbidden),
        (status = 429, response = TooManyRequests),
        ServerFaults,
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
        (status = 400, response = AdminBadRequest),
        (status = 401, response = AdminUnauthorized),
        (status = 403, response = AdminForbidden),
        (status = 404, response = AdminNotFound),
        (status = 429, response = TooManyRequests),
        ServerFaults,
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
        (status = 400, response = AdminBadRequest),
        (status = 401, response = AdminUnauthorized),
        (status = 403, response = AdminForbidden),
        (status = 404, response = AdminNotFound),
        (status = 429, response = TooManyRequests),
        ServerFaults,
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
            (status = 400, response = AdminBadRequest),
            (status = 401, response = AdminUnauthorized),
            (status = 403, response = AdminForbidden),
            (status = 404, response = AdminNotFound),
            (status = 429, response = TooManyRequests),
            ServerFaults,
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
            (status = 400, response = AdminBadRequest),
            (status = 401, response = AdminUnauthorized),
            (status = 403, response = AdminForbidden),
            (status = 404, response = AdminNotFound),
            (status = 429, response = TooManyRequests),
            ServerFaults,
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
            (status = 400, response = AdminBadRequest),
            (status = 401, response = AdminUnauthorized),
            (status = 403, response = AdminForbidden),
            (status = 404, response = AdminNotFound),
            (status = 429, response = TooManyRequests),
            ServerFaults,
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

/// `GET /admin/users?q=&after=&limit=`; other parameters are ignored.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsersQuery {
    /// A part of a username or e-mail, any case.
    q: Option<String>,
    /// The `next` of the previous page.
    after: Option<String>,
    /// Rows per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// Whether the account had a machine.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Unbound {
    unbound: bool,
}

/// `POST /admin/users`: as `POST /users`, `password` optional.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"username": "bob", "email": "bob@example.com"}))]
pub(crate) struct AdminNewUser {
    /// 1-64 characters of `A-Z a-z 0-9 . _ - @ +`.
    #[schema(nullable = false, pattern = "^[A-Za-z0-9._@+-]{1,64}$")]
    username: Option<String>,
    /// An e-mail address.
    #[schema(nullable = false, max_length = 254)]
    email: Option<String>,
    /// The password (the rules of `POST /users`); without it a reset link is sent.
    #[schema(nullable = false, min_length = 1, max_length = 1024)]
    password: Option<String>,
    /// At most 200 characters.
    #[schema(nullable = false, max_length = 200)]
    full_name: Option<String>,
    /// At most 100 characters.
    #[schema(nullable = false, max_length = 100)]
    mothers_favorite_search_engine: Option<String>,
}

/// `POST /admin/users/{username}/password`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewPassword {
    /// The new password.
    #[serde(deserialize_with = "crate::request::password")]
    #[schema(value_type = String, min_length = 1, max_length = 1024)]
    password: Password,
}

/// `PATCH /admin/users/{username}`: only these members; `null` clears a text.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"disabled": true}))]
pub(crate) struct AccountPatch {
    /// A new e-mail address, or `null` to remove it.
    #[serde(default, deserialize_with = "some_value")]
    #[schema(value_type = Option<String>, max_length = 254)]
    email: Option<Option<String>>,
    /// A new full name, or `null`.
    #[serde(default, deserialize_with = "some_value")]
    #[schema(value_type = Option<String>, max_length = 200)]
    full_name: Option<Option<String>>,
    /// A new search engine, or `null`.
    #[serde(default, deserialize_with = "some_value")]
    #[schema(value_type = Option<String>, max_length = 100)]
    mothers_favorite_search_engine: Option<Option<String>>,
    /// Disable (`true`) or enable (`false`) the account.
    #[schema(nullable = false)]
    disabled: Option<bool>,
}

/// A member that is present: `Some(None)` for `null`.
fn some_value<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

impl AccountPatch {
    /// The body, with every member named by this route: an unknown member
    /// is 400 `unknown_field` (no mass assignment), an empty body 400
    /// `invalid_body`.
    fn read(ctx: &RequestCtx, body: RawBody) -> Result<AccountPatch, ApiError> {
        let body = Body::parse(&ctx.headers, body)?;
        let members = body.members();
        if members.is_empty() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "name at least one of email, full_name, mothers_favorite_search_engine, disabled",
            ));
        }
        if let Some(unknown) = members
            .keys()
            .find(|name| !PATCH_FIELDS.contains(&name.as_str()))
        {
            return Err(ApiError::bad_request(
                "unknown_field",
                format!("{unknown} is not a field this route changes"),
            ));
        }
        let mut members = members.clone();
        for (name, value) in members.iter_mut() {
            if name == "disabled" {
                // A form sends `true` or `false` as text.
                if let Some(flag) = value.as_str().and_then(|t| t.parse::<bool>().ok()) {
                    *value = serde_json::Value::Bool(flag);
                }
                if !value.is_boolean() {
                    return Err(ApiError::bad_request(
                        "invalid_field",
                        "disabled must be a boolean",
                    ));
                }
            } else if !(value.is_string() || value.is_null()) {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    format!("{name} must be a string or null"),
                ));
            }
        }
        serde_json::from_value(serde_json::Value::Object(members)).map_err(|error| {
            ApiError::bad_request("invalid_field", format!("the body does not fit: {error}"))
        })
    }
}

/// The members `PATCH /admin/users/{username}` names.
const PATCH_FIELDS: [&str; 4] = [
    "email",
    "full_name",
    "mothers_favorite_search_engine",
    "disabled",
];

impl From<AccountPatch> for AccountChanges {
    fn from(patch: AccountPatch) -> Self {
        AccountChanges {
            email: patch.email,
            full_name: patch.full_name,
            mothers_favorite_search_engine: patch.mothers_favorite_search_engine,
            disabled: patch.disabled,
        }
    }
}

/// A page of accounts.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserPage {
    users: Vec<AdminUser>,
    /// The cursor of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    next: Option<String>,
}

/// An account as the admin API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminUser {
    id: String,
    username: Option<String>,
    email: Option<String>,
    full_name: Option<String>,
    mothers_favorite_search_engine: Option<String>,
    /// RFC 3339, UTC.
    created_at: String,
    /// Whether an operator disabled it.
    disabled: bool,
}

impl AdminUser {
    fn of(user: &User) -> Self {
        AdminUser {
            id: user.id.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            full_name: user.full_name.clone(),
            mothers_favorite_search_engine: user.mothers_favorite_search_engine.clone(),
            created_at: rfc3339(user.created_at),
            disabled: user.disabled_at.is_some(),
        }
    }
}

/// An account with what an operator looks at.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminUserDetails {
    #[serde(flatten)]
    user: AdminUser,
    /// The bound machine.
    machine: Option<String>,
    /// An authenticator app is in force.
    totp: bool,
    /// Unused recovery codes.
    recovery_codes_left: i64,
    /// Passkeys.
    passkeys: i64,
    /// Personal access tokens (never their secrets).
    tokens: Vec<TokenBody>,
}

impl AdminUserDetails {
    fn of(details: &AccountDetails) -> Self {
        AdminUserDetails {
            user: AdminUser::of(&details.user),
            machine: details.machine.clone(),
            totp: details.factors.totp,
            recovery_codes_left: details.factors.recovery_codes_left,
            passkeys: details.factors.passkeys,
            tokens: details.tokens.iter().map(TokenBody::of).collect(),
        }
    }
}

/// A personal access token, without its secret.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenBody {
    id: String,
    name: String,
    scopes: Vec<String>,
    /// RFC 3339, UTC.
    created_at: String,
    /// RFC 3339, UTC; `null` never expires.
    expires_at: Option<String>,
}

impl TokenBody {
    fn of(token: &AccessTokenInfo) -> Self {
        TokenBody {
            id: token.id.clone(),
            name: token.name.clone(),
            scopes: token.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: rfc3339(token.created_at),
            expires_at: token.expires_at.map(rfc3339),
        }
    }
}

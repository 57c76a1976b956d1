//! `/admin/clients…`: the OIDC clients, as `authd client …` manages them
//! (docs/contract/11-access-tokens-and-admin-api.md), each route a call of
//! the `Auth` method that command calls.

use auth_core::{AuthError, NewClient, OidcClient, RegisteredClient, Scope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use super::users::user_route;
use super::{authorize, no_content, AdminBadRequest, AdminForbidden, AdminUnauthorized};
use crate::app::{json, respond, App};
use crate::bearer::raw_query;
use crate::bodies::rfc3339;
use crate::error::{AdminAccountFaults, AdminListFaults, ApiError, ServerFaults, TooManyRequests};
use crate::request::{ctx, raw_body, Body, RawBody, RequestCtx};

/// The routes under `/admin/clients`.
pub(super) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    list_clients(app)
        .or(create_client(app))
        .unify()
        .or(show_client(app))
        .unify()
        .or(delete_client(app))
        .unify()
        .or(rotate_secret(app))
        .unify()
        .boxed()
}

/// An `AuthError` of these routes: an unknown client is 404 `not_found`.
fn client_error(error: AuthError) -> ApiError {
    match error {
        AuthError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such client"),
        other => other.into(),
    }
}

/// A registered OIDC client.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminClient {
    /// The `client_id`.
    client_id: String,
    /// Its name, shown on the consent page.
    name: String,
    /// A public client: no secret, PKCE alone.
    public: bool,
    /// First-party: its users are not asked for consent.
    trusted: bool,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    /// RFC 3339, UTC.
    created_at: String,
}

impl AdminClient {
    fn of(client: &OidcClient) -> Self {
        AdminClient {
            client_id: client.id.clone(),
            name: client.name.clone(),
            public: client.public,
            trusted: client.trusted,
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            created_at: rfc3339(client.created_at),
        }
    }
}

/// A client just registered, or whose secret was just replaced.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminRegisteredClient {
    #[serde(flatten)]
    client: AdminClient,
    /// The secret of a confidential client: shown this once, stored hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    client_secret: Option<String>,
}

impl AdminRegisteredClient {
    fn of(registered: &RegisteredClient) -> Self {
        AdminRegisteredClient {
            client: AdminClient::of(&registered.client),
            client_secret: registered
                .secret
                .as_ref()
                .map(|secret| secret.expose().to_owned()),
        }
    }
}

/// Every registered client.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ClientList {
    clients: Vec<AdminClient>,
}

/// `POST /admin/clients`: what `authd client add` takes; no other member.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Wiki", "redirect_uris": ["https://wiki.example.com/callback"]}))]
pub(crate) struct AdminNewClient {
    /// 1 to 100 characters, no control characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// At least one; each an absolute URI without a fragment (in a form:
    /// one text, the URIs apart by spaces).
    #[schema(min_items = 1)]
    redirect_uris: Vec<String>,
    /// Where `end_session` may send the user back.
    #[schema(nullable = false)]
    post_logout_redirect_uris: Option<Vec<String>>,
    /// A public client (no secret); default `false`: confidential.
    #[schema(nullable = false)]
    public: Option<bool>,
    /// First-party: no consent page; default `false`.
    #[schema(nullable = false)]
    trusted: Option<bool>,
}

/// The members `POST /admin/clients` names.
const NEW_CLIENT_FIELDS: [&str; 5] = [
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "public",
    "trusted",
];

impl AdminNewClient {
    /// The body: an unknown member is 400 `unknown_field`. A form gives
    /// each list as one text of URIs apart by spaces, and `public` and
    /// `trusted` as `true` or `false`.
    fn read(ctx: &RequestCtx, body: RawBody) -> Result<AdminNewClient, ApiError> {
        let body = Body::parse(&ctx.headers, body)?;
        if let Some(unknown) = body
            .members()
            .keys()
            .find(|name| !NEW_CLIENT_FIELDS.contains(&name.as_str()))
        {
            return Err(ApiError::bad_request(
                "unknown_field",
                format!("{unknown} is not a field of a client"),
            ));
        }
        let mut members = body.members().clone();
        for (name, value) in members.iter_mut() {
            let Some(text) = value.as_str() else {
                continue;
            };
            match name.as_str() {
                "redirect_uris" | "post_logout_redirect_uris" => {
                    *value = text.split_whitespace().map(Value::from).collect();
                }
                "public" | "trusted" => {
                    if let Ok(flag) = text.parse::<bool>() {
                        *value = Value::Bool(flag);
                    }
                }
                _ => {}
            }
        }
        Body::of(members).read()
    }
}

/// GET /admin/clients
#[utoipa::path(
    get,
    path = "/admin/clients",
    tag = "Admin API",
    summary = "Every OIDC client",
    description = "Oldest first, as `authd client list`; no secret is ever shown again.",
    security(("access_token" = ["admin:read"])),
    responses(
        (status = 200, description = "The clients.", body = ClientList),
        AdminListFaults,
    ),
)]
pub(super) fn list_clients(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("admin" / "clients")
        .and(warp::get())
        .and(ctx())
        .and(raw_query())
        .and(app.filter())
        .then(|ctx, query, app| async move { respond(handle_list(ctx, query, app).await) })
        .boxed()
}

async fn handle_list(ctx: RequestCtx, query: String, app: App) -> Result<Response, ApiError> {
    authorize(&app, &ctx, &query, Scope::AdminRead).await?;
    let clients = app.auth.list_clients().await.map_err(client_error)?;
    let body = ClientList {
        clients: clients.iter().map(AdminClient::of).collect(),
    };
    Ok(json(&body, StatusCode::OK))
}

/// POST /admin/clients
#[utoipa::path(
    post,
    path = "/admin/clients",
    tag = "Admin API",
    summary = "Register an OIDC client",
    description = "As `authd client add`. A confidential client's `client_secret` is in \
        this answer only. A member this route does not name is 400 `unknown_field`; a bad \
        name or redirect URI is 400 `invalid_field`.",
    request_body(content(
        (AdminNewClient = "application/json"),
        (AdminNewClient = "application/x-www-form-urlencoded"),
    )),
    security(("access_token" = ["admin:write"])),
    responses(
        (status = 201, description = "Registered.", body = AdminRegisteredClient),
        (status = 400, response = AdminBadRequest),
        (status = 401, response = AdminUnauthorized),
        (status = 403, response = AdminForbidden),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(super) fn create_client(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("admin" / "clients")
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
    let new = AdminNewClient::read(&ctx, body)?;
    let new = NewClient {
        name: new.name,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris.unwrap_or_default(),
        public: new.public.unwrap_or_default(),
        trusted: new.trusted.unwrap_or_default(),
    };
    let registered = app
        .auth
        .add_client(new, &client)
        .await
        .map_err(client_error)?;
    Ok(json(
        &AdminRegisteredClient::of(&registered),
        StatusCode::CREATED,
    ))
}

/// GET /admin/clients/{client_id}
#[utoipa::path(
    get,
    path = "/admin/clients/{client_id}",
    tag = "Admin API",
    summary = "One OIDC client",
    params(("client_id" = String, Path, description = "The client's `client_id`.")),
    security(("access_token" = ["admin:read"])),
    responses(
        (status = 200, description = "The client.", body = AdminClient),
        AdminAccountFaults,
    ),
)]
pub(super) fn show_client(app: &App) -> BoxedFilter<(Response,)> {
    user_route(
        warp::path!("admin" / "clients" / String),
        warp::get(),
        app,
        |id, call| async move {
            authorize(&call.app, &call.ctx, &call.query, Scope::AdminRead).await?;
            let found = call.app.auth.find_client(&id).await.map_err(client_error)?;
            Ok(json(&AdminClient::of(&found), StatusCode::OK))
        },
    )
}

/// DELETE /admin/clients/{client_id}
#[utoipa::path(
    delete,
    path = "/admin/clients/{client_id}",
    tag = "Admin API",
    summary = "Delete an OIDC client",
    description = "As `authd client delete`: its codes, consents, grants and tokens go with it.",
    params(("client_id" = String, Path, description = "The client's `client_id`.")),
    security(("access_token" = ["admin:write"])),
    responses(
        (status = 204, description = "Deleted."),
        AdminAccountFaults,
    ),
)]
pub(super) fn delete_client(app: &App) -> BoxedFilter<(Response,)> {
    user_route(
        warp::path!("admin" / "clients" / String),
        warp::delete(),
        app,
        |id, call| async move {
            let (_, client) =
                authorize(&call.app, &call.ctx, &call.query, Scope::AdminWrite).await?;
            call.app
                .auth
                .delete_client(&id, &client)
                .await
                .map_err(client_error)?;
            Ok(no_content())
        },
    )
}

/// POST /admin/clients/{client_id}/rotate-secret
#[utoipa::path(
    post,
    path = "/admin/clients/{client_id}/rotate-secret",
    tag = "Admin API",
    summary = "Give a confidential client a new secret",
    description = "As `authd client rotate-secret`: the old secret stops working; the new \
        one is in this answer only. A public client has no secret: 404 as an unknown one.",
    params(("client_id" = String, Path, description = "The client's `client_id`.")),
    security(("access_token" = ["admin:write"])),
    responses(
        (status = 200, description = "The client with its new secret.", body = AdminRegisteredClient),
        AdminAccountFaults,
    ),
)]
pub(super) fn rotate_secret(app: &App) -> BoxedFilter<(Response,)> {
    user_route(
        warp::path!("admin" / "clients" / String / "rotate-secret"),
        warp::post(),
        app,
        |id, call| async move {
            let (_, client) =
                authorize(&call.app, &call.ctx, &call.query, Scope::AdminWrite).await?;
            let registered = call
                .app
                .auth
                .rotate_client_secret(&id, &client)
                .await
                .map_err(client_error)?;
            Ok(json(
                &AdminRegisteredClient::of(&registered),
                StatusCode::OK,
            ))
        },
    )
}

//! `/admin/sites…`: the hosts forward authentication protects, as
//! `authd site …` manages them (docs/contract/11-access-tokens-and-admin-api.md),
//! each route a call of the `Auth` method that command calls.

use auth_core::{AuthError, NewSite, ProtectedSite, Scope};
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

/// The routes under `/admin/sites`.
pub(super) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    list_sites(app)
        .or(add_site(app))
        .unify()
        .or(delete_site(app))
        .unify()
        .boxed()
}

/// An `AuthError` of these routes: an unprotected host is 404 `not_found`.
fn site_error(error: AuthError) -> ApiError {
    match error {
        AuthError::NotFound => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "not a protected site")
        }
        other => other.into(),
    }
}

/// A protected site.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminSite {
    /// The host, or `host:port`, lower-cased.
    host: String,
    /// Lets in only sessions that completed a second factor.
    second_factor_required: bool,
    /// The only accounts it lets in (username, or e-mail without one);
    /// `null`: every account.
    allowed_users: Option<Vec<String>>,
    /// RFC 3339, UTC.
    created_at: String,
}

impl AdminSite {
    fn of(site: &ProtectedSite) -> Self {
        AdminSite {
            host: site.host.clone(),
            second_factor_required: site.second_factor_required,
            allowed_users: site.allowed_users.clone(),
            created_at: rfc3339(site.created_at),
        }
    }
}

/// Every protected site.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SiteList {
    sites: Vec<AdminSite>,
}

/// `POST /admin/sites`: what `authd site add` takes; no other member.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"host": "wiki.example.com", "second_factor_required": true}))]
pub(crate) struct AdminNewSite {
    /// A host name or `host:port`: no scheme, path or wildcard.
    #[schema(min_length = 1, max_length = 260)]
    host: String,
    /// Let in only sessions that completed a second factor; default `false`.
    #[schema(nullable = false)]
    second_factor_required: Option<bool>,
    /// Usernames (or e-mails) of the only accounts it lets in; absent or
    /// empty: every account. In a form, one text, the names apart by spaces.
    #[schema(nullable = false)]
    allowed_users: Option<Vec<String>>,
}

/// The members `POST /admin/sites` names.
const NEW_SITE_FIELDS: [&str; 3] = ["host", "second_factor_required", "allowed_users"];

impl AdminNewSite {
    /// The body: an unknown member is 400 `unknown_field`.
    fn read(ctx: &RequestCtx, body: RawBody) -> Result<AdminNewSite, ApiError> {
        let body = Body::parse(&ctx.headers, body)?;
        if let Some(unknown) = body
            .members()
            .keys()
            .find(|name| !NEW_SITE_FIELDS.contains(&name.as_str()))
        {
            return Err(ApiError::bad_request(
                "unknown_field",
                format!("{unknown} is not a field of a site"),
            ));
        }
        let mut members = body.members().clone();
        for (name, value) in members.iter_mut() {
            let Some(text) = value.as_str() else {
                continue;
            };
            match name.as_str() {
                "allowed_users" => {
                    *value = text.split_whitespace().map(Value::from).collect();
                }
                "second_factor_required" => {
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

/// GET /admin/sites
#[utoipa::path(
    get,
    path = "/admin/sites",
    tag = "Admin API",
    summary = "Every protected site",
    description = "By host, as `authd site list`.",
    security(("access_token" = ["admin:read"])),
    responses(
        (status = 200, description = "The sites.", body = SiteList),
        AdminListFaults,
    ),
)]
pub(super) fn list_sites(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("admin" / "sites")
        .and(warp::get())
        .and(ctx())
        .and(raw_query())
        .and(app.filter())
        .then(|ctx, query, app| async move { respond(handle_list(ctx, query, app).await) })
        .boxed()
}

async fn handle_list(ctx: RequestCtx, query: String, app: App) -> Result<Response, ApiError> {
    authorize(&app, &ctx, &query, Scope::AdminRead).await?;
    let sites = app.auth.list_sites().await.map_err(site_error)?;
    let body = SiteList {
        sites: sites.iter().map(AdminSite::of).collect(),
    };
    Ok(json(&body, StatusCode::OK))
}

/// POST /admin/sites
#[utoipa::path(
    post,
    path = "/admin/sites",
    tag = "Admin API",
    summary = "Protect a site",
    description = "As `authd site add`. A malformed or already protected `host`, or an \
        unknown account in `allowed_users`, is 400 `invalid_field`; a member this route \
        does not name is 400 `unknown_field`.",
    request_body(content(
        (AdminNewSite = "application/json"),
        (AdminNewSite = "application/x-www-form-urlencoded"),
    )),
    security(("access_token" = ["admin:write"])),
    responses(
        (status = 201, description = "Protected.", body = AdminSite),
        (status = 400, response = AdminBadRequest),
        (status = 401, response = AdminUnauthorized),
        (status = 403, response = AdminForbidden),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(super) fn add_site(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("admin" / "sites")
        .and(warp::post())
        .and(ctx())
        .and(raw_query())
        .and(raw_body())
        .and(app.filter())
        .then(
            |ctx, query, body, app| async move { respond(handle_add(ctx, query, body, app).await) },
        )
        .boxed()
}

async fn handle_add(
    ctx: RequestCtx,
    query: String,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    let (_, client) = authorize(&app, &ctx, &query, Scope::AdminWrite).await?;
    let new = AdminNewSite::read(&ctx, body)?;
    let site = NewSite {
        host: new.host,
        second_factor_required: new.second_factor_required.unwrap_or_default(),
        allowed_users: new.allowed_users.unwrap_or_default(),
    };
    let added = app.auth.add_site(site, &client).await.map_err(site_error)?;
    Ok(json(&AdminSite::of(&added), StatusCode::CREATED))
}

/// DELETE /admin/sites/{host}
#[utoipa::path(
    delete,
    path = "/admin/sites/{host}",
    tag = "Admin API",
    summary = "Stop protecting a site",
    description = "As `authd site delete`: `/auth/verify` refuses the host from then on.",
    params(("host" = String, Path, description = "The host, or `host:port`, any case.")),
    security(("access_token" = ["admin:write"])),
    responses(
        (status = 204, description = "Deleted."),
        AdminAccountFaults,
    ),
)]
pub(super) fn delete_site(app: &App) -> BoxedFilter<(Response,)> {
    user_route(
        warp::path!("admin" / "sites" / String),
        warp::delete(),
        app,
        |host, call| async move {
            let (_, client) =
                authorize(&call.app, &call.ctx, &call.query, Scope::AdminWrite).await?;
            let host = percent_decoded(&host)?;
            call.app
                .auth
                .delete_site(&host, &client)
                .await
                .map_err(site_error)?;
            Ok(no_content())
        },
    )
}

/// A path segment as text (`host%3A8080` is `host:8080`).
fn percent_decoded(segment: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| ApiError::bad_request("invalid_field", "host is not UTF-8"))
}

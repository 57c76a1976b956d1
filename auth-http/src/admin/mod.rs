//! The admin API (docs/contract/11-access-tokens-and-admin-api.md): JSON
//! routes under `/admin/`, each a thin call of the `Auth` method the
//! command line calls too, behind a bearer token with `admin:read` (GETs)
//! or `admin:write` (the rest). Every change is audited with the token's id
//! as the actor and the request's id.

use auth_core::{AuditEvent, AuthError, ClientInfo, Scope, TokenHolder};
use serde::{Deserialize, Serialize};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::{json, respond, App};
use crate::bearer;
use crate::bodies::rfc3339;
use crate::error::{AdminListFaults, ApiError};
use crate::request::{ctx, RequestCtx};

mod bodies;
mod clients;
mod sites;
mod users;

/// The name of the bearer-token security scheme in `/openapi.json`.
pub(crate) const BEARER: &str = "access_token";

/// Every route of the admin API.
pub(crate) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    users::routes(app)
        .or(clients::routes(app))
        .unify()
        .or(sites::routes(app))
        .unify()
        .or(list_events(app))
        .unify()
        .boxed()
}

/// The description of the admin API, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        users::list_users,
        users::show_user,
        users::create_user,
        users::update_user,
        users::delete_user,
        users::set_password,
        users::end_sessions,
        users::unbind_machine,
        users::mfa_reset,
        clients::list_clients,
        clients::create_client,
        clients::show_client,
        clients::delete_client,
        clients::rotate_secret,
        sites::list_sites,
        sites::add_site,
        sites::delete_site,
        list_events,
    ),
    components(responses(AdminBadRequest, AdminUnauthorized, AdminForbidden, AdminNotFound)),
    tags((name = "Admin API", description = "Accounts, OIDC clients, forward-auth sites and \
        the audit log, for scripts and other services, with a bearer access token (docs/contract/11-access-tokens-and-admin-api.md).")),
)]
pub(crate) struct AdminDoc;

crate::error::error_responses! {
    AdminBadRequest: "Error", false,
        "The request cannot be used: `invalid_request` (an access token in the query \
        string, two `Authorization` headers, or another scheme than `Bearer`), \
        `invalid_body`, `missing_field`, `invalid_field`, `unknown_field` (a member the \
        route does not name), `invalid_cursor` (an `after` this server did not make), \
        `invalid_username`, `invalid_email`, a password rule, or `already_registered`.";
    AdminUnauthorized: "Error", false,
        "`invalid_token`: no access token, or one that is wrong, expired, revoked, or \
        whose account is disabled or gone. `WWW-Authenticate: Bearer` names the error.";
    AdminForbidden: "Error", false,
        "`insufficient_scope`: the token lacks the scope this route needs (`admin:read` \
        for GETs, `admin:write` for the rest); `WWW-Authenticate` names it.";
    AdminNotFound: "Error", false,
        "`not_found`: no such account (or client, or protected site).";
}

/// The token of an admin request, with the scope its method needs; the
/// client of its changes names the token as the actor.
pub(crate) async fn authorize(
    app: &App,
    ctx: &RequestCtx,
    query: &str,
    scope: Scope,
) -> Result<(TokenHolder, ClientInfo), ApiError> {
    let holder = bearer::holder(app, ctx, query, scope).await?;
    let client = holder.acting(app.client(ctx));
    Ok((holder, client))
}

/// An `AuthError` as the admin API answers it: an unknown account is 404.
pub(crate) fn admin_error(error: AuthError) -> ApiError {
    match error {
        AuthError::UnknownAccount => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such user")
        }
        other => other.into(),
    }
}

/// `GET /admin/events?after=&limit=`; other parameters are ignored.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// The `next` of the previous page.
    after: Option<String>,
    /// Rows per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A query string read into `T`: a parameter of the wrong type, or given
/// twice, is 400 `invalid_field`.
pub(crate) fn read_query<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    serde_urlencoded::from_str(query)
        .map_err(|error| ApiError::bad_request("invalid_field", format!("query string: {error}")))
}

/// GET /admin/events
#[utoipa::path(
    get,
    path = "/admin/events",
    tag = "Admin API",
    summary = "A page of the audit log",
    description = "Audit rows, oldest first, with the request id and the actor \
        (`token:<id>` for a change made through this API). Pass `next` as `after` \
        for the following page; `next` is absent on the last page.",
    params(EventsQuery),
    security(("access_token" = ["admin:read"])),
    responses(
        (status = 200, description = "A page of audit rows.", body = EventPage),
        AdminListFaults,
    ),
)]
fn list_events(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("admin" / "events")
        .and(warp::get())
        .and(ctx())
        .and(bearer::raw_query())
        .and(app.filter())
        .then(|ctx, query, app| async move { respond(handle_events(ctx, query, app).await) })
        .boxed()
}

async fn handle_events(ctx: RequestCtx, query: String, app: App) -> Result<Response, ApiError> {
    authorize(&app, &ctx, &query, Scope::AdminRead).await?;
    let params: EventsQuery = read_query(&query)?;
    let page = app
        .auth
        .page_events(params.after.as_deref(), params.limit)
        .await
        .map_err(admin_error)?;
    let body = EventPage {
        events: page.items.iter().map(EventBody::of).collect(),
        next: page.next,
    };
    Ok(json(&body, StatusCode::OK))
}

/// A page of audit rows.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EventPage {
    events: Vec<EventBody>,
    /// The cursor of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    next: Option<String>,
}

/// One audit row.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EventBody {
    id: String,
    /// RFC 3339, UTC.
    occurred_at: String,
    /// What happened, in snake_case.
    kind: String,
    user_id: Option<String>,
    client_addr: Option<String>,
    request_id: Option<String>,
    /// `token:<id>` for a change made with an access token.
    actor: Option<String>,
}

impl EventBody {
    fn of(event: &AuditEvent) -> Self {
        EventBody {
            id: event.id.clone(),
            occurred_at: rfc3339(event.occurred_at),
            kind: event.kind.clone(),
            user_id: event.user_id.clone(),
            client_addr: event.client_addr.clone(),
            request_id: event.request_id.clone(),
            actor: event.actor.clone(),
        }
    }
}

/// 204 No Content.
pub(crate) fn no_content() -> Response {
    warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response()
}

//! Operations endpoints: health and metrics.

use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use crate::app::{json, App};
use crate::error::{ApiError, Internal};
use crate::metrics::Metrics;

/// Every operations route.
pub(crate) fn routes(app: &App, metrics: &Metrics) -> BoxedFilter<(Response,)> {
    healthz(app).or(metrics_route(metrics)).unify().boxed()
}

/// GET /metrics
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "Operations",
    summary = "Prometheus metrics",
    description = "Requests by route and status, logins by outcome, the hash queue's length \
        and a request latency histogram, in the Prometheus text format 0.0.4.",
    responses(
        (status = 200, description = "The metrics.", body = String,
            content_type = "text/plain"),
        (status = 500, response = Internal),
    ),
)]
fn metrics_route(metrics: &Metrics) -> BoxedFilter<(Response,)> {
    let metrics = metrics.clone();
    warp::path!("metrics")
        .and(warp::get())
        .map(move || match metrics.render() {
            Ok(text) => {
                let mut response = warp::reply::Reply::into_response(text);
                response.headers_mut().insert(
                    warp::http::header::CONTENT_TYPE,
                    warp::http::HeaderValue::from_static(
                        "text/plain; version=0.0.4; charset=utf-8",
                    ),
                );
                response
            }
            Err(_) => ApiError::internal().into_response(),
        })
        .boxed()
}

/// GET /healthz
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "Operations",
    summary = "Health",
    description = "Whether the database answers.",
    responses(
        (status = 200, description = "The database answers.", body = Health,
            example = json!({"status": "ok"})),
        (status = 503, description = "The database does not answer.", body = Health,
            example = json!({"status": "unavailable"})),
    ),
)]
fn healthz(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("healthz")
        .and(warp::get())
        .and(app.filter())
        .then(|app: App| async move {
            if app.auth.health().await {
                json(
                    &Health {
                        status: HealthStatus::Ok,
                    },
                    StatusCode::OK,
                )
            } else {
                json(
                    &Health {
                        status: HealthStatus::Unavailable,
                    },
                    StatusCode::SERVICE_UNAVAILABLE,
                )
            }
        })
        .boxed()
}

/// `ok` (200) or `unavailable` (503).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub(crate) struct Health {
    #[schema(inline)]
    status: HealthStatus,
}

/// Whether the database answers.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HealthStatus {
    Ok,
    Unavailable,
}

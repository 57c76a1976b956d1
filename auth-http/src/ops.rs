//! Operations endpoints: health and metrics.

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use crate::app::{json, App};
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Every operations route.
pub(crate) fn routes(app: &App, metrics: &Metrics) -> BoxedFilter<(Response,)> {
    healthz(app).or(metrics_route(metrics)).unify().boxed()
}

/// GET /metrics
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
fn healthz(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("healthz")
        .and(warp::get())
        .and(app.filter())
        .then(|app: App| async move {
            if app.auth.health().await {
                json(&serde_json::json!({ "status": "ok" }), StatusCode::OK)
            } else {
                json(
                    &serde_json::json!({ "status": "unavailable" }),
                    StatusCode::SERVICE_UNAVAILABLE,
                )
            }
        })
        .boxed()
}

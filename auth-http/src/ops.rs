//! Operations endpoints: health.

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use crate::app::{json, App};

/// Every operations route.
pub(crate) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    healthz(app)
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

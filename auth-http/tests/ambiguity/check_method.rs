//! `/check`'s own 405, in the device check's shape.

use crate::common::*;
use warp::http::StatusCode;

use super::*;

// ----- /check's 405 -----

#[tokio::test]
async fn a_wrong_method_on_check_fails_in_checks_shape() {
    let app = TestApp::new().await;
    for (method, path) in [
        ("PUT", "/check"),
        ("DELETE", "/check"),
        ("PATCH", "/check"),
        ("PUT", "/check/"),
    ] {
        let res = app
            .send(request(method, path).header("SEEK_CUSTOM_AUTH", credentials("k", MACHINE)))
            .await;
        assert_check_failure(&res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert_eq!(res.header("allow"), Some("GET, POST"), "{method} {path}");
    }
    // The JSON API keeps its own shape.
    let res = app.send(request("PUT", "/users")).await;
    res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

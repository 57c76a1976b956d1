//! The OpenID Connect routes of `/openapi.json`: described as they answer.

use super::*;

/// The OpenID Connect provider's operations answer as described with
/// nothing to go on (no client, no session, an empty form): a described
/// status, and a described content type; its clients' endpoints fail in
/// RFC 6749's shape, its browser pages as HTML pages or redirects.
#[tokio::test]
async fn the_oidc_operations_are_served_as_described() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    let operations = oidc_operations(&doc);
    // GET and POST /oauth/authorize, POST /oauth/consent, /oauth/token,
    // GET and POST /oauth/userinfo, /oauth/introspect, /oauth/revoke,
    // GET /oauth/logout, GET /me/apps, POST /me/apps/{id}/revoke.
    assert_eq!(operations.len(), 11);
    for (path, method, operation) in operations {
        let target = concrete(&path);
        let mut request = request(&method.to_uppercase(), &target);
        if operation.get("requestBody").is_some() {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body("");
        }
        let res = app.reply(request).await;
        let status = res.status;
        let described = resolve(&doc, &operation["responses"][status.as_str()]);
        assert!(
            described.is_object(),
            "{method} {path} answered {status}, which it does not describe: {}",
            res.text()
        );
        check_body(&doc, &method, &path, described, &res);
        for (code, response) in operation["responses"].as_object().expect("responses") {
            let response = resolve(&doc, response);
            let oauth = response["content"]["application/json"]["schema"]["$ref"]
                == "#/components/schemas/OAuthErrorBody";
            let client_endpoint = path.starts_with("/oauth/")
                && [
                    "/oauth/token",
                    "/oauth/userinfo",
                    "/oauth/introspect",
                    "/oauth/revoke",
                ]
                .contains(&path.as_str());
            if client_endpoint && ["400", "401"].contains(&code.as_str()) {
                assert!(oauth, "{method} {path} {code}: not RFC 6749's shape");
            }
        }
    }
}

//! What ends tokens: the user's `/me/apps` and "End all other sessions",
//! and the operator's client and key commands.

use super::*;

/// The CSRF token of a signed-in page.
async fn page_csrf(server: &Server, session: &str, path: &str) -> String {
    let page = common::client()
        .get(server.url(path))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK, "{path}");
    hidden(&page.text().await.unwrap(), "csrf_token")
}

/// Authorizes the client again (through the consent page when it asks)
/// and exchanges the code.
async fn consent_again(server: &Server, app: &App, session: &str) -> Value {
    let http = common::client();
    let page = http
        .get(server.url(&format!("/oauth/authorize?{}", authorize_query(app, &[]))))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    let redirect = if page.status() == StatusCode::OK {
        let form = consent_form(&page.text().await.unwrap(), "allow");
        let allowed = http
            .post(server.url("/oauth/consent"))
            .header(COOKIE, format!("session_id={session}"))
            .form(&form)
            .send()
            .await
            .unwrap();
        location(&allowed)
    } else {
        location(&page)
    };
    let code = query_param(&redirect, "code").unwrap();
    let (status, tokens) = exchange(server, app, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

#[tokio::test]
async fn users_and_operators_end_what_they_allowed() {
    let server = server_with_alice();
    let app = add_client(&server, &[]);
    let http = common::client();
    let (code, session) = sign_in_for_code(&server, &app, true).await;
    let (_, tokens) = exchange(&server, &app, &code).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // /me/apps lists the application; its button revokes tokens and consent.
    let page = http
        .get(server.url("/me/apps"))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("Test app"), "{html}");
    let csrf = hidden(&html, "csrf_token");
    let revoked = http
        .post(server.url(&format!("/me/apps/{}/revoke", app.id)))
        .header(COOKIE, format!("session_id={session}"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        userinfo(&server, &access).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // "End all other sessions" ends the account's tokens too.
    let tokens = consent_again(&server, &app, &session).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&server, &access).await.status(), StatusCode::OK);
    let csrf = page_csrf(&server, &session, "/me/sessions").await;
    let ended = http
        .post(server.url("/me/sessions/end-others"))
        .header(COOKIE, format!("session_id={session}"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        userinfo(&server, &access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = refresh(&server, &app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // The operator's commands.
    let store = Store::of(&server);
    let text = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = text(store.authd(&["client", "list"]).output());
    assert!(
        listed.contains(&app.id) && listed.contains("Test app (confidential)"),
        "{listed}"
    );
    let shown = text(store.authd(&["client", "show", &app.id]).output());
    assert!(
        shown.contains(&format!("redirect_uri: {REDIRECT}")),
        "{shown}"
    );
    assert!(
        !shown.contains("secret"),
        "the secret is never shown again: {shown}"
    );
    let rotated = text(store.authd(&["client", "rotate-secret", &app.id]).output());
    let secret = rotated
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();
    let tokens = consent_again(
        &server,
        &App {
            id: app.id.clone(),
            secret: Some(secret.clone()),
        },
        &session,
    )
    .await;
    let (status, _) = refresh(&server, &app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old secret no longer works"
    );
    let keys = text(
        store
            .authd(&["oidc", "rotate-key", "--alg", "ES256"])
            .output(),
    );
    assert!(keys.starts_with("added signing key "), "{keys}");
    let jwks: Value = http
        .get(server.url("/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    text(store.authd(&["client", "delete", &app.id]).output());
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        userinfo(&server, access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let out = store.authd(&["client", "show", &app.id]).output();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such client"));
}

//! The Holberton "user authentication service" main.py flow, against the real
//! binary over a socket, with form bodies as the exercise's clients send them.

use crate::common;

use common::{client, session_cookie, Server};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

const EMAIL: &str = "guillaume@holberton.io";
const PASSWD: &str = "b4l0u";
const NEW_PASSWD: &str = "t4rt1fl3tt3";

async fn body(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// The request with a form body as the exercise's clients send it, sent.
async fn form(request: RequestBuilder, pairs: &[(&str, &str)]) -> Response {
    request.form(pairs).send().await.unwrap()
}

/// The request with the `session_id` cookie, sent.
async fn with_session(request: RequestBuilder, session_id: &str) -> Response {
    let cookie = format!("session_id={session_id}");
    request.header("Cookie", cookie).send().await.unwrap()
}

#[tokio::test]
async fn the_main_py_flow() {
    let server = Server::start(&["--password-min-length", "5", "--reset-delivery", "response"]);
    let http = client();
    let users = || http.post(server.url("/users"));
    let sessions = || http.post(server.url("/sessions"));
    let profile = || http.get(server.url("/profile"));

    // register_user, twice
    let r = form(users(), &[("email", EMAIL), ("password", PASSWD)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        body(r).await,
        json!({"email": EMAIL, "message": "user created"})
    );
    let r = form(users(), &[("email", EMAIL), ("password", PASSWD)]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body(r).await,
        json!({"error": "already_registered", "message": "email already registered"})
    );

    // log_in_wrong_password
    let r = form(sessions(), &[("email", EMAIL), ("password", NEW_PASSWD)]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(r).await["error"], "invalid_credentials");

    // profile_unlogged
    let r = profile().send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // log_in
    let r = form(sessions(), &[("email", EMAIL), ("password", PASSWD)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let session_id = session_cookie(&r).expect("a session cookie");
    assert_eq!(session_id.len(), 43);
    assert_eq!(
        body(r).await,
        json!({"email": EMAIL, "message": "logged in"})
    );

    // profile_logged
    let r = with_session(profile(), &session_id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await, json!({"email": EMAIL}));

    // log_out: 302 to /, which welcomes
    let r = with_session(http.delete(server.url("/sessions")), &session_id).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()["location"], "/");
    let r = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await, json!({"message": "Bienvenue"}));
    let r = with_session(profile(), &session_id).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "the session ended at logout"
    );

    // reset_password_token
    let r = form(
        http.post(server.url("/reset_password")),
        &[("email", EMAIL)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let reset = body(r).await;
    assert_eq!(reset["email"], EMAIL);
    let reset_token = reset["reset_token"]
        .as_str()
        .expect("a reset token")
        .to_owned();
    let r = form(
        http.post(server.url("/reset_password")),
        &[("email", "nobody@holberton.io")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // update_password, and the token works exactly once
    let update = [
        ("email", EMAIL),
        ("reset_token", &reset_token),
        ("new_password", NEW_PASSWD),
    ];
    let r = form(http.put(server.url("/reset_password")), &update).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        body(r).await,
        json!({"email": EMAIL, "message": "Password updated"})
    );
    let r = form(http.put(server.url("/reset_password")), &update).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(r).await["error"], "invalid_reset_token");

    // the old password stops working, the new one logs in
    let r = form(sessions(), &[("email", EMAIL), ("password", PASSWD)]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = form(sessions(), &[("email", EMAIL), ("password", NEW_PASSWD)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        body(r).await,
        json!({"email": EMAIL, "message": "logged in"})
    );

    assert!(server.stop().success(), "authd exits 0 on SIGTERM");
}

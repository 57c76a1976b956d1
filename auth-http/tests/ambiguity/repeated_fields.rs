//! A field or member given twice, in any spelling, is refused on every
//! route that parses a body.

use crate::common::*;
use serde_json::json;
use warp::http::StatusCode;

use super::*;

// ----- a field or member given twice -----

#[tokio::test]
async fn a_body_that_names_a_field_twice_is_refused_on_every_json_route() {
    let app = TestApp::new().await;
    let email = "kvothe@example.com";
    let p = urlencode(PASSWORD);
    let n = urlencode(NEW_PASSWORD);

    // POST /users: neither reading becomes an account.
    for body in [
        format!("username=a1&username=b1&password={p}"),
        format!("username=a1&user%6Eame=b1&password={p}"),
        format!("%75sername=a1&username=b1&password={p}"),
        format!("username=a1&password={p}&password={n}"),
        format!("username=a1&password={p}&pass%77ord={p}"),
        format!("username=a1&password={p}&full+name=x&full%20name=y"),
        format!("username=a1&password={p}&email=a1%40example.com&email="),
    ] {
        let res = app.send(raw_form("POST", "/users", &body)).await;
        res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
        assert!(
            !exists(&app, "a1").await && !exists(&app, "b1").await,
            "{body}"
        );
    }
    for body in [
        format!(r#"{{"username": "a1", "username": "b1", "password": "{PASSWORD}"}}"#),
        format!(r#"{{"username": "a1", "user\u006eame": "b1", "password": "{PASSWORD}"}}"#),
        format!(r#"{{"username": "a1", "password": "{PASSWORD}", "\u0070assword": "x"}}"#),
        format!(r#"{{"username": "a1", "password": "{PASSWORD}", "extra": {{"k": 1, "k": 2}}}}"#),
    ] {
        let res = app.send(raw_json("POST", "/users", &body)).await;
        res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
        assert!(
            !exists(&app, "a1").await && !exists(&app, "b1").await,
            "{body}"
        );
    }
    // Another case of a name is another field, unknown and ignored.
    let res = app
        .send(raw_form(
            "POST",
            "/users",
            &format!("username=a1&Username=b1&password={p}"),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(exists(&app, "a1").await && !exists(&app, "b1").await);

    app.register(email, PASSWORD).await;

    // POST /sessions: a wrong and a right password give no session.
    for body in [
        format!("email=kvothe%40example.com&password=wrong&password={p}"),
        format!("email=kvothe%40example.com&password={p}&password={p}"),
        format!("email=kvothe%40example.com&e%6Dail=kvothe%40example.com&password={p}"),
        format!("username=nobody&username=kvothe%40example.com&password={p}"),
    ] {
        let res = app.send(raw_form("POST", "/sessions", &body)).await;
        res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
        assert!(res.header_all("set-cookie").is_empty(), "{body}");
    }
    let res = app
        .send(raw_json(
            "POST",
            "/sessions",
            &format!(
                r#"{{"email": "{email}", "password": "wrong", "pass\u0077ord": "{PASSWORD}"}}"#
            ),
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    assert!(res.header_all("set-cookie").is_empty());

    // POST /reset_password: no token is made (the one asked for before stays good).
    let first = app
        .send(json("POST", "/reset_password", &json!({"email": email})))
        .await
        .json()["reset_token"]
        .as_str()
        .expect("a reset token")
        .to_owned();
    for body in [
        "email=kvothe%40example.com&email=kvothe%40example.com".to_owned(),
        r#"{"email": "kvothe@example.com", "\u0065mail": "x@example.com"}"#.to_owned(),
    ] {
        let request = if body.starts_with('{') {
            raw_json("POST", "/reset_password", &body)
        } else {
            raw_form("POST", "/reset_password", &body)
        };
        app.send(request)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    }

    // PUT /reset_password: the password stays and the token stays usable.
    let t = &first;
    for body in [
        format!("email=kvothe%40example.com&reset_token={t}&new_password={n}&new_password={p}"),
        format!("email=kvothe%40example.com&reset_token={t}&reset_token={t}&new_password={n}"),
        format!("email=kvothe%40example.com&reset_token={t}&new%5Fpassword={n}&new_password={n}"),
    ] {
        app.send(raw_form("PUT", "/reset_password", &body))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    }
    let res = app
        .send(raw_json(
            "PUT",
            "/reset_password",
            &format!(
                r#"{{"email": "{email}", "reset_token": "{t}", "new_password": "{NEW_PASSWORD}", "new_passwor\u0064": "{NEW_PASSWORD}"}}"#
            ),
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    let token = app.login(email, PASSWORD).await;
    let res = app
        .send(json(
            "PUT",
            "/reset_password",
            &json!({"email": email, "reset_token": first, "new_password": NEW_PASSWORD}),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(!session_lives(&app, &token).await);

    // POST /password: nothing changes and the session lives.
    let token = app.login(email, NEW_PASSWORD).await;
    for body in [
        format!("current_password={n}&current_password=wrong&new_password={p}"),
        format!("current_password={n}&new_password={p}&new%5Fpassword={p}"),
    ] {
        app.send(raw_form("POST", "/password", &body).header("cookie", cookie(&token)))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    }
    assert!(session_lives(&app, &token).await);
    app.login(email, NEW_PASSWORD).await;
}

#[tokio::test]
async fn a_web_form_that_names_a_field_twice_gets_the_400_page() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);

    // Sign-up: no account under either reading.
    let p = urlencode(PASSWORD);
    for rest in [
        format!("username=a1&username=b1&password={p}"),
        format!("username=a1&user%6Eame=b1&password={p}"),
        format!("username=a1&password={p}&password=other+password+123456"),
        format!("username=a1&password={p}&full+name=x&full%20name=y"),
        format!("username=a1&password={p}&full_name=x&full%5fname=x"),
    ] {
        let token = browser.csrf("/signup").await;
        let res = browser
            .post("/signup", &format!("csrf_token={token}&{rest}"))
            .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{rest}: {}",
            res.text()
        );
        assert!(res.text().contains("more than once"), "{}", res.text());
        assert!(
            !exists(&app, "a1").await && !exists(&app, "b1").await,
            "{rest}"
        );
    }
    // The CSRF token twice, even the right one twice.
    let token = browser.csrf("/signup").await;
    let res = browser
        .post(
            "/signup",
            &format!("csrf_token={token}&csrf%5Ftoken={token}&username=a1&password={p}"),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    assert!(!exists(&app, "a1").await);

    // Login: a wrong and a right password give no session.
    app.register_json(json!({"username": "kvothe", "password": PASSWORD}))
        .await;
    for extra in [
        format!("password=wrong&password={p}"),
        format!("password={p}&p%61ssword={p}"),
        format!("username=nobody&password={p}"),
    ] {
        let token = browser.csrf("/login").await;
        let res = browser
            .post(
                "/login",
                &format!("csrf_token={token}&username=kvothe&{extra}"),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{extra}: {}",
            res.text()
        );
        assert!(res.header_all("set-cookie").is_empty());
    }
    let token = browser.csrf("/login").await;
    let res = browser
        .post(
            "/login",
            &format!("csrf_token={token}&username=kvothe&password={p}"),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let session = browser.jar_value("session_id").expect("signed in");

    // Logout with the token twice: nothing ends.
    let me = browser.get("/me").await;
    let token = me.csrf_token();
    let res = browser
        .post("/logout", &format!("csrf_token={token}&csrf_token={token}"))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    assert!(session_lives(&app, &session).await);
}

#[tokio::test]
async fn a_device_header_that_names_a_member_twice_binds_nothing() {
    let app = TestApp::new().await;
    app.register_json(json!({"username": "kvothe", "password": PASSWORD}))
        .await;
    app.register_json(json!({"username": "denna", "password": PASSWORD}))
        .await;
    for json in [
        format!(
            r#"{{"username": "denna", "username": "kvothe", "password": "{PASSWORD}", "machine_id": "{MACHINE}"}}"#
        ),
        format!(
            r#"{{"username": "denna", "user\u006eame": "kvothe", "password": "{PASSWORD}", "machine_id": "{MACHINE}"}}"#
        ),
        format!(
            r#"{{"username": "kvothe", "password": "wrong", "\u0070assword": "{PASSWORD}", "machine_id": "{MACHINE}"}}"#
        ),
        format!(
            r#"{{"username": "kvothe", "password": "{PASSWORD}", "machine_id": "{OTHER_MACHINE}", "machine\u005fid": "{MACHINE}"}}"#
        ),
    ] {
        for method in ["GET", "POST"] {
            let res = app
                .send(request(method, "/check").header("SEEK_CUSTOM_AUTH", device_header(&json)))
                .await;
            assert_check_failure(&res, StatusCode::BAD_REQUEST, "malformed_credentials");
            assert!(res.json()["message"]
                .as_str()
                .unwrap_or_default()
                .contains("more than once"));
        }
    }
    // Nobody was bound: each user still binds a machine of their own.
    for (user, machine) in [("kvothe", OTHER_MACHINE), ("denna", MACHINE)] {
        let res = app
            .send(get("/check").header("SEEK_CUSTOM_AUTH", credentials(user, machine)))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert_eq!(res.json()["machine"], "bound");
    }
}

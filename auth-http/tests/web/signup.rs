//! `GET /signup` and `GET /login` (the forms), and `POST /signup`.

use crate::common::browser::*;
use crate::common::*;
use auth_core::Identifier;
use warp::http::StatusCode;

use super::*;

// ----- GET /signup and GET /login -----

#[tokio::test]
async fn form_pages_set_a_pre_session_cookie_and_a_bound_token() {
    let app = TestApp::new().await;
    for path in ["/signup", "/login"] {
        let mut browser = Browser::new(&app);
        let res = browser.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let set_cookie = res
            .set_cookie_named("authd_csrf")
            .unwrap_or_else(|| panic!("GET {path} sets no authd_csrf cookie"));
        let nonce = cookie_value(&set_cookie);
        assert_eq!(nonce.len(), 43, "nonce {nonce:?}");
        assert!(nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let attributes = cookie_attributes(&set_cookie);
        for wanted in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(
                attributes.iter().any(|a| a == wanted),
                "{wanted} missing from {set_cookie}"
            );
        }
        let token = res.csrf_token();
        assert_eq!(token.len(), 43, "token {token:?}");
        assert_ne!(token, nonce, "the token is the nonce itself");
        assert!(res.set_cookie_named("session_id").is_none());

        // With the cookie, the page keeps it and binds the same token.
        let again = browser.get(path).await;
        assert_eq!(again.status, StatusCode::OK);
        assert!(
            again.header_all("set-cookie").is_empty(),
            "a second nonce for the same browser"
        );
        assert_eq!(again.csrf_token(), token);

        // Another browser gets another nonce and another token.
        let other = Browser::new(&app).get(path).await;
        assert_ne!(other.csrf_token(), token);

        // A cookie that cannot be a nonce is replaced.
        let mut odd = Browser::new(&app);
        odd.set_cookie("authd_csrf", "short");
        let res = odd.get(path).await;
        let replaced = res
            .set_cookie_named("authd_csrf")
            .expect("a malformed nonce is replaced");
        assert_eq!(cookie_value(&replaced).len(), 43);
    }
}

#[tokio::test]
async fn signup_form_has_the_contract_fields() {
    let app = TestApp::new().await;
    let res = Browser::new(&app).get("/signup").await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    for name in [
        "csrf_token",
        "username",
        "password",
        "full_name",
        "mothers_favorite_search_engine",
    ] {
        assert!(
            html.contains(&format!("name=\"{name}\"")),
            "no {name} field: {html}"
        );
    }
    assert!(html.contains("action=\"/signup\""));
    assert!(html.contains("method=\"post\""));
    assert!(html.contains("type=\"password\""));
    assert!(html.contains("at least 15 characters"), "{html}");
    assert_eq!(res.input_value("username").as_deref(), Some(""));
    assert_eq!(res.input_value("password"), None, "a password value");
}

#[tokio::test]
async fn login_form_has_one_username_field_and_a_password() {
    let app = TestApp::new().await;
    let res = Browser::new(&app).get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    assert!(html.contains("action=\"/login\""));
    assert!(html.contains("method=\"post\""));
    assert_eq!(html.matches("name=\"username\"").count(), 1, "{html}");
    assert_eq!(html.matches("name=\"password\"").count(), 1, "{html}");
    assert!(!html.contains("name=\"email\""), "{html}");
    assert!(!html.contains(ACCOUNT_CREATED));
}

// ----- POST /signup -----

#[tokio::test]
async fn signup_success_redirects_to_login_which_says_account_created_once() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let res = browser
        .signup(&[
            ("username", "kvothe"),
            ("password", PASSWORD),
            ("full_name", "  Kvothe Arliden  "),
            ("mothers_favorite_search_engine", "DuckDuckGo"),
        ])
        .await;
    assert_redirect(&res, "/login");
    assert!(res.set_cookie_named("session_id").is_none());
    let flash = res
        .set_cookie_named("authd_flash")
        .expect("a flash cookie after sign-up");
    let attributes = cookie_attributes(&flash);
    assert!(attributes.iter().any(|a| a == "HttpOnly"), "{flash}");
    assert!(
        attributes
            .iter()
            .any(|a| a.starts_with("Max-Age=") && a != "Max-Age=0"),
        "{flash}"
    );

    let user = app
        .auth
        .find_user(&Identifier::Username("kvothe".into()))
        .await
        .unwrap()
        .expect("the account exists");
    assert_eq!(user.username.as_deref(), Some("kvothe"));
    assert_eq!(user.email, None);
    assert_eq!(user.full_name.as_deref(), Some("Kvothe Arliden"));
    assert_eq!(
        user.mothers_favorite_search_engine.as_deref(),
        Some("DuckDuckGo")
    );

    let res = browser.get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains(ACCOUNT_CREATED), "{}", res.text());
    let cleared = res
        .set_cookie_named("authd_flash")
        .expect("the flash cookie is cleared");
    assert!(
        cookie_attributes(&cleared).iter().any(|a| a == "Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(browser.cookie("authd_flash"), None);

    // Shown once.
    let res = browser.get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(!res.text().contains(ACCOUNT_CREATED));

    // And the new account logs in.
    browser.logged_in("kvothe").await;
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn signup_with_only_the_required_fields_works() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let res = browser
        .signup(&[("username", "denna"), ("password", PASSWORD)])
        .await;
    assert_redirect(&res, "/login");
    let user = app
        .auth
        .find_user(&Identifier::Username("denna".into()))
        .await
        .unwrap()
        .expect("the account exists");
    assert_eq!(user.full_name, None);
    assert_eq!(user.mothers_favorite_search_engine, None);

    // A browser sends empty optional fields: they mean "not set".
    let res = browser
        .signup(&[
            ("username", "auri"),
            ("password", PASSWORD),
            ("full_name", ""),
            ("mothers_favorite_search_engine", ""),
        ])
        .await;
    assert_redirect(&res, "/login");
    let user = app
        .auth
        .find_user(&Identifier::Username("auri".into()))
        .await
        .unwrap()
        .expect("the account exists");
    assert_eq!(user.full_name, None);
    assert_eq!(user.mothers_favorite_search_engine, None);
}

#[tokio::test]
async fn signup_failure_shows_the_reason_and_keeps_the_fields_but_not_the_password() {
    let app = TestApp::new().await;
    let long_name = "n".repeat(201);
    let long_engine = "e".repeat(101);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            kvothe("Zq9-shortpw"),
            "Password must be at least 15 characters long.",
        ),
        (kvothe(""), "Password must not be empty."),
        (
            vec![
                ("username", "averyverylongname1"),
                ("password", "averyverylongname1"),
                ("full_name", "Kvothe Arliden"),
                ("mothers_favorite_search_engine", "DuckDuckGo"),
            ],
            "Password must not be the same as the username or e-mail.",
        ),
        (
            vec![
                ("username", ""),
                ("password", PASSWORD),
                ("full_name", "Kvothe Arliden"),
                ("mothers_favorite_search_engine", "DuckDuckGo"),
            ],
            "Enter a username.",
        ),
        (
            vec![
                ("username", "bad name"),
                ("password", PASSWORD),
                ("full_name", "Kvothe Arliden"),
                ("mothers_favorite_search_engine", "DuckDuckGo"),
            ],
            "Username must be 1 to 64 characters long and may use only letters, digits, dots, \
             underscores, hyphens, @ and +.",
        ),
        (
            vec![
                ("username", "kvothe"),
                ("password", PASSWORD),
                ("full_name", &long_name),
                ("mothers_favorite_search_engine", "DuckDuckGo"),
            ],
            "Full name must be at most 200 characters.",
        ),
        (
            vec![
                ("username", "kvothe"),
                ("password", PASSWORD),
                ("full_name", "Kvothe Arliden"),
                ("mothers_favorite_search_engine", &long_engine),
            ],
            "Mother&apos;s favorite search engine must be at most 100 characters.",
        ),
    ];
    for (case, (fields, reason)) in cases.into_iter().enumerate() {
        let mut browser = Browser::new(&app);
        let res = browser.signup(&fields).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{reason}: {}",
            res.text()
        );
        let html = named_entities(&res.text());
        assert!(html.contains(reason), "{reason} not shown: {html}");
        assert!(res.header_all("set-cookie").is_empty());
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .unwrap_or_default()
        };
        assert_eq!(
            res.input_value("username").as_deref(),
            Some(field("username"))
        );
        assert_eq!(
            res.input_value("full_name").as_deref(),
            Some(field("full_name"))
        );
        assert_eq!(
            res.input_value("mothers_favorite_search_engine").as_deref(),
            Some(field("mothers_favorite_search_engine"))
        );
        assert_eq!(res.input_value("password"), None, "the password came back");
        let password = field("password");
        if !password.is_empty() && password != field("username") {
            assert!(!html.contains(password), "the password is echoed: {html}");
        }
        let username = field("username");
        if !username.is_empty() && username != "bad name" {
            assert!(!exists(&app, username).await, "{reason}: account created");
        }

        // The form shown again works: fix the mistake and send it.
        let token = res.csrf_token();
        let fixed_name = format!("fixed{case}");
        let res = browser
            .post(
                "/signup",
                &[
                    ("csrf_token", &token),
                    ("username", &fixed_name),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_redirect(&res, "/login");
    }
}

#[tokio::test]
async fn signup_with_a_taken_username_says_so_whatever_the_case() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    assert_redirect(&browser.signup(&kvothe(PASSWORD)).await, "/login");
    for name in ["kvothe", "KVOTHE"] {
        let res = browser
            .signup(&[
                ("username", name),
                ("password", NEW_PASSWORD),
                ("full_name", "Someone Else"),
            ])
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
        assert!(
            res.text().contains("That username is already registered."),
            "{}",
            res.text()
        );
        assert_eq!(res.input_value("username").as_deref(), Some(name));
        assert_eq!(
            res.input_value("full_name").as_deref(),
            Some("Someone Else")
        );
        assert!(!res.text().contains(NEW_PASSWORD));
    }

    // An e-mail-only account's address is taken as a username too.
    register(&app, None, Some("bob@example.com"), None).await;
    let res = browser
        .signup(&[("username", "Bob@Example.com"), ("password", NEW_PASSWORD)])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    assert!(res.text().contains("already registered"), "{}", res.text());
}

#[tokio::test]
async fn signup_kept_fields_are_escaped() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let quoted = format!("\"><{}", &SCRIPT[1..]);
    let res = browser
        .signup(&[
            ("username", SCRIPT),
            ("password", PASSWORD),
            ("full_name", SCRIPT),
            ("mothers_favorite_search_engine", &quoted),
        ])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    let html = res.text();
    assert!(html.contains("Username must be"), "{html}");
    assert!(!html.contains(SCRIPT), "raw script: {html}");
    assert!(!html.contains("\"><script"), "attribute break-out: {html}");
    let value = |name: &str| named_entities(&res.input_value(name).unwrap_or_default());
    assert_eq!(value("username"), ESCAPED_SCRIPT);
    assert_eq!(value("full_name"), ESCAPED_SCRIPT);
    assert_eq!(
        value("mothers_favorite_search_engine"),
        format!("&quot;&gt;{ESCAPED_SCRIPT}")
    );
}

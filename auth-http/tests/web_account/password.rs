//! `/me/password`: changing the password while signed in.

use crate::common::browser::*;
use crate::common::*;
use warp::http::StatusCode;

use super::*;

// ----- /me/password -----

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_renews_this_one() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut other = Browser::with_agent(&app, USER_AGENT);
    other.log_in("kvothe", PASSWORD).await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    browser.log_in("kvothe", PASSWORD).await;
    let old_session = browser.session();
    let res = browser.get("/me/password").await;
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let token = res.csrf_token();

    let res = browser
        .post(
            "/me/password",
            &[
                ("csrf_token", &token),
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/me");
    let new_session = browser.session();
    assert_ne!(new_session, old_session);
    let res = browser.get("/me").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("Password changed"), "{}", res.text());
    // Shown once.
    assert!(!browser.get("/me").await.text().contains("Password changed"));
    assert_eq!(other.me_status().await, StatusCode::SEE_OTHER);
    assert_eq!(
        app.profile_status(&old_session).await,
        StatusCode::FORBIDDEN
    );
    assert!(password_works(&app, "kvothe", NEW_PASSWORD).await);

    // The old form, replayed: its token was bound to the ended session.
    let res = browser
        .post(
            "/me/password",
            &[
                ("csrf_token", &token),
                ("current_password", NEW_PASSWORD),
                ("new_password", PASSWORD),
                ("new_password_again", PASSWORD),
            ],
        )
        .await;
    assert_forbidden(&res, FORM_EXPIRED);
    assert!(password_works(&app, "kvothe", NEW_PASSWORD).await);
}

#[tokio::test]
async fn password_change_failures_show_the_form_and_change_nothing() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    browser.log_in("kvothe", PASSWORD).await;
    let session = browser.session();
    let token = browser.token("/me/password").await;
    for (current, new, again, status, message) in [
        (
            "not the password at all",
            NEW_PASSWORD,
            NEW_PASSWORD,
            StatusCode::UNAUTHORIZED,
            "The current password is wrong.",
        ),
        (
            PASSWORD,
            NEW_PASSWORD,
            "something else entirely",
            StatusCode::BAD_REQUEST,
            "The two new passwords do not match.",
        ),
        (
            PASSWORD,
            "short",
            "short",
            StatusCode::BAD_REQUEST,
            "Password must be at least 15 characters long.",
        ),
        (
            PASSWORD,
            "qazwsxedcrfvtgb",
            "qazwsxedcrfvtgb",
            StatusCode::BAD_REQUEST,
            "Password is too common",
        ),
    ] {
        let res = browser
            .post(
                "/me/password",
                &[
                    ("csrf_token", &token),
                    ("current_password", current),
                    ("new_password", new),
                    ("new_password_again", again),
                ],
            )
            .await;
        assert_eq!(res.status, status, "{message}: {}", res.text());
        assert!(res.text().contains(message), "{message}: {}", res.text());
        assert!(res.text().contains("action=\"/me/password\""));
        assert!(!res.text().contains(new), "a password is echoed");
        assert_eq!(browser.session(), session);
    }
    assert!(password_works(&app, "kvothe", PASSWORD).await);
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn password_change_needs_this_sessions_token_and_this_site() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    register(&app, Some("denna"), None, None).await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    browser.log_in("kvothe", PASSWORD).await;
    let token = browser.token("/me/password").await;
    // A token of another session, of another user, of a pre-session form.
    let mut mine_elsewhere = Browser::with_agent(&app, USER_AGENT);
    mine_elsewhere.log_in("kvothe", PASSWORD).await;
    let other_session_token = mine_elsewhere.token("/me/password").await;
    let mut attacker = Browser::with_agent(&app, USER_AGENT);
    attacker.log_in("denna", PASSWORD).await;
    let attacker_token = attacker.token("/me/password").await;
    let pre_session = browser.token("/login").await;
    let fields = |csrf: &str| {
        vec![
            ("csrf_token", csrf.to_owned()),
            ("current_password", PASSWORD.to_owned()),
            ("new_password", NEW_PASSWORD.to_owned()),
            ("new_password_again", NEW_PASSWORD.to_owned()),
        ]
    };
    for csrf in [
        "",
        other_session_token.as_str(),
        attacker_token.as_str(),
        pre_session.as_str(),
    ] {
        let owned = fields(csrf);
        let borrowed: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_forbidden(&browser.post("/me/password", &borrowed).await, FORM_EXPIRED);
    }
    let owned = fields(&token);
    let borrowed: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_forbidden(
        &browser
            .post_with("/me/password", &borrowed, ("origin", FOREIGN_ORIGIN))
            .await,
        OTHER_SITE,
    );
    assert!(password_works(&app, "kvothe", PASSWORD).await);
    assert_eq!(mine_elsewhere.me_status().await, StatusCode::OK);
    // Without a session at all: to the login page, nothing changed.
    let mut stranger = Browser::with_agent(&app, USER_AGENT);
    assert_redirect(&stranger.post("/me/password", &borrowed).await, "/login");
    assert!(password_works(&app, "kvothe", PASSWORD).await);
}

// ----- races -----

// auth-core answers the losing change NotAuthenticated (its session ended
// with the winner's change), which the page turns into a 303 to /login.
#[tokio::test]
async fn two_password_changes_racing_on_one_session_change_it_once() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    browser.log_in("kvothe", PASSWORD).await;
    let token = browser.token("/me/password").await;
    let change = |new: &'static str| {
        browser.prepare(form(
            "POST",
            "/me/password",
            &[
                ("csrf_token", token.as_str()),
                ("current_password", PASSWORD),
                ("new_password", new),
                ("new_password_again", new),
            ],
        ))
    };
    let third = "quiet-meadow-lantern-77";
    let (a, b) = tokio::join!(app.page(change(NEW_PASSWORD)), app.page(change(third)));
    let winners = [&a, &b]
        .iter()
        .filter(|res| res.header("location") == Some("/me"))
        .count();
    assert_eq!(winners, 1, "{} / {}", a.text(), b.text());
    for res in [&a, &b] {
        assert!(
            res.status == StatusCode::SEE_OTHER || res.status == StatusCode::UNAUTHORIZED,
            "{}: {}",
            res.status,
            res.text()
        );
    }
    let new_works = password_works(&app, "kvothe", NEW_PASSWORD).await;
    let third_works = password_works(&app, "kvothe", third).await;
    assert!(new_works ^ third_works, "exactly one new password holds");
    assert!(!password_works(&app, "kvothe", PASSWORD).await);
}

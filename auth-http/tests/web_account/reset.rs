//! `/reset`: the page a reset link opens, and setting the password with it.

use crate::common::browser::*;
use crate::common::*;
use auth_core::{ClientInfo, Identifier};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use warp::http::StatusCode;

use super::*;

// ----- /reset -----

#[tokio::test]
async fn opening_a_reset_link_shows_the_form_and_leaves_the_token_usable() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), Some("kvothe@example.com"), None).await;
    let (raw, link) = reset_link(&app, "kvothe").await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    for _ in 0..3 {
        let res = browser.get(&format!("/reset?token={link}")).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert_eq!(res.input_value("token").as_deref(), Some(link.as_str()));
        assert!(res.text().contains("name=\"new_password_again\""));
        assert!(!res.text().contains("name=\"username\""), "{}", res.text());
        assert!(res
            .text()
            .contains("<strong id=\"account\">kvothe</strong>"));
        res.csrf_token();
    }
    assert!(token_usable(&app, "kvothe", &raw).await);
}

#[tokio::test]
async fn a_dead_reset_link_says_so_and_links_to_forgot() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    register(&app, Some("denna"), None, None).await;
    let (_, denna_link) = reset_link(&app, "denna").await;
    let (raw, link) = reset_link(&app, "kvothe").await;
    let other_account = format!("{raw}.u{}", URL_SAFE_NO_PAD.encode("denna"));
    // Denna's live token with kvothe's name, and kvothe's with Denna's.
    let wrong_token = format!("{}{}", &denna_link[..43], &link[43..]);
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    for query in [
        "",
        "token=",
        "token=nonsense",
        &format!("token={}", &link[..42]),
        &format!("token={other_account}"),
        &format!("token={wrong_token}"),
        &format!("token={link}&token={link}"),
        &format!("token={raw}.x{}", URL_SAFE_NO_PAD.encode("kvothe")),
    ] {
        let res = browser.get(&format!("/reset?{query}")).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{query}: {}", res.text());
        assert!(res.text().contains(DEAD_LINK), "{query}: {}", res.text());
        assert!(res.text().contains("href=\"/forgot\""), "{query}");
        assert!(!res.text().contains("name=\"new_password\""), "{query}");
    }
    // None of this used up the live token.
    assert!(token_usable(&app, "kvothe", &raw).await);

    // A used token is dead too.
    let token = browser.token(&format!("/reset?token={link}")).await;
    let res = browser
        .post(
            "/reset",
            &[
                ("csrf_token", &token),
                ("token", &link),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/login");
    let res = browser.get(&format!("/reset?token={link}")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.text().contains(DEAD_LINK));
}

#[tokio::test]
async fn resetting_through_the_pages_sets_the_password_once() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), Some("kvothe@example.com"), None).await;
    let mut signed_in = Browser::with_agent(&app, USER_AGENT);
    signed_in.log_in("kvothe", PASSWORD).await;
    let (raw, link) = reset_link(&app, "kvothe").await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    let token = browser.token(&format!("/reset?token={link}")).await;
    let fields = |password: &'static str, again: &'static str| {
        vec![
            ("csrf_token", token.clone()),
            ("token", link.clone()),
            ("new_password", password.to_owned()),
            ("new_password_again", again.to_owned()),
        ]
    };
    let as_refs = |fields: &Vec<(&'static str, String)>| {
        fields
            .iter()
            .map(|(n, v)| (*n, v.clone()))
            .collect::<Vec<_>>()
    };

    // Mistakes: the form again, 400, and the token still works.
    for (password, again, message) in [
        (
            "short",
            "short",
            "Password must be at least 15 characters long.",
        ),
        (
            NEW_PASSWORD,
            "orbital-pancake-lantern-43",
            "The two new passwords do not match.",
        ),
        ("", "", "Password must not be empty."),
    ] {
        let owned = as_refs(&fields(password, again));
        let borrowed: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let res = browser.post("/reset", &borrowed).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
        assert!(res.text().contains(message), "{message}: {}", res.text());
        assert_eq!(res.input_value("token").as_deref(), Some(link.as_str()));
        assert!(!res.text().contains(NEW_PASSWORD));
        assert!(token_usable(&app, "kvothe", &raw).await);
    }

    // Without a token, with another browser's, or from another site: 403,
    // nothing changes and the token still works.
    let mut other = Browser::with_agent(&app, USER_AGENT);
    let foreign = other.token("/forgot").await;
    let owned = as_refs(&fields(NEW_PASSWORD, NEW_PASSWORD));
    let good: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let without: Vec<(&str, &str)> = good
        .iter()
        .copied()
        .filter(|(n, _)| *n != "csrf_token")
        .collect();
    assert_forbidden(&browser.post("/reset", &without).await, FORM_EXPIRED);
    let mut with_foreign = without.clone();
    with_foreign.push(("csrf_token", &foreign));
    assert_forbidden(&browser.post("/reset", &with_foreign).await, FORM_EXPIRED);
    assert_forbidden(
        &browser
            .post_with("/reset", &good, ("origin", FOREIGN_ORIGIN))
            .await,
        OTHER_SITE,
    );
    assert!(token_usable(&app, "kvothe", &raw).await);
    assert!(password_works(&app, "kvothe", PASSWORD).await);

    // Success: /login says so, the new password works, the old sessions ended.
    let res = browser.post("/reset", &good).await;
    assert_redirect(&res, "/login");
    let res = browser.get("/login").await;
    assert!(
        res.text().contains("Password updated, please log in"),
        "{}",
        res.text()
    );
    assert!(password_works(&app, "kvothe", NEW_PASSWORD).await);
    assert!(!password_works(&app, "kvothe", PASSWORD).await);
    assert_redirect(&signed_in.get("/me").await, "/login");

    // The same form again: the token is used up.
    let token = browser.token("/forgot").await;
    let mut replay = good.clone();
    replay.retain(|(n, _)| *n != "csrf_token");
    replay.push(("csrf_token", &token));
    let res = browser.post("/reset", &replay).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert!(res.text().contains(DEAD_LINK));
    assert!(password_works(&app, "kvothe", NEW_PASSWORD).await);
}

#[tokio::test]
async fn a_bare_token_asks_for_the_account() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), Some("kvothe@example.com"), None).await;
    register(&app, Some("denna"), None, None).await;
    let (raw, _) = reset_link(&app, "kvothe").await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    let res = browser.get(&format!("/reset?token={raw}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res.text().contains("name=\"username\""), "{}", res.text());
    let token = res.csrf_token();
    // Another account's name: the token is not theirs.
    let res = browser
        .post(
            "/reset",
            &[
                ("csrf_token", &token),
                ("token", &raw),
                ("username", "denna"),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(password_works(&app, "denna", PASSWORD).await);
    let res = browser
        .post(
            "/reset",
            &[
                ("csrf_token", &token),
                ("token", &raw),
                ("username", "KVOTHE@example.com"),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/login");
    assert!(password_works(&app, "kvothe", NEW_PASSWORD).await);
}

#[tokio::test]
async fn the_reset_page_names_the_account_escaped() {
    let app = TestApp::new().await;
    let email = "o'brien&<co>@example.com";
    register(&app, None, Some(email), None).await;
    let (_, token) = app
        .auth
        .get_reset_password_token(&Identifier::Email(email.to_owned()), &ClientInfo::default())
        .await
        .expect("a reset token");
    let link = format!("{}.e{}", token.expose(), URL_SAFE_NO_PAD.encode(email));
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    let res = browser.get(&format!("/reset?token={link}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = named_entities(&res.text());
    assert!(!res.text().contains(email), "unescaped: {html}");
    assert!(
        html.contains("o&apos;brien&amp;&lt;co&gt;@example.com"),
        "{html}"
    );
}

#[tokio::test]
async fn two_resets_racing_with_one_link_use_it_once() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), Some("kvothe@example.com"), None).await;
    let (_, link) = reset_link(&app, "kvothe").await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    let token = browser.token(&format!("/reset?token={link}")).await;
    let reset = |new: &'static str| {
        browser.prepare(form(
            "POST",
            "/reset",
            &[
                ("csrf_token", token.as_str()),
                ("token", link.as_str()),
                ("new_password", new),
                ("new_password_again", new),
            ],
        ))
    };
    let third = "quiet-meadow-lantern-77";
    let (a, b) = tokio::join!(app.page(reset(NEW_PASSWORD)), app.page(reset(third)));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::FORBIDDEN]);
    let new_works = password_works(&app, "kvothe", NEW_PASSWORD).await;
    let third_works = password_works(&app, "kvothe", third).await;
    assert!(new_works ^ third_works, "exactly one new password holds");
}

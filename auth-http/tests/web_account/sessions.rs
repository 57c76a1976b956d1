//! `/me/sessions`: the session list, ending one or all other sessions.

use crate::common::browser::*;
use crate::common::*;
use warp::http::StatusCode;

use super::*;

// ----- /me/sessions -----

#[tokio::test]
async fn the_session_list_shows_each_session_and_marks_this_one() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut phone = Browser::with_agent(
        &app,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1",
    );
    phone.log_in("kvothe", PASSWORD).await;
    let mut hostile = Browser::with_agent(&app, SCRIPT);
    hostile.log_in("kvothe", PASSWORD).await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    browser.log_in("kvothe", PASSWORD).await;

    let res = browser.get("/me/sessions").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let html = named_entities(&res.text());
    assert!(html.contains("Safari on iOS"), "{html}");
    assert!(html.contains("Chrome on Linux"), "{html}");
    assert!(html.contains(USER_AGENT), "{html}");
    assert!(!res.text().contains(SCRIPT), "unescaped user agent: {html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert_eq!(html.matches("This session").count(), 1, "{html}");
    assert_eq!(html.matches("class=\"session current\"").count(), 1);
    // An End button for each other session, none for this one.
    assert_eq!(html.matches("/end\"").count(), 2, "{html}");
    assert!(html.contains("Signed in"));
    assert!(html.contains("Last seen"));
    assert!(html.contains("action=\"/me/sessions/end-others\""));
}

/// The ids of the user's sessions, this one first.
async fn session_ids(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let (me, sessions) = app.auth.list_sessions(token).await.expect("sessions");
    let others = sessions
        .into_iter()
        .map(|s| s.id)
        .filter(|id| *id != me.session.id)
        .collect();
    (me.session.id, others)
}

#[tokio::test]
async fn ending_another_session_signs_that_browser_out() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    register(&app, Some("denna"), None, None).await;
    let mut second = Browser::with_agent(&app, USER_AGENT);
    second.log_in("kvothe", PASSWORD).await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    browser.log_in("kvothe", PASSWORD).await;
    let mut denna = Browser::with_agent(&app, USER_AGENT);
    denna.log_in("denna", PASSWORD).await;
    let (_, others) = session_ids(&app, &browser.session()).await;
    let (denna_id, _) = session_ids(&app, &denna.session()).await;
    let second_id = others[0].clone();
    let token = browser.token("/me/sessions").await;
    let end = format!("/me/sessions/{second_id}/end");

    // No token, another session's token, another site: 403, it lives.
    let second_token = second.token("/me/sessions").await;
    for csrf in ["", second_token.as_str()] {
        assert_forbidden(
            &browser.post(&end, &[("csrf_token", csrf)]).await,
            FORM_EXPIRED,
        );
    }
    assert_forbidden(
        &browser
            .post_with(&end, &[("csrf_token", &token)], ("origin", FOREIGN_ORIGIN))
            .await,
        OTHER_SITE,
    );
    assert_eq!(second.me_status().await, StatusCode::OK);

    // Another user's session id: nothing happens to it.
    let res = browser
        .post(
            &format!("/me/sessions/{denna_id}/end"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_redirect(&res, "/me/sessions");
    assert!(browser
        .get("/me/sessions")
        .await
        .text()
        .contains("That session had already ended."));
    assert_eq!(denna.me_status().await, StatusCode::OK);

    let res = browser.post(&end, &[("csrf_token", &token)]).await;
    assert_redirect(&res, "/me/sessions");
    let html = browser.get("/me/sessions").await.text();
    assert!(html.contains("The session has ended."), "{html}");
    assert!(!html.contains(&second_id), "{html}");
    assert_redirect(&second.get("/me").await, "/login");
    assert_eq!(browser.me_status().await, StatusCode::OK);

    // The same form replayed: nothing left to end, and it says so.
    let res = browser.post(&end, &[("csrf_token", &token)]).await;
    assert_redirect(&res, "/me/sessions");
    assert!(browser
        .get("/me/sessions")
        .await
        .text()
        .contains("That session had already ended."));
    // Odd spellings of an id end nothing.
    for odd in ["not-a-uuid", "%20", &second_id.to_uppercase()] {
        let res = browser
            .post(
                &format!("/me/sessions/{odd}/end"),
                &[("csrf_token", &token)],
            )
            .await;
        assert_redirect(&res, "/me/sessions");
    }
    assert_eq!(browser.me_status().await, StatusCode::OK);
    assert_eq!(denna.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn ending_this_session_from_the_list_logs_out() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    browser.log_in("kvothe", PASSWORD).await;
    let (mine, _) = session_ids(&app, &browser.session()).await;
    let token = browser.token("/me/sessions").await;
    let res = browser
        .post(
            &format!("/me/sessions/{mine}/end"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_redirect(&res, "/login");
    assert_eq!(browser.cookie("session_id"), None);
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn ending_all_other_sessions_keeps_only_this_one() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    register(&app, Some("denna"), None, None).await;
    let mut others = Vec::new();
    for _ in 0..3 {
        let mut other = Browser::with_agent(&app, USER_AGENT);
        other.log_in("kvothe", PASSWORD).await;
        others.push(other);
    }
    let mut denna = Browser::with_agent(&app, USER_AGENT);
    denna.log_in("denna", PASSWORD).await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    browser.log_in("kvothe", PASSWORD).await;
    let token = browser.token("/me/sessions").await;

    let foreign = others[0].token("/me/sessions").await;
    assert_forbidden(
        &browser
            .post("/me/sessions/end-others", &[("csrf_token", &foreign)])
            .await,
        FORM_EXPIRED,
    );
    assert_forbidden(
        &browser
            .post_with(
                "/me/sessions/end-others",
                &[("csrf_token", &token)],
                ("origin", FOREIGN_ORIGIN),
            )
            .await,
        OTHER_SITE,
    );
    for other in &mut others {
        assert_eq!(other.me_status().await, StatusCode::OK);
    }

    let res = browser
        .post("/me/sessions/end-others", &[("csrf_token", &token)])
        .await;
    assert_redirect(&res, "/me/sessions");
    let html = browser.get("/me/sessions").await.text();
    assert!(html.contains("Every other session has ended."), "{html}");
    assert!(html.contains("You are signed in nowhere else."), "{html}");
    for other in &mut others {
        assert_redirect(&other.get("/me").await, "/login");
    }
    assert_eq!(browser.me_status().await, StatusCode::OK);
    assert_eq!(denna.me_status().await, StatusCode::OK);
}

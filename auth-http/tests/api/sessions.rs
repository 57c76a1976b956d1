//! `GET /sessions` (the session list) and `DELETE /sessions/{id}`.

use std::collections::BTreeSet;

use crate::common::*;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warp::http::StatusCode;

// ----- GET /sessions and DELETE /sessions/{id} -----

fn parse_time(value: &Value) -> OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a time string: {value}"));
    assert!(
        text.ends_with('Z') || text.ends_with("+00:00"),
        "RFC 3339 UTC: {text}"
    );
    let time =
        OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("RFC 3339 ({e}): {text}"));
    assert!(time.offset().is_utc(), "{text}");
    time
}

async fn list_sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app
        .send(get("/sessions").header("cookie", cookie(token)))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    match res.json() {
        Value::Array(items) => items,
        other => panic!("not an array: {other}"),
    }
}

#[tokio::test]
async fn sessions_are_listed_with_times_and_the_current_one_marked() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;
    let login_as =
        |agent: &'static str| login_form("bob@example.com", PASSWORD).header("user-agent", agent);
    let res = app.send(login_as("agent-one/1.0")).await;
    assert_eq!(res.status, StatusCode::OK);
    let first = res.session_cookie();
    let res = app.send(login_as("agent-two/2.0")).await;
    assert_eq!(res.status, StatusCode::OK);
    let second = res.session_cookie();

    let sessions = list_sessions(&app, &first).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let wanted_keys: BTreeSet<&str> = [
        "id",
        "created_at",
        "last_seen_at",
        "expires_at",
        "user_agent",
        "current",
    ]
    .into_iter()
    .collect();
    for session in &sessions {
        let object = session.as_object().expect("an object");
        let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, wanted_keys, "{session}");
        assert!(
            object["id"]
                .as_str()
                .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()),
            "{session}"
        );
        assert!(object["current"].is_boolean(), "{session}");
        assert!(object["user_agent"].is_string(), "{session}");
        let created = parse_time(&object["created_at"]);
        let last_seen = parse_time(&object["last_seen_at"]);
        let expires = parse_time(&object["expires_at"]);
        assert!(created <= last_seen, "{session}");
        assert!(last_seen < expires, "{session}");
        let now = OffsetDateTime::now_utc();
        assert!(
            (created - now).whole_seconds().abs() < 300,
            "created about now: {session}"
        );
    }
    let current: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["current"] == Value::Bool(true))
        .collect();
    assert_eq!(current.len(), 1, "{sessions:?}");
    assert_eq!(current[0]["user_agent"], "agent-one/1.0");
    let other = sessions
        .iter()
        .find(|s| s["current"] == Value::Bool(false))
        .expect("the other session");
    assert_eq!(other["user_agent"], "agent-two/2.0");

    // From the other session's side, the marks swap.
    let seen_by_second = list_sessions(&app, &second).await;
    let current: Vec<&Value> = seen_by_second
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], other["id"]);
}

#[tokio::test]
async fn a_login_without_user_agent_lists_null_or_a_string() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let sessions = list_sessions(&app, &token).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["current"], true);
    assert!(sessions[0]["user_agent"].is_null() || sessions[0]["user_agent"].is_string());
}

#[tokio::test]
async fn ending_another_session_by_id() {
    let app = TestApp::new().await;
    let mine = app.signed_in("bob@example.com").await;
    let other = app.login("bob@example.com", PASSWORD).await;
    let sessions = list_sessions(&app, &mine).await;
    let other_id = sessions
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .expect("the other session's id")
        .to_owned();

    let path = format!("/sessions/{other_id}");
    let res = app
        .send(request("DELETE", &path).header("cookie", cookie(&mine)))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert!(res.body.is_empty());

    assert_eq!(app.profile_status(&other).await, StatusCode::FORBIDDEN);
    assert_eq!(app.profile_status(&mine).await, StatusCode::OK);
    let sessions = list_sessions(&app, &mine).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["current"], true);

    // Gone: a second time it is 404.
    let res = app
        .send(request("DELETE", &path).header("cookie", cookie(&mine)))
        .await;
    res.assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn ending_a_session_that_is_not_yours_is_404() {
    let app = TestApp::new().await;
    let mine = app.signed_in("bob@example.com").await;
    let eves = app.signed_in("eve@example.com").await;
    let eves_id = list_sessions(&app, &eves).await[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    for id in [
        eves_id.clone(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".to_owned(),
        "1".to_owned(),
    ] {
        let res = app
            .send(request("DELETE", &format!("/sessions/{id}")).header("cookie", cookie(&mine)))
            .await;
        res.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    assert_eq!(app.profile_status(&eves).await, StatusCode::OK);
}

#[tokio::test]
async fn ending_your_own_current_session_by_id() {
    let app = TestApp::new().await;
    let mine = app.signed_in("bob@example.com").await;
    let id = list_sessions(&app, &mine).await[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let res = app
        .send(request("DELETE", &format!("/sessions/{id}")).header("cookie", cookie(&mine)))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(app.profile_status(&mine).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_session_routes_need_a_session() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let id = list_sessions(&app, &token).await[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    let res = app.send(get("/sessions")).await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    let res = app
        .send(get("/sessions").header("cookie", "session_id=garbage"))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    let res = app
        .send(request("DELETE", &format!("/sessions/{id}")))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    let res = app
        .send(request(
            "DELETE",
            &format!("/sessions/{}", uuid::Uuid::new_v4()),
        ))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    // The session survived.
    assert_eq!(app.profile_status(&token).await, StatusCode::OK);
}

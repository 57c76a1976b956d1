//! `/login?next=…` and `--cookie-domain` (docs/contract/9-forward-auth.md)
//! against the real binary: next goes only to a protected host (or authd's
//! own authorization request, tests/oidc/), whatever the attempt at an open
//! redirect; an accepted next is carried through the second step and
//! checked again; the login page's form-action allows only an accepted
//! next's origin; the session cookie carries the domain and is cleared alike.

use crate::common;

use common::{client, session_cookie, sqlite_url, Run, Server};
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::forward_auth::{
    authd_ok, header, location, nginx_asks, sent, server, signed_up, APP, PASSWORD,
};

/// The hidden `csrf_token` of a page.
fn csrf_token(html: &str) -> String {
    let at = html
        .find("name=\"csrf_token\"")
        .expect("a csrf_token input");
    let rest = &html[at..];
    let start = rest.find("value=\"").expect("its value") + "value=\"".len();
    let end = rest[start..].find('"').expect("end of value");
    rest[start..start + end].to_owned()
}

/// The pre-session cookie (`name=value`) a page sets.
fn pre_session(response: &Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| !v.starts_with("session_id=") && !v.starts_with("flash="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .expect("a pre-session cookie")
}

/// Logs in through the `/login` form with `next`: the answer.
pub(crate) async fn form_login(server: &Server, username: &str, next: &str) -> Response {
    let page = sent(client().get(server.url("/login")).query(&[("next", next)])).await;
    assert_eq!(page.status(), StatusCode::OK);
    let pre = pre_session(&page);
    let html = page.text().await.unwrap();
    let fields = [
        ("csrf_token", csrf_token(&html)),
        ("username", username.to_owned()),
        ("password", PASSWORD.to_owned()),
        ("next", next.to_owned()),
    ];
    sent(
        client()
            .post(server.url("/login"))
            .header("Cookie", pre)
            .form(&fields),
    )
    .await
}

#[tokio::test]
async fn login_goes_to_next_only_on_a_protected_host() {
    let server = server(&[]);
    let db = sqlite_url(&server.dir);
    signed_up(&server, "kvothe").await;
    authd_ok(&server, &db, &["site", "add", "app.example.test"]);
    authd_ok(&server, &db, &["site", "add", "wiki.example.test:8443"]);

    // Browsers apply form-action to the redirect after the form: the
    // login page allows the protected site's origin, and only for a good next.
    for (next, allowed) in [
        (APP, "form-action 'self' https://app.example.test;"),
        ("https://evil.example/", "form-action 'self';"),
    ] {
        let page = sent(client().get(server.url("/login")).query(&[("next", next)])).await;
        let policy = header(&page, "content-security-policy").unwrap_or_default();
        assert!(policy.contains(allowed), "{next}: {policy}");
    }

    for (next, expected) in [
        (APP, APP),
        ("https://APP.example.test/", "https://app.example.test/"),
        (
            "https://wiki.example.test:8443/a",
            "https://wiki.example.test:8443/a",
        ),
    ] {
        let r = form_login(&server, "kvothe", next).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&r), Some(expected), "{next}");
        // Signed in already, /login?next= goes straight there.
        let token = session_cookie(&r).unwrap();
        let again = sent(
            client()
                .get(server.url("/login"))
                .query(&[("next", next)])
                .header("Cookie", format!("session_id={token}")),
        )
        .await;
        assert_eq!(location(&again), Some(expected), "{next}");
    }
    for next in [
        "https://evil.example/",
        "//evil.example/",
        "\\\\evil.example",
        "/\\evil.example",
        "https:\\\\evil.example",
        "https:%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "https://app.example.test@evil.example/",
        "https://app.example.test%2eevil.example/",
        "http://app.example.test:8443/",
        "https://wiki.example.test/",
        "javascript:alert(1)//app.example.test",
        "data:text/html,<script>alert(1)</script>",
        "ftp://app.example.test/",
        " https://app.example.test/",
        "https://app.example.test/\r\nSet-Cookie: a=b",
        "https://app.exa\tmple.test/",
        "https://evilapp.example.test/",
        "https://app.example.test.evil.example/",
        "https://example.test/",
        "/me/sessions",
    ] {
        let r = form_login(&server, "kvothe", next).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location(&r), Some("/me"), "{next:?}");
    }
}

#[tokio::test]
async fn the_second_step_carries_next_and_checks_it_again() {
    let server = server(&[]);
    let db = sqlite_url(&server.dir);
    let token = signed_up(&server, "kvothe").await;
    authd_ok(
        &server,
        &db,
        &[
            "site",
            "add",
            "vault.example.test",
            "--second-factor",
            "required",
        ],
    );
    let (secret, recovery_codes) = crate::mfa::enrol_totp(&server, &token).await;
    let vault = "https://vault.example.test/secret";
    assert_eq!(
        sent(nginx_asks(&server, vault, Some(&token)))
            .await
            .status(),
        StatusCode::FORBIDDEN,
        "the session that enrolled was opened by a password alone"
    );

    for (next, expected) in [(vault, vault), ("https://evil.example/", "/me")] {
        let r = form_login(&server, "kvothe", next).await;
        assert_eq!(r.status(), StatusCode::OK, "the second step's page");
        let html = r.text().await.unwrap();
        // Only an accepted next is carried; the login checks it again anyway.
        assert_eq!(html.contains("name=\"next\""), expected != "/me", "{html}");
        let mfa_token = {
            let at = html.find("name=\"mfa_token\" value=\"").unwrap()
                + "name=\"mfa_token\" value=\"".len();
            html[at..at + html[at..].find('"').unwrap()].to_owned()
        };
        let page = sent(client().get(server.url("/login"))).await;
        let pre = pre_session(&page);
        let csrf = csrf_token(&page.text().await.unwrap());
        // The app's next code first, then (that step used) a recovery code.
        let code = match expected {
            "/me" => recovery_codes[0].clone(),
            _ => crate::mfa::totp(&secret, 30),
        };
        let fields = [
            ("csrf_token", csrf),
            ("mfa_token", mfa_token),
            ("code", code),
            ("next", next.to_owned()),
        ];
        let r = sent(
            client()
                .post(server.url("/login/code"))
                .header("Cookie", pre)
                .form(&fields),
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r), Some(expected));
        let session = session_cookie(&r).unwrap();
        // This session completed a second factor: the vault lets it in.
        let r = sent(nginx_asks(&server, vault, Some(&session))).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "remote-user"), Some("kvothe"));
    }
}

#[tokio::test]
async fn a_cookie_domain_is_set_and_cleared_with_the_same_attributes() {
    let server = server(&["--cookie-domain", "Example.test"]);
    let http = client();
    let body = json!({"username": "kvothe", "password": PASSWORD});
    let r = http
        .post(server.url("/users"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .post(server.url("/sessions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let set = header(&r, "set-cookie").unwrap().to_owned();
    assert!(set.starts_with("session_id="), "{set}");
    for attribute in [
        "Domain=example.test",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    let token = session_cookie(&r).unwrap();
    let r = sent(
        client()
            .get(server.url("/logout"))
            .header("Cookie", format!("session_id={token}")),
    )
    .await;
    let cleared = header(&r, "set-cookie").unwrap();
    assert!(cleared.starts_with("session_id=;"), "{cleared}");
    for attribute in [
        "Domain=example.test",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=0",
    ] {
        assert!(cleared.contains(attribute), "{attribute} in {cleared}");
    }

    // A __Host- cookie cannot carry a Domain: refused at start.
    let refused = Run::authd()
        .args([
            "serve",
            "--cookie-domain",
            "example.test",
            "--cookie-name",
            "__Host-session",
        ])
        .output();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with("authd: --cookie-domain cannot go with a __Host- cookie name"),
        "{stderr}"
    );
}

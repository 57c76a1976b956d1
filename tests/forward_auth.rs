//! Forward authentication (docs/contract/9-forward-auth.md) against the real
//! binary: `/auth/verify` as a reverse proxy asks it, from a trusted proxy
//! and from anyone else, the attacks on it, the sites of `authd site …`, and
//! a rule added by the command line on one server seen by another on one
//! PostgreSQL database. tests/login_next.rs covers `/login?next=…` and
//! `--cookie-domain`; tests/proxies.rs puts nginx and Caddy in front.

use crate::common;

use common::{client, session_cookie, sqlite_url, status_and_body, Run, Server};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::json;

pub(crate) const PASSWORD: &str = "tangerine rocket harbor 7";
const PUBLIC_URL: &str = "https://auth.example.test";
pub(crate) const APP: &str = "https://app.example.test/page?x=1&y=2";

/// `authd serve` trusting proxies on 127.0.0.1, with a public URL (for the
/// redirects), without the per-address limit (every request comes from
/// one address here).
pub(crate) fn server(extra: &[&str]) -> Server {
    let mut args = vec![
        "--trusted-proxy",
        "127.0.0.0/8",
        "--public-url",
        PUBLIC_URL,
        "--ip-rate-limit",
        "off",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// `authd ARGS` on the server's database; panics unless it succeeds.
pub(crate) fn authd_ok(server: &Server, database: &str, args: &[&str]) -> String {
    let output = Run::authd()
        .current_dir(&server.dir)
        .args(["--database", database])
        .args(args)
        .output();
    assert!(
        output.status.success(),
        "authd {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Signs up `username` (with an e-mail and a name) and logs in: the session token.
pub(crate) async fn signed_up(server: &Server, username: &str) -> String {
    let http = client();
    let body = json!({
        "username": username,
        "email": format!("{username}@example.test"),
        "full_name": format!("{username} the tester"),
        "password": PASSWORD,
    });
    let r = http
        .post(server.url("/users"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = json!({"username": username, "password": PASSWORD});
    let r = http
        .post(server.url("/sessions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    session_cookie(&r).unwrap()
}

/// `GET /auth/verify` as nginx asks it: the original URL in `X-Original-URL`.
pub(crate) fn nginx_asks(server: &Server, url: &str, session: Option<&str>) -> RequestBuilder {
    let request = client()
        .get(server.url("/auth/verify"))
        .header("X-Original-URL", url);
    match session {
        Some(token) => request.header("Cookie", format!("other=1; session_id={token}")),
        None => request,
    }
}

/// `GET /auth/verify?rd=1` as Caddy and Traefik ask it.
fn caddy_asks(
    server: &Server,
    proto: &str,
    host: &str,
    uri: &str,
    session: Option<&str>,
) -> RequestBuilder {
    let request = client()
        .get(server.url("/auth/verify?rd=1"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", proto)
        .header("X-Forwarded-Host", host)
        .header("X-Forwarded-Uri", uri);
    match session {
        Some(token) => request.header("Cookie", format!("session_id={token}")),
        None => request,
    }
}

pub(crate) async fn sent(request: RequestBuilder) -> Response {
    request.send().await.unwrap()
}

pub(crate) fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The `Location` of a response.
pub(crate) fn location(response: &Response) -> Option<&str> {
    header(response, "location")
}

#[tokio::test]
async fn verify_answers_each_case_for_nginx_caddy_and_traefik() {
    let server = server(&[]);
    let db = sqlite_url(&server.dir);
    let kvothe = signed_up(&server, "kvothe").await;
    let denna = signed_up(&server, "denna").await;
    authd_ok(&server, &db, &["site", "add", "App.Example.test"]);
    authd_ok(
        &server,
        &db,
        &["site", "add", "wiki.example.test", "--allow-user", "kvothe"],
    );
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
    let listed = authd_ok(&server, &db, &["site", "list"]);
    assert_eq!(
        listed,
        "app.example.test second-factor=optional users=any\n\
         vault.example.test second-factor=required users=any\n\
         wiki.example.test second-factor=optional users=kvothe\n"
    );

    // Allowed: 200, the account's names, no body, nothing of the session.
    let r = sent(nginx_asks(&server, APP, Some(&kvothe))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "remote-user"), Some("kvothe"));
    assert_eq!(header(&r, "remote-email"), Some("kvothe@example.test"));
    assert_eq!(header(&r, "remote-name"), Some("kvothe the tester"));
    assert!(r.headers().get("set-cookie").is_none());
    let headers = format!("{:?}", r.headers());
    assert!(!headers.contains(&kvothe), "{headers}");
    assert_eq!(r.bytes().await.unwrap().len(), 0);
    let r = sent(caddy_asks(
        &server,
        "https",
        "app.example.test",
        "/page",
        Some(&kvothe),
    ))
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "remote-user"), Some("kvothe"));
    // Every method is read as GET.
    let r = sent(
        client()
            .post(server.url("/auth/verify"))
            .header("X-Original-URL", APP)
            .header("Cookie", format!("session_id={kvothe}")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // No session: 401 for nginx (with the login page in Location for its
    // error_page), 302 to the login page with rd=1.
    let r = sent(nginx_asks(&server, APP, None)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let login = format!(
        "{PUBLIC_URL}/login?next=https%3A%2F%2Fapp%2Eexample%2Etest%2Fpage%3Fx%3D1%26y%3D2"
    );
    assert_eq!(location(&r), Some(login.as_str()));
    let r = sent(caddy_asks(
        &server,
        "https",
        "app.example.test",
        "/page?x=1&y=2",
        None,
    ))
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r), Some(login.as_str()));
    let r = sent(nginx_asks(&server, APP, Some("not-a-session"))).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // An allow list: the others get 403, never the login page.
    let wiki = "https://wiki.example.test/";
    assert_eq!(
        sent(nginx_asks(&server, wiki, Some(&kvothe)))
            .await
            .status(),
        StatusCode::OK
    );
    let r = sent(caddy_asks(
        &server,
        "https",
        "wiki.example.test",
        "/",
        Some(&denna),
    ))
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(location(&r), None);

    // A second factor required: 403, or with rd=1 to /me/security.
    let vault = "https://vault.example.test/";
    let r = sent(nginx_asks(&server, vault, Some(&kvothe))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = sent(caddy_asks(
        &server,
        "https",
        "vault.example.test",
        "/",
        Some(&kvothe),
    ))
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        location(&r),
        Some(format!("{PUBLIC_URL}/me/security").as_str())
    );

    // An unregistered host, another port, a look-alike: 403 with or without a session.
    for url in [
        "https://other.example.test/",
        "https://app.example.test:8443/",
        "https://evilapp.example.test/",
        "https://app.example.test.evil.example/",
        "https://app.example.test@evil.example/",
    ] {
        for session in [Some(kvothe.as_str()), None] {
            let r = sent(nginx_asks(&server, url, session)).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{url} {session:?}");
            assert_eq!(location(&r), None);
        }
    }

    // A session ended at authd while the proxy keeps asking: 401.
    let r = sent(
        client()
            .delete(server.url("/sessions"))
            .header("Cookie", format!("session_id={kvothe}")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let r = sent(nginx_asks(&server, APP, Some(&kvothe))).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The site deleted: 403 (this server sees it within a second).
    authd_ok(&server, &db, &["site", "delete", "app.example.test"]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = sent(nginx_asks(&server, APP, Some(&denna))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn forwarded_headers_are_believed_only_from_a_trusted_proxy() {
    // This server trusts no proxy on this machine: every answer is 403.
    let server = Server::start(&["--trusted-proxy", "10.0.0.0/8", "--ip-rate-limit", "off"]);
    let db = sqlite_url(&server.dir);
    let kvothe = signed_up(&server, "kvothe").await;
    authd_ok(&server, &db, &["site", "add", "app.example.test"]);
    for request in [
        nginx_asks(&server, APP, Some(&kvothe)),
        nginx_asks(&server, APP, None),
        caddy_asks(&server, "https", "app.example.test", "/", Some(&kvothe)),
        caddy_asks(&server, "https", "app.example.test", "/", None),
    ] {
        let r = sent(request).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(header(&r, "remote-user"), None);
        assert_eq!(location(&r), None);
    }
    // X-Forwarded-For naming a trusted address does not make the peer one.
    let r =
        sent(nginx_asks(&server, APP, Some(&kvothe)).header("X-Forwarded-For", "10.0.0.1")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn forged_ambiguous_and_foreign_requests_are_refused() {
    let server = server(&[]);
    let db = sqlite_url(&server.dir);
    let kvothe = signed_up(&server, "kvothe").await;
    authd_ok(&server, &db, &["site", "add", "app.example.test"]);
    let session = Some(kvothe.as_str());

    // A forged Remote-User is never read: the answer names the session's account.
    let r = sent(nginx_asks(&server, APP, session).header("Remote-User", "admin")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "remote-user"), Some("kvothe"));
    let r = sent(nginx_asks(&server, APP, None).header("Remote-User", "admin")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The two families naming different requests: 403, whichever is right.
    let disagreeing = caddy_asks(&server, "https", "other.example.test", "/", session)
        .header("X-Original-URL", APP);
    assert_eq!(sent(disagreeing).await.status(), StatusCode::FORBIDDEN);
    let disagreeing = caddy_asks(
        &server,
        "https",
        "app.example.test",
        "/page?x=1&y=2",
        session,
    )
    .header("X-Original-URL", "https://app.example.test/other");
    assert_eq!(sent(disagreeing).await.status(), StatusCode::FORBIDDEN);
    // ...and agreeing, the request is decided.
    let agreeing = caddy_asks(
        &server,
        "https",
        "App.example.test",
        "/page?x=1&y=2",
        session,
    )
    .header("X-Original-URL", APP);
    assert_eq!(sent(agreeing).await.status(), StatusCode::OK);

    // A header given twice names no request.
    let twice = nginx_asks(&server, APP, session).header("X-Original-URL", "https://evil.example/");
    assert_eq!(sent(twice).await.status(), StatusCode::FORBIDDEN);
    let twice = caddy_asks(&server, "https", "app.example.test", "/", session)
        .header("X-Forwarded-Host", "app.example.test");
    assert_eq!(sent(twice).await.status(), StatusCode::FORBIDDEN);
    // X-Forwarded-Uri without the rest of its family, or no description at all.
    let partial = client()
        .get(server.url("/auth/verify"))
        .header("X-Forwarded-Uri", "/")
        .header("Cookie", format!("session_id={kvothe}"));
    assert_eq!(sent(partial).await.status(), StatusCode::FORBIDDEN);
    let bare = client()
        .get(server.url("/auth/verify"))
        .header("Cookie", format!("session_id={kvothe}"));
    assert_eq!(sent(bare).await.status(), StatusCode::FORBIDDEN);

    // A cookie of the same name set for another domain beside the real one
    // makes the session ambiguous: no session.
    let shadowed = client()
        .get(server.url("/auth/verify"))
        .header("X-Original-URL", APP)
        .header("Cookie", format!("session_id={kvothe}; session_id=planted"));
    assert_eq!(sent(shadowed).await.status(), StatusCode::UNAUTHORIZED);
    // A cookie under another name is no session.
    let other_name = client()
        .get(server.url("/auth/verify"))
        .header("X-Original-URL", APP)
        .header("Cookie", format!("session={kvothe}"));
    assert_eq!(sent(other_name).await.status(), StatusCode::UNAUTHORIZED);
    // Hosts written to slip past a comparison.
    for (proto, host) in [
        ("https", "app.example.test, evil.example"),
        ("https", "evil.example\\@app.example.test"),
        ("https", "app%2eexample.test"),
        ("javascript", "app.example.test"),
        ("https", "APP.EXAMPLE.TEST."),
    ] {
        let r = sent(caddy_asks(&server, proto, host, "/", session)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{proto} {host}");
    }
}

#[tokio::test]
async fn site_commands_fail_in_one_line() {
    let server = server(&[]);
    let db = sqlite_url(&server.dir);
    signed_up(&server, "kvothe").await;
    authd_ok(&server, &db, &["site", "add", "app.example.test"]);
    for (args, message) in [
        (
            &["site", "add", "APP.example.test"][..],
            "authd: host: this host is already protected\n",
        ),
        (
            &["site", "add", "https://x.example.test/"][..],
            "authd: host: expected a host name or host:port (no scheme, path or wildcard)\n",
        ),
        (
            &[
                "site",
                "add",
                "x.example.test",
                "--allow-user",
                "kvothe",
                "nobody",
            ][..],
            "authd: allow_user: no account named nobody\n",
        ),
        (
            &["site", "delete", "nowhere.example.test"][..],
            "authd: nowhere.example.test is not a protected site\n",
        ),
    ] {
        let output = Run::authd()
            .current_dir(&server.dir)
            .args(["--database", &db])
            .args(args)
            .output();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), message, "{args:?}");
    }
    assert_eq!(
        authd_ok(&server, &db, &["site", "list"]),
        "app.example.test second-factor=optional users=any\n"
    );
    assert_eq!(
        authd_ok(&server, &db, &["site", "delete", "App.example.test"]),
        "deleted app.example.test\n"
    );
    let (status, _) = status_and_body(sent(nginx_asks(&server, APP, None)).await).await;
    assert!(status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED);
}

#[tokio::test]
#[ignore = "needs AUTHD_TEST_POSTGRES_URL"]
async fn a_site_added_by_the_command_line_reaches_every_server_on_postgres() {
    let schema = auth_db::test_support::TestDb::postgres()
        .expect("AUTHD_TEST_POSTGRES_URL must name a PostgreSQL server for this test");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("shared.key").display().to_string();
    let args = |extra: &'static str| {
        vec![
            "--bind".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--database".to_owned(),
            schema.url.clone(),
            "--secret-key-file".to_owned(),
            key.clone(),
            "--trusted-proxy".to_owned(),
            "127.0.0.1".to_owned(),
            "--public-url".to_owned(),
            extra.to_owned(),
            "--ip-rate-limit".to_owned(),
            "off".to_owned(),
        ]
    };
    let launch = |extra| {
        let owned = args(extra);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        Server::launch(dir.path(), &refs)
    };
    let first = launch(PUBLIC_URL);
    let second = launch(PUBLIC_URL);
    let token = signed_up(&first, "kvothe").await;
    // Both servers read the rules (no site yet) and keep them.
    for server in [&first, &second] {
        assert_eq!(
            sent(nginx_asks(server, APP, Some(&token))).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let output = Run::authd()
        .args(["--database", &schema.url, "--secret-key-file", &key])
        .args(["site", "add", "app.example.test", "--allow-user", "kvothe"])
        .output();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Within SITE_RULES_TTL_MS (a second), both let the session in.
    let started = std::time::Instant::now();
    for server in [&first, &second] {
        loop {
            let r = sent(nginx_asks(server, APP, Some(&token))).await;
            if r.status() == StatusCode::OK {
                assert_eq!(header(&r, "remote-user"), Some("kvothe"));
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(3),
                "not seen in time"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    // A session ended through one server is over on the other.
    let r = sent(
        client()
            .delete(second.url("/sessions"))
            .header("Cookie", format!("session_id={token}")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        sent(nginx_asks(&first, APP, Some(&token))).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

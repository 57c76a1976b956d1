//! The request itself: duplicated fields and headers, huge headers, path
//! tricks and wrong methods.

use super::*;

/// Duplicates.
pub(super) async fn duplicates(t: &Target, cases: &mut Cases, victim_cookie: &str) {
    cases.check(
        "two bogus session cookies",
        t.get("/profile", &[("cookie", "session_id=aaa; session_id=bbb")])
            .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "a valid session cookie and a bogus duplicate (counts as none)",
        t.get(
            "/profile",
            &[("cookie", &format!("{victim_cookie}; session_id=bogus"))],
        )
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "duplicate password in a sign-up form",
        t.form(
            "/users",
            "username=dup&password=correct+horse+battery+staple+42&password=other+password+entirely",
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "duplicate username in a login form",
        t.form(
            "/sessions",
            "username=victim&username=admin&password=correct+horse+battery+staple+42",
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    {
        let (nonce, token) = t.signup_form().await;
        cases.check(
            "duplicate csrf_token in the sign-up form",
            from_reqwest(
                t.http
                    .post(t.url("/signup"))
                    .header("cookie", format!("authd_csrf={nonce}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!(
                        "csrf_token={token}&csrf_token=forged&username=dupcsrf&password=correct+horse+battery+staple+42"
                    ))
                    .send()
                    .await,
            )
            .await,
            |r| html_page(r, 400),
        );
    }
}

/// Huge headers.
pub(super) async fn huge_headers(t: &Target, cases: &mut Cases) {
    cases.check(
        "64 KiB cookie header (raw)",
        t.raw(request(
            "GET",
            b"/profile",
            format!("Cookie: session_id={}\r\n", "c".repeat(64 * 1024)).as_bytes(),
            b"",
        ))
        .await,
        |r| match r.status {
            431 => Ok(()),
            _ => api_error(r, 403, &["not_authenticated"]),
        },
    );
    cases.check(
        "1 MiB of headers, keep-alive: 431 and the connection closed (raw)",
        send_raw_expect_close(
            &t.addr,
            format!(
                "GET /profile HTTP/1.1\r\nHost: localhost\r\nX-Padding: {}\r\n\r\n",
                "p".repeat(1024 * 1024)
            )
            .into_bytes(),
        )
        .await,
        |r| match r.status {
            431 => Ok(()),
            _ => Err(format!("expected 431, got {}", r.summary())),
        },
    );
    cases.check(
        "200 header lines, keep-alive (raw)",
        send_raw_expect_close(
            &t.addr,
            format!(
                "GET /profile HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
                (0..200)
                    .map(|i| format!("X-H{i}: v\r\n"))
                    .collect::<String>()
            )
            .into_bytes(),
        )
        .await,
        |r| match r.status {
            431 => Ok(()),
            _ => api_error(r, 403, &["not_authenticated"]),
        },
    );
    cases.check(
        "10 000 cookies in one header",
        t.get(
            "/profile",
            &[(
                "cookie",
                &(0..10_000).map(|i| format!("c{i}=v; ")).collect::<String>(),
            )],
        )
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    let long_credentials = header_value(&format!(
        r#"{{"username":"victim","password":"{}","machine_id":"{MACHINE}"}}"#,
        "p".repeat(12_000)
    ));
    cases.check(
        "SEEK_CUSTOM_AUTH of 16 KiB",
        t.check(&[&long_credentials]).await,
        |r| {
            check_failed(r, 401, "invalid_credentials")
                .or_else(|_| check_failed(r, 400, "malformed_credentials"))
        },
    );
}

/// Path tricks.
pub(super) async fn path_tricks(t: &Target, cases: &mut Cases, victim_cookie: &str) {
    cases.check(
        "/users/../profile (raw, not normalised)",
        t.raw(request("GET", b"/users/../profile", b"", b"")).await,
        |r| {
            api_error(r, 404, &["not_found"]).or_else(|_| api_error(r, 403, &["not_authenticated"]))
        },
    );
    cases.check(
        "//users (raw)",
        t.raw(request(
            "POST",
            b"//users",
            b"Content-Type: application/json\r\n",
            b"{}",
        ))
        .await,
        |r| api_error(r, 404, &["not_found"]).or_else(|_| api_error(r, 400, &["missing_field"])),
    );
    cases.check(
        "/users%2F",
        t.raw(request(
            "POST",
            b"/users%2F",
            b"Content-Type: application/json\r\n",
            b"{}",
        ))
        .await,
        |r| api_error(r, 404, &["not_found"]),
    );
    cases.check(
        "/%00",
        t.raw(request("GET", b"/%00", b"", b"")).await,
        |r| api_error(r, 404, &["not_found"]),
    );
    cases.check(
        "/profile%00 (raw)",
        t.raw(request("GET", b"/profile%00", b"", b"")).await,
        |r| api_error(r, 404, &["not_found"]),
    );
    cases.check(
        "path of 8 000 characters",
        t.get(&format!("/{}", "a/".repeat(4000)), &[]).await,
        |r| {
            api_error(r, 404, &["not_found"]).or_else(|_| match r.status {
                414 | 431 => Ok(()),
                _ => Err(r.summary()),
            })
        },
    );
    cases.check(
        "path of 60 000 characters (raw)",
        t.raw(request(
            "GET",
            format!("/{}", "b".repeat(60_000)).as_bytes(),
            b"",
            b"",
        ))
        .await,
        |r| {
            api_error(r, 404, &["not_found"]).or_else(|_| match r.status {
                414 | 431 => Ok(()),
                _ => Err(r.summary()),
            })
        },
    );
    cases.check(
        "absolute-form target naming another host (raw)",
        t.raw(request("GET", b"http://evil.example/profile", b"", b""))
            .await,
        |r| {
            api_error(r, 403, &["not_authenticated"])
                .or_else(|_| api_error(r, 404, &["not_found"]))
                .or_else(|_| match r.status {
                    400 if r.body.is_empty() => Ok(()),
                    _ => Err(r.summary()),
                })
        },
    );
    cases.check(
        "DELETE /sessions/' OR 1=1 -- (encoded)",
        from_reqwest(
            t.http
                .delete(t.url("/sessions/'%20OR%201=1%20--"))
                .header("cookie", victim_cookie)
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 404, &["not_found"]),
    );
    cases.check(
        "DELETE /sessions/%00 with a session",
        from_reqwest(
            t.http
                .delete(t.url("/sessions/%00"))
                .header("cookie", victim_cookie)
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 404, &["not_found"]),
    );
}

/// Wrong methods.
pub(super) async fn wrong_methods(t: &Target, cases: &mut Cases) {
    for (method, path, allow) in [
        ("GET", "/users", "POST"),
        ("PUT", "/sessions", "GET, POST, DELETE"),
        ("DELETE", "/profile", "GET"),
        ("PATCH", "/reset_password", "POST, PUT"),
        ("GET", "/password", "POST"),
        ("POST", "/healthz", "GET"),
        ("PUT", "/me", "GET"),
        ("DELETE", "/signup", "GET, POST"),
        ("GET", "/sessions/some-id", "DELETE"),
        ("PUT", "/users/", "POST"),
    ] {
        cases.check(
            &format!("{method} {path}"),
            t.method(method, path).await,
            |r| not_allowed(r, allow),
        );
    }
    for method in ["PUT", "DELETE"] {
        cases.check(
            &format!("{method} /check: 405 in /check's own shape"),
            t.method(method, "/check").await,
            |r| {
                check_failed(r, 405, "method_not_allowed")?;
                match r.header("allow") {
                    Some(a) if a == "GET, POST" => Ok(()),
                    other => Err(format!("Allow {other:?}")),
                }
            },
        );
    }
    cases.check(
        "a made-up method BREW /users (raw)",
        t.raw(request("BREW", b"/users", b"", b"")).await,
        |r| not_allowed(r, "POST"),
    );
}

//! The guards of the website, the signed-in JSON routes, the device check's
//! header, and a reset with a bad new password.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;

use super::*;

/// The website's guards.
pub(super) async fn website_guards(t: &Target, cases: &mut Cases) {
    cases.check(
        "POST /signup without a CSRF token or cookie",
        t.form(
            "/signup",
            "username=nocsrf&password=correct+horse+battery+staple+42",
        )
        .await,
        |r| html_page(r, 403),
    );
    cases.check(
        "POST /login with a forged CSRF token",
        from_reqwest(
            t.http
                .post(t.url("/login"))
                .header("cookie", format!("authd_csrf={}", "n".repeat(43)))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("csrf_token=forged&username=victim&password=correct+horse+battery+staple+42")
                .send()
                .await,
        )
        .await,
        |r| html_page(r, 403),
    );
    {
        let (nonce, token) = t.signup_form().await;
        cases.check(
            "POST /signup from another Origin",
            from_reqwest(
                t.http
                    .post(t.url("/signup"))
                    .header("cookie", format!("authd_csrf={nonce}"))
                    .header("origin", "https://evil.example")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!(
                        "csrf_token={token}&username=crosssite&password=correct+horse+battery+staple+42"
                    ))
                    .send()
                    .await,
            )
            .await,
            |r| html_page(r, 403),
        );
        cases.check(
            "POST /login with a Host that is not UTF-8 and an Origin (raw)",
            t.raw(
                b"POST /login HTTP/1.1\r\nHost: \xff\xfe\r\nConnection: close\r\nOrigin: http://localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b"
                    .to_vec(),
            )
            .await,
            |r| html_page(r, 403).or_else(|_| match r.status {
                400 if r.body.is_empty() => Ok(()),
                _ => Err(r.summary()),
            }),
        );
        cases.check(
            "DELETE /sessions with a forged cookie",
            from_reqwest(
                t.http
                    .delete(t.url("/sessions"))
                    .header("cookie", "session_id=' OR 1=1 --")
                    .send()
                    .await,
            )
            .await,
            |r| api_error(r, 403, &["not_authenticated"]),
        );
        cases.check(
            "POST /login with a form that is not UTF-8",
            from_reqwest(
                t.http
                    .post(t.url("/login"))
                    .header("cookie", format!("authd_csrf={nonce}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!(
                        "csrf_token={token}&username=victim&password=%FF%FE"
                    ))
                    .send()
                    .await,
            )
            .await,
            |r| html_page(r, 400),
        );
    }
    cases.check(
        "GET /me with a forged session cookie",
        t.get("/me", &[("cookie", "session_id=forged")]).await,
        |r| redirect_to(r, 303, "/login"),
    );
    cases.check(
        "POST /logout without a session",
        t.form("/logout", "csrf_token=x").await,
        |r| redirect_to(r, 303, "/login"),
    );
}

/// Authenticated JSON routes with bad input.
pub(super) async fn signed_in_routes(t: &Target, cases: &mut Cases, victim_cookie: &str) {
    cases.check(
        "POST /password without a session",
        t.json(
            "/password",
            &json!({ "current_password": PASSWORD, "new_password": "another long password 1" }),
        )
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "POST /password with broken JSON",
        from_reqwest(
            t.http
                .post(t.url("/password"))
                .header("cookie", victim_cookie)
                .header("content-type", "application/json")
                .body("{\"current_password\":")
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "POST /password with new_password a number",
        from_reqwest(
            t.http
                .post(t.url("/password"))
                .header("cookie", victim_cookie)
                .json(&json!({ "current_password": PASSWORD, "new_password": 12345 }))
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
}

/// SEEK_CUSTOM_AUTH.
pub(super) async fn device_check(t: &Target, cases: &mut Cases) {
    let good =
        format!(r#"{{"username":"victim","password":"{PASSWORD}","machine_id":"{MACHINE}"}}"#);
    cases.check("SEEK_CUSTOM_AUTH missing", t.check(&[]).await, |r| {
        check_failed(r, 401, "missing_credentials")
    });
    cases.check(
        "SEEK_CUSTOM_AUTH missing on POST /check",
        t.method("POST", "/check").await,
        |r| check_failed(r, 401, "missing_credentials"),
    );
    let malformed: Vec<(&str, String)> = vec![
        ("SEEK_CUSTOM_AUTH empty", String::new()),
        ("SEEK_CUSTOM_AUTH only spaces", "   ".into()),
        ("SEEK_CUSTOM_AUTH not base64", "not base64 at all!".into()),
        (
            "SEEK_CUSTOM_AUTH base64 with a bad tail",
            "eyJ1c2VybmFtZSI6*".into(),
        ),
        ("SEEK_CUSTOM_AUTH not JSON", header_value("username=victim")),
        (
            "SEEK_CUSTOM_AUTH bytes not UTF-8",
            STANDARD.encode([0xff, 0xfe, b'{', b'}']),
        ),
        (
            "SEEK_CUSTOM_AUTH a JSON array",
            header_value(r#"["victim","pw","m"]"#),
        ),
        (
            "SEEK_CUSTOM_AUTH member missing",
            header_value(&format!(
                r#"{{"username":"victim","machine_id":"{MACHINE}"}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH extra member",
            header_value(&format!(
                r#"{{"username":"victim","password":"{PASSWORD}","machine_id":"{MACHINE}","admin":true}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH password not a string",
            header_value(&format!(
                r#"{{"username":"victim","password":12345,"machine_id":"{MACHINE}"}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH username null",
            header_value(&format!(
                r#"{{"username":null,"password":"{PASSWORD}","machine_id":"{MACHINE}"}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH machine_id too short",
            header_value(&format!(
                r#"{{"username":"victim","password":"{PASSWORD}","machine_id":"short"}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH machine_id with ../",
            header_value(&format!(
                r#"{{"username":"victim","password":"{PASSWORD}","machine_id":"../../etc/passwd/x"}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH machine_id 129 characters",
            header_value(&format!(
                r#"{{"username":"victim","password":"{PASSWORD}","machine_id":"{}"}}"#,
                "m".repeat(129)
            )),
        ),
    ];
    for (name, value) in &malformed {
        cases.check(name, t.check(&[value]).await, |r| {
            check_failed(r, 400, "malformed_credentials")
        });
    }
    cases.check(
        "SEEK_CUSTOM_AUTH repeated",
        t.check(&[&header_value(&good), &header_value(&good)]).await,
        |r| check_failed(r, 400, "malformed_credentials"),
    );
    cases.check(
        "SEEK_CUSTOM_AUTH with non-ASCII bytes (raw)",
        t.raw(request(
            "GET",
            b"/check",
            b"SEEK_CUSTOM_AUTH: eyJ1c2Vy\xc3\xa9\xff\xfe\r\n",
            b"",
        ))
        .await,
        |r| check_failed(r, 400, "malformed_credentials"),
    );
    cases.check(
        "Seek-Custom-Auth (hyphens) is not the header",
        from_reqwest(
            t.http
                .get(t.url("/check"))
                .header("Seek-Custom-Auth", header_value(&good))
                .send()
                .await,
        )
        .await,
        |r| check_failed(r, 401, "missing_credentials"),
    );
    cases.check(
        "SEEK_CUSTOM_AUTH base64 with stray padding",
        t.check(&["eyJ1c2VybmFtZSI6InZpY3RpbSJ9===="]).await,
        |r| check_failed(r, 400, "malformed_credentials"),
    );
    cases.check(
        "SEEK_CUSTOM_AUTH wrong password",
        t.check(&[&header_value(&format!(
            r#"{{"username":"victim","password":"' OR 1=1 --","machine_id":"{MACHINE}"}}"#
        ))])
        .await,
        |r| check_failed(r, 401, "invalid_credentials"),
    );
}

/// A reset with a bad new password: 400, and the token still works.
pub(super) async fn bad_reset(t: &Target, cases: &mut Cases) {
    let asked = t
        .json("/reset_password", &json!({ "username": "victim" }))
        .await;
    assert_eq!(
        asked.as_ref().map(|r| r.status).ok(),
        Some(200),
        "{asked:?}"
    );
    let reset_token = t
        .server
        .stderr_once_it_holds("password reset token for victim: ")
        .await
        .lines()
        .find_map(|l| l.strip_prefix("password reset token for victim: "))
        .expect("the reset token line")
        .trim()
        .to_owned();
    cases.check(
        "reset with a NUL in new_password",
        t.put_json(
            "/reset_password",
            &json!({ "username": "victim", "reset_token": reset_token,
                     "new_password": "new long\u{0}password here" }),
        )
        .await,
        |r| api_error(r, 400, &["password_invalid_characters"]),
    );
    cases.check(
        "reset with new_password a number",
        t.put_json(
            "/reset_password",
            &json!({ "username": "victim", "reset_token": reset_token, "new_password": 7 }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
    cases.check(
        "the reset token of victim used for another account",
        t.put_json(
            "/reset_password",
            &json!({ "username": "bystander", "reset_token": reset_token,
                     "new_password": "a perfectly fine new password" }),
        )
        .await,
        |r| api_error(r, 403, &["invalid_reset_token"]),
    );
    let reset = t
        .put_json(
            "/reset_password",
            &json!({ "username": "victim", "reset_token": reset_token,
                     "new_password": "a perfectly fine new password" }),
        )
        .await
        .expect("reset answers");
    assert_eq!(
        reset.status,
        200,
        "the token survived the bad attempts: {}",
        reset.summary()
    );
}

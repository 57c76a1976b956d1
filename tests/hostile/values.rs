//! Field values: wrong types and JSON null, NUL and control characters,
//! bytes that are not UTF-8, SQL- and HTML-looking values.

use serde_json::json;

use super::*;

/// Wrong types and JSON null.
pub(super) async fn wrong_types(t: &Target, cases: &mut Cases) {
    for (name, path, body) in [
        (
            "username is a number",
            "/users",
            json!({ "username": 123, "password": PASSWORD }),
        ),
        (
            "password is JSON null",
            "/users",
            json!({ "username": "nullpw", "password": null }),
        ),
        (
            "password is an array",
            "/users",
            json!({ "username": "arraypw", "password": [PASSWORD] }),
        ),
        (
            "email is an object",
            "/users",
            json!({ "email": { "$ne": "" }, "password": PASSWORD }),
        ),
        (
            "full_name is a boolean",
            "/users",
            json!({ "username": "boolname", "password": PASSWORD, "full_name": true }),
        ),
        (
            "login password is JSON null",
            "/sessions",
            json!({ "username": "victim", "password": null }),
        ),
        (
            "login username is an object (operator injection)",
            "/sessions",
            json!({ "username": { "$gt": "" }, "password": PASSWORD }),
        ),
        (
            "reset request email is null",
            "/reset_password",
            json!({ "email": null }),
        ),
    ] {
        cases.check(name, t.json(path, &body).await, |r| {
            api_error(r, 400, &["invalid_field"])
        });
    }
    cases.check(
        "the string \"null\" is an ordinary (short) password",
        t.json(
            "/users",
            &json!({ "username": "nullstring", "password": "null" }),
        )
        .await,
        |r| api_error(r, 400, &["password_too_short", "password_too_common"]),
    );
    cases.check(
        "reset with new_password null",
        t.put_json(
            "/reset_password",
            &json!({ "username": "victim", "reset_token": "x", "new_password": null }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
    cases.check(
        "sign-up without any field",
        t.json("/users", &json!({})).await,
        |r| api_error(r, 400, &["missing_field"]),
    );
    cases.check(
        "login without an identifier",
        t.json("/sessions", &json!({ "password": PASSWORD })).await,
        |r| api_error(r, 400, &["missing_field"]),
    );
    cases.check(
        "reset without reset_token",
        t.put_json(
            "/reset_password",
            &json!({ "username": "victim", "new_password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["missing_field"]),
    );
}

/// NUL and control characters.
pub(super) async fn control_characters(t: &Target, cases: &mut Cases) {
    cases.check(
        "empty password at sign-up",
        t.json("/users", &json!({ "username": "emptypw", "password": "" }))
            .await,
        |r| api_error(r, 400, &["password_empty"]),
    );
    cases.check(
        "password equal to the username",
        t.json(
            "/users",
            &json!({ "username": "same-as-password-1", "password": "same-as-password-1" }),
        )
        .await,
        |r| api_error(r, 400, &["password_matches_identifier"]),
    );
    cases.check(
        "login with empty identifiers (form)",
        t.form("/sessions", "username=&email=&password=x").await,
        |r| api_error(r, 400, &["missing_field"]),
    );
    cases.check(
        "login with an empty password (well-formed, wrong: 401)",
        t.json(
            "/sessions",
            &json!({ "username": "victim", "password": "" }),
        )
        .await,
        |r| api_error(r, 401, &["invalid_credentials"]),
    );
    cases.check(
        "NUL in a username",
        t.json(
            "/users",
            &json!({ "username": "nul\u{0}user", "password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_username"]),
    );
    cases.check(
        "NUL in a password",
        t.json(
            "/users",
            &json!({ "username": "nulpw", "password": "correct horse\u{0}battery staple" }),
        )
        .await,
        |r| api_error(r, 400, &["password_invalid_characters"]),
    );
    cases.check(
        "escape character in a password (form, %1B)",
        t.form(
            "/users",
            "username=escpw&password=correct%20horse%1Bbattery%20staple",
        )
        .await,
        |r| api_error(r, 400, &["password_invalid_characters"]),
    );
    cases.check(
        "bell character in full_name",
        t.json(
            "/users",
            &json!({ "username": "bellname", "password": PASSWORD, "full_name": "ding\u{7}dong" }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
    cases.check(
        "newline in an email",
        t.json(
            "/users",
            &json!({ "email": "a@b.c\r\nBcc: x@y.z", "password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_email"]),
    );
    cases.check(
        "NUL in a login username (well-formed, wrong: 401)",
        t.form("/sessions", "username=victim%00&password=x").await,
        |r| api_error(r, 401, &["invalid_credentials"]),
    );
}

/// Bytes that are not UTF-8.
pub(super) async fn not_utf8(t: &Target, cases: &mut Cases, victim_cookie: &str) {
    cases.check(
        "form body with %FF",
        t.form("/users", "username=bad%FFname&password=x").await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "form body with a raw 0xFF byte",
        t.post(
            "/sessions",
            "application/x-www-form-urlencoded",
            b"username=victim&password=\xff\xfe".to_vec(),
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON body with a raw 0xC0 byte in a string",
        t.post(
            "/users",
            "application/json",
            b"{\"username\":\"u\xc0\",\"password\":\"x\"}".to_vec(),
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON body declared latin-1, bytes not UTF-8",
        t.post(
            "/users",
            "application/json; charset=iso-8859-1",
            b"{\"username\":\"caf\xe9\",\"password\":\"x\"}".to_vec(),
        )
        .await,
        |r| {
            api_error(r, 400, &["invalid_body", "unsupported_media_type"])
                .or_else(|_| api_error(r, 415, &["unsupported_media_type"]))
        },
    );
    cases.check(
        "session cookie that is not UTF-8 (raw)",
        t.raw(request(
            "GET",
            b"/profile",
            b"Cookie: session_id=\xff\xfe\x80abc\r\n",
            b"",
        ))
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "non-UTF-8 cookie before a valid one (raw)",
        t.raw(request(
            "GET",
            b"/profile",
            &[
                b"Cookie: session_id=\xff\r\nCookie: ".as_slice(),
                victim_cookie.as_bytes(),
                b"\r\n",
            ]
            .concat(),
            b"",
        ))
        .await,
        |r| match r.status {
            200 => json_body(r).map(|_| ()),
            _ => api_error(r, 403, &["not_authenticated"]),
        },
    );
    cases.check(
        "User-Agent that is not UTF-8 on a wrong login (raw)",
        t.raw(request(
            "POST",
            b"/sessions",
            b"User-Agent: \xc3\x28\xa0\xa1\r\nContent-Type: application/x-www-form-urlencoded\r\n",
            b"username=victim&password=wrong-password-here",
        ))
        .await,
        |r| api_error(r, 401, &["invalid_credentials"]),
    );
    cases.check(
        "Accept header that is not UTF-8 on GET / (raw)",
        t.raw(request("GET", b"/", b"Accept: text/\xffhtml\r\n", b""))
            .await,
        |r| {
            if r.status == 200 && json_body(r)? == json!({ "message": "Bienvenue" }) {
                Ok(())
            } else {
                Err(r.summary())
            }
        },
    );
    cases.check(
        "Origin that is not UTF-8 on POST /signup (raw)",
        t.raw(request(
            "POST",
            b"/signup",
            b"Origin: http://\xff.example\r\nContent-Type: application/x-www-form-urlencoded\r\n",
            b"username=x&password=y",
        ))
        .await,
        |r| html_page(r, 403),
    );
    cases.check(
        "path with a raw 0xFF byte (raw)",
        t.raw(request("GET", b"/users\xff", b"", b"")).await,
        // Either hyper refuses the request line (400) or the path is unknown (404).
        |r| match r.status {
            400 if r.body.is_empty() => Ok(()),
            _ => api_error(r, 404, &["not_found"]),
        },
    );
}

/// SQL- and HTML-looking values.
pub(super) async fn injection_looking(t: &Target, cases: &mut Cases, victim_cookie: &str) {
    cases.check(
        "sign-up as ' OR 1=1 --",
        t.json(
            "/users",
            &json!({ "username": "' OR 1=1 --", "password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_username"]),
    );
    cases.check(
        "login as ' OR 1=1 --",
        t.json(
            "/sessions",
            &json!({ "username": "' OR 1=1 --", "password": "' OR 1=1 --" }),
        )
        .await,
        |r| {
            api_error(r, 400, &["invalid_username"])
                .or_else(|_| api_error(r, 401, &["invalid_credentials"]))
        },
    );
    cases.check(
        "login by email victim' --",
        t.form("/sessions", "email=victim'%20--&password=x").await,
        |r| api_error(r, 401, &["invalid_credentials"]),
    );
    cases.check(
        "reset request for '; DROP TABLE users; --",
        t.json(
            "/reset_password",
            &json!({ "email": "'; DROP TABLE users; --" }),
        )
        .await,
        |r| api_error(r, 403, &["not_found"]),
    );
    cases.check(
        "reset with the token ' OR '1'='1",
        t.put_json(
            "/reset_password",
            &json!({ "username": "victim", "reset_token": "' OR '1'='1", "new_password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 403, &["invalid_reset_token"]),
    );
    {
        let name = "<script>alert('x')</script> & \"quotes\"";
        let profile = t.get("/profile", &[("cookie", victim_cookie)]).await;
        cases.check(
            "<script> in full_name: stored, JSON verbatim",
            profile,
            |r| {
                if r.status == 200 && json_body(r)?["full_name"] == name {
                    Ok(())
                } else {
                    Err(r.summary())
                }
            },
        );
        let me = t.get("/me", &[("cookie", victim_cookie)]).await;
        cases.check("<script> in full_name: escaped on /me", me, |r| {
            let html = r.text();
            let shown = html
                .split("<dd id=\"full_name\">")
                .nth(1)
                .and_then(|rest| rest.split("</dd>").next())
                .unwrap_or_default();
            if r.status == 200
                && !html.contains("<script>")
                && !shown.contains(['<', '>', '"', '\''])
                && unescape_html(shown) == name
            {
                Ok(())
            } else {
                Err(format!("not shown escaped: {} {shown:?}", r.status))
            }
        });
        let (nonce, token) = t.signup_form().await;
        let form = format!(
            "csrf_token={token}&username=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E&password=short&full_name=%3C%2Ftextarea%3E%3Cscript%3Ealert(2)%3C%2Fscript%3E"
        );
        let page = from_reqwest(
            t.http
                .post(t.url("/signup"))
                .header("cookie", format!("authd_csrf={nonce}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await,
        )
        .await;
        cases.check(
            "<script> in typed sign-up fields: escaped in the form again",
            page,
            |r| {
                html_page(r, 400)?;
                if r.text().contains("<script>") {
                    Err(format!("not escaped: {}", r.summary()))
                } else {
                    Ok(())
                }
            },
        );
    }
}

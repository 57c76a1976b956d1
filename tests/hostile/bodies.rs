//! Oversized bodies, content types, and broken, overlong and deeply nested JSON.

use serde_json::json;

use super::*;

/// Oversized bodies.
pub(super) async fn oversized_bodies(t: &Target, cases: &mut Cases) {
    let padded = |total: usize| {
        let frame = r#"{"username":"big","password":""}"#.len();
        format!(
            r#"{{"username":"big","password":"{}"}}"#,
            "x".repeat(total - frame)
        )
    };
    let over = padded(MAX_BODY + 1);
    assert_eq!(over.len(), MAX_BODY + 1);
    cases.check(
        "body one byte over 16 KiB (JSON)",
        t.post("/users", "application/json", over).await,
        |r| api_error(r, 413, &["payload_too_large"]),
    );
    let exact = padded(MAX_BODY);
    assert_eq!(exact.len(), MAX_BODY);
    cases.check(
        "body of exactly 16 KiB is read (password too long)",
        t.post("/users", "application/json", exact).await,
        |r| api_error(r, 400, &["password_too_long"]),
    );
    cases.check(
        "form body one byte over 16 KiB",
        t.form(
            "/sessions",
            &format!("username=a&password={}", "p".repeat(MAX_BODY + 1 - 20)),
        )
        .await,
        |r| api_error(r, 413, &["payload_too_large"]),
    );
    let ten_mib = vec![b'a'; 10 * 1024 * 1024];
    cases.check(
        "10 MiB body with its Content-Length (raw)",
        t.raw(request(
            "POST",
            b"/users",
            b"Content-Type: application/json\r\n",
            &ten_mib,
        ))
        .await,
        |r| api_error(r, 413, &["payload_too_large"]),
    );
    let mut chunked =
        b"POST /users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..40 {
        chunked.extend_from_slice(format!("{:x}\r\n", 1024).as_bytes());
        chunked.extend_from_slice(&[b'a'; 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    cases.check(
        "40 KiB chunked body without a length (raw)",
        t.raw(chunked).await,
        |r| api_error(r, 413, &["payload_too_large"]),
    );
    let short_length = {
        let body = br#"{"username":"liar","password":"correct horse battery staple 42"}"#;
        let mut out = b"POST /users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n".to_vec();
        out.extend_from_slice(body);
        out
    };
    cases.check(
        "Content-Length shorter than the body: a cut JSON (raw)",
        t.raw(short_length).await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "Content-Length and chunked together (raw)",
        t.raw(b"POST /users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n".to_vec())
            .await,
        // hyper refuses the ambiguous framing itself, before any route.
        |r| match r.status {
            400 => Ok(()),
            _ => Err(format!("expected 400, got {}", r.summary())),
        },
    );
    cases.check(
        "web form body over 16 KiB (POST /signup)",
        t.form("/signup", &"a".repeat(MAX_BODY + 1)).await,
        |r| html_page(r, 413),
    );
}

/// Content types.
pub(super) async fn content_types(t: &Target, cases: &mut Cases) {
    cases.check(
        "no Content-Type on POST /users",
        from_reqwest(
            t.http
                .post(t.url("/users"))
                .body(r#"{"username":"a","password":"b"}"#)
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "no body and no Content-Type on POST /sessions",
        t.method("POST", "/sessions").await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "text/plain",
        t.post("/users", "text/plain", "username=a&password=b")
            .await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "multipart/form-data",
        t.post(
            "/sessions",
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\na\r\n--x--\r\n",
        )
        .await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "application/jsonp (a prefix of a known type)",
        t.post("/users", "application/jsonp", "{}").await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "Content-Type with non-UTF-8 bytes (raw)",
        t.raw(request(
            "POST",
            b"/users",
            b"Content-Type: application/json\xff\xfe\r\n",
            b"{}",
        ))
        .await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "PUT /reset_password with text/xml",
        from_reqwest(
            t.http
                .put(t.url("/reset_password"))
                .header("content-type", "text/xml")
                .body("<reset/>")
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "POST /login with text/plain",
        t.post("/login", "text/plain", "username=a").await,
        |r| html_page(r, 415),
    );
}

/// Broken, overlong and deeply nested JSON.
pub(super) async fn broken_json(t: &Target, cases: &mut Cases) {
    cases.check(
        "truncated JSON",
        t.post("/users", "application/json", r#"{"username": "a", "pass"#)
            .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "empty JSON body",
        t.post("/sessions", "application/json", "").await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON array instead of an object",
        t.post("/users", "application/json", r#"["a", "b"]"#).await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON string instead of an object",
        t.post("/sessions", "application/json", r#""username""#)
            .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON with trailing garbage",
        t.post(
            "/users",
            "application/json",
            r#"{"username":"tg","password":"correct horse battery staple 42"} x"#,
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    let nested = format!(r#"{{"username":{}{}}}"#, "[".repeat(8000), "]".repeat(8000));
    assert!(nested.len() < MAX_BODY);
    cases.check(
        "JSON nested 8000 deep",
        t.post("/users", "application/json", nested).await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    let nested_objects = format!("{}{}", r#"{"a":"#.repeat(2500), "}".repeat(2500));
    cases.check(
        "JSON objects nested 2500 deep",
        t.post("/sessions", "application/json", nested_objects)
            .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON number out of range",
        t.post(
            "/users",
            "application/json",
            r#"{"username":1e99999,"password":"x"}"#,
        )
        .await,
        |r| api_error(r, 400, &["invalid_body", "invalid_field"]),
    );
    cases.check(
        "JSON lone surrogate escape",
        t.post(
            "/users",
            "application/json",
            r#"{"username":"\ud800","password":"correct horse battery staple 42"}"#,
        )
        .await,
        |r| api_error(r, 400, &["invalid_body", "invalid_username"]),
    );
    cases.check(
        "overlong username (15 000 characters)",
        t.json(
            "/users",
            &json!({ "username": "u".repeat(15_000), "password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_username"]),
    );
    cases.check(
        "overlong email (300 characters)",
        t.json(
            "/users",
            &json!({ "email": format!("{}@example.com", "e".repeat(290)), "password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_email"]),
    );
    cases.check(
        "overlong full_name (201 characters)",
        t.json(
            "/users",
            &json!({ "username": "longname", "password": PASSWORD, "full_name": "n".repeat(201) }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
    cases.check(
        "overlong mothers_favorite_search_engine (101 characters)",
        t.json(
            "/users",
            &json!({ "username": "longengine", "password": PASSWORD,
                     "mothers_favorite_search_engine": "s".repeat(101) }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
    cases.check(
        "password of 1025 bytes",
        t.json(
            "/users",
            &json!({ "username": "longpw", "password": "é".repeat(512) + "x" }),
        )
        .await,
        |r| api_error(r, 400, &["password_too_long"]),
    );
}

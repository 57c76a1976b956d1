//! Hostile input over a real socket to the real binary: every case must get
//! the contract's 4xx in the contract's shape (docs/contract/3-json-api.md to 5-device-check.md), never a 500 or
//! a body that is not JSON on a JSON route, and the server must keep serving
//! afterwards. Where reqwest refuses to send something (bytes that are not
//! UTF-8, lying lengths, strange methods, unnormalised paths), the request is
//! written by hand on a `TcpStream`.

mod bodies;
mod checks;
mod raw;
mod requests;
mod routes;
mod target;
mod values;

use std::time::Duration;

use serde_json::json;

use checks::*;
use raw::*;
use target::*;

const MAX_BODY: usize = 16 * 1024;
const PASSWORD: &str = "correct horse battery staple 42";
const MACHINE: &str = "hostile-machine-0001";

#[tokio::test]
async fn hostile_inputs_get_the_contracts_4xx_and_the_server_keeps_serving() {
    let t = Target::start();
    let mut cases = Cases::default();
    let victim_token = t
        .account(
            "victim",
            json!({ "full_name": "<script>alert('x')</script> & \"quotes\"" }),
        )
        .await;
    let victim_cookie = format!("session_id={victim_token}");
    t.account("bystander", json!({})).await;

    bodies::oversized_bodies(&t, &mut cases).await;
    bodies::content_types(&t, &mut cases).await;
    bodies::broken_json(&t, &mut cases).await;
    values::wrong_types(&t, &mut cases).await;
    values::control_characters(&t, &mut cases).await;
    values::not_utf8(&t, &mut cases, &victim_cookie).await;
    requests::duplicates(&t, &mut cases, &victim_cookie).await;
    requests::huge_headers(&t, &mut cases).await;
    requests::path_tricks(&t, &mut cases, &victim_cookie).await;
    requests::wrong_methods(&t, &mut cases).await;
    values::injection_looking(&t, &mut cases, &victim_cookie).await;
    routes::website_guards(&t, &mut cases).await;
    routes::signed_in_routes(&t, &mut cases, &victim_cookie).await;
    routes::device_check(&t, &mut cases).await;
    routes::bad_reset(&t, &mut cases).await;

    cases.finish("hostile inputs", 40);
    t.still_serves("survivor").await;
}

/// A Content-Length far over the limit with only a little of the body sent:
/// the declared size alone says the body is over 16 KiB, so the contract's
/// 413 should come without waiting for bytes that will never arrive.
#[tokio::test]
async fn a_lying_content_length_over_the_limit_gets_413_without_waiting() {
    let t = Target::start();
    let mut cases = Cases::default();
    let mut lying = b"POST /users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n".to_vec();
    lying.extend_from_slice(br#"{"username":"liar","password":"#);
    cases.check(
        "Content-Length 10 MiB, 30 bytes sent, connection held open (raw)",
        send_raw(&t.addr, lying, Duration::from_secs(3)).await,
        |r| api_error(r, 413, &["payload_too_large"]),
    );
    cases.finish("lying Content-Length", 1);
    t.still_serves("after_liar").await;
}

/// docs/contract/3-json-api.md "Cross-site requests" and "Ambiguous requests" over a real
/// socket, with what `warp::test` cannot send: a cross-site form post to
/// `POST /sessions` (what a foreign page makes a browser send) gets 403 and
/// no cookie; two `Cookie` headers (as HTTP/2 sends them) with different
/// sessions count as none; two `Host` headers name no host to be the origin.
#[tokio::test]
async fn cross_site_and_ambiguous_requests_are_refused_over_a_socket() {
    let t = Target::start();
    let mut cases = Cases::default();
    let victim = t.account("victim", json!({})).await;
    let other = t.account("other", json!({})).await;
    let login = format!("username=victim&password={}", PASSWORD.replace(' ', "+"));
    let form_post = |origin_lines: &str| {
        request(
            "POST",
            b"/sessions",
            format!("{origin_lines}Content-Type: application/x-www-form-urlencoded\r\n").as_bytes(),
            login.as_bytes(),
        )
    };
    let no_cookie = |r: &Resp| match r.header("set-cookie") {
        None => Ok(()),
        Some(c) => Err(format!("a Set-Cookie on a refused login: {c}")),
    };
    for origin in [
        "https://evil.example",
        "null",
        "http://localhost:8080",
        "http://localhost.evil.example",
    ] {
        cases.check(
            &format!("cross-site form post to POST /sessions from {origin} (raw)"),
            t.raw(form_post(&format!("Origin: {origin}\r\n"))).await,
            |r| {
                api_error(r, 403, &["cross_origin"])?;
                no_cookie(r)
            },
        );
    }
    cases.check(
        "two Origin headers, one of them this site (raw)",
        t.raw(form_post(
            "Origin: http://localhost\r\nOrigin: https://evil.example\r\n",
        ))
        .await,
        |r| {
            api_error(r, 403, &["cross_origin"])?;
            no_cookie(r)
        },
    );
    // The request() helper sends `Host: localhost`; a second Host leaves no
    // host to compare the Origin with.
    let mut two_hosts = form_post("Host: evil.example\r\nOrigin: http://evil.example\r\n");
    let at = two_hosts
        .windows(17)
        .position(|w| w == b"Host: localhost\r\n")
        .expect("the Host line");
    two_hosts.splice(at..at, b"Host: evil.example\r\n".iter().copied());
    cases.check(
        "two Host headers and an Origin naming one of them (raw)",
        t.raw(two_hosts).await,
        |r| {
            if r.status != 400 {
                api_error(r, 403, &["cross_origin"])?;
            }
            no_cookie(r)
        },
    );
    cases.check(
        "same-origin form post to POST /sessions (raw)",
        t.raw(form_post("Origin: http://localhost\r\n")).await,
        |r| match (r.status, r.header("set-cookie")) {
            (200, Some(c)) if c.starts_with("session_id=") => Ok(()),
            _ => Err(format!("expected a login, got {}", r.summary())),
        },
    );
    cases.check(
        "a form post to POST /sessions without Origin (raw)",
        t.raw(form_post("")).await,
        |r| match r.status {
            200 => Ok(()),
            _ => Err(format!("expected a login, got {}", r.summary())),
        },
    );

    let profile = |cookie_lines: &str| request("GET", b"/profile", cookie_lines.as_bytes(), b"");
    cases.check(
        "two Cookie headers with two users' sessions: GET /profile (raw)",
        t.raw(profile(&format!(
            "Cookie: session_id={victim}\r\nCookie: session_id={other}\r\n"
        )))
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "one Cookie header with two users' sessions: GET /profile (raw)",
        t.raw(profile(&format!(
            "Cookie: session_id={other}; session_id={victim}\r\n"
        )))
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "two Cookie headers with one session twice: GET /profile (raw)",
        t.raw(profile(&format!(
            "Cookie: session_id={victim}\r\nCookie: a=1; session_id={victim}\r\n"
        )))
        .await,
        |r| match json_body(r) {
            Ok(body) if r.status == 200 && body == json!({"username": "victim"}) => Ok(()),
            _ => Err(format!("expected victim's profile, got {}", r.summary())),
        },
    );
    cases.check(
        "two Cookie headers with two sessions: GET /me (raw)",
        t.raw(request(
            "GET",
            b"/me",
            format!("Accept: text/html\r\nCookie: session_id={victim}\r\nCookie: session_id={other}\r\n")
                .as_bytes(),
            b"",
        ))
        .await,
        |r| redirect_to(r, 303, "/login"),
    );
    cases.check(
        "duplicate JSON member through \\u escapes in POST /sessions (raw)",
        t.raw(request(
            "POST",
            b"/sessions",
            b"Content-Type: application/json\r\n",
            format!(
                r#"{{"username": "other", "user\u006eame": "victim", "password": "{PASSWORD}"}}"#
            )
            .as_bytes(),
        ))
        .await,
        |r| {
            api_error(r, 400, &["invalid_body"])?;
            no_cookie(r)
        },
    );
    cases.finish("cross-site and ambiguous requests", 12);
    t.still_serves("after_cross_site").await;
}

use super::body::read_limited;
use super::*;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use warp::http::{HeaderValue, StatusCode};

use crate::error::ApiError;

fn headers(content_type: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap(),
    );
    h
}

fn parse(content_type: &str, body: &[u8]) -> Result<Body, ApiError> {
    Body::parse(
        &headers(content_type),
        RawBody(Ok(Bytes::copy_from_slice(body))),
    )
}

/// The body read into `T`.
fn read<T: DeserializeOwned>(content_type: &str, body: &[u8]) -> Result<T, ApiError> {
    parse(content_type, body)?.read()
}

#[derive(Debug, Deserialize)]
struct A {
    a: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Required {
    a: String,
}

#[test]
fn json_null_and_wrong_types_name_the_field() {
    let null = read::<A>("application/json", br#"{"a": null, "b": 5}"#).unwrap_err();
    assert_eq!(null.code, "invalid_field");
    assert_eq!(null.message, "a must be a string, not null");
    for wrong in [
        r#"{"a": 5}"#,
        r#"{"a": true}"#,
        r#"{"a": [1]}"#,
        r#"{"a": {"k": 1}}"#,
        r#"{"a": -1.5}"#,
    ] {
        let error = read::<A>("application/json", wrong.as_bytes()).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            ("invalid_field", "a must be a string"),
            "{wrong}"
        );
    }
    let given = read::<A>("application/json", br#"{"a": "x", "b": 5}"#).unwrap();
    assert_eq!(given.a.as_deref(), Some("x"));
    assert_eq!(read::<A>("application/json", b"{}").unwrap().a, None);
    let missing = read::<Required>("application/json", br#"{"b": "x"}"#).unwrap_err();
    assert_eq!(
        (missing.code, missing.message.as_str()),
        ("missing_field", "a is required")
    );
}

#[derive(Debug, Deserialize)]
struct ThreeFields {
    first: Option<String>,
    second: String,
    third: Option<String>,
}

#[test]
fn faults_are_told_in_the_order_of_the_struct_not_of_the_body() {
    // The body names `third` first; `first` is the fault told.
    let error = read::<ThreeFields>(
        "application/json",
        br#"{"third": 5, "second": "x", "first": null}"#,
    )
    .unwrap_err();
    assert_eq!(error.message, "first must be a string, not null");
    // A missing field is told at its place, before a later wrong type.
    let error = read::<ThreeFields>("application/json", br#"{"third": 5}"#).unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        ("missing_field", "second is required")
    );
    let error = read::<ThreeFields>("application/json", br#"{"first": 1}"#).unwrap_err();
    assert_eq!(error.message, "first must be a string");
    let form =
        read::<ThreeFields>("application/x-www-form-urlencoded", b"third=3&second=2").unwrap();
    assert_eq!(
        (form.first, form.second.as_str(), form.third.as_deref()),
        (None, "2", Some("3"))
    );
}

#[derive(Debug, Deserialize)]
struct Later {
    gate: Option<String>,
    later: Deferred,
}

#[test]
fn a_deferred_field_tells_its_fault_only_when_read() {
    let body = read::<Later>("application/json", br#"{"later": null}"#).unwrap();
    assert_eq!(body.gate, None);
    let error = body.later.required("later").unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        ("invalid_field", "later must be a string, not null")
    );
    let body = read::<Later>("application/json", br#"{"later": 7}"#).unwrap();
    assert_eq!(
        body.later.optional("later").unwrap_err().message,
        "later must be a string"
    );
    let body = read::<Later>("application/json", b"{}").unwrap();
    let error = body.later.required("later").unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        ("missing_field", "later is required")
    );
    let body = read::<Later>("application/x-www-form-urlencoded", b"later=x").unwrap();
    assert_eq!(body.later.optional("later").unwrap().as_deref(), Some("x"));
}

#[derive(Debug, Deserialize)]
struct Credential {
    credential: JsonText,
}

#[test]
fn a_json_text_field_takes_an_object_or_its_text() {
    let object = read::<Credential>(
        "application/json",
        br#"{"credential": {"id": "AA", "n": [1, null]}}"#,
    )
    .unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&object.credential.0).unwrap();
    assert_eq!(parsed, serde_json::json!({"id": "AA", "n": [1, null]}));
    let text = read::<Credential>("application/json", br#"{"credential": "{\"id\":1}"}"#).unwrap();
    assert_eq!(text.credential.0, r#"{"id":1}"#);
    let form =
        read::<Credential>("application/x-www-form-urlencoded", b"credential=%7B%7D").unwrap();
    assert_eq!(form.credential.0, "{}");
    let null = read::<Credential>("application/json", br#"{"credential": null}"#).unwrap_err();
    assert_eq!(
        null.message,
        "credential must be a string (its JSON text) or an object, not null"
    );
    let number = read::<Credential>("application/json", br#"{"credential": 5}"#).unwrap_err();
    assert_eq!(
        number.message,
        "credential must be a string (its JSON text) or an object"
    );
    let missing = read::<Credential>("application/json", b"{}").unwrap_err();
    assert_eq!(
        (missing.code, missing.message.as_str()),
        ("missing_field", "credential is required")
    );
}

#[test]
fn the_string_null_is_a_string() {
    let form = read::<Required>("application/x-www-form-urlencoded", b"a=null").unwrap();
    assert_eq!(form.a, "null");
    let json = read::<Required>("application/json; charset=utf-8", br#"{"a": "null"}"#).unwrap();
    assert_eq!(json.a, "null");
}

#[test]
fn bad_bodies_and_types() {
    assert_eq!(
        parse("application/json", b"{").unwrap_err().code,
        "invalid_body"
    );
    assert_eq!(
        parse("application/json", b"[1]").unwrap_err().code,
        "invalid_body"
    );
    assert_eq!(
        parse("text/plain", b"a=b").unwrap_err().status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let none = Body::parse(&HeaderMap::new(), RawBody(Ok(Bytes::new())));
    assert_eq!(none.unwrap_err().status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        parse("application/x-www-form-urlencoded", b"a=%FF")
            .unwrap_err()
            .code,
        "invalid_body"
    );
    assert_eq!(
        parse("application/x-www-form-urlencoded", b"a=%C3%A9&b=%FF%FE")
            .unwrap_err()
            .code,
        "invalid_body"
    );
    #[derive(Deserialize)]
    struct Abc {
        a: String,
        b: String,
        c: String,
    }
    let decoded: Abc = read("application/x-www-form-urlencoded", b"a=%C3%A9+x%2B&b=&c").unwrap();
    assert_eq!(
        (decoded.a.as_str(), decoded.b.as_str(), decoded.c.as_str()),
        ("é x+", "", "")
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        parse("application/json", deep.as_bytes()).unwrap_err().code,
        "invalid_body"
    );
}

#[test]
fn a_field_or_member_given_twice_in_any_spelling_is_refused() {
    const FORM: &str = "application/x-www-form-urlencoded";
    for body in [
        "a=1&a=2",
        "a=1&a=1",
        "username=x&password=p&user%6Eame=y",
        "%75%73%65%72%6e%61%6d%65=x&username=y",
        "username=x&username",
        "username&username=",
        "full+name=x&full%20name=y",
        "=1&=2",
        "username=x&&username=y",
        "%C3%A9=1&\u{e9}=2",
    ] {
        let error = parse(FORM, body.replace("\\u{e9}", "é").as_bytes()).unwrap_err();
        assert_eq!(error.code, "invalid_body", "{body}");
        assert!(
            error.message.contains("more than once"),
            "{body}: {error:?}"
        );
    }
    for body in [
        r#"{"password": "a", "password": "b"}"#,
        r#"{"username": "x", "user\u006eame": "y"}"#,
        r#"{"\u0075\u0073\u0065\u0072\u006e\u0061\u006d\u0065": "x", "username": "y"}"#,
        r#"{"username": "x", "extra": {"k": 1, "k": 2}}"#,
        r#"{"username": "x", "list": [{"k": 1, "k": 1}]}"#,
    ] {
        let error = parse("application/json", body.as_bytes()).unwrap_err();
        assert_eq!(error.code, "invalid_body", "{body}");
        assert!(
            error.message.contains("more than once"),
            "{body}: {error:?}"
        );
    }
    // Names are case-sensitive: Username is another, unknown field, and
    // `username` is read from the one field of that name.
    #[derive(Deserialize)]
    struct Username {
        username: String,
    }
    let form: Username = read(FORM, b"username=x&Username=y&USERNAME=z").unwrap();
    assert_eq!(form.username, "x");
    let json: Username =
        read("application/json", br#"{"username": "x", "Username": "y"}"#).unwrap();
    assert_eq!(json.username, "x");
    // Two content types are two readings of one body.
    let mut headers = headers(FORM);
    headers.append(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let error = Body::parse(&headers, RawBody(Ok(Bytes::from_static(b"a=1")))).unwrap_err();
    assert_eq!(error.code, "invalid_body");
}

#[tokio::test]
async fn bodies_over_16_kib_are_refused_while_reading() {
    let chunks: Vec<Result<Bytes, warp::Error>> = (0..2)
        .map(|_| Ok(Bytes::from(vec![b'a'; 10_000])))
        .collect();
    let err = read_limited(futures_util::stream::iter(chunks))
        .await
        .unwrap_err();
    assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    let exact = vec![Ok::<_, warp::Error>(Bytes::from(vec![
        b'a';
        MAX_BODY_BYTES
    ]))];
    assert_eq!(
        read_limited(futures_util::stream::iter(exact))
            .await
            .unwrap()
            .len(),
        MAX_BODY_BYTES
    );
}

#[test]
fn browsers_prefer_html_and_scripts_do_not() {
    let with_accept = |accept: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        RequestCtx {
            headers,
            remote: None,
            authority: None,
        }
        .prefers_html()
    };
    assert!(with_accept(
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    ));
    assert!(!with_accept("*/*"));
    assert!(!with_accept("application/json"));
    assert!(!with_accept("text/html;q=0.5, application/json"));
    assert!(!with_accept("text/html;q=0"));
}

#[test]
fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_static("198.51.100.7, 10.0.0.2"),
    );
    let ctx = RequestCtx {
        headers,
        remote: Some("10.0.0.1:4000".parse().unwrap()),
        authority: None,
    };
    let proxy: IpAddr = "10.0.0.1".parse().unwrap();
    let inner_proxy: IpAddr = "10.0.0.2".parse().unwrap();
    assert_eq!(ctx.client_addr(&[]), Some(proxy));
    assert_eq!(ctx.client_addr(&[proxy.into()]), Some(inner_proxy));
    assert_eq!(
        ctx.client_addr(&["10.0.0.0/30".parse().unwrap()]),
        Some("198.51.100.7".parse().unwrap())
    );
    assert_eq!(
        ctx.client_addr(&[proxy.into(), inner_proxy.into()]),
        Some("198.51.100.7".parse().unwrap())
    );
}

fn with_cookies(values: &[&[u8]]) -> RequestCtx {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(header::COOKIE, HeaderValue::from_bytes(value).unwrap());
    }
    RequestCtx {
        headers,
        remote: None,
        authority: None,
    }
}

#[test]
fn a_cookie_given_twice_with_different_values_counts_as_none() {
    let cookie = |values: &[&[u8]]| with_cookies(values).cookie("session_id");
    assert_eq!(cookie(&[b"a=1; session_id=one"]).as_deref(), Some("one"));
    assert_eq!(cookie(&[b"a=1"]), None);
    // The same value twice is one cookie, in one header or across two.
    assert_eq!(
        cookie(&[b"session_id=one; session_id=one"]).as_deref(),
        Some("one")
    );
    assert_eq!(
        cookie(&[b"session_id=one", b"b=2; session_id=one"]).as_deref(),
        Some("one")
    );
    // Different values: none, in one header or across two (HTTP/2).
    assert_eq!(cookie(&[b"session_id=one; session_id=two"]), None);
    assert_eq!(cookie(&[b"session_id=one", b"session_id=two"]), None);
    assert_eq!(cookie(&[b"session_id=one", b"session_id="]), None);
    assert_eq!(cookie(&[b"session_id=one; session_id=\"one\""]), None);
    // A header that is not text still counts against the other.
    assert_eq!(cookie(&[b"session_id=\xff", b"session_id=one"]), None);
    assert_eq!(
        cookie(&[b"x=\xff", b"session_id=one"]).as_deref(),
        Some("one")
    );
    // Names are case-sensitive, as browsers keep them.
    assert_eq!(
        cookie(&[b"Session_id=two; session_id=one"]).as_deref(),
        Some("one")
    );
}

fn with_origin(origins: &[&str], authority: Option<&str>) -> RequestCtx {
    let mut headers = HeaderMap::new();
    for origin in origins {
        headers.append(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
    }
    RequestCtx {
        headers,
        remote: None,
        authority: authority.map(str::to_owned),
    }
}

#[test]
fn origins_are_compared_as_browsers_compare_them() {
    use RequestOrigin::*;
    let by_host = |origin: &str, host: &str| with_origin(&[origin], Some(host)).origin(None);
    assert_eq!(with_origin(&[], Some("a.example")).origin(None), Absent);
    assert_eq!(by_host("null", "a.example"), Opaque);
    assert_eq!(by_host("http://a.example", "a.example"), Same);
    assert_eq!(by_host("https://a.example", "a.example"), Same);
    assert_eq!(by_host("http://a.example:80", "a.example"), Same);
    assert_eq!(by_host("http://a.example", "a.example:80"), Same);
    assert_eq!(by_host("https://a.example:443", "A.Example"), Same);
    assert_eq!(by_host("HTTP://A.EXAMPLE", "a.example"), Same);
    assert_eq!(by_host("http://127.0.0.1:5000", "127.0.0.1:5000"), Same);
    assert_eq!(by_host("http://[::1]:5000", "[::1]:5000"), Same);
    assert_eq!(by_host("http://[0:0::1]:5000", "[::1]:5000"), Same);
    assert_eq!(by_host("http://[::1]:5000", "[0:0:0:0:0:0:0:1]:5000"), Same);
    assert_eq!(by_host("https://a.example", "a.example:80"), Foreign);
    assert_eq!(by_host("http://a.example:5000", "a.example"), Foreign);
    assert_eq!(by_host("http://a.example", "a.example:5000"), Foreign);
    assert_eq!(by_host("http://[::2]:5000", "[::1]:5000"), Foreign);
    assert_eq!(by_host("http://a.example.evil", "a.example"), Foreign);
    assert_eq!(by_host("http://evil.a.example", "a.example"), Foreign);
    assert_eq!(by_host("https://evil.example", "a.example"), Foreign);
    assert_eq!(by_host("ftp://a.example", "a.example"), Foreign);
    assert_eq!(by_host("a.example", "a.example"), Foreign);
    assert_eq!(by_host("NULL", "a.example"), Foreign);
    assert_eq!(by_host("null ", "a.example"), Foreign);
    // Not a bare origin: refused rather than read leniently.
    for odd in [
        "http://a.example/",
        "http://a.example/path",
        "http://a.example?x",
        "http://a.example#x",
        "http://user@a.example",
        "http://evil.example@a.example",
        "http://a.example\\@evil.example",
        "http://a.exa\tmple",
        " http://a.example",
        "http://a.example, http://a.example",
    ] {
        assert_eq!(by_host(odd, "a.example"), Foreign, "{odd:?}");
    }
    // No host to compare with, or a Host with a user in it.
    assert_eq!(
        with_origin(&["http://a.example"], None).origin(None),
        Foreign
    );
    assert_eq!(by_host("http://a.example", "u@a.example"), Foreign);
    // Two Origin headers, even equal ones, are one too many.
    assert_eq!(
        with_origin(&["http://a.example", "http://a.example"], Some("a.example")).origin(None),
        Foreign
    );
    // With --public-url, the host of the request does not matter.
    let public = Some("https://auth.example");
    let by_public = |origin: &str| with_origin(&[origin], Some("internal:5000")).origin(public);
    assert_eq!(by_public("https://auth.example"), Same);
    assert_eq!(by_public("https://AUTH.example:443"), Same);
    assert_eq!(by_public("http://auth.example"), Foreign);
    assert_eq!(by_public("http://internal:5000"), Foreign);
    assert_eq!(by_public("null"), Opaque);
    assert_eq!(
        with_origin(&["http://h:8080"], None).origin(Some("http://H:8080")),
        Same
    );
}

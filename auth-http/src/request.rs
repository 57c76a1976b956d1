//! What handlers read from a request: headers, client address, cookies and
//! the form or JSON body, each with the contract's 4xx for bad input.

use std::net::{IpAddr, SocketAddr};

use auth_core::ClientInfo;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde_json::{Map, Value};
use warp::http::header::{self, HeaderMap};
use warp::http::StatusCode;
use warp::{Filter, Rejection};

use crate::error::ApiError;
use crate::strict_json::{self, StrictJsonError};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The parts of a request every handler may need.
#[derive(Debug, Clone)]
pub(crate) struct RequestCtx {
    pub headers: HeaderMap,
    pub remote: Option<SocketAddr>,
    /// The request's host (`Host` header, or the URI's authority under
    /// HTTP/2); read only by the routes that check `Origin`.
    pub authority: Option<String>,
}

/// Extracts the headers and the peer address.
pub(crate) fn ctx() -> impl Filter<Extract = (RequestCtx,), Error = std::convert::Infallible> + Clone
{
    warp::header::headers_cloned()
        .and(crate::server::remote_addr())
        .map(|headers, remote| RequestCtx {
            headers,
            remote,
            authority: None,
        })
}

/// [`ctx`] with the request's host filled in; an unreadable or conflicting
/// host counts as none, so the `Origin` check refuses rather than rejects.
pub(crate) fn ctx_with_authority(
) -> impl Filter<Extract = (RequestCtx,), Error = std::convert::Infallible> + Clone {
    let authority = warp::host::optional().or(warp::any().map(|| None)).unify();
    ctx().and(authority).map(
        |mut ctx: RequestCtx, authority: Option<warp::host::Authority>| {
            // warp reads the first `Host`; two of them name no host at all.
            let hosts = ctx.headers.get_all(header::HOST).iter().count();
            ctx.authority = authority.filter(|_| hosts <= 1).map(|a| a.to_string());
            ctx
        },
    )
}

impl RequestCtx {
    /// The client's address: the peer, or for a trusted proxy the last
    /// address of `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_addr(&self, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
        let peer = self.remote?.ip();
        if !trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded = self
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|hop| !trusted_proxies.contains(hop))
                .unwrap_or(peer),
        )
    }

    /// Address and user agent, for the audit log and the session list.
    pub fn client_info(&self, trusted_proxies: &[IpAddr]) -> ClientInfo {
        ClientInfo {
            addr: self.client_addr(trusted_proxies),
            user_agent: self
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            request_id: crate::request_id::current(),
        }
    }

    /// The value of the named cookie, read from every `Cookie` header (HTTP/2
    /// sends one header per cookie). A name given more than once with
    /// different values is ambiguous (a cookie planted for another path or by
    /// a sibling domain shadows the real one), so it counts as absent; the
    /// same value twice is one cookie. Names are case-sensitive, as browsers
    /// keep them. A header that is not text is read lossily, so a cookie of
    /// the name in it still counts, as a value that matches no other.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let mut found: Option<String> = None;
        for value in self.headers.get_all(header::COOKIE) {
            let text = String::from_utf8_lossy(value.as_bytes());
            for cookie in cookie::Cookie::split_parse(text.as_ref()).filter_map(Result::ok) {
                if cookie.name() != name {
                    continue;
                }
                match &found {
                    None => found = Some(cookie.value().to_owned()),
                    Some(earlier) if earlier == cookie.value() => {}
                    Some(_) => return None,
                }
            }
        }
        found
    }

    /// Where the request says it comes from, by its `Origin` header, judged
    /// against `public_url` (`--public-url`) or, without one, the request's
    /// own host ([`ctx_with_authority`] must have filled it in). The one
    /// `Origin` check of the web forms and the JSON API.
    ///
    /// Origins are compared as browsers compare them (scheme, host, port):
    /// `http://h:80` is `http://h`, host names are case-insensitive, IPv6
    /// literals are compared as addresses. Two `Origin` headers, a value that
    /// is not a bare `scheme://host[:port]`, or no host to compare with, are
    /// [`RequestOrigin::Foreign`].
    pub fn origin(&self, public_url: Option<&str>) -> RequestOrigin {
        let mut values = self.headers.get_all(header::ORIGIN).iter();
        let Some(value) = values.next() else {
            return RequestOrigin::Absent;
        };
        if values.next().is_some() {
            return RequestOrigin::Foreign;
        }
        let Ok(text) = value.to_str() else {
            return RequestOrigin::Foreign;
        };
        if text == "null" {
            return RequestOrigin::Opaque;
        }
        let Some(origin) = parse_origin(text) else {
            return RequestOrigin::Foreign;
        };
        let ours = match public_url {
            Some(public) => url::Url::parse(public).ok().map(|url| url.origin()),
            None => self.authority.as_deref().and_then(|authority| {
                let url = url::Url::parse(&format!("{}://{authority}/", origin.scheme())).ok()?;
                let bare = url.username().is_empty() && url.password().is_none();
                bare.then(|| url.origin())
            }),
        };
        match ours {
            Some(ours) if ours.is_tuple() && ours == origin.origin() => RequestOrigin::Same,
            _ => RequestOrigin::Foreign,
        }
    }

    /// Whether the client prefers HTML over JSON (a browser).
    pub fn prefers_html(&self) -> bool {
        let Some(accept) = self
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let quality = |wanted: &str| {
            accept
                .split(',')
                .filter_map(|range| {
                    let mut parts = range.split(';');
                    let media = parts.next()?.trim();
                    if !media.eq_ignore_ascii_case(wanted) {
                        return None;
                    }
                    let q = parts
                        .filter_map(|p| p.trim().strip_prefix("q="))
                        .find_map(|q| q.trim().parse::<f32>().ok())
                        .unwrap_or(1.0);
                    Some(q)
                })
                .fold(0.0f32, f32::max)
        };
        let html = quality("text/html");
        html > 0.0 && html > quality("application/json")
    }
}

/// What a request's `Origin` header says about where it was sent from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestOrigin {
    /// No `Origin`: not a browser's cross-origin request (scripts, the
    /// Holberton clients, the desktop client).
    Absent,
    /// `Origin: null`, an opaque origin: a sandboxed frame, a `data:` page,
    /// or any page with `Referrer-Policy: no-referrer` (ours, and an
    /// attacker's just as easily).
    Opaque,
    /// This site.
    Same,
    /// Another site, or a value that cannot be read as an origin.
    Foreign,
}

/// An `Origin` value as a URL, if it is exactly an `http` or `https` origin
/// (`scheme://host[:port]`): no white space or backslash (which URL parsing
/// would quietly drop or turn into a slash), no user, path, query or fragment.
fn parse_origin(text: &str) -> Option<url::Url> {
    if text.bytes().any(|b| b <= b' ' || b == b'\\' || b >= 0x7f) {
        return None;
    }
    // A serialized origin ends with its host or port: nothing that URL
    // parsing would tidy away, not even a slash.
    let (_, authority) = text.split_once("://")?;
    if authority.contains(['/', '?', '#', '@']) {
        return None;
    }
    let url = url::Url::parse(text).ok()?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    bare.then_some(url)
}

/// A request body read up to [`MAX_BODY_BYTES`], or the 413 for a larger one.
#[derive(Debug)]
pub(crate) struct RawBody(Result<Bytes, ApiError>);

/// Reads the body, stopping as soon as it passes the limit.
/// A body declared larger than the limit is refused at once, without waiting
/// for it, and a body that trickles in is given up after [`BODY_READ_TIMEOUT`],
/// so a client cannot hold a connection open by promising bytes.
pub(crate) fn raw_body() -> impl Filter<Extract = (RawBody,), Error = Rejection> + Clone {
    let declared_length = warp::header::optional::<u64>("content-length")
        .or(warp::any().map(|| None))
        .unify();
    declared_length
        .and(warp::body::stream())
        .then(|declared: Option<u64>, stream| async move {
            if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
                return RawBody(Err(too_large()));
            }
            match tokio::time::timeout(BODY_READ_TIMEOUT, read_limited(stream)).await {
                Ok(body) => RawBody(body),
                Err(_) => RawBody(Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "invalid_body",
                    "the request body did not arrive in time",
                ))),
            }
        })
}

/// How long a request body may take to arrive.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "body is larger than 16 KiB",
    )
}

async fn read_limited<B: Buf>(
    stream: impl Stream<Item = Result<B, warp::Error>>,
) -> Result<Bytes, ApiError> {
    let mut stream = std::pin::pin!(stream);
    let mut body = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|_| {
            ApiError::bad_request("invalid_body", "the request body could not be read")
        })?;
        if body.len() + chunk.remaining() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            body.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(body.freeze())
}

/// Decodes `application/x-www-form-urlencoded` strictly: a name or value
/// whose bytes are not UTF-8 makes the whole body invalid, where lossy
/// decoding would turn different passwords into the same one.
fn decode_form(body: &[u8]) -> Option<Vec<(String, String)>> {
    let decode = |part: &[u8]| -> Option<String> {
        let spaced: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
        String::from_utf8(bytes).ok()
    };
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let name = decode(halves.next().unwrap_or_default())?;
            let value = decode(halves.next().unwrap_or_default())?;
            Some((name, value))
        })
        .collect()
}

/// The first name a form gives twice. Names are compared as decoded
/// (`user%6Eame` is `username`, `+` is a space like `%20`) and exactly
/// otherwise: form field names are case-sensitive, so `Username` is another
/// field, one we do not know and ignore.
fn repeated_name(pairs: &[(String, String)]) -> Option<&str> {
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    pairs
        .iter()
        .map(|(name, _)| name.as_str())
        .find(|name| !seen.insert(*name))
}

/// The fields of a form or JSON body, each name given at most once.
#[derive(Debug)]
pub(crate) enum Fields {
    Json(Map<String, Value>),
    Form(Vec<(String, String)>),
}

impl Fields {
    /// Decodes the body by its content type: 413, 415 and 400 as the contract says.
    pub fn parse(headers: &HeaderMap, body: RawBody) -> Result<Fields, ApiError> {
        let bytes = body.0?;
        let unsupported = || {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/x-www-form-urlencoded or application/json",
            )
        };
        let mut content_types = headers.get_all(header::CONTENT_TYPE).iter();
        let content_type = content_types
            .next()
            .ok_or_else(unsupported)?
            .to_str()
            .map_err(|_| unsupported())?;
        if content_types.next().is_some() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the Content-Type header is given more than once",
            ));
        }
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => match strict_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => Ok(Fields::Json(map)),
                Ok(_) => Err(ApiError::bad_request(
                    "invalid_body",
                    "the body must be a JSON object",
                )),
                Err(StrictJsonError::DuplicateMember(name)) => Err(ApiError::bad_request(
                    "invalid_body",
                    format!("the body gives the member {name:?} more than once"),
                )),
                Err(StrictJsonError::Syntax(e)) => Err(ApiError::bad_request(
                    "invalid_body",
                    format!("the body is not valid JSON: {e}"),
                )),
            },
            "application/x-www-form-urlencoded" => {
                let pairs = decode_form(&bytes).ok_or_else(|| {
                    ApiError::bad_request("invalid_body", "the body is not a valid UTF-8 form")
                })?;
                match repeated_name(&pairs) {
                    Some(name) => Err(ApiError::bad_request(
                        "invalid_body",
                        format!(
                            "the body gives the field {:?} more than once",
                            name.chars().take(64).collect::<String>()
                        ),
                    )),
                    None => Ok(Fields::Form(pairs)),
                }
            }
            _ => Err(unsupported()),
        }
    }

    /// A string field that may be absent; JSON `null` or another JSON type is
    /// a 400 naming the field.
    pub fn optional(&self, name: &'static str) -> Result<Option<String>, ApiError> {
        match self {
            Fields::Json(map) => match map.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Null) => Err(ApiError::bad_request(
                    "invalid_field",
                    format!("{name} must be a string, not null"),
                )),
                Some(_) => Err(ApiError::bad_request(
                    "invalid_field",
                    format!("{name} must be a string"),
                )),
            },
            // `parse` has refused a form that repeats a name.
            Fields::Form(pairs) => Ok(pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())),
        }
    }

    /// Like [`Fields::optional`], with an empty value counted as absent (for
    /// identifiers, where a form sends an empty field it means nothing by).
    pub fn optional_nonempty(&self, name: &'static str) -> Result<Option<String>, ApiError> {
        Ok(self.optional(name)?.filter(|v| !v.is_empty()))
    }

    /// A string field that must be present.
    pub fn required(&self, name: &'static str) -> Result<String, ApiError> {
        self.optional(name)?
            .ok_or_else(|| ApiError::bad_request("missing_field", format!("{name} is required")))
    }

    /// A field that holds a JSON object (a WebAuthn credential), as JSON
    /// text: in a JSON body the object itself (or its text as a string), in
    /// a form its text. Whether the text is the object wanted is for the
    /// caller to judge; JSON `null` or another type is a 400 naming the field.
    pub fn json_text(&self, name: &'static str) -> Result<String, ApiError> {
        match self {
            Fields::Json(map) => match map.get(name) {
                None => Err(ApiError::bad_request(
                    "missing_field",
                    format!("{name} is required"),
                )),
                Some(object @ Value::Object(_)) => Ok(object.to_string()),
                Some(Value::String(text)) => Ok(text.clone()),
                Some(Value::Null) => Err(ApiError::bad_request(
                    "invalid_field",
                    format!("{name} must be a string (its JSON text) or an object, not null"),
                )),
                Some(_) => Err(ApiError::bad_request(
                    "invalid_field",
                    format!("{name} must be a string (its JSON text) or an object"),
                )),
            },
            Fields::Form(_) => self.required(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        h
    }

    fn parse(content_type: &str, body: &[u8]) -> Result<Fields, ApiError> {
        Fields::parse(
            &headers(content_type),
            RawBody(Ok(Bytes::copy_from_slice(body))),
        )
    }

    #[test]
    fn json_null_and_wrong_types_name_the_field() {
        let fields = parse("application/json", br#"{"a": null, "b": 5, "c": "x"}"#).unwrap();
        assert_eq!(fields.optional("a").unwrap_err().code, "invalid_field");
        assert!(fields
            .optional("a")
            .unwrap_err()
            .message
            .contains("a must be a string, not null"));
        assert_eq!(fields.optional("b").unwrap_err().code, "invalid_field");
        assert_eq!(fields.optional("c").unwrap(), Some("x".into()));
        assert_eq!(fields.required("d").unwrap_err().code, "missing_field");
    }

    #[test]
    fn the_string_null_is_a_string() {
        let form = parse("application/x-www-form-urlencoded", b"password=null").unwrap();
        assert_eq!(form.required("password").unwrap(), "null");
        let json = parse(
            "application/json; charset=utf-8",
            br#"{"password": "null"}"#,
        )
        .unwrap();
        assert_eq!(json.required("password").unwrap(), "null");
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
        let none = Fields::parse(&HeaderMap::new(), RawBody(Ok(Bytes::new())));
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
        let decoded = parse("application/x-www-form-urlencoded", b"a=%C3%A9+x%2B&b=&c").unwrap();
        assert_eq!(decoded.required("a").unwrap(), "é x+");
        assert_eq!(decoded.required("b").unwrap(), "");
        assert_eq!(decoded.required("c").unwrap(), "");
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
        let form = parse(FORM, b"username=x&Username=y&USERNAME=z").unwrap();
        assert_eq!(form.required("username").unwrap(), "x");
        let json = parse("application/json", br#"{"username": "x", "Username": "y"}"#).unwrap();
        assert_eq!(json.required("username").unwrap(), "x");
        // Two content types are two readings of one body.
        let mut headers = headers(FORM);
        headers.append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let error = Fields::parse(&headers, RawBody(Ok(Bytes::from_static(b"a=1")))).unwrap_err();
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
        assert_eq!(ctx.client_addr(&[proxy]), Some(inner_proxy));
        assert_eq!(
            ctx.client_addr(&[proxy, inner_proxy]),
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
}

#[cfg(test)]
mod proptests {
    //! Property tests of body decoding (docs/contract/3-json-api.md).

    use super::*;
    use proptest::prelude::*;
    use warp::http::HeaderValue;

    const FORM: &str = "application/x-www-form-urlencoded";

    fn parse(content_type: &str, body: &[u8]) -> Result<Fields, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        Fields::parse(&headers, RawBody(Ok(Bytes::copy_from_slice(body))))
    }

    fn content_type() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            FORM,
            "application/x-www-form-urlencoded; charset=UTF-8",
        ])
    }

    /// Any text, with the characters a form encodes specially.
    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                3 => any::<char>(),
                2 => prop::sample::select(vec!['&', '=', '+', '%', ' ', ';', '\0', 'é', '𝄞']),
            ],
            0..24,
        )
        .prop_map(String::from_iter)
    }

    /// Bytes that look a little like forms and JSON, and some that do not.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..8),
            prop::sample::select(vec![
                "&", "=", "+", "%", "%2", "%FF", "%C3%A9", "{", "}", "[", "]", "\"", ":", ",",
                "null", "\\u0000", "\\ud800", "1e999", "-0",
            ])
            .prop_map(|s| s.as_bytes().to_vec()),
        ];
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat()),
        ]
    }

    proptest! {
        #[test]
        fn any_body_gives_fields_or_a_client_error(content_type in content_type(), body in body()) {
            match parse(content_type, &body) {
                Ok(Fields::Json(_)) => {
                    prop_assert!(content_type.to_ascii_lowercase().contains("json"));
                }
                Ok(Fields::Form(_)) => prop_assert!(content_type.contains("form")),
                Err(error) => {
                    prop_assert!(error.status.is_client_error(), "{:?}", error);
                    prop_assert_eq!(error.code, "invalid_body");
                }
            }
        }

        #[test]
        fn any_content_type_gives_fields_or_a_client_error(
            content_type in "[ -~]{0,60}",
            body in body(),
        ) {
            let essence = content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            match parse(&content_type, &body) {
                Ok(_) => prop_assert!(essence == "application/json" || essence == FORM),
                Err(error) => {
                    prop_assert!(error.status.is_client_error(), "{:?}", error);
                    if essence != "application/json" && essence != FORM {
                        prop_assert_eq!(error.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
                    }
                }
            }
        }

        #[test]
        fn a_form_decodes_to_the_pairs_it_was_made_of(
            pairs in prop::collection::vec((text(), text()), 0..8).prop_map(|pairs| {
                let mut seen = std::collections::HashSet::new();
                pairs
                    .into_iter()
                    .filter(|(name, _)| seen.insert(name.clone()))
                    .collect::<Vec<_>>()
            }),
        ) {
            let body = serde_urlencoded::to_string(&pairs).unwrap();
            match parse(FORM, body.as_bytes()) {
                Ok(Fields::Form(decoded)) => prop_assert_eq!(decoded, pairs),
                other => prop_assert!(false, "{body:?} gave {other:?}"),
            }
        }

        #[test]
        fn a_form_that_repeats_a_name_in_any_spelling_is_refused(
            name in text(),
            before in prop::collection::vec((text(), text()), 0..4),
            between in prop::collection::vec((text(), text()), 0..4),
            values in (text(), text()),
            spelling in prop::collection::vec(0u8..3, 0..32),
        ) {
            // The second copy of the name: each byte as it is, percent-encoded
            // or (a space) as `+`, chosen byte by byte.
            let encoded_once = serde_urlencoded::to_string([(&name, &values.0)]).unwrap();
            let respelt: String = name
                .bytes()
                .enumerate()
                .map(|(i, b)| match (spelling.get(i).copied().unwrap_or(0), b) {
                    (_, b' ') if i % 2 == 0 => "+".to_owned(),
                    (1, _) | (_, b'&' | b'=' | b'+' | b'%' | b' ') => format!("%{b:02X}"),
                    (2, _) if !b.is_ascii() => format!("%{b:02x}"),
                    _ if b.is_ascii() => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            let rest = |pairs: &[(String, String)]| {
                pairs
                    .iter()
                    .filter(|(n, _)| n != &name)
                    .map(|(n, v)| serde_urlencoded::to_string([(n, v)]).unwrap())
                    .collect::<Vec<_>>()
            };
            let mut parts = rest(&before);
            parts.push(encoded_once);
            parts.extend(rest(&between));
            parts.push(format!(
                "{respelt}={}",
                serde_urlencoded::to_string([("", &values.1)]).unwrap().trim_start_matches('=')
            ));
            let body = parts.join("&");
            match parse(FORM, body.as_bytes()) {
                Err(error) => prop_assert_eq!(error.code, "invalid_body"),
                Ok(fields) => prop_assert!(false, "{body:?} gave {fields:?}"),
            }
        }

        #[test]
        fn a_json_object_that_repeats_a_name_in_any_spelling_is_refused(
            name in text(),
            escape in prop::collection::vec(any::<bool>(), 0..32),
            depth in 0usize..3,
        ) {
            // The second copy with some characters as \u escapes (pairs of
            // them for characters outside the BMP).
            let respelt: String = name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if escape.get(i).copied().unwrap_or(false) {
                        let mut units = [0u16; 2];
                        c.encode_utf16(&mut units)
                            .iter()
                            .map(|u| format!("\\u{u:04x}"))
                            .collect()
                    } else {
                        let quoted = Value::String(c.to_string()).to_string();
                        quoted[1..quoted.len() - 1].to_owned()
                    }
                })
                .collect();
            let mut object = format!(
                "{{{}: 1, \"{respelt}\": 2}}",
                Value::String(name.clone())
            );
            for _ in 0..depth {
                object = format!("{{\"outer\": [{object}]}}");
            }
            match parse("application/json", object.as_bytes()) {
                Err(error) => prop_assert_eq!(error.code, "invalid_body"),
                Ok(fields) => prop_assert!(false, "{object:?} gave {fields:?}"),
            }
        }

        #[test]
        fn a_json_object_decodes_to_its_members(
            members in prop::collection::vec((text(), text()), 0..8),
        ) {
            let object: Map<String, Value> =
                members.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let body = Value::Object(object.clone()).to_string();
            match parse("application/json", body.as_bytes()) {
                Ok(Fields::Json(decoded)) => prop_assert_eq!(decoded, object),
                other => prop_assert!(false, "{body:?} gave {other:?}"),
            }
        }
    }
}

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
        .and(warp::addr::remote())
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
            ctx.authority = authority.map(|a| a.to_string());
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

    /// The value of the named cookie; the first one wins when a client sends
    /// several, and cookie headers that are not text are ignored.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
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

/// The fields of a form or JSON body.
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
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .ok_or_else(unsupported)?
            .to_str()
            .map_err(|_| unsupported())?;
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => Ok(Fields::Json(map)),
                Ok(_) => Err(ApiError::bad_request(
                    "invalid_body",
                    "the body must be a JSON object",
                )),
                Err(e) => Err(ApiError::bad_request(
                    "invalid_body",
                    format!("the body is not valid JSON: {e}"),
                )),
            },
            "application/x-www-form-urlencoded" => {
                decode_form(&bytes).map(Fields::Form).ok_or_else(|| {
                    ApiError::bad_request("invalid_body", "the body is not a valid UTF-8 form")
                })
            }
            _ => Err(unsupported()),
        }
    }

    /// A string field that may be absent; JSON `null`, another JSON type or a
    /// repeated form field is a 400 naming the field.
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
            Fields::Form(pairs) => {
                let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
                match (values.next(), values.next()) {
                    (None, _) => Ok(None),
                    (Some(value), None) => Ok(Some(value.clone())),
                    (Some(_), Some(_)) => Err(ApiError::bad_request(
                        "invalid_field",
                        format!("{name} is given more than once"),
                    )),
                }
            }
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
        let twice = parse("application/x-www-form-urlencoded", b"a=1&a=2").unwrap();
        assert_eq!(twice.optional("a").unwrap_err().code, "invalid_field");
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            parse("application/json", deep.as_bytes()).unwrap_err().code,
            "invalid_body"
        );
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

    #[test]
    fn the_first_session_cookie_wins_and_garbage_is_skipped() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_bytes(b"session_id=\xff").unwrap(),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; session_id=first; session_id=second"),
        );
        let ctx = RequestCtx {
            headers,
            remote: None,
            authority: None,
        };
        assert_eq!(ctx.cookie("session_id").as_deref(), Some("first"));
        assert_eq!(ctx.cookie("missing"), None);
    }
}

#[cfg(test)]
mod proptests {
    //! Property tests of body decoding (API.md §3).

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
            pairs in prop::collection::vec((text(), text()), 0..8),
        ) {
            let body = serde_urlencoded::to_string(&pairs).unwrap();
            match parse(FORM, body.as_bytes()) {
                Ok(Fields::Form(decoded)) => prop_assert_eq!(decoded, pairs),
                other => prop_assert!(false, "{body:?} gave {other:?}"),
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

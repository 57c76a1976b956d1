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
mod tests;

#[cfg(test)]
mod proptests;

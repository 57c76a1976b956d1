//! Request bodies: read with a size limit and a time limit, decoded by their
//! content type (a form or a JSON object, each name given at most once), and
//! read into the `#[derive(Deserialize)]` struct of the route by
//! [`Body::read`] (see [`super::typed`] for the order its faults are told in).

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use warp::http::header::{self, HeaderMap};
use warp::http::StatusCode;
use warp::{Filter, Rejection};

use crate::error::ApiError;
use crate::strict_json::{self, StrictJsonError};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// How long a request body may take to arrive.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A request body read up to [`MAX_BODY_BYTES`], or the 413 for a larger one.
#[derive(Debug)]
pub(crate) struct RawBody(pub(super) Result<Bytes, ApiError>);

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

impl RawBody {
    /// The bytes as sent, or the fault of reading them (for bodies that are
    /// parsed by a protocol's own rules, such as an OAuth form).
    pub fn bytes(self) -> Result<Bytes, ApiError> {
        self.0
    }

    /// Decodes the body by the request's content type and reads it into `T`:
    /// the one way a handler gets its body.
    pub fn read<T: DeserializeOwned>(self, headers: &HeaderMap) -> Result<T, ApiError> {
        Body::parse(headers, self)?.read()
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "body is larger than 16 KiB",
    )
}

pub(super) async fn read_limited<B: Buf>(
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
pub(super) fn decode_form(body: &[u8]) -> Option<Vec<(String, String)>> {
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

/// The members of a form or JSON body, each name given at most once (a
/// form's values are JSON strings here). Handlers read it only into a
/// typed struct, with [`Body::read`].
#[derive(Debug)]
pub(crate) struct Body(pub(super) Map<String, Value>);

impl Body {
    /// Decodes the body by its content type: 413, 415 and 400 as the contract says.
    pub fn parse(headers: &HeaderMap, body: RawBody) -> Result<Body, ApiError> {
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
                Ok(Value::Object(map)) => Ok(Body(map)),
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
                if let Some(name) = repeated_name(&pairs) {
                    return Err(ApiError::bad_request(
                        "invalid_body",
                        format!(
                            "the body gives the field {:?} more than once",
                            name.chars().take(64).collect::<String>()
                        ),
                    ));
                }
                Ok(Body(
                    pairs
                        .into_iter()
                        .map(|(name, value)| (name, Value::String(value)))
                        .collect(),
                ))
            }
            _ => Err(unsupported()),
        }
    }

    /// A body of these members: one a route rewrote before reading it.
    pub fn of(members: Map<String, Value>) -> Body {
        Body(members)
    }

    /// The body's members, as sent.
    pub fn members(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The body read into `T`, each fault a 400 naming the field
    /// (`missing_field`, `invalid_field`), told in the order of `T`'s fields.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        super::typed::read(&self.0)
    }
}

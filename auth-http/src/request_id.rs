//! `X-Request-Id`: one id per request, on its response, in a tracing span
//! around everything the request does (so on every log line it causes), and
//! in its audit rows.
//!
//! warp offers no way to hand a value from one filter to the routes after
//! it, so the id is kept beside the request's span: [`span`] makes the span,
//! [`assign`] (the first filter inside it) chooses the id and files it under
//! the span's id, the routes read it back with [`current`] while they run
//! inside that span, and [`finish`] puts it on the response; the entry goes
//! when the request ends, answered or abandoned.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{LazyLock, Mutex};

use tracing::span::Id;
use tracing::Span;
use warp::http::{HeaderMap, HeaderValue};
use warp::reply::Response;
use warp::Filter;

use crate::config::{trusts, TrustedProxy};

/// The header, in both directions.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest id kept from a trusted proxy.
const MAX_LEN: usize = 64;

/// The ids of the requests in flight, by the id of their span.
static IDS: LazyLock<Mutex<HashMap<Id, String>>> = LazyLock::new(Default::default);

/// True for 1–64 characters of `A-Z a-z 0-9 - _ .`.
pub fn is_valid(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A new id: 32 lowercase hex digits of a random UUID, unique per request.
fn fresh() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The id of a request: the one a trusted proxy sent, when it is well
/// formed (and sent once), else a new one.
fn choose(
    remote: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[TrustedProxy],
) -> String {
    if remote.is_some_and(|peer| trusts(trusted_proxies, peer.ip())) {
        let mut sent = headers.get_all(REQUEST_ID_HEADER).iter();
        if let (Some(value), None) = (sent.next(), sent.next()) {
            if let Some(id) = value.to_str().ok().filter(|id| is_valid(id)) {
                return id.to_owned();
            }
        }
    }
    fresh()
}

fn ids() -> std::sync::MutexGuard<'static, HashMap<Id, String>> {
    // A panic while the lock was held leaves the map whole: keep using it.
    IDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The span of one request; its id is filled in by [`assign`]. An
/// `ERROR`-level span, so that it is enabled (and its id known) at every log
/// level but `off`.
pub(crate) fn span(_info: warp::trace::Info<'_>) -> Span {
    tracing::error_span!("request", request_id = tracing::field::Empty)
}

/// A request's id, filed under its span's id for as long as the request
/// runs: dropping it (the answer is sent, or the client went away) forgets
/// the entry, so the table holds only requests in flight.
pub(crate) struct RequestId {
    id: String,
    span_id: Option<Id>,
}

impl Drop for RequestId {
    fn drop(&mut self) {
        if let Some(span_id) = self.span_id.take() {
            ids().remove(&span_id);
        }
    }
}

/// The filter that runs first inside the request's span: chooses the id,
/// records it in the span and files it for [`current`]; its [`RequestId`]
/// goes to [`finish`].
pub(crate) fn assign(
    trusted_proxies: Vec<TrustedProxy>,
) -> impl Filter<Extract = (RequestId,), Error = std::convert::Infallible> + Clone {
    crate::server::remote_addr()
        .and(warp::header::headers_cloned())
        .map(move |remote, headers: HeaderMap| {
            let id = choose(remote, &headers, &trusted_proxies);
            let span = Span::current();
            span.record("request_id", tracing::field::display(&id));
            let span_id = span.id();
            if let Some(span_id) = &span_id {
                ids().insert(span_id.clone(), id.clone());
            }
            RequestId { id, span_id }
        })
}

/// The id of the request whose span is current (none without a tracing
/// subscriber: then no span has an id).
pub(crate) fn current() -> Option<String> {
    let span_id = Span::current().id()?;
    ids().get(&span_id).cloned()
}

/// Puts the request's id on its response, and forgets it.
pub(crate) fn finish(request_id: RequestId, mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(&request_id.id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_and_plain() {
        assert!(is_valid("a"));
        assert!(is_valid("lb-2026.12.01_0001"));
        assert!(is_valid(&"x".repeat(64)));
        assert!(!is_valid(""));
        assert!(!is_valid(&"x".repeat(65)));
        assert!(!is_valid("has space"));
        assert!(!is_valid("new\nline"));
        assert!(!is_valid("é"));
        assert!(is_valid(&fresh()));
        assert_ne!(fresh(), fresh());
    }
}

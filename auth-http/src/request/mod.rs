//! What handlers read from a request: headers, client address, cookies and
//! the form or JSON body, each with the contract's 4xx for bad input.

use std::net::{IpAddr, SocketAddr};

use auth_core::ClientInfo;

use crate::config::{trusts, TrustedProxy};
use warp::http::header::{self, HeaderMap};
use warp::Filter;

mod body;
mod typed;

pub use body::MAX_BODY_BYTES;
pub(crate) use body::{raw_body, Body, RawBody};
pub(crate) use typed::{password, Deferred, JsonText};

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
    pub fn client_addr(&self, trusted_proxies: &[TrustedProxy]) -> Option<IpAddr> {
        let peer = self.remote?.ip();
        if !trusts(trusted_proxies, peer) {
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
                .find(|hop| !trusts(trusted_proxies, *hop))
                .unwrap_or(peer),
        )
    }

    /// Address and user agent, for the audit log and the session list.
    pub fn client_info(&self, trusted_proxies: &[TrustedProxy]) -> ClientInfo {
        ClientInfo {
            addr: self.client_addr(trusted_proxies),
            user_agent: self
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            request_id: crate::request_id::current(),
            actor: None,
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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;

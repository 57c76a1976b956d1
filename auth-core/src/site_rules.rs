//! Forward authentication's leaves: what a protected host is, how a URL
//! names one, where a login may send its user next, and the in-memory copy
//! of the site rules. Knows nothing of the flows.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// How long a server uses its copy of the site rules before it reads the
/// rules version again (one indexed read of one row): a change made on
/// another server (or by `authd site …`) reaches every server within this
/// time; a change made through a server reaches that server at once.
pub const SITE_RULES_TTL_MS: i64 = 1_000;

/// Longest protected host, `host:port` included.
const MAX_HOST_CHARS: usize = 260;

/// A protected host as stored and compared: lower-cased, `host` or
/// `host:port`, without the default port of its scheme. `None` unless it is
/// a DNS name, an IPv4 address or a bracketed IPv6 address, with an
/// optional port from 1 to 65535; no scheme, path, user or wildcard.
pub fn site_host(text: &str) -> Option<String> {
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty()
        || text.chars().count() > MAX_HOST_CHARS
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
    {
        return None;
    }
    // A default port names the host alone, as a URL without one does.
    let text = [":443", ":80"]
        .iter()
        .find_map(|port| text.strip_suffix(port))
        .map_or(text.clone(), str::to_owned);
    // The WHATWG parser says what a browser would make of it; the host must
    // come back unchanged (no percent-decoding, no IDNA, no other port).
    let parsed = url::Url::parse(&format!("https://{text}/")).ok()?;
    if parsed.port() == Some(0) {
        return None;
    }
    let key = host_key(&parsed)?;
    (key == text && !key.ends_with('.')).then_some(key)
}

/// The key of a parsed http(s) URL's host: lower-cased host, and `:port`
/// when it is not the scheme's default.
fn host_key(url: &url::Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// An absolute `http`/`https` URL of a request, as forward authentication
/// and `next` read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteUrl {
    /// The URL, serialized by the WHATWG rules (what a redirect sends).
    pub url: String,
    /// Its host as protected hosts are compared ([`site_host`]'s form).
    pub host: String,
}

/// Parses an absolute `http://` or `https://` URL, refusing anything a
/// browser might read otherwise than a plain comparison does: whitespace or
/// control characters anywhere, a backslash, user information
/// (`https://protected@evil`), a host the parser had to decode.
pub fn parse_site_url(text: &str) -> Option<SiteUrl> {
    if text.is_empty()
        || text.len() > 4096
        || text
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    let url = url::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host = host_key(&url)?;
    // The authority as written must be the host the parser found (no
    // percent-encoded or otherwise rewritten host).
    let after_scheme = &lower[lower.find("://")? + 3..];
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let written = match (url.scheme(), authority) {
        ("https", a) => a.strip_suffix(":443").unwrap_or(a),
        (_, a) => a.strip_suffix(":80").unwrap_or(a),
    };
    if written != host {
        return None;
    }
    Some(SiteUrl {
        url: url.to_string(),
        host,
    })
}

/// Where a login may send its user after it succeeds: the `next` parameter
/// of `/login`, once checked by [`crate::Auth::next_target`]. Anything
/// else goes to `/me`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextTarget {
    /// An absolute URL on a protected host (forward authentication sent
    /// the user to log in from there).
    ProtectedSite(String),
    /// A path of authd itself: only an authorization request of the OpenID
    /// Connect provider (`/oauth/authorize` or `/oauth/authorize?…`), which
    /// sent its visitor to log in and takes them back.
    SameOrigin(String),
}

/// The path of the one page of authd a login may go back to.
const AUTHORIZE_PATH: &str = "/oauth/authorize";

impl NextTarget {
    /// The same-origin target a `next` names, when a login may go back
    /// there: exactly `/oauth/authorize`, alone or with a query, as printable
    /// ASCII without `\`, `"`, `<`, `>` or `#`; never `//…`, another path, a
    /// fragment or a percent-encoded path. Protected sites need the rules:
    /// see [`crate::Auth::next_target`].
    pub fn same_origin(next: &str) -> Option<NextTarget> {
        let Some(NextCandidate::Path(path)) = parse_next(next) else {
            return None;
        };
        let rest = path.strip_prefix(AUTHORIZE_PATH)?;
        let shaped = (rest.is_empty() || rest.starts_with('?'))
            && path
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"\\\"<>#".contains(&b));
        shaped.then_some(NextTarget::SameOrigin(path))
    }

    /// The `Location` to send.
    pub fn location(&self) -> &str {
        match self {
            NextTarget::ProtectedSite(url) | NextTarget::SameOrigin(url) => url,
        }
    }
}

/// What a `next` value is, before the rules decide whether it is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NextCandidate {
    /// An absolute http(s) URL.
    Absolute(SiteUrl),
    /// A path of this origin: starts with one `/`, then neither `/` nor `\`.
    Path(String),
}

/// Reads a `next` value; `None` for anything that is neither a clean
/// absolute http(s) URL nor a clean same-origin path.
pub(crate) fn parse_next(text: &str) -> Option<NextCandidate> {
    if let Some(rest) = text.strip_prefix('/') {
        let clean = !rest.starts_with('/')
            && text.len() <= 4096
            && !text
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
        return clean.then(|| NextCandidate::Path(text.to_owned()));
    }
    parse_site_url(text).map(NextCandidate::Absolute)
}

/// One protected host's rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SiteRule {
    /// Only sessions that completed a second factor get in.
    pub second_factor_required: bool,
    /// The accounts it lets in; `None`: every account.
    pub allowed: Option<HashSet<String>>,
}

/// The rules of every protected host, as of one version.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    /// The `site_rules_version` they were read at.
    pub version: i64,
    /// By host key.
    pub sites: HashMap<String, SiteRule>,
}

/// A server's copy of the rules, and when it last checked that copy.
#[derive(Debug)]
pub(crate) struct RulesCache {
    rules: RwLock<Option<Arc<Rules>>>,
    /// Unix milliseconds of the last check of the version; `i64::MIN`: now.
    checked_ms: AtomicI64,
    /// Held by the one request that reads the version; the others use the
    /// copy they have meanwhile.
    pub refreshing: tokio::sync::Mutex<()>,
}

impl Default for RulesCache {
    fn default() -> Self {
        RulesCache {
            rules: RwLock::new(None),
            checked_ms: AtomicI64::new(i64::MIN),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }
}

impl RulesCache {
    /// The copy, if it was checked less than [`SITE_RULES_TTL_MS`] ago.
    pub fn fresh(&self, now_ms: i64) -> Option<Arc<Rules>> {
        let checked = self.checked_ms.load(Ordering::Acquire);
        if checked == i64::MIN || now_ms.saturating_sub(checked) >= SITE_RULES_TTL_MS {
            return None;
        }
        self.current()
    }

    /// The copy, however old.
    pub fn current(&self) -> Option<Arc<Rules>> {
        self.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a check at `now_ms`, with new rules when they changed.
    pub fn checked(&self, now_ms: i64, rules: Option<Rules>) {
        if let Some(rules) = rules {
            *self.rules.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(rules));
        }
        self.checked_ms.store(now_ms, Ordering::Release);
    }

    /// Makes the next request check the version (after a change made here).
    pub fn expire(&self) {
        self.checked_ms.store(i64::MIN, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_lower_cased_and_strict() {
        assert_eq!(
            site_host("App.Example.COM").as_deref(),
            Some("app.example.com")
        );
        assert_eq!(
            site_host("app.example.com:8443").as_deref(),
            Some("app.example.com:8443")
        );
        assert_eq!(
            site_host("app.example.com:443").as_deref(),
            Some("app.example.com")
        );
        assert_eq!(
            site_host("127.0.0.1:8080").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(site_host("[::1]:8080").as_deref(), Some("[::1]:8080"));
        for bad in [
            "",
            "https://app.example.com",
            "app.example.com/",
            "*.example.com",
            "a b",
            "user@app.example.com",
            "app.example.com:0",
            "app.example.com:99999",
            "app%2eexample.com",
            "app.example.com.",
            "bücher.example",
        ] {
            assert_eq!(site_host(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn site_urls_refuse_every_ambiguity() {
        let parsed = parse_site_url("https://App.Example.com:443/a?b=c#d").unwrap();
        assert_eq!(parsed.host, "app.example.com");
        assert_eq!(parsed.url, "https://app.example.com/a?b=c#d");
        assert_eq!(
            parse_site_url("http://app.example.com:8080/").unwrap().host,
            "app.example.com:8080"
        );
        for bad in [
            "//evil.example",
            "\\\\evil.example",
            "/\\evil.example",
            "https:/evil.example",
            "https:\\\\evil.example",
            "https://app.example.com@evil.example/",
            "https://app.example.com:x@evil.example/",
            "https://evil%2eexample/",
            "https://app.example.com\t/",
            " https://app.example.com/",
            "https://app.example.com/\n",
            "javascript:alert(1)",
            "ftp://app.example.com/",
            "data:text/html,hi",
            "https:app.example.com",
        ] {
            assert_eq!(parse_site_url(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn next_is_a_clean_url_or_a_clean_path() {
        assert_eq!(
            parse_next("/oauth/authorize?x=1"),
            Some(NextCandidate::Path("/oauth/authorize?x=1".into()))
        );
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/a b",
            "evil.example",
            "",
        ] {
            assert_eq!(parse_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_one_same_origin_next_is_an_authorization_request() {
        for good in [
            "/oauth/authorize",
            "/oauth/authorize?client_id=c&redirect_uri=https%3A%2F%2Fa%2Fcb",
            "/oauth/authorize?next=//x",
        ] {
            assert_eq!(
                NextTarget::same_origin(good),
                Some(NextTarget::SameOrigin(good.into())),
                "{good:?}"
            );
        }
        for bad in [
            "//oauth/authorize",
            "///oauth/authorize",
            "/\\oauth/authorize",
            "/oauth/authorize/../../me",
            "/oauth/authorize%2F..%2Fme",
            "/oauth/authorizer",
            "/oauth/authorize#x",
            "/oauth/authorize?x#y",
            "/oauth/authorize?x=\\evil",
            "/oauth/authorize?x=<script>",
            "/oauth/authorize?x=\"y",
            "/oauth/authorize?x=\u{e9}",
            "/oauth/authorize? x",
            "/oauth/authorize?\r\nSet-Cookie:x",
            "/OAUTH/authorize",
            "/me",
            "https://authd.example/oauth/authorize",
            "oauth/authorize",
            "",
        ] {
            assert_eq!(NextTarget::same_origin(bad), None, "{bad:?}");
        }
    }
}

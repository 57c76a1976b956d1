//! Forward authentication for reverse proxies (docs/contract/9-forward-auth.md):
//! `/auth/verify`, asked by nginx (`auth_request`), Caddy (`forward_auth`)
//! or Traefik (`ForwardAuth`) about each request to a protected site.
//!
//! The original request is read from the proxy's headers, believed only
//! from a `--trusted-proxy`: from any other peer the route answers 403
//! whatever it carries, so a client cannot name a request of its own
//! choosing. The decision is auth-core's ([`auth_core::Auth::forward_auth`]).

use auth_core::{ForwardDecision, User};
use warp::filters::BoxedFilter;
use warp::http::header::{HeaderMap, HeaderName, HeaderValue, LOCATION};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::App;
use crate::config::trusts;
use crate::error::ApiError;
use crate::request::{ctx, RequestCtx};

/// The headers of a 200, naming the signed-in account to the application.
const REMOTE_USER: &str = "remote-user";
const REMOTE_EMAIL: &str = "remote-email";
const REMOTE_NAME: &str = "remote-name";

/// Caddy's and Traefik's description of the original request.
const FORWARDED_PROTO: &str = "x-forwarded-proto";
const FORWARDED_HOST: &str = "x-forwarded-host";
const FORWARDED_URI: &str = "x-forwarded-uri";
const FORWARDED_METHOD: &str = "x-forwarded-method";
/// nginx's (`proxy_set_header X-Original-URL $scheme://$http_host$request_uri`).
const ORIGINAL_URL: &str = "x-original-url";

/// Every route of forward authentication.
pub(crate) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    verify(app)
}

/// GET /auth/verify (every method is read as GET)
fn verify(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("auth" / "verify")
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(ctx())
        .and(app.filter())
        .then(|query: String, ctx: RequestCtx, app: App| async move {
            handle_verify(&query, &ctx, &app)
                .await
                .unwrap_or_else(ApiError::into_response)
        })
        .boxed()
}

async fn handle_verify(query: &str, ctx: &RequestCtx, app: &App) -> Result<Response, ApiError> {
    let trusted = ctx
        .remote
        .is_some_and(|peer| trusts(&app.config.trusted_proxies, peer.ip()));
    if !trusted {
        return Ok(status(StatusCode::FORBIDDEN));
    }
    let Some(original) = original_url(&ctx.headers) else {
        return Ok(status(StatusCode::FORBIDDEN));
    };
    let redirect = wants_redirect(query);
    let token = ctx.cookie(&app.config.cookie_name);
    let decision = app
        .auth
        .forward_auth(&original, token.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(match decision {
        ForwardDecision::Allowed(user) => allowed(&user),
        // 302 to the login page with rd=1; otherwise 401, with the login
        // page in `Location` for nginx's `error_page 401 =302`.
        ForwardDecision::NoSession => match &app.config.public_url {
            Some(public_url) => {
                let next = percent_encoding::utf8_percent_encode(
                    &original,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                let login = format!("{public_url}/login?next={next}");
                let code = if redirect {
                    StatusCode::FOUND
                } else {
                    StatusCode::UNAUTHORIZED
                };
                with_location(status(code), &login)
            }
            None => status(StatusCode::UNAUTHORIZED),
        },
        ForwardDecision::SecondFactorRequired => match (redirect, &app.config.public_url) {
            (true, Some(public_url)) => with_location(
                status(StatusCode::FOUND),
                &format!("{public_url}/me/security"),
            ),
            _ => status(StatusCode::FORBIDDEN),
        },
        ForwardDecision::Forbidden => status(StatusCode::FORBIDDEN),
    })
}

/// The original request's absolute URL, from one family of headers, or
/// both when they name the same URL; `None` (403) when a header is given
/// twice, `X-Forwarded-Uri` comes without `-Proto` and `-Host`, the two
/// families disagree, or neither is there.
fn original_url(headers: &HeaderMap) -> Option<String> {
    let forwarded = [FORWARDED_PROTO, FORWARDED_HOST, FORWARDED_URI].map(|n| once(headers, n));
    let method = once(headers, FORWARDED_METHOD);
    let original = once(headers, ORIGINAL_URL);
    // A header sent twice is ambiguous: refuse.
    if forwarded
        .iter()
        .chain([&method, &original])
        .any(|f| f == &Some(None))
    {
        return None;
    }
    // `X-Forwarded-Uri` is what only a forward-auth proxy sends: with it,
    // the family must be whole; without it, `X-Forwarded-Proto` and
    // `-Host` (which many nginx set for every upstream) describe nothing.
    let from_forwarded = if forwarded[2].is_some() {
        let [Some(Some(proto)), Some(Some(host)), Some(Some(uri))] = forwarded else {
            return None;
        };
        let proto = proto.to_ascii_lowercase();
        if !matches!(proto.as_str(), "http" | "https") || !uri.starts_with('/') {
            return None;
        }
        let url = canonical(&format!("{proto}://{host}{uri}"))?;
        Some(url)
    } else {
        None
    };
    let from_original = match original {
        Some(Some(url)) => Some(canonical(url)?),
        _ => None,
    };
    match (from_forwarded, from_original) {
        (Some(a), Some(b)) if a != b => None,
        (Some(url), _) | (None, Some(url)) => Some(url),
        (None, None) => None,
    }
}

/// A URL as auth-core reads it, so the two families compare as equals
/// when they name one request.
fn canonical(url: &str) -> Option<String> {
    auth_core::parse_site_url(url).map(|parsed| parsed.url)
}

/// `None`: absent; `Some(None)`: sent more than once or not text;
/// `Some(Some(value))`: sent once.
fn once<'a>(headers: &'a HeaderMap, name: &str) -> Option<Option<&'a str>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some(None);
    }
    Some(first.to_str().ok())
}

/// `?rd=1`: answer a request without a session with a redirect to the
/// login page (Caddy, Traefik) rather than 401 (nginx).
fn wants_redirect(query: &str) -> bool {
    query.split('&').any(|pair| pair == "rd=1")
}

/// 200: the account's names for the application, and nothing else (no
/// body, nothing of the session).
fn allowed(user: &User) -> Response {
    let mut response = status(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in [
        (REMOTE_USER, Some(user.display_name())),
        (REMOTE_EMAIL, user.email.as_deref()),
        (REMOTE_NAME, user.full_name.as_deref()),
    ] {
        // Every header is sent (empty when unknown), so a proxy that copies
        // it overwrites whatever the client sent under that name.
        let value = HeaderValue::from_bytes(value.unwrap_or_default().as_bytes())
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        headers.insert(HeaderName::from_static(name), value);
    }
    response
}

/// An empty answer with a status.
fn status(status: StatusCode) -> Response {
    warp::reply::with_status(warp::reply(), status).into_response()
}

/// A response with a `Location`.
fn with_location(mut response: Response, location: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_original_url_comes_from_one_family_or_two_that_agree() {
        let caddy = [
            (FORWARDED_METHOD, "POST"),
            (FORWARDED_PROTO, "https"),
            (FORWARDED_HOST, "App.example.com"),
            (FORWARDED_URI, "/a?b=c"),
        ];
        let nginx = [(ORIGINAL_URL, "https://app.example.com/a?b=c")];
        let expected = Some("https://app.example.com/a?b=c".to_owned());
        assert_eq!(original_url(&headers(&caddy)), expected);
        assert_eq!(original_url(&headers(&nginx)), expected);
        let both: Vec<_> = caddy.iter().chain(&nginx).copied().collect();
        assert_eq!(original_url(&headers(&both)), expected);

        let other = [(ORIGINAL_URL, "https://other.example.com/a?b=c")];
        let disagreeing: Vec<_> = caddy.iter().chain(&other).copied().collect();
        assert_eq!(original_url(&headers(&disagreeing)), None);
        let twice: Vec<_> = caddy
            .iter()
            .chain(&[(FORWARDED_HOST, "evil.example")])
            .copied()
            .collect();
        assert_eq!(original_url(&headers(&twice)), None);
        assert_eq!(original_url(&headers(&caddy[1..3])), None, "no uri");
        assert_eq!(original_url(&headers(&[])), None);
        for (proto, host, uri) in [
            ("ftp", "app.example.com", "/"),
            ("https", "app.example.com", "x"),
            ("https", "app.example.com, evil.example", "/"),
            ("https", "app.example.com@evil.example", "/"),
            ("https", "evil.example\\", "/"),
        ] {
            let mut map = HeaderMap::new();
            map.insert(FORWARDED_PROTO, HeaderValue::from_str(proto).unwrap());
            map.insert(FORWARDED_HOST, HeaderValue::from_str(host).unwrap());
            map.insert(FORWARDED_URI, HeaderValue::from_str(uri).unwrap());
            assert_eq!(original_url(&map), None, "{proto} {host} {uri}");
        }
    }

    #[test]
    fn only_rd_1_asks_for_a_redirect() {
        assert!(wants_redirect("rd=1"));
        assert!(wants_redirect("x=2&rd=1"));
        assert!(!wants_redirect(""));
        assert!(!wants_redirect("rd=0"));
        assert!(!wants_redirect("ard=1"));
    }
}

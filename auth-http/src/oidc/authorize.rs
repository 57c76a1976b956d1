//! The browser's side of the code flow: `/oauth/authorize` (GET, or a form
//! POST), the round trip through `/login`, and the consent page.

use askama::Template;
use auth_core::{AuthError, AuthorizationRequest, AuthorizeOutcome, ConsentDecision, OAuthError};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use super::see_other;
use crate::app::App;
use crate::csrf::CsrfScope;
use crate::error::ApiError;
use crate::page_kit::{checked_form, error_page, page_result, render_with_form_target, Guard};
use crate::request::{ctx, ctx_with_authority, raw_body, RawBody, RequestCtx};

/// The parameters of an authorization request this server reads.
const PARAMETERS: [&str; 11] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
];

/// The consent page: the client's name, the scopes, allow or deny.
#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    csrf_token: &'a str,
    client_name: &'a str,
    scopes: Vec<(&'a str, &'static str)>,
    fields: Vec<(&'static str, String)>,
}

/// What a scope means, in the consent page's words.
fn scope_sentence(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are on this site (an identifier that never changes)",
        "profile" => "See your username and name",
        "email" => "See your e-mail address",
        "offline_access" => "Stay signed in when you are away",
        _ => "",
    }
}

pub(super) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    authorize_get(app)
        .or(authorize_post(app))
        .unify()
        .or(consent(app))
        .unify()
        .boxed()
}

/// GET /oauth/authorize
#[utoipa::path(
    get,
    path = "/oauth/authorize",
    operation_id = "oauth_authorize",
    tag = "OpenID Connect",
    summary = "The authorization request (a browser's)",
    description = "OpenID Connect Core §3.1.2, the code flow with PKCE S256. The steps and their \
        answers are those of docs/contract/8-openid-connect.md, \"Authorization\".",
    security((), ("session_cookie" = [])),
    params(
        ("response_type" = Option<String>, Query, description = "`code`."),
        ("client_id" = Option<String>, Query, description = "The client."),
        ("redirect_uri" = Option<String>, Query, description = "One of the client's, exactly."),
        ("scope" = Option<String>, Query, description = "`openid` and any of `profile`, `email`, `offline_access`."),
        ("state" = Option<String>, Query, description = "Given back."),
        ("nonce" = Option<String>, Query, description = "Put in the ID token."),
        ("code_challenge" = Option<String>, Query, description = "PKCE: base64url of a SHA-256."),
        ("code_challenge_method" = Option<String>, Query, description = "`S256`."),
        ("prompt" = Option<String>, Query, description = "`none`, `login` or `consent`."),
        ("max_age" = Option<String>, Query, description = "Seconds since the login at most."),
        ("login_hint" = Option<String>, Query, description = "The name the login form starts with."),
    ),
    responses(
        (status = 200, description = "The consent page: it names the client and the scopes.", content_type = "text/html", body = String),
        (status = 303, description = "To the client's redirect URI with `code`, `state` and `iss`, or with `error`; or to \
            `/login?next=…` when nobody is signed in.",
            headers(("Location" = String, description = "The redirect URI with its parameters, or the login page."))),
        (status = 400, description = "An error page: unknown client, a redirect URI that is not the client's, or a \
            parameter given twice. The browser is sent nowhere.", content_type = "text/html", body = String),
        (status = 429, description = "An error page: too many requests from this address.", content_type = "text/html", body = String,
            headers(("Retry-After" = i64, description = "Whole seconds to wait."))),
        (status = 500, description = "An error page: a fault on the server's side.", content_type = "text/html", body = String),
        (status = 503, description = "An error page: the database does not answer.", content_type = "text/html", body = String),
    ),
)]
pub(crate) fn authorize_get(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("oauth" / "authorize")
        .and(warp::get())
        .and(ctx())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(app.filter())
        .then(|ctx: RequestCtx, query: String, app: App| async move {
            authorize(ctx, query.as_bytes(), app).await
        })
        .boxed()
}

/// POST /oauth/authorize (a form: OpenID Connect Core §3.1.2.1)
#[utoipa::path(
    post,
    path = "/oauth/authorize",
    operation_id = "oauth_authorize_form",
    tag = "OpenID Connect",
    summary = "The authorization request, as a form",
    description = "The parameters of `GET /oauth/authorize` in a form body, answered the same.",
    security((), ("session_cookie" = [])),
    request_body(
        description = "The request's parameters.",
        content((AuthorizeForm = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "The consent page: it names the client and the scopes.", content_type = "text/html", body = String),
        (status = 303, description = "To the client's redirect URI with `code`, `state` and `iss`, or with `error`; or to \
            `/login?next=…` when nobody is signed in.",
            headers(("Location" = String, description = "The redirect URI with its parameters, or the login page."))),
        (status = 400, description = "An error page: unknown client, a redirect URI that is not the client's, or a \
            parameter given twice. The browser is sent nowhere.", content_type = "text/html", body = String),
        (status = 429, description = "An error page: too many requests from this address.", content_type = "text/html", body = String,
            headers(("Retry-After" = i64, description = "Whole seconds to wait."))),
        (status = 500, description = "An error page: a fault on the server's side.", content_type = "text/html", body = String),
        (status = 503, description = "An error page: the database does not answer.", content_type = "text/html", body = String),
        (status = 413, description = "An error page: the body is larger than 16 KiB.", content_type = "text/html", body = String),
    ),
)]
pub(crate) fn authorize_post(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("oauth" / "authorize")
        .and(warp::post())
        .and(ctx())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx: RequestCtx, body: RawBody, app: App| async move {
            match body.bytes() {
                Ok(bytes) => authorize(ctx, &bytes, app).await,
                Err(error) => error_page(error),
            }
        })
        .boxed()
}

/// The request's parameters; an error message when one is given twice
/// (RFC 6749 §3.1) or the encoding is bad.
fn parse_request(encoded: &[u8]) -> Result<AuthorizationRequest, String> {
    let mut values: [Option<String>; 11] = Default::default();
    for (name, value) in url::form_urlencoded::parse(encoded) {
        if let Some(i) = PARAMETERS.iter().position(|p| *p == name) {
            if values[i].is_some() {
                return Err(format!("the parameter {name} is given more than once"));
            }
            values[i] = Some(value.into_owned());
        }
    }
    let [response_type, client_id, redirect_uri, scope, state, nonce, code_challenge, code_challenge_method, prompt, max_age, login_hint] =
        values;
    Ok(AuthorizationRequest {
        response_type,
        client_id,
        redirect_uri,
        scope,
        state,
        nonce,
        code_challenge,
        code_challenge_method,
        prompt,
        max_age,
        login_hint,
    })
}

/// The request's parameters as name and value, in [`PARAMETERS`]' order.
fn fields_of(request: &AuthorizationRequest) -> Vec<(&'static str, String)> {
    let values = [
        &request.response_type,
        &request.client_id,
        &request.redirect_uri,
        &request.scope,
        &request.state,
        &request.nonce,
        &request.code_challenge,
        &request.code_challenge_method,
        &request.prompt,
        &request.max_age,
        &request.login_hint,
    ];
    PARAMETERS
        .iter()
        .zip(values)
        .filter_map(|(name, value)| value.clone().map(|v| (*name, v)))
        .collect()
}

/// The origin a login form's redirects may end at when its `next` is this
/// kind of authorization request (`/oauth/authorize?…`, already accepted by
/// auth-core): the registered redirect URI's, since a signed-in visitor who
/// consented before goes straight on to the client. `None` otherwise.
pub(crate) async fn client_origin_of_next(app: &App, next: &str) -> Option<String> {
    let rest = next.strip_prefix("/oauth/authorize")?;
    let request = parse_request(rest.strip_prefix('?').unwrap_or(rest).as_bytes()).ok()?;
    let uri = app.auth.registered_redirect_uri(&request).await.ok()??;
    super::origin_of(&uri)
}

/// The `login_hint` of a login's `next` when that is an authorization
/// request (`/oauth/authorize?…`): the name the login form starts with
/// (OpenID Connect Core §3.1.2.1). Only a hint: the person may change it.
pub(crate) fn login_hint_of_next(next: &str) -> Option<String> {
    let query = next.strip_prefix("/oauth/authorize?")?;
    let hint = parse_request(query.as_bytes()).ok()?.login_hint?;
    let hint = hint.trim();
    (!hint.is_empty() && hint.chars().count() <= 254).then(|| hint.to_owned())
}

/// `/login?next=…` that comes back to this request, without what asked
/// for a new login (`prompt`, `max_age`), so the way back does not loop.
fn login_location(request: &AuthorizationRequest) -> String {
    let mut back = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields_of(request) {
        if name != "prompt" && name != "max_age" {
            back.append_pair(name, &value);
        }
    }
    let next = format!("/oauth/authorize?{}", back.finish());
    let mut login = url::form_urlencoded::Serializer::new(String::new());
    login.append_pair("next", &next);
    format!("/login?{}", login.finish())
}

/// An authorization request that may not go back to its client.
fn untrusted(message: &str) -> Response {
    error_page(ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        format!("This sign-in request cannot be completed: {message}."),
    ))
}

async fn authorize(ctx: RequestCtx, encoded: &[u8], app: App) -> Response {
    if let Err(error) = app.rate_limit(&ctx) {
        return error_page(error);
    }
    let request = match parse_request(encoded) {
        Ok(request) => request,
        Err(message) => return untrusted(&message),
    };
    decide(&ctx, &request, ConsentDecision::NotAsked, &app).await
}

/// Asks auth-core and renders its answer.
async fn decide(
    ctx: &RequestCtx,
    request: &AuthorizationRequest,
    decision: ConsentDecision,
    app: &App,
) -> Response {
    let session = ctx.cookie(&app.config.cookie_name);
    let outcome = app
        .auth
        .authorize(request, session.as_deref(), decision, &app.client(ctx))
        .await;
    match outcome {
        Ok(AuthorizeOutcome::Redirect(location)) => see_other(&location),
        Ok(AuthorizeOutcome::Login) => see_other(&login_location(request)),
        Ok(AuthorizeOutcome::Consent {
            client_name,
            scopes,
        }) => {
            let Some(token) = session else {
                return see_other(&login_location(request));
            };
            let signed_in = match app.auth.get_user_from_session_id(&token).await {
                Ok(signed_in) => signed_in,
                Err(AuthError::NotAuthenticated) => return see_other(&login_location(request)),
                Err(error) => return error_page(ApiError::from(error)),
            };
            let csrf_token =
                crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
            let page = ConsentPage {
                csrf_token: &csrf_token,
                client_name: &client_name,
                scopes: scopes
                    .iter()
                    .map(|s| (s.as_str(), scope_sentence(s)))
                    .collect(),
                fields: fields_of(request),
            };
            // Allow and deny both end at the client (auth-core checked that
            // the redirect URI is the client's).
            let client = request.redirect_uri.as_deref().and_then(super::origin_of);
            render_with_form_target(&page, StatusCode::OK, client.as_deref())
        }
        Err(AuthError::OAuth(OAuthError::UntrustedRedirect(message))) => untrusted(&message),
        Err(error) => error_page(ApiError::from(error)),
    }
}

/// The parameters of an authorization request sent as a form (for the
/// OpenAPI description: `parse_request` reads them).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct AuthorizeForm {
    /// `code`.
    response_type: Option<String>,
    /// The client.
    client_id: Option<String>,
    /// One of the client's redirect URIs, exactly.
    redirect_uri: Option<String>,
    /// `openid` and any of `profile`, `email`, `offline_access`.
    scope: Option<String>,
    /// Given back.
    state: Option<String>,
    /// Put in the ID token.
    nonce: Option<String>,
    /// PKCE: base64url of a SHA-256.
    code_challenge: Option<String>,
    /// `S256`.
    code_challenge_method: Option<String>,
    /// `none`, `login` or `consent`.
    prompt: Option<String>,
    /// Seconds since the login at most.
    max_age: Option<String>,
    /// The name the login form starts with.
    login_hint: Option<String>,
}

/// The consent form: the request's parameters again, and the answer.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct ConsentForm {
    /// The page's CSRF token (read by `checked_form`).
    #[serde(default)]
    #[allow(dead_code)]
    csrf_token: Option<String>,
    /// `allow`; anything else denies.
    decision: Option<String>,
    /// The request's `response_type`.
    response_type: Option<String>,
    /// The request's `client_id`.
    client_id: Option<String>,
    /// The request's `redirect_uri`.
    redirect_uri: Option<String>,
    /// The request's `scope`.
    scope: Option<String>,
    /// The request's `state`.
    state: Option<String>,
    /// The request's `nonce`.
    nonce: Option<String>,
    /// The request's `code_challenge`.
    code_challenge: Option<String>,
    /// The request's `code_challenge_method`.
    code_challenge_method: Option<String>,
    /// The request's `login_hint`.
    login_hint: Option<String>,
}

/// POST /oauth/consent
#[utoipa::path(
    post,
    path = "/oauth/consent",
    operation_id = "oauth_consent",
    tag = "OpenID Connect",
    summary = "The consent page's answer",
    description = "The consent page's form: its `csrf_token` (from a page of this session), the \
        authorization request's parameters again, and `decision` (`allow`; anything else \
        denies). Allow is remembered; either way the request is decided again, as by \
        `GET /oauth/authorize`.",
    security(("session_cookie" = [])),
    request_body(
        description = "The form.",
        content((ConsentForm = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "The consent page: it names the client and the scopes.", content_type = "text/html", body = String),
        (status = 303, description = "To the client's redirect URI with `code`, `state` and `iss`, or with `error`; or to \
            `/login?next=…` when nobody is signed in.",
            headers(("Location" = String, description = "The redirect URI with its parameters, or the login page."))),
        (status = 400, description = "An error page: unknown client, a redirect URI that is not the client's, or a \
            parameter given twice. The browser is sent nowhere.", content_type = "text/html", body = String),
        (status = 429, description = "An error page: too many requests from this address.", content_type = "text/html", body = String,
            headers(("Retry-After" = i64, description = "Whole seconds to wait."))),
        (status = 500, description = "An error page: a fault on the server's side.", content_type = "text/html", body = String),
        (status = 503, description = "An error page: the database does not answer.", content_type = "text/html", body = String),
        (status = 403, description = "An error page: the CSRF token is missing or wrong, or the form came from another site.", content_type = "text/html", body = String),
        (status = 413, description = "An error page: the body is larger than 16 KiB.", content_type = "text/html", body = String),
        (status = 415, description = "An error page: the body is not a form or JSON.", content_type = "text/html", body = String),
    ),
)]
pub(crate) fn consent(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("oauth" / "consent")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx: RequestCtx, body: RawBody, app: App| async move {
            page_result(handle_consent(ctx, body, app).await)
        })
        .boxed()
}

async fn handle_consent(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let form: ConsentForm = checked_form(&ctx, body, &app, Guard::Session).await?;
    let decision = match form.decision.as_deref() {
        Some("allow") => ConsentDecision::Allowed,
        _ => ConsentDecision::Denied,
    };
    let request = AuthorizationRequest {
        response_type: form.response_type,
        client_id: form.client_id,
        redirect_uri: form.redirect_uri,
        scope: form.scope,
        state: form.state,
        nonce: form.nonce,
        code_challenge: form.code_challenge,
        code_challenge_method: form.code_challenge_method,
        prompt: None,
        max_age: None,
        login_hint: form.login_hint,
    };
    Ok(decide(&ctx, &request, decision, &app).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_given_twice_is_refused_and_the_way_back_drops_prompt() {
        assert!(parse_request(b"client_id=a&client_id=b").is_err());
        let request = parse_request(
            b"client_id=c&prompt=login&max_age=0&state=s%26t&redirect_uri=https%3A%2F%2Fa%2Fcb",
        )
        .unwrap();
        let location = login_location(&request);
        assert!(location.starts_with("/login?next=%2Foauth%2Fauthorize%3F"));
        assert!(!location.contains("prompt"));
        assert!(!location.contains("max_age"));
        let next: String = url::form_urlencoded::parse(&location.as_bytes()["/login?".len()..])
            .find(|(n, _)| n == "next")
            .unwrap()
            .1
            .into_owned();
        // A login goes back to it (auth-core's rule for a same-origin next).
        assert_eq!(
            auth_core::NextTarget::same_origin(&next),
            Some(auth_core::NextTarget::SameOrigin(next.clone()))
        );
        assert_eq!(
            parse_request(&next.as_bytes()["/oauth/authorize?".len()..])
                .unwrap()
                .state
                .as_deref(),
            Some("s&t")
        );
    }
}

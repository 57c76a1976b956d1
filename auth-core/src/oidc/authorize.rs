//! The authorization request: the client and redirect URI first (an error
//! there is never redirected), then the request's other parameters, the
//! login, the consent, and a code.

use auth_db::{EventRow, OidcClientRow, OidcCodeRow, OidcConsentRow, SessionRow};

use super::issue::oauth;
use super::rules::{parse_scopes, plausible_challenge, scopes_within, with_query};
use super::{AuthorizationRequest, AuthorizeOutcome, ConsentDecision, OAuthError, CODE_TTL_SECS};
use crate::account::{Authenticated, ClientInfo};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
use crate::service::Auth;
use crate::token::AuthorizationCode;

/// What `prompt` asks for.
#[derive(Default)]
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

fn parse_prompt(prompt: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut parsed = Prompt::default();
    for value in prompt
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        match value {
            "none" => parsed.none = true,
            "login" => parsed.login = true,
            "consent" => parsed.consent = true,
            "select_account" => {}
            other => {
                return Err(OAuthError::InvalidRequest(format!(
                    "unsupported prompt {other:?}"
                )))
            }
        }
    }
    if parsed.none && (parsed.login || parsed.consent) {
        return Err(OAuthError::InvalidRequest(
            "prompt=none cannot be combined with another value".into(),
        ));
    }
    Ok(parsed)
}

/// The request's parameters once checked.
struct Checked {
    scope: String,
    scopes: Vec<&'static str>,
    challenge: String,
    prompt: Prompt,
    max_age: Option<i64>,
}

fn check(request: &AuthorizationRequest) -> Result<Checked, OAuthError> {
    if request.response_type.as_deref() != Some("code") {
        return Err(OAuthError::UnsupportedResponseType);
    }
    let scopes = parse_scopes(request.scope.as_deref().unwrap_or_default())
        .ok_or_else(|| OAuthError::InvalidScope("scope must include openid".into()))?;
    if request.code_challenge_method.as_deref() != Some("S256") {
        return Err(OAuthError::InvalidRequest(
            "PKCE is required: code_challenge_method must be S256".into(),
        ));
    }
    let challenge = request.code_challenge.clone().unwrap_or_default();
    if !plausible_challenge(&challenge) {
        return Err(OAuthError::InvalidRequest(
            "code_challenge must be 43 base64url characters".into(),
        ));
    }
    let prompt = parse_prompt(request.prompt.as_deref())?;
    let max_age = match request.max_age.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<u32>()
                .map_err(|_| OAuthError::InvalidRequest("max_age must be a number".into()))?
                as i64,
        ),
    };
    Ok(Checked {
        scope: scopes.join(" "),
        scopes,
        challenge,
        prompt,
        max_age,
    })
}

impl Auth {
    /// Decides an authorization request for the browser holding
    /// `session_token`, with the user's answer on the consent page when they
    /// gave one. An unknown client or unregistered redirect URI is
    /// `OAuthError::UntrustedRedirect` (an error page, never a redirect);
    /// every other refusal is a redirect to the client with `error`,
    /// `state` and `iss`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn authorize(
        &self,
        request: &AuthorizationRequest,
        session_token: Option<&str>,
        decision: ConsentDecision,
        client: &ClientInfo,
    ) -> AuthResult<AuthorizeOutcome> {
        let (app, redirect_uri) = self.trusted_redirect(request).await?;
        let back = |error: OAuthError| {
            let mut params = vec![("error", error.code()), ("iss", self.issuer())];
            if let Some(state) = request.state.as_deref() {
                params.push(("state", state));
            }
            AuthorizeOutcome::Redirect(with_query(&redirect_uri, &params))
        };
        let checked = match check(request) {
            Ok(checked) => checked,
            Err(error) => return Ok(back(error)),
        };
        let signed_in = match session_token {
            Some(token) => match self.get_user_from_session_id(token).await {
                Ok(signed_in) => Some(signed_in),
                Err(AuthError::NotAuthenticated) => None,
                Err(other) => return Err(other),
            },
            None => None,
        };
        let now = self.now();
        let fresh_enough = |s: &Authenticated| {
            checked
                .max_age
                .is_none_or(|max| now - s.session.created_at <= max)
        };
        let signed_in = match signed_in {
            Some(s) if !checked.prompt.login && fresh_enough(&s) => s,
            _ if checked.prompt.none => return Ok(back(OAuthError::LoginRequired)),
            _ => return Ok(AuthorizeOutcome::Login),
        };
        if decision == ConsentDecision::Denied {
            return Ok(back(OAuthError::AccessDenied));
        }
        let user_id = signed_in.user.id.clone();
        if !app.trusted && decision != ConsentDecision::Allowed {
            let (user, client_id) = (user_id.clone(), app.id.clone());
            let consent = self
                .db_read(move |conn| OidcConsentRow::find(conn, &user, &client_id))
                .await?;
            let remembered = consent.is_some_and(|c| scopes_within(&checked.scope, &c.scope));
            if !remembered || checked.prompt.consent {
                if checked.prompt.none {
                    return Ok(back(OAuthError::ConsentRequired));
                }
                return Ok(AuthorizeOutcome::Consent {
                    client_name: app.name.clone(),
                    scopes: checked.scopes.iter().map(|s| (*s).to_owned()).collect(),
                });
            }
        }
        let code = AuthorizationCode::generate();
        let row = OidcCodeRow {
            code_hash: code.hash(),
            client_id: app.id.clone(),
            user_id: user_id.clone(),
            redirect_uri: redirect_uri.clone(),
            scope: checked.scope.clone(),
            nonce: request.nonce.clone(),
            code_challenge: checked.challenge,
            auth_time: signed_in.session.created_at,
            amr: String::new(),
            sid: signed_in.session.id.clone(),
            created_at: now,
            expires_at: now + CODE_TTL_SECS,
            grant_id: None,
        };
        let consent = (decision == ConsentDecision::Allowed).then(|| OidcConsentRow {
            user_id: user_id.clone(),
            client_id: app.id.clone(),
            scope: checked.scope.clone(),
            created_at: now,
        });
        let consented = self.event(event::OIDC_CONSENT_GIVEN, Some(&user_id), client);
        let recorded = consent.is_some();
        self.db(move |conn| {
            auth_db::write_transaction(conn, |conn| {
                if let Some(consent) = &consent {
                    OidcConsentRow::put(conn, consent)?;
                    EventRow::record(conn, &consented)?;
                }
                // Sessions made before their methods were recorded were
                // password logins.
                let amr = SessionRow::amr_of(conn, &row.sid)?.unwrap_or_else(|| "pwd".into());
                OidcCodeRow::create(conn, &OidcCodeRow { amr, ..row })
            })
        })
        .await?;
        if recorded {
            log_event(event::OIDC_CONSENT_GIVEN, Some(&user_id), client);
        }
        let mut params = vec![("code", code.expose()), ("iss", self.issuer())];
        if let Some(state) = request.state.as_deref() {
            params.push(("state", state));
        }
        Ok(AuthorizeOutcome::Redirect(with_query(
            &redirect_uri,
            &params,
        )))
    }

    /// The redirect URI an authorization request goes back to, when its
    /// client is registered and the URI is one of that client's; `None`
    /// otherwise. The login and consent pages allow its origin in their
    /// `form-action`, since browsers hold the redirects after a form to it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn registered_redirect_uri(
        &self,
        request: &AuthorizationRequest,
    ) -> AuthResult<Option<String>> {
        match self.trusted_redirect(request).await {
            Ok((_, uri)) => Ok(Some(uri)),
            Err(AuthError::OAuth(OAuthError::UntrustedRedirect(_))) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// The client and redirect URI of a request, if both are known and
    /// belong together; `UntrustedRedirect` otherwise.
    async fn trusted_redirect(
        &self,
        request: &AuthorizationRequest,
    ) -> AuthResult<(super::OidcClient, String)> {
        let client_id = request.client_id.clone().unwrap_or_default();
        let unknown = || oauth(OAuthError::UntrustedRedirect("unknown client_id".into()));
        if uuid::Uuid::parse_str(&client_id).is_err() {
            return Err(unknown());
        }
        let app = self
            .db_read(move |conn| OidcClientRow::find(conn, &client_id))
            .await?
            .as_ref()
            .map(super::issue::client_of)
            .ok_or_else(unknown)?;
        match request.redirect_uri.as_deref() {
            Some(uri) if app.redirect_uris.iter().any(|registered| registered == uri) => {
                let uri = uri.to_owned();
                Ok((app, uri))
            }
            _ => Err(oauth(OAuthError::UntrustedRedirect(
                "redirect_uri is not registered for this client".into(),
            ))),
        }
    }
}

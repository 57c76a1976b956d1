//! A forgotten password: `/forgot` asks for a link, `/reset` sets a new
//! password with it.

use super::*;

/// GET /forgot
pub(super) fn forgot_form(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("forgot")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .map(|ctx: RequestCtx, app: App| {
            let (nonce, new_cookie) = pre_session_nonce(&ctx, &app);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let page = forgot_page(&csrf_token, None, "");
            maybe_with_cookie(render(&page, StatusCode::OK), new_cookie)
        })
        .boxed()
}

/// The form of `/forgot`, with an error and the typed name after a failure.
pub(super) fn forgot_page<'a>(
    csrf_token: &'a str,
    error: Option<&'a str>,
    username: &'a str,
) -> ForgotPage<'a> {
    ForgotPage {
        csrf_token,
        sent: false,
        ttl: "",
        error,
        username,
    }
}

/// POST /forgot
pub(super) fn forgot(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("forgot").and(warp::post()),
        handle_forgot,
        page_result,
    )
}

/// The form of `/forgot`: the account, by username or e-mail address.
#[derive(serde::Deserialize)]
struct ForgotForm {
    username: Option<String>,
}

pub(super) async fn handle_forgot(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    let form: ForgotForm = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let name = form.username.unwrap_or_default().trim().to_owned();
    if name.is_empty() {
        let nonce = ctx
            .cookie(crate::page_kit::pre_session_cookie(&app))
            .unwrap_or_default();
        let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
        let page = forgot_page(
            &csrf_token,
            Some("Enter your username or e-mail address."),
            "",
        );
        return Err(render(&page, StatusCode::BAD_REQUEST));
    }
    // The page is the same whatever happens next, and answers before anything
    // about the account is looked up: neither its words nor its timing say
    // whether the account exists, has an e-mail address, or how long the
    // mail server takes.
    app.auth.send_password_reset_link(name, app.client(&ctx));
    let ttl = human_duration(app.auth.config().reset_token_ttl);
    let page = ForgotPage {
        csrf_token: "",
        sent: true,
        ttl: &ttl,
        error: None,
        username: "",
    };
    Ok(render(&page, StatusCode::OK))
}

// ----- /reset -----

/// The one `token` of a query string; none when absent, repeated or unreadable.
pub(super) fn token_of_query(query: &str) -> Option<String> {
    let mut found = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("token="))
        .map(|value| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map(|v| v.into_owned())
        });
    let first = found.next()?.ok()?;
    match found.next() {
        Some(_) => None,
        None => Some(first),
    }
}

/// GET /reset?token=T
pub(super) fn reset_form(app: &App) -> BoxedFilter<(Response,)> {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::path!("reset")
        .and(warp::get())
        .and(query)
        .and(ctx())
        .and(app.filter())
        .then(|query: String, ctx: RequestCtx, app: App| async move {
            let (nonce, new_cookie) = pre_session_nonce(&ctx, &app);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let link = token_of_query(&query).unwrap_or_default();
            let response = match reset_token_state(&app, &link).await {
                Ok(state) => {
                    let page = reset_page(&app, &csrf_token, &link, state, "", None);
                    render(&page, state.status())
                }
                Err(response) => response,
            };
            maybe_with_cookie(response, new_cookie)
        })
        .boxed()
}

/// What a reset link's token is known to be before it is used.
#[derive(Clone, Copy)]
pub(super) enum TokenState {
    /// Live: the form.
    Live,
    /// Unknown, expired or used: a page that says so.
    Dead,
    /// Well-formed, but the link names no account (a token from the JSON
    /// API): the form asks for the account, and the POST decides.
    AccountNeeded,
}

impl TokenState {
    fn status(self) -> StatusCode {
        match self {
            TokenState::Dead => StatusCode::FORBIDDEN,
            TokenState::Live | TokenState::AccountNeeded => StatusCode::OK,
        }
    }
}

/// Checks a link's token without using it up: it must be live, and live
/// for the account the link names.
pub(super) async fn reset_token_state(app: &App, link: &str) -> Result<TokenState, Response> {
    let Some((token, account)) = parse_reset_link_token(link) else {
        return Ok(TokenState::Dead);
    };
    let holder = match app.auth.reset_token_holder(&token).await {
        Ok(Some(holder)) => holder,
        Ok(None) => return Ok(TokenState::Dead),
        Err(error) => return Err(error_page(ApiError::from(error))),
    };
    let Some(account) = account else {
        return Ok(TokenState::AccountNeeded);
    };
    match app.auth.find_user(&account).await {
        Ok(Some(named)) if named.id == holder.id => Ok(TokenState::Live),
        Ok(_) => Ok(TokenState::Dead),
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

pub(super) fn reset_page<'a>(
    app: &App,
    csrf_token: &'a str,
    link: &'a str,
    state: TokenState,
    username: &'a str,
    error: Option<&'a str>,
) -> ResetPage<'a> {
    ResetPage {
        csrf_token,
        valid: !matches!(state, TokenState::Dead),
        token: link,
        ask_account: matches!(state, TokenState::AccountNeeded),
        account: match (state, parse_reset_link_token(link)) {
            (TokenState::Live, Some((_, Some(account)))) => Some(account.as_str().to_owned()),
            _ => None,
        },
        username,
        min_length: app.auth.config().password_min_length,
        error,
    }
}

/// POST /reset
pub(super) fn reset(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("reset").and(warp::post()),
        handle_reset,
        page_result,
    )
}

/// The form of the reset page: the link's token, the account typed again
/// and the new password twice.
#[derive(serde::Deserialize)]
struct ResetForm {
    token: Option<String>,
    username: Option<String>,
    new_password: Option<String>,
    new_password_again: Option<String>,
}

pub(super) async fn handle_reset(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    let form: ResetForm = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let nonce = ctx
        .cookie(crate::page_kit::pre_session_cookie(&app))
        .unwrap_or_default();
    let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
    let link = form.token.unwrap_or_default();
    let typed_account = form.username.unwrap_or_default();
    let new_password = form.new_password.unwrap_or_default();
    let again = form.new_password_again.unwrap_or_default();
    let dead = || {
        let page = reset_page(&app, &csrf_token, "", TokenState::Dead, "", None);
        render(&page, StatusCode::FORBIDDEN)
    };
    let Some((token, account)) = parse_reset_link_token(&link) else {
        return Err(dead());
    };
    let state = match account {
        Some(_) => TokenState::Live,
        None => TokenState::AccountNeeded,
    };
    let form_again = |message: &str| {
        let page = reset_page(
            &app,
            &csrf_token,
            &link,
            state,
            &typed_account,
            Some(message),
        );
        render(&page, StatusCode::BAD_REQUEST)
    };
    let account = match account {
        Some(account) => account,
        None if typed_account.trim().is_empty() => {
            return Err(form_again("Enter your username or e-mail address."))
        }
        None => Identifier::Any(typed_account.trim().to_owned()),
    };
    if new_password != again {
        return Err(form_again("The two new passwords do not match."));
    }
    match app
        .auth
        .update_password(
            &account,
            &token,
            &Password::new(new_password),
            &app.client(&ctx),
        )
        .await
    {
        Ok(_) => Ok(with_cookie(
            redirect("/login", StatusCode::SEE_OTHER),
            flash_cookie(FLASH_PASSWORD_UPDATED, 60),
        )),
        Err(AuthError::InvalidResetToken) => Err(dead()),
        Err(error @ AuthError::PasswordRejected(_)) => Err(form_again(&sentence(&error))),
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_token_per_query() {
        assert_eq!(token_of_query("token=abc").as_deref(), Some("abc"));
        assert_eq!(token_of_query("x=1&token=a%2Eb").as_deref(), Some("a.b"));
        assert_eq!(token_of_query("token=a&token=b"), None);
        assert_eq!(token_of_query(""), None);
    }
}

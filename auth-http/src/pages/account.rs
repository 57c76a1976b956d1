//! The signed-in pages: the password change and the session list, and the
//! steps every signed-in page takes.

use super::*;

/// The request's session and its user, or the way to the login page.
pub(super) async fn signed_in(
    ctx: &RequestCtx,
    app: &App,
) -> Result<(String, Authenticated), Response> {
    let Some(token) = ctx.cookie(&app.config.cookie_name) else {
        return Err(redirect("/login", StatusCode::SEE_OTHER));
    };
    match app.auth.get_user_from_session_id(&token).await {
        Ok(signed_in) => Ok((token, signed_in)),
        Err(AuthError::NotAuthenticated) => Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

/// The notice of a flash cookie this page owns, and whether to clear the cookie.
pub(super) fn take_flash(
    ctx: &RequestCtx,
    known: &[(&str, &'static str)],
) -> (Option<&'static str>, bool) {
    match ctx.cookie(FLASH_COOKIE) {
        Some(flash) => (
            known
                .iter()
                .find(|(code, _)| *code == flash)
                .map(|(_, notice)| *notice),
            true,
        ),
        None => (None, false),
    }
}

pub(super) fn clearing_flash(response: Response, clear: bool) -> Response {
    if clear {
        with_cookie(response, flash_cookie("", 0))
    } else {
        response
    }
}

/// GET /me/password
pub(super) fn password_form(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "password")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            let (_, signed_in) = match signed_in(&ctx, &app).await {
                Ok(found) => found,
                Err(response) => return response,
            };
            let csrf_token =
                crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
            let page = PasswordPage {
                csrf_token: &csrf_token,
                section: "password",
                min_length: app.auth.config().password_min_length,
                error: None,
            };
            render(&page, StatusCode::OK)
        })
        .boxed()
}

/// POST /me/password
pub(super) fn change_password(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("me" / "password").and(warp::post()),
        handle_change_password,
        page_result,
    )
}

/// The password form of `/me`: the current password and the new one twice.
#[derive(serde::Deserialize)]
struct NewPasswordForm {
    current_password: Option<String>,
    new_password: Option<String>,
    new_password_again: Option<String>,
}

pub(super) async fn handle_change_password(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    let form: NewPasswordForm = checked_form(&ctx, body, &app, Guard::Session).await?;
    let (token, signed_in) = signed_in(&ctx, &app).await?;
    let current = form.current_password.unwrap_or_default();
    let new_password = form.new_password.unwrap_or_default();
    let again = form.new_password_again.unwrap_or_default();
    let csrf_token = crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
    let form_again = |message: &str, status: StatusCode| {
        let page = PasswordPage {
            csrf_token: &csrf_token,
            section: "password",
            min_length: app.auth.config().password_min_length,
            error: Some(message),
        };
        render(&page, status)
    };
    if new_password != again {
        return Err(form_again(
            "The two new passwords do not match.",
            StatusCode::BAD_REQUEST,
        ));
    }
    let result = app
        .auth
        .change_password(
            &token,
            &Password::new(current),
            &Password::new(new_password),
            &app.client(&ctx),
        )
        .await;
    match result {
        Ok(success) => {
            let response = with_cookie(
                redirect("/me", StatusCode::SEE_OTHER),
                app.session_cookie(success.token.expose()),
            );
            Ok(with_cookie(
                response,
                flash_cookie(FLASH_PASSWORD_CHANGED, 60),
            ))
        }
        Err(AuthError::InvalidCredentials) => Err(form_again(
            "The current password is wrong.",
            StatusCode::UNAUTHORIZED,
        )),
        Err(error @ AuthError::PasswordRejected(_)) => {
            Err(form_again(&sentence(&error), StatusCode::BAD_REQUEST))
        }
        Err(error @ AuthError::Throttled { .. }) => {
            let message = sentence(&error);
            let api = ApiError::from(error);
            Err(with_retry_after(
                form_again(&message, StatusCode::TOO_MANY_REQUESTS),
                &api,
            ))
        }
        // The session ended meanwhile (another change won the race).
        Err(AuthError::NotAuthenticated) => Err(with_cookie(
            redirect("/login", StatusCode::SEE_OTHER),
            app.cleared_cookie(),
        )),
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

/// GET /me/sessions
pub(super) fn sessions_page(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "sessions")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            let Some(token) = ctx.cookie(&app.config.cookie_name) else {
                return redirect("/login", StatusCode::SEE_OTHER);
            };
            let (signed_in, sessions) = match app.auth.list_sessions(&token).await {
                Ok(found) => found,
                Err(AuthError::NotAuthenticated) => {
                    return redirect("/login", StatusCode::SEE_OTHER)
                }
                Err(error) => return error_page(ApiError::from(error)),
            };
            let (notice, clear) = take_flash(
                &ctx,
                &[
                    (FLASH_SESSION_ENDED, "The session has ended."),
                    (FLASH_OTHERS_ENDED, "Every other session has ended."),
                    (FLASH_SESSION_GONE, "That session had already ended."),
                ],
            );
            let csrf_token =
                crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
            let rows: Vec<SessionRow> = sessions
                .iter()
                .map(|session| {
                    let user_agent = session.user_agent.clone().unwrap_or_default();
                    SessionRow {
                        id: session.id.clone(),
                        device: device_of(&user_agent),
                        user_agent: if user_agent.is_empty() {
                            "No user agent given".into()
                        } else {
                            user_agent
                        },
                        signed_in: human_time(session.created_at),
                        last_seen: human_time(session.last_seen_at),
                        current: session.id == signed_in.session.id,
                    }
                })
                .collect();
            let mut rows = rows;
            // This session first, then the others newest first.
            rows.sort_by_key(|row| !row.current);
            let others = rows.iter().any(|row| !row.current);
            let page = SessionsPage {
                csrf_token: &csrf_token,
                section: "sessions",
                notice,
                rows,
                others,
            };
            clearing_flash(render(&page, StatusCode::OK), clear)
        })
        .boxed()
}

/// A short name for the device of a user agent: `Firefox on Linux`.
pub(super) fn device_of(user_agent: &str) -> String {
    let has = |needle: &str| user_agent.contains(needle);
    let browser = if has("Edg/") {
        "Edge"
    } else if has("OPR/") {
        "Opera"
    } else if has("Firefox/") {
        "Firefox"
    } else if has("Chrome/") || has("Chromium/") || has("HeadlessChrome/") {
        "Chrome"
    } else if has("Safari/") {
        "Safari"
    } else if has("curl/") {
        "curl"
    } else if user_agent.is_empty() {
        return "Unknown device".into();
    } else {
        "A program"
    };
    let system = if has("iPhone") || has("iPad") {
        Some("iOS")
    } else if has("Android") {
        Some("Android")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Linux") || has("X11") {
        Some("Linux")
    } else {
        None
    };
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

/// POST /me/sessions/{id}/end
pub(super) fn end_one_session(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "sessions" / String / "end")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|id: String, ctx: RequestCtx, body, app: App| async move {
            page_result(handle_end_one(id, ctx, body, app).await)
        })
        .boxed()
}

pub(super) async fn handle_end_one(
    id: String,
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    checked_form::<NoFields>(&ctx, body, &app, Guard::Session).await?;
    let (token, signed_in) = signed_in(&ctx, &app).await?;
    if id == signed_in.session.id {
        // Ending this very session is logging out.
        return match app.auth.destroy_session(&token, &app.client(&ctx)).await {
            Ok(()) | Err(AuthError::NotAuthenticated) => Ok(with_cookie(
                redirect("/login", StatusCode::SEE_OTHER),
                app.cleared_cookie(),
            )),
            Err(error) => Err(error_page(ApiError::from(error))),
        };
    }
    let flash = match app.auth.end_session(&token, &id, &app.client(&ctx)).await {
        Ok(()) => FLASH_SESSION_ENDED,
        // Ended already (a second click, a replayed form), or never this
        // user's: nothing to do, and the list shows what is left.
        Err(AuthError::NotFound) => FLASH_SESSION_GONE,
        Err(AuthError::NotAuthenticated) => return Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => return Err(error_page(ApiError::from(error))),
    };
    Ok(with_cookie(
        redirect("/me/sessions", StatusCode::SEE_OTHER),
        flash_cookie(flash, 60),
    ))
}

/// POST /me/sessions/end-others
pub(super) fn end_other_sessions(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("me" / "sessions" / "end-others").and(warp::post()),
        handle_end_others,
        page_result,
    )
}

pub(super) async fn handle_end_others(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    checked_form::<NoFields>(&ctx, body, &app, Guard::Session).await?;
    let Some(token) = ctx.cookie(&app.config.cookie_name) else {
        return Err(redirect("/login", StatusCode::SEE_OTHER));
    };
    let (signed_in, sessions) = match app.auth.list_sessions(&token).await {
        Ok(found) => found,
        Err(AuthError::NotAuthenticated) => return Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => return Err(error_page(ApiError::from(error))),
    };
    let client = app.client(&ctx);
    for session in sessions
        .iter()
        .filter(|session| session.id != signed_in.session.id)
    {
        match app.auth.end_session(&token, &session.id, &client).await {
            Ok(()) | Err(AuthError::NotFound) => {}
            Err(AuthError::NotAuthenticated) => {
                return Err(redirect("/login", StatusCode::SEE_OTHER))
            }
            Err(error) => return Err(error_page(ApiError::from(error))),
        }
    }
    // The account's OIDC refresh and access tokens end with its other
    // sessions (docs/contract/8-openid-connect.md).
    match app.auth.end_oidc_grants(&token).await {
        Ok(_) => {}
        Err(AuthError::NotAuthenticated) => return Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => return Err(error_page(ApiError::from(error))),
    }
    Ok(with_cookie(
        redirect("/me/sessions", StatusCode::SEE_OTHER),
        flash_cookie(FLASH_OTHERS_ENDED, 60),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_for_people() {
        assert_eq!(
            device_of("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            "Firefox on Linux"
        );
        assert_eq!(
            device_of("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"),
            "Safari on iOS"
        );
        assert_eq!(device_of("curl/8.5.0"), "curl");
        assert_eq!(device_of(""), "Unknown device");
    }
}

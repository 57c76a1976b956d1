//! Owning an e-mail address on the website (docs/contract/10-email.md):
//! `/verify-email` (a GET shows a button, the POST verifies: mail scanners
//! open links), `/me/email` (a change of address) and the resend of `/me`.

use super::*;

/// The notices of `/me` about the address.
pub(crate) const FLASH_EMAIL_LINK_SENT: &str = "email_link_sent";
/// No link was needed: the address was already verified.
pub(crate) const FLASH_EMAIL_NOTHING: &str = "email_nothing_to_verify";

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyEmailPage<'a> {
    csrf_token: &'a str,
    token: &'a str,
    /// The address the link proves; `None`: the link does not work.
    address: Option<&'a str>,
    done: bool,
    error: &'a str,
}

#[derive(Template)]
#[template(path = "email.html")]
struct EmailPage<'a> {
    csrf_token: &'a str,
    section: &'a str,
    current: Option<&'a str>,
    verified: bool,
    email: &'a str,
    error: Option<&'a str>,
}

/// Every route of this module.
pub(super) fn email_routes(app: &App) -> BoxedFilter<(Response,)> {
    verify_form(app)
        .or(verify(app))
        .unify()
        .or(email_form(app))
        .unify()
        .or(change_email(app))
        .unify()
        .or(resend(app))
        .unify()
        .boxed()
}

const DEAD_LINK: &str = "This verification link is unknown, has expired or has already been used.";

fn dead_link_page(message: &str, status: StatusCode) -> Response {
    let page = VerifyEmailPage {
        csrf_token: "",
        token: "",
        address: None,
        done: false,
        error: message,
    };
    render(&page, status)
}

/// GET /verify-email?token=T: the confirm button; the token is not used.
fn verify_form(app: &App) -> BoxedFilter<(Response,)> {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::path!("verify-email")
        .and(warp::get())
        .and(query)
        .and(ctx())
        .and(app.filter())
        .then(|query: String, ctx: RequestCtx, app: App| async move {
            let (nonce, new_cookie) = pre_session_nonce(&ctx, &app);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let token = token_of_query(&query).unwrap_or_default();
            let response = match app.auth.email_token_holder(&token).await {
                Ok(Some((_, address))) => {
                    let page = VerifyEmailPage {
                        csrf_token: &csrf_token,
                        token: &token,
                        address: Some(&address),
                        done: false,
                        error: "",
                    };
                    render(&page, StatusCode::OK)
                }
                Ok(None) => dead_link_page(DEAD_LINK, StatusCode::FORBIDDEN),
                Err(error) => error_page(ApiError::from(error)),
            };
            maybe_with_cookie(response, new_cookie)
        })
        .boxed()
}

/// POST /verify-email
fn verify(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("verify-email").and(warp::post()),
        handle_verify,
        page_result,
    )
}

#[derive(serde::Deserialize)]
struct VerifyForm {
    token: Option<String>,
}

async fn handle_verify(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let form: VerifyForm = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let token = form.token.unwrap_or_default();
    match app.auth.verify_email(&token, &app.client(&ctx)).await {
        Ok(user) => {
            let address = user.email.unwrap_or_default();
            let page = VerifyEmailPage {
                csrf_token: "",
                token: "",
                address: Some(&address),
                done: true,
                error: "",
            };
            Ok(render(&page, StatusCode::OK))
        }
        Err(AuthError::InvalidEmailToken) => Err(dead_link_page(DEAD_LINK, StatusCode::FORBIDDEN)),
        Err(error @ AuthError::AlreadyRegistered(_)) => {
            Err(dead_link_page(&sentence(&error), StatusCode::BAD_REQUEST))
        }
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

/// GET /me/email
fn email_form(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "email")
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
            let page = EmailPage {
                csrf_token: &csrf_token,
                section: "email",
                current: signed_in.user.email.as_deref(),
                verified: signed_in.user.email_verified,
                email: "",
                error: None,
            };
            render(&page, StatusCode::OK)
        })
        .boxed()
}

/// POST /me/email
fn change_email(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("me" / "email").and(warp::post()),
        handle_change_email,
        page_result,
    )
}

#[derive(serde::Deserialize)]
struct EmailForm {
    email: Option<String>,
    current_password: Option<String>,
}

async fn handle_change_email(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    let form: EmailForm = checked_form(&ctx, body, &app, Guard::Session).await?;
    let (token, signed_in) = signed_in(&ctx, &app).await?;
    let email = form.email.unwrap_or_default().trim().to_owned();
    let current = Password::new(form.current_password.unwrap_or_default());
    let csrf_token = crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
    let form_again = |message: &str, status: StatusCode| {
        let page = EmailPage {
            csrf_token: &csrf_token,
            section: "email",
            current: signed_in.user.email.as_deref(),
            verified: signed_in.user.email_verified,
            email: &email,
            error: Some(message),
        };
        render(&page, status)
    };
    match app
        .auth
        .change_email(&token, &current, &email, &app.client(&ctx))
        .await
    {
        Ok(_) => Ok(with_cookie(
            redirect("/me", StatusCode::SEE_OTHER),
            flash_cookie(FLASH_EMAIL_LINK_SENT, 60),
        )),
        Err(AuthError::InvalidCredentials) => Err(form_again(
            "The current password is wrong.",
            StatusCode::UNAUTHORIZED,
        )),
        Err(error @ (AuthError::InvalidEmail | AuthError::AlreadyRegistered(_))) => {
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
        Err(AuthError::NotAuthenticated) => Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

/// POST /me/email/resend
fn resend(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("me" / "email" / "resend").and(warp::post()),
        handle_resend,
        page_result,
    )
}

async fn handle_resend(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let _: NoFields = checked_form(&ctx, body, &app, Guard::Session).await?;
    let (token, _) = signed_in(&ctx, &app).await?;
    let flash = match app
        .auth
        .resend_email_verification(&token, &app.client(&ctx))
        .await
    {
        Ok(Some(_)) => FLASH_EMAIL_LINK_SENT,
        Ok(None) => FLASH_EMAIL_NOTHING,
        Err(AuthError::NotAuthenticated) => return Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => return Err(error_page(ApiError::from(error))),
    };
    Ok(with_cookie(
        redirect("/me", StatusCode::SEE_OTHER),
        flash_cookie(flash, 60),
    ))
}

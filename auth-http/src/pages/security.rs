//! The security page: the authenticator app, recovery codes and passkeys of
//! the signed-in user.

use super::account::{clearing_flash, signed_in, take_flash};
use super::*;

/// GET /me/security
pub(super) fn security_page(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "security")
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
            let (notice, clear) = take_flash(
                &ctx,
                &[
                    (FLASH_TOTP_REMOVED, "The authenticator app is off."),
                    (FLASH_PASSKEY_REMOVED, "The passkey is removed."),
                ],
            );
            let page = SecurityPage {
                notice,
                ..security_page_of(&app, &signed_in.user.id, &csrf_token).await
            };
            clearing_flash(render(&page, StatusCode::OK), clear)
        })
        .boxed()
}

pub(super) const FLASH_TOTP_REMOVED: &str = "totp-removed";
pub(super) const FLASH_PASSKEY_REMOVED: &str = "passkey-removed";

/// The security page of a user as things stand.
pub(super) async fn security_page_of<'a>(
    app: &App,
    user_id: &str,
    csrf_token: &'a str,
) -> SecurityPage<'a> {
    let factors = app.auth.second_factors(user_id).await.unwrap_or_default();
    let passkeys = app
        .auth
        .passkeys_of(user_id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id,
            name: p.name,
            created: human_time(p.created_at),
            last_used: p.last_used_at.map(human_time),
        })
        .collect();
    SecurityPage {
        passkeys,
        csrf_token,
        section: "security",
        notice: None,
        error: None,
        totp: factors.totp,
        recovery_codes_left: factors.recovery_codes_left,
        enrolment: None,
        recovery_codes: None,
    }
}

/// The `otpauth://` URI as an SVG element to put inline in the page.
pub(super) fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    // The XML declaration has no place inside an HTML page.
    Some(svg[svg.find("<svg")?..].to_owned())
}

/// POST /me/security/totp, /me/security/totp/confirm, /me/security/recovery-codes,
/// /me/security/totp/remove
pub(super) fn security_actions(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "security" / ..)
        .and(warp::path::tail())
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .and_then(|tail: warp::path::Tail, ctx, body, app| async move {
            let action = match tail.as_str() {
                "totp" => SecurityAction::Begin,
                "totp/confirm" => SecurityAction::Confirm,
                "recovery-codes" => SecurityAction::NewCodes,
                "totp/remove" => SecurityAction::Remove,
                other => match other
                    .strip_prefix("passkeys/")
                    .and_then(|rest| rest.strip_suffix("/remove"))
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                {
                    Some(id) => SecurityAction::RemovePasskey(id.to_owned()),
                    None => return Err(warp::reject::not_found()),
                },
            };
            Ok(page_result(
                handle_security_action(action, ctx, body, app).await,
            ))
        })
        .boxed()
}

#[derive(Clone)]
pub(super) enum SecurityAction {
    Begin,
    Confirm,
    NewCodes,
    Remove,
    /// Remove the passkey with this id.
    RemovePasskey(String),
}

/// What the forms of the security page send: the password (to remove a
/// second factor or make new codes) or the app's code (to confirm it).
#[derive(serde::Deserialize)]
struct SecurityForm {
    password: Option<String>,
    code: Option<String>,
}

pub(super) async fn handle_security_action(
    action: SecurityAction,
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    let form: SecurityForm = checked_form(&ctx, body, &app, Guard::Session).await?;
    let (token, signed_in) = signed_in(&ctx, &app).await?;
    let password = Password::new(form.password.unwrap_or_default());
    let csrf_token = crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
    let client = app.client(&ctx);
    let outcome = match &action {
        SecurityAction::RemovePasskey(id) => {
            let removed = app
                .auth
                .remove_passkey(&token, id, &password, &client)
                .await;
            return match removed {
                Ok(()) | Err(AuthError::NotFound) => Ok(with_cookie(
                    redirect("/me/security", StatusCode::SEE_OTHER),
                    flash_cookie(FLASH_PASSKEY_REMOVED, 60),
                )),
                Err(AuthError::NotAuthenticated) => Err(redirect("/login", StatusCode::SEE_OTHER)),
                Err(error) => {
                    let page = SecurityPage {
                        error: Some(sentence(&error)),
                        ..security_page_of(&app, &signed_in.user.id, &csrf_token).await
                    };
                    let error = ApiError::from(error);
                    Err(with_retry_after(render(&page, error.status), &error))
                }
            };
        }
        SecurityAction::Begin => app.auth.begin_totp(&token).await.map(|enrolment| {
            (
                Some(Enrolment {
                    qr_svg: qr_svg(&enrolment.otpauth_uri).unwrap_or_default(),
                    secret: enrolment.secret.clone(),
                }),
                None,
            )
        }),
        SecurityAction::Confirm => app
            .auth
            .confirm_totp(&token, &form.code.unwrap_or_default(), &client)
            .await
            .map(|codes| (None, Some(codes.0))),
        SecurityAction::NewCodes => app
            .auth
            .replace_recovery_codes(&token, &password, &client)
            .await
            .map(|codes| (None, Some(codes.0))),
        SecurityAction::Remove => {
            return match app.auth.remove_totp(&token, &password, &client).await {
                Ok(()) | Err(AuthError::NotFound) => Ok(with_cookie(
                    redirect("/me/security", StatusCode::SEE_OTHER),
                    flash_cookie(FLASH_TOTP_REMOVED, 60),
                )),
                Err(AuthError::NotAuthenticated) => Err(redirect("/login", StatusCode::SEE_OTHER)),
                Err(error) => {
                    let page = SecurityPage {
                        error: Some(sentence(&error)),
                        ..security_page_of(&app, &signed_in.user.id, &csrf_token).await
                    };
                    let error = ApiError::from(error);
                    Err(with_retry_after(render(&page, error.status), &error))
                }
            };
        }
    };
    match outcome {
        Ok((enrolment, recovery_codes)) => {
            let page = SecurityPage {
                enrolment,
                recovery_codes,
                ..security_page_of(&app, &signed_in.user.id, &csrf_token).await
            };
            Ok(render(&page, StatusCode::OK))
        }
        Err(AuthError::NotAuthenticated) => Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => {
            let message = match (&error, &action) {
                (AuthError::InvalidCode, SecurityAction::Confirm) => {
                    "That code is wrong or has expired. Set up the app again and enter the code it shows now.".to_owned()
                }
                (AuthError::NotFound, _) => "No authenticator app is on.".to_owned(),
                (AuthError::InvalidField { field: "totp", .. }, _) => {
                    "An authenticator app is already on. Turn it off first.".to_owned()
                }
                _ => sentence(&error),
            };
            let page = SecurityPage {
                error: Some(message),
                ..security_page_of(&app, &signed_in.user.id, &csrf_token).await
            };
            let error = ApiError::from(error);
            let status = match error.status {
                StatusCode::NOT_FOUND => StatusCode::BAD_REQUEST,
                status => status,
            };
            Err(with_retry_after(render(&page, status), &error))
        }
    }
}

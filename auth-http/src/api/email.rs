//! The e-mail route of the JSON API (docs/contract/10-email.md): changing
//! the signed-in user's address, which becomes theirs once its link is used.

use super::*;

/// POST /email
#[utoipa::path(
    post,
    path = "/email",
    tag = "JSON API",
    summary = "Change the e-mail address",
    description = "Checks `current_password` as a login does (the same throttle) and sends a \
        verification link to `email`. The address becomes the account's only when the link is \
        used (`POST /verify-email` on the site); the old address then gets a notice. Giving the \
        account's own unverified address sends its link again.",
    security(("session_cookie" = [])),
    request_body(
        description = "The current password and the new address.",
        content(
            (EmailChange = "application/x-www-form-urlencoded"),
            (EmailChange = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "The link is on its way to the new address.",
            body = EmailChangeStarted,
            example = json!({"email": "new@example.com", "message": "verification link sent"})),
        BodyFaults,
        (status = 401, description = "`invalid_credentials`: the current password is wrong.",
            body = ErrorBody),
        (status = 403, response = SignedInForbidden),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(crate) fn change_email(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("email").and(warp::post()),
        handle_change_email,
        respond,
    )
}

async fn handle_change_email(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let token = app.session_token(&ctx)?;
    let change: EmailChange = body.read(&ctx.headers)?;
    let email = change.email.required("email")?;
    app.auth
        .change_email(&token, &change.current_password, &email, &app.client(&ctx))
        .await?;
    Ok(json(
        &EmailChangeStarted {
            email: &email,
            message: VERIFICATION_SENT,
        },
        StatusCode::OK,
    ))
}

/// The message of a started change of address.
pub(crate) const VERIFICATION_SENT: &str = "verification link sent";

/// `POST /email`: the current password and the new address.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "current_password": "tangerine rocket harbor 7",
    "email": "new@example.com"
}))]
pub(crate) struct EmailChange {
    #[serde(deserialize_with = "password")]
    #[schema(value_type = String)]
    current_password: Password,
    /// At most 254 characters with one `@`; not an address another account holds.
    #[schema(value_type = String)]
    email: Deferred,
}

/// The answer to `POST /email`: the address the link went to.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "new@example.com", "message": "verification link sent"}))]
pub(crate) struct EmailChangeStarted<'a> {
    email: &'a str,
    message: &'static str,
}

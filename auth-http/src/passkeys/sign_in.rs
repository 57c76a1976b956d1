//! Signing in with a passkey: alone (a discoverable credential) and as the
//! second step after a password.

use super::*;

/// POST /sessions/passkey/options
#[utoipa::path(
    post,
    path = "/sessions/passkey/options",
    tag = "Second factors",
    summary = "Start signing in with a passkey",
    description = "The options for `navigator.credentials.get` with no account named (the \
        browser offers its discoverable credentials for this site; user verification \
        required, since the passkey replaces the password), and the ceremony's id. Counts \
        toward the per-address rate limit.",
    responses(
        (status = 200, description = "The ceremony.", body = CeremonyBody),
        (status = 400, response = BadRequest),
        (status = 403, response = CrossOrigin),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(crate) fn begin_sign_in(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("sessions" / "passkey" / "options")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            respond(
                async {
                    app.same_origin(&ctx)?;
                    app.rate_limit(&ctx)?;
                    let origin = ceremony_origin(&app, &ctx)?;
                    let challenge = app.auth.begin_passkey_login(&origin).await?;
                    Ok(json(&CeremonyBody::from(challenge), StatusCode::OK))
                }
                .await,
            )
        })
        .boxed()
}

/// POST /sessions/passkey
#[utoipa::path(
    post,
    path = "/sessions/passkey",
    tag = "Second factors",
    summary = "Sign in with a passkey",
    description = "Finishes the ceremony of `POST /sessions/passkey/options` with the \
        browser's answer: a completed login (the cookie; the account's failure count is \
        cleared). A passkey that is unknown, not verified, or whose signature counter did \
        not move forward is 401 `invalid_credentials`.",
    request_body(
        description = "The ceremony and the credential.",
        content((PasskeyAssertion = "application/json"), (PasskeyAssertion = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "Logged in: the identifiers as registered and `logged in`.",
            body = AccountMessage,
            headers(("Set-Cookie" = String, description = "The session cookie, as `POST /sessions` sets it.")),
            example = json!({"email": "bob@example.com", "message": "logged in"})),
        BodyFaults,
        (status = 401, response = Unauthorized),
        (status = 403, response = CrossOrigin),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(crate) fn finish_sign_in(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("sessions" / "passkey").and(warp::post()),
        |ctx: RequestCtx, body: RawBody, app: App| async move {
            app.same_origin(&ctx)?;
            app.rate_limit(&ctx)?;
            let input: PasskeyAssertion = body.read(&ctx.headers)?;
            let presented = ctx.cookie(&app.config.cookie_name);
            let success = app
                .auth
                .finish_passkey_login(
                    &input.ceremony,
                    &input.credential.0,
                    presented.as_deref(),
                    &app.client(&ctx),
                )
                .await?;
            Ok(logged_in(&app, success))
        },
        respond,
    )
}

// ----- a passkey as the second step -----

/// POST /sessions/mfa/passkey/options
#[utoipa::path(
    post,
    path = "/sessions/mfa/passkey/options",
    tag = "Second factors",
    summary = "Start the second step with a passkey",
    description = "The options for `navigator.credentials.get` listing the account's \
        passkeys (user verification preferred: the password was the other factor), for the \
        `mfa_token` of `POST /sessions`. A used or expired token, or an account without a \
        passkey, is 401 `invalid_code`.",
    request_body(
        description = "The second-step token.",
        content((MfaTokenOnly = "application/json"), (MfaTokenOnly = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "The ceremony.", body = CeremonyBody),
        BodyFaults,
        (status = 401, response = CodeUnauthorized),
        (status = 403, response = CrossOrigin),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(crate) fn begin_second_step(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("sessions" / "mfa" / "passkey" / "options").and(warp::post()),
        |ctx: RequestCtx, body: RawBody, app: App| async move {
            app.same_origin(&ctx)?;
            app.rate_limit(&ctx)?;
            let input: MfaTokenOnly = body.read(&ctx.headers)?;
            let origin = ceremony_origin(&app, &ctx)?;
            let challenge = app
                .auth
                .begin_passkey_second_step(&input.mfa_token, &origin)
                .await?;
            Ok(json(&CeremonyBody::from(challenge), StatusCode::OK))
        },
        respond,
    )
}

/// POST /sessions/mfa/passkey
#[utoipa::path(
    post,
    path = "/sessions/mfa/passkey",
    tag = "Second factors",
    summary = "Finish a login with a passkey",
    description = "The `mfa_token`, the ceremony of `POST /sessions/mfa/passkey/options` \
        (started for that token) and the browser's answer. Gives what a login gives. An \
        answer that does not verify counts toward the account's login throttle, as a wrong \
        code does; a used or expired token or ceremony is `invalid_code`.",
    request_body(
        description = "The token, the ceremony and the credential.",
        content((MfaPasskeyStep = "application/json"), (MfaPasskeyStep = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "Logged in: the identifiers as registered and `logged in`.",
            body = AccountMessage,
            headers(("Set-Cookie" = String, description = "The session cookie, as `POST /sessions` sets it.")),
            example = json!({"email": "bob@example.com", "message": "logged in"})),
        BodyFaults,
        (status = 401, response = CodeUnauthorized),
        (status = 403, response = CrossOrigin),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
pub(crate) fn finish_second_step(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("sessions" / "mfa" / "passkey").and(warp::post()),
        |ctx: RequestCtx, body: RawBody, app: App| async move {
            app.same_origin(&ctx)?;
            app.rate_limit(&ctx)?;
            let input: MfaPasskeyStep = body.read(&ctx.headers)?;
            let presented = ctx.cookie(&app.config.cookie_name);
            let success = app
                .auth
                .complete_mfa_passkey(
                    &input.mfa_token,
                    &input.ceremony,
                    &input.credential.0,
                    presented.as_deref(),
                    &app.client(&ctx),
                )
                .await?;
            Ok(logged_in(&app, success))
        },
        respond,
    )
}

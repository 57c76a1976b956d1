//! Passkeys (docs/contract/7-second-factor.md) on both backends, with a software authenticator:
//! adding one, signing in with it alone, ceremonies finished on another
//! server, single use and expiry of a ceremony, counters that go backwards,
//! a passkey as the second step after a password, and what an operator's
//! reset and a password reset do to passkeys.

mod ceremonies;
mod credentials;
mod sign_in;

use crate::common;

use auth_core::{Auth, AuthError, LoginSuccess, MfaMethod, PasskeyChallenge};
use common::authenticator::TestAuthenticator;
use common::*;

/// The origin of the pages in these tests.
const ORIGIN: &str = "http://localhost:5000";

/// Adds a passkey to a signed-in user's account; returns its authenticator.
async fn add_passkey(auth: &Auth, session: &LoginSuccess, name: &str) -> TestAuthenticator {
    let challenge = auth
        .begin_passkey_registration(session.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
    let (authenticator, answer) = TestAuthenticator::register(&challenge.options, ORIGIN, true);
    let info = auth
        .finish_passkey_registration(
            session.token.expose(),
            challenge.ceremony.expose(),
            &answer,
            Some(name),
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(info.name, name);
    authenticator
}

/// A user with one passkey; returns it.
async fn with_passkey(auth: &Auth, name: &str) -> TestAuthenticator {
    register(auth, name, GOOD).await;
    let session = login(auth, name, GOOD).await.unwrap();
    add_passkey(auth, &session, "Laptop").await
}

/// One sign-in with the passkey alone at the authenticator's counter.
async fn sign_in(
    auth: &Auth,
    authenticator: &TestAuthenticator,
) -> Result<LoginSuccess, AuthError> {
    let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    let answer = authenticator.assert(&challenge.options, ORIGIN);
    auth.finish_passkey_login(challenge.ceremony.expose(), &answer, None, &client())
        .await
}

/// The first step of a login with the password; returns the mfa_token.
async fn first_step(auth: &Auth, name: &str) -> String {
    match login(auth, name, GOOD).await {
        Err(AuthError::MfaRequired { mfa_token, methods }) => {
            assert_eq!(methods, vec![MfaMethod::Passkey]);
            mfa_token.expose().to_owned()
        }
        other => panic!("expected mfa_required, got {other:?}"),
    }
}

async fn second_step(
    auth: &Auth,
    token: &str,
    authenticator: &TestAuthenticator,
) -> Result<LoginSuccess, AuthError> {
    let challenge: PasskeyChallenge = auth.begin_passkey_second_step(token, ORIGIN).await?;
    let answer = authenticator.assert(&challenge.options, ORIGIN);
    auth.complete_mfa_passkey(token, challenge.ceremony.expose(), &answer, None, &client())
        .await
}

fn void_ceremony(result: &Result<LoginSuccess, AuthError>) -> bool {
    matches!(
        result,
        Err(AuthError::InvalidField {
            field: "ceremony",
            ..
        })
    )
}

/// Finishes a registration ceremony with a fresh software authenticator.
async fn finish_with_new_key(
    auth: &Auth,
    session: &LoginSuccess,
    challenge: &PasskeyChallenge,
) -> Result<auth_core::PasskeyInfo, AuthError> {
    let (_, answer) = TestAuthenticator::register(&challenge.options, ORIGIN, true);
    finish_registration(auth, session, challenge, &answer).await
}

/// Finishes a registration ceremony for `session` with `answer` (no name).
async fn finish_registration(
    auth: &Auth,
    session: &LoginSuccess,
    challenge: &PasskeyChallenge,
    answer: &str,
) -> Result<auth_core::PasskeyInfo, AuthError> {
    let (token, ceremony) = (session.token.expose(), challenge.ceremony.expose());
    auth.finish_passkey_registration(token, ceremony, answer, None, &client())
        .await
}

/// Starts adding a passkey to a signed-in session (with its password).
async fn begin_registration(auth: &Auth, session: &LoginSuccess) -> PasskeyChallenge {
    auth.begin_passkey_registration(session.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap()
}

/// Starts the passkey second step of an mfa_token.
async fn begin_second_step(auth: &Auth, token: &str) -> PasskeyChallenge {
    auth.begin_passkey_second_step(token, ORIGIN).await.unwrap()
}

/// Finishes the second step of `token` with `answer` to this ceremony.
async fn finish_second_step(
    auth: &Auth,
    token: &str,
    challenge: &PasskeyChallenge,
    answer: &str,
) -> Result<LoginSuccess, AuthError> {
    auth.complete_mfa_passkey(token, challenge.ceremony.expose(), answer, None, &client())
        .await
}

/// Finishes a sign-in ceremony with `answer`.
async fn finish_sign_in(
    auth: &Auth,
    challenge: &PasskeyChallenge,
    answer: &str,
) -> Result<LoginSuccess, AuthError> {
    auth.finish_passkey_login(challenge.ceremony.expose(), answer, None, &client())
        .await
}

/// How many racing requests succeeded; every other one must fail as `lost`.
async fn winners<T>(
    racers: Vec<tokio::task::JoinHandle<Result<T, AuthError>>>,
    lost: fn(&AuthError) -> bool,
) -> usize {
    let mut won = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => won += 1,
            Err(error) if lost(&error) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    won
}

/// A void ceremony: `ceremony` is the invalid field.
fn void(error: &AuthError) -> bool {
    matches!(
        error,
        AuthError::InvalidField {
            field: "ceremony",
            ..
        }
    )
}

/// One racer: a sign-in ceremony finished with `answer` in a task of its own.
fn race_sign_in(
    auth: &Auth,
    challenge: &PasskeyChallenge,
    answer: String,
) -> tokio::task::JoinHandle<Result<LoginSuccess, AuthError>> {
    let (auth, ceremony) = (auth.clone(), challenge.ceremony.expose().to_owned());
    tokio::spawn(async move {
        auth.finish_passkey_login(&ceremony, &answer, None, &client())
            .await
    })
}

//! The test harness: `TestDb` and `on_both_backends!` (from auth-db's
//! `test-support` feature), the software authenticator, and the steps the
//! scenarios share.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    Auth, AuthError, AuthResult, ClientInfo, Config, Identifier, LoginSuccess, ManualClock,
    Password, Registration, SecretKey, User,
};

pub use auth_db::on_both_backends;
pub use auth_db::test_support::*;

pub mod authenticator;

/// The one key of every test service, so a database can be reopened.
pub fn key() -> SecretKey {
    SecretKey::from_bytes([7; 32])
}

/// The test settings: bcrypt cost 4, a small pool.
pub fn config() -> Config {
    Config {
        bcrypt_cost: 4,
        pool_size: 4,
        ..Config::default()
    }
}

/// A service on the test database with the given settings and a clock that
/// moves only when told.
pub async fn open_with(db: &TestDb, config: Config) -> (Auth, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let auth = Auth::open_with_clock(&db.url, key(), config, clock.clone())
        .await
        .unwrap_or_else(|e| panic!("open Auth on {}: {e}", auth_db::redact_url(&db.url)));
    (auth, clock)
}

/// A service with the test settings.
pub async fn open(db: &TestDb) -> (Auth, Arc<ManualClock>) {
    open_with(db, config()).await
}

pub fn client() -> ClientInfo {
    ClientInfo::default()
}

pub fn pw(password: &str) -> Password {
    Password::new(password)
}

pub fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// A sign-up with a username and a password only.
pub fn named(username: &str, password: &str) -> Registration {
    Registration {
        username: Some(username.into()),
        password: pw(password),
        ..Registration::default()
    }
}

/// A sign-up with an e-mail and a password only.
pub fn mailed(email: &str, password: &str) -> Registration {
    Registration {
        email: Some(email.into()),
        password: pw(password),
        ..Registration::default()
    }
}

/// Registers a username, panicking on failure.
pub async fn register(auth: &Auth, username: &str, password: &str) -> User {
    auth.register_user(named(username, password), &client())
        .await
        .unwrap_or_else(|e| panic!("register {username}: {e:?}"))
}

/// Logs in by username without presenting an old token.
pub async fn login(auth: &Auth, username: &str, password: &str) -> AuthResult<LoginSuccess> {
    auth.login(
        &Identifier::Username(username.into()),
        &pw(password),
        None,
        &client(),
    )
    .await
}

/// Logs in by e-mail without presenting an old token.
pub async fn login_by_email(auth: &Auth, email: &str, password: &str) -> AuthResult<LoginSuccess> {
    auth.login(
        &Identifier::Email(email.into()),
        &pw(password),
        None,
        &client(),
    )
    .await
}

/// Whether a session token still signs someone in (and which account).
pub async fn signed_in_as(auth: &Auth, token: &str) -> Option<String> {
    match auth.get_user_from_session_id(token).await {
        Ok(signed_in) => Some(signed_in.user.id),
        Err(AuthError::NotAuthenticated) => None,
        Err(other) => panic!("session check failed unexpectedly: {other:?}"),
    }
}

/// A password that passes every rule at the default minimum length.
pub const GOOD: &str = "correct horse battery staple";
/// Another one.
pub const OTHER: &str = "purple monkey dishwasher 42";

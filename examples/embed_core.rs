//! auth-core as a library, without HTTP: open an `Auth` on a temporary SQLite
//! file, register, log in, check the session, reset the password and log in
//! with the new one. Tokens are secrets: this prints only what happened.
//!
//!     cargo run --example embed_core

use auth_core::{
    Auth, AuthError, ClientInfo, Config, Identifier, Password, Registration, SecretKey,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    // Cost 4 keeps the example fast; a server uses 12 or more.
    let config = Config {
        bcrypt_cost: 4,
        ..Config::default()
    };
    let auth = Auth::open(&url, SecretKey::generate(), config).await?;
    println!("opened a fresh store at {url}");

    let client = ClientInfo::default();
    let name = Identifier::Username("kvothe".into());
    let first = Password::new("correct horse battery staple");
    let second = Password::new("the name of the wind is secret");

    let user = auth
        .register_user(
            Registration {
                username: Some("kvothe".into()),
                password: first.clone(),
                full_name: Some("Kvothe the Arcane".into()),
                ..Registration::default()
            },
            &client,
        )
        .await?;
    println!("registered {} (id {})", user.display_name(), user.id);

    match auth
        .register_user(
            Registration {
                username: Some("KVOTHE".into()),
                password: first.clone(),
                ..Registration::default()
            },
            &client,
        )
        .await
    {
        Err(error @ AuthError::AlreadyRegistered(_)) => {
            println!("registering KVOTHE again: refused ({error})")
        }
        other => anyhow::bail!("a second KVOTHE should be refused, got {other:?}"),
    }

    let login = auth.login(&name, &first, None, &client).await?;
    println!(
        "logged in as {}: session {} (a {}-character token for the cookie)",
        login.user.display_name(),
        login.session.id,
        login.token.expose().len()
    );

    let signed_in = auth.get_user_from_session_id(login.token.expose()).await?;
    println!(
        "the token signs in {} (full name {:?})",
        signed_in.user.display_name(),
        signed_in.user.full_name.as_deref().unwrap_or_default()
    );

    let (_, reset) = auth.get_reset_password_token(&name, &client).await?;
    println!("got a reset token (delivering it is the caller's job)");
    auth.update_password(&name, reset.expose(), &second, &client)
        .await?;
    println!("password updated with the reset token");

    match auth.get_user_from_session_id(login.token.expose()).await {
        Err(AuthError::NotAuthenticated) => println!("the old session has ended"),
        other => anyhow::bail!("the old session should have ended, got {other:?}"),
    }
    match auth
        .update_password(&name, reset.expose(), &second, &client)
        .await
    {
        Err(AuthError::InvalidResetToken) => println!("the reset token works only once"),
        other => anyhow::bail!("a used reset token should be refused, got {other:?}"),
    }
    match auth.login(&name, &first, None, &client).await {
        Err(AuthError::InvalidCredentials) => println!("the old password no longer logs in"),
        other => anyhow::bail!("the old password should fail, got {other:?}"),
    }

    let again = auth.login(&name, &second, None, &client).await?;
    let signed_in = auth.get_user_from_session_id(again.token.expose()).await?;
    println!(
        "logged in with the new password as {}: session {}",
        signed_in.user.display_name(),
        signed_in.session.id
    );
    Ok(())
}

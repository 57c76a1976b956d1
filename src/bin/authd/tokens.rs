//! `authd token …`: personal access tokens
//! (docs/contract/11-access-tokens-and-admin-api.md), all through `Auth`.

use auth_core::{AccessTokenInfo, Auth, ClientInfo, Identifier, NewAccessToken};

use crate::cli::TokenCommand;
use crate::users::{explain, unix_time};

/// Runs one `authd token` subcommand.
pub async fn run(auth: &Auth, command: TokenCommand) -> anyhow::Result<()> {
    let operator = ClientInfo::default();
    match command {
        TokenCommand::Add {
            username,
            scopes,
            name,
            expires,
        } => {
            let expires_in_secs = expires.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let (info, token) = auth
                .add_access_token(
                    &Identifier::Any(username),
                    NewAccessToken {
                        scopes,
                        name,
                        expires_in_secs,
                    },
                    &operator,
                )
                .await
                .map_err(explain)?;
            println!("id: {}", info.id);
            println!("token: {}", token.expose());
        }
        TokenCommand::List { username } => {
            for token in auth
                .list_access_tokens(&Identifier::Any(username))
                .await
                .map_err(explain)?
            {
                println!("{}", summary(&token));
            }
        }
        TokenCommand::Revoke { id } => {
            auth.revoke_access_token(&id, &operator)
                .await
                .map_err(|error| match error {
                    auth_core::AuthError::NotFound => anyhow::anyhow!("no token {id}"),
                    other => explain(other),
                })?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// `ID NAME scopes=a,b expires=…`: one line per token.
pub fn summary(token: &AccessTokenInfo) -> String {
    let scopes: Vec<&str> = token.scopes.iter().map(|s| s.as_str()).collect();
    let expires = token
        .expires_at
        .map_or_else(|| "never".to_owned(), unix_time);
    format!(
        "{} {:?} scopes={} created={} expires={expires}",
        token.id,
        token.name,
        scopes.join(","),
        unix_time(token.created_at)
    )
}

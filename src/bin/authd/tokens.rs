//! `authd token …`: personal access tokens
//! (docs/contract/11-access-tokens-and-admin-api.md), all through `Auth`.

use auth_core::{Auth, ClientInfo, Identifier, NewAccessToken};

use crate::cli::TokenCommand;
use crate::users::{explain, token_summary as summary};

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

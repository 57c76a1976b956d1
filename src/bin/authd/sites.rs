//! `authd site …`: the hosts forward authentication protects
//! (docs/contract/9-forward-auth.md), all through `Auth`.

use auth_core::{Auth, AuthError, ClientInfo, NewSite, ProtectedSite};

use crate::cli::{SecondFactor, SiteCommand};

/// Runs one `authd site` subcommand.
pub async fn run(auth: &Auth, command: SiteCommand) -> anyhow::Result<()> {
    let operator = ClientInfo::default();
    match command {
        SiteCommand::Add {
            host,
            second_factor,
            allow_user,
        } => {
            let site = auth
                .add_site(
                    NewSite {
                        host,
                        second_factor_required: second_factor == Some(SecondFactor::Required),
                        allowed_users: allow_user,
                    },
                    &operator,
                )
                .await
                .map_err(explain)?;
            println!("protected {}", summary(&site));
        }
        SiteCommand::List => {
            for site in auth.list_sites().await.map_err(explain)? {
                println!("{}", summary(&site));
            }
        }
        SiteCommand::Delete { host } => {
            auth.delete_site(&host, &operator)
                .await
                .map_err(|error| match error {
                    AuthError::NotFound => anyhow::anyhow!("{host} is not a protected site"),
                    other => explain(other),
                })?;
            println!("deleted {}", host.trim().to_ascii_lowercase());
        }
    }
    Ok(())
}

/// `HOST second-factor=required|optional users=a,b|any`: one line per site.
fn summary(site: &ProtectedSite) -> String {
    let factor = if site.second_factor_required {
        "required"
    } else {
        "optional"
    };
    let users = match &site.allowed_users {
        None => "any".to_owned(),
        Some(names) if names.is_empty() => "none".to_owned(),
        Some(names) => names.join(","),
    };
    format!("{} second-factor={factor} users={users}", site.host)
}

fn explain(error: AuthError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

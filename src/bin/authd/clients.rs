//! `authd client …` and `authd oidc …`: the operator's OpenID Connect
//! commands, all through `Auth`.

use auth_core::{Auth, AuthError, ClientInfo, NewClient, OidcClient, RegisteredClient};

use crate::cli::{ClientCommand, OidcCommand};

/// Runs one `authd client` subcommand.
pub async fn run(auth: &Auth, command: ClientCommand) -> anyhow::Result<()> {
    let operator = ClientInfo::default();
    match command {
        ClientCommand::Add {
            name,
            redirect_uris,
            public,
            trusted,
            post_logout_redirect_uris,
        } => {
            let new = NewClient {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                public,
                trusted,
            };
            let registered = auth.add_client(new, &operator).await.map_err(explain)?;
            print_registered(&registered);
        }
        ClientCommand::List => {
            for client in auth.list_clients().await.map_err(explain)? {
                let kind = if client.public {
                    "public"
                } else {
                    "confidential"
                };
                let trusted = if client.trusted { " trusted" } else { "" };
                println!("{} {} ({kind}{trusted})", client.id, client.name);
            }
        }
        ClientCommand::Show { id } => {
            let client = auth.find_client(&id).await.map_err(explain)?;
            print_client(&client);
        }
        ClientCommand::Delete { id } => {
            auth.delete_client(&id, &operator).await.map_err(explain)?;
            println!("deleted client {id}; its tokens are revoked");
        }
        ClientCommand::RotateSecret { id } => {
            let registered = auth
                .rotate_client_secret(&id, &operator)
                .await
                .map_err(explain)?;
            print_registered(&registered);
        }
    }
    Ok(())
}

/// Runs one `authd oidc` subcommand.
pub async fn run_oidc(auth: &Auth, command: OidcCommand) -> anyhow::Result<()> {
    match command {
        OidcCommand::RotateKey { alg, .. } => {
            let kid = auth.rotate_signing_key(alg).await.map_err(explain)?;
            println!("added signing key {kid} ({})", alg.name());
        }
    }
    Ok(())
}

fn print_registered(registered: &RegisteredClient) {
    println!("client_id: {}", registered.client.id);
    if let Some(secret) = &registered.secret {
        println!("client_secret: {}", secret.expose());
    }
}

fn print_client(client: &OidcClient) {
    println!("client_id: {}", client.id);
    println!("name: {}", client.name);
    println!(
        "type: {}",
        if client.public {
            "public"
        } else {
            "confidential"
        }
    );
    println!("trusted: {}", client.trusted);
    for uri in &client.redirect_uris {
        println!("redirect_uri: {uri}");
    }
    for uri in &client.post_logout_redirect_uris {
        println!("post_logout_redirect_uri: {uri}");
    }
}

fn explain(error: AuthError) -> anyhow::Error {
    match error {
        AuthError::NotFound => anyhow::anyhow!("no such client"),
        other => anyhow::anyhow!("{other}"),
    }
}

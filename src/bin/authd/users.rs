//! `authd user …`: the operator's account commands, all through `Auth`.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use auth_core::{Auth, AuthError, ClientInfo, Identifier, Password, Registration, User};

use crate::cli::UserCommand;

/// Runs one `authd user` subcommand.
pub async fn run(auth: &Auth, command: UserCommand) -> anyhow::Result<()> {
    let operator = ClientInfo::default();
    match command {
        UserCommand::Add {
            username,
            email,
            full_name,
            mothers_favorite_search_engine,
            password_stdin,
        } => {
            let password = read_new_password(password_stdin)?;
            let registration = Registration {
                username: Some(username),
                email,
                password,
                full_name,
                mothers_favorite_search_engine,
            };
            let user = auth
                .register_user(registration, &operator)
                .await
                .map_err(explain)?;
            println!("added {}", user.display_name());
        }
        UserCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let password = read_new_password(password_stdin)?;
            let user = auth
                .set_password(&Identifier::Any(username), &password, &operator)
                .await
                .map_err(explain)?;
            println!(
                "password set for {}; every session of theirs has ended",
                user.display_name()
            );
        }
        UserCommand::List => {
            for user in auth.list_users().await.map_err(explain)? {
                println!("{}", summary(&user));
            }
        }
        UserCommand::Show { username } => {
            // The admin API's `GET /admin/users/{username}` shows the same.
            let details = auth
                .account_details(&Identifier::Any(username))
                .await
                .map_err(explain)?;
            let (user, machine, factors) = (&details.user, &details.machine, &details.factors);
            let fields = [
                ("username", user.username.as_deref()),
                ("email", user.email.as_deref()),
                ("full_name", user.full_name.as_deref()),
                (
                    "mothers_favorite_search_engine",
                    user.mothers_favorite_search_engine.as_deref(),
                ),
                ("machine", machine.as_deref()),
            ];
            println!("id: {}", user.id);
            for (name, value) in fields {
                if let Some(value) = value {
                    println!("{name}: {value}");
                }
                if name == "email" && value.is_some() {
                    let verified = if user.email_verified { "yes" } else { "no" };
                    println!("email_verified: {verified}");
                }
            }
            let status = auth.email_status(user).await.map_err(explain)?;
            if let Some(pending) = status.pending {
                println!("email_pending: {pending}");
            }
            if status.password_breached {
                println!("password_breached: yes");
            }
            if let Some(at) = user.disabled_at {
                println!("disabled: since {}", unix_time(at));
            }
            let mut kinds = Vec::new();
            if factors.totp {
                kinds.push("totp");
            }
            if factors.passkeys > 0 {
                kinds.push("passkey");
            }
            if kinds.is_empty() {
                println!("second_factors: none");
            } else {
                println!("second_factors: {}", kinds.join(", "));
            }
            if factors.totp {
                println!("recovery_codes_left: {}", factors.recovery_codes_left);
            }
            for token in &details.tokens {
                println!("token: {}", token_summary(token));
            }
            for passkey in &details.passkeys {
                let last_used = passkey
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), unix_time);
                println!(
                    "passkey: {} (added {}, last used {last_used})",
                    passkey.name,
                    unix_time(passkey.created_at)
                );
            }
        }
        UserCommand::Delete { username } => {
            let user = auth
                .delete_user(&Identifier::Any(username), &operator)
                .await
                .map_err(explain)?;
            println!("deleted {}", user.display_name());
        }
        UserCommand::MfaReset { username } => {
            auth.mfa_reset(&Identifier::Any(username.clone()), &operator)
                .await
                .map_err(explain)?;
            println!(
                "every second factor of {username} is removed; every session of theirs has ended"
            );
        }
        UserCommand::Disable { username } => {
            let user = auth
                .set_disabled(&Identifier::Any(username), true, &operator)
                .await
                .map_err(explain)?;
            println!(
                "disabled {}; its sessions, OIDC grants and access tokens have ended",
                user.display_name()
            );
        }
        UserCommand::Enable { username } => {
            let user = auth
                .set_disabled(&Identifier::Any(username), false, &operator)
                .await
                .map_err(explain)?;
            println!("enabled {}", user.display_name());
        }
        UserCommand::VerifyEmail { username } => {
            let user = auth
                .mark_email_verified(&Identifier::Any(username), &operator)
                .await
                .map_err(explain)?;
            println!(
                "{} is now the verified address of {}",
                user.email.as_deref().unwrap_or_default(),
                user.display_name()
            );
        }
        UserCommand::UnbindMachine { username } => {
            let identifier = Identifier::Any(username.clone());
            if auth
                .unbind_machine(&identifier, &operator)
                .await
                .map_err(explain)?
            {
                println!("{username} may now bind a new machine");
            } else {
                println!("{username} had no machine bound");
            }
        }
    }
    Ok(())
}

fn summary(user: &User) -> String {
    let mut line = user.display_name().to_owned();
    if let (Some(_), Some(email)) = (&user.username, &user.email) {
        line.push_str(&format!(" <{email}>"));
    }
    if let Some(name) = &user.full_name {
        line.push_str(&format!(" ({name})"));
    }
    line
}

/// `ID NAME scopes=a,b expires=…`: one line per token.
pub fn token_summary(token: &auth_core::AccessTokenInfo) -> String {
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

/// The operator-facing sentence of an `AuthError` (the admin API answers
/// the same faults with the same words: `no such user` is its 404).
pub fn explain(error: AuthError) -> anyhow::Error {
    match error {
        AuthError::UnknownAccount => anyhow::anyhow!("no such user"),
        AuthError::PasswordRejected(rule) => {
            anyhow::anyhow!("{} ({})", rule.message(), rule.code())
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// A new password: one line of standard input with `--password-stdin` (only
/// the line ending is removed), else typed twice at the terminal without echo.
fn read_new_password(from_stdin: bool) -> anyhow::Result<Password> {
    if from_stdin {
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        if read == 0 {
            bail!("no password on standard input");
        }
        return Ok(Password::new(strip_line_ending(line)));
    }
    if !std::io::stdin().is_terminal() {
        bail!("standard input is not a terminal: pass the password with --password-stdin");
    }
    let first = rpassword::prompt_password("New password: ").context("reading the password")?;
    let second = rpassword::prompt_password("Repeat it: ").context("reading the password")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(Password::new(first))
}

/// Removes one `\n` or `\r\n`, nothing else.
fn strip_line_ending(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

/// Unix seconds in RFC 3339 (UTC).
pub fn unix_time(unix_seconds: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix_seconds.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_line_ending_is_removed() {
        assert_eq!(strip_line_ending("pw\n".into()), "pw");
        assert_eq!(strip_line_ending("pw\r\n".into()), "pw");
        assert_eq!(strip_line_ending(" pw \n".into()), " pw ");
        assert_eq!(strip_line_ending("pw".into()), "pw");
        assert_eq!(strip_line_ending("pw\r".into()), "pw\r");
        assert_eq!(strip_line_ending("\n".into()), "");
    }
}

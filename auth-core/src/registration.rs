//! Accounts coming and going: sign-up, the operator's list and delete.
//!
//! Usernames and e-mail addresses share one namespace: a name, lowercased and
//! in NFC, belongs to one account whichever field holds it. The database's
//! `identifiers` table enforces it, so two sign-ups racing for one name (even
//! spelled differently, one as a username and one as an e-mail) make one
//! account.

use auth_db::{DbConnection, DbResult, EventRow, NewUserRow, UserRow};

use crate::account::{
    clean_profile_field, name_key, validate_email, validate_username, ClientInfo, Identifier,
    Registration, User, MAX_FULL_NAME_CHARS, MAX_SEARCH_ENGINE_CHARS,
};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult, IdentifierKind};
use crate::password_rules::check_new_password;
use crate::service::Auth;

impl Auth {
    /// Creates an account (the Holberton `register_user`).
    ///
    /// At least one of username and e-mail is needed; the password must pass
    /// the rules of [`PasswordRule`](crate::PasswordRule). A name taken in any
    /// spelling (case, Unicode normal form), as a username or an e-mail, is
    /// [`AuthError::AlreadyRegistered`].
    ///
    /// ```
    /// # use auth_core::{Auth, ClientInfo, Config, Identifier, Password, Registration, SecretKey};
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    /// # let auth = Auth::open(&url, SecretKey::generate(), Config { bcrypt_cost: 4, ..Config::default() }).await?;
    /// # let client = ClientInfo::default();
    /// use auth_core::AuthError;
    ///
    /// let registration = Registration {
    ///     username: Some("kvothe".into()),
    ///     password: Password::new("correct horse battery staple"),
    ///     ..Registration::default()
    /// };
    /// let user = auth.register_user(registration.clone(), &client).await?;
    /// assert_eq!(user.username.as_deref(), Some("kvothe"));
    ///
    /// let again = Registration { username: Some("KVOTHE".into()), ..registration };
    /// assert!(matches!(
    ///     auth.register_user(again, &client).await,
    ///     Err(AuthError::AlreadyRegistered(_))
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn register_user(
        &self,
        registration: Registration,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        let Registration {
            username,
            email,
            password,
            full_name,
            mothers_favorite_search_engine,
        } = registration;
        let username = username.filter(|u| !u.is_empty());
        let email = email.filter(|e| !e.is_empty());
        if username.is_none() && email.is_none() {
            return Err(AuthError::MissingIdentifier);
        }
        if let Some(username) = &username {
            validate_username(username)?;
        }
        if let Some(email) = &email {
            validate_email(email)?;
        }
        let full_name = clean_profile_field("full_name", full_name, MAX_FULL_NAME_CHARS)?;
        let search_engine = clean_profile_field(
            "mothers_favorite_search_engine",
            mothers_favorite_search_engine,
            MAX_SEARCH_ENGINE_CHARS,
        )?;
        let username_key = username.as_deref().map(name_key);
        let email_key = email.as_deref().map(name_key);

        // Answered before the hash so a taken name costs no CPU; the insert
        // below decides for real.
        let keys = (username_key.clone(), email_key.clone());
        if let Some(kind) = self
            .db(move |conn| taken_identifier(conn, &keys.0, &keys.1))
            .await?
        {
            return Err(AuthError::AlreadyRegistered(kind));
        }
        let nfc = check_new_password(
            &password,
            self.inner.config.password_min_length,
            &[username.as_deref(), email.as_deref()],
        )
        .map_err(AuthError::PasswordRejected)?;
        self.reject_breached(&nfc).await?;
        let password_hash = self.inner.hasher.hash(nfc).await?;

        let now = self.now();
        let id = uuid::Uuid::new_v4().to_string();
        let registered = self.event(event::USER_REGISTERED, Some(&id), client);
        let inserted = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let new = NewUserRow {
                        id: &id,
                        username: username.as_deref(),
                        username_key: username_key.as_deref(),
                        email: email.as_deref(),
                        email_key: email_key.as_deref(),
                        full_name: full_name.as_deref(),
                        mothers_favorite_search_engine: search_engine.as_deref(),
                        password_hash: &password_hash,
                        created_at: now,
                        updated_at: now,
                    };
                    match UserRow::add_user(conn, &new) {
                        Ok(row) => {
                            EventRow::record(conn, &registered)?;
                            Ok(Ok(row))
                        }
                        // Another sign-up won the race for a name: say which one.
                        Err(e) if e.is_unique_violation() => {
                            let taken = taken_identifier(conn, &username_key, &email_key)?;
                            Ok(Err(taken.unwrap_or(IdentifierKind::Username)))
                        }
                        Err(e) => Err(e),
                    }
                })
            })
            .await?;
        let user = User::from_row(inserted.map_err(AuthError::AlreadyRegistered)?);
        log_event(event::USER_REGISTERED, Some(&user.id), client);
        // docs/contract/10-email.md: an address given at sign-up gets its link.
        if let Some(email) = user.email.clone() {
            if let Err(error) = self.start_email_verification(&user, &email, client).await {
                tracing::warn!(user_id = %user.id, %error, "e-mail verification link not made");
            }
        }
        Ok(user)
    }

    /// Every account, oldest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_users(&self) -> AuthResult<Vec<User>> {
        Ok(self
            .db(UserRow::list)
            .await?
            .into_iter()
            .map(User::from_row)
            .collect())
    }

    /// Deletes an account with its names, sessions, reset token and machine.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn delete_user(
        &self,
        identifier: &Identifier,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        let user = self
            .find_user(identifier)
            .await?
            .ok_or(AuthError::UnknownAccount)?;
        let deleted = self.event(event::USER_DELETED, Some(&user.id), client);
        let user_id = user.id.clone();
        self.db(move |conn| {
            auth_db::write_transaction(conn, |conn| {
                UserRow::delete(conn, &user_id)?;
                EventRow::record(conn, &deleted)
            })
        })
        .await?;
        log_event(event::USER_DELETED, Some(&user.id), client);
        Ok(user)
    }
}

/// Which identifier of the two is already taken, username first. A name
/// counts as taken in either field, so that a login field that accepts both
/// can never find two accounts.
fn taken_identifier(
    conn: &mut DbConnection,
    username_key: &Option<String>,
    email_key: &Option<String>,
) -> DbResult<Option<IdentifierKind>> {
    if let Some(key) = username_key {
        if UserRow::name_taken(conn, key)? {
            return Ok(Some(IdentifierKind::Username));
        }
    }
    if let Some(key) = email_key {
        if UserRow::name_taken(conn, key)? {
            return Ok(Some(IdentifierKind::Email));
        }
    }
    Ok(None)
}

//! Signing in with a passkey: alone (a discoverable credential), and the
//! passkey half of a second step after a password.

use super::*;

impl Auth {
    /// Starts a sign-in with a passkey alone (no name typed: the browser
    /// offers the discoverable credentials it has for this site).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn begin_passkey_login(&self, origin: &str) -> AuthResult<PasskeyChallenge> {
        let rp = relying_party(origin)?;
        let (options, state) = rp
            .start_discoverable_authentication()
            .map_err(|e| AuthError::Internal(format!("WebAuthn sign-in options: {e}")))?;
        let (ceremony, row) = self.new_ceremony(KIND_SIGN_IN, None, None, origin, to_json(&state)?);
        self.store_ceremony(row).await?;
        Ok(PasskeyChallenge {
            ceremony,
            options: browser_options(options, false)?,
        })
    }

    /// Finishes a sign-in with a passkey alone: a completed login (a new
    /// session, the account's failure count cleared, a token presented with
    /// it ended). Anything wrong is `InvalidCredentials`; user verification
    /// is required here. A failed assertion guesses no secret, so it does not
    /// count toward the throttle; and a password throttle does not hold a
    /// passkey back.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn finish_passkey_login(
        &self,
        ceremony: &str,
        credential: &str,
        presented: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<LoginSuccess> {
        let answer: PublicKeyCredential = parse_credential(credential)?;
        let row = self.take_ceremony(ceremony, KIND_SIGN_IN).await?;
        let state: DiscoverableAuthentication = from_state(&row.state)?;
        let rp = relying_party(&row.origin)?;
        let refused = |why: &str| {
            tracing::info!(why, "a passkey sign-in was refused");
            AuthError::InvalidCredentials
        };
        let (handle, credential_id) = rp
            .identify_discoverable_authentication(&answer)
            .map_err(|_| refused("no user handle"))?;
        let credential_id = URL_SAFE_NO_PAD.encode(credential_id);
        let stored = self
            .db(move |conn| PasskeyRow::find_by_credential_id(conn, &credential_id))
            .await?
            .ok_or_else(|| refused("unknown credential"))?;
        if Uuid::parse_str(&stored.user_id).ok() != Some(handle) {
            return Err(refused("the user handle is not the credential's account"));
        }
        let mut key: Passkey =
            stored_as(&stored).ok_or_else(|| refused("unreadable credential"))?;
        let result = rp
            .finish_discoverable_authentication(&answer, state, &[DiscoverableKey::from(&key)])
            .map_err(|error| {
                tracing::info!(%error, "a passkey assertion did not verify");
                AuthError::InvalidCredentials
            })?;
        key.update_credential(&result);
        let assertion = Assertion {
            passkey_id: stored.id.clone(),
            user_id: stored.user_id.clone(),
            counter: i64::from(result.counter()),
            credential: to_json(&key)?,
        };
        let user_id = stored.user_id.clone();
        // A passkey alone: "hwk", and "mfa" when it verified the user (a PIN
        // or a biometric) besides holding the key (RFC 8176).
        let amr = if result.user_verified() {
            "hwk mfa"
        } else {
            "hwk"
        };
        let (session, token) = self.new_session_row(&user_id, client, amr);
        let old_hash = presented.and_then(SessionToken::parse).map(|t| t.hash());
        let used = self.event(event::PASSKEY_USED, Some(&user_id), client);
        let succeeded = self.event(event::LOGIN_SUCCEEDED, Some(&user_id), client);
        let throttle_key = self.account_throttle_key(&user_id);
        let (now, stored_session) = (self.now(), session.clone());
        let user_agent = client.user_agent.clone();
        let since = now - crate::notices::NEW_DEVICE_AFTER_SECS;
        let user = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let user = auth_db::UserRow::find_user_by(
                        conn,
                        auth_db::UserLookup::Id(&assertion.user_id),
                    )?;
                    // A disabled account signs in by no route (docs/contract/11-access-tokens-and-admin-api.md).
                    let Some(user) = user.filter(|u| u.disabled_at.is_none()) else {
                        return Ok(None);
                    };
                    if !accept(conn, &assertion, now)? {
                        return Ok(None);
                    }
                    ThrottleRow::clear(conn, &throttle_key)?;
                    let seen =
                        SessionRow::user_agent_seen(conn, &user.id, user_agent.as_deref(), since)?;
                    if let Some(old_hash) = &old_hash {
                        SessionRow::delete_by_token_hash(conn, old_hash)?;
                    }
                    SessionRow::create(conn, &stored_session)?;
                    EventRow::record(conn, &used)?;
                    EventRow::record(conn, &succeeded)?;
                    Ok(Some((user, !seen)))
                })
            })
            .await?
            .ok_or_else(|| refused("the counter did not move forward"))?;
        log_event(event::PASSKEY_USED, Some(&user_id), client);
        log_event(event::LOGIN_SUCCEEDED, Some(&user_id), client);
        let (user, new_device) = user;
        let user = crate::account::User::from_row(user);
        // docs/contract/10-email.md: a passkey alone signs in as a password does.
        if new_device {
            self.notify(&user, crate::notices::NoticeEvent::NewDevice, client);
        }
        Ok(LoginSuccess {
            user,
            session: Session::from_row(session, self.idle_secs()),
            token,
        })
    }

    /// Starts the second step of a login with a passkey: the options list
    /// the account's passkeys. `InvalidCode` for a used or expired token, or
    /// an account without passkeys.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn begin_passkey_second_step(
        &self,
        mfa_token: &str,
        origin: &str,
    ) -> AuthResult<PasskeyChallenge> {
        let rp = relying_party(origin)?;
        let token = MfaToken::parse(mfa_token).ok_or(AuthError::InvalidCode)?;
        let (token_hash, now) = (token.hash(), self.now());
        let lookup = token_hash.clone();
        let found = self
            .db(move |conn| {
                let Some(pending) = auth_db::MfaTokenRow::find_live(conn, &lookup, now)? else {
                    return Ok(None);
                };
                let keys = PasskeyRow::list_for_user(conn, &pending.user_id)?;
                Ok(Some((pending, keys)))
            })
            .await?;
        let Some((pending, rows)) = found else {
            return Err(AuthError::InvalidCode);
        };
        let keys: Vec<SecurityKey> = rows.iter().filter_map(stored_as).collect();
        if keys.is_empty() {
            return Err(AuthError::InvalidCode);
        }
        let (options, state) = rp
            .start_securitykey_authentication(&keys)
            .map_err(|e| AuthError::Internal(format!("WebAuthn second-step options: {e}")))?;
        let (ceremony, row) = self.new_ceremony(
            KIND_SECOND_STEP,
            Some(&pending.user_id),
            Some(token_hash),
            origin,
            to_json(&state)?,
        );
        self.store_ceremony(row).await?;
        Ok(PasskeyChallenge {
            ceremony,
            options: browser_options(options, false)?,
        })
    }

    /// The passkey half of a second step (see
    /// [`Auth::complete_mfa_passkey`]): takes the ceremony started for the
    /// step whose token hashes to `token_hash`, for the account `user_id`,
    /// and verifies the browser's answer. `Ok(None)`: it did not verify (a
    /// wrong proof, counted by the caller); `InvalidCode`: the ceremony is
    /// another step's, used or expired.
    pub(crate) async fn verify_second_step_passkey(
        &self,
        token_hash: &str,
        user_id: &str,
        ceremony: &str,
        credential: &str,
    ) -> AuthResult<Option<Assertion>> {
        let answer: PublicKeyCredential = parse_credential(credential)?;
        let row = match self.take_ceremony(ceremony, KIND_SECOND_STEP).await {
            Ok(row)
                if row.binding.as_deref() == Some(token_hash)
                    && row.user_id.as_deref() == Some(user_id) =>
            {
                row
            }
            // Another token's ceremony, or none: the step is void, as a
            // used token is; nothing is counted.
            Ok(_) | Err(AuthError::InvalidField { .. }) => return Err(AuthError::InvalidCode),
            Err(other) => return Err(other),
        };
        let state: SecurityKeyAuthentication = from_state(&row.state)?;
        let rp = relying_party(&row.origin)?;
        let credential_id = URL_SAFE_NO_PAD.encode(answer.get_credential_id());
        let stored = self
            .db(move |conn| PasskeyRow::find_by_credential_id(conn, &credential_id))
            .await?;
        let assertion = stored.and_then(|stored| {
            let mut key: SecurityKey = stored_as(&stored)?;
            let result = rp
                .finish_securitykey_authentication(&answer, &state)
                .map_err(|error| tracing::info!(%error, "a passkey assertion did not verify"))
                .ok()?;
            key.update_credential(&result);
            Some(Assertion {
                passkey_id: stored.id,
                user_id: stored.user_id,
                counter: i64::from(result.counter()),
                credential: to_json(&key).ok()?,
            })
        });
        Ok(assertion)
    }
}

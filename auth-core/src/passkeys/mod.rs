//! Passkeys (WebAuthn Level 2, docs/contract/7-second-factor.md) with webauthn-rs: adding one to an
//! account, signing in with one alone (a discoverable credential, no name
//! typed), and one as the second step after a password.
//!
//! Ceremony state lives in the database (`webauthn_ceremonies`), not in a
//! server's memory, so any server of a deployment finishes what another
//! started; a ceremony is taken once, by one conditional delete, and lives
//! five minutes. The signature counter that decides is the `passkeys.counter`
//! column: an assertion counts only through one conditional update that moves
//! it forward (or keeps 0 for authenticators that keep no counter).
//!
//! User verification: preferred when a passkey is added and when it is a
//! second step (the password is the other factor there), required when a
//! passkey signs in alone, where it replaces both the password and the second
//! factor: without verification it would be only something one holds.

use std::time::Duration;

use auth_db::{CeremonyRow, DbConnection, DbResult, EventRow, PasskeyRow, SessionRow, ThrottleRow};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PublicKeyCredential,
    RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration,
    Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::account::{ClientInfo, LoginSuccess, Session};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
use crate::notices::NoticeEvent;
use crate::password_check::Reauthenticated;
use crate::secret::Password;
use crate::service::Auth;
use crate::token::{CeremonyToken, MfaToken, SessionToken};

mod sign_in;

/// How long a ceremony may take, from its options to its answer.
pub const CEREMONY_TTL_SECS: i64 = 300;
/// Longest passkey name, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;
/// Longest credential id WebAuthn allows, in bytes. A client that makes up
/// its own may send more; PostgreSQL's unique index cannot hold an entry
/// past 2704 bytes, so a longer one would be a 500, not a 400.
const MAX_CREDENTIAL_ID_BYTES: usize = 1023;
/// Most passkeys one account holds: each is a row kept for good and a
/// credential listed in every later ceremony of the account, so a signed-in
/// client must not add them without end.
pub const MAX_PASSKEYS_PER_ACCOUNT: i64 = 20;
/// The relying party's name, as authenticators show it.
const RP_NAME: &str = "authd";

/// What a ceremony row is for.
const KIND_REGISTER: &str = "register";
const KIND_SIGN_IN: &str = "sign_in";
const KIND_SECOND_STEP: &str = "second_step";

/// A started ceremony: the id the client sends back, and the options for
/// the browser's `navigator.credentials` call.
#[derive(Clone, Debug)]
pub struct PasskeyChallenge {
    /// The ceremony's id (single use, five minutes).
    pub ceremony: CeremonyToken,
    /// `{"publicKey": {…}}`: WebAuthn options, binary values in base64url.
    pub options: Value,
}

/// A passkey of an account, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// UUID of the passkey.
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of its last use, if any.
    pub last_used_at: Option<i64>,
}

impl PasskeyInfo {
    /// A stored passkey as its owner sees it (not a `From`: the public API
    /// names no type of the data layer).
    fn from_row(row: PasskeyRow) -> Self {
        PasskeyInfo {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// An assertion that verified against a stored passkey, waiting for its
/// counter to be taken in the commit's transaction.
pub(crate) struct Assertion {
    /// The passkey's row id.
    pub(crate) passkey_id: String,
    /// Its account.
    pub(crate) user_id: String,
    /// The assertion's signature counter.
    pub(crate) counter: i64,
    /// The credential as it is after this assertion.
    pub(crate) credential: String,
}

/// What a registration's commit found.
enum Added {
    Yes,
    /// The credential id is registered already.
    Duplicate,
    /// The account holds [`MAX_PASSKEYS_PER_ACCOUNT`] passkeys.
    TooMany,
}

/// Takes a verified assertion's counter (see [`PasskeyRow::accept_assertion`]).
pub(crate) fn accept(conn: &mut DbConnection, assertion: &Assertion, now: i64) -> DbResult<bool> {
    PasskeyRow::accept_assertion(
        conn,
        &assertion.passkey_id,
        assertion.counter,
        &assertion.credential,
        now,
    )
}

/// The relying party of an origin: its host is the RP id. An IP address
/// cannot be one (WebAuthn wants a domain), nor can an opaque origin.
fn relying_party(origin: &str) -> AuthResult<Webauthn> {
    let invalid = || AuthError::InvalidField {
        field: "origin",
        message: "passkeys need the site opened by a domain name (such as localhost), \
                  not an IP address"
            .into(),
    };
    let url = Url::parse(origin).map_err(|_| invalid())?;
    let rp_id = url.domain().ok_or_else(invalid)?.to_owned();
    WebauthnBuilder::new(&rp_id, &url)
        .map_err(|_| invalid())?
        .rp_name(RP_NAME)
        .timeout(Duration::from_secs(CEREMONY_TTL_SECS as u64))
        .build()
        .map_err(|_| invalid())
}

/// A stored credential as the type a ceremony wants (`Passkey` and
/// `SecurityKey` are one credential under two policies), its counter taken
/// from the column that decides.
fn stored_as<T: serde::de::DeserializeOwned>(row: &PasskeyRow) -> Option<T> {
    let mut value: Value = serde_json::from_str(&row.credential).ok()?;
    *value.get_mut("cred")?.get_mut("counter")? = Value::from(row.counter);
    serde_json::from_value(value).ok()
}

/// The options of a ceremony as the browser takes them: no `hints` (which
/// would steer browsers to security keys only) and no conditional mediation
/// (the pages ask with a button, not from the autofill list).
fn browser_options(options: impl serde::Serialize, discoverable: bool) -> AuthResult<Value> {
    let mut value = serde_json::to_value(options)
        .map_err(|e| AuthError::Internal(format!("WebAuthn options: {e}")))?;
    if let Some(object) = value.as_object_mut() {
        object.remove("mediation");
    }
    if let Some(public_key) = value.get_mut("publicKey").and_then(Value::as_object_mut) {
        public_key.remove("hints");
        if discoverable {
            // A discoverable credential where the authenticator can make
            // one, so the passkey can later sign in without a name typed.
            if let Some(selection) = public_key
                .get_mut("authenticatorSelection")
                .and_then(Value::as_object_mut)
            {
                selection.insert("residentKey".into(), Value::from("preferred"));
                selection.insert("requireResidentKey".into(), Value::from(false));
            }
            // credProtect "user verification required" on a discoverable
            // credential whose verification is only preferred is a request
            // browsers refuse as inconsistent (Chromium does); sign-in alone
            // requires verification from the server's side anyway.
            if let Some(extensions) = public_key
                .get_mut("extensions")
                .and_then(Value::as_object_mut)
            {
                extensions.remove("credentialProtectionPolicy");
                extensions.remove("enforceCredentialProtectionPolicy");
            }
        }
    }
    Ok(value)
}

fn to_json(value: &impl serde::Serialize) -> AuthResult<String> {
    serde_json::to_string(value).map_err(|e| AuthError::Internal(format!("WebAuthn state: {e}")))
}

fn from_state<T: serde::de::DeserializeOwned>(state: &str) -> AuthResult<T> {
    serde_json::from_str(state).map_err(|e| AuthError::Internal(format!("WebAuthn state: {e}")))
}

/// The browser's answer, parsed; anything else is a 400 naming `credential`.
fn parse_credential<T: serde::de::DeserializeOwned>(credential: &str) -> AuthResult<T> {
    serde_json::from_str(credential).map_err(|_| AuthError::InvalidField {
        field: "credential",
        message: "not a WebAuthn credential as the browser gives it".into(),
    })
}

fn too_many_passkeys() -> AuthError {
    AuthError::InvalidField {
        field: "credential",
        message: format!(
            "an account holds at most {MAX_PASSKEYS_PER_ACCOUNT} passkeys; remove one first"
        ),
    }
}

fn void_ceremony() -> AuthError {
    AuthError::InvalidField {
        field: "ceremony",
        message: "unknown, used or expired ceremony; start again".into(),
    }
}

/// A name as given: trimmed, 1–64 characters without control characters;
/// empty means the default.
fn passkey_name(name: Option<&str>) -> AuthResult<String> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Ok("Passkey".to_owned());
    }
    if name.chars().count() > MAX_PASSKEY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AuthError::InvalidField {
            field: "name",
            message: format!(
                "a passkey's name is 1 to {MAX_PASSKEY_NAME_CHARS} characters without control characters"
            ),
        });
    }
    Ok(name.to_owned())
}

impl Auth {
    /// A new ceremony row for `origin`, and the id the client gets.
    fn new_ceremony(
        &self,
        kind: &str,
        user_id: Option<&str>,
        binding: Option<String>,
        origin: &str,
        state: String,
    ) -> (CeremonyToken, CeremonyRow) {
        let token = CeremonyToken::generate();
        let now = self.now();
        let row = CeremonyRow {
            id_hash: token.hash(),
            kind: kind.to_owned(),
            user_id: user_id.map(str::to_owned),
            binding,
            origin: origin.to_owned(),
            state,
            created_at: now,
            expires_at: now + CEREMONY_TTL_SECS,
        };
        (token, row)
    }

    async fn store_ceremony(&self, row: CeremonyRow) -> AuthResult<()> {
        self.db(move |conn| CeremonyRow::create(conn, &row)).await
    }

    /// Takes a live ceremony of a kind, once.
    async fn take_ceremony(&self, ceremony: &str, kind: &'static str) -> AuthResult<CeremonyRow> {
        let token = CeremonyToken::parse(ceremony).ok_or_else(void_ceremony)?;
        let (hash, now) = (token.hash(), self.now());
        self.db(move |conn| CeremonyRow::take(conn, &hash, kind, now))
            .await?
            .ok_or_else(void_ceremony)
    }

    /// The passkeys of the signed-in user, oldest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_passkeys(&self, session_token: &str) -> AuthResult<Vec<PasskeyInfo>> {
        let signed_in = self.get_user_from_session_id(session_token).await?;
        self.passkeys_of(&signed_in.user.id).await
    }

    /// The passkeys of an account (for operators), oldest first.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn passkeys_of(&self, user_id: &str) -> AuthResult<Vec<PasskeyInfo>> {
        let user_id = user_id.to_owned();
        let rows = self
            .db(move |conn| PasskeyRow::list_for_user(conn, &user_id))
            .await?;
        Ok(rows.into_iter().map(PasskeyInfo::from_row).collect())
    }

    /// Starts adding a passkey to the signed-in user's account, for a page
    /// of `origin` (`--public-url`, or the request's own origin), given the
    /// account's `password`: a passkey signs in on its own and outlives a
    /// password reset, so a stolen session alone must not be able to add one.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn begin_passkey_registration(
        &self,
        session_token: &str,
        password: &Password,
        origin: &str,
        client: &ClientInfo,
    ) -> AuthResult<PasskeyChallenge> {
        self.get_user_from_session_id(session_token).await?;
        let rp = relying_party(origin)?;
        let Reauthenticated {
            signed_in,
            verified,
        } = self.reauthenticate(session_token, password, client).await?;
        let user_handle = Uuid::parse_str(&signed_in.user.id)
            .map_err(|e| AuthError::Internal(format!("account id is not a UUID: {e}")))?;
        let user_id = signed_in.user.id.clone();
        let existing = self
            .db(move |conn| PasskeyRow::list_for_user(conn, &user_id))
            .await?;
        if existing.len() as i64 >= MAX_PASSKEYS_PER_ACCOUNT {
            return Err(too_many_passkeys());
        }
        let exclude = existing
            .iter()
            .filter_map(stored_as::<SecurityKey>)
            .map(|key| key.cred_id().clone())
            .collect::<Vec<_>>();
        let name = signed_in.user.display_name();
        let (options, state) = rp
            .start_securitykey_registration(user_handle, name, name, Some(exclude), None, None)
            .map_err(|e| AuthError::Internal(format!("WebAuthn registration options: {e}")))?;
        let (ceremony, row) = self.new_ceremony(
            KIND_REGISTER,
            Some(&signed_in.user.id),
            Some(signed_in.session.id.clone()),
            origin,
            to_json(&state)?,
        );
        // One registration in progress per session: a new one voids the
        // earlier ones, so a session cannot pile up rows faster than they
        // expire (this route has no per-address limit).
        // Written only if the password was checked against the credential
        // version still current, with the session still there.
        self.commit_verified(
            verified,
            Some(signed_in.session.id.clone()),
            client,
            move |conn, _| {
                if let (Some(user_id), Some(binding)) = (&row.user_id, &row.binding) {
                    CeremonyRow::delete_for_binding(conn, user_id, KIND_REGISTER, binding)?;
                }
                CeremonyRow::create(conn, &row)
            },
        )
        .await?;
        Ok(PasskeyChallenge {
            ceremony,
            options: browser_options(options, true)?,
        })
    }

    /// Finishes adding a passkey with the browser's answer (the JSON of a
    /// `PublicKeyCredential` from `navigator.credentials.create`), under
    /// `name` (trimmed; empty gives "Passkey"). The ceremony must be this
    /// session's, live and unused; it is spent whatever the outcome.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn finish_passkey_registration(
        &self,
        session_token: &str,
        ceremony: &str,
        credential: &str,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<PasskeyInfo> {
        let signed_in = self.get_user_from_session_id(session_token).await?;
        let name = passkey_name(name)?;
        let answer: RegisterPublicKeyCredential = parse_credential(credential)?;
        let row = self.take_ceremony(ceremony, KIND_REGISTER).await?;
        if row.user_id.as_deref() != Some(signed_in.user.id.as_str())
            || row.binding.as_deref() != Some(signed_in.session.id.as_str())
        {
            return Err(void_ceremony());
        }
        let state: SecurityKeyRegistration = from_state(&row.state)?;
        let key = relying_party(&row.origin)?
            .finish_securitykey_registration(&answer, &state)
            .map_err(|error| {
                tracing::info!(%error, "a passkey registration did not verify");
                AuthError::InvalidField {
                    field: "credential",
                    message: "the passkey's answer did not verify; try again".into(),
                }
            })?;
        if key.cred_id().as_ref().len() > MAX_CREDENTIAL_ID_BYTES {
            return Err(AuthError::InvalidField {
                field: "credential",
                message: format!(
                    "a credential id is at most {MAX_CREDENTIAL_ID_BYTES} bytes (WebAuthn)"
                ),
            });
        }
        let now = self.now();
        let stored = PasskeyRow {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: signed_in.user.id.clone(),
            name,
            credential_id: URL_SAFE_NO_PAD.encode(key.cred_id().as_ref()),
            credential: to_json(&key)?,
            counter: 0,
            created_at: now,
            last_used_at: None,
        };
        // The counter of the attestation, if the authenticator keeps one.
        let stored = PasskeyRow {
            counter: serde_json::to_value(&key)
                .ok()
                .and_then(|v| v.get("cred")?.get("counter")?.as_i64())
                .unwrap_or(0),
            ..stored
        };
        let added = self.event(event::PASSKEY_ADDED, Some(&signed_in.user.id), client);
        let (row, session_id) = (stored.clone(), signed_in.session.id.clone());
        let created = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    // The account's row lock first (PostgreSQL), so that two
                    // registrations racing both count what the other added.
                    if auth_db::UserRow::lock_credential_version(conn, &row.user_id)?.is_none() {
                        return Ok(None);
                    }
                    // The session may have ended meanwhile (a password change).
                    if !SessionRow::exists(conn, &session_id)? {
                        return Ok(None);
                    }
                    if PasskeyRow::count_for_user(conn, &row.user_id)? >= MAX_PASSKEYS_PER_ACCOUNT {
                        return Ok(Some(Added::TooMany));
                    }
                    if PasskeyRow::create(conn, &row)? == 0 {
                        return Ok(Some(Added::Duplicate));
                    }
                    EventRow::record(conn, &added)?;
                    Ok(Some(Added::Yes))
                })
            })
            .await?;
        match created {
            None => Err(AuthError::NotAuthenticated),
            Some(Added::TooMany) => Err(too_many_passkeys()),
            Some(Added::Duplicate) => Err(AuthError::InvalidField {
                field: "credential",
                message: "this passkey is already registered".into(),
            }),
            Some(Added::Yes) => {
                log_event(event::PASSKEY_ADDED, Some(&signed_in.user.id), client);
                let factor = format!("A passkey named \"{}\"", stored.name);
                self.notify(&signed_in.user, NoticeEvent::FactorAdded { factor }, client);
                Ok(PasskeyInfo::from_row(stored))
            }
        }
    }

    /// Removes one passkey of the signed-in user, given the password
    /// (checked as a login is, behind the same throttle): a stolen session
    /// alone cannot strip an account of its factors. `NotFound` if the user
    /// has no such passkey.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn remove_passkey(
        &self,
        session_token: &str,
        passkey_id: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        // A dead session is told first, then an id that names no passkey,
        // before any password is checked (and counted).
        let signed_in = self.get_user_from_session_id(session_token).await?;
        if uuid::Uuid::parse_str(passkey_id).is_err() {
            return Err(AuthError::NotFound);
        }
        let reauthenticated = self.reauthenticate(session_token, password, client).await?;
        let passkey_id = passkey_id.to_owned();
        self.commit_audited_change(
            reauthenticated,
            event::PASSKEY_REMOVED,
            client,
            move |conn, user| Ok(PasskeyRow::delete_for_user(conn, &passkey_id, &user.id)? > 0),
        )
        .await?;
        let factor = "A passkey".to_owned();
        self.notify(
            &signed_in.user,
            NoticeEvent::FactorRemoved { factor },
            client,
        );
        Ok(())
    }

    /// Deletes expired ceremonies; returns how many.
    pub(crate) fn purge_ceremonies(conn: &mut DbConnection, now: i64) -> DbResult<usize> {
        CeremonyRow::purge_expired(conn, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_defaulted() {
        assert_eq!(passkey_name(None).unwrap(), "Passkey");
        assert_eq!(passkey_name(Some("  ")).unwrap(), "Passkey");
        assert_eq!(passkey_name(Some(" Laptop ")).unwrap(), "Laptop");
        assert!(passkey_name(Some(&"x".repeat(65))).is_err());
        assert!(passkey_name(Some("a\u{7}b")).is_err());
    }

    #[test]
    fn an_ip_address_is_no_relying_party() {
        assert!(relying_party("http://127.0.0.1:5000").is_err());
        assert!(relying_party("null").is_err());
        assert!(relying_party("http://localhost:5000").is_ok());
        assert!(relying_party("https://auth.example.com").is_ok());
    }
}

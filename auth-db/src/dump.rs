//! A consistent copy of every table, for `authd dump`.

use diesel::connection::SimpleConnection;

use crate::error::DbResult;
use crate::{
    AccessTokenRow, AttemptRow, BreachedLoginRow, CeremonyRow, DbConnection, EmailTokenRow,
    EventRow, IdentifierRow, KeyFingerprintRow, MachineRow, MfaTokenRow, OidcAccessTokenRow,
    OidcClientRow, OidcCodeRow, OidcConsentRow, OidcGrantRow, OidcRefreshTokenRow,
    OidcSigningKeyRow, PasskeyRow, RecoveryCodeRow, ResetTokenRow, SessionRow, SiteRow,
    SiteUserRow, ThrottleRow, TotpRow, UserRow,
};

/// Every row of every table, read in one transaction so that the tables agree
/// with each other (no session of an account the copy does not have).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The `key_fingerprints` table: which secret key the rows below need.
    pub key_fingerprints: Vec<KeyFingerprintRow>,
    /// The `users` table, by creation.
    pub users: Vec<UserRow>,
    /// The `identifiers` table, by name.
    pub identifiers: Vec<IdentifierRow>,
    /// The `sessions` table, by creation.
    pub sessions: Vec<SessionRow>,
    /// The `reset_tokens` table, by creation.
    pub reset_tokens: Vec<ResetTokenRow>,
    /// The `machines` table, by binding time.
    pub machines: Vec<MachineRow>,
    /// The `login_throttle` table, by account key.
    pub login_throttle: Vec<ThrottleRow>,
    /// The `login_attempts` table, by id.
    pub login_attempts: Vec<AttemptRow>,
    /// The `events` table, oldest first.
    pub events: Vec<EventRow>,
    /// The `totp_factors` table (secrets sealed), by account.
    pub totp_factors: Vec<TotpRow>,
    /// The `recovery_codes` table (hashes), by account.
    pub recovery_codes: Vec<RecoveryCodeRow>,
    /// The `mfa_tokens` table (hashes), by creation.
    pub mfa_tokens: Vec<MfaTokenRow>,
    /// The `passkeys` table (public keys only), by account.
    pub passkeys: Vec<PasskeyRow>,
    /// The `webauthn_ceremonies` table (id hashes), by creation.
    pub webauthn_ceremonies: Vec<CeremonyRow>,
    /// The `protected_sites` table, by host.
    pub protected_sites: Vec<SiteRow>,
    /// The `site_users` table, by host, then account.
    pub site_users: Vec<SiteUserRow>,
    /// The `oidc_clients` table (secret hashes), by creation.
    pub oidc_clients: Vec<OidcClientRow>,
    /// The `oidc_grants` table, by creation.
    pub oidc_grants: Vec<OidcGrantRow>,
    /// The `oidc_codes` table (hashes), by creation.
    pub oidc_codes: Vec<OidcCodeRow>,
    /// The `oidc_consents` table, by creation.
    pub oidc_consents: Vec<OidcConsentRow>,
    /// The `oidc_refresh_tokens` table (hashes), by creation.
    pub oidc_refresh_tokens: Vec<OidcRefreshTokenRow>,
    /// The `oidc_access_tokens` table (hashes), by creation.
    pub oidc_access_tokens: Vec<OidcAccessTokenRow>,
    /// The `oidc_signing_keys` table (private keys sealed), by creation.
    pub oidc_signing_keys: Vec<OidcSigningKeyRow>,
    /// The `access_tokens` table (hashes), by creation.
    pub access_tokens: Vec<AccessTokenRow>,
    /// The `email_tokens` table (hashes), by creation.
    pub email_tokens: Vec<EmailTokenRow>,
    /// The `breached_logins` table, by account.
    pub breached_logins: Vec<BreachedLoginRow>,
}

impl Snapshot {
    /// Reads every table inside one read-only transaction: on PostgreSQL at
    /// `REPEATABLE READ`, so every statement sees the same snapshot; on SQLite
    /// a read transaction sees one version of the file throughout.
    pub fn load(conn: &mut DbConnection) -> DbResult<Snapshot> {
        crate::transaction(conn, |conn| {
            if matches!(conn, DbConnection::Postgres(_)) {
                conn.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
            }
            Ok(Snapshot {
                key_fingerprints: KeyFingerprintRow::load_all(conn)?,
                users: UserRow::load_all(conn)?,
                identifiers: IdentifierRow::load_all(conn)?,
                sessions: SessionRow::load_all(conn)?,
                reset_tokens: ResetTokenRow::load_all(conn)?,
                machines: MachineRow::load_all(conn)?,
                login_throttle: ThrottleRow::load_all(conn)?,
                login_attempts: AttemptRow::load_all(conn)?,
                events: EventRow::load_all(conn)?,
                totp_factors: TotpRow::load_all(conn)?,
                recovery_codes: RecoveryCodeRow::load_all(conn)?,
                mfa_tokens: MfaTokenRow::load_all(conn)?,
                passkeys: PasskeyRow::load_all(conn)?,
                webauthn_ceremonies: CeremonyRow::load_all(conn)?,
                protected_sites: SiteRow::load_all(conn)?,
                site_users: SiteUserRow::load_all(conn)?,
                oidc_clients: OidcClientRow::load_all(conn)?,
                oidc_grants: OidcGrantRow::load_all(conn)?,
                oidc_codes: OidcCodeRow::load_all(conn)?,
                oidc_consents: OidcConsentRow::load_all(conn)?,
                oidc_refresh_tokens: OidcRefreshTokenRow::load_all(conn)?,
                oidc_access_tokens: OidcAccessTokenRow::load_all(conn)?,
                oidc_signing_keys: OidcSigningKeyRow::load_all(conn)?,
                access_tokens: AccessTokenRow::load_all(conn)?,
                email_tokens: EmailTokenRow::load_all(conn)?,
                breached_logins: BreachedLoginRow::load_all(conn)?,
            })
        })
    }
}

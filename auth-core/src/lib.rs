#![doc = include_str!("../README.md")]

mod access_tokens;
mod account;
mod admin;
mod audit;
mod breached;
mod check_cache;
mod clock;
mod config;
mod credentials;
mod delivery;
mod dump;
mod email_verification;
mod error;
mod hasher;
mod import;
mod machines;
mod mfa_method;
mod notices;
mod oidc;
mod passkeys;
mod password_check;
mod password_reset;
mod password_rules;
mod registration;
mod second_factors;
mod second_step;
mod secret;
mod service;
mod sessions;
mod site_rules;
mod sites;
mod store;
mod throttle;
mod token;

pub use access_tokens::{
    AccessTokenInfo, NewAccessToken, PersonalAccessToken, Scope, TokenHolder, ACCESS_TOKEN_PREFIX,
    MAX_TOKEN_NAME_CHARS,
};
pub use account::{
    Authenticated, ClientInfo, Identifier, LoginSuccess, Registration, Session, User,
    MAX_EMAIL_CHARS, MAX_FULL_NAME_CHARS, MAX_SEARCH_ENGINE_CHARS, MAX_USERNAME_CHARS,
};
pub use admin::{
    AccountChanges, AccountDetails, AuditEvent, Page, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
};
pub use breached::{BreachedPasswords, RANGE_TIMEOUT};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, DEFAULT_HASH_QUEUE_LIMIT, MAX_BCRYPT_COST, MIN_BCRYPT_COST};
pub use delivery::{
    check_mailbox, check_smtp_url, human_duration, parse_reset_link_token, reset_link_token,
    verification_link, Delivery, DeliveryError, LogNotifier, MailerError, NoticeMessage, Notifier,
    ResetChannel, ResetMessage, SmtpNotifier, VerificationMessage, DEFAULT_FROM,
    EMAIL_TOKEN_TARGET, RESET_TOKEN_TARGET, SEND_TIMEOUT,
};
pub use dump::{TableCount, DUMP_TABLES};
pub use email_verification::EmailStatus;
pub use error::{AuthError, AuthResult, IdentifierKind};
pub use import::{
    ImportFields, ImportOutcome, ImportReport, ImportRow, ImportRowReport, IMPORT_FIELDS,
    MALFORMED_ROW, NOT_ATTEMPTED,
};
pub use machines::{
    valid_machine_id, MachineCheck, MachineOutcome, CHECK_CACHE_SECS, MACHINE_ID_CHARS,
};
pub use notices::{notice_mail, verification_mail, Facts, Mail, NoticeEvent};
pub use oidc::{
    valid_redirect_uri, AuthorizationRequest, AuthorizeOutcome, AuthorizedApp, ClientAuth,
    ConsentDecision, LogoutOutcome, NewClient, OAuthError, OidcClient, RegisteredClient,
    SigningAlg, TokenResponse, CODE_TTL_SECS, ID_TOKEN_TTL_SECS, SUPPORTED_CLAIMS,
    SUPPORTED_SCOPES,
};
pub use passkeys::{
    PasskeyChallenge, PasskeyInfo, CEREMONY_TTL_SECS, MAX_PASSKEYS_PER_ACCOUNT,
    MAX_PASSKEY_NAME_CHARS,
};
pub use password_rules::{PasswordRule, MAX_PASSWORD_BYTES};
pub use second_factors::{
    totp_code, FactorStatus, MfaMethod, RecoveryCodes, TotpEnrolment, MFA_TOKEN_TTL_SECS,
    RECOVERY_CODE_COUNT, TOTP_STEP_SECS,
};
pub use secret::{Password, SecretKey, SecretKeyError};
pub use service::{Auth, LoginCounts, OpenError};
pub use site_rules::{parse_site_url, site_host, NextTarget, SiteUrl, SITE_RULES_TTL_MS};
pub use sites::{ForwardDecision, NewSite, ProtectedSite};
pub use store::{prepare_store, KeySource, PreparedStore, StoreAccess, StoreError};
pub use throttle::{delay_after, FORGET_AFTER_SECS, FREE_FAILURES, MAX_DELAY_SECS};
pub use token::{
    random_token, AccessToken, AuthorizationCode, CeremonyToken, ClientSecret, EmailToken,
    MfaToken, RefreshToken, ResetToken, SessionToken,
};

//! What authd delivers to a person, and through which channel: one concern
//! of the core, whatever asked for it (the JSON API, the web pages, the
//! command line). A [`Notifier`] carries a message to its medium: the log
//! (development) or e-mail over SMTP. What a message holds, when it is sent
//! and what the reset link looks like are decided here; the HTTP layer only
//! routes the request and renders the answer.

mod link;
mod log;
mod smtp;

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

pub(crate) use link::exact_identifier;
pub use link::{parse_reset_link_token, reset_link_token};
pub use log::{LogNotifier, EMAIL_TOKEN_TARGET, RESET_TOKEN_TARGET};
pub use smtp::{
    check_mailbox, check_smtp_url, MailerError, SmtpNotifier, DEFAULT_FROM, SEND_TIMEOUT,
};

use crate::notices::NoticeEvent;
use crate::token::{EmailToken, ResetToken};

/// Where a reset was asked for, which decides what its delivery carries: a
/// JSON client sends the token back itself, a person follows a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetChannel {
    /// `POST /reset_password`: the token, and a link in an e-mail.
    JsonApi,
    /// The website's `/forgot`: a link to the reset page.
    Website,
}

/// A reset token on its way to the account's owner.
#[derive(Debug)]
pub struct ResetMessage<'a> {
    /// The account's id, for the log lines of the delivery (never a secret).
    pub user_id: &'a str,
    /// The account as a person knows it (username, or else e-mail).
    pub account: &'a str,
    /// The account's e-mail address, if it has one.
    pub address: Option<&'a str>,
    /// The token itself (its `Debug` is redacted).
    pub token: &'a ResetToken,
    /// The `token` of the reset link ([`reset_link_token`]).
    pub link_token: &'a str,
    /// How long the token works.
    pub ttl: Duration,
    /// Where the reset was asked for.
    pub channel: ResetChannel,
}

/// An e-mail verification link on its way to the address it proves
/// (docs/contract/10-email.md).
#[derive(Debug)]
pub struct VerificationMessage<'a> {
    /// The account's id, for the log lines of the delivery.
    pub user_id: &'a str,
    /// The account as a person knows it.
    pub account: &'a str,
    /// The address to prove: the account's, or the new one of a change.
    pub address: &'a str,
    /// The token (its `Debug` is redacted).
    pub token: &'a EmailToken,
    /// How long the link works.
    pub ttl: Duration,
}

/// A notice of a security event on its way to the account's verified address.
#[derive(Debug)]
pub struct NoticeMessage<'a> {
    /// The account's id, for the log lines of the delivery.
    pub user_id: &'a str,
    /// The account as a person knows it.
    pub account: &'a str,
    /// Where the notice goes.
    pub address: &'a str,
    /// What happened.
    pub event: &'a NoticeEvent,
    /// When, in Unix seconds.
    pub at: i64,
    /// The client's address.
    pub client_addr: Option<IpAddr>,
    /// The client's user agent.
    pub user_agent: Option<&'a str>,
}

/// The page a verification link opens: `<origin>/verify-email?token=T`.
pub fn verification_link(origin: &str, token: &EmailToken) -> String {
    format!(
        "{}/verify-email?token={}",
        origin.trim_end_matches('/'),
        token.expose()
    )
}

/// Why a message did not go out.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The account's address is not one an SMTP server takes.
    #[error("the account's e-mail address cannot be mailed to: {0}")]
    Address(String),
    /// The message could not be put together.
    #[error("cannot build the message: {0}")]
    Message(String),
    /// The SMTP server refused or failed.
    #[error("SMTP: {0}")]
    Smtp(String),
    /// Nothing finished within [`SEND_TIMEOUT`].
    #[error("the SMTP server did not finish within {} s", SEND_TIMEOUT.as_secs())]
    Timeout,
}

/// The future a [`Notifier`] answers with (boxed, so notifiers can be chosen
/// at start-up behind one `Arc<dyn Notifier>`).
pub type Delivery<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// A channel that carries messages to people. The log and SMTP deliveries
/// are its implementations; an embedder may bring its own (a queue, a test
/// recorder).
pub trait Notifier: fmt::Debug + Send + Sync {
    /// Whether it reaches people only at their e-mail address (an account
    /// without one then gets nothing, and no token is made for it where the
    /// answer does not depend on it).
    fn needs_address(&self) -> bool;

    /// Delivers a reset token. Logs its own outcome (never the token, but
    /// for the development delivery [`LogNotifier`], which is the token's
    /// one line).
    fn deliver_reset<'a>(&'a self, message: ResetMessage<'a>) -> Delivery<'a>;

    /// Delivers an e-mail verification link (the development delivery logs
    /// it: the one other token a log ever holds).
    fn deliver_verification<'a>(&'a self, message: VerificationMessage<'a>) -> Delivery<'a>;

    /// Delivers a notice; it carries no token or secret.
    fn deliver_notice<'a>(&'a self, message: NoticeMessage<'a>) -> Delivery<'a>;
}

/// `30 minutes`, `2 hours`, `1 day`: a duration as a message says it.
pub fn human_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (count, unit) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_words() {
        assert_eq!(human_duration(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(human_duration(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human_duration(Duration::from_secs(172_800)), "2 days");
        assert_eq!(human_duration(Duration::from_secs(90)), "90 seconds");
        assert_eq!(human_duration(Duration::from_secs(60)), "1 minute");
    }
}

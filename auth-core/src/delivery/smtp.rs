//! `--reset-delivery smtp`: messages by e-mail through an SMTP server.
//!
//! The links in a message are built from `--public-url` only, never from a
//! request's `Host` header, so a forged request cannot point a reset mail at
//! another site.

use std::fmt;
use std::time::Duration;

use super::{
    human_duration, verification_link, Delivery, DeliveryError, NoticeMessage, Notifier,
    ResetMessage, VerificationMessage,
};
use crate::notices::{notice_mail, verification_mail, Facts, Mail};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::message::MultiPart;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one message may take, connection and every SMTP command included.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The sender when `--smtp-from` is not given.
pub const DEFAULT_FROM: &str = "authd <noreply@localhost>";

/// Sends reset tokens by e-mail. One SMTP connection per message (resets are
/// rare; no idle connection is kept).
#[derive(Clone)]
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
    /// `host:port` of the SMTP server, for `Debug` (never the credentials).
    server: String,
}

impl fmt::Debug for SmtpNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpNotifier")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// A mailer setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailerError {
    /// `--smtp-url`; the message never repeats the URL, which may hold a password.
    #[error("bad SMTP URL: {0}")]
    SmtpUrl(String),
    /// `--smtp-from`.
    #[error("bad sender mailbox: {0}")]
    From(String),
    /// `--public-url`.
    #[error("the public URL must start with http:// or https:// and name a host")]
    PublicUrl,
}

/// Checks an SMTP URL as [`SmtpNotifier::new`] reads it (lettre's
/// `AsyncSmtpTransport::from_url`): `smtp://host[:port]` (plain),
/// `smtp://host:587?tls=required` or `?tls=opportunistic` (STARTTLS),
/// `smtps://user:pass@host[:465]` (TLS from the start).
pub fn check_smtp_url(url: &str) -> Result<(), MailerError> {
    transport_builder(url).map(drop)
}

/// Checks a sender mailbox such as `authd <noreply@example.com>`.
pub fn check_mailbox(text: &str) -> Result<(), MailerError> {
    parse_mailbox(text).map(drop)
}

fn parse_mailbox(text: &str) -> Result<Mailbox, MailerError> {
    text.parse::<Mailbox>().map_err(|e| {
        MailerError::From(format!(
            "{e}; expected an address such as noreply@example.com or \"authd <noreply@example.com>\""
        ))
    })
}

/// What an SMTP URL may look like, for error messages.
const SMTP_URL_FORMS: &str = "expected smtp://HOST[:PORT] (plain), \
     smtp://HOST:587?tls=required or ?tls=opportunistic (STARTTLS), \
     or smtps://[USER:PASS@]HOST[:465] (TLS)";

fn transport_builder(
    url: &str,
) -> Result<lettre::transport::smtp::AsyncSmtpTransportBuilder, MailerError> {
    // lettre's own message for these two says little to an operator.
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !scheme.is_some_and(|s| s.eq_ignore_ascii_case("smtp") || s.eq_ignore_ascii_case("smtps")) {
        return Err(MailerError::SmtpUrl(SMTP_URL_FORMS.into()));
    }
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let query = query.split('#').next().unwrap_or_default();
    for pair in query.split('&') {
        if let Some(tls) = pair.strip_prefix("tls=") {
            if tls != "required" && tls != "opportunistic" {
                return Err(MailerError::SmtpUrl(format!(
                    "tls must be required or opportunistic; {SMTP_URL_FORMS}"
                )));
            }
        }
    }
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        // lettre's message names the URL syntax, never the URL itself.
        .map_err(|e| MailerError::SmtpUrl(e.to_string()))
}

impl SmtpNotifier {
    /// A mailer for `smtp_url`, sending as `from`, with links to `public_url`
    /// (`https://auth.example.com`).
    pub fn new(smtp_url: &str, from: &str, public_url: &str) -> Result<SmtpNotifier, MailerError> {
        let builder = transport_builder(smtp_url)?;
        let from = parse_mailbox(from)?;
        let public_url = public_url.trim_end_matches('/');
        let host = public_url
            .strip_prefix("https://")
            .or_else(|| public_url.strip_prefix("http://"))
            .ok_or(MailerError::PublicUrl)?;
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(MailerError::PublicUrl);
        }
        let server = url_host_port(smtp_url);
        Ok(SmtpNotifier {
            transport: builder.timeout(Some(SEND_TIMEOUT)).build(),
            from,
            public_url: public_url.to_owned(),
            server,
        })
    }

    /// The host of `--public-url`, without a port: the domain of Message-IDs.
    fn domain(&self) -> &str {
        let origin = self
            .public_url
            .split_once("://")
            .map_or("", |(_, rest)| rest);
        let authority = origin.split('/').next().unwrap_or_default();
        match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        }
    }

    /// The page a message points to: `<public-url>/reset?token=<link_token>`.
    pub fn reset_link(&self, link_token: &str) -> String {
        format!("{}/reset?token={link_token}", self.public_url)
    }

    /// Sends the reset link with `link_token` to `address`, the e-mail of
    /// `account`; `ttl` is how long the link works. Gives up after
    /// [`SEND_TIMEOUT`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn send_reset_token(
        &self,
        address: &str,
        account: &str,
        link_token: &str,
        ttl: Duration,
    ) -> Result<(), DeliveryError> {
        let message = self.reset_message(address, account, link_token, ttl)?;
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(error)) => Err(DeliveryError::Smtp(error.to_string())),
            Err(_elapsed) => Err(DeliveryError::Timeout),
        }
    }

    /// The message: plain text for a person, with the link to open and what
    /// to do there.
    fn reset_message(
        &self,
        address: &str,
        account: &str,
        link_token: &str,
        ttl: Duration,
    ) -> Result<Message, DeliveryError> {
        let to: Mailbox = address
            .parse()
            .map_err(|e: lettre::address::AddressError| DeliveryError::Address(e.to_string()))?;
        let link = self.reset_link(link_token);
        let body = format!(
            "Hello,\n\
             \n\
             someone, hopefully you, asked to reset the password of the account\n\
             \"{account}\" at {public_url}.\n\
             \n\
             To choose a new password, open this link in your web browser:\n\
             \n\
             {link}\n\
             \n\
             The page asks for the new password twice. Then log in with it.\n\
             \n\
             The link works once, for {ttl}. Asking for another link makes this\n\
             one stop working.\n\
             \n\
             If you did not ask for this, ignore this message: your password\n\
             stays as it is.\n",
            public_url = self.public_url,
            ttl = human_duration(ttl),
        );
        Message::builder()
            .message_id(Some(format!(
                "<{}@{}>",
                uuid::Uuid::new_v4(),
                self.domain()
            )))
            .from(self.from.clone())
            .to(to)
            .subject("Reset your password")
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| DeliveryError::Message(e.to_string()))
    }
}

impl SmtpNotifier {
    /// A message of both forms (plain text and HTML) to `address`.
    fn two_part_message(&self, address: &str, mail: Mail) -> Result<Message, DeliveryError> {
        let to: Mailbox = address
            .parse()
            .map_err(|e: lettre::address::AddressError| DeliveryError::Address(e.to_string()))?;
        Message::builder()
            .message_id(Some(format!(
                "<{}@{}>",
                uuid::Uuid::new_v4(),
                self.domain()
            )))
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|e| DeliveryError::Message(e.to_string()))
    }

    /// Sends one message, giving up after [`SEND_TIMEOUT`].
    async fn send(&self, message: Message) -> Result<(), DeliveryError> {
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(error)) => Err(DeliveryError::Smtp(error.to_string())),
            Err(_elapsed) => Err(DeliveryError::Timeout),
        }
    }

    /// The verification message for `message` (for tests and previews).
    pub fn verification_mail(
        &self,
        message: &VerificationMessage<'_>,
    ) -> Result<Mail, DeliveryError> {
        let link = verification_link(&self.public_url, message.token);
        verification_mail(
            message.account,
            &self.public_url,
            &link,
            &human_duration(message.ttl),
        )
        .map_err(|e| DeliveryError::Message(e.to_string()))
    }

    /// The notice for `message` (for tests and previews).
    pub fn notice_mail(&self, message: &NoticeMessage<'_>) -> Result<Mail, DeliveryError> {
        let facts = Facts::new(
            message.account,
            &self.public_url,
            message.at,
            message.client_addr,
            message.user_agent,
        );
        notice_mail(message.event, &facts).map_err(|e| DeliveryError::Message(e.to_string()))
    }
}

impl Notifier for SmtpNotifier {
    fn needs_address(&self) -> bool {
        true
    }

    fn deliver_reset<'a>(&'a self, message: ResetMessage<'a>) -> Delivery<'a> {
        Box::pin(async move {
            let Some(address) = message.address else {
                return Err(DeliveryError::Address(
                    "the account has no e-mail address".into(),
                ));
            };
            let sent = self
                .send_reset_token(address, message.account, message.link_token, message.ttl)
                .await;
            match &sent {
                Ok(()) => {
                    tracing::info!(user_id = %message.user_id, "password reset token e-mailed")
                }
                Err(error) => {
                    tracing::error!(user_id = %message.user_id, %error, "password reset e-mail not sent")
                }
            }
            sent
        })
    }

    fn deliver_verification<'a>(&'a self, message: VerificationMessage<'a>) -> Delivery<'a> {
        Box::pin(async move {
            let mail = self.verification_mail(&message)?;
            let sent = self
                .send(self.two_part_message(message.address, mail)?)
                .await;
            match &sent {
                Ok(()) => {
                    tracing::info!(user_id = %message.user_id, "e-mail verification link sent")
                }
                Err(error) => {
                    tracing::error!(user_id = %message.user_id, %error, "e-mail verification link not sent")
                }
            }
            sent
        })
    }

    fn deliver_notice<'a>(&'a self, message: NoticeMessage<'a>) -> Delivery<'a> {
        Box::pin(async move {
            let mail = self.notice_mail(&message)?;
            let sent = self
                .send(self.two_part_message(message.address, mail)?)
                .await;
            match &sent {
                Ok(()) => {
                    tracing::info!(user_id = %message.user_id, notice = message.event.kind(), "e-mail notice sent")
                }
                Err(error) => {
                    tracing::error!(user_id = %message.user_id, notice = message.event.kind(), %error, "e-mail notice not sent")
                }
            }
            sent
        })
    }
}

/// `host:port` of an SMTP URL, without user or password.
fn url_host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    host_port.to_owned()
}

/// `30 minutes`, `2 hours`, `1 day`, `90 seconds`.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::ResetToken;

    fn token() -> ResetToken {
        ResetToken::parse("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234").unwrap()
    }

    #[test]
    fn smtp_urls_follow_lettre() {
        for good in [
            "smtp://127.0.0.1:2525",
            "smtp://mail.example.com",
            "smtps://user:secret@mail.example.com:465",
            "smtp://mail.example.com:587?tls=required",
            "smtp://mail.example.com:587?tls=opportunistic",
        ] {
            assert!(check_smtp_url(good).is_ok(), "{good}");
        }
        for bad in [
            "mail.example.com",
            "http://mail.example.com",
            "smtp://",
            "smtp://host:587?tls=sometimes",
        ] {
            assert!(check_smtp_url(bad).is_err(), "{bad}");
        }
        let error = check_smtp_url("ftp://user:hunter2@mail.example.com").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn senders_are_mailboxes() {
        assert!(check_mailbox(DEFAULT_FROM).is_ok());
        assert!(check_mailbox("noreply@example.com").is_ok());
        assert!(check_mailbox("not an address").is_err());
    }

    #[test]
    fn debug_hides_the_credentials() {
        let mailer = SmtpNotifier::new(
            "smtps://user:hunter2@mail.example.com:465",
            DEFAULT_FROM,
            "https://auth.example.com/",
        )
        .unwrap();
        let shown = format!("{mailer:?}");
        assert!(shown.contains("mail.example.com:465"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            mailer.reset_link("T"),
            "https://auth.example.com/reset?token=T"
        );
    }

    #[test]
    fn the_public_url_is_required_to_be_an_origin() {
        for bad in ["", "auth.example.com", "https://", "https:// x"] {
            assert_eq!(
                SmtpNotifier::new("smtp://127.0.0.1", DEFAULT_FROM, bad).unwrap_err(),
                MailerError::PublicUrl,
                "{bad:?}"
            );
        }
    }

    /// The body of a formatted message as a reader sees it: quoted-printable
    /// soft line breaks joined and `=XX` escapes decoded.
    fn readable(formatted: &str) -> String {
        let joined = formatted.replace("=\r\n", "");
        let mut out = String::new();
        let mut rest = joined.as_str();
        while let Some(at) = rest.find('=') {
            out.push_str(&rest[..at]);
            let hex = rest.get(at + 1..at + 3).unwrap_or_default();
            match u8::from_str_radix(hex, 16) {
                Ok(byte) if hex.len() == 2 => {
                    out.push(byte as char);
                    rest = &rest[at + 3..];
                }
                _ => {
                    out.push('=');
                    rest = &rest[at + 1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn the_message_links_to_the_reset_page_of_the_public_url() {
        let mailer =
            SmtpNotifier::new("smtp://127.0.0.1", DEFAULT_FROM, "https://auth.example.com")
                .unwrap();
        let link_token = format!("{}.uYm9i", token().expose());
        let message = mailer
            .reset_message(
                "bob@example.com",
                "bob",
                &link_token,
                Duration::from_secs(1800),
            )
            .unwrap();
        let text = readable(&String::from_utf8(message.formatted()).unwrap());
        assert!(text.contains("To: bob@example.com"), "{text}");
        assert!(text.contains("From: authd <noreply@localhost>"), "{text}");
        assert!(
            text.lines()
                .any(|line| line == format!("https://auth.example.com/reset?token={link_token}")),
            "the link on a line of its own: {text}"
        );
        assert!(
            text.contains("open this link in your web browser"),
            "{text}"
        );
        assert!(text.contains("30 minutes"), "{text}");
        assert!(text.contains("Message-ID: <"), "{text}");
        assert!(text.contains("@auth.example.com>"), "{text}");
        // Words for a person: no command line, no API route.
        for technical in ["curl", "PUT", "reset_password", "new_password"] {
            assert!(!text.contains(technical), "{technical}: {text}");
        }
    }

    #[test]
    fn an_unmailable_address_is_a_send_error() {
        let mailer =
            SmtpNotifier::new("smtp://127.0.0.1", DEFAULT_FROM, "https://auth.example.com")
                .unwrap();
        let result =
            mailer.reset_message("no at sign", "x", token().expose(), Duration::from_secs(60));
        assert!(matches!(result, Err(DeliveryError::Address(_))));
    }

    #[test]
    fn server_names_drop_credentials() {
        assert_eq!(
            url_host_port("smtps://u:p@mail.example.com:465/x?tls=required"),
            "mail.example.com:465"
        );
        assert_eq!(url_host_port("smtp://127.0.0.1:2525"), "127.0.0.1:2525");
    }
}

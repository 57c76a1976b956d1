//! `--reset-delivery log`: the development delivery, the one place a token
//! is ever written out.

use super::{
    verification_link, Delivery, NoticeMessage, Notifier, ResetChannel, ResetMessage,
    VerificationMessage,
};

/// The `tracing` target of the event that carries a reset token in the log.
/// The event has the token in a field of its own (`token`), the account in
/// `account` and, for a reset asked on the website, the link in `link`, so
/// that each log format can write it whole: `authd` prints
/// `password reset token for <account>: <token>` (then ` (reset link: …)`)
/// in text, one JSON object in JSON.
pub const RESET_TOKEN_TARGET: &str = "authd::reset_token";

/// The `tracing` target of the event that carries an e-mail verification
/// token (docs/contract/10-email.md), with the fields of
/// [`RESET_TOKEN_TARGET`]'s: `authd` prints
/// `e-mail verification token for <account>: <token> (verification link: …)`.
pub const EMAIL_TOKEN_TARGET: &str = "authd::email_token";

/// Writes each reset token to the log, as an event of [`RESET_TOKEN_TARGET`].
#[derive(Clone, Debug, Default)]
pub struct LogNotifier {
    /// `--public-url`, the origin of the links it writes (none: a relative link).
    public_url: Option<String>,
}

impl LogNotifier {
    /// A log delivery whose links point to `public_url`.
    pub fn new(public_url: Option<&str>) -> LogNotifier {
        LogNotifier {
            public_url: public_url.map(|url| url.trim_end_matches('/').to_owned()),
        }
    }
}

impl Notifier for LogNotifier {
    fn needs_address(&self) -> bool {
        false
    }

    fn deliver_reset<'a>(&'a self, message: ResetMessage<'a>) -> Delivery<'a> {
        match message.channel {
            ResetChannel::JsonApi => tracing::info!(
                target: RESET_TOKEN_TARGET,
                account = %message.account,
                token = message.token.expose(),
                "password reset token"
            ),
            ResetChannel::Website => {
                let origin = self.public_url.as_deref().unwrap_or_default();
                let link = format!("{origin}/reset?token={}", message.link_token);
                tracing::info!(
                    target: RESET_TOKEN_TARGET,
                    account = %message.account,
                    token = message.token.expose(),
                    link = %link,
                    "password reset token"
                );
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn deliver_verification<'a>(&'a self, message: VerificationMessage<'a>) -> Delivery<'a> {
        let origin = self.public_url.as_deref().unwrap_or_default();
        let link = verification_link(origin, message.token);
        tracing::info!(
            target: EMAIL_TOKEN_TARGET,
            account = %message.account,
            token = message.token.expose(),
            link = %link,
            "e-mail verification token"
        );
        Box::pin(std::future::ready(Ok(())))
    }

    fn deliver_notice<'a>(&'a self, message: NoticeMessage<'a>) -> Delivery<'a> {
        tracing::info!(
            user_id = %message.user_id,
            notice = message.event.kind(),
            "e-mail notice for {}",
            message.account
        );
        Box::pin(std::future::ready(Ok(())))
    }
}

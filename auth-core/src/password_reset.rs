//! Asking for a password reset: the token is made by the credentials flow
//! and delivered by the configured [`Notifier`](crate::Notifier), on one path
//! for the JSON API and the website.

use tracing::Instrument as _;

use crate::account::{ClientInfo, Identifier, User};
use crate::delivery::{exact_identifier, reset_link_token, ResetChannel, ResetMessage};
use crate::error::{AuthError, AuthResult};
use crate::service::Auth;
use crate::token::ResetToken;

impl Auth {
    /// `POST /reset_password`: makes a reset token for the account named
    /// exactly by `identifier` and delivers it by the configured notifier.
    /// An unknown account is [`AuthError::UnknownAccount`]; a delivery that
    /// failed is [`AuthError::DeliveryFailed`], so the client learns the
    /// token did not go out. An account the notifier cannot reach (no
    /// e-mail address) gets the same answer as one it reached, and a warning
    /// in the log.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn send_password_reset(
        &self,
        identifier: &Identifier,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        let notifier = self.config().notifier.clone();
        if notifier.needs_address() {
            // docs/contract/10-email.md: a reset goes only to a verified
            // address; an unverified one gets nothing, and the same answer.
            let user = self
                .find_user(identifier)
                .await?
                .ok_or(AuthError::UnknownAccount)?;
            if !user.email_verified {
                tracing::info!(
                    user_id = %user.id,
                    "password reset for an account without a verified e-mail address: nothing was sent"
                );
                return Ok(user);
            }
        }
        self.deliver_password_reset(identifier, client).await
    }

    /// Makes a reset token and delivers it whether or not the address is
    /// verified: for a caller that vouches for the address (an operator).
    pub(crate) async fn deliver_password_reset(
        &self,
        identifier: &Identifier,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        let notifier = self.config().notifier.clone();
        let (user, token) = self.get_reset_password_token(identifier, client).await?;
        if notifier.needs_address() && user.email.is_none() {
            tracing::warn!(
                user_id = %user.id,
                "password reset for an account without an e-mail address: no token was sent"
            );
            return Ok(user);
        }
        notifier
            .deliver_reset(self.reset_message(
                &user,
                &token,
                ResetChannel::JsonApi,
                &reset_link_token(&user, &token),
            ))
            .await
            .map_err(|_| AuthError::DeliveryFailed)?;
        Ok(user)
    }

    /// The website's `/forgot`: sends a reset link to the account named
    /// `name` (a username or an e-mail), in the background. It returns at
    /// once, before anything about the account is looked up, so that neither
    /// the page's words nor its timing say whether the account exists, has
    /// an address, or how long the mail server takes; every outcome goes to
    /// the log only. No token is made for an account the notifier cannot
    /// reach: nobody could receive it, and it would void one asked for
    /// earlier.
    pub fn send_password_reset_link(&self, name: String, client: ClientInfo) {
        let auth = self.clone();
        tokio::spawn(
            async move { auth.deliver_reset_link(name, client).await }
                .instrument(tracing::Span::current()),
        );
    }

    async fn deliver_reset_link(&self, name: String, client: ClientInfo) {
        let user = match self.find_user(&Identifier::Any(name)).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                tracing::info!("password reset asked on the website for an unknown account");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "password reset asked on the website: lookup failed");
                return;
            }
        };
        let notifier = self.config().notifier.clone();
        if notifier.needs_address() && !user.email_verified {
            tracing::info!(
                user_id = %user.id,
                "password reset asked on the website for an account without a verified e-mail address"
            );
            return;
        }
        let (user, token) = match self
            .get_reset_password_token(&exact_identifier(&user), &client)
            .await
        {
            Ok(made) => made,
            Err(error) => {
                tracing::warn!(user_id = %user.id, %error, "password reset token not made");
                return;
            }
        };
        // The notifier logs its own outcome; the visitor has had the page.
        let _ = notifier
            .deliver_reset(self.reset_message(
                &user,
                &token,
                ResetChannel::Website,
                &reset_link_token(&user, &token),
            ))
            .await;
    }

    fn reset_message<'a>(
        &self,
        user: &'a User,
        token: &'a ResetToken,
        channel: ResetChannel,
        link_token: &'a str,
    ) -> ResetMessage<'a> {
        ResetMessage {
            user_id: &user.id,
            account: user.display_name(),
            address: user.email.as_deref(),
            token,
            link_token,
            ttl: self.config().reset_token_ttl,
            channel,
        }
    }
}

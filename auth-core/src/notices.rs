//! What the e-mails of docs/contract/10-email.md say: the verification
//! link and the notices of security events. Each message is one askama
//! template (`templates/mail/<event>.html`) whose blocks are the subject,
//! the plain text and the HTML of one message, so both forms say the same.
//! A leaf module: it renders, and delivery sends.

use std::net::IpAddr;

use askama::Template;

/// A browser or client not seen on an account for this long is a new device
/// (docs/contract/10-email.md): 90 days.
pub const NEW_DEVICE_AFTER_SECS: i64 = 90 * 24 * 60 * 60;

/// One message in both forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body (a whole document).
    pub html: String,
}

/// A security event the owner of an account is told about by e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoticeEvent {
    /// The password was changed by the signed-in user.
    PasswordChanged,
    /// The password was reset with an e-mailed link.
    PasswordReset,
    /// The address was changed; the notice goes to the old one.
    EmailChanged {
        /// The account's new address.
        new_address: String,
    },
    /// A second factor was added (`an authenticator app`, `a passkey named "…"`).
    FactorAdded {
        /// The factor, as a sentence names it.
        factor: String,
    },
    /// A second factor was removed.
    FactorRemoved {
        /// The factor, as a sentence names it.
        factor: String,
    },
    /// A sign-in from a browser or client not seen on the account in 90 days.
    NewDevice,
}

impl NoticeEvent {
    /// A stable name for logs and tests (`password_changed`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            NoticeEvent::PasswordChanged => "password_changed",
            NoticeEvent::PasswordReset => "password_reset",
            NoticeEvent::EmailChanged { .. } => "email_changed",
            NoticeEvent::FactorAdded { .. } => "factor_added",
            NoticeEvent::FactorRemoved { .. } => "factor_removed",
            NoticeEvent::NewDevice => "new_device",
        }
    }
}

/// The facts every notice states: whose account, where, when, from which
/// address and user agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// The account as its owner knows it.
    pub account: String,
    /// The site's origin (`--public-url`).
    pub site: String,
    /// When, as `2026-12-07 01:02 UTC`.
    pub when: String,
    /// The client's address, or `an unknown address`.
    pub addr: String,
    /// The client's user agent, or `an unknown browser or program`.
    pub user_agent: String,
}

impl Facts {
    /// The facts of an event at `when` (Unix seconds) from this client.
    pub fn new(
        account: &str,
        site: &str,
        when: i64,
        addr: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Facts {
        Facts {
            account: account.to_owned(),
            site: site.trim_end_matches('/').to_owned(),
            when: utc_minute(when),
            addr: addr.map_or_else(|| "an unknown address".into(), |a| a.to_string()),
            user_agent: user_agent
                .filter(|ua| !ua.trim().is_empty())
                .map_or_else(|| "an unknown browser or program".into(), str::to_owned),
        }
    }
}

/// `2026-12-07 01:02 UTC`.
fn utc_minute(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => format!("{unix} (Unix time)"),
    }
}

/// Three templates over one file: its subject, text and HTML blocks.
macro_rules! mail_template {
    ($path:literal, $subject:ident, $text:ident, $html:ident { $($field:ident: $ty:ty),* }) => {
        #[derive(Template)]
        #[template(path = $path, block = "subject", escape = "none")]
        #[allow(dead_code, reason = "a subject line names few of the message's facts")]
        struct $subject<'a> { $($field: &'a $ty),* }
        #[derive(Template)]
        #[template(path = $path, block = "text", escape = "none")]
        struct $text<'a> { $($field: &'a $ty),* }
        #[derive(Template)]
        #[template(path = $path, block = "html", escape = "html")]
        struct $html<'a> { $($field: &'a $ty),* }
    };
}

mail_template!(
    "mail/verify_email.html",
    VerifySubject,
    VerifyText,
    VerifyHtml {
        account: str,
        site: str,
        link: str,
        ttl: str
    }
);
mail_template!(
    "mail/password_changed.html",
    ChangedSubject,
    ChangedText,
    ChangedHtml { facts: Facts }
);
mail_template!(
    "mail/password_reset.html",
    ResetSubject,
    ResetText,
    ResetHtml { facts: Facts }
);
mail_template!(
    "mail/email_changed.html",
    EmailSubject,
    EmailText,
    EmailHtml {
        facts: Facts,
        new_address: str
    }
);
mail_template!(
    "mail/factor_added.html",
    AddedSubject,
    AddedText,
    AddedHtml {
        facts: Facts,
        factor: str
    }
);
mail_template!(
    "mail/factor_removed.html",
    RemovedSubject,
    RemovedText,
    RemovedHtml {
        facts: Facts,
        factor: str
    }
);
mail_template!(
    "mail/new_device.html",
    DeviceSubject,
    DeviceText,
    DeviceHtml { facts: Facts }
);

/// The HTML document around a message's HTML block.
fn html_document(subject: &str, body: &str) -> String {
    let subject = subject
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{subject}</title>\
         <style>th {{ text-align: left; vertical-align: top; padding-right: 1rem }}</style></head>\n\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 1rem auto; \
         padding: 0 1rem; line-height: 1.5; color: #1f2328\">\n\
         <h1 style=\"font-size: 1.25rem\">{subject}</h1>\n{body}</body></html>\n"
    )
}

fn mail(
    subject: Result<String, askama::Error>,
    text: Result<String, askama::Error>,
    html: Result<String, askama::Error>,
) -> Result<Mail, askama::Error> {
    let subject = subject?.trim().to_owned();
    let html = html_document(&subject, html?.trim_start());
    Ok(Mail {
        subject,
        text: text?.trim_start().to_owned(),
        html,
    })
}

/// The verification message: the link `link` for `account` at `site`, working for `ttl`.
pub fn verification_mail(
    account: &str,
    site: &str,
    link: &str,
    ttl: &str,
) -> Result<Mail, askama::Error> {
    mail(
        VerifySubject {
            account,
            site,
            link,
            ttl,
        }
        .render(),
        VerifyText {
            account,
            site,
            link,
            ttl,
        }
        .render(),
        VerifyHtml {
            account,
            site,
            link,
            ttl,
        }
        .render(),
    )
}

/// The notice of `event` with its facts.
pub fn notice_mail(event: &NoticeEvent, facts: &Facts) -> Result<Mail, askama::Error> {
    match event {
        NoticeEvent::PasswordChanged => mail(
            ChangedSubject { facts }.render(),
            ChangedText { facts }.render(),
            ChangedHtml { facts }.render(),
        ),
        NoticeEvent::PasswordReset => mail(
            ResetSubject { facts }.render(),
            ResetText { facts }.render(),
            ResetHtml { facts }.render(),
        ),
        NoticeEvent::EmailChanged { new_address } => {
            let new_address = new_address.as_str();
            mail(
                EmailSubject { facts, new_address }.render(),
                EmailText { facts, new_address }.render(),
                EmailHtml { facts, new_address }.render(),
            )
        }
        NoticeEvent::FactorAdded { factor } => {
            let factor = factor.as_str();
            mail(
                AddedSubject { facts, factor }.render(),
                AddedText { facts, factor }.render(),
                AddedHtml { facts, factor }.render(),
            )
        }
        NoticeEvent::FactorRemoved { factor } => {
            let factor = factor.as_str();
            mail(
                RemovedSubject { facts, factor }.render(),
                RemovedText { facts, factor }.render(),
                RemovedHtml { facts, factor }.render(),
            )
        }
        NoticeEvent::NewDevice => mail(
            DeviceSubject { facts }.render(),
            DeviceText { facts }.render(),
            DeviceHtml { facts }.render(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts::new(
            "kvothe",
            "https://auth.example.com/",
            1_796_601_720,
            "203.0.113.7".parse().ok(),
            Some("Mozilla/5.0 <script>"),
        )
    }

    #[test]
    fn every_notice_states_the_facts_in_both_forms() {
        for event in [
            NoticeEvent::PasswordChanged,
            NoticeEvent::PasswordReset,
            NoticeEvent::EmailChanged {
                new_address: "new@example.com".into(),
            },
            NoticeEvent::FactorAdded {
                factor: "An authenticator app".into(),
            },
            NoticeEvent::FactorRemoved {
                factor: "A passkey".into(),
            },
            NoticeEvent::NewDevice,
        ] {
            let mail = notice_mail(&event, &facts()).unwrap();
            assert!(!mail.subject.is_empty() && !mail.subject.contains('\n'));
            for body in [&mail.text, &mail.html] {
                assert!(body.contains("kvothe"), "{event:?}: {body}");
                assert!(body.contains("203.0.113.7"), "{body}");
                assert!(body.contains("2026-12-07"), "{body}");
                assert!(body.contains("https://auth.example.com"), "{body}");
                assert!(body.contains("If this was you"), "{body}");
            }
            assert!(mail.text.contains("Mozilla/5.0 <script>"), "{}", mail.text);
            assert!(
                mail.html.contains("Mozilla/5.0 &#60;script&#62;")
                    || mail.html.contains("Mozilla/5.0 &lt;script&gt;"),
                "{}",
                mail.html
            );
            assert!(!mail.html.contains("<script>"), "{}", mail.html);
        }
    }

    #[test]
    fn the_verification_mail_carries_the_link_on_a_line_of_its_own() {
        let link = "https://auth.example.com/verify-email?token=abc";
        let mail = verification_mail("kvothe", "https://auth.example.com", link, "1 day").unwrap();
        assert!(mail.text.lines().any(|line| line == link), "{}", mail.text);
        assert!(
            mail.html
                .contains("href=\"https://auth.example.com/verify-email?token=abc\""),
            "{}",
            mail.html
        );
        assert!(mail.text.contains("1 day"));
    }
}

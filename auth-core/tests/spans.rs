//! Spans: every public `Auth` method has one, none of them carries a secret,
//! and the caller's span (a request's, with its id) goes with the work onto
//! the blocking pool and the hashing threads, so each log line of a request
//! names it.

use std::fmt::Write as _;
use std::sync::{Mutex, Once};

use auth_core::{Identifier, Password};
use tracing::field::{Field, Visit};
use tracing::Instrument as _;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::common::*;

/// The id of this test's request span: only what happens inside it is kept.
const REQUEST_ID: &str = "spans-test-request-7f3a";

/// One span or event, with the names and fields of the spans it is in.
#[derive(Clone, Debug)]
struct Seen {
    what: String,
    fields: String,
    scope: Vec<String>,
}

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

#[derive(Default)]
struct FieldText(String);

impl Visit for FieldText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={} ", field.name(), value);
    }
}

/// A span's fields as text, kept in its extensions.
struct SpanText(String);

struct Collector;

/// A span as `name{fields}`.
fn described<S: for<'a> LookupSpan<'a>>(
    span: &tracing_subscriber::registry::SpanRef<'_, S>,
) -> String {
    let fields = span
        .extensions()
        .get::<SpanText>()
        .map(|t| t.0.clone())
        .unwrap_or_default();
    format!("{}{{{}}}", span.name(), fields)
}

impl Collector {
    fn keep(seen: Seen) {
        if seen.scope.iter().any(|s| s.contains(REQUEST_ID)) || seen.fields.contains(REQUEST_ID) {
            SEEN.lock().unwrap().push(seen);
        }
    }
}

impl<S> Layer<S> for Collector
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut text = FieldText::default();
        attrs.record(&mut text);
        let Some(span) = ctx.span(id) else { return };
        span.extensions_mut().insert(SpanText(text.0.clone()));
        let scope: Vec<String> = span.scope().map(|s| described(&s)).collect();
        Collector::keep(Seen {
            what: format!("span {}", span.name()),
            fields: text.0,
            scope,
        });
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        let mut text = FieldText::default();
        values.record(&mut text);
        if let Some(span) = ctx.span(id) {
            if let Some(kept) = span.extensions_mut().get_mut::<SpanText>() {
                kept.0.push_str(&text.0);
            }
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        event.record(&mut text);
        let scope = ctx
            .event_scope(event)
            .map(|scope| scope.map(|s| described(&s)).collect())
            .unwrap_or_default();
        Collector::keep(Seen {
            what: format!("event {}", event.metadata().target()),
            fields: text.0,
            scope,
        });
    }
}

/// The process-wide subscriber (the blocking pool's and the hashing
/// threads' events reach only a global one), at every level.
fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Only auth-core's spans and events, and this test's request span:
        // the other tests of this binary run beside it, and their
        // dependencies' events would cost them time for nothing.
        let ours = tracing_subscriber::filter::filter_fn(|meta| {
            meta.target().starts_with("auth_core") || meta.name() == "request"
        });
        let subscriber = tracing_subscriber::registry().with(Collector.with_filter(ours));
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test sets a global subscriber");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_carry_the_request_into_every_thread_and_no_secret() {
    install();
    let db = TestDb::sqlite();
    let (auth, _clock) = open(&db).await;
    let request = tracing::error_span!("request", request_id = REQUEST_ID);
    let secrets = async {
        let mut secrets = vec![GOOD.to_owned(), OTHER.to_owned()];
        register(&auth, "kvothe", GOOD).await;
        let first = login(&auth, "kvothe", GOOD).await.unwrap();
        secrets.push(first.token.expose().to_owned());
        auth.get_user_from_session_id(first.token.expose())
            .await
            .unwrap();
        let (_, reset) = auth
            .get_reset_password_token(&Identifier::Username("kvothe".into()), &client())
            .await
            .unwrap();
        secrets.push(reset.expose().to_owned());
        auth.update_password(
            &Identifier::Username("kvothe".into()),
            reset.expose(),
            &Password::new(OTHER),
            &client(),
        )
        .await
        .unwrap();
        let again = login_as(&auth, OTHER).await;
        secrets.push(again.clone());
        let enrolment = auth.begin_totp(&again).await.unwrap();
        secrets.push(enrolment.secret.clone());
        let changed = auth
            .change_password(&again, &pw(OTHER), &pw(GOOD), &client())
            .await
            .unwrap();
        secrets.push(changed.token.expose().to_owned());
        // A wrong password goes through the same check.
        let _ = login(&auth, "kvothe", "a wrong password altogether").await;
        secrets.push("a wrong password altogether".to_owned());
        secrets
    }
    .instrument(request)
    .await;

    let seen = SEEN.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the collector saw the request");
    for record in &seen {
        let text = format!(
            "{} {} {}",
            record.what,
            record.fields,
            record.scope.join(" ")
        );
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret in a span or event: {text}"
            );
        }
    }
    let in_request = |what: &str, message: &str| {
        seen.iter().any(|r| {
            r.what == what
                && r.fields.contains(message)
                && r.scope.iter().any(|s| s.contains(REQUEST_ID))
        })
    };
    assert!(
        in_request("event auth_core::service", "database work done"),
        "an event on the blocking pool is inside the request's span: {seen:#?}"
    );
    assert!(
        in_request("event auth_core::hasher", "password hash work done"),
        "an event on a hashing thread is inside the request's span"
    );
    for method in [
        "register_user",
        "get_user_from_session_id",
        "update_password",
        "change_password",
        "begin_totp",
    ] {
        assert!(
            seen.iter().any(|r| r.what == format!("span {method}")),
            "Auth::{method} has a span"
        );
    }
}

/// Logs kvothe in with `password`; the session token.
async fn login_as(auth: &auth_core::Auth, password: &str) -> String {
    login(auth, "kvothe", password)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned()
}

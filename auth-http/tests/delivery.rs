//! Reset tokens reach people through auth-core's one delivery path: the JSON
//! API and the website hand the same `Notifier` the same kind of message,
//! and auth-http sends nothing itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{Config, Delivery, Notifier, ResetChannel, ResetMessage};
use auth_http::{HttpConfig, ResetDelivery};
use serde_json::json;
use warp::http::StatusCode;

use crate::common::*;

/// One delivered message, as the recorder saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    account: String,
    address: Option<String>,
    token: String,
    link_token: String,
    channel: ResetChannel,
}

/// A notifier that keeps what it is given, and can be told to fail.
#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    fail: bool,
    needs_address: bool,
}

impl Notifier for Recorder {
    fn needs_address(&self) -> bool {
        self.needs_address
    }

    fn deliver_reset<'a>(&'a self, message: ResetMessage<'a>) -> Delivery<'a> {
        self.seen.lock().unwrap().push(Seen {
            account: message.account.to_owned(),
            address: message.address.map(str::to_owned),
            token: message.token.expose().to_owned(),
            link_token: message.link_token.to_owned(),
            channel: message.channel,
        });
        let result = if self.fail {
            Err(auth_core::DeliveryError::Smtp("refused".into()))
        } else {
            Ok(())
        };
        Box::pin(std::future::ready(result))
    }

    fn deliver_verification<'a>(
        &'a self,
        _message: auth_core::VerificationMessage<'a>,
    ) -> Delivery<'a> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn deliver_notice<'a>(&'a self, _message: auth_core::NoticeMessage<'a>) -> Delivery<'a> {
        Box::pin(std::future::ready(Ok(())))
    }
}

async fn app_with(recorder: Arc<Recorder>, delivery: ResetDelivery) -> TestApp {
    let config = Config {
        notifier: recorder,
        ..core_config()
    };
    let http = HttpConfig {
        reset_delivery: delivery,
        ..http_config()
    };
    let app = TestApp::with(config, http).await;
    app.register("kvothe@example.com", "correct horse battery staple")
        .await;
    app
}

/// `POST /reset_password` for kvothe's address.
async fn ask_reset(app: &TestApp) -> Res {
    app.send(json(
        "POST",
        "/reset_password",
        &json!({"email": "kvothe@example.com"}),
    ))
    .await
}

async fn seen_soon(recorder: &Recorder, count: usize) -> Vec<Seen> {
    for _ in 0..100 {
        let seen = recorder.seen.lock().unwrap().clone();
        if seen.len() >= count {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    recorder.seen.lock().unwrap().clone()
}

#[tokio::test]
async fn the_json_api_and_the_website_deliver_through_the_same_notifier() {
    let recorder = Arc::new(Recorder::default());
    let app = app_with(recorder.clone(), ResetDelivery::Log).await;

    let res = ask_reset(&app).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        json!({"email": "kvothe@example.com", "message": "reset token sent"}),
        "the token is never in the answer"
    );

    let page = app.page(get("/forgot")).await;
    let csrf = page.csrf_token();
    let cookies = page.header_all("set-cookie");
    let mut request = form(
        "POST",
        "/forgot",
        &[("csrf_token", &csrf), ("username", "kvothe@example.com")],
    );
    for set_cookie in &cookies {
        let pair = set_cookie.split(';').next().unwrap_or_default();
        request = request.header("cookie", pair);
    }
    let res = app.page(request).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    let seen = seen_soon(&recorder, 2).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen.iter().map(|s| s.channel).collect::<Vec<_>>(),
        [ResetChannel::JsonApi, ResetChannel::Website]
    );
    for message in &seen {
        assert_eq!(message.account, "kvothe@example.com");
        assert_eq!(message.address.as_deref(), Some("kvothe@example.com"));
        // The link's token is the core's format: the token, then the account.
        let (token, _account) =
            auth_core::parse_reset_link_token(&message.link_token).expect("a reset link token");
        assert_eq!(token, message.token);
    }
    // The first token was voided by the second; the second sets a password.
    let res = app
        .send(json(
            "PUT",
            "/reset_password",
            &json!({"email": "kvothe@example.com", "reset_token": seen[1].token,
                    "new_password": "a brand new pass phrase"}),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn a_failed_delivery_is_503_on_the_json_api_and_silent_on_the_page() {
    let recorder = Arc::new(Recorder {
        fail: true,
        ..Recorder::default()
    });
    let app = app_with(recorder.clone(), ResetDelivery::Smtp).await;
    let res = ask_reset(&app).await;
    let message = res.assert_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(
        message,
        "the reset e-mail could not be sent; try again later"
    );
    assert_eq!(seen_soon(&recorder, 1).await.len(), 1);
}

#[tokio::test]
async fn the_response_delivery_answers_with_the_token_and_delivers_nothing() {
    let recorder = Arc::new(Recorder::default());
    let app = app_with(recorder.clone(), ResetDelivery::Response).await;
    let res = ask_reset(&app).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res.json()["reset_token"].is_string(), "{}", res.text());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(recorder.seen.lock().unwrap().is_empty());
}

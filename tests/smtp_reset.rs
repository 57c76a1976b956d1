//! `--reset-delivery smtp`: the real binary mails reset tokens to a small
//! SMTP server that runs inside the test.

use crate::common;

use std::time::Duration;

use common::{client, Run, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub(crate) const PUBLIC_URL: &str = "https://auth.example.test";
const EMAIL: &str = "bob@example.com";
pub(crate) const PASSWORD: &str = "plover-quartz-lantern";
const NEW_PASSWORD: &str = "saffron-gable-otter";

/// One message the fake server took.
#[derive(Debug)]
pub(crate) struct Mail {
    pub(crate) recipients: Vec<String>,
    /// The DATA section, dot-unstuffed, with CRLF line ends.
    pub(crate) data: String,
}

/// An SMTP server on 127.0.0.1 that says yes to everything and hands each
/// message to the test.
pub(crate) async fn fake_smtp() -> (u16, mpsc::UnboundedReceiver<Mail>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sender = sender.clone();
            tokio::spawn(async move {
                let _ = smtp_session(stream, sender).await;
            });
        }
    });
    (port, receiver)
}

async fn smtp_session(
    stream: TcpStream,
    mails: mpsc::UnboundedSender<Mail>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 fake.smtp.test ESMTP\r\n").await?;
    let mut recipients = Vec::new();
    loop {
        let Some(line) = read_line(&mut read).await? else {
            return Ok(());
        };
        let verb = line
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 fake.smtp.test\r\n",
            "MAIL" | "RSET" | "NOOP" => {
                if verb != "NOOP" {
                    recipients.clear();
                }
                b"250 OK\r\n"
            }
            "RCPT" => {
                let address = line
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map(|(address, _)| address.to_owned())
                    .unwrap_or_default();
                recipients.push(address);
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    let Some(line) = read_line(&mut read).await? else {
                        return Ok(());
                    };
                    if line == "." {
                        break;
                    }
                    let line = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(line);
                    data.push_str("\r\n");
                }
                let _ = mails.send(Mail {
                    recipients: std::mem::take(&mut recipients),
                    data,
                });
                b"250 queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(answer).await?;
    }
}

/// One line without its line ending; `None` at the end of the stream.
async fn read_line(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Option<String>> {
    let mut bytes = Vec::new();
    if read.read_until(b'\n', &mut bytes).await? == 0 {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&bytes);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

pub(crate) fn smtp_server_args(port: u16) -> Vec<String> {
    [
        "--reset-delivery",
        "smtp",
        "--smtp-url",
        &format!("smtp://127.0.0.1:{port}"),
        "--public-url",
        PUBLIC_URL,
        "--password-min-length",
        "8",
    ]
    .map(str::to_owned)
    .to_vec()
}

pub(crate) fn start(args: &[String]) -> Server {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&args)
}

pub(crate) async fn body(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

pub(crate) async fn register(server: &Server, fields: &[(&str, &str)]) {
    let response = client()
        .post(server.url("/users"))
        .form(fields)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        body(response).await
    );
}

/// The body of a mail as its reader sees it: quoted-printable soft line
/// breaks joined and `=XX` escapes decoded (a long link is sent that way).
pub(crate) fn readable(data: &str) -> String {
    let joined = data.replace("=\r\n", "");
    let mut out = Vec::new();
    let bytes = joined.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let hex = joined.get(at + 1..at + 3).unwrap_or_default();
        match u8::from_str_radix(hex, 16) {
            Ok(byte) if bytes[at] == b'=' && hex.len() == 2 => {
                out.push(byte);
                at += 3;
            }
            _ => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The reset link in a mail: the line that is nothing but one, with the
/// public URL.
fn link_in(mail: &str) -> String {
    readable(mail)
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(&format!("{PUBLIC_URL}/reset?token=")))
        .unwrap_or_else(|| panic!("no reset link in the mail:\n{mail}"))
        .to_owned()
}

/// The reset token in a mail's link (the link's `token` before the account part).
fn token_in(mail: &str) -> String {
    let link = link_in(mail);
    let token = link
        .split_once("token=")
        .map(|(_, t)| t)
        .unwrap_or_default();
    let token = token.split('.').next().unwrap_or_default();
    assert_eq!(token.len(), 43, "{link}");
    token.to_owned()
}

#[tokio::test]
async fn the_token_is_mailed_with_a_link_to_the_public_url_not_the_host() {
    let (port, mut mails) = fake_smtp().await;
    let server = start(&smtp_server_args(port));
    register(&server, &[("email", EMAIL), ("password", PASSWORD)]).await;
    // Resets go only to a verified address (docs/contract/10-email.md).
    crate::email::verify_from_mail(&server, &mut mails, EMAIL).await;

    // A forged Host must not find its way into the mail.
    let response = client()
        .post(server.url("/reset_password"))
        .header("Host", "evil.example")
        .form(&[("email", EMAIL)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer = body(response).await;
    assert_eq!(
        answer,
        json!({"email": EMAIL, "message": "reset token sent"})
    );

    let mail = tokio::time::timeout(Duration::from_secs(10), mails.recv())
        .await
        .expect("a mail within 10 s")
        .expect("the SMTP server is running");
    assert_eq!(mail.recipients, [EMAIL]);
    assert!(mail.data.contains(&format!("To: {EMAIL}")), "{}", mail.data);
    assert!(
        mail.data.contains("From: authd <noreply@localhost>"),
        "{}",
        mail.data
    );
    link_in(&mail.data);
    let text = readable(&mail.data);
    assert!(
        text.contains("open this link in your web browser"),
        "{text}"
    );
    for technical in ["curl", "reset_password", "new_password"] {
        assert!(
            !text.contains(technical),
            "{technical} in the mail:\n{text}"
        );
    }
    assert!(!mail.data.contains("evil.example"), "{}", mail.data);
    assert!(
        !mail.data.contains(&server.base_url.replace("http://", "")),
        "the server's own address is not in the mail either:\n{}",
        mail.data
    );
    let token = token_in(&mail.data);
    assert!(!answer.to_string().contains(&token));

    let response = client()
        .put(server.url("/reset_password"))
        .form(&[
            ("email", EMAIL),
            ("reset_token", &token),
            ("new_password", NEW_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body(response).await,
        json!({"email": EMAIL, "message": "Password updated"})
    );
    let response = client()
        .post(server.url("/sessions"))
        .form(&[("email", EMAIL), ("password", NEW_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let stderr = server
        .stderr_once_it_holds("password reset token e-mailed")
        .await;
    assert!(
        !stderr.contains(&token),
        "the token is in the log:\n{stderr}"
    );
}

#[tokio::test]
async fn an_account_without_an_address_gets_the_usual_answer_and_a_warning() {
    let (port, mut mails) = fake_smtp().await;
    let server = start(&smtp_server_args(port));
    register(&server, &[("username", "kvothe"), ("password", PASSWORD)]).await;

    let response = client()
        .post(server.url("/reset_password"))
        .form(&[("username", "kvothe")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body(response).await,
        json!({"username": "kvothe", "message": "reset token sent"})
    );
    // The answer waits for the mail, so a mail would be here already.
    assert!(mails.try_recv().is_err(), "nothing is mailed");
    server
        .stderr_once_it_holds("account without a verified e-mail address")
        .await;

    // An unknown account is still 403, as with every delivery.
    let response = client()
        .post(server.url("/reset_password"))
        .form(&[("email", "nobody@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(mails.try_recv().is_err(), "nothing is mailed");
}

#[tokio::test]
async fn an_smtp_server_that_is_down_or_silent_gives_503_unavailable() {
    // Down: nothing listens on the port.
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    // Silent: accepts and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });

    for port in [closed_port, silent_port] {
        let server = start(&smtp_server_args(port));
        register(&server, &[("email", EMAIL), ("password", PASSWORD)]).await;
        crate::email::operator_verify(&server, EMAIL);
        let started = std::time::Instant::now();
        let response = client()
            .post(server.url("/reset_password"))
            .form(&[("email", EMAIL)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let answer = body(response).await;
        assert_eq!(answer["error"], "unavailable", "{answer}");
        assert!(answer["message"].is_string(), "{answer}");
        assert_eq!(answer.as_object().unwrap().len(), 2, "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the send gives up after about 10 s"
        );
        server
            .stderr_once_it_holds("password reset e-mail not sent")
            .await;
    }
}

fn authd(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let out = Run::authd().current_dir(dir.path()).args(args).output();
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "{args:?}: nothing is created when the options are bad"
    );
    out
}

#[test]
fn bad_smtp_options_stop_the_server_with_one_line_naming_the_option() {
    let cases: [(&[&str], &str); 5] = [
        (&["serve", "--reset-delivery", "smtp"], "--smtp-url"),
        (
            &[
                "serve",
                "--reset-delivery",
                "smtp",
                "--smtp-url",
                "smtp://127.0.0.1:2525",
            ],
            "--public-url",
        ),
        (
            &[
                "serve",
                "--reset-delivery",
                "smtp",
                "--public-url",
                PUBLIC_URL,
                "--smtp-url",
                "ftp://user:hunter2@mail.example.test",
            ],
            "--smtp-url",
        ),
        (
            &[
                "serve",
                "--reset-delivery",
                "smtp",
                "--public-url",
                PUBLIC_URL,
                "--smtp-url",
                "smtp://mail.example.test:587?tls=sometimes",
            ],
            "--smtp-url",
        ),
        (
            &[
                "serve",
                "--reset-delivery",
                "smtp",
                "--public-url",
                PUBLIC_URL,
                "--smtp-url",
                "smtp://127.0.0.1:2525",
                "--smtp-from",
                "not an address",
            ],
            "--smtp-from",
        ),
    ];
    for (args, option) in cases {
        let out = authd(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("authd: "), "{args:?}: {stderr}");
        assert!(stderr.contains(option), "{args:?}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{args:?}: {stderr}");
    }
}

/// The `csrf_token` of a form page and the pre-session cookie it set (or
/// the one given back).
pub(crate) async fn form_page(url: &str, cookie: Option<&str>) -> (String, String, String) {
    let mut request = client().get(url);
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let set = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("authd_csrf="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned());
    let cookie = set
        .or(cookie.map(str::to_owned))
        .expect("a pre-session cookie");
    let status = response.status();
    let html = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{url}: {html}");
    let token = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf_token")
        .to_owned();
    (token, cookie, html)
}

#[tokio::test]
async fn the_website_mails_a_link_that_opens_the_reset_page() {
    let (port, mut mails) = fake_smtp().await;
    let server = start(&smtp_server_args(port));
    register(&server, &[("email", EMAIL), ("password", PASSWORD)]).await;
    crate::email::verify_from_mail(&server, &mut mails, EMAIL).await;
    register(&server, &[("username", "kvothe"), ("password", PASSWORD)]).await;

    // An account without an address and an unknown one: the same page, no mail.
    let (token, cookie, _) = form_page(&server.url("/forgot"), None).await;
    let mut pages = Vec::new();
    for name in ["kvothe", "nobody@example.com", "BOB@example.com"] {
        let response = client()
            .post(server.url("/forgot"))
            .header("Cookie", &cookie)
            .form(&[("csrf_token", token.as_str()), ("username", name)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        pages.push(response.text().await.unwrap());
    }
    assert_eq!(pages[0], pages[1]);
    assert_eq!(pages[0], pages[2]);

    let mail = tokio::time::timeout(Duration::from_secs(10), mails.recv())
        .await
        .expect("a mail within 10 s")
        .expect("the SMTP server is running");
    assert_eq!(mail.recipients, [EMAIL]);
    let link = link_in(&mail.data);
    let path = link.strip_prefix(PUBLIC_URL).unwrap();

    // Opening the link twice leaves it usable, and the request log never
    // holds its query.
    form_page(&server.url(path), None).await;
    let (token, cookie, html) = form_page(&server.url(path), None).await;
    assert!(html.contains("name=\"new_password_again\""), "{html}");
    let response = client()
        .post(server.url("/reset"))
        .header("Cookie", &cookie)
        .form(&[
            ("csrf_token", token.as_str()),
            ("token", path.split_once("token=").unwrap().1),
            ("new_password", NEW_PASSWORD),
            ("new_password_again", NEW_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login");
    let response = client()
        .post(server.url("/sessions"))
        .form(&[("email", EMAIL), ("password", NEW_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Notices may follow (a reset, a new device), never a second link.
    while let Ok(more) = mails.try_recv() {
        assert!(
            !readable(&more.data).contains("/reset?token="),
            "one link only"
        );
    }
    let stderr = server
        .stderr_once_it_holds("password reset token e-mailed")
        .await;
    let raw = token_in(&mail.data);
    assert!(!stderr.contains(&raw), "the token is in the log:\n{stderr}");
}

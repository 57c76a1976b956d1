//! Hostile input over a real socket to the real binary: every case must get
//! the contract's 4xx in the contract's shape (docs/contract/3-json-api.md to 5-device-check.md), never a 500 or
//! a body that is not JSON on a JSON route, and the server must keep serving
//! afterwards. Where reqwest refuses to send something (bytes that are not
//! UTF-8, lying lengths, strange methods, unnormalised paths), the request is
//! written by hand on a `TcpStream`.

use crate::common;

use std::io::Write as _;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{client, session_cookie, Server};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_BODY: usize = 16 * 1024;
const PASSWORD: &str = "correct horse battery staple 42";
const MACHINE: &str = "hostile-machine-0001";

/// A response, from reqwest or read off a raw socket.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn summary(&self) -> String {
        let mut text = self.text();
        text.truncate(300);
        format!(
            "{} content-type={:?} body={text:?}",
            self.status,
            self.header("content-type")
        )
    }
}

type Answer = Result<Resp, String>;

async fn from_reqwest(result: reqwest::Result<reqwest::Response>) -> Answer {
    let response = result.map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("body failed: {e}"))?
        .to_vec();
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Parses a complete HTTP/1.1 response out of `buf`, or `None` if more bytes
/// are needed (`eof`: no more will come).
fn parse_response(buf: &[u8], eof: bool) -> Option<Result<Resp, String>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return eof.then(|| Err(format!("no complete response head: {:?}", lossy(buf))));
    };
    let head = &buf[..end];
    let mut lines = head.split(|&b| b == b'\n');
    let status_line = lossy(lines.next().unwrap_or_default());
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.trim().parse::<u16>().ok());
    let Some(status) = status else {
        return Some(Err(format!("bad status line {status_line:?}")));
    };
    let headers: Vec<(String, Vec<u8>)> = lines
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':')?;
            let value = &line[colon + 1..];
            let start = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
            Some((lossy(&line[..colon]), value[start..].to_vec()))
        })
        .collect();
    let rest = &buf[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| lossy(v))
    };
    let body = if status == 100 || status == 204 || status == 304 {
        Some(Vec::new())
    } else if let Some(length) = find("content-length") {
        let length: usize = length.trim().parse().ok()?;
        (rest.len() >= length).then(|| rest[..length].to_vec())
    } else if find("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        dechunk(rest)
    } else if eof {
        Some(rest.to_vec())
    } else {
        None
    };
    match body {
        Some(body) => Some(Ok(Resp {
            status,
            headers,
            body,
        })),
        None if eof => Some(Err(format!("truncated response: {:?}", lossy(buf)))),
        None => None,
    }
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `request` as is and reads one response, writing and reading at once
/// so that an early answer (413, 431) is seen even while the body still goes
/// out. The write side stays open until the answer is read.
async fn send_raw(addr: &str, request: Vec<u8>, wait: Duration) -> Answer {
    exchange(addr, request, wait, false).await
}

/// Like [`send_raw`], and then the server must close the connection cleanly
/// (EOF or reset, no further bytes) within 3 seconds.
async fn send_raw_expect_close(addr: &str, request: Vec<u8>) -> Answer {
    exchange(addr, request, Duration::from_secs(10), true).await
}

async fn exchange(addr: &str, request: Vec<u8>, wait: Duration, expect_close: bool) -> Answer {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        for chunk in request.chunks(64 * 1024) {
            if writer.write_all(chunk).await.is_err() {
                break;
            }
        }
        let _ = writer.flush().await;
        writer
    });
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) => return parse_response(&buf, true).expect("eof decides"),
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(answer) = parse_response(&buf, false) {
                        if expect_close && answer.is_ok() {
                            let after = tokio::time::timeout(
                                Duration::from_secs(3),
                                reader.read(&mut chunk),
                            )
                            .await;
                            match after {
                                Ok(Ok(0)) | Ok(Err(_)) => {}
                                Ok(Ok(n)) => {
                                    return Err(format!(
                                        "{n} bytes after the answer: {:?}",
                                        lossy(&chunk[..n])
                                    ))
                                }
                                Err(_) => return Err("the connection stayed open".into()),
                            }
                        }
                        return answer;
                    }
                }
                Err(e) if !buf.is_empty() => {
                    return parse_response(&buf, true)
                        .expect("eof decides")
                        .map_err(|m| format!("{m} ({e})"))
                }
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    };
    let answer = match tokio::time::timeout(wait, read).await {
        Ok(answer) => answer,
        Err(_) => Err(format!("no answer within {wait:?}")),
    };
    writing.abort();
    answer
}

/// A hand-made request: `METHOD TARGET HTTP/1.1`, `Host`, `Connection:
/// close`, the extra header lines (each ending in CRLF) and the body with
/// its length.
fn request(method: &str, target: &[u8], extra: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    out.extend_from_slice(extra);
    if !body.is_empty() || matches!(method, "POST" | "PUT") {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

// ---- what each case must get ------------------------------------------------

type Check = Result<(), String>;

fn json_body(r: &Resp) -> Result<Value, String> {
    let content_type = r.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(format!("not application/json: {}", r.summary()));
    }
    serde_json::from_slice(&r.body).map_err(|e| format!("body is not JSON ({e}): {}", r.summary()))
}

/// The JSON API's error: this status, `{"error": one of codes, "message": text}`.
fn api_error(r: &Resp, status: u16, codes: &[&str]) -> Check {
    if r.status != status {
        return Err(format!("expected {status}, got {}", r.summary()));
    }
    let body = json_body(r)?;
    let object = body.as_object().ok_or_else(|| r.summary())?;
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    if keys.len() != 2 || !object.contains_key("error") || !object.contains_key("message") {
        return Err(format!("error shape has keys {keys:?}: {}", r.summary()));
    }
    let code = body["error"].as_str().unwrap_or_default();
    if !codes.contains(&code) {
        return Err(format!("expected error {codes:?}, got {}", r.summary()));
    }
    if body["message"].as_str().is_none_or(str::is_empty) {
        return Err(format!(
            "message is not a non-empty string: {}",
            r.summary()
        ));
    }
    Ok(())
}

/// 405 `method_not_allowed` with an `Allow` header naming `allow`.
fn not_allowed(r: &Resp, allow: &str) -> Check {
    api_error(r, 405, &["method_not_allowed"])?;
    match r.header("allow") {
        Some(a) if a == allow => Ok(()),
        other => Err(format!("Allow {other:?}, expected {allow:?}")),
    }
}

/// `/check`'s failure: `{"status": "FAILED", "error": code, "message": text}`.
fn check_failed(r: &Resp, status: u16, code: &str) -> Check {
    if r.status != status {
        return Err(format!("expected {status}, got {}", r.summary()));
    }
    let body = json_body(r)?;
    let object = body.as_object().ok_or_else(|| r.summary())?;
    let shape_ok = object.len() == 3
        && body["status"] == "FAILED"
        && body["error"] == code
        && body["message"].as_str().is_some_and(|m| !m.is_empty());
    if shape_ok {
        Ok(())
    } else {
        Err(format!("expected FAILED/{code}, got {}", r.summary()))
    }
}

/// An HTML page of the website with this status.
fn html_page(r: &Resp, status: u16) -> Check {
    if r.status != status {
        return Err(format!("expected {status}, got {}", r.summary()));
    }
    let content_type = r.header("content-type").unwrap_or_default();
    if content_type != "text/html; charset=utf-8" {
        return Err(format!("not an HTML page: {}", r.summary()));
    }
    if !r.text().contains("</html>") {
        return Err(format!("not a whole page: {}", r.summary()));
    }
    Ok(())
}

fn redirect_to(r: &Resp, status: u16, location: &str) -> Check {
    match (r.status, r.header("location")) {
        (s, Some(l)) if s == status && l == location => Ok(()),
        _ => Err(format!("expected {status} to {location}, got {r:?}")),
    }
}

/// Every case's name and status, and what went wrong with it.
#[derive(Default)]
struct Cases {
    rows: Vec<(String, u16, Option<String>)>,
}

impl Cases {
    fn check(&mut self, name: &str, answer: Answer, check: impl FnOnce(&Resp) -> Check) {
        let (status, problem) = match &answer {
            Ok(r) => {
                let mut problem = check(r).err();
                if problem.is_none() && r.status >= 500 {
                    problem = Some(format!("a 5xx for input: {}", r.summary()));
                }
                (r.status, problem)
            }
            Err(e) => (0, Some(e.clone())),
        };
        self.rows.push((name.to_owned(), status, problem));
    }

    /// Prints the table and the count to standard error (so CI logs show
    /// it), then fails with every problem at once.
    fn finish(self, title: &str, minimum: usize) {
        let width = self.rows.iter().map(|r| r.0.len()).max().unwrap_or(4);
        eprintln!("\n{title}");
        eprintln!("{:<width$}  status  result", "case");
        for (name, status, problem) in &self.rows {
            let result = match problem {
                None => "ok".to_owned(),
                Some(p) => format!("FAILED: {p}"),
            };
            eprintln!("{name:<width$}  {status:>6}  {result}");
        }
        let failed: Vec<_> = self.rows.iter().filter(|r| r.2.is_some()).collect();
        let count = format!(
            "{title}: {} hostile cases, {} passed, {} failed",
            self.rows.len(),
            self.rows.len() - failed.len(),
            failed.len()
        );
        eprintln!("{count}");
        // The count also goes past the test harness's capture, so that it
        // shows in CI logs when the test passes.
        let _ = writeln!(std::io::stderr(), "{count}");
        assert!(
            failed.is_empty(),
            "{} case(s) broke the contract: {failed:#?}",
            failed.len()
        );
        assert!(
            self.rows.len() >= minimum,
            "only {} cases, expected at least {minimum}",
            self.rows.len()
        );
    }
}

// ---- the server and its clients ---------------------------------------------

struct Target {
    server: Server,
    addr: String,
    http: reqwest::Client,
}

impl Target {
    fn start() -> Target {
        let server = Server::start(&["--ip-rate-limit", "off"]);
        let addr = server
            .base_url
            .strip_prefix("http://")
            .expect("http base URL")
            .to_owned();
        Target {
            server,
            addr,
            http: client(),
        }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    async fn raw(&self, request: Vec<u8>) -> Answer {
        send_raw(&self.addr, request, Duration::from_secs(10)).await
    }

    async fn post(&self, path: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Answer {
        from_reqwest(
            self.http
                .post(self.url(path))
                .header("content-type", content_type)
                .body(body.into())
                .send()
                .await,
        )
        .await
    }

    async fn json(&self, path: &str, body: &Value) -> Answer {
        self.post(path, "application/json", body.to_string()).await
    }

    async fn put_json(&self, path: &str, body: &Value) -> Answer {
        from_reqwest(self.http.put(self.url(path)).json(body).send().await).await
    }

    async fn form(&self, path: &str, body: &str) -> Answer {
        self.post(path, "application/x-www-form-urlencoded", body)
            .await
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        from_reqwest(request.send().await).await
    }

    async fn method(&self, method: &str, path: &str) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        from_reqwest(self.http.request(method, self.url(path)).send().await).await
    }

    /// `GET /check` with each value as one `SEEK_CUSTOM_AUTH` header.
    async fn check(&self, values: &[&str]) -> Answer {
        let mut request = self.http.get(self.url("/check"));
        for value in values {
            request = request.header("SEEK_CUSTOM_AUTH", *value);
        }
        from_reqwest(request.send().await).await
    }

    /// Signs up and logs in; returns the session token.
    async fn account(&self, username: &str, extra: Value) -> String {
        let mut body = json!({ "username": username, "password": PASSWORD });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let created = self.json("/users", &body).await.expect("sign-up");
        assert_eq!(created.status, 200, "sign-up: {}", created.summary());
        let login = self
            .http
            .post(self.url("/sessions"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), 200);
        session_cookie(&login).expect("session cookie")
    }

    /// The pre-session cookie and the CSRF token of `GET /signup`.
    async fn signup_form(&self) -> (String, String) {
        let page = self.http.get(self.url("/signup")).send().await.unwrap();
        let nonce = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("authd_csrf="))
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
            .expect("pre-session cookie");
        let html = page.text().await.unwrap();
        (nonce, hidden_csrf_token(&html))
    }

    /// After everything: the server still answers and still works.
    async fn still_serves(&self, username: &str) {
        let health = self.get("/healthz", &[]).await.expect("healthz answers");
        assert_eq!(health.status, 200, "{}", health.summary());
        assert_eq!(json_body(&health).unwrap()["status"], "ok");
        let token = self.account(username, json!({})).await;
        let profile = self
            .get("/profile", &[("cookie", &format!("session_id={token}"))])
            .await
            .unwrap();
        assert_eq!(profile.status, 200, "{}", profile.summary());
        assert_eq!(
            json_body(&profile).unwrap(),
            json!({ "username": username })
        );
        let stderr = self.server.stderr();
        assert!(
            !stderr.contains("panicked"),
            "the server panicked:\n{stderr}"
        );
    }
}

fn hidden_csrf_token(html: &str) -> String {
    let at = html.find("name=\"csrf_token\"").expect("csrf input");
    let value = &html[at..];
    let start = value.find("value=\"").expect("csrf value") + 7;
    let end = value[start..].find('"').expect("end of value");
    value[start..start + end].to_owned()
}

/// Undoes HTML escaping (named and numeric entities).
fn unescape_html(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let Some(semi) = rest[amp..].find(';') else {
            break;
        };
        let entity = &rest[amp + 1..amp + semi];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&rest[amp..=amp + semi]),
        }
        rest = &rest[amp + semi + 1..];
    }
    out.push_str(rest);
    out
}

fn header_value(json: &str) -> String {
    STANDARD.encode(json)
}

// ---- the cases ----------------------------------------------------------------

#[tokio::test]
async fn hostile_inputs_get_the_contracts_4xx_and_the_server_keeps_serving() {
    let t = Target::start();
    let mut cases = Cases::default();
    let victim_token = t
        .account(
            "victim",
            json!({ "full_name": "<script>alert('x')</script> & \"quotes\"" }),
        )
        .await;
    let victim_cookie = format!("session_id={victim_token}");
    t.account("bystander", json!({})).await;

    // -- oversized bodies --------------------------------------------------------
    let padded = |total: usize| {
        let frame = r#"{"username":"big","password":""}"#.len();
        format!(
            r#"{{"username":"big","password":"{}"}}"#,
            "x".repeat(total - frame)
        )
    };
    let over = padded(MAX_BODY + 1);
    assert_eq!(over.len(), MAX_BODY + 1);
    cases.check(
        "body one byte over 16 KiB (JSON)",
        t.post("/users", "application/json", over).await,
        |r| api_error(r, 413, &["payload_too_large"]),
    );
    let exact = padded(MAX_BODY);
    assert_eq!(exact.len(), MAX_BODY);
    cases.check(
        "body of exactly 16 KiB is read (password too long)",
        t.post("/users", "application/json", exact).await,
        |r| api_error(r, 400, &["password_too_long"]),
    );
    cases.check(
        "form body one byte over 16 KiB",
        t.form(
            "/sessions",
            &format!("username=a&password={}", "p".repeat(MAX_BODY + 1 - 20)),
        )
        .await,
        |r| api_error(r, 413, &["payload_too_large"]),
    );
    let ten_mib = vec![b'a'; 10 * 1024 * 1024];
    cases.check(
        "10 MiB body with its Content-Length (raw)",
        t.raw(request(
            "POST",
            b"/users",
            b"Content-Type: application/json\r\n",
            &ten_mib,
        ))
        .await,
        |r| api_error(r, 413, &["payload_too_large"]),
    );
    let mut chunked =
        b"POST /users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..40 {
        chunked.extend_from_slice(format!("{:x}\r\n", 1024).as_bytes());
        chunked.extend_from_slice(&[b'a'; 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    cases.check(
        "40 KiB chunked body without a length (raw)",
        t.raw(chunked).await,
        |r| api_error(r, 413, &["payload_too_large"]),
    );
    let short_length = {
        let body = br#"{"username":"liar","password":"correct horse battery staple 42"}"#;
        let mut out = b"POST /users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n".to_vec();
        out.extend_from_slice(body);
        out
    };
    cases.check(
        "Content-Length shorter than the body: a cut JSON (raw)",
        t.raw(short_length).await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "Content-Length and chunked together (raw)",
        t.raw(b"POST /users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n".to_vec())
            .await,
        // hyper refuses the ambiguous framing itself, before any route.
        |r| match r.status {
            400 => Ok(()),
            _ => Err(format!("expected 400, got {}", r.summary())),
        },
    );
    cases.check(
        "web form body over 16 KiB (POST /signup)",
        t.form("/signup", &"a".repeat(MAX_BODY + 1)).await,
        |r| html_page(r, 413),
    );

    // -- content types -------------------------------------------------------------
    cases.check(
        "no Content-Type on POST /users",
        from_reqwest(
            t.http
                .post(t.url("/users"))
                .body(r#"{"username":"a","password":"b"}"#)
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "no body and no Content-Type on POST /sessions",
        t.method("POST", "/sessions").await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "text/plain",
        t.post("/users", "text/plain", "username=a&password=b")
            .await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "multipart/form-data",
        t.post(
            "/sessions",
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\na\r\n--x--\r\n",
        )
        .await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "application/jsonp (a prefix of a known type)",
        t.post("/users", "application/jsonp", "{}").await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "Content-Type with non-UTF-8 bytes (raw)",
        t.raw(request(
            "POST",
            b"/users",
            b"Content-Type: application/json\xff\xfe\r\n",
            b"{}",
        ))
        .await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "PUT /reset_password with text/xml",
        from_reqwest(
            t.http
                .put(t.url("/reset_password"))
                .header("content-type", "text/xml")
                .body("<reset/>")
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 415, &["unsupported_media_type"]),
    );
    cases.check(
        "POST /login with text/plain",
        t.post("/login", "text/plain", "username=a").await,
        |r| html_page(r, 415),
    );

    // -- broken, overlong and deeply nested JSON ----------------------------------------
    cases.check(
        "truncated JSON",
        t.post("/users", "application/json", r#"{"username": "a", "pass"#)
            .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "empty JSON body",
        t.post("/sessions", "application/json", "").await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON array instead of an object",
        t.post("/users", "application/json", r#"["a", "b"]"#).await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON string instead of an object",
        t.post("/sessions", "application/json", r#""username""#)
            .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON with trailing garbage",
        t.post(
            "/users",
            "application/json",
            r#"{"username":"tg","password":"correct horse battery staple 42"} x"#,
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    let nested = format!(r#"{{"username":{}{}}}"#, "[".repeat(8000), "]".repeat(8000));
    assert!(nested.len() < MAX_BODY);
    cases.check(
        "JSON nested 8000 deep",
        t.post("/users", "application/json", nested).await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    let nested_objects = format!("{}{}", r#"{"a":"#.repeat(2500), "}".repeat(2500));
    cases.check(
        "JSON objects nested 2500 deep",
        t.post("/sessions", "application/json", nested_objects)
            .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON number out of range",
        t.post(
            "/users",
            "application/json",
            r#"{"username":1e99999,"password":"x"}"#,
        )
        .await,
        |r| api_error(r, 400, &["invalid_body", "invalid_field"]),
    );
    cases.check(
        "JSON lone surrogate escape",
        t.post(
            "/users",
            "application/json",
            r#"{"username":"\ud800","password":"correct horse battery staple 42"}"#,
        )
        .await,
        |r| api_error(r, 400, &["invalid_body", "invalid_username"]),
    );
    cases.check(
        "overlong username (15 000 characters)",
        t.json(
            "/users",
            &json!({ "username": "u".repeat(15_000), "password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_username"]),
    );
    cases.check(
        "overlong email (300 characters)",
        t.json(
            "/users",
            &json!({ "email": format!("{}@example.com", "e".repeat(290)), "password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_email"]),
    );
    cases.check(
        "overlong full_name (201 characters)",
        t.json(
            "/users",
            &json!({ "username": "longname", "password": PASSWORD, "full_name": "n".repeat(201) }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
    cases.check(
        "overlong mothers_favorite_search_engine (101 characters)",
        t.json(
            "/users",
            &json!({ "username": "longengine", "password": PASSWORD,
                     "mothers_favorite_search_engine": "s".repeat(101) }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
    cases.check(
        "password of 1025 bytes",
        t.json(
            "/users",
            &json!({ "username": "longpw", "password": "é".repeat(512) + "x" }),
        )
        .await,
        |r| api_error(r, 400, &["password_too_long"]),
    );

    // -- wrong types and JSON null -----------------------------------------------------
    for (name, path, body) in [
        (
            "username is a number",
            "/users",
            json!({ "username": 123, "password": PASSWORD }),
        ),
        (
            "password is JSON null",
            "/users",
            json!({ "username": "nullpw", "password": null }),
        ),
        (
            "password is an array",
            "/users",
            json!({ "username": "arraypw", "password": [PASSWORD] }),
        ),
        (
            "email is an object",
            "/users",
            json!({ "email": { "$ne": "" }, "password": PASSWORD }),
        ),
        (
            "full_name is a boolean",
            "/users",
            json!({ "username": "boolname", "password": PASSWORD, "full_name": true }),
        ),
        (
            "login password is JSON null",
            "/sessions",
            json!({ "username": "victim", "password": null }),
        ),
        (
            "login username is an object (operator injection)",
            "/sessions",
            json!({ "username": { "$gt": "" }, "password": PASSWORD }),
        ),
        (
            "reset request email is null",
            "/reset_password",
            json!({ "email": null }),
        ),
    ] {
        cases.check(name, t.json(path, &body).await, |r| {
            api_error(r, 400, &["invalid_field"])
        });
    }
    cases.check(
        "the string \"null\" is an ordinary (short) password",
        t.json(
            "/users",
            &json!({ "username": "nullstring", "password": "null" }),
        )
        .await,
        |r| api_error(r, 400, &["password_too_short", "password_too_common"]),
    );
    cases.check(
        "reset with new_password null",
        t.put_json(
            "/reset_password",
            &json!({ "username": "victim", "reset_token": "x", "new_password": null }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
    cases.check(
        "sign-up without any field",
        t.json("/users", &json!({})).await,
        |r| api_error(r, 400, &["missing_field"]),
    );
    cases.check(
        "login without an identifier",
        t.json("/sessions", &json!({ "password": PASSWORD })).await,
        |r| api_error(r, 400, &["missing_field"]),
    );
    cases.check(
        "reset without reset_token",
        t.put_json(
            "/reset_password",
            &json!({ "username": "victim", "new_password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["missing_field"]),
    );

    // -- NUL and control characters ------------------------------------------------------
    cases.check(
        "empty password at sign-up",
        t.json("/users", &json!({ "username": "emptypw", "password": "" }))
            .await,
        |r| api_error(r, 400, &["password_empty"]),
    );
    cases.check(
        "password equal to the username",
        t.json(
            "/users",
            &json!({ "username": "same-as-password-1", "password": "same-as-password-1" }),
        )
        .await,
        |r| api_error(r, 400, &["password_matches_identifier"]),
    );
    cases.check(
        "login with empty identifiers (form)",
        t.form("/sessions", "username=&email=&password=x").await,
        |r| api_error(r, 400, &["missing_field"]),
    );
    cases.check(
        "login with an empty password (well-formed, wrong: 401)",
        t.json(
            "/sessions",
            &json!({ "username": "victim", "password": "" }),
        )
        .await,
        |r| api_error(r, 401, &["invalid_credentials"]),
    );
    cases.check(
        "NUL in a username",
        t.json(
            "/users",
            &json!({ "username": "nul\u{0}user", "password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_username"]),
    );
    cases.check(
        "NUL in a password",
        t.json(
            "/users",
            &json!({ "username": "nulpw", "password": "correct horse\u{0}battery staple" }),
        )
        .await,
        |r| api_error(r, 400, &["password_invalid_characters"]),
    );
    cases.check(
        "escape character in a password (form, %1B)",
        t.form(
            "/users",
            "username=escpw&password=correct%20horse%1Bbattery%20staple",
        )
        .await,
        |r| api_error(r, 400, &["password_invalid_characters"]),
    );
    cases.check(
        "bell character in full_name",
        t.json(
            "/users",
            &json!({ "username": "bellname", "password": PASSWORD, "full_name": "ding\u{7}dong" }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
    cases.check(
        "newline in an email",
        t.json(
            "/users",
            &json!({ "email": "a@b.c\r\nBcc: x@y.z", "password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_email"]),
    );
    cases.check(
        "NUL in a login username (well-formed, wrong: 401)",
        t.form("/sessions", "username=victim%00&password=x").await,
        |r| api_error(r, 401, &["invalid_credentials"]),
    );

    // -- bytes that are not UTF-8 ------------------------------------------------------------
    cases.check(
        "form body with %FF",
        t.form("/users", "username=bad%FFname&password=x").await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "form body with a raw 0xFF byte",
        t.post(
            "/sessions",
            "application/x-www-form-urlencoded",
            b"username=victim&password=\xff\xfe".to_vec(),
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON body with a raw 0xC0 byte in a string",
        t.post(
            "/users",
            "application/json",
            b"{\"username\":\"u\xc0\",\"password\":\"x\"}".to_vec(),
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "JSON body declared latin-1, bytes not UTF-8",
        t.post(
            "/users",
            "application/json; charset=iso-8859-1",
            b"{\"username\":\"caf\xe9\",\"password\":\"x\"}".to_vec(),
        )
        .await,
        |r| {
            api_error(r, 400, &["invalid_body", "unsupported_media_type"])
                .or_else(|_| api_error(r, 415, &["unsupported_media_type"]))
        },
    );
    cases.check(
        "session cookie that is not UTF-8 (raw)",
        t.raw(request(
            "GET",
            b"/profile",
            b"Cookie: session_id=\xff\xfe\x80abc\r\n",
            b"",
        ))
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "non-UTF-8 cookie before a valid one (raw)",
        t.raw(request(
            "GET",
            b"/profile",
            &[
                b"Cookie: session_id=\xff\r\nCookie: ".as_slice(),
                victim_cookie.as_bytes(),
                b"\r\n",
            ]
            .concat(),
            b"",
        ))
        .await,
        |r| match r.status {
            200 => json_body(r).map(|_| ()),
            _ => api_error(r, 403, &["not_authenticated"]),
        },
    );
    cases.check(
        "User-Agent that is not UTF-8 on a wrong login (raw)",
        t.raw(request(
            "POST",
            b"/sessions",
            b"User-Agent: \xc3\x28\xa0\xa1\r\nContent-Type: application/x-www-form-urlencoded\r\n",
            b"username=victim&password=wrong-password-here",
        ))
        .await,
        |r| api_error(r, 401, &["invalid_credentials"]),
    );
    cases.check(
        "Accept header that is not UTF-8 on GET / (raw)",
        t.raw(request("GET", b"/", b"Accept: text/\xffhtml\r\n", b""))
            .await,
        |r| {
            if r.status == 200 && json_body(r)? == json!({ "message": "Bienvenue" }) {
                Ok(())
            } else {
                Err(r.summary())
            }
        },
    );
    cases.check(
        "Origin that is not UTF-8 on POST /signup (raw)",
        t.raw(request(
            "POST",
            b"/signup",
            b"Origin: http://\xff.example\r\nContent-Type: application/x-www-form-urlencoded\r\n",
            b"username=x&password=y",
        ))
        .await,
        |r| html_page(r, 403),
    );
    cases.check(
        "path with a raw 0xFF byte (raw)",
        t.raw(request("GET", b"/users\xff", b"", b"")).await,
        // Either hyper refuses the request line (400) or the path is unknown (404).
        |r| match r.status {
            400 if r.body.is_empty() => Ok(()),
            _ => api_error(r, 404, &["not_found"]),
        },
    );

    // -- duplicates -------------------------------------------------------------------------
    cases.check(
        "two bogus session cookies",
        t.get("/profile", &[("cookie", "session_id=aaa; session_id=bbb")])
            .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "a valid session cookie and a bogus duplicate (counts as none)",
        t.get(
            "/profile",
            &[("cookie", &format!("{victim_cookie}; session_id=bogus"))],
        )
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "duplicate password in a sign-up form",
        t.form(
            "/users",
            "username=dup&password=correct+horse+battery+staple+42&password=other+password+entirely",
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "duplicate username in a login form",
        t.form(
            "/sessions",
            "username=victim&username=admin&password=correct+horse+battery+staple+42",
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    {
        let (nonce, token) = t.signup_form().await;
        cases.check(
            "duplicate csrf_token in the sign-up form",
            from_reqwest(
                t.http
                    .post(t.url("/signup"))
                    .header("cookie", format!("authd_csrf={nonce}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!(
                        "csrf_token={token}&csrf_token=forged&username=dupcsrf&password=correct+horse+battery+staple+42"
                    ))
                    .send()
                    .await,
            )
            .await,
            |r| html_page(r, 400),
        );
    }

    // -- huge headers -------------------------------------------------------------------------
    cases.check(
        "64 KiB cookie header (raw)",
        t.raw(request(
            "GET",
            b"/profile",
            format!("Cookie: session_id={}\r\n", "c".repeat(64 * 1024)).as_bytes(),
            b"",
        ))
        .await,
        |r| match r.status {
            431 => Ok(()),
            _ => api_error(r, 403, &["not_authenticated"]),
        },
    );
    cases.check(
        "1 MiB of headers, keep-alive: 431 and the connection closed (raw)",
        send_raw_expect_close(
            &t.addr,
            format!(
                "GET /profile HTTP/1.1\r\nHost: localhost\r\nX-Padding: {}\r\n\r\n",
                "p".repeat(1024 * 1024)
            )
            .into_bytes(),
        )
        .await,
        |r| match r.status {
            431 => Ok(()),
            _ => Err(format!("expected 431, got {}", r.summary())),
        },
    );
    cases.check(
        "200 header lines, keep-alive (raw)",
        send_raw_expect_close(
            &t.addr,
            format!(
                "GET /profile HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
                (0..200)
                    .map(|i| format!("X-H{i}: v\r\n"))
                    .collect::<String>()
            )
            .into_bytes(),
        )
        .await,
        |r| match r.status {
            431 => Ok(()),
            _ => api_error(r, 403, &["not_authenticated"]),
        },
    );
    cases.check(
        "10 000 cookies in one header",
        t.get(
            "/profile",
            &[(
                "cookie",
                &(0..10_000).map(|i| format!("c{i}=v; ")).collect::<String>(),
            )],
        )
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    let long_credentials = header_value(&format!(
        r#"{{"username":"victim","password":"{}","machine_id":"{MACHINE}"}}"#,
        "p".repeat(12_000)
    ));
    cases.check(
        "SEEK_CUSTOM_AUTH of 16 KiB",
        t.check(&[&long_credentials]).await,
        |r| {
            check_failed(r, 401, "invalid_credentials")
                .or_else(|_| check_failed(r, 400, "malformed_credentials"))
        },
    );

    // -- path tricks ----------------------------------------------------------------------------
    cases.check(
        "/users/../profile (raw, not normalised)",
        t.raw(request("GET", b"/users/../profile", b"", b"")).await,
        |r| {
            api_error(r, 404, &["not_found"]).or_else(|_| api_error(r, 403, &["not_authenticated"]))
        },
    );
    cases.check(
        "//users (raw)",
        t.raw(request(
            "POST",
            b"//users",
            b"Content-Type: application/json\r\n",
            b"{}",
        ))
        .await,
        |r| api_error(r, 404, &["not_found"]).or_else(|_| api_error(r, 400, &["missing_field"])),
    );
    cases.check(
        "/users%2F",
        t.raw(request(
            "POST",
            b"/users%2F",
            b"Content-Type: application/json\r\n",
            b"{}",
        ))
        .await,
        |r| api_error(r, 404, &["not_found"]),
    );
    cases.check(
        "/%00",
        t.raw(request("GET", b"/%00", b"", b"")).await,
        |r| api_error(r, 404, &["not_found"]),
    );
    cases.check(
        "/profile%00 (raw)",
        t.raw(request("GET", b"/profile%00", b"", b"")).await,
        |r| api_error(r, 404, &["not_found"]),
    );
    cases.check(
        "path of 8 000 characters",
        t.get(&format!("/{}", "a/".repeat(4000)), &[]).await,
        |r| {
            api_error(r, 404, &["not_found"]).or_else(|_| match r.status {
                414 | 431 => Ok(()),
                _ => Err(r.summary()),
            })
        },
    );
    cases.check(
        "path of 60 000 characters (raw)",
        t.raw(request(
            "GET",
            format!("/{}", "b".repeat(60_000)).as_bytes(),
            b"",
            b"",
        ))
        .await,
        |r| {
            api_error(r, 404, &["not_found"]).or_else(|_| match r.status {
                414 | 431 => Ok(()),
                _ => Err(r.summary()),
            })
        },
    );
    cases.check(
        "absolute-form target naming another host (raw)",
        t.raw(request("GET", b"http://evil.example/profile", b"", b""))
            .await,
        |r| {
            api_error(r, 403, &["not_authenticated"])
                .or_else(|_| api_error(r, 404, &["not_found"]))
                .or_else(|_| match r.status {
                    400 if r.body.is_empty() => Ok(()),
                    _ => Err(r.summary()),
                })
        },
    );
    cases.check(
        "DELETE /sessions/' OR 1=1 -- (encoded)",
        from_reqwest(
            t.http
                .delete(t.url("/sessions/'%20OR%201=1%20--"))
                .header("cookie", &victim_cookie)
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 404, &["not_found"]),
    );
    cases.check(
        "DELETE /sessions/%00 with a session",
        from_reqwest(
            t.http
                .delete(t.url("/sessions/%00"))
                .header("cookie", &victim_cookie)
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 404, &["not_found"]),
    );

    // -- wrong methods ---------------------------------------------------------------------------
    for (method, path, allow) in [
        ("GET", "/users", "POST"),
        ("PUT", "/sessions", "GET, POST, DELETE"),
        ("DELETE", "/profile", "GET"),
        ("PATCH", "/reset_password", "POST, PUT"),
        ("GET", "/password", "POST"),
        ("POST", "/healthz", "GET"),
        ("PUT", "/me", "GET"),
        ("DELETE", "/signup", "GET, POST"),
        ("GET", "/sessions/some-id", "DELETE"),
        ("PUT", "/users/", "POST"),
    ] {
        cases.check(
            &format!("{method} {path}"),
            t.method(method, path).await,
            |r| not_allowed(r, allow),
        );
    }
    for method in ["PUT", "DELETE"] {
        cases.check(
            &format!("{method} /check: 405 in /check's own shape"),
            t.method(method, "/check").await,
            |r| {
                check_failed(r, 405, "method_not_allowed")?;
                match r.header("allow") {
                    Some(a) if a == "GET, POST" => Ok(()),
                    other => Err(format!("Allow {other:?}")),
                }
            },
        );
    }
    cases.check(
        "a made-up method BREW /users (raw)",
        t.raw(request("BREW", b"/users", b"", b"")).await,
        |r| not_allowed(r, "POST"),
    );

    // -- SQL- and HTML-looking values -----------------------------------------------------------
    cases.check(
        "sign-up as ' OR 1=1 --",
        t.json(
            "/users",
            &json!({ "username": "' OR 1=1 --", "password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_username"]),
    );
    cases.check(
        "login as ' OR 1=1 --",
        t.json(
            "/sessions",
            &json!({ "username": "' OR 1=1 --", "password": "' OR 1=1 --" }),
        )
        .await,
        |r| {
            api_error(r, 400, &["invalid_username"])
                .or_else(|_| api_error(r, 401, &["invalid_credentials"]))
        },
    );
    cases.check(
        "login by email victim' --",
        t.form("/sessions", "email=victim'%20--&password=x").await,
        |r| api_error(r, 401, &["invalid_credentials"]),
    );
    cases.check(
        "reset request for '; DROP TABLE users; --",
        t.json(
            "/reset_password",
            &json!({ "email": "'; DROP TABLE users; --" }),
        )
        .await,
        |r| api_error(r, 403, &["not_found"]),
    );
    cases.check(
        "reset with the token ' OR '1'='1",
        t.put_json(
            "/reset_password",
            &json!({ "username": "victim", "reset_token": "' OR '1'='1", "new_password": PASSWORD }),
        )
        .await,
        |r| api_error(r, 403, &["invalid_reset_token"]),
    );
    {
        let name = "<script>alert('x')</script> & \"quotes\"";
        let profile = t.get("/profile", &[("cookie", &victim_cookie)]).await;
        cases.check(
            "<script> in full_name: stored, JSON verbatim",
            profile,
            |r| {
                if r.status == 200 && json_body(r)?["full_name"] == name {
                    Ok(())
                } else {
                    Err(r.summary())
                }
            },
        );
        let me = t.get("/me", &[("cookie", &victim_cookie)]).await;
        cases.check("<script> in full_name: escaped on /me", me, |r| {
            let html = r.text();
            let shown = html
                .split("<dd id=\"full_name\">")
                .nth(1)
                .and_then(|rest| rest.split("</dd>").next())
                .unwrap_or_default();
            if r.status == 200
                && !html.contains("<script>")
                && !shown.contains(['<', '>', '"', '\''])
                && unescape_html(shown) == name
            {
                Ok(())
            } else {
                Err(format!("not shown escaped: {} {shown:?}", r.status))
            }
        });
        let (nonce, token) = t.signup_form().await;
        let form = format!(
            "csrf_token={token}&username=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E&password=short&full_name=%3C%2Ftextarea%3E%3Cscript%3Ealert(2)%3C%2Fscript%3E"
        );
        let page = from_reqwest(
            t.http
                .post(t.url("/signup"))
                .header("cookie", format!("authd_csrf={nonce}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await,
        )
        .await;
        cases.check(
            "<script> in typed sign-up fields: escaped in the form again",
            page,
            |r| {
                html_page(r, 400)?;
                if r.text().contains("<script>") {
                    Err(format!("not escaped: {}", r.summary()))
                } else {
                    Ok(())
                }
            },
        );
    }

    // -- the website's guards -------------------------------------------------------------------
    cases.check(
        "POST /signup without a CSRF token or cookie",
        t.form(
            "/signup",
            "username=nocsrf&password=correct+horse+battery+staple+42",
        )
        .await,
        |r| html_page(r, 403),
    );
    cases.check(
        "POST /login with a forged CSRF token",
        from_reqwest(
            t.http
                .post(t.url("/login"))
                .header("cookie", format!("authd_csrf={}", "n".repeat(43)))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("csrf_token=forged&username=victim&password=correct+horse+battery+staple+42")
                .send()
                .await,
        )
        .await,
        |r| html_page(r, 403),
    );
    {
        let (nonce, token) = t.signup_form().await;
        cases.check(
            "POST /signup from another Origin",
            from_reqwest(
                t.http
                    .post(t.url("/signup"))
                    .header("cookie", format!("authd_csrf={nonce}"))
                    .header("origin", "https://evil.example")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!(
                        "csrf_token={token}&username=crosssite&password=correct+horse+battery+staple+42"
                    ))
                    .send()
                    .await,
            )
            .await,
            |r| html_page(r, 403),
        );
        cases.check(
            "POST /login with a Host that is not UTF-8 and an Origin (raw)",
            t.raw(
                b"POST /login HTTP/1.1\r\nHost: \xff\xfe\r\nConnection: close\r\nOrigin: http://localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b"
                    .to_vec(),
            )
            .await,
            |r| html_page(r, 403).or_else(|_| match r.status {
                400 if r.body.is_empty() => Ok(()),
                _ => Err(r.summary()),
            }),
        );
        cases.check(
            "DELETE /sessions with a forged cookie",
            from_reqwest(
                t.http
                    .delete(t.url("/sessions"))
                    .header("cookie", "session_id=' OR 1=1 --")
                    .send()
                    .await,
            )
            .await,
            |r| api_error(r, 403, &["not_authenticated"]),
        );
        cases.check(
            "POST /login with a form that is not UTF-8",
            from_reqwest(
                t.http
                    .post(t.url("/login"))
                    .header("cookie", format!("authd_csrf={nonce}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!(
                        "csrf_token={token}&username=victim&password=%FF%FE"
                    ))
                    .send()
                    .await,
            )
            .await,
            |r| html_page(r, 400),
        );
    }
    cases.check(
        "GET /me with a forged session cookie",
        t.get("/me", &[("cookie", "session_id=forged")]).await,
        |r| redirect_to(r, 303, "/login"),
    );
    cases.check(
        "POST /logout without a session",
        t.form("/logout", "csrf_token=x").await,
        |r| redirect_to(r, 303, "/login"),
    );

    // -- authenticated JSON routes with bad input --------------------------------------------------
    cases.check(
        "POST /password without a session",
        t.json(
            "/password",
            &json!({ "current_password": PASSWORD, "new_password": "another long password 1" }),
        )
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "POST /password with broken JSON",
        from_reqwest(
            t.http
                .post(t.url("/password"))
                .header("cookie", &victim_cookie)
                .header("content-type", "application/json")
                .body("{\"current_password\":")
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 400, &["invalid_body"]),
    );
    cases.check(
        "POST /password with new_password a number",
        from_reqwest(
            t.http
                .post(t.url("/password"))
                .header("cookie", &victim_cookie)
                .json(&json!({ "current_password": PASSWORD, "new_password": 12345 }))
                .send()
                .await,
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );

    // -- SEEK_CUSTOM_AUTH -----------------------------------------------------------------------
    let good =
        format!(r#"{{"username":"victim","password":"{PASSWORD}","machine_id":"{MACHINE}"}}"#);
    cases.check("SEEK_CUSTOM_AUTH missing", t.check(&[]).await, |r| {
        check_failed(r, 401, "missing_credentials")
    });
    cases.check(
        "SEEK_CUSTOM_AUTH missing on POST /check",
        t.method("POST", "/check").await,
        |r| check_failed(r, 401, "missing_credentials"),
    );
    let malformed: Vec<(&str, String)> = vec![
        ("SEEK_CUSTOM_AUTH empty", String::new()),
        ("SEEK_CUSTOM_AUTH only spaces", "   ".into()),
        ("SEEK_CUSTOM_AUTH not base64", "not base64 at all!".into()),
        (
            "SEEK_CUSTOM_AUTH base64 with a bad tail",
            "eyJ1c2VybmFtZSI6*".into(),
        ),
        ("SEEK_CUSTOM_AUTH not JSON", header_value("username=victim")),
        (
            "SEEK_CUSTOM_AUTH bytes not UTF-8",
            STANDARD.encode([0xff, 0xfe, b'{', b'}']),
        ),
        (
            "SEEK_CUSTOM_AUTH a JSON array",
            header_value(r#"["victim","pw","m"]"#),
        ),
        (
            "SEEK_CUSTOM_AUTH member missing",
            header_value(&format!(
                r#"{{"username":"victim","machine_id":"{MACHINE}"}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH extra member",
            header_value(&format!(
                r#"{{"username":"victim","password":"{PASSWORD}","machine_id":"{MACHINE}","admin":true}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH password not a string",
            header_value(&format!(
                r#"{{"username":"victim","password":12345,"machine_id":"{MACHINE}"}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH username null",
            header_value(&format!(
                r#"{{"username":null,"password":"{PASSWORD}","machine_id":"{MACHINE}"}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH machine_id too short",
            header_value(&format!(
                r#"{{"username":"victim","password":"{PASSWORD}","machine_id":"short"}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH machine_id with ../",
            header_value(&format!(
                r#"{{"username":"victim","password":"{PASSWORD}","machine_id":"../../etc/passwd/x"}}"#
            )),
        ),
        (
            "SEEK_CUSTOM_AUTH machine_id 129 characters",
            header_value(&format!(
                r#"{{"username":"victim","password":"{PASSWORD}","machine_id":"{}"}}"#,
                "m".repeat(129)
            )),
        ),
    ];
    for (name, value) in &malformed {
        cases.check(name, t.check(&[value]).await, |r| {
            check_failed(r, 400, "malformed_credentials")
        });
    }
    cases.check(
        "SEEK_CUSTOM_AUTH repeated",
        t.check(&[&header_value(&good), &header_value(&good)]).await,
        |r| check_failed(r, 400, "malformed_credentials"),
    );
    cases.check(
        "SEEK_CUSTOM_AUTH with non-ASCII bytes (raw)",
        t.raw(request(
            "GET",
            b"/check",
            b"SEEK_CUSTOM_AUTH: eyJ1c2Vy\xc3\xa9\xff\xfe\r\n",
            b"",
        ))
        .await,
        |r| check_failed(r, 400, "malformed_credentials"),
    );
    cases.check(
        "Seek-Custom-Auth (hyphens) is not the header",
        from_reqwest(
            t.http
                .get(t.url("/check"))
                .header("Seek-Custom-Auth", header_value(&good))
                .send()
                .await,
        )
        .await,
        |r| check_failed(r, 401, "missing_credentials"),
    );
    cases.check(
        "SEEK_CUSTOM_AUTH base64 with stray padding",
        t.check(&["eyJ1c2VybmFtZSI6InZpY3RpbSJ9===="]).await,
        |r| check_failed(r, 400, "malformed_credentials"),
    );
    cases.check(
        "SEEK_CUSTOM_AUTH wrong password",
        t.check(&[&header_value(&format!(
            r#"{{"username":"victim","password":"' OR 1=1 --","machine_id":"{MACHINE}"}}"#
        ))])
        .await,
        |r| check_failed(r, 401, "invalid_credentials"),
    );

    // -- a reset with a bad new password: 400, and the token still works ----------------------
    let asked = t
        .json("/reset_password", &json!({ "username": "victim" }))
        .await;
    assert_eq!(
        asked.as_ref().map(|r| r.status).ok(),
        Some(200),
        "{asked:?}"
    );
    let reset_token = t
        .server
        .stderr_once_it_holds("password reset token for victim: ")
        .await
        .lines()
        .find_map(|l| l.strip_prefix("password reset token for victim: "))
        .expect("the reset token line")
        .trim()
        .to_owned();
    cases.check(
        "reset with a NUL in new_password",
        t.put_json(
            "/reset_password",
            &json!({ "username": "victim", "reset_token": reset_token,
                     "new_password": "new long\u{0}password here" }),
        )
        .await,
        |r| api_error(r, 400, &["password_invalid_characters"]),
    );
    cases.check(
        "reset with new_password a number",
        t.put_json(
            "/reset_password",
            &json!({ "username": "victim", "reset_token": reset_token, "new_password": 7 }),
        )
        .await,
        |r| api_error(r, 400, &["invalid_field"]),
    );
    cases.check(
        "the reset token of victim used for another account",
        t.put_json(
            "/reset_password",
            &json!({ "username": "bystander", "reset_token": reset_token,
                     "new_password": "a perfectly fine new password" }),
        )
        .await,
        |r| api_error(r, 403, &["invalid_reset_token"]),
    );
    let reset = t
        .put_json(
            "/reset_password",
            &json!({ "username": "victim", "reset_token": reset_token,
                     "new_password": "a perfectly fine new password" }),
        )
        .await
        .expect("reset answers");
    assert_eq!(
        reset.status,
        200,
        "the token survived the bad attempts: {}",
        reset.summary()
    );

    cases.finish("hostile inputs", 40);
    t.still_serves("survivor").await;
}

/// A Content-Length far over the limit with only a little of the body sent:
/// the declared size alone says the body is over 16 KiB, so the contract's
/// 413 should come without waiting for bytes that will never arrive.
#[tokio::test]
async fn a_lying_content_length_over_the_limit_gets_413_without_waiting() {
    let t = Target::start();
    let mut cases = Cases::default();
    let mut lying = b"POST /users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n".to_vec();
    lying.extend_from_slice(br#"{"username":"liar","password":"#);
    cases.check(
        "Content-Length 10 MiB, 30 bytes sent, connection held open (raw)",
        send_raw(&t.addr, lying, Duration::from_secs(3)).await,
        |r| api_error(r, 413, &["payload_too_large"]),
    );
    cases.finish("lying Content-Length", 1);
    t.still_serves("after_liar").await;
}

/// docs/contract/3-json-api.md "Cross-site requests" and "Ambiguous requests" over a real
/// socket, with what `warp::test` cannot send: a cross-site form post to
/// `POST /sessions` (what a foreign page makes a browser send) gets 403 and
/// no cookie; two `Cookie` headers (as HTTP/2 sends them) with different
/// sessions count as none; two `Host` headers name no host to be the origin.
#[tokio::test]
async fn cross_site_and_ambiguous_requests_are_refused_over_a_socket() {
    let t = Target::start();
    let mut cases = Cases::default();
    let victim = t.account("victim", json!({})).await;
    let other = t.account("other", json!({})).await;
    let login = format!("username=victim&password={}", PASSWORD.replace(' ', "+"));
    let form_post = |origin_lines: &str| {
        request(
            "POST",
            b"/sessions",
            format!("{origin_lines}Content-Type: application/x-www-form-urlencoded\r\n").as_bytes(),
            login.as_bytes(),
        )
    };
    let no_cookie = |r: &Resp| match r.header("set-cookie") {
        None => Ok(()),
        Some(c) => Err(format!("a Set-Cookie on a refused login: {c}")),
    };
    for origin in [
        "https://evil.example",
        "null",
        "http://localhost:8080",
        "http://localhost.evil.example",
    ] {
        cases.check(
            &format!("cross-site form post to POST /sessions from {origin} (raw)"),
            t.raw(form_post(&format!("Origin: {origin}\r\n"))).await,
            |r| {
                api_error(r, 403, &["cross_origin"])?;
                no_cookie(r)
            },
        );
    }
    cases.check(
        "two Origin headers, one of them this site (raw)",
        t.raw(form_post(
            "Origin: http://localhost\r\nOrigin: https://evil.example\r\n",
        ))
        .await,
        |r| {
            api_error(r, 403, &["cross_origin"])?;
            no_cookie(r)
        },
    );
    // The request() helper sends `Host: localhost`; a second Host leaves no
    // host to compare the Origin with.
    let mut two_hosts = form_post("Host: evil.example\r\nOrigin: http://evil.example\r\n");
    let at = two_hosts
        .windows(17)
        .position(|w| w == b"Host: localhost\r\n")
        .expect("the Host line");
    two_hosts.splice(at..at, b"Host: evil.example\r\n".iter().copied());
    cases.check(
        "two Host headers and an Origin naming one of them (raw)",
        t.raw(two_hosts).await,
        |r| {
            if r.status != 400 {
                api_error(r, 403, &["cross_origin"])?;
            }
            no_cookie(r)
        },
    );
    cases.check(
        "same-origin form post to POST /sessions (raw)",
        t.raw(form_post("Origin: http://localhost\r\n")).await,
        |r| match (r.status, r.header("set-cookie")) {
            (200, Some(c)) if c.starts_with("session_id=") => Ok(()),
            _ => Err(format!("expected a login, got {}", r.summary())),
        },
    );
    cases.check(
        "a form post to POST /sessions without Origin (raw)",
        t.raw(form_post("")).await,
        |r| match r.status {
            200 => Ok(()),
            _ => Err(format!("expected a login, got {}", r.summary())),
        },
    );

    let profile = |cookie_lines: &str| request("GET", b"/profile", cookie_lines.as_bytes(), b"");
    cases.check(
        "two Cookie headers with two users' sessions: GET /profile (raw)",
        t.raw(profile(&format!(
            "Cookie: session_id={victim}\r\nCookie: session_id={other}\r\n"
        )))
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "one Cookie header with two users' sessions: GET /profile (raw)",
        t.raw(profile(&format!(
            "Cookie: session_id={other}; session_id={victim}\r\n"
        )))
        .await,
        |r| api_error(r, 403, &["not_authenticated"]),
    );
    cases.check(
        "two Cookie headers with one session twice: GET /profile (raw)",
        t.raw(profile(&format!(
            "Cookie: session_id={victim}\r\nCookie: a=1; session_id={victim}\r\n"
        )))
        .await,
        |r| match json_body(r) {
            Ok(body) if r.status == 200 && body == json!({"username": "victim"}) => Ok(()),
            _ => Err(format!("expected victim's profile, got {}", r.summary())),
        },
    );
    cases.check(
        "two Cookie headers with two sessions: GET /me (raw)",
        t.raw(request(
            "GET",
            b"/me",
            format!("Accept: text/html\r\nCookie: session_id={victim}\r\nCookie: session_id={other}\r\n")
                .as_bytes(),
            b"",
        ))
        .await,
        |r| redirect_to(r, 303, "/login"),
    );
    cases.check(
        "duplicate JSON member through \\u escapes in POST /sessions (raw)",
        t.raw(request(
            "POST",
            b"/sessions",
            b"Content-Type: application/json\r\n",
            format!(
                r#"{{"username": "other", "user\u006eame": "victim", "password": "{PASSWORD}"}}"#
            )
            .as_bytes(),
        ))
        .await,
        |r| {
            api_error(r, 400, &["invalid_body"])?;
            no_cookie(r)
        },
    );
    cases.finish("cross-site and ambiguous requests", 12);
    t.still_serves("after_cross_site").await;
}

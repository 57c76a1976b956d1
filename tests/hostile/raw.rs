//! Responses, from reqwest or read off a raw socket, and requests written by
//! hand on a `TcpStream`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response, from reqwest or read off a raw socket.
#[derive(Debug)]
pub(super) struct Resp {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) body: Vec<u8>,
}

impl Resp {
    pub(super) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(super) fn summary(&self) -> String {
        let mut text = self.text();
        text.truncate(300);
        format!(
            "{} content-type={:?} body={text:?}",
            self.status,
            self.header("content-type")
        )
    }
}

pub(super) type Answer = Result<Resp, String>;

pub(super) async fn from_reqwest(result: reqwest::Result<reqwest::Response>) -> Answer {
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
pub(super) fn parse_response(buf: &[u8], eof: bool) -> Option<Result<Resp, String>> {
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

pub(super) fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
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

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `request` as is and reads one response, writing and reading at once
/// so that an early answer (413, 431) is seen even while the body still goes
/// out. The write side stays open until the answer is read.
pub(super) async fn send_raw(addr: &str, request: Vec<u8>, wait: Duration) -> Answer {
    exchange(addr, request, wait, false).await
}

/// Like [`send_raw`], and then the server must close the connection cleanly
/// (EOF or reset, no further bytes) within 3 seconds.
pub(super) async fn send_raw_expect_close(addr: &str, request: Vec<u8>) -> Answer {
    exchange(addr, request, Duration::from_secs(10), true).await
}

pub(super) async fn exchange(
    addr: &str,
    request: Vec<u8>,
    wait: Duration,
    expect_close: bool,
) -> Answer {
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
pub(super) fn request(method: &str, target: &[u8], extra: &[u8], body: &[u8]) -> Vec<u8> {
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

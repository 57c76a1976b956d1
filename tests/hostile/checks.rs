//! What each case must get, and the table of cases.

use std::io::Write as _;

use serde_json::Value;

use super::*;

pub(super) type Check = Result<(), String>;

pub(super) fn json_body(r: &Resp) -> Result<Value, String> {
    let content_type = r.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(format!("not application/json: {}", r.summary()));
    }
    serde_json::from_slice(&r.body).map_err(|e| format!("body is not JSON ({e}): {}", r.summary()))
}

/// The JSON API's error: this status, `{"error": one of codes, "message": text}`.
pub(super) fn api_error(r: &Resp, status: u16, codes: &[&str]) -> Check {
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
pub(super) fn not_allowed(r: &Resp, allow: &str) -> Check {
    api_error(r, 405, &["method_not_allowed"])?;
    match r.header("allow") {
        Some(a) if a == allow => Ok(()),
        other => Err(format!("Allow {other:?}, expected {allow:?}")),
    }
}

/// `/check`'s failure: `{"status": "FAILED", "error": code, "message": text}`.
pub(super) fn check_failed(r: &Resp, status: u16, code: &str) -> Check {
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
pub(super) fn html_page(r: &Resp, status: u16) -> Check {
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

pub(super) fn redirect_to(r: &Resp, status: u16, location: &str) -> Check {
    match (r.status, r.header("location")) {
        (s, Some(l)) if s == status && l == location => Ok(()),
        _ => Err(format!("expected {status} to {location}, got {r:?}")),
    }
}

/// Every case's name and status, and what went wrong with it.
#[derive(Default)]
pub(super) struct Cases {
    pub(super) rows: Vec<(String, u16, Option<String>)>,
}

impl Cases {
    pub(super) fn check(&mut self, name: &str, answer: Answer, check: impl FnOnce(&Resp) -> Check) {
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
    pub(super) fn finish(self, title: &str, minimum: usize) {
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

//! Breached passwords (docs/contract/10-email.md): `--breached-passwords`
//! `off`, `range:URL` (the k-anonymity range protocol of Have I Been Pwned:
//! only the first 5 hex characters of the password's SHA-1 leave the server)
//! or `file:PATH` (a sorted file of SHA-1 hashes, searched on disk).
//!
//! A leaf module: it knows hashes and files, nothing of accounts.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use sha1::{Digest, Sha1};

/// How long a range request may take, connection included.
pub const RANGE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where breached passwords are looked up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BreachedPasswords {
    /// Not at all.
    #[default]
    Off,
    /// `GET <url>/<first 5 hex characters of the SHA-1>`, with `Add-Padding: true`.
    Range(String),
    /// A local file of upper- or lower-case hex SHA-1 hashes, one a line,
    /// sorted, each optionally followed by `:count`.
    File(PathBuf),
}

impl BreachedPasswords {
    /// Reads the option's text: `off`, `range:URL` (http or https) or `file:PATH`.
    pub fn parse(text: &str) -> Result<BreachedPasswords, String> {
        if text == "off" {
            return Ok(BreachedPasswords::Off);
        }
        if let Some(url) = text.strip_prefix("range:") {
            let url = url.trim_end_matches('/');
            let parsed = url::Url::parse(url).map_err(|e| format!("range URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err("range URL must be http:// or https:// and name a host".into());
            }
            return Ok(BreachedPasswords::Range(url.to_owned()));
        }
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err("file: needs a path".into());
            }
            return Ok(BreachedPasswords::File(PathBuf::from(path)));
        }
        Err("expected off, range:URL or file:PATH".into())
    }

    /// Whether the password is known from a breach. A lookup that fails
    /// (time-out, unreadable file, a bad answer) says no and logs a warning:
    /// the password is then judged by the other rules alone.
    pub(crate) async fn is_breached(&self, password: &str) -> bool {
        let digest = hex::encode_upper(Sha1::digest(password.as_bytes()));
        let outcome = match self {
            BreachedPasswords::Off => return false,
            BreachedPasswords::Range(url) => range_lookup(url, &digest).await,
            BreachedPasswords::File(path) => {
                let path = path.clone();
                match tokio::task::spawn_blocking(move || file_contains(&path, &digest)).await {
                    Ok(found) => found.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        outcome.unwrap_or_else(|error| {
            tracing::warn!(%error, "breached-password lookup failed; the password is judged by the other rules");
            false
        })
    }
}

fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(RANGE_TIMEOUT)
                .connect_timeout(RANGE_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Asks the range server for the hashes that share the digest's first 5
/// characters; lines with a count of 0 are padding.
async fn range_lookup(url: &str, digest: &str) -> Result<bool, String> {
    let (prefix, suffix) = digest.split_at(5);
    let request = client()?
        .get(format!("{url}/{prefix}"))
        .header("Add-Padding", "true")
        .send();
    let body = tokio::time::timeout(RANGE_TIMEOUT, async {
        let response = request.await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("range server answered {}", response.status()));
        }
        response.text().await.map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| format!("no answer within {} s", RANGE_TIMEOUT.as_secs()))??;
    Ok(body.lines().any(|line| {
        let (hash, count) = line.trim().split_once(':').unwrap_or((line.trim(), "1"));
        hash.eq_ignore_ascii_case(suffix) && count.trim().parse::<u64>().is_ok_and(|c| c > 0)
    }))
}

/// Binary search of a sorted hash file by seeking: a few reads of one line
/// each, whatever the file's size; nothing is loaded into memory.
pub(crate) fn file_contains(path: &Path, digest: &str) -> std::io::Result<bool> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(256, file);
    let mut line = Vec::with_capacity(64);
    // Every line that starts in [lo, hi) is still a candidate; lo starts a line.
    let (mut lo, mut hi) = (0u64, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        // The first line that starts at or after mid.
        let start = if mid == lo {
            lo
        } else {
            reader.seek(SeekFrom::Start(mid - 1))?;
            line.clear();
            mid - 1 + reader.read_until(b'\n', &mut line)? as u64
        };
        if start >= hi {
            hi = mid;
            continue;
        }
        reader.seek(SeekFrom::Start(start))?;
        line.clear();
        let read = reader.read_until(b'\n', &mut line)? as u64;
        let text = String::from_utf8_lossy(&line);
        let (hash, count) = text.trim().split_once(':').unwrap_or((text.trim(), "1"));
        let hash = hash.to_ascii_uppercase();
        match hash.as_str().cmp(digest) {
            std::cmp::Ordering::Equal => {
                return Ok(count.trim().parse::<u64>().map_or(true, |c| c > 0));
            }
            std::cmp::Ordering::Less => lo = start + read.max(1),
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn sha1_hex(text: &str) -> String {
        hex::encode_upper(Sha1::digest(text.as_bytes()))
    }

    #[test]
    fn the_option_reads_three_forms() {
        assert_eq!(BreachedPasswords::parse("off"), Ok(BreachedPasswords::Off));
        assert_eq!(
            BreachedPasswords::parse("range:https://api.pwnedpasswords.com/range/"),
            Ok(BreachedPasswords::Range(
                "https://api.pwnedpasswords.com/range".into()
            ))
        );
        assert_eq!(
            BreachedPasswords::parse("file:/x/hashes.txt"),
            Ok(BreachedPasswords::File("/x/hashes.txt".into()))
        );
        for bad in ["", "on", "range:", "range:ftp://x", "file:"] {
            assert!(BreachedPasswords::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_sorted_file_is_searched_for_every_line_and_nothing_else() {
        let mut hashes: Vec<String> = (0..3000).map(|i| sha1_hex(&format!("p{i}"))).collect();
        hashes.sort();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hashes.txt");
        let mut file = File::create(&path).unwrap();
        for (i, hash) in hashes.iter().enumerate() {
            // Some lines with a count, some without, CRLF on a few.
            match i % 3 {
                0 => writeln!(file, "{hash}:{}", i + 1).unwrap(),
                1 => write!(file, "{hash}\r\n").unwrap(),
                _ => writeln!(file, "{}", hash.to_lowercase()).unwrap(),
            }
        }
        drop(file);
        for i in 0..3000 {
            assert!(
                file_contains(&path, &sha1_hex(&format!("p{i}"))).unwrap(),
                "p{i}"
            );
        }
        for i in 3000..4000 {
            assert!(
                !file_contains(&path, &sha1_hex(&format!("p{i}"))).unwrap(),
                "p{i}"
            );
        }
        assert!(!file_contains(&path, &"0".repeat(40)).unwrap());
        assert!(!file_contains(&path, &"F".repeat(40)).unwrap());
        let empty = dir.path().join("empty.txt");
        File::create(&empty).unwrap();
        assert!(!file_contains(&empty, &sha1_hex("x")).unwrap());
    }
}

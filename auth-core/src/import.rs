//! Bulk sign-up from the seed-data format (`authd import FILE.csv`): rows of
//! `username,Full Name,password,Mother's favorite search engine`, each judged
//! by exactly the rules of [`Auth::register_user`], hashed on every core.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::{self, StreamExt};

use crate::account::{ClientInfo, Registration, User};
use crate::error::AuthError;
use crate::secret::Password;
use crate::service::Auth;

/// Fields in one row of the import format.
pub const IMPORT_FIELDS: usize = 4;

/// Offsets of every `\n` in `bytes`.
fn newline_offsets(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| (b == b'\n').then_some(i))
}

/// The code of a line that is not a row of four fields.
pub const MALFORMED_ROW: &str = "malformed_row";

/// The code of a row left alone because the database failed on an earlier one.
pub const NOT_ATTEMPTED: &str = "not_attempted";

/// One line of an import file, as read.
#[derive(Clone, Debug)]
pub struct ImportRow {
    /// Line number in the file (1-based) where the row starts.
    pub line: u64,
    /// The four fields, or why the line is not a row.
    pub parsed: Result<ImportFields, String>,
}

/// The fields of one well-formed row, exactly as they stand in the file: the
/// profile fields are trimmed by the sign-up rules, the password never.
#[derive(Clone, Debug)]
pub struct ImportFields {
    /// The username.
    pub username: String,
    /// The full name (empty: unset).
    pub full_name: String,
    /// The password, every byte of it.
    pub password: Password,
    /// Mother's favorite search engine (empty: unset).
    pub mothers_favorite_search_engine: String,
}

impl ImportRow {
    /// A well-formed row.
    pub fn new(
        line: u64,
        username: impl Into<String>,
        full_name: impl Into<String>,
        password: impl Into<Password>,
        mothers_favorite_search_engine: impl Into<String>,
    ) -> Self {
        ImportRow {
            line,
            parsed: Ok(ImportFields {
                username: username.into(),
                full_name: full_name.into(),
                password: password.into(),
                mothers_favorite_search_engine: mothers_favorite_search_engine.into(),
            }),
        }
    }

    /// A line that is not a row; `reason` says why.
    pub fn malformed(line: u64, reason: impl Into<String>) -> Self {
        ImportRow {
            line,
            parsed: Err(reason.into()),
        }
    }

    /// The username of a well-formed row.
    pub fn username(&self) -> Option<&str> {
        self.parsed.as_ref().ok().map(|f| f.username.as_str())
    }

    /// Reads CSV without a header line: every record becomes a row, and a
    /// record that is not four UTF-8 fields becomes a malformed row with its
    /// line number. Blank lines are skipped. Only a failure to read the input
    /// itself is an error.
    pub fn read_csv(mut input: impl Read) -> std::io::Result<Vec<ImportRow>> {
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes)?;
        // The reader's own line numbers count the blank lines before a
        // record as part of it; the file's line numbers are counted here.
        let line_starts: Vec<usize> = std::iter::once(0)
            .chain(newline_offsets(&bytes).map(|i| i + 1))
            .collect();
        let line_at = |offset: u64| -> u64 {
            let mut start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
                start += 1;
            }
            line_starts.partition_point(|&s| s <= start) as u64
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes.as_slice());
        let mut rows = Vec::new();
        let mut record = csv::ByteRecord::new();
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = record.position().map_or(0, |p| line_at(p.byte()));
                    rows.push(Self::from_record(line, &record));
                }
                Err(error) => {
                    let line = error.position().map_or(0, |p| line_at(p.byte()));
                    match error.into_kind() {
                        csv::ErrorKind::Io(io) => return Err(io),
                        // The reader parses leniently and with `flexible` reports
                        // nothing else for byte records; should it, the line is
                        // malformed and reading goes on.
                        other => rows.push(Self::malformed(line, format!("{other:?}"))),
                    }
                }
            }
        }
        Ok(rows)
    }

    fn from_record(line: u64, record: &csv::ByteRecord) -> ImportRow {
        if record.len() != IMPORT_FIELDS {
            return Self::malformed(
                line,
                format!(
                    "expected {IMPORT_FIELDS} fields (username, full name, password, \
                     mother's favorite search engine), found {}",
                    record.len()
                ),
            );
        }
        let mut fields = Vec::with_capacity(IMPORT_FIELDS);
        for (i, field) in record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(text) => fields.push(text.to_owned()),
                Err(_) => {
                    return Self::malformed(line, format!("field {} is not valid UTF-8", i + 1))
                }
            }
        }
        let [username, full_name, password, engine]: [String; IMPORT_FIELDS] = fields
            .try_into()
            .unwrap_or_else(|_| unreachable!("the length was checked"));
        Self::new(line, username, full_name, password, engine)
    }
}

/// What became of one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The account was created.
    Accepted(User),
    /// The row broke a rule; nothing was created.
    Rejected {
        /// The contract's error code (`password_too_short`, `already_registered`, …).
        code: &'static str,
        /// A sentence for people.
        message: String,
    },
}

/// The verdict on one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRowReport {
    /// Line number in the file.
    pub line: u64,
    /// The username of the row, when the line was a row.
    pub username: Option<String>,
    /// Accepted or rejected, and why.
    pub outcome: ImportOutcome,
}

impl ImportRowReport {
    /// Whether the account was created.
    pub fn is_accepted(&self) -> bool {
        matches!(self.outcome, ImportOutcome::Accepted(_))
    }

    /// The code of a rejection.
    pub fn rejection_code(&self) -> Option<&'static str> {
        match self.outcome {
            ImportOutcome::Rejected { code, .. } => Some(code),
            ImportOutcome::Accepted(_) => None,
        }
    }
}

/// `line 1 gh0st: rejected: password_empty (password must not be empty)`,
/// or `line 3 kvothe: accepted`. Never a password.
impl fmt::Display for ImportRowReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(username) = &self.username {
            write!(f, " {}", username.escape_debug())?;
        }
        match &self.outcome {
            ImportOutcome::Accepted(_) => f.write_str(": accepted"),
            ImportOutcome::Rejected { code, message } => {
                write!(f, ": rejected: {code} ({message})")
            }
        }
    }
}

/// The verdicts on every row, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// One verdict per row, ordered by line.
    pub rows: Vec<ImportRowReport>,
}

impl ImportReport {
    /// The rows whose account was created.
    pub fn accepted(&self) -> impl Iterator<Item = &ImportRowReport> {
        self.rows.iter().filter(|r| r.is_accepted())
    }

    /// The rows that were rejected.
    pub fn rejected(&self) -> impl Iterator<Item = &ImportRowReport> {
        self.rows.iter().filter(|r| !r.is_accepted())
    }

    /// Whether every row was accepted.
    pub fn all_accepted(&self) -> bool {
        self.rows.iter().all(ImportRowReport::is_accepted)
    }

    /// `2 of 5 rows imported, 3 rejected`.
    pub fn summary(&self) -> String {
        let accepted = self.accepted().count();
        format!(
            "{accepted} of {} rows imported, {} rejected",
            self.rows.len(),
            self.rows.len() - accepted
        )
    }
}

impl Auth {
    /// Creates an account for every row that [`Auth::register_user`] accepts,
    /// several at a time so that hashing uses every core (the hasher's own
    /// semaphore keeps it to one hash per CPU). `progress` is called once per
    /// row as its verdict is known, in completion order; the report is in
    /// file order.
    ///
    /// Rows that repeat a username (in any case) are taken in file order, so
    /// the first acceptable one wins and the others are `already_registered`.
    /// Should the database fail, the rows not yet started are reported as
    /// `not_attempted` instead of each waiting for it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn import(
        &self,
        rows: impl IntoIterator<Item = ImportRow>,
        mut progress: impl FnMut(&ImportRowReport),
    ) -> ImportReport {
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        let failed = AtomicBool::new(false);
        let mut reports = Vec::new();
        for wave in waves(rows.into_iter().collect()) {
            let mut done = stream::iter(wave)
                .map(|row| self.import_row(row, &failed))
                .buffer_unordered(parallel);
            while let Some(report) = done.next().await {
                progress(&report);
                reports.push(report);
            }
        }
        reports.sort_by_key(|r| r.line);
        ImportReport { rows: reports }
    }

    async fn import_row(&self, row: ImportRow, failed: &AtomicBool) -> ImportRowReport {
        let ImportRow { line, parsed } = row;
        let fields = match parsed {
            Ok(fields) => fields,
            Err(reason) => {
                return ImportRowReport {
                    line,
                    username: None,
                    outcome: ImportOutcome::Rejected {
                        code: MALFORMED_ROW,
                        message: reason,
                    },
                }
            }
        };
        let username = fields.username.clone();
        if failed.load(Ordering::Relaxed) {
            return ImportRowReport {
                line,
                username: Some(username),
                outcome: ImportOutcome::Rejected {
                    code: NOT_ATTEMPTED,
                    message: "not attempted after a database failure on an earlier row".into(),
                },
            };
        }
        let registration = Registration {
            username: Some(fields.username),
            email: None,
            password: fields.password,
            full_name: Some(fields.full_name),
            mothers_favorite_search_engine: Some(fields.mothers_favorite_search_engine),
        };
        let outcome = match self
            .register_user(registration, &ClientInfo::default())
            .await
        {
            Ok(user) => ImportOutcome::Accepted(user),
            Err(error) => {
                if matches!(error, AuthError::Unavailable | AuthError::Internal(_)) {
                    failed.store(true, Ordering::Relaxed);
                }
                ImportOutcome::Rejected {
                    code: AuthError::code(&error),
                    // The detail of an internal error is in the log, as for the server.
                    message: error.to_string(),
                }
            }
        };
        ImportRowReport {
            line,
            username: Some(username),
            outcome,
        }
    }
}

/// Splits rows into waves run one after another: the n-th row of each
/// (lowercased) username goes in wave n, so no two rows of one name race.
fn waves(rows: Vec<ImportRow>) -> Vec<Vec<ImportRow>> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut waves: Vec<Vec<ImportRow>> = Vec::new();
    for row in rows {
        let wave = match row.username() {
            Some(name) => {
                let count = seen.entry(name.to_lowercase()).or_insert(0);
                *count += 1;
                *count - 1
            }
            None => 0,
        };
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(row);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Vec<ImportRow> {
        ImportRow::read_csv(text).unwrap()
    }

    #[test]
    fn fields_are_kept_as_they_stand() {
        let rows = parse(b"kvothe,Patrick Rothfuss, pass word ,Duck Duck Go \r\n");
        let fields = rows[0].parsed.as_ref().unwrap();
        assert_eq!(rows[0].line, 1);
        assert_eq!(fields.username, "kvothe");
        assert_eq!(fields.password.expose(), " pass word ");
        assert_eq!(fields.mothers_favorite_search_engine, "Duck Duck Go ");
    }

    #[test]
    fn quoted_fields_may_hold_commas_and_quotes() {
        let rows = parse(b"a,\"Doe, Jane\",\"say \"\"hi\"\", ok\",x\n");
        let fields = rows[0].parsed.as_ref().unwrap();
        assert_eq!(fields.full_name, "Doe, Jane");
        assert_eq!(fields.password.expose(), "say \"hi\", ok");
    }

    #[test]
    fn bad_lines_are_malformed_rows_with_their_line_numbers() {
        let rows = parse(b"a,b,c\n\nok,Name,pw,engine\nx,y,z,w,extra\nbad,\xff,pw,e\n");
        let lines: Vec<(u64, bool)> = rows.iter().map(|r| (r.line, r.parsed.is_ok())).collect();
        assert_eq!(lines, [(1, false), (3, true), (4, false), (5, false)]);
        assert!(rows[0].parsed.as_ref().unwrap_err().contains("found 3"));
        assert!(rows[3].parsed.as_ref().unwrap_err().contains("UTF-8"));
        // A quoted field may span lines; the row is numbered by its first.
        let rows = parse(b"\r\n\r\na,\"two\r\nlines\",c,d\r\n\r\ne,f,g,h\r\n");
        let lines: Vec<(u64, bool)> = rows.iter().map(|r| (r.line, r.parsed.is_ok())).collect();
        assert_eq!(lines, [(3, true), (6, true)]);
        // An unterminated quote swallows the rest of the file into one field.
        let rows = parse(b"a,\"b,c,d\ne,f,g,h\n");
        assert_eq!(rows.len(), 1);
        assert!(rows[0].parsed.is_err());
    }

    #[test]
    fn repeated_names_go_to_later_waves() {
        let rows = vec![
            ImportRow::new(1, "Kvothe", "", "p", ""),
            ImportRow::new(2, "kvothe", "", "p", ""),
            ImportRow::malformed(3, "bad"),
            ImportRow::new(4, "other", "", "p", ""),
            ImportRow::new(5, "KVOTHE", "", "p", ""),
        ];
        let lines: Vec<Vec<u64>> = waves(rows)
            .iter()
            .map(|w| w.iter().map(|r| r.line).collect())
            .collect();
        assert_eq!(lines, [vec![1, 3, 4], vec![2], vec![5]]);
    }

    #[test]
    fn the_report_line_names_the_rule_and_never_the_password() {
        let report = ImportRowReport {
            line: 1,
            username: Some("gh0st".into()),
            outcome: ImportOutcome::Rejected {
                code: "password_empty",
                message: "password must not be empty".into(),
            },
        };
        assert_eq!(
            report.to_string(),
            "line 1 gh0st: rejected: password_empty (password must not be empty)"
        );
    }
}

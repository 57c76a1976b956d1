//! The login throttle: `login_throttle` (consecutive failures per account, or
//! per unknown name) and `login_attempts` (password checks in flight). Times
//! are Unix milliseconds.

use diesel::prelude::*;

use crate::error::DbResult;
use crate::schema::{login_attempts, login_throttle};
use crate::{on_each_backend, DbConnection};

/// How often locking a throttle row is tried while concurrent successes
/// keep deleting it.
const LOCK_TRIES: usize = 5;

/// What asking for an attempt slot found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotClaim {
    /// A delay holds until this Unix millisecond: the attempt is refused.
    Locked {
        /// End of the delay.
        until_ms: i64,
    },
    /// Every slot is taken by checks in flight: wait for one to be decided.
    Busy,
    /// The attempt holds a slot under the id it was asked with.
    Granted,
}

/// The failure count of one account (or unknown name).
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = login_throttle)]
pub struct ThrottleRow {
    /// Keyed hash of the account's id, or of an unknown name.
    pub account_key: String,
    /// Consecutive failures since the last success or reset.
    pub failures: i64,
    /// Unix milliseconds of the failure that last added to the count.
    pub last_failure_ms: i64,
    /// Unix milliseconds until which every attempt is refused (0: none).
    pub locked_until_ms: i64,
}

/// A password check in flight.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = login_attempts)]
pub struct AttemptRow {
    /// Random id of the attempt.
    pub id: String,
    /// The throttle key it counts against.
    pub account_key: String,
    /// Unix milliseconds after which the slot is free even if never released.
    pub expires_ms: i64,
}

/// The settings of one slot request.
#[derive(Clone, Copy, Debug)]
pub struct SlotRequest<'a> {
    /// The throttle key.
    pub account_key: &'a str,
    /// The id the slot is held under.
    pub attempt_id: &'a str,
    /// Now, in Unix milliseconds.
    pub now_ms: i64,
    /// A count whose last failure is older than this starts again.
    pub forget_before_ms: i64,
    /// When the slot frees itself if never released.
    pub lease_until_ms: i64,
    /// Failures answered without a delay.
    pub free_failures: i64,
}

impl ThrottleRow {
    /// The row of a throttle key, if it has one.
    pub fn find(conn: &mut DbConnection, account_key: &str) -> DbResult<Option<ThrottleRow>> {
        // Per backend, for the statement cache: every cached device check runs it.
        Ok(on_each_backend!(conn, |c| login_throttle::table
            .find(account_key)
            .select(ThrottleRow::as_select())
            .get_result(c)
            .optional())?)
    }

    /// Makes sure the key has a row and locks it for the rest of the
    /// transaction (SQLite's write transaction already holds the database),
    /// so decisions on one key are taken one at a time on every server.
    fn lock(conn: &mut DbConnection, account_key: &str, now_ms: i64) -> DbResult<ThrottleRow> {
        let fresh = ThrottleRow {
            account_key: account_key.to_owned(),
            failures: 0,
            last_failure_ms: now_ms,
            locked_until_ms: 0,
        };
        // A success on another server may delete the row between the insert
        // and the lock (PostgreSQL then finds nothing to lock): insert again.
        for _ in 0..LOCK_TRIES {
            on_each_backend!(conn, |c| diesel::insert_into(login_throttle::table)
                .values(&fresh)
                .on_conflict_do_nothing()
                .execute(c))?;
            let row = match conn {
                DbConnection::Postgres(c) => login_throttle::table
                    .find(account_key)
                    .select(ThrottleRow::as_select())
                    .for_update()
                    .get_result(c)
                    .optional()?,
                DbConnection::Sqlite(c) => login_throttle::table
                    .find(account_key)
                    .select(ThrottleRow::as_select())
                    .get_result(c)
                    .optional()?,
            };
            if let Some(row) = row {
                return Ok(row);
            }
        }
        Err(diesel::result::Error::NotFound.into())
    }

    /// Asks for a slot to check one password. Refused while a delay holds;
    /// busy while the checks in flight already match the failures still free
    /// (at least one, so an attempt after a delay can run). Must run inside a
    /// write transaction.
    pub fn claim_slot(conn: &mut DbConnection, request: SlotRequest<'_>) -> DbResult<SlotClaim> {
        let key = request.account_key;
        diesel::delete(
            login_attempts::table
                .filter(login_attempts::account_key.eq(key))
                .filter(login_attempts::expires_ms.le(request.now_ms)),
        )
        .execute(conn)?;
        let mut row = Self::lock(conn, key, request.now_ms)?;
        if row.last_failure_ms < request.forget_before_ms && row.failures > 0 {
            row.failures = 0;
            row.locked_until_ms = 0;
            diesel::update(login_throttle::table.find(key))
                .set((
                    login_throttle::failures.eq(0),
                    login_throttle::locked_until_ms.eq(0),
                ))
                .execute(conn)?;
        }
        if row.locked_until_ms > request.now_ms {
            return Ok(SlotClaim::Locked {
                until_ms: row.locked_until_ms,
            });
        }
        let in_flight: i64 = login_attempts::table
            .filter(login_attempts::account_key.eq(key))
            .count()
            .get_result(conn)?;
        let slots = (request.free_failures - row.failures).max(1);
        if in_flight >= slots {
            return Ok(SlotClaim::Busy);
        }
        diesel::insert_into(login_attempts::table)
            .values(&AttemptRow {
                id: request.attempt_id.to_owned(),
                account_key: key.to_owned(),
                expires_ms: request.lease_until_ms,
            })
            .execute(conn)?;
        Ok(SlotClaim::Granted)
    }

    /// Decides an attempt as a failure: frees its slot, counts the failure
    /// and starts the delay that `delay_ms_for(failures)` asks for (a running
    /// delay is never shortened). Must run inside a write transaction.
    pub fn record_failure(
        conn: &mut DbConnection,
        account_key: &str,
        attempt_id: &str,
        now_ms: i64,
        delay_ms_for: impl Fn(i64) -> i64,
    ) -> DbResult<ThrottleRow> {
        AttemptRow::release(conn, attempt_id)?;
        let row = Self::lock(conn, account_key, now_ms)?;
        let failures = row.failures + 1;
        let delay = delay_ms_for(failures);
        let locked_until_ms = if delay > 0 {
            row.locked_until_ms.max(now_ms + delay)
        } else {
            row.locked_until_ms
        };
        diesel::update(login_throttle::table.find(account_key))
            .set((
                login_throttle::failures.eq(failures),
                login_throttle::last_failure_ms.eq(now_ms),
                login_throttle::locked_until_ms.eq(locked_until_ms),
            ))
            .execute(conn)?;
        Ok(ThrottleRow {
            account_key: account_key.to_owned(),
            failures,
            last_failure_ms: now_ms,
            locked_until_ms,
        })
    }

    /// Forgets the failures of a key (a success or a reset).
    pub fn clear(conn: &mut DbConnection, account_key: &str) -> DbResult<usize> {
        Ok(diesel::delete(login_throttle::table.find(account_key)).execute(conn)?)
    }

    /// Forgets every count whose last failure is older than `forget_before_ms`,
    /// and every slot whose lease ran out by `now_ms`.
    pub fn purge(conn: &mut DbConnection, forget_before_ms: i64, now_ms: i64) -> DbResult<usize> {
        let counts = diesel::delete(
            login_throttle::table.filter(login_throttle::last_failure_ms.lt(forget_before_ms)),
        )
        .execute(conn)?;
        let slots =
            diesel::delete(login_attempts::table.filter(login_attempts::expires_ms.le(now_ms)))
                .execute(conn)?;
        Ok(counts + slots)
    }

    /// Every failure count, for a dump: ordered by account key.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<ThrottleRow>> {
        Ok(login_throttle::table
            .order(login_throttle::account_key)
            .select(ThrottleRow::as_select())
            .load(conn)?)
    }
}

impl AttemptRow {
    /// Frees the slot of an attempt; returns whether it still held one.
    pub fn release(conn: &mut DbConnection, attempt_id: &str) -> DbResult<bool> {
        Ok(diesel::delete(login_attempts::table.find(attempt_id)).execute(conn)? > 0)
    }

    /// Every attempt in flight, for a dump: ordered by id.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<AttemptRow>> {
        Ok(login_attempts::table
            .order(login_attempts::id)
            .select(AttemptRow::as_select())
            .load(conn)?)
    }
}

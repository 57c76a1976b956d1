//! The `login_throttle` table: consecutive failed logins per account name.

use diesel::prelude::*;

use crate::error::{DbError, DbResult};
use crate::schema::login_throttle;
use crate::{on_each_backend, DbConnection};

/// What claiming a login attempt found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// A delay holds until this Unix second: the attempt must be refused.
    Locked {
        /// End of the delay.
        until: i64,
    },
    /// The attempt was counted; the row as it now stands.
    Counted(ThrottleRow),
}

/// The failure count of one account name.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = login_throttle)]
pub struct ThrottleRow {
    /// Keyed hash of the lowercased account name.
    pub account_key: String,
    /// Consecutive failures since the last success or reset.
    pub failures: i64,
    /// Unix seconds of the failure that last added to the count.
    pub last_failure_at: i64,
    /// Unix seconds until which every attempt is refused (0: none).
    pub locked_until: i64,
}

impl ThrottleRow {
    /// The row of an account name, if it has failures on record.
    pub fn find(conn: &mut DbConnection, account_key: &str) -> DbResult<Option<ThrottleRow>> {
        // Per backend, for the statement cache: every cached device check runs it.
        Ok(on_each_backend!(conn, |c| login_throttle::table
            .find(account_key)
            .select(ThrottleRow::as_select())
            .get_result(c)
            .optional())?)
    }

    /// Counts a login attempt before its password is checked, so that
    /// concurrent attempts cannot slip past a delay while bcrypt runs: the
    /// attempt is counted as a failure (a success clears the row afterwards),
    /// and the lock that `delay_for(failures)` (seconds) asks for starts now.
    /// A count whose last failure is older than `forget_before` starts again.
    /// An attempt while the lock holds changes nothing.
    pub fn claim_attempt(
        conn: &mut DbConnection,
        account_key: &str,
        now: i64,
        forget_before: i64,
        delay_for: impl Fn(i64) -> i64,
    ) -> DbResult<Claim> {
        match Self::try_claim(conn, account_key, now, forget_before, &delay_for) {
            // Two first attempts on one name raced to insert its row; the
            // loser goes again and now finds the row.
            Err(e) if e.is_unique_violation() => {
                Self::try_claim(conn, account_key, now, forget_before, &delay_for)
            }
            claimed => claimed,
        }
    }

    fn try_claim(
        conn: &mut DbConnection,
        account_key: &str,
        now: i64,
        forget_before: i64,
        delay_for: &impl Fn(i64) -> i64,
    ) -> DbResult<Claim> {
        conn.transaction::<_, DbError, _>(|conn| {
            let row = login_throttle::table.find(account_key);
            diesel::update(row.filter(login_throttle::last_failure_at.lt(forget_before)))
                .set((
                    login_throttle::failures.eq(0),
                    login_throttle::locked_until.eq(0),
                ))
                .execute(conn)?;
            // A write before the read takes the lock (the row's on PostgreSQL,
            // the database's on SQLite), so attempts on one name are decided
            // one at a time.
            diesel::update(row)
                .set(login_throttle::account_key.eq(login_throttle::account_key))
                .execute(conn)?;
            let current = row
                .select(ThrottleRow::as_select())
                .get_result(conn)
                .optional()?;
            if let Some(current) = &current {
                if current.locked_until > now {
                    return Ok(Claim::Locked {
                        until: current.locked_until,
                    });
                }
            }
            let failures = current.as_ref().map_or(0, |c| c.failures) + 1;
            let delay = delay_for(failures);
            let counted = ThrottleRow {
                account_key: account_key.to_owned(),
                failures,
                last_failure_at: now,
                locked_until: if delay > 0 { now + delay } else { 0 },
            };
            if current.is_some() {
                diesel::update(row)
                    .set((
                        login_throttle::failures.eq(counted.failures),
                        login_throttle::last_failure_at.eq(counted.last_failure_at),
                        login_throttle::locked_until.eq(counted.locked_until),
                    ))
                    .execute(conn)?;
            } else {
                diesel::insert_into(login_throttle::table)
                    .values(&counted)
                    .execute(conn)?;
            }
            Ok(Claim::Counted(counted))
        })
    }

    /// Forgets the failures of an account name (a success or a reset).
    pub fn clear(conn: &mut DbConnection, account_key: &str) -> DbResult<usize> {
        Ok(diesel::delete(login_throttle::table.find(account_key)).execute(conn)?)
    }

    /// Forgets every count whose last failure is older than `forget_before`.
    pub fn purge(conn: &mut DbConnection, forget_before: i64) -> DbResult<usize> {
        Ok(diesel::delete(
            login_throttle::table.filter(login_throttle::last_failure_at.lt(forget_before)),
        )
        .execute(conn)?)
    }

    /// Every failure count, for a dump: ordered by account key.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<ThrottleRow>> {
        Ok(login_throttle::table
            .order(login_throttle::account_key)
            .select(ThrottleRow::as_select())
            .load(conn)?)
    }
}

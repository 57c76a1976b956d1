//! The `login_throttle` table: consecutive failed logins per account name.

use diesel::prelude::*;

use crate::error::{DbError, DbResult};
use crate::on_each_backend;
use crate::schema::login_throttle;
use crate::DbConnection;

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
        Ok(login_throttle::table
            .find(account_key)
            .select(ThrottleRow::as_select())
            .first(conn)
            .optional()?)
    }

    /// Adds one failure, forgetting a count whose last failure is older than
    /// `forget_before`, and sets the lock that `delay_for(failures)` (seconds)
    /// asks for. Returns the row as it now stands.
    pub fn record_failure(
        conn: &mut DbConnection,
        account_key: &str,
        now: i64,
        forget_before: i64,
        delay_for: impl Fn(i64) -> i64,
    ) -> DbResult<ThrottleRow> {
        conn.transaction::<_, DbError, _>(|conn| {
            // A write first, so SQLite takes the write lock before anything is read.
            diesel::update(
                login_throttle::table
                    .find(account_key)
                    .filter(login_throttle::last_failure_at.lt(forget_before)),
            )
            .set((
                login_throttle::failures.eq(0),
                login_throttle::locked_until.eq(0),
            ))
            .execute(conn)?;
            let first = ThrottleRow {
                account_key: account_key.to_owned(),
                failures: 1,
                last_failure_at: now,
                locked_until: 0,
            };
            on_each_backend!(&mut *conn, |c| diesel::insert_into(login_throttle::table)
                .values(&first)
                .on_conflict(login_throttle::account_key)
                .do_update()
                .set((
                    login_throttle::failures.eq(login_throttle::failures + 1),
                    login_throttle::last_failure_at.eq(now),
                ))
                .execute(c))?;
            let mut row = login_throttle::table
                .find(account_key)
                .select(ThrottleRow::as_select())
                .first(conn)?;
            let delay = delay_for(row.failures);
            if delay > 0 {
                row.locked_until = now + delay;
                diesel::update(login_throttle::table.find(account_key))
                    .set(login_throttle::locked_until.eq(row.locked_until))
                    .execute(conn)?;
            }
            Ok(row)
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
}

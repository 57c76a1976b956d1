//! The `events` table: the audit log.

use diesel::prelude::*;

use crate::error::DbResult;
use crate::schema::events;
use crate::DbConnection;

/// One security event.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = events)]
pub struct EventRow {
    /// UUID of the event.
    pub id: String,
    /// Unix seconds.
    pub occurred_at: i64,
    /// What happened, in snake_case (`login_failed`, `password_changed`, …).
    pub kind: String,
    /// The account concerned, when one is known.
    pub user_id: Option<String>,
    /// The client's address, when the event came over the network.
    pub client_addr: Option<String>,
    /// The `X-Request-Id` of the request that caused it, when one did.
    pub request_id: Option<String>,
    /// Who made the change for the account, when not its own user
    /// (`token:<id>`: an access token of the admin API).
    pub actor: Option<String>,
}

impl EventRow {
    /// Appends an event.
    pub fn record(conn: &mut DbConnection, row: &EventRow) -> DbResult<()> {
        diesel::insert_into(events::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// The latest events, newest first.
    pub fn recent(conn: &mut DbConnection, limit: i64) -> DbResult<Vec<EventRow>> {
        Ok(events::table
            .order((events::occurred_at.desc(), events::id))
            .limit(limit)
            .select(EventRow::as_select())
            .load(conn)?)
    }

    /// A page of events, oldest first (by time, then id), after the event
    /// `(occurred_at, id)` (exclusive).
    pub fn page(
        conn: &mut DbConnection,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> DbResult<Vec<EventRow>> {
        let (at, id) = after.unwrap_or((i64::MIN, ""));
        let query = events::table
            .select(EventRow::as_select())
            .filter(
                events::occurred_at
                    .gt(at)
                    .or(events::occurred_at.eq(at).and(events::id.gt(id))),
            )
            .order((events::occurred_at, events::id))
            .limit(limit);
        Ok(query.load(conn)?)
    }

    /// How many events of one kind are on record.
    pub fn count_kind(conn: &mut DbConnection, kind: &str) -> DbResult<i64> {
        Ok(events::table
            .filter(events::kind.eq(kind))
            .count()
            .get_result(conn)?)
    }

    /// Every event, for a dump: oldest first, then by id.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<EventRow>> {
        Ok(events::table
            .order((events::occurred_at, events::id))
            .select(EventRow::as_select())
            .load(conn)?)
    }
}

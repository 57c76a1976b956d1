//! The `machines` table: which machine each user is bound to.

use diesel::prelude::*;

use crate::error::DbResult;
use crate::schema::machines;
use crate::{on_each_backend, DbConnection};

/// One binding of a machine to a user.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = machines)]
pub struct MachineRow {
    /// The client's machine ID.
    pub machine_id: String,
    /// The account bound to it.
    pub user_id: String,
    /// Unix seconds.
    pub bound_at: i64,
}

impl MachineRow {
    /// Binds a machine; a unique violation means the machine or the user is
    /// already bound, and the caller looks up which.
    pub fn bind(conn: &mut DbConnection, row: &MachineRow) -> DbResult<()> {
        diesel::insert_into(machines::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// The binding of a machine.
    pub fn find_by_machine(
        conn: &mut DbConnection,
        machine_id: &str,
    ) -> DbResult<Option<MachineRow>> {
        Ok(machines::table
            .find(machine_id)
            .select(MachineRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// The binding of a user.
    pub fn find_by_user(conn: &mut DbConnection, user_id: &str) -> DbResult<Option<MachineRow>> {
        // Per backend, for the statement cache: every cached device check runs it.
        Ok(on_each_backend!(conn, |c| machines::table
            .filter(machines::user_id.eq(user_id))
            .select(MachineRow::as_select())
            .get_result(c)
            .optional())?)
    }

    /// Frees the user's machine; returns how many bindings ended (0 or 1).
    pub fn unbind_user(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(diesel::delete(machines::table.filter(machines::user_id.eq(user_id))).execute(conn)?)
    }

    /// Every binding, for a dump: ordered by binding time, then machine.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<MachineRow>> {
        Ok(machines::table
            .order((machines::bound_at, machines::machine_id))
            .select(MachineRow::as_select())
            .load(conn)?)
    }
}

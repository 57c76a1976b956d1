//! The `users` table.

use diesel::prelude::*;

use crate::error::DbResult;
use crate::schema::{identifiers, users};
use crate::{on_each_backend, DbConnection};

/// One account as stored.
#[derive(Queryable, Selectable, Identifiable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = users)]
pub struct UserRow {
    /// UUID of the account.
    pub id: String,
    /// The username as the user typed it.
    pub username: Option<String>,
    /// Lowercased username: the unique, case-insensitive key.
    pub username_key: Option<String>,
    /// The e-mail address as the user typed it.
    pub email: Option<String>,
    /// Lowercased e-mail address: the unique, case-insensitive key.
    pub email_key: Option<String>,
    /// Optional profile field.
    pub full_name: Option<String>,
    /// Optional profile field.
    pub mothers_favorite_search_engine: Option<String>,
    /// Self-describing password hash (scheme, cost, salt, digest).
    pub password_hash: String,
    /// Bumped by every password change.
    pub credential_version: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds when the current address was verified (`None`: not verified).
    pub email_verified_at: Option<i64>,
    /// Unix seconds when an operator disabled the account; `None` while it may sign in.
    pub disabled_at: Option<i64>,
}

/// The columns of a new account.
#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    /// UUID of the account.
    pub id: &'a str,
    /// The username as typed.
    pub username: Option<&'a str>,
    /// Lowercased username.
    pub username_key: Option<&'a str>,
    /// The e-mail address as typed.
    pub email: Option<&'a str>,
    /// Lowercased e-mail address.
    pub email_key: Option<&'a str>,
    /// Optional profile field.
    pub full_name: Option<&'a str>,
    /// Optional profile field.
    pub mothers_favorite_search_engine: Option<&'a str>,
    /// The password hash.
    pub password_hash: &'a str,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// Profile columns to change; `None` leaves a column as it is.
#[derive(AsChangeset, Clone, Debug, Default)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    /// New full name (`Some(None)` clears it).
    pub full_name: Option<Option<&'a str>>,
    /// New search engine (`Some(None)` clears it).
    pub mothers_favorite_search_engine: Option<Option<&'a str>>,
    /// Unix seconds; always set by `update_user`.
    pub updated_at: Option<i64>,
}

/// How to find one account.
#[derive(Clone, Copy, Debug)]
pub enum UserLookup<'a> {
    /// By UUID.
    Id(&'a str),
    /// By lowercased username.
    UsernameKey(&'a str),
    /// By lowercased e-mail.
    EmailKey(&'a str),
    /// By lowercased username, or failing that by lowercased e-mail.
    UsernameOrEmailKey(&'a str),
}

/// One name of an account in the shared namespace of usernames and e-mails.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = identifiers)]
pub struct IdentifierRow {
    /// The name, NFC and lowercased.
    pub name_key: String,
    /// The account it belongs to.
    pub user_id: String,
}

impl IdentifierRow {
    /// Every name, for a dump: ordered by name.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<IdentifierRow>> {
        Ok(identifiers::table
            .order(identifiers::name_key)
            .select(IdentifierRow::as_select())
            .load(conn)?)
    }
}

impl UserRow {
    /// Inserts a new account and claims its names (username and e-mail keys)
    /// in the one namespace; a name another account holds in either field is
    /// a unique violation and nothing is written.
    pub fn add_user(conn: &mut DbConnection, new: &NewUserRow<'_>) -> DbResult<UserRow> {
        conn.transaction::<_, crate::DbError, _>(|conn| {
            diesel::insert_into(users::table)
                .values(new)
                .execute(conn)?;
            let mut names: Vec<&str> = [new.username_key, new.email_key]
                .into_iter()
                .flatten()
                .collect();
            // An account whose username is its own e-mail holds that name once.
            names.dedup();
            for name in names {
                diesel::insert_into(identifiers::table)
                    .values((
                        identifiers::name_key.eq(name),
                        identifiers::user_id.eq(new.id),
                    ))
                    .execute(conn)?;
            }
            Ok(users::table
                .find(new.id)
                .select(UserRow::as_select())
                .get_result(conn)?)
        })
    }

    /// Finds one account (the [crate page](crate) has an example).
    pub fn find_user_by(
        conn: &mut DbConnection,
        lookup: UserLookup<'_>,
    ) -> DbResult<Option<UserRow>> {
        let query = users::table.select(UserRow::as_select());
        let found = match lookup {
            UserLookup::Id(id) => query.filter(users::id.eq(id)).get_result(conn).optional()?,
            UserLookup::UsernameKey(key) => query
                .filter(users::username_key.eq(key))
                .get_result(conn)
                .optional()?,
            UserLookup::EmailKey(key) => query
                .filter(users::email_key.eq(key))
                .get_result(conn)
                .optional()?,
            // One namespace: a name has at most one account, whichever field holds it.
            UserLookup::UsernameOrEmailKey(key) => users::table
                .inner_join(identifiers::table)
                .filter(identifiers::name_key.eq(key))
                .select(UserRow::as_select())
                .get_result(conn)
                .optional()?,
        };
        Ok(found)
    }

    /// Whether any account has this lowercased name as its username or its
    /// e-mail: a name may stand for one account only, whichever field holds it.
    pub fn name_taken(conn: &mut DbConnection, key: &str) -> DbResult<bool> {
        Ok(diesel::select(diesel::dsl::exists(
            identifiers::table.filter(identifiers::name_key.eq(key)),
        ))
        .get_result(conn)?)
    }

    /// Changes profile columns; returns the number of rows changed (0: no such user).
    pub fn update_user(
        conn: &mut DbConnection,
        id: &str,
        changes: &UserChanges<'_>,
    ) -> DbResult<usize> {
        Ok(diesel::update(users::table.find(id))
            .set(changes)
            .execute(conn)?)
    }

    /// Stores a new hash of the same password (a cost upgrade); sessions and
    /// caches stay valid because the credential is unchanged.
    pub fn replace_hash(
        conn: &mut DbConnection,
        id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> DbResult<usize> {
        // Conditional on the old hash, so a concurrent password change wins.
        Ok(diesel::update(
            users::table
                .find(id)
                .filter(users::password_hash.eq(old_hash)),
        )
        .set(users::password_hash.eq(new_hash))
        .execute(conn)?)
    }

    /// The account's credential version, locking its row until the
    /// transaction ends (PostgreSQL; SQLite's write transaction already holds
    /// the database), so that no password change can commit between this
    /// read and the writes that rely on it. `None`: no such account.
    pub fn lock_credential_version(conn: &mut DbConnection, id: &str) -> DbResult<Option<i64>> {
        Ok(match conn {
            DbConnection::Postgres(c) => users::table
                .find(id)
                .select(users::credential_version)
                .for_update()
                .get_result(c)
                .optional()?,
            DbConnection::Sqlite(c) => users::table
                .find(id)
                .select(users::credential_version)
                .get_result(c)
                .optional()?,
        })
    }

    /// Sets a new password and bumps the credential version; with
    /// `expected`, only if the version is still that one. Returns the number
    /// of rows changed (0: no such account, or the version had moved on).
    pub fn set_password(
        conn: &mut DbConnection,
        id: &str,
        expected: Option<i64>,
        new_hash: &str,
        now: i64,
    ) -> DbResult<usize> {
        let changes = (
            users::password_hash.eq(new_hash),
            users::credential_version.eq(users::credential_version + 1),
            users::updated_at.eq(now),
        );
        let row = users::table.find(id);
        Ok(match expected {
            Some(version) => diesel::update(row.filter(users::credential_version.eq(version)))
                .set(changes)
                .execute(conn)?,
            None => diesel::update(row).set(changes).execute(conn)?,
        })
    }

    /// The current credential version of an account, if it exists.
    pub fn credential_version(conn: &mut DbConnection, id: &str) -> DbResult<Option<i64>> {
        // Per backend, for the statement cache: every cached device check runs it.
        Ok(on_each_backend!(conn, |c| users::table
            .find(id)
            .select(users::credential_version)
            .get_result(c)
            .optional())?)
    }

    /// Every account, ordered by creation.
    pub fn list(conn: &mut DbConnection) -> DbResult<Vec<UserRow>> {
        Ok(users::table
            .order((users::created_at, users::id))
            .select(UserRow::as_select())
            .load(conn)?)
    }

    /// Deletes an account with its sessions, reset token and machine.
    pub fn delete(conn: &mut DbConnection, id: &str) -> DbResult<usize> {
        Ok(diesel::delete(users::table.find(id)).execute(conn)?)
    }

    /// A page of accounts ordered by id, after the id `after` (exclusive):
    /// rows present throughout a paging are each seen once, whatever is
    /// added or deleted meanwhile. With `pattern` (a lowercased substring),
    /// only accounts whose username or e-mail key contains it.
    pub fn page(
        conn: &mut DbConnection,
        pattern: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> DbResult<Vec<UserRow>> {
        let escaped: String = pattern
            .unwrap_or_default()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        // Every account has a username or an e-mail, so `%…%` of nothing
        // keeps them all; ids are never empty, so `> ''` starts at the first.
        let like = format!("%{escaped}%");
        let after = after.unwrap_or_default();
        let query = users::table
            .select(UserRow::as_select())
            .filter(users::id.gt(after))
            .filter(
                users::username_key
                    .like(like.clone())
                    .escape('\\')
                    .or(users::email_key.like(like).escape('\\')),
            )
            .order(users::id)
            .limit(limit);
        Ok(query.load(conn)?)
    }

    /// Replaces an account's e-mail address (`None` removes it) and its name
    /// in the one namespace, in one transaction; a name another account
    /// holds is a unique violation and nothing changes. Returns false if
    /// there is no such account.
    pub fn change_email(
        conn: &mut DbConnection,
        id: &str,
        email: Option<&str>,
        email_key: Option<&str>,
        now: i64,
    ) -> DbResult<bool> {
        conn.transaction::<_, crate::DbError, _>(|conn| {
            let Some(user) = Self::find_user_by(conn, UserLookup::Id(id))? else {
                return Ok(false);
            };
            if let Some(old) = user.email_key.as_deref() {
                if user.username_key.as_deref() != Some(old) {
                    diesel::delete(
                        identifiers::table
                            .filter(identifiers::name_key.eq(old))
                            .filter(identifiers::user_id.eq(id)),
                    )
                    .execute(conn)?;
                }
            }
            if let Some(new) = email_key {
                if user.username_key.as_deref() != Some(new) {
                    diesel::insert_into(identifiers::table)
                        .values((identifiers::name_key.eq(new), identifiers::user_id.eq(id)))
                        .execute(conn)?;
                }
            }
            // A verification proves one address: another one starts unverified
            // (docs/contract/10-email.md).
            let verified_at = if user.email_key.as_deref() == email_key {
                user.email_verified_at
            } else {
                None
            };
            diesel::update(users::table.find(id))
                .set((
                    users::email.eq(email),
                    users::email_key.eq(email_key),
                    users::email_verified_at.eq(verified_at),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(true)
        })
    }

    /// Disables (`Some(now)`) or enables (`None`) an account and bumps its
    /// credential version, so that no decision taken before (a password
    /// check in flight, a cached device check, a second step) commits after.
    /// Returns the number of rows changed (0: no such account).
    pub fn set_disabled(conn: &mut DbConnection, id: &str, at: Option<i64>) -> DbResult<usize> {
        Ok(diesel::update(users::table.find(id))
            .set((
                users::disabled_at.eq(at),
                users::credential_version.eq(users::credential_version + 1),
            ))
            .execute(conn)?)
    }

    /// Every account, for a dump: ordered by creation, then id.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<UserRow>> {
        Self::list(conn)
    }
}

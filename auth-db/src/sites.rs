//! The forward-authentication site rules: `protected_sites`, `site_users`
//! and the `site_rules_version` row every change of them bumps.

use diesel::prelude::*;

use crate::error::DbResult;
use crate::schema::{protected_sites, site_rules_version, site_users, users};
use crate::{on_each_backend, DbConnection};

/// The name of the one row of `site_rules_version`.
const RULES_VERSION_ROW: &str = "sites";

/// One protected host as stored.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = protected_sites)]
pub struct SiteRow {
    /// The host, or `host:port`, lower-cased.
    pub host: String,
    /// `optional` or `required`.
    pub second_factor: String,
    /// `any` or `listed`.
    pub allow: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// One account a site lets in.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = site_users)]
pub struct SiteUserRow {
    /// The protected host.
    pub host: String,
    /// The account.
    pub user_id: String,
}

/// A listed account with its names, for `authd site list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteMember {
    /// The protected host.
    pub host: String,
    /// The account.
    pub user_id: String,
    /// Its username.
    pub username: Option<String>,
    /// Its e-mail address.
    pub email: Option<String>,
}

impl SiteUserRow {
    /// Every listed account of every site, for a dump: by host, then account.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<SiteUserRow>> {
        Ok(site_users::table
            .order((site_users::host, site_users::user_id))
            .select(SiteUserRow::as_select())
            .load(conn)?)
    }
}

impl SiteRow {
    /// Stores a new site with its listed accounts and bumps the rules
    /// version; a unique violation means the host is already protected. Run
    /// it inside a write transaction.
    pub fn add(conn: &mut DbConnection, site: &SiteRow, user_ids: &[String]) -> DbResult<()> {
        diesel::insert_into(protected_sites::table)
            .values(site)
            .execute(conn)?;
        for user_id in user_ids {
            diesel::insert_into(site_users::table)
                .values(SiteUserRow {
                    host: site.host.clone(),
                    user_id: user_id.clone(),
                })
                .execute(conn)?;
        }
        bump_version(conn)
    }

    /// Deletes a site and its list, bumping the rules version; returns how
    /// many sites went (0 or 1). Run it inside a write transaction.
    pub fn delete(conn: &mut DbConnection, host: &str) -> DbResult<usize> {
        diesel::delete(site_users::table.filter(site_users::host.eq(host))).execute(conn)?;
        let deleted = diesel::delete(protected_sites::table.filter(protected_sites::host.eq(host)))
            .execute(conn)?;
        if deleted > 0 {
            bump_version(conn)?;
        }
        Ok(deleted)
    }

    /// Every site, by host.
    pub fn list(conn: &mut DbConnection) -> DbResult<Vec<SiteRow>> {
        Ok(protected_sites::table
            .order(protected_sites::host)
            .select(SiteRow::as_select())
            .load(conn)?)
    }

    /// Every listed account of every site, by host, with its names.
    pub fn members(conn: &mut DbConnection) -> DbResult<Vec<SiteMember>> {
        let rows: Vec<(String, String, Option<String>, Option<String>)> = site_users::table
            .inner_join(users::table)
            .order((site_users::host, users::username_key, users::email_key))
            .select((
                site_users::host,
                site_users::user_id,
                users::username,
                users::email,
            ))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(host, user_id, username, email)| SiteMember {
                host,
                user_id,
                username,
                email,
            })
            .collect())
    }

    /// Every site, for a dump: by host.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<SiteRow>> {
        SiteRow::list(conn)
    }

    /// The current version of the rules: every server reads it (at most once
    /// a second) to know whether its copy of the rules is still current.
    pub fn rules_version(conn: &mut DbConnection) -> DbResult<i64> {
        // Per backend, for the statement cache: every server runs it often.
        Ok(on_each_backend!(conn, |c| site_rules_version::table
            .find(RULES_VERSION_ROW)
            .select(site_rules_version::version)
            .get_result::<i64>(c)
            .optional())?
        .unwrap_or(0))
    }
}

/// Bumps the rules version, so that every server reloads the rules.
fn bump_version(conn: &mut DbConnection) -> DbResult<()> {
    diesel::update(site_rules_version::table.find(RULES_VERSION_ROW))
        .set(site_rules_version::version.eq(site_rules_version::version + 1))
        .execute(conn)?;
    Ok(())
}

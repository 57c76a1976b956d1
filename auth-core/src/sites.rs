//! Forward authentication (docs/contract/9-forward-auth.md): the protected
//! sites an operator registers, the decision on each request a reverse
//! proxy asks about, and where a login may send its user next.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use auth_db::{EventRow, SiteMember, SiteRow, UserRow};

use crate::account::{ClientInfo, Identifier, User};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
use crate::service::{user_lookup, Auth};
use crate::site_rules::{
    parse_next, parse_site_url, site_host, NextCandidate, NextTarget, Rules, SiteRule,
};

/// `second_factor` of a site that requires one.
const REQUIRED: &str = "required";
/// `second_factor` of a site that does not.
const OPTIONAL: &str = "optional";
/// `allow` of a site that lets in every account.
const ANY: &str = "any";
/// `allow` of a site that lets in only its listed accounts.
const LISTED: &str = "listed";

/// A site to protect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewSite {
    /// The host, or `host:port` (any case).
    pub host: String,
    /// Let in only sessions that completed a second factor.
    pub second_factor_required: bool,
    /// Usernames (or e-mails) of the only accounts it lets in; empty: every account.
    pub allowed_users: Vec<String>,
}

/// A protected site as registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedSite {
    /// The host, lower-cased.
    pub host: String,
    /// Lets in only sessions that completed a second factor.
    pub second_factor_required: bool,
    /// The accounts it lets in (username, or e-mail without one); `None`:
    /// every account.
    pub allowed_users: Option<Vec<String>>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The answer to a reverse proxy about one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForwardDecision {
    /// Let it through, as this account.
    Allowed(User),
    /// A registered host, but no live session: log in.
    NoSession,
    /// Not for this account, or not a registered host: refuse.
    Forbidden,
    /// The host lets in only sessions that completed a second factor, and
    /// this one did not: set one up (or log in with it) first.
    SecondFactorRequired,
}

impl Auth {
    /// Protects a host. `InvalidField` (`host`) for a malformed or already
    /// protected host, (`allow_user`) for an account that does not exist.
    /// Audited as `site_added`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn add_site(&self, site: NewSite, client: &ClientInfo) -> AuthResult<ProtectedSite> {
        let host = site_host(&site.host).ok_or_else(|| AuthError::InvalidField {
            field: "host",
            message: "expected a host name or host:port (no scheme, path or wildcard)".into(),
        })?;
        let now = self.now();
        let row = SiteRow {
            host: host.clone(),
            second_factor: if site.second_factor_required {
                REQUIRED
            } else {
                OPTIONAL
            }
            .into(),
            allow: if site.allowed_users.is_empty() {
                ANY
            } else {
                LISTED
            }
            .into(),
            created_at: now,
        };
        let names = site.allowed_users.clone();
        let audit_row = self.event(event::SITE_ADDED, None, client);
        let added = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let mut ids = Vec::new();
                    for name in &names {
                        let identifier = Identifier::Any(name.clone());
                        let key = identifier.key();
                        match UserRow::find_user_by(conn, user_lookup(&identifier, &key))? {
                            Some(user) if !ids.contains(&user.id) => ids.push(user.id),
                            Some(_) => {}
                            None => return Ok(Err(Refusal::NoAccount(name.clone()))),
                        }
                    }
                    // A savepoint: on PostgreSQL the transaction stays usable
                    // after the unique violation of a host added twice.
                    match auth_db::transaction(conn, |conn| SiteRow::add(conn, &row, &ids)) {
                        Err(error) if error.is_unique_violation() => Ok(Err(Refusal::Taken)),
                        Err(error) => Err(error),
                        Ok(()) => EventRow::record(conn, &audit_row).map(Ok),
                    }
                })
            })
            .await;
        self.inner.site_rules.expire();
        match added? {
            Ok(()) => {}
            Err(Refusal::NoAccount(name)) => {
                return Err(AuthError::InvalidField {
                    field: "allow_user",
                    message: format!("no account named {name}"),
                })
            }
            Err(Refusal::Taken) => {
                return Err(AuthError::InvalidField {
                    field: "host",
                    message: "this host is already protected".into(),
                })
            }
        }
        log_event(event::SITE_ADDED, None, client);
        tracing::info!(host = %host, "protected site added");
        let mut sites = self.list_sites().await?;
        sites.retain(|s| s.host == host);
        sites.pop().ok_or(AuthError::NotFound)
    }

    /// Every protected site, by host.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_sites(&self) -> AuthResult<Vec<ProtectedSite>> {
        let (sites, members) = self
            .db(|conn| Ok((SiteRow::list(conn)?, SiteRow::members(conn)?)))
            .await?;
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        for member in members {
            let name = member.username.or(member.email).unwrap_or(member.user_id);
            names.entry(member.host).or_default().push(name);
        }
        Ok(sites
            .into_iter()
            .map(|site| ProtectedSite {
                allowed_users: (site.allow == LISTED)
                    .then(|| names.remove(&site.host).unwrap_or_default()),
                second_factor_required: site.second_factor == REQUIRED,
                host: site.host,
                created_at: site.created_at,
            })
            .collect())
    }

    /// Stops protecting a host, audited as `site_deleted`; `NotFound` if it
    /// was not protected.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn delete_site(&self, host: &str, client: &ClientInfo) -> AuthResult<()> {
        let host = site_host(host).ok_or(AuthError::NotFound)?;
        let audit_row = self.event(event::SITE_DELETED, None, client);
        let deleted = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let count = SiteRow::delete(conn, &host)?;
                    if count > 0 {
                        EventRow::record(conn, &audit_row)?;
                    }
                    Ok(count)
                })
            })
            .await;
        self.inner.site_rules.expire();
        match deleted? {
            0 => Err(AuthError::NotFound),
            _ => {
                log_event(event::SITE_DELETED, None, client);
                Ok(())
            }
        }
    }

    /// Decides a request a reverse proxy asks about: `original_url` is the
    /// protected request's absolute URL, `token` the session cookie it
    /// carried. An unregistered host (or a URL that is not a clean http(s)
    /// URL) is `Forbidden` whatever the session. It costs what a session
    /// check costs: the rules are kept in memory (see
    /// [`SITE_RULES_TTL_MS`](crate::SITE_RULES_TTL_MS)).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn forward_auth(
        &self,
        original_url: &str,
        token: Option<&str>,
    ) -> AuthResult<ForwardDecision> {
        let Some(url) = parse_site_url(original_url) else {
            return Ok(ForwardDecision::Forbidden);
        };
        let rules = self.site_rules().await?;
        let Some(rule) = rules.sites.get(&url.host) else {
            return Ok(ForwardDecision::Forbidden);
        };
        let Some(token) = token else {
            return Ok(ForwardDecision::NoSession);
        };
        let signed_in = match self.get_user_from_session_id(token).await {
            Ok(signed_in) => signed_in,
            Err(AuthError::NotAuthenticated) => return Ok(ForwardDecision::NoSession),
            Err(error) => return Err(error),
        };
        if let Some(allowed) = &rule.allowed {
            if !allowed.contains(&signed_in.user.id) {
                return Ok(ForwardDecision::Forbidden);
            }
        }
        if rule.second_factor_required && signed_in.session.second_factor_at.is_none() {
            return Ok(ForwardDecision::SecondFactorRequired);
        }
        Ok(ForwardDecision::Allowed(signed_in.user))
    }

    /// Where a login goes after it succeeds, given its `next` parameter:
    /// an absolute http(s) URL on a protected host (compared as
    /// [`Auth::forward_auth`] compares them), or authd's own authorization
    /// request ([`NextTarget::same_origin`]); anything else is `None`, and
    /// the login goes to `/me`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn next_target(&self, next: &str) -> AuthResult<Option<NextTarget>> {
        match parse_next(next) {
            Some(NextCandidate::Absolute(url)) => {
                let rules = self.site_rules().await?;
                Ok(rules
                    .sites
                    .contains_key(&url.host)
                    .then_some(NextTarget::ProtectedSite(url.url)))
            }
            Some(NextCandidate::Path(path)) => Ok(NextTarget::same_origin(&path)),
            None => Ok(None),
        }
    }

    /// The rules, read again when this server's copy is older than
    /// [`SITE_RULES_TTL_MS`](crate::SITE_RULES_TTL_MS) and the version row
    /// says they changed. One request reads the version; the others use the
    /// copy they have meanwhile.
    async fn site_rules(&self) -> AuthResult<Arc<Rules>> {
        let cache = &self.inner.site_rules;
        if let Some(rules) = cache.fresh(self.now_ms()) {
            return Ok(rules);
        }
        let _refreshing = match cache.refreshing.try_lock() {
            Ok(guard) => guard,
            Err(_) => match cache.current() {
                Some(rules) => return Ok(rules),
                None => cache.refreshing.lock().await,
            },
        };
        let now_ms = self.now_ms();
        if let Some(rules) = cache.fresh(now_ms) {
            return Ok(rules);
        }
        let known = cache.current().map(|rules| rules.version);
        let reloaded = self
            .db_read(move |conn| {
                // The version first: a change committed between the two
                // reads is read again at the next check, never missed.
                let version = SiteRow::rules_version(conn)?;
                if Some(version) == known {
                    return Ok(None);
                }
                Ok(Some((
                    version,
                    SiteRow::list(conn)?,
                    SiteRow::members(conn)?,
                )))
            })
            .await?;
        let rules = reloaded.map(|(version, sites, members)| rules_of(version, sites, members));
        if let Some(rules) = &rules {
            tracing::debug!(
                version = rules.version,
                sites = rules.sites.len(),
                "site rules loaded"
            );
        }
        cache.checked(now_ms, rules);
        cache
            .current()
            .ok_or_else(|| AuthError::Internal("no site rules".into()))
    }
}

/// The rules of the stored rows.
fn rules_of(version: i64, sites: Vec<SiteRow>, members: Vec<SiteMember>) -> Rules {
    let mut listed: HashMap<String, HashSet<String>> = HashMap::new();
    for member in members {
        listed
            .entry(member.host)
            .or_default()
            .insert(member.user_id);
    }
    let sites = sites
        .into_iter()
        .map(|site| {
            let rule = SiteRule {
                second_factor_required: site.second_factor != OPTIONAL,
                allowed: (site.allow != ANY).then(|| listed.remove(&site.host).unwrap_or_default()),
            };
            (site.host, rule)
        })
        .collect();
    Rules { version, sites }
}

/// Why a site was not added.
enum Refusal {
    /// An allowed account does not exist.
    NoAccount(String),
    /// The host is already protected.
    Taken,
}

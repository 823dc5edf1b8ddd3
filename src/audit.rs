//! The audit log (README "Audit log"): who did what to which object, from which address and
//! when — logins (also failed ones), changes of users, grants, tokens, profiles, torrents
//! (adds, deletes with or without data, moves, other changes) and settings, through the REST
//! API, the qBittorrent API or the command line. Kept 90 days in redb (`audit` table, keys
//! that sort by time); read by administrators (`GET /api/audit`). Recording never fails the
//! action it records: a storage failure is logged and the action goes on.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Store, Table};

/// Entries older than this are deleted (checked hourly).
pub const RETENTION_DAYS: i64 = 90;
/// Entries per page at most.
pub const PAGE_MAX: usize = 500;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The entry's key (`before` of the next page).
    #[serde(default)]
    pub id: String,
    pub at: DateTime<Utc>,
    /// Who (null: nobody was identified, e.g. a failed login's unknown name is in `target`).
    pub user: Option<String>,
    /// The client's address (after trusted proxies), null for the command line.
    pub ip: Option<String>,
    /// What: `login`, `login_failed`, `logout`, `user_create`, `user_update`,
    /// `user_delete`, `token_create`, `token_delete`, `profile_create`, `profile_update`,
    /// `profile_delete`, `torrent_add`, `torrent_delete`, `torrent_move`, `torrent_update`,
    /// `torrent_<action>` (pause, resume, …), `settings_update`, `backup`, or the command.
    pub action: String,
    /// On what: a user name, profile id, info hash, or a request path.
    pub target: Option<String>,
    /// More: the fields a change touched (never their values), `with data`, …
    pub detail: Option<String>,
    /// Through which door: `api`, `qbittorrent`, `cli`.
    pub via: String,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn key_of(at: DateTime<Utc>) -> String {
    format!(
        "{:016x}-{:08x}",
        at.timestamp_micros().max(0),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Records an entry (best effort).
pub fn record(store: &Store, mut e: AuditEntry) {
    let key = key_of(e.at);
    e.id = key.clone();
    if let Err(err) = store.write(|tx| tx.put(Table::Audit, &key, &e)) {
        tracing::warn!(action = %e.action, "could not record an audit entry: {err}");
    }
}

/// An entry for now.
pub fn entry(
    user: Option<&str>,
    ip: Option<std::net::IpAddr>,
    action: impl Into<String>,
    target: Option<String>,
    detail: Option<String>,
    via: &str,
) -> AuditEntry {
    AuditEntry {
        id: String::new(),
        at: Utc::now(),
        user: user.map(str::to_owned),
        ip: ip.map(|i| i.to_string()),
        action: action.into(),
        target,
        detail,
        via: via.into(),
    }
}

/// What to list.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pub before: Option<String>,
    pub limit: usize,
    pub user: Option<String>,
    /// An action, or a prefix ending in `*` (`torrent_*`).
    pub action: Option<String>,
    pub target: Option<String>,
}

/// A page of entries, newest first, and the `before` of the next page.
pub fn page(store: &Store, q: &Query) -> crate::store::Result<(Vec<AuditEntry>, Option<String>)> {
    let limit = q.limit.clamp(1, PAGE_MAX);
    let matches = |e: &AuditEntry| {
        q.user
            .as_deref()
            .is_none_or(|u| e.user.as_deref() == Some(u))
            && q.target
                .as_deref()
                .is_none_or(|t| e.target.as_deref() == Some(t))
            && q.action
                .as_deref()
                .is_none_or(|a| match a.strip_suffix('*') {
                    Some(prefix) => e.action.starts_with(prefix),
                    None => e.action == a,
                })
    };
    let (rows, next) = store.page_back(Table::Audit, q.before.as_deref(), limit, |v| {
        serde_json::from_slice::<AuditEntry>(v).is_ok_and(|e| matches(&e))
    })?;
    let entries = rows
        .into_iter()
        .filter_map(|(k, v)| {
            let mut e: AuditEntry = serde_json::from_slice(&v).ok()?;
            e.id = k;
            Some(e)
        })
        .collect();
    Ok((entries, next))
}

/// Deletes entries older than the retention; returns how many.
pub fn prune(store: &Store) -> crate::store::Result<u64> {
    let cut = Utc::now() - chrono::Duration::days(RETENTION_DAYS);
    store.delete_before(
        Table::Audit,
        &format!("{:016x}", cut.timestamp_micros().max(0)),
    )
}

/// Prunes at start and every hour.
pub fn spawn_prune(store: Store) {
    tokio::spawn(async move {
        loop {
            let s = store.clone();
            match tokio::task::spawn_blocking(move || prune(&s)).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(entries = n, "audit log: old entries deleted"),
                Ok(Err(e)) => tracing::warn!("audit log: pruning failed: {e}"),
                _ => {}
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
}

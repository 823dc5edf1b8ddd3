//! The redb store: the single source of truth for profiles, torrent records, users, sessions
//! and tokens. Values are JSON so that fields can be added with serde defaults; the schema
//! version in `meta` gates real migrations. Every mutation commits (fsync) before returning,
//! so an API answer always describes durable state.
//!
//! Faults (docs/reliability.md): after an I/O error redb refuses every later operation until
//! the database is closed and opened again, so the store keeps the `Database` in a slot it
//! can swap, reopens it on that error class and retries the operation once. Failed writes are
//! remembered for the health check until a write succeeds again. A file is verified through
//! a copy-on-write view (`snapshot`) before it is trusted, so a damaged file is reported and
//! never modified; records that do not decode are moved to a quarantine table at start.

mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tracing::{info, warn};

const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
const PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("profiles");
const TORRENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("torrents");
/// .torrent bytes by info hash, kept apart from the record so listing stays cheap.
const TORRENT_FILES: TableDefinition<&str, &[u8]> = TableDefinition::new("torrent_files");
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// Login sessions by SHA-256 of the cookie token.
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// API tokens by id; `TOKEN_HASHES` maps SHA-256 of the secret to the id.
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
const TOKEN_HASHES: TableDefinition<&str, &str> = TableDefinition::new("token_hashes");
/// Per-user UI preferences (columns, sort, ...) by username: a small JSON object.
const PREFERENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("preferences");
/// Per user: the labels created without a torrent (the qBittorrent API's `createTags`).
const LABELS: TableDefinition<&str, &[u8]> = TableDefinition::new("labels");
/// Settings changed at run time (`GET/PATCH /api/settings`), one JSON value per key.
const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");
/// Bytes per profile and minute (`engine/traffic.rs`), keys `PROFILE/UNIX_SECONDS`.
const HISTORY: TableDefinition<&str, &[u8]> = TableDefinition::new("history");
/// Notifications (`engine/notices.rs`), the last 500, by a key that sorts by time.
const NOTICES: TableDefinition<&str, &[u8]> = TableDefinition::new("notices");
/// RSS feeds, rules, fetch state and the history of grabbed items (`src/rss/`).
const RSS: TableDefinition<&str, &[u8]> = TableDefinition::new("rss");
/// Bytes each torrent uploaded in the running daemon's lifetime, by info hash, written once a
/// minute (`engine/traffic.rs`) so that a crash loses at most a minute of uploads; added to
/// the record's `uploaded_before` and forgotten at the next start (`Store::fold_uploads`)
/// or by a clean shutdown (`Store::save_run`).
const UPLOADS: TableDefinition<&str, &[u8]> = TableDefinition::new("uploads");
/// Who did what, from where, when (`audit.rs`), by a key that sorts by time.
const AUDIT: TableDefinition<&str, &[u8]> = TableDefinition::new("audit");
/// Records set aside at start because they did not decode, by `table/key`.
const QUARANTINE: TableDefinition<&str, &[u8]> = TableDefinition::new("quarantine");

/// redb's default cache may grow to 1 GiB; our records are small and a NAS has little memory
/// to spare. The daemon reads a record when it changes or a torrent is attached, never in a
/// hot loop (lists come from the engine's memory), so a page not cached is one `pread` from
/// the kernel's page cache: 1 MiB (half of it the write buffer) costs nothing measurable,
/// where the 16 MiB used before held 1.3 MiB with 1,000 torrents and all of it with 10,000
/// (BENCHMARKS.md, "Memory").
const CACHE_BYTES: usize = 1024 * 1024;

/// How long a failed reopen is not retried (every request would otherwise run a repair).
const REOPEN_BACKOFF: Duration = Duration::from_secs(1);
/// What the health check writes to see whether a store whose writes failed works again.
const PROBE_BYTES: usize = 512 * 1024;
/// How often the health check may probe a store whose writes failed.
const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// Rows of a table (key, raw value) and the key to continue from (`Store::page_back`).
pub type Page = (Vec<(String, Vec<u8>)>, Option<String>);

/// The JSON tables owned by other modules (auth), addressed generically.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Users,
    Sessions,
    Tokens,
    Preferences,
    Labels,
    Settings,
    Audit,
    History,
    Notices,
    Rss,
    Uploads,
}

impl Table {
    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Table::Users => USERS,
            Table::Sessions => SESSIONS,
            Table::Tokens => TOKENS,
            Table::Preferences => PREFERENCES,
            Table::Labels => LABELS,
            Table::Settings => SETTINGS,
            Table::Audit => AUDIT,
            Table::History => HISTORY,
            Table::Notices => NOTICES,
            Table::Rss => RSS,
            Table::Uploads => UPLOADS,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Sessions => "sessions",
            Table::Tokens => "tokens",
            Table::Preferences => "preferences",
            Table::Labels => "labels",
            Table::Settings => "settings",
            Table::Audit => "audit",
            Table::History => "history",
            Table::Notices => "notices",
            Table::Rss => "rss",
            Table::Uploads => "uploads",
        }
    }
}

/// A write transaction over the generic tables; committed by `Store::write` when the
/// closure succeeds, rolled back otherwise.
pub struct Tx {
    tx: redb::WriteTransaction,
    /// The first storage failure seen inside the closure (for the health state).
    failure: std::cell::RefCell<Option<StoreError>>,
}

impl Tx {
    fn note<T>(&self, r: std::result::Result<T, impl Into<redb::Error>>) -> Result<T> {
        r.map_err(|e| {
            let e = classify(e.into());
            let mut failure = self.failure.borrow_mut();
            if e.is_storage_failure() && failure.is_none() {
                *failure = Some(e.clone());
            }
            e
        })
    }
    pub fn get<T: DeserializeOwned>(&self, t: Table, key: &str) -> Result<Option<T>> {
        let bytes = {
            let table = self.tx.open_table(t.def());
            let table = self.note(table)?;
            let v = table.get(key).map(|v| v.map(|v| v.value().to_vec()));
            self.note(v)?
        };
        match bytes {
            Some(v) => Ok(Some(decode(t.name(), key, &v)?)),
            None => Ok(None),
        }
    }
    pub fn put<T: Serialize>(&mut self, t: Table, key: &str, v: &T) -> Result<()> {
        let r = self
            .tx
            .open_table(t.def())
            .map_err(redb::Error::from)
            .and_then(|mut table| {
                table
                    .insert(key, encode(v).as_slice())
                    .map(|_| ())
                    .map_err(redb::Error::from)
            });
        self.note(r)
    }
    pub fn delete(&mut self, t: Table, key: &str) -> Result<bool> {
        let r = self
            .tx
            .open_table(t.def())
            .map_err(redb::Error::from)
            .and_then(|mut table| {
                table
                    .remove(key)
                    .map(|v| v.is_some())
                    .map_err(redb::Error::from)
            });
        self.note(r)
    }
    pub fn list<T: DeserializeOwned>(&self, t: Table) -> Result<Vec<(String, T)>> {
        let raw = {
            let table = self.tx.open_table(t.def());
            let table = self.note(table)?;
            let rows = raw_rows(&table);
            self.note(rows)?
        };
        raw.into_iter()
            .map(|(k, v)| {
                let d = decode(t.name(), &k, &v)?;
                Ok((k, d))
            })
            .collect()
    }
    pub fn put_token_hash(&mut self, hash: &str, id: &str) -> Result<()> {
        let r = self
            .tx
            .open_table(TOKEN_HASHES)
            .map_err(redb::Error::from)
            .and_then(|mut t| t.insert(hash, id).map(|_| ()).map_err(redb::Error::from));
        self.note(r)
    }
    pub fn delete_token_hash(&mut self, hash: &str) -> Result<()> {
        let r = self
            .tx
            .open_table(TOKEN_HASHES)
            .map_err(redb::Error::from)
            .and_then(|mut t| t.remove(hash).map(|_| ()).map_err(redb::Error::from));
        self.note(r)
    }
}

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the database {path} is locked by another process (is the daemon running?)")]
    Locked { path: PathBuf },
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    TooNew { found: u32, supported: u32 },
    /// The disk holding the database is full (ENOSPC or a quota): nothing was saved.
    #[error("no space left on the disk holding the database: {0}")]
    NoSpace(String),
    /// Any other I/O failure of the database file, or a database that could not be reopened
    /// after one: nothing was saved.
    #[error("the database cannot be used after an I/O error: {0}")]
    Unavailable(String),
    /// redb found damaged pages or headers.
    #[error("the database file is damaged: {0}")]
    Damaged(String),
    #[error("this view of the database is read-only")]
    ReadOnly,
    #[error("database error: {0}")]
    Db(#[source] Arc<redb::Error>),
    #[error("opening the database failed: {0}")]
    Open(#[source] Arc<redb::DatabaseError>),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A broken invariant of this module (a bug), never the caller's input.
    #[error("internal store error: {0}")]
    Internal(&'static str),
    #[error("corrupt record in {table}/{key}: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    /// redb refuses every operation after an I/O error until the database is reopened. Seen
    /// only inside this module: operations reopen and retry, then report `Unavailable`.
    #[error("a previous I/O error left the database unusable until it is reopened")]
    PreviousIo,
}

impl StoreError {
    /// Failures of the storage under the database (not of the data or the request).
    pub fn is_storage_failure(&self) -> bool {
        matches!(
            self,
            StoreError::NoSpace(_) | StoreError::Unavailable(_) | StoreError::PreviousIo
        )
    }
}

fn is_no_space(e: &std::io::Error) -> bool {
    // ENOSPC, EDQUOT
    matches!(e.raw_os_error(), Some(28) | Some(122))
        || matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
}

fn classify_io(e: &std::io::Error) -> StoreError {
    if is_no_space(e) {
        StoreError::NoSpace(e.to_string())
    } else {
        StoreError::Unavailable(e.to_string())
    }
}

fn classify(e: redb::Error) -> StoreError {
    match e {
        redb::Error::Io(io) => classify_io(&io),
        redb::Error::PreviousIo
        | redb::Error::DatabaseClosed
        | redb::Error::TransactionPoisoned => StoreError::PreviousIo,
        redb::Error::Corrupted(s) => StoreError::Damaged(s),
        other => StoreError::Db(Arc::new(other)),
    }
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { classify(e.into()) }
        }
    )*};
}
db_err!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

fn from_database_error(path: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => {
            StoreError::Locked {
                path: path.to_owned(),
            }
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(e))
            if e.kind() == std::io::ErrorKind::WouldBlock =>
        {
            StoreError::Locked {
                path: path.to_owned(),
            }
        }
        redb::DatabaseError::Storage(s) => classify(s.into()),
        redb::DatabaseError::UpgradeRequired(v) => StoreError::Damaged(format!(
            "the file uses redb file format {v}, which this build cannot read"
        )),
        other => StoreError::Open(Arc::new(other)),
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Share limits (`engine/share.rs` applies them): what happens when a share limit is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareAction {
    Pause,
    Remove,
    RemoveWithData,
}

impl ShareLimits {
    /// Nothing set at this level (everything inherited).
    pub fn is_unset(&self) -> bool {
        *self == ShareLimits::default()
    }
}

impl ShareAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareAction::Pause => "pause",
            ShareAction::Remove => "remove",
            ShareAction::RemoveWithData => "remove_with_data",
        }
    }
}

/// Share limits at one level. `None` inherits; `-1` is "no limit".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShareLimits {
    /// Uploaded / size at which to act (0 to 1000), -1 for none, null to inherit.
    #[serde(default)]
    pub ratio_limit: Option<f64>,
    /// Minutes of seeding after completion at which to act (0 to 5,256,000), -1 for none,
    /// null to inherit.
    #[serde(default)]
    pub seed_time_limit: Option<i64>,
    /// null inherits (the default action is `pause`).
    #[serde(default)]
    pub share_action: Option<ShareAction>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProfileRecord {
    pub id: String,
    pub name: String,
    pub download_dir: PathBuf,
    #[serde(default)]
    pub max_active_downloads: u32,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// The profile's share limits (null fields inherit the global ones).
    #[serde(default, skip_serializing_if = "ShareLimits::is_unset")]
    pub share: ShareLimits,
    /// Speed limits shared by the profile's torrents, bytes/s (0 = unlimited).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dl_limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ul_limit: u64,
    /// Free bytes kept on the download filesystem (`None`: the default, 1 GiB; 0: no guard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_free_space: Option<u64>,
    /// Where completed torrents move to (`None`: they stay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_dir: Option<PathBuf>,
    /// A folder whose `.torrent` files are added to the profile (`watch.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_dir: Option<PathBuf>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TorrentRecord {
    /// 40 lowercase hex chars.
    pub hash: String,
    pub profile: String,
    /// Display name (from the info dict, or the magnet's `dn` until metadata arrives).
    #[serde(default)]
    pub name: Option<String>,
    /// The magnet the torrent was added from, if any (kept to re-resolve metadata).
    #[serde(default)]
    pub magnet: Option<String>,
    #[serde(default)]
    pub source_url: Option<String>,
    /// Whether `.torrent` bytes are stored (false only while a magnet is resolving).
    #[serde(default)]
    pub has_metadata: bool,
    pub queue_position: u64,
    /// Labels in the order given (the qBittorrent API's tags); the first is the `label` of
    /// older clients.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The one label of a record written before torrents had several: folded into `labels`
    /// when read ([`Store::torrents`]), never written.
    #[serde(default, rename = "label", skip_serializing)]
    pub legacy_label: Option<String>,
    /// The torrent's own share limits (null fields inherit the profile's).
    #[serde(default, skip_serializing_if = "ShareLimits::is_unset")]
    pub share: ShareLimits,
    /// The torrent's own speed limits, bytes/s (0 = unlimited).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dl_limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ul_limit: u64,
    /// The tracker URLs a user set (`None`: the torrent's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trackers: Option<Vec<String>>,
    /// Where the torrent's data is being moved to: set before a move starts and cleared
    /// with the new `save_dir`, so that a move a crash interrupted is finished at the next
    /// start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_to: Option<PathBuf>,
    /// A name a user gave the torrent, shown instead of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub only_files: Option<Vec<usize>>,
    /// Paused by a user; the queue never undoes it.
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub force_start: bool,
    /// Peers to dial besides trackers (from `x.pe` or the add request).
    #[serde(default)]
    pub peers: Vec<std::net::SocketAddr>,
    /// Directory the torrent's files (or its top folder) live in, under the profile dir.
    pub save_dir: PathBuf,
    pub added_at: DateTime<Utc>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// Bytes transferred in earlier runs, so ratio survives restarts.
    #[serde(default)]
    pub uploaded_before: u64,
    #[serde(default)]
    pub downloaded_before: u64,
}

/// A record set aside because it could not be read (listed by `pytorrentd check`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuarantinedRecord {
    pub table: String,
    pub key: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The record's bytes, hex-encoded (they need not be text).
    pub raw_hex: String,
}

/// What `Store::inspect` found at a database path, without modifying it.
#[derive(Debug, Clone, PartialEq)]
pub enum Inspection {
    Missing,
    /// A file of 0 bytes (never initialized, or emptied by something else).
    Empty,
    Usable {
        schema: u32,
    },
    Damaged(String),
    TooNew {
        found: u32,
    },
    /// Another process holds it (a running daemon).
    Locked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The file itself, read-write.
    File,
    /// A copy-on-write view of the file: reads only (writes are refused).
    View,
}

struct Slot {
    /// `None` after a failed reopen, until one succeeds.
    db: Option<Database>,
    /// Bumped at each reopen, so that concurrent callers reopen once.
    generation: u64,
    failed_reopen: Option<(Instant, StoreError)>,
}

#[derive(Default)]
struct Health {
    /// The last storage failure of a write, cleared by the next successful write.
    failing: Option<StoreError>,
    last_probe: Option<Instant>,
}

struct Inner {
    path: PathBuf,
    mode: Mode,
    slot: RwLock<Slot>,
    health: Mutex<Health>,
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

fn decode<T: DeserializeOwned>(table: &'static str, key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// Every (key, value bytes) of a JSON table.
fn raw_rows(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> std::result::Result<Vec<(String, Vec<u8>)>, redb::StorageError> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.push((k.value().to_owned(), v.value().to_vec()));
    }
    Ok(out)
}

/// Every (key, decoded value) of a JSON table.
fn collect<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &'static str,
) -> Result<Vec<(String, T)>> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.push((k.value().to_owned(), decode(name, k.value(), v.value())?));
    }
    Ok(out)
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

fn builder() -> redb::Builder {
    let mut b = redb::Builder::new();
    b.set_cache_size(CACHE_BYTES);
    b
}

/// Runs `f`, turning a panic inside redb (which it documents for files altered outside it)
/// into an error, without printing the panic on this thread.
fn no_panic<R>(f: impl FnOnce() -> Result<R>) -> Result<R> {
    type Hook = dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send;
    let me = std::thread::current().id();
    let prev: Arc<Box<Hook>> = Arc::new(std::panic::take_hook());
    let prev2 = prev.clone();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() != me {
            prev2(info);
        }
    }));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let _ = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| prev(info)));
    match r {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown failure".into());
            Err(StoreError::Damaged(format!(
                "redb failed reading it: {msg}"
            )))
        }
    }
}

/// Which JSON tables hold records that must decode for the daemon to use them.
const CHECKED_TABLES: [&str; 5] = ["profiles", "torrents", "users", "sessions", "tokens"];

fn table_def(name: &str) -> Option<TableDefinition<'static, &'static str, &'static [u8]>> {
    Some(match name {
        "profiles" => PROFILES,
        "torrents" => TORRENTS,
        "users" => USERS,
        "sessions" => SESSIONS,
        "tokens" => TOKENS,
        _ => return None,
    })
}

/// Why a record of `table` cannot be used, or `None` when it can.
fn unreadable_reason(table: &str, key: &str, bytes: &[u8]) -> Option<String> {
    match table {
        "profiles" => match serde_json::from_slice::<ProfileRecord>(bytes) {
            Ok(p) if p.id == key => None,
            Ok(p) => Some(format!("the record's id '{}' differs from its key", p.id)),
            Err(e) => Some(e.to_string()),
        },
        "torrents" => match serde_json::from_slice::<TorrentRecord>(bytes) {
            Ok(t) if t.hash != key => Some(format!(
                "the record's hash '{}' differs from its key",
                t.hash
            )),
            Ok(t)
                if t.hash.len() != 40
                    || !t
                        .hash
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                Some("the key is not a 40-character info hash".into())
            }
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        },
        // Owned by the auth layer; here only "is it a JSON object".
        _ => match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(serde_json::Value::Object(_)) => None,
            Ok(_) => Some("not a JSON object".into()),
            Err(e) => Some(e.to_string()),
        },
    }
}

/// What `pytorrentd check` prints about one table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableReport {
    pub table: String,
    pub readable: Vec<String>,
    /// (key, reason)
    pub unreadable: Vec<(String, String)>,
    /// Set when the table itself could not be read (to the end).
    pub error: Option<String>,
}

/// Everything readable in a database, for `pytorrentd check`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub schema: Option<u32>,
    pub tables: Vec<TableReport>,
    pub torrents_by_profile: Vec<(String, usize)>,
    pub torrent_files: Option<usize>,
    pub quarantined: Vec<QuarantinedRecord>,
}

/// Copies one table (absent in an older file: nothing) from a read transaction into a write
/// transaction of another database; returns the rows copied.
fn copy_table<V: redb::Value + 'static>(
    from: &redb::ReadTransaction,
    to: &redb::WriteTransaction,
    def: TableDefinition<&'static str, V>,
) -> Result<u64> {
    let src = match from.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut dst = to.open_table(def)?;
    let mut n = 0;
    for row in src.iter()? {
        let (k, v) = row?;
        dst.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

impl Store {
    /// Writes a consistent copy of the whole database to a new redb file at `dest` (every
    /// table, read in one read transaction, so a write in between is either all in or all
    /// out). Returns the number of records copied. Used by backups while the daemon runs.
    pub fn copy_to(&self, dest: &Path) -> Result<u64> {
        const BYTES: [TableDefinition<&str, &[u8]>; 15] = [
            AUDIT,
            UPLOADS,
            NOTICES,
            RSS,
            HISTORY,
            PROFILES,
            TORRENTS,
            TORRENT_FILES,
            USERS,
            SESSIONS,
            TOKENS,
            PREFERENCES,
            LABELS,
            SETTINGS,
            QUARANTINE,
        ];
        const TEXT: [TableDefinition<&str, &str>; 2] = [META, TOKEN_HASHES];
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let out = Database::builder()
                .set_cache_size(CACHE_BYTES)
                .create(dest)
                .map_err(|e| from_database_error(dest, e))?;
            let w = out.begin_write()?;
            let mut n = 0u64;
            for def in BYTES {
                n += copy_table(&tx, &w, def)?;
            }
            for def in TEXT {
                n += copy_table(&tx, &w, def)?;
            }
            w.commit()?;
            Ok(n)
        })
    }

    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("pytorrentd.redb")
    }

    /// Opens (or creates) the database and runs migrations. Callers that must not create a
    /// database or modify an untrusted one check it first with `inspect` (see `daemon`).
    pub fn open(data_dir: &Path) -> Result<Store> {
        let path = Self::path(data_dir);
        let db = builder()
            .create(&path)
            .map_err(|e| from_database_error(&path, e))?;
        Self::from_db(path, db, Mode::File)
    }

    /// Opens an existing database file read-write (never creates one).
    pub fn open_existing(data_dir: &Path) -> Result<Store> {
        let path = Self::path(data_dir);
        let db = open_file(&path)?;
        Self::from_db(path, db, Mode::File)
    }

    /// A read-only view of an existing database: nothing is ever written to the file, even
    /// when redb has to recover it from a crash first.
    pub fn open_view(data_dir: &Path) -> Result<Store> {
        let path = Self::path(data_dir);
        let db = open_view(&path, false)?;
        Self::from_db(path, db, Mode::View)
    }

    fn from_db(path: PathBuf, db: Database, mode: Mode) -> Result<Store> {
        let store = Store {
            inner: Arc::new(Inner {
                path,
                mode,
                slot: RwLock::new(Slot {
                    db: Some(db),
                    generation: 0,
                    failed_reopen: None,
                }),
                health: Mutex::default(),
            }),
        };
        if mode == Mode::File {
            // Before anything secret is written: the file must be ours alone
            // (src/private_fs.rs).
            let path = &store.inner.path;
            crate::private_fs::restrict(path, 0o600).map_err(|e| StoreError::Io {
                what: format!("making {} private", path.display()),
                source: Arc::new(e),
            })?;
            store.migrate()?;
        }
        Ok(store)
    }

    pub fn file_path(&self) -> &Path {
        &self.inner.path
    }

    /// Looks at a database file without modifying it: missing, empty, locked, damaged (every
    /// page checksum is verified on a copy-on-write view), from a newer schema, or usable.
    pub fn inspect(path: &Path) -> Inspection {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Inspection::Missing,
            Err(e) => return Inspection::Damaged(format!("cannot read it: {e}")),
            Ok(m) if m.len() == 0 => return Inspection::Empty,
            Ok(_) => {}
        }
        let r = no_panic(|| {
            let db = open_view(path, true)?;
            let tx = db.begin_read()?;
            let version = match tx.open_table(META) {
                Ok(meta) => meta
                    .get("schema_version")?
                    .map(|v| v.value().parse::<u32>().unwrap_or(u32::MAX)),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(e.into()),
            };
            Ok(version.unwrap_or(0))
        });
        match r {
            Ok(found) if found > SCHEMA_VERSION => Inspection::TooNew { found },
            Ok(schema) => Inspection::Usable { schema },
            Err(StoreError::Locked { .. }) => Inspection::Locked,
            Err(e) => Inspection::Damaged(damage_text(e)),
        }
    }

    fn migrate(&self) -> Result<()> {
        // Nothing is written when the file is already current (a CLI command must not rewrite
        // the database just by opening it).
        let current = self.with_db(|db| {
            let tx = db.begin_read()?;
            let version = match tx.open_table(META) {
                Ok(meta) => meta
                    .get("schema_version")?
                    .and_then(|v| v.value().parse::<u32>().ok())
                    .unwrap_or(0),
                Err(redb::TableError::TableDoesNotExist(_)) => 0,
                Err(e) => return Err(e.into()),
            };
            if version > SCHEMA_VERSION {
                return Err(StoreError::TooNew {
                    found: version,
                    supported: SCHEMA_VERSION,
                });
            }
            let all_tables = version == SCHEMA_VERSION
                && tx.open_table(QUARANTINE).is_ok()
                && tx.open_table(TOKEN_HASHES).is_ok()
                && tx.open_table(PREFERENCES).is_ok()
                && tx.open_table(LABELS).is_ok()
                && tx.open_table(SETTINGS).is_ok()
                && tx.open_table(AUDIT).is_ok()
                && tx.open_table(HISTORY).is_ok()
                && tx.open_table(NOTICES).is_ok()
                && tx.open_table(RSS).is_ok();
            Ok(all_tables)
        })?;
        if current {
            return Ok(());
        }
        self.with_write(|tx| {
            {
                let mut meta = tx.open_table(META)?;
                // Version 0 → 1: create the tables. Later versions add steps here.
                tx.open_table(PROFILES)?;
                tx.open_table(TORRENTS)?;
                tx.open_table(TORRENT_FILES)?;
                tx.open_table(USERS)?;
                tx.open_table(SESSIONS)?;
                tx.open_table(TOKENS)?;
                tx.open_table(TOKEN_HASHES)?;
                tx.open_table(QUARANTINE)?;
                // Added later without a version bump: opening creates it in older files too.
                tx.open_table(PREFERENCES)?;
                tx.open_table(LABELS)?;
                tx.open_table(SETTINGS)?;
                tx.open_table(AUDIT)?;
                tx.open_table(HISTORY)?;
                tx.open_table(NOTICES)?;
                tx.open_table(RSS)?;
                meta.insert("schema_version", SCHEMA_VERSION.to_string().as_str())?;
            }
            Ok(())
        })
    }

    pub fn schema_version(&self) -> Result<u32> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let meta = tx.open_table(META)?;
            Ok(meta
                .get("schema_version")?
                .and_then(|v| v.value().parse().ok())
                .unwrap_or(0))
        })
    }

    // ---- the database slot: reopen after I/O errors, health ----

    fn read_slot(&self) -> RwLockReadGuard<'_, Slot> {
        self.inner.slot.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes and reopens the database after an I/O error, unless another caller already
    /// did since `seen` (then there is nothing to do) or a reopen just failed.
    fn reopen(&self, seen: u64) -> Result<()> {
        let mut slot = self.inner.slot.write().unwrap_or_else(|e| e.into_inner());
        if slot.generation != seen {
            return Ok(());
        }
        if let Some((at, e)) = &slot.failed_reopen
            && at.elapsed() < REOPEN_BACKOFF
        {
            return Err(e.clone());
        }
        if self.inner.mode == Mode::View {
            return Err(StoreError::Unavailable(
                "reading the database failed".into(),
            ));
        }
        // Every operation holds the slot's read lock for its whole duration, so nothing uses
        // the old handle now: dropping it closes the file and releases its lock.
        slot.db = None;
        match open_file(&self.inner.path) {
            Ok(db) => {
                info!(path = %self.inner.path.display(), "database reopened after an I/O error");
                slot.db = Some(db);
                slot.generation += 1;
                slot.failed_reopen = None;
                Ok(())
            }
            Err(e) => {
                let e = match e {
                    e @ (StoreError::NoSpace(_) | StoreError::Unavailable(_)) => e,
                    other => StoreError::Unavailable(other.to_string()),
                };
                warn!(path = %self.inner.path.display(), "reopening the database failed: {e}");
                slot.failed_reopen = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    /// Runs a read (or self-contained write) against the database; after a previous I/O
    /// error the database is reopened and `op` runs once more.
    fn with_db<R>(&self, op: impl Fn(&Database) -> Result<R>) -> Result<R> {
        let mut retried = false;
        loop {
            let (generation, r) = {
                let slot = self.read_slot();
                let r = match &slot.db {
                    Some(db) => op(db),
                    None => Err(StoreError::PreviousIo),
                };
                (slot.generation, r)
            };
            match r {
                Err(StoreError::PreviousIo) if !retried => {
                    retried = true;
                    self.reopen(generation)?;
                }
                Err(StoreError::PreviousIo) => {
                    return Err(StoreError::Unavailable(
                        "the database failed again right after being reopened".into(),
                    ));
                }
                r => return r,
            }
        }
    }

    /// One write transaction built by `f` and committed; storage failures are recorded for
    /// the health check, success clears them.
    fn with_write<R>(&self, f: impl Fn(&redb::WriteTransaction) -> Result<R>) -> Result<R> {
        if self.inner.mode == Mode::View {
            return Err(StoreError::ReadOnly);
        }
        let r = self.with_db(|db| {
            let tx = db.begin_write()?;
            let v = f(&tx)?;
            tx.commit()?;
            Ok(v)
        });
        self.record(r.as_ref().err());
        r
    }

    fn record(&self, err: Option<&StoreError>) {
        let mut h = self.inner.health.lock().unwrap_or_else(|e| e.into_inner());
        match err {
            None => {
                if h.failing.take().is_some() {
                    info!("database writes work again");
                }
            }
            Some(e) if e.is_storage_failure() => {
                if h.failing.is_none() {
                    warn!(path = %self.inner.path.display(), "database write failed: {e}");
                }
                h.failing = Some(e.clone());
            }
            Some(_) => {}
        }
    }

    /// `Ok` when writes work; otherwise what fails, in words fit for an unauthenticated
    /// health check (no paths). A store whose last write failed is probed at most every
    /// two seconds, so health turns back to ok once space returns. The probe writes
    /// `PROBE_BYTES`, about what a large change (an add of a big .torrent) needs: a tiny write
    /// can succeed in pages the database file already has while the disk is still full.
    pub fn health(&self) -> std::result::Result<(), String> {
        let failing = {
            let mut h = self.inner.health.lock().unwrap_or_else(|e| e.into_inner());
            let Some(e) = h.failing.clone() else {
                return Ok(());
            };
            if h.last_probe.is_some_and(|t| t.elapsed() < PROBE_INTERVAL) {
                return Err(health_text(&e));
            }
            h.last_probe = Some(Instant::now());
            e
        };
        let probe = self.with_write(|tx| {
            let mut probe = Utc::now().to_rfc3339();
            probe.extend(std::iter::repeat_n(' ', PROBE_BYTES));
            tx.open_table(META)?
                .insert("health_probe", probe.as_str())?;
            Ok(())
        });
        match probe {
            Ok(()) => Ok(()),
            Err(e) if e.is_storage_failure() => Err(health_text(&e)),
            Err(_) => Err(health_text(&failing)),
        }
    }

    fn all<T: DeserializeOwned>(
        &self,
        def: TableDefinition<&str, &[u8]>,
        name: &'static str,
    ) -> Result<Vec<T>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let rows = collect(&tx.open_table(def)?, name)?;
            Ok(rows.into_iter().map(|(_, v)| v).collect())
        })
    }

    fn get<T: DeserializeOwned>(
        &self,
        def: TableDefinition<&str, &[u8]>,
        name: &'static str,
        key: &str,
    ) -> Result<Option<T>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(def)?;
            match table.get(key)? {
                Some(v) => Ok(Some(decode(name, key, v.value())?)),
                None => Ok(None),
            }
        })
    }

    // ---- generic JSON tables ----

    pub fn get_json<T: DeserializeOwned>(&self, t: Table, key: &str) -> Result<Option<T>> {
        self.get(t.def(), t.name(), key)
    }

    pub fn list_json<T: DeserializeOwned>(&self, t: Table) -> Result<Vec<(String, T)>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            collect(&tx.open_table(t.def())?, t.name())
        })
    }

    /// Up to `limit` raw values of a table with keys below `before` (all keys when `None`),
    /// newest key first, that `keep` accepts; and the key to continue from when more remain.
    pub fn page_back(
        &self,
        t: Table,
        before: Option<&str>,
        limit: usize,
        keep: impl Fn(&[u8]) -> bool,
    ) -> Result<Page> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(t.def())?;
            let range = match before {
                Some(b) => table.range::<&str>(..b)?,
                None => table.range::<&str>(..)?,
            };
            let mut out = Vec::new();
            for row in range.rev() {
                let (k, v) = row?;
                if !keep(v.value()) {
                    continue;
                }
                if out.len() == limit {
                    let next = out.last().map(|(k, _): &(String, Vec<u8>)| k.clone());
                    return Ok((out, next));
                }
                out.push((k.value().to_owned(), v.value().to_vec()));
            }
            Ok((out, None))
        })
    }

    /// The decoded values of a table with keys from `from` to `to` (exclusive), in key order.
    pub fn range_json<T: DeserializeOwned>(
        &self,
        t: Table,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, T)>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(t.def())?;
            let mut out = Vec::new();
            for row in table.range::<&str>(from..to)? {
                let (k, v) = row?;
                out.push((
                    k.value().to_owned(),
                    decode(t.name(), k.value(), v.value())?,
                ));
            }
            Ok(out)
        })
    }

    /// Deletes the entries of a table with keys below `before`; returns how many.
    pub fn delete_before(&self, t: Table, before: &str) -> Result<u64> {
        self.with_write(|tx| {
            let mut table = tx.open_table(t.def())?;
            let n = table
                .extract_from_if::<&str, _>(..before, |_, _| true)?
                .count() as u64;
            Ok(n)
        })
    }

    pub fn token_id_by_hash(&self, hash: &str) -> Result<Option<String>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(TOKEN_HASHES)?;
            Ok(table.get(hash)?.map(|v| v.value().to_owned()))
        })
    }

    /// Runs `f` in one write transaction, committed only if it returns `Ok`. After a previous
    /// I/O error the database is reopened first (before `f` runs, so `f` runs at most once).
    pub fn write<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        if self.inner.mode == Mode::View {
            return Err(StoreError::ReadOnly.into());
        }
        let mut retried = false;
        let mut f = Some(f);
        loop {
            let slot = self.read_slot();
            let generation = slot.generation;
            let begun = match &slot.db {
                Some(db) => db.begin_write().map_err(StoreError::from),
                None => Err(StoreError::PreviousIo),
            };
            match begun {
                Ok(tx) => {
                    let Some(f) = f.take() else {
                        return Err(StoreError::Internal("write closure already used").into());
                    };
                    let tx = Tx {
                        tx,
                        failure: Default::default(),
                    };
                    let mut tx = tx;
                    let r = f(&mut tx);
                    let failure = tx.failure.take();
                    return match r {
                        Ok(v) => match tx.tx.commit() {
                            Ok(()) => {
                                drop(slot);
                                self.record(None);
                                Ok(v)
                            }
                            Err(e) => {
                                drop(slot);
                                let e = match StoreError::from(e) {
                                    StoreError::PreviousIo => {
                                        StoreError::Unavailable("the commit failed".into())
                                    }
                                    e => e,
                                };
                                self.record(Some(&e));
                                Err(e.into())
                            }
                        },
                        Err(e) => {
                            drop(slot);
                            if let Some(fail) = failure {
                                self.record(Some(&fail));
                            }
                            Err(e)
                        }
                    };
                }
                Err(StoreError::PreviousIo) if !retried => {
                    drop(slot);
                    retried = true;
                    if let Err(e) = self.reopen(generation) {
                        self.record(Some(&e));
                        return Err(e.into());
                    }
                }
                Err(e) => {
                    drop(slot);
                    let e = match e {
                        StoreError::PreviousIo => StoreError::Unavailable(
                            "the database failed again right after being reopened".into(),
                        ),
                        e => e,
                    };
                    self.record(Some(&e));
                    return Err(e.into());
                }
            }
        }
    }

    // ---- profiles ----

    pub fn profiles(&self) -> Result<Vec<ProfileRecord>> {
        self.all(PROFILES, "profiles")
    }

    pub fn profile(&self, id: &str) -> Result<Option<ProfileRecord>> {
        self.get(PROFILES, "profiles", id)
    }

    pub fn put_profile(&self, p: &ProfileRecord) -> Result<()> {
        let bytes = encode(p);
        self.with_write(|tx| {
            tx.open_table(PROFILES)?
                .insert(p.id.as_str(), bytes.as_slice())?;
            Ok(())
        })
    }

    pub fn delete_profile(&self, id: &str) -> Result<bool> {
        self.with_write(|tx| Ok(tx.open_table(PROFILES)?.remove(id)?.is_some()))
    }

    // ---- torrents ----

    pub fn torrents(&self) -> Result<Vec<TorrentRecord>> {
        let mut all: Vec<TorrentRecord> = self.all(TORRENTS, "torrents")?;
        for r in &mut all {
            if let Some(l) = r.legacy_label.take()
                && r.labels.is_empty()
                && !l.is_empty()
            {
                r.labels.push(l);
            }
        }
        Ok(all)
    }

    pub fn torrent_file(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(TORRENT_FILES)?;
            Ok(table.get(hash)?.map(|v| v.value().to_vec()))
        })
    }

    /// Inserts or replaces records (and optionally .torrent bytes) in one transaction.
    pub fn put_torrents(&self, records: &[&TorrentRecord], files: &[(&str, &[u8])]) -> Result<()> {
        self.write_torrents(records, files, false)
    }

    /// `put_torrents`, and with `forget_uploads` the `UPLOADS` table emptied in the same
    /// transaction.
    fn write_torrents(
        &self,
        records: &[&TorrentRecord],
        files: &[(&str, &[u8])],
        forget_uploads: bool,
    ) -> Result<()> {
        let encoded: Vec<(&str, Vec<u8>)> = records
            .iter()
            .map(|r| (r.hash.as_str(), encode(r)))
            .collect();
        self.with_write(|tx| {
            let mut t = tx.open_table(TORRENTS)?;
            for (hash, bytes) in &encoded {
                t.insert(*hash, bytes.as_slice())?;
            }
            let mut f = tx.open_table(TORRENT_FILES)?;
            for (hash, bytes) in files {
                f.insert(*hash, *bytes)?;
            }
            if forget_uploads {
                tx.open_table(UPLOADS)?.retain(|_, _| false)?;
            }
            Ok(())
        })
    }

    pub fn delete_torrent(&self, hash: &str) -> Result<()> {
        self.with_write(|tx| {
            tx.open_table(TORRENTS)?.remove(hash)?;
            tx.open_table(TORRENT_FILES)?.remove(hash)?;
            tx.open_table(UPLOADS)?.remove(hash)?;
            Ok(())
        })
    }

    /// A clean shutdown: writes the records (with this run's uploads in `uploaded_before`)
    /// and forgets the uploads written during the run, in one transaction, so that the next
    /// start does not add them again.
    pub fn save_run(&self, records: &[&TorrentRecord]) -> Result<()> {
        self.write_torrents(records, &[], true)
    }

    /// At start: adds the uploads the last run wrote (`UPLOADS`) but did not fold in at a
    /// clean shutdown (it crashed, or the power went) to their records, and forgets them, in
    /// one transaction. Returns how many records grew. Writes nothing when there is nothing.
    pub fn fold_uploads(&self) -> Result<usize> {
        let pending = self.with_db(|db| {
            let tx = db.begin_read()?;
            let t = match tx.open_table(UPLOADS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
                Err(e) => return Err(e.into()),
            };
            Ok(!t.is_empty()?)
        })?;
        if !pending {
            return Ok(0);
        }
        self.with_write(|tx| {
            let mut uploads = tx.open_table(UPLOADS)?;
            let mut torrents = tx.open_table(TORRENTS)?;
            let mut grown = 0;
            for row in uploads.iter()? {
                let (k, v) = row?;
                let hash = k.value();
                let Ok(bytes) = decode::<u64>("uploads", hash, v.value()) else {
                    warn!(%hash, "an unreadable upload count is dropped");
                    continue;
                };
                // A record that is gone, or cannot be read (quarantined later), gets nothing.
                let rec = torrents
                    .get(hash)?
                    .map(|r| decode::<TorrentRecord>("torrents", hash, r.value()));
                if let Some(Ok(mut rec)) = rec
                    && bytes > 0
                {
                    rec.uploaded_before = rec.uploaded_before.saturating_add(bytes);
                    torrents.insert(hash, encode(&rec).as_slice())?;
                    grown += 1;
                }
            }
            uploads.retain(|_, _| false)?;
            Ok(grown)
        })
    }

    // ---- quarantine and reports ----

    /// Moves every record that cannot be used out of its table into the quarantine table
    /// (with the reason and its raw bytes), in one transaction, and returns what was moved.
    pub fn quarantine_unreadable(&self) -> Result<Vec<QuarantinedRecord>> {
        // Found with a read first: the common case (nothing to move) writes nothing.
        let found = self.with_db(|db| {
            let tx = db.begin_read()?;
            let mut found = Vec::new();
            for name in CHECKED_TABLES {
                let Some(def) = table_def(name) else { continue };
                let table = match tx.open_table(def) {
                    Ok(t) => t,
                    Err(redb::TableError::TableDoesNotExist(_)) => continue,
                    Err(e) => return Err(e.into()),
                };
                for (k, v) in raw_rows(&table)? {
                    if let Some(reason) = unreadable_reason(name, &k, &v) {
                        found.push(QuarantinedRecord {
                            table: name.to_owned(),
                            key: k,
                            reason,
                            at: Utc::now(),
                            raw_hex: hex::encode(&v),
                        });
                    }
                }
            }
            Ok(found)
        })?;
        if found.is_empty() {
            return Ok(found);
        }
        self.with_write(|tx| {
            let mut q = tx.open_table(QUARANTINE)?;
            for r in &found {
                let Some(def) = table_def(&r.table) else {
                    continue;
                };
                q.insert(
                    format!("{}/{}", r.table, r.key).as_str(),
                    encode(r).as_slice(),
                )?;
                tx.open_table(def)?.remove(r.key.as_str())?;
            }
            Ok(())
        })?;
        for r in &found {
            warn!(
                table = %r.table,
                key = %r.key,
                reason = %r.reason,
                "unreadable record moved to quarantine (see `pytorrentd check`)"
            );
        }
        Ok(found)
    }

    pub fn quarantined(&self) -> Result<Vec<QuarantinedRecord>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = match tx.open_table(QUARANTINE) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            Ok(raw_rows(&table)?
                .into_iter()
                .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
                .collect())
        })
    }

    /// Everything readable, table by table; a table that fails part-way is reported with
    /// what was read before the failure. Never panics on a damaged file.
    pub fn report(&self) -> Report {
        let mut report = Report {
            schema: no_panic(|| self.schema_version()).ok(),
            ..Default::default()
        };
        for name in CHECKED_TABLES {
            let Some(def) = table_def(name) else { continue };
            let mut tr = TableReport {
                table: name.into(),
                ..Default::default()
            };
            let rows = no_panic(|| {
                self.with_db(|db| {
                    let tx = db.begin_read()?;
                    let table = match tx.open_table(def) {
                        Ok(t) => t,
                        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                        Err(e) => return Err(e.into()),
                    };
                    let mut out = Vec::new();
                    for row in table.iter()? {
                        match row {
                            Ok((k, v)) => out.push(Ok((k.value().to_owned(), v.value().to_vec()))),
                            Err(e) => {
                                out.push(Err(e.to_string()));
                                break;
                            }
                        }
                    }
                    Ok(out)
                })
            });
            match rows {
                Ok(rows) => {
                    for row in rows {
                        match row {
                            Ok((k, v)) => match unreadable_reason(name, &k, &v) {
                                None => {
                                    if name == "torrents"
                                        && let Ok(t) = serde_json::from_slice::<TorrentRecord>(&v)
                                    {
                                        match report
                                            .torrents_by_profile
                                            .iter_mut()
                                            .find(|(p, _)| *p == t.profile)
                                        {
                                            Some((_, n)) => *n += 1,
                                            None => report.torrents_by_profile.push((t.profile, 1)),
                                        }
                                    }
                                    tr.readable.push(k);
                                }
                                Some(reason) => tr.unreadable.push((k, reason)),
                            },
                            Err(e) => tr.error = Some(e),
                        }
                    }
                }
                Err(e) => tr.error = Some(e.to_string()),
            }
            report.tables.push(tr);
        }
        report.torrents_by_profile.sort();
        report.torrent_files = no_panic(|| {
            self.with_db(|db| {
                let tx = db.begin_read()?;
                Ok(tx.open_table(TORRENT_FILES)?.len()? as usize)
            })
        })
        .ok();
        report.quarantined = no_panic(|| self.quarantined()).unwrap_or_default();
        report
    }

    /// A best-effort view of a file that failed `inspect` (for `pytorrentd check`): opened
    /// without the integrity check, through the copy-on-write view.
    pub fn open_damaged_view(data_dir: &Path) -> Result<Store> {
        let path = Self::path(data_dir);
        let db = no_panic(|| open_view(&path, false))?;
        Self::from_db(path, db, Mode::View)
    }
}

fn open_file(path: &Path) -> Result<Database> {
    builder()
        .open(path)
        .map_err(|e| from_database_error(path, e))
}

/// Opens `path` through the copy-on-write view; with `verify`, redb checks every page's
/// checksum (reading the whole file) and rebuilds its allocator state, in memory.
fn open_view(path: &Path, verify: bool) -> Result<Database> {
    let backend = snapshot::Snapshot::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::Io {
                what: format!("opening {}", path.display()),
                source: Arc::new(e),
            }
        } else {
            StoreError::Damaged(format!("cannot read it: {e}"))
        }
    })?;
    let mut b = builder();
    b.set_check_integrity_on_open(verify);
    b.create_with_backend(backend)
        .map_err(|e| from_database_error(path, e))
}

/// The reason a file is damaged, in words for a one-line refusal.
fn damage_text(e: StoreError) -> String {
    match e {
        StoreError::Damaged(s) => s,
        StoreError::Unavailable(s) | StoreError::NoSpace(s) => s,
        StoreError::PreviousIo => "an I/O error while reading it".into(),
        other => other.to_string(),
    }
}

fn health_text(e: &StoreError) -> String {
    match e {
        StoreError::NoSpace(_) => {
            "database writes fail: no space left on the disk holding the data directory".into()
        }
        _ => "database writes fail after an I/O error; see the server log".into(),
    }
}

/// A plain record for unit tests (this module's and the engine's).
#[cfg(test)]
pub(crate) fn test_record(hash: &str, profile: &str, pos: u64) -> TorrentRecord {
    TorrentRecord {
        hash: hash.into(),
        profile: profile.into(),
        name: Some("n".into()),
        magnet: None,
        source_url: None,
        has_metadata: true,
        queue_position: pos,
        labels: vec![],
        legacy_label: None,
        title: None,
        share: Default::default(),
        dl_limit: 0,
        ul_limit: 0,
        moving_to: None,
        trackers: None,
        only_files: None,
        paused: false,
        force_start: false,
        peers: vec![],
        save_dir: "/tmp".into(),
        added_at: Utc::now(),
        completed_at: None,
        uploaded_before: 0,
        downloaded_before: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_record as record;

    const H1: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn uploads_of_a_run_are_folded_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.fold_uploads().unwrap(), 0, "no table yet");
        let mut r = record(H1, "default", 1);
        r.uploaded_before = 100;
        s.put_torrents(&[&r], &[]).unwrap();
        s.write(|tx| {
            tx.put(Table::Uploads, H1, &50u64)?;
            // A torrent deleted since: nothing to add to.
            tx.put(Table::Uploads, &"b".repeat(40), &7u64)
        })
        .unwrap();
        assert_eq!(s.fold_uploads().unwrap(), 1);
        assert_eq!(s.torrents().unwrap()[0].uploaded_before, 150);
        assert_eq!(s.fold_uploads().unwrap(), 0, "forgotten once added");
        assert_eq!(s.torrents().unwrap()[0].uploaded_before, 150);
        // A clean shutdown writes the totals itself and forgets the minute's counts.
        s.write(|tx| tx.put(Table::Uploads, H1, &20u64)).unwrap();
        r.uploaded_before = 170;
        s.save_run(&[&r]).unwrap();
        assert_eq!(s.fold_uploads().unwrap(), 0);
        assert_eq!(s.torrents().unwrap()[0].uploaded_before, 170);
        // Deleting a torrent forgets its count.
        s.write(|tx| tx.put(Table::Uploads, H1, &20u64)).unwrap();
        s.delete_torrent(H1).unwrap();
        s.put_torrents(&[&record(H1, "default", 1)], &[]).unwrap();
        assert_eq!(s.fold_uploads().unwrap(), 0);
    }

    #[test]
    fn roundtrip_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
            let p = ProfileRecord {
                id: "default".into(),
                name: "Default".into(),
                download_dir: "/x".into(),
                max_active_downloads: 3,
                created_at: None,
                ..Default::default()
            };
            s.put_profile(&p).unwrap();
            let r = record(H1, "default", 1);
            s.put_torrents(&[&r], &[(H1, b"d4:infoe")]).unwrap();
            // A second open of the same file while the first is alive must be refused, and
            // so must a view (it takes the same lock).
            assert!(matches!(
                Store::open(dir.path()),
                Err(StoreError::Locked { .. })
            ));
            assert!(matches!(
                Store::open_view(dir.path()),
                Err(StoreError::Locked { .. })
            ));
            assert_eq!(Store::inspect(&Store::path(dir.path())), Inspection::Locked);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.profiles().unwrap().len(), 1);
        assert_eq!(s.torrents().unwrap()[0].hash, H1);
        assert_eq!(s.torrent_file(H1).unwrap().unwrap(), b"d4:infoe");
        s.delete_torrent(H1).unwrap();
        assert!(s.torrents().unwrap().is_empty());
        assert!(s.torrent_file(H1).unwrap().is_none());
    }

    #[test]
    fn opening_a_current_file_writes_nothing_and_views_never_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = Store::path(dir.path());
        {
            let s = Store::open(dir.path()).unwrap();
            s.put_torrents(&[&record(H1, "default", 1)], &[]).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        assert_eq!(
            Store::inspect(&path),
            Inspection::Usable {
                schema: SCHEMA_VERSION
            }
        );
        {
            let v = Store::open_view(dir.path()).unwrap();
            assert_eq!(v.torrents().unwrap().len(), 1);
            assert!(matches!(
                v.put_torrents(&[&record(H1, "x", 2)], &[]),
                Err(StoreError::ReadOnly)
            ));
            let r: std::result::Result<(), StoreError> = v.write(|_| Ok(()));
            assert!(matches!(r, Err(StoreError::ReadOnly)));
        }
        assert!(
            std::fs::read(&path).unwrap() == before,
            "a view changed the file"
        );
        {
            let s = Store::open_existing(dir.path()).unwrap();
            assert_eq!(s.torrents().unwrap().len(), 1);
        }
    }

    #[test]
    fn inspect_reports_missing_empty_damaged_and_too_new_without_touching_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = Store::path(dir.path());
        assert_eq!(Store::inspect(&path), Inspection::Missing);
        std::fs::write(&path, b"").unwrap();
        assert_eq!(Store::inspect(&path), Inspection::Empty);
        std::fs::write(&path, b"this is not a database at all").unwrap();
        assert!(matches!(Store::inspect(&path), Inspection::Damaged(_)));
        std::fs::remove_file(&path).unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.with_write(|tx| {
                tx.open_table(META)?.insert("schema_version", "7")?;
                Ok(())
            })
            .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        assert_eq!(Store::inspect(&path), Inspection::TooNew { found: 7 });
        assert!(
            std::fs::read(&path).unwrap() == before,
            "inspect changed the file"
        );
        // Opening it for real refuses too (the daemon inspects first, so it never gets here).
        assert!(matches!(
            Store::open_existing(dir.path()),
            Err(StoreError::TooNew { found: 7, .. })
        ));
    }

    #[test]
    fn truncated_and_flipped_files_are_damaged_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = Store::path(dir.path());
        {
            let s = Store::open(dir.path()).unwrap();
            for i in 0..200u32 {
                let h = format!("{i:040x}");
                s.put_torrents(&[&record(&h, "default", i as u64)], &[(&h, &[7u8; 3000])])
                    .unwrap();
            }
        }
        let good = std::fs::read(&path).unwrap();
        let mut outcomes = Vec::new();
        for (what, bytes) in [
            ("truncated", good[..good.len() / 2].to_vec()),
            ("flipped", {
                let mut b = good.clone();
                // Every 4 KiB page in the middle third gets a flipped byte.
                let (from, to) = (b.len() / 3, 2 * b.len() / 3);
                let mut at = from;
                while at < to {
                    b[at] ^= 0xff;
                    at += 4096;
                }
                b
            }),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            let got = Store::inspect(&path);
            assert!(
                std::fs::read(&path).unwrap() == bytes,
                "{what}: inspect changed the file"
            );
            outcomes.push((what, got));
        }
        for (what, got) in outcomes {
            assert!(matches!(got, Inspection::Damaged(_)), "{what}: {got:?}");
        }
    }

    #[test]
    fn unreadable_records_are_quarantined_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.put_torrents(&[&record(H1, "default", 1)], &[]).unwrap();
        let bad = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        s.with_write(|tx| {
            tx.open_table(TORRENTS)?.insert(bad, &b"{not json"[..])?;
            tx.open_table(USERS)?.insert("eve", &b"[1,2]"[..])?;
            Ok(())
        })
        .unwrap();
        let r = s.report();
        let torrents = r.tables.iter().find(|t| t.table == "torrents").unwrap();
        assert_eq!(torrents.readable, vec![H1.to_string()]);
        assert_eq!(torrents.unreadable.len(), 1);
        let moved = s.quarantine_unreadable().unwrap();
        let keys: Vec<String> = moved
            .iter()
            .map(|q| format!("{}/{}", q.table, q.key))
            .collect();
        assert_eq!(
            keys,
            vec![format!("torrents/{bad}"), "users/eve".to_string()]
        );
        assert_eq!(moved[0].raw_hex, hex::encode(b"{not json"));
        assert_eq!(s.torrents().unwrap().len(), 1);
        assert_eq!(s.quarantined().unwrap().len(), 2);
        assert!(s.quarantine_unreadable().unwrap().is_empty());
    }
    #[test]
    fn records_with_one_label_are_read_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut old = serde_json::to_value(record(&"a".repeat(40), "default", 1)).unwrap();
        let obj = old.as_object_mut().unwrap();
        obj.remove("labels");
        obj.insert("label".into(), "tv".into());
        let bytes = serde_json::to_vec(&old).unwrap();
        s.with_write(|tx| {
            tx.open_table(TORRENTS)?
                .insert("a".repeat(40).as_str(), bytes.as_slice())?;
            Ok(())
        })
        .unwrap();
        let got = s.torrents().unwrap();
        assert_eq!(got[0].labels, vec!["tv".to_owned()]);
        assert_eq!(got[0].legacy_label, None);
        // Written back without the old field.
        let again = String::from_utf8(encode(&got[0])).unwrap();
        assert!(
            again.contains("\"labels\":[\"tv\"]") && !again.contains("\"label\""),
            "{again}"
        );
    }
}

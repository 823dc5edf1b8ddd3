//! The redb store: the single source of truth for profiles, torrent records and (later)
//! users, sessions and tokens. Values are JSON so that fields can be added with serde
//! defaults; the schema version in `meta` gates real migrations. Every mutation commits
//! (fsync) before returning, so an API answer always describes durable state.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

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

/// The JSON tables owned by other modules (auth), addressed generically.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Users,
    Sessions,
    Tokens,
    Preferences,
}

impl Table {
    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Table::Users => USERS,
            Table::Sessions => SESSIONS,
            Table::Tokens => TOKENS,
            Table::Preferences => PREFERENCES,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Sessions => "sessions",
            Table::Tokens => "tokens",
            Table::Preferences => "preferences",
        }
    }
}

/// A write transaction over the generic tables; committed by `Store::write` when the
/// closure succeeds, rolled back otherwise.
pub struct Tx {
    tx: redb::WriteTransaction,
}

impl Tx {
    pub fn get<T: DeserializeOwned>(&self, t: Table, key: &str) -> Result<Option<T>> {
        let table = self.tx.open_table(t.def())?;
        let v = table.get(key)?;
        match v {
            Some(v) => Ok(Some(decode(t.name(), key, v.value())?)),
            None => Ok(None),
        }
    }
    pub fn put<T: Serialize>(&mut self, t: Table, key: &str, v: &T) -> Result<()> {
        self.tx
            .open_table(t.def())?
            .insert(key, encode(v).as_slice())?;
        Ok(())
    }
    pub fn delete(&mut self, t: Table, key: &str) -> Result<bool> {
        Ok(self.tx.open_table(t.def())?.remove(key)?.is_some())
    }
    pub fn list<T: DeserializeOwned>(&self, t: Table) -> Result<Vec<(String, T)>> {
        collect(&self.tx.open_table(t.def())?, t.name())
    }
    pub fn put_token_hash(&mut self, hash: &str, id: &str) -> Result<()> {
        self.tx.open_table(TOKEN_HASHES)?.insert(hash, id)?;
        Ok(())
    }
    pub fn delete_token_hash(&mut self, hash: &str) -> Result<()> {
        self.tx.open_table(TOKEN_HASHES)?.remove(hash)?;
        Ok(())
    }
}

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database {path} is locked by another process (is the daemon running?)")]
    Locked { path: PathBuf },
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    TooNew { found: u32, supported: u32 },
    #[error("database error: {0}")]
    Db(String),
    #[error("corrupt record in {table}/{key}: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.to_string()) }
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

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfileRecord {
    pub id: String,
    pub name: String,
    pub download_dir: PathBuf,
    #[serde(default)]
    pub max_active_downloads: u32,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
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
    #[serde(default)]
    pub label: Option<String>,
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

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

fn decode<T: DeserializeOwned>(table: &'static str, key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// Every (key, decoded value) of a JSON table, in a read or a write transaction.
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

impl Store {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("pytorrentd.redb")
    }

    /// Opens (or creates) the database and runs migrations.
    pub fn open(data_dir: &Path) -> Result<Store> {
        let path = Self::path(data_dir);
        // redb's default cache may grow to 1 GiB; our records are small and a NAS has little
        // memory to spare.
        let db = match redb::Builder::new()
            .set_cache_size(16 * 1024 * 1024)
            .create(&path)
        {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::Locked { path });
            }
            Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))
                if e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                return Err(StoreError::Locked { path });
            }
            Err(e) => return Err(StoreError::Db(e.to_string())),
        };
        // Before anything secret is written: the file must be ours alone (src/private_fs.rs).
        crate::private_fs::restrict(&path, 0o600)
            .map_err(|e| StoreError::Db(format!("making {} private: {e}", path.display())))?;
        let store = Store { db: Arc::new(db) };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let found = match meta.get("schema_version")? {
                Some(v) => v.value().parse::<u32>().unwrap_or(0),
                None => 0,
            };
            if found > SCHEMA_VERSION {
                return Err(StoreError::TooNew {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            // Version 0 → 1: create the tables. Later versions add steps here.
            tx.open_table(PROFILES)?;
            tx.open_table(TORRENTS)?;
            tx.open_table(TORRENT_FILES)?;
            tx.open_table(USERS)?;
            tx.open_table(SESSIONS)?;
            tx.open_table(TOKENS)?;
            tx.open_table(TOKEN_HASHES)?;
            // Added later without a version bump: opening creates it in older files too.
            tx.open_table(PREFERENCES)?;
            meta.insert("schema_version", SCHEMA_VERSION.to_string().as_str())?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<u32> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        Ok(meta
            .get("schema_version")?
            .and_then(|v| v.value().parse().ok())
            .unwrap_or(0))
    }

    fn all<T: DeserializeOwned>(
        &self,
        def: TableDefinition<&str, &[u8]>,
        name: &'static str,
    ) -> Result<Vec<T>> {
        let tx = self.db.begin_read()?;
        let rows = collect(&tx.open_table(def)?, name)?;
        Ok(rows.into_iter().map(|(_, v)| v).collect())
    }

    fn get<T: DeserializeOwned>(
        &self,
        def: TableDefinition<&str, &[u8]>,
        name: &'static str,
        key: &str,
    ) -> Result<Option<T>> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(def)?;
        match table.get(key)? {
            Some(v) => Ok(Some(decode(name, key, v.value())?)),
            None => Ok(None),
        }
    }

    // ---- generic JSON tables ----

    pub fn get_json<T: DeserializeOwned>(&self, t: Table, key: &str) -> Result<Option<T>> {
        self.get(t.def(), t.name(), key)
    }

    pub fn list_json<T: DeserializeOwned>(&self, t: Table) -> Result<Vec<(String, T)>> {
        let tx = self.db.begin_read()?;
        collect(&tx.open_table(t.def())?, t.name())
    }

    pub fn token_id_by_hash(&self, hash: &str) -> Result<Option<String>> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(TOKEN_HASHES)?;
        Ok(table.get(hash)?.map(|v| v.value().to_owned()))
    }

    /// Runs `f` in one write transaction, committed only if it returns `Ok`.
    pub fn write<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        let mut tx = Tx {
            tx: self.db.begin_write().map_err(StoreError::from)?,
        };
        let r = f(&mut tx)?;
        tx.tx.commit().map_err(StoreError::from)?;
        Ok(r)
    }

    // ---- profiles ----

    pub fn profiles(&self) -> Result<Vec<ProfileRecord>> {
        self.all(PROFILES, "profiles")
    }

    pub fn profile(&self, id: &str) -> Result<Option<ProfileRecord>> {
        self.get(PROFILES, "profiles", id)
    }

    pub fn put_profile(&self, p: &ProfileRecord) -> Result<()> {
        let tx = self.db.begin_write()?;
        tx.open_table(PROFILES)?
            .insert(p.id.as_str(), encode(p).as_slice())?;
        tx.commit()?;
        Ok(())
    }

    pub fn delete_profile(&self, id: &str) -> Result<bool> {
        let tx = self.db.begin_write()?;
        let existed = tx.open_table(PROFILES)?.remove(id)?.is_some();
        tx.commit()?;
        Ok(existed)
    }

    // ---- torrents ----

    pub fn torrents(&self) -> Result<Vec<TorrentRecord>> {
        self.all(TORRENTS, "torrents")
    }

    pub fn torrent_file(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(TORRENT_FILES)?;
        Ok(table.get(hash)?.map(|v| v.value().to_vec()))
    }

    /// Inserts or replaces records (and optionally .torrent bytes) in one transaction.
    pub fn put_torrents(&self, records: &[&TorrentRecord], files: &[(&str, &[u8])]) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(TORRENTS)?;
            for r in records {
                t.insert(r.hash.as_str(), encode(r).as_slice())?;
            }
            let mut f = tx.open_table(TORRENT_FILES)?;
            for (hash, bytes) in files {
                f.insert(*hash, *bytes)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn delete_torrent(&self, hash: &str) -> Result<()> {
        let tx = self.db.begin_write()?;
        tx.open_table(TORRENTS)?.remove(hash)?;
        tx.open_table(TORRENT_FILES)?.remove(hash)?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hash: &str, profile: &str, pos: u64) -> TorrentRecord {
        TorrentRecord {
            hash: hash.into(),
            profile: profile.into(),
            name: Some("n".into()),
            magnet: None,
            source_url: None,
            has_metadata: true,
            queue_position: pos,
            label: None,
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
            };
            s.put_profile(&p).unwrap();
            let r = record("aa", "default", 1);
            s.put_torrents(&[&r], &[("aa", b"d4:infoe")]).unwrap();
            // A second open of the same file while the first is alive must be refused.
            assert!(matches!(
                Store::open(dir.path()),
                Err(StoreError::Locked { .. })
            ));
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.profiles().unwrap().len(), 1);
        assert_eq!(s.torrents().unwrap()[0].hash, "aa");
        assert_eq!(s.torrent_file("aa").unwrap().unwrap(), b"d4:infoe");
        s.delete_torrent("aa").unwrap();
        assert!(s.torrents().unwrap().is_empty());
        assert!(s.torrent_file("aa").unwrap().is_none());
    }
}

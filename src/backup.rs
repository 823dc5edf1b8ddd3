//! Backups (README "Backup and restore"): one `.tar.gz` with a consistent copy of the
//! database (`pytorrentd.redb`: users, profiles, torrents and their `.torrent` bytes, labels,
//! limits, settings), the engine's fast-resume bitfields (`engine/HASH.bitv`, so that
//! completed data is not checked again after a restore) and a manifest. Taken while the
//! daemon runs (`pytorrentd backup` through the control socket, the admin UI's download)
//! or from a stopped daemon's data directory; restored only into a data directory without a
//! database (or with `--force`, which moves the present one aside, deleting nothing).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

pub const MANIFEST: &str = "pytorrentd-backup.json";
const DB_NAME: &str = "pytorrentd.redb";
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
    /// "Back up now" without a folder to back up into.
    #[error("no backup folder is set")]
    NoFolder,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    pub format: u32,
    /// The pytorrentd version that wrote it.
    pub version: String,
    pub created_at: DateTime<Utc>,
    /// Database records (all tables) and fast-resume bitfields in the archive.
    pub records: u64,
    pub bitfields: usize,
}

fn is_hash(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The fast-resume bitfields of a stopped daemon's data directory.
pub fn bitfields_on_disk(data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(rd) = std::fs::read_dir(data_dir.join("engine")) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let hash = name.strip_suffix(".bitv").filter(|h| is_hash(h))?;
            Some((hash.to_owned(), std::fs::read(e.path()).ok()?))
        })
        .collect()
}

fn append(
    tar: &mut tar::Builder<impl Write>,
    name: &str,
    data: &mut dyn Read,
    len: u64,
) -> Result<(), BackupError> {
    let mut h = tar::Header::new_gnu();
    h.set_size(len);
    h.set_mode(0o600);
    h.set_mtime(Utc::now().timestamp().max(0) as u64);
    h.set_cksum();
    tar.append_data(&mut h, name, data)
        .map_err(io(format!("writing {name} into the backup")))
}

/// Writes a backup of `store` and `bitfields` to `out`. `scratch` is a directory for the
/// temporary copy of the database (the data directory: same filesystem, private).
pub fn write(
    store: &Store,
    bitfields: &[(String, Vec<u8>)],
    scratch: &Path,
    out: impl Write,
) -> Result<Manifest, BackupError> {
    let tmp = scratch.join(format!(
        ".backup-{}-{}.redb",
        std::process::id(),
        rand::random::<u32>()
    ));
    let records = store.copy_to(&tmp);
    let r = records.map_err(BackupError::from).and_then(|records| {
        let manifest = Manifest {
            format: FORMAT,
            version: env!("CARGO_PKG_VERSION").into(),
            created_at: Utc::now(),
            records,
            bitfields: bitfields.len(),
        };
        let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let m = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        append(&mut tar, MANIFEST, &mut m.as_slice(), m.len() as u64)?;
        let mut db = std::fs::File::open(&tmp).map_err(io("reading the database copy"))?;
        let len = db
            .metadata()
            .map_err(io("reading the database copy"))?
            .len();
        append(&mut tar, DB_NAME, &mut db, len)?;
        for (hash, bits) in bitfields {
            if is_hash(hash) {
                append(
                    &mut tar,
                    &format!("engine/{hash}.bitv"),
                    &mut bits.as_slice(),
                    bits.len() as u64,
                )?;
            }
        }
        tar.into_inner()
            .and_then(|gz| gz.finish())
            .and_then(|mut w| w.flush())
            .map_err(io("finishing the backup"))?;
        Ok(manifest)
    });
    let _ = std::fs::remove_file(&tmp);
    r
}

/// Writes a backup to the file `dest` (through a temporary file renamed into place, so a
/// failed backup never leaves a half file under that name).
pub fn write_file(
    store: &Store,
    bitfields: &[(String, Vec<u8>)],
    scratch: &Path,
    dest: &Path,
) -> Result<Manifest, BackupError> {
    let part = dest.with_extension("part");
    let f = std::fs::File::create(&part).map_err(io(format!("creating {}", part.display())))?;
    let _ = crate::private_fs::restrict(&part, 0o600);
    let r = write(store, bitfields, scratch, std::io::BufWriter::new(f)).and_then(|m| {
        std::fs::rename(&part, dest)
            .map(|()| m)
            .map_err(io(format!("naming {}", dest.display())))
    });
    if r.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    r
}

/// Whether a data directory already holds a database or engine state.
fn occupied(data_dir: &Path) -> bool {
    data_dir.join(DB_NAME).exists()
        || std::fs::read_dir(data_dir.join("engine")).is_ok_and(|mut d| d.next().is_some())
}

/// Restores `archive` into `data_dir` (the daemon stopped). Refuses a data directory that
/// holds a database or engine state unless `force`, which moves them to
/// `DATA_DIR/replaced-TIMESTAMP/`. The archive is checked whole (names, the database opens)
/// before anything in `data_dir` changes.
pub fn restore(archive: &Path, data_dir: &Path, force: bool) -> Result<Manifest, BackupError> {
    if occupied(data_dir) && !force {
        return Err(BackupError::Refused(format!(
            "{} already holds a database or engine state; restore into an empty data directory, or add --force to move what is there aside",
            data_dir.display()
        )));
    }
    std::fs::create_dir_all(data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
    let stage = data_dir.join(format!(".restore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(stage.join("engine")).map_err(io("creating a staging folder"))?;
    let r = unpack(archive, &stage).and_then(|m| {
        // The database must open (schema, integrity) before it replaces anything.
        drop(Store::open_existing(&stage)?);
        if force && occupied(data_dir) {
            let aside = data_dir.join(format!("replaced-{}", Utc::now().format("%Y%m%d-%H%M%S")));
            std::fs::create_dir_all(&aside).map_err(io("moving the present state aside"))?;
            for name in [DB_NAME, "engine"] {
                let p = data_dir.join(name);
                if p.exists() {
                    std::fs::rename(&p, aside.join(name))
                        .map_err(io(format!("moving {} aside", p.display())))?;
                }
            }
        }
        std::fs::create_dir_all(data_dir.join("engine")).map_err(io("creating engine/"))?;
        for e in std::fs::read_dir(stage.join("engine"))
            .map_err(io("reading the staging folder"))?
            .flatten()
        {
            std::fs::rename(e.path(), data_dir.join("engine").join(e.file_name()))
                .map_err(io("placing the fast-resume files"))?;
        }
        std::fs::rename(stage.join(DB_NAME), data_dir.join(DB_NAME))
            .map_err(io("placing the database"))?;
        let _ = crate::private_fs::restrict_tree(data_dir);
        Ok(m)
    });
    let _ = std::fs::remove_dir_all(&stage);
    r
}

/// Unpacks a backup into `stage`, accepting only the names a backup has.
fn unpack(archive: &Path, stage: &Path) -> Result<Manifest, BackupError> {
    let f = std::fs::File::open(archive).map_err(io(format!("opening {}", archive.display())))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(f)));
    let not_backup = |why: String| {
        BackupError::Refused(format!(
            "{} is not a pytorrentd backup ({why})",
            archive.display()
        ))
    };
    let mut manifest: Option<Manifest> = None;
    let mut db = false;
    let entries = tar.entries().map_err(|e| not_backup(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| not_backup(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            return Err(not_backup("it holds something other than files".into()));
        }
        let name = entry
            .path()
            .map_err(|e| not_backup(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let dest: PathBuf = if name == MANIFEST {
            let mut buf = Vec::new();
            (&mut entry)
                .take(1 << 20)
                .read_to_end(&mut buf)
                .map_err(|e| not_backup(e.to_string()))?;
            let m: Manifest = serde_json::from_slice(&buf)
                .map_err(|e| not_backup(format!("its manifest: {e}")))?;
            if m.format != FORMAT {
                return Err(BackupError::Refused(format!(
                    "the backup has format {} (from pytorrentd {}); this version reads format {FORMAT}",
                    m.format, m.version
                )));
            }
            manifest = Some(m);
            continue;
        } else if name == DB_NAME {
            db = true;
            stage.join(DB_NAME)
        } else if let Some(h) = name
            .strip_prefix("engine/")
            .and_then(|n| n.strip_suffix(".bitv"))
            .filter(|h| is_hash(h))
        {
            stage.join("engine").join(format!("{h}.bitv"))
        } else {
            return Err(not_backup(format!("unexpected entry {name:?}")));
        };
        let mut out =
            std::fs::File::create(&dest).map_err(io(format!("writing {}", dest.display())))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| not_backup(e.to_string()))?;
        out.sync_all().map_err(io("syncing the restored files"))?;
    }
    match (manifest, db) {
        (Some(m), true) => Ok(m),
        (None, _) => Err(not_backup("no manifest".into())),
        (_, false) => Err(not_backup("no database".into())),
    }
}

/// The key of the backup schedule in the `settings` table.
pub const SCHEDULE_KEY: &str = "backup";
/// Where the schedule's last run is recorded (same table).
const STATUS_KEY: &str = "backup_status";
/// Backups kept at most.
pub const KEEP_MAX: u32 = 365;
const FILE_PREFIX: &str = "pytorrentd-backup-";

/// Daily backups to a folder (README "Backup and restore").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupSchedule {
    #[serde(default)]
    pub enabled: bool,
    /// An absolute, existing, writable folder.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub dir: Option<PathBuf>,
    /// Backups kept in `dir` (the oldest go), 1 to 365.
    #[serde(default = "default_keep")]
    pub keep: u32,
}

fn default_keep() -> u32 {
    7
}

impl Default for BackupSchedule {
    fn default() -> Self {
        BackupSchedule {
            enabled: false,
            dir: None,
            keep: default_keep(),
        }
    }
}

/// A change of the schedule: absent fields stay; `dir: null` clears it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupScheduleChange {
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::engine::share::double_option")]
    #[schema(value_type = Option<String>)]
    pub dir: Option<Option<PathBuf>>,
    #[schema(minimum = 1, maximum = 365)]
    pub keep: Option<u32>,
}

/// The last scheduled (or "now") backup.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupStatus {
    pub last_at: Option<DateTime<Utc>>,
    pub last_file: Option<String>,
    pub last_error: Option<String>,
}

impl BackupScheduleChange {
    pub fn is_empty(&self) -> bool {
        self.enabled.is_none() && self.dir.is_none() && self.keep.is_none()
    }

    /// Checks every value, then applies them to `to`.
    pub fn apply(&self, to: &mut BackupSchedule) -> Result<(), BackupError> {
        let mut n = to.clone();
        if let Some(k) = self.keep {
            if !(1..=KEEP_MAX).contains(&k) {
                return Err(BackupError::Refused(format!(
                    "keep must be 1 to {KEEP_MAX} backups (got {k})"
                )));
            }
            n.keep = k;
        }
        if let Some(d) = &self.dir {
            if let Some(d) = d {
                crate::engine::check_profile_dir(d)
                    .map_err(|e| BackupError::Refused(format!("backup folder: {e}")))?;
            }
            n.dir = d.clone();
        }
        if let Some(e) = self.enabled {
            n.enabled = e;
        }
        if n.enabled && n.dir.is_none() {
            return Err(BackupError::Refused(
                "daily backups need a folder (dir)".into(),
            ));
        }
        *to = n;
        Ok(())
    }
}

pub fn schedule(store: &Store) -> Result<BackupSchedule, StoreError> {
    Ok(store
        .get_json(crate::store::Table::Settings, SCHEDULE_KEY)?
        .unwrap_or_default())
}

pub fn status(store: &Store) -> Result<BackupStatus, StoreError> {
    Ok(store
        .get_json(crate::store::Table::Settings, STATUS_KEY)?
        .unwrap_or_default())
}

pub fn set_schedule(
    store: &Store,
    change: &BackupScheduleChange,
) -> Result<BackupSchedule, BackupError> {
    let mut s = schedule(store)?;
    change.apply(&mut s)?;
    store.write(|tx| tx.put(crate::store::Table::Settings, SCHEDULE_KEY, &s))?;
    Ok(s)
}

/// Writes one backup into the schedule's folder and keeps the newest `keep` there;
/// records the outcome.
pub fn run_now(state: &crate::state::AppState) -> Result<BackupStatus, BackupError> {
    let s = schedule(&state.store)?;
    let dir = s.dir.clone().ok_or(BackupError::NoFolder)?;
    let now = Utc::now();
    let name = format!("{FILE_PREFIX}{}.tar.gz", now.format("%Y%m%d-%H%M%S%.3f"));
    let r = write_file(
        &state.store,
        &state.engine.resume_bitfields(),
        &state.config.data_dir,
        &dir.join(&name),
    );
    let status = match &r {
        Ok(_) => {
            prune(&dir, s.keep);
            tracing::info!(file = %dir.join(&name).display(), "backup written");
            BackupStatus {
                last_at: Some(now),
                last_file: Some(name),
                last_error: None,
            }
        }
        Err(e) => {
            tracing::warn!("scheduled backup failed: {e}");
            BackupStatus {
                last_at: Some(now),
                last_file: None,
                last_error: Some(e.to_string()),
            }
        }
    };
    state
        .store
        .write(|tx| tx.put(crate::store::Table::Settings, STATUS_KEY, &status))?;
    r.map(|_| status)
}

/// Deletes all but the newest `keep` backups this schedule wrote in `dir` (its own file
/// names only; nothing else in the folder is touched).
fn prune(dir: &Path, keep: u32) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut ours: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(FILE_PREFIX) && n.ends_with(".tar.gz"))
        })
        .collect();
    ours.sort();
    let extra = ours.len().saturating_sub(keep as usize);
    for p in ours.into_iter().take(extra) {
        if let Err(e) = std::fs::remove_file(&p) {
            tracing::warn!(file = %p.display(), "removing an old backup: {e}");
        }
    }
}

/// Runs the daily backup: checked every 30 s, a backup is due when the last is a day old.
pub fn spawn_schedule(state: crate::state::AppState) {
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        loop {
            let due = match (schedule(&state.store), status(&state.store)) {
                (Ok(s), Ok(st)) => {
                    s.enabled
                        && st
                            .last_at
                            .is_none_or(|t| Utc::now() - t >= chrono::Duration::hours(24))
                }
                _ => false,
            };
            if due {
                let st = state.clone();
                let _ = tokio::task::spawn_blocking(move || run_now(&st)).await;
            }
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        }
    });
}

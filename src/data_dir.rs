//! Opening `DATA_DIR` for `serve` without ever losing data: the directory is created
//! private, a missing, empty, damaged or too new database next to existing engine state is
//! refused (the files untouched) unless the operator asks for `--reinitialize`, which moves
//! them aside (docs/reliability.md, "Corrupt database").

use std::path::{Path, PathBuf};

use tracing::warn;

use crate::config::Config;
use crate::store::{Inspection, Store};

/// Why `DATA_DIR` could not be opened; each refusal names the file and the way out.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Engine(#[from] crate::engine::EngineError),
    #[error("{0}")]
    User(#[from] crate::auth::users::UserError),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{}", no_database_text(path, state.as_deref(), *empty))]
    NoDatabase {
        path: PathBuf,
        /// The engine state found next to it, if any.
        state: Option<String>,
        empty: bool,
    },
    #[error(
        "refusing to start: the database {} is damaged ({reason}); it was not modified. Restore it from a backup, see what is still readable with `pytorrentd check`, or start over with `pytorrentd serve --reinitialize` (the damaged file is moved aside, not deleted)",
        path.display()
    )]
    DamagedDatabase { path: PathBuf, reason: String },
    #[error(
        "refusing to start: the database {} has schema version {found}, newer than this pytorrentd understands ({supported}); it was not modified. Run the newer pytorrentd again, or restore a backup made for this version (`pytorrentd check` shows what the file holds)",
        path.display()
    )]
    NewerDatabase {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "refusing to start: {} is not writable ({detail}); pytorrentd keeps its database and engine state there. Make it writable for the service user, or point PYTORRENT_DATA_DIR at a writable directory",
        path.display()
    )]
    NotWritable { path: PathBuf, detail: String },
    #[error("--reinitialize: cannot move {} aside: {source}", path.display())]
    SetAside {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn no_database_text(path: &Path, state: Option<&str>, empty: bool) -> String {
    format!(
        "refusing to start: the database {} is {}{}; nothing was changed. Restore pytorrentd.redb from a backup, or run `pytorrentd serve --reinitialize` to start with an empty database (what is there now is moved aside, not deleted)",
        path.display(),
        if empty { "empty (0 bytes)" } else { "missing" },
        match state {
            Some(s) => format!(", but the data directory holds torrent engine state ({s})"),
            None => String::new(),
        }
    )
}

/// Decisions an operator makes for one start, apart from the configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions {
    /// Start with an empty database when the existing one is missing, empty, damaged or too
    /// new; whatever was there is moved aside (never deleted).
    pub reinitialize: bool,
}

pub(crate) fn prepare(config: &Config) -> Result<(), OpenError> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = &config.data_dir;
    if !dir.exists() {
        // Private by default: it holds the database and the control socket.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| OpenError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
    }
    Ok(())
}

/// Fails when `dir` cannot be written (read-only mount, wrong owner): better one clear line
/// at start than failures deep inside the database or the engine.
fn check_writable(dir: &Path) -> Result<(), OpenError> {
    let probe = dir.join(format!(".pytorrentd-write-test-{}", std::process::id()));
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe);
    match r {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(OpenError::NotWritable {
            path: dir.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Renames `path` to `<path>.set-aside-<UTC time>` and says so in the log.
fn set_aside(path: &Path) -> Result<(), OpenError> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut to = path.as_os_str().to_owned();
    to.push(format!(".set-aside-{stamp}"));
    let to = PathBuf::from(to);
    std::fs::rename(path, &to).map_err(|source| OpenError::SetAside {
        path: path.to_owned(),
        source,
    })?;
    warn!(from = %path.display(), to = %to.display(), "--reinitialize: moved aside");
    Ok(())
}

/// Opens the database for `serve` without ever losing data: a data directory with engine
/// state but no usable database, a damaged file or one from a newer schema make `serve`
/// refuse (the file untouched) unless the operator asks for `--reinitialize`. Unreadable
/// records of a sound file are moved to quarantine so that the rest is served.
pub(crate) fn open_checked_store(config: &Config, opts: StartOptions) -> Result<Store, OpenError> {
    let dir = &config.data_dir;
    check_writable(dir)?;
    let path = Store::path(dir);
    let inspection = Store::inspect(&path);
    let fresh = match inspection {
        Inspection::Missing | Inspection::Empty => {
            // A missing file is a first start, unless engine state says torrents existed. A
            // 0-byte file is never what redb leaves behind: something else emptied it.
            let state = crate::engine::saved_state(dir);
            let empty = inspection == Inspection::Empty;
            if state.is_some() || empty {
                if !opts.reinitialize {
                    return Err(OpenError::NoDatabase { path, state, empty });
                }
                set_aside(&path)?;
                set_aside(&dir.join("engine"))?;
            }
            true
        }
        Inspection::Damaged(reason) => {
            if !opts.reinitialize {
                return Err(OpenError::DamagedDatabase { path, reason });
            }
            set_aside(&path)?;
            set_aside(&dir.join("engine"))?;
            true
        }
        Inspection::TooNew { found } => {
            if !opts.reinitialize {
                return Err(OpenError::NewerDatabase {
                    path,
                    found,
                    supported: crate::store::SCHEMA_VERSION,
                });
            }
            set_aside(&path)?;
            set_aside(&dir.join("engine"))?;
            true
        }
        Inspection::Locked => {
            return Err(crate::store::StoreError::Locked { path }.into());
        }
        Inspection::Usable { .. } => {
            if opts.reinitialize {
                warn!(
                    "--reinitialize ignored: the database {} is sound",
                    path.display()
                );
            }
            false
        }
    };
    if !fresh && rustix::fs::access(&path, rustix::fs::Access::WRITE_OK).is_err() {
        return Err(OpenError::NotWritable {
            path,
            detail: "the database file is read-only".into(),
        });
    }
    let store = if fresh {
        Store::open(dir)?
    } else {
        Store::open_existing(dir)?
    };
    store.quarantine_unreadable()?;
    Ok(store)
}

//! `pytorrentd serve`: opens the store, starts the engine, the control socket and the HTTP
//! server, and stops all of them in order on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::{info, warn};

use crate::config::Config;
use crate::state::AppState;
use crate::store::{Inspection, Store};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
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
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("control socket: {0}")]
    Control(std::io::Error),
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

pub(crate) fn prepare_data_dir(config: &Config) -> Result<(), DaemonError> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = &config.data_dir;
    if !dir.exists() {
        // Private by default: it holds the database and the control socket.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| DaemonError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
    }
    Ok(())
}

/// Fails when `dir` cannot be written (read-only mount, wrong owner): better one clear line
/// at start than failures deep inside the database or the engine.
fn check_writable(dir: &Path) -> Result<(), DaemonError> {
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
        Err(e) => Err(DaemonError::NotWritable {
            path: dir.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Renames `path` to `<path>.set-aside-<UTC time>` and says so in the log.
fn set_aside(path: &Path) -> Result<(), DaemonError> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut to = path.as_os_str().to_owned();
    to.push(format!(".set-aside-{stamp}"));
    let to = PathBuf::from(to);
    std::fs::rename(path, &to).map_err(|source| DaemonError::SetAside {
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
pub(crate) fn open_checked_store(
    config: &Config,
    opts: StartOptions,
) -> Result<Store, DaemonError> {
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
                    return Err(DaemonError::NoDatabase { path, state, empty });
                }
                set_aside(&path)?;
                set_aside(&dir.join("engine"))?;
            }
            true
        }
        Inspection::Damaged(reason) => {
            if !opts.reinitialize {
                return Err(DaemonError::DamagedDatabase { path, reason });
            }
            set_aside(&path)?;
            set_aside(&dir.join("engine"))?;
            true
        }
        Inspection::TooNew { found } => {
            if !opts.reinitialize {
                return Err(DaemonError::NewerDatabase {
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
        return Err(DaemonError::NotWritable {
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

/// Raises the soft limit on open files to the hard limit: every torrent the engine runs
/// holds a descriptor per file plus its peer connections, and distributions still start
/// services with a soft limit of 1,024 (docs/reliability.md, "File descriptors").
fn raise_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let l = getrlimit(Resource::Nofile);
    // No hard limit means "as many as the kernel allows" (fs.nr_open, 1,048,576 by default).
    let target = l.maximum.unwrap_or(1 << 20);
    let Some(current) = l.current else { return };
    if current >= target {
        return;
    }
    let raised = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(target),
            maximum: l.maximum,
        },
    );
    match raised {
        Ok(()) => info!(from = current, to = target, "open-file limit raised"),
        Err(e) => warn!(
            limit = current,
            "could not raise the open-file limit to {target}: {e}; torrents beyond it wait"
        ),
    }
}

/// Runs the daemon until a stop signal arrives.
pub async fn serve(config: Config, opts: StartOptions) -> Result<(), DaemonError> {
    for w in config.risk_warnings() {
        warn!("{w}");
    }
    raise_fd_limit();
    let state = AppState::open_with(config, opts).await?;
    let config = state.config.clone();
    let engine = state.engine.clone();
    let addr = SocketAddr::new(config.host, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Listen { addr, source })?;
    let control =
        crate::control::serve(&config.data_dir, state.clone()).map_err(DaemonError::Control)?;
    info!(
        version = env!("CARGO_PKG_VERSION"),
        listen = %addr,
        data_dir = %config.data_dir.display(),
        provider = config.auth_provider.as_str(),
        bypass_hosts = %join(&config.bypass_hosts),
        trusted_proxies = %join(&config.trusted_proxies),
        accepted_hosts = %crate::auth::request::accepted_hosts_summary(&config),
        "pytorrentd ready"
    );
    let app = crate::app(state);
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(stop_signal(stop.clone()));
    // Not `axum::serve`: see `http::server` (request-head limits answered in JSON).
    let server = crate::http::server::serve(listener, app, {
        let stop = stop.clone();
        async move { stop.cancelled().await }
    });
    let mut served = tokio::spawn(server);
    // The port is bound and the engine is up: tell systemd (Type=notify) we are ready.
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("serving on {addr}")),
    ]);
    // Draining HTTP must not eat the whole 10 s stop budget.
    tokio::select! {
        r = &mut served => {
            if let Err(e) = r {
                warn!("http server: {e}");
            }
        }
        _ = async {
            stop.cancelled().await;
            tokio::time::sleep(Duration::from_secs(3)).await;
        } => {
            warn!("HTTP connections still open after 3 s; closing them");
            served.abort();
        }
    }
    control.abort();
    let _ = std::fs::remove_file(crate::control::socket_path(&config.data_dir));
    if tokio::time::timeout(Duration::from_secs(5), engine.shutdown())
        .await
        .is_err()
    {
        warn!("engine did not stop within 5 s");
    }
    info!("stopped");
    Ok(())
}

async fn stop_signal(stop: tokio_util::sync::CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    info!("stop signal received, shutting down");
    notify(&[sd_notify::NotifyState::Stopping]);
    stop.cancel();
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "-".into();
    }
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn notify(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!("systemd notification failed: {e}");
    }
}

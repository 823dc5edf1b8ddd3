//! The local control channel used by CLI commands: while the daemon runs it owns redb's
//! exclusive lock, so `pytorrentd profile …` talks to it over `DATA_DIR/control.sock`
//! (mode 0600, one JSON request and one JSON answer per connection). When the daemon is
//! stopped the CLI opens the store itself; both paths run the same domain functions.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tracing::{debug, warn};

use crate::auth::accounts::{Accounts, SignOut, UserChange};
use crate::auth::users::{UserError, UserView};

use crate::access::{Level, Role};
use crate::engine::profiles::{self, ProfilePatch};
use crate::engine::{Engine, EngineError};
use crate::state::AppState;
use crate::store::{ProfileRecord, Store};

/// Failures of a control request, shown to the CLI user as one line.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("internal error: a profile command reached the user commands")]
    NotAUserCommand,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    ProfileList,
    ProfileAdd {
        id: String,
        name: Option<String>,
        download_dir: PathBuf,
        max_active_downloads: Option<u32>,
    },
    ProfileSet {
        id: String,
        patch: ProfilePatch,
    },
    ProfileDelete {
        id: String,
    },
    UserList,
    UserAdd {
        name: String,
        password: Option<String>,
        role: Role,
    },
    UserDelete {
        name: String,
    },
    UserResetPassword {
        name: String,
        password: String,
    },
    UserSetRole {
        name: String,
        role: Role,
    },
    UserGrant {
        name: String,
        profile: String,
        level: Level,
    },
    UserRevoke {
        name: String,
        profile: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Ok(serde_json::Value),
    Error(String),
}

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// A path to the control socket that fits in `sockaddr_un` (108 bytes with the NUL). A long
/// `DATA_DIR` is reached through `/proc/self/fd/N/`, where N is an `O_PATH` descriptor of the
/// directory kept open for as long as this value lives: the socket file stays in `DATA_DIR`
/// with its 0600 mode, whatever the length of the path.
struct SocketAddrPath {
    path: PathBuf,
    _dir: Option<std::os::fd::OwnedFd>,
}

fn addressable_socket_path(data_dir: &Path) -> std::io::Result<SocketAddrPath> {
    use std::os::fd::AsRawFd;
    let full = socket_path(data_dir);
    if full.as_os_str().len() < 100 {
        return Ok(SocketAddrPath {
            path: full,
            _dir: None,
        });
    }
    let dir = rustix::fs::open(
        data_dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    Ok(SocketAddrPath {
        path: PathBuf::from(format!("/proc/self/fd/{}/control.sock", dir.as_raw_fd())),
        _dir: Some(dir),
    })
}

fn new_profile(
    id: String,
    name: Option<String>,
    download_dir: PathBuf,
    max: Option<u32>,
) -> ProfileRecord {
    ProfileRecord {
        name: name.unwrap_or_default(),
        id,
        download_dir,
        max_active_downloads: max.unwrap_or(0),
        created_at: None,
    }
}

fn to_value<T: Serialize>(v: T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// User commands: the same accounts service online and offline (online, it tells open
/// sessions and sockets about the change).
fn execute_user(accounts: &Accounts, req: Request) -> Result<serde_json::Value, ControlError> {
    let grants = |g: BTreeMap<String, Option<Level>>| UserChange {
        permissions: Some(g),
        ..Default::default()
    };
    Ok(match req {
        Request::UserList => to_value(
            accounts
                .list()?
                .iter()
                .map(UserView::from)
                .collect::<Vec<_>>(),
        ),
        Request::UserAdd {
            name,
            password,
            role,
        } => to_value(UserView::from(&accounts.create(
            &name,
            password.as_deref(),
            role,
            Default::default(),
        )?)),
        Request::UserDelete { name } => {
            accounts.delete(&name)?;
            serde_json::Value::Null
        }
        Request::UserResetPassword { name, password } => {
            let change = UserChange {
                password: Some(password),
                ..Default::default()
            };
            accounts.update(&name, change, SignOut::Everywhere)?;
            serde_json::Value::Null
        }
        Request::UserSetRole { name, role } => {
            let change = UserChange {
                role: Some(role),
                ..Default::default()
            };
            accounts.update(&name, change, SignOut::Everywhere)?;
            serde_json::Value::Null
        }
        Request::UserGrant {
            name,
            profile,
            level,
        } => {
            let change = grants([(profile, Some(level))].into_iter().collect());
            accounts.update(&name, change, SignOut::Everywhere)?;
            serde_json::Value::Null
        }
        Request::UserRevoke { name, profile } => {
            let change = grants([(profile, None)].into_iter().collect());
            accounts.update(&name, change, SignOut::Everywhere)?;
            serde_json::Value::Null
        }
        // Profile commands are the callers' own (`execute_online`/`execute_offline`); one
        // that arrives here is a bug, never a silent success.
        Request::ProfileList
        | Request::ProfileAdd { .. }
        | Request::ProfileSet { .. }
        | Request::ProfileDelete { .. } => return Err(ControlError::NotAUserCommand),
    })
}

/// Runs a request inside the running daemon.
pub fn execute_online(state: &AppState, req: Request) -> Result<serde_json::Value, ControlError> {
    let engine: &Engine = &state.engine;
    Ok(match req {
        Request::ProfileList => to_value(engine.profiles()),
        Request::ProfileAdd {
            id,
            name,
            download_dir,
            max_active_downloads,
        } => to_value(engine.create_profile(new_profile(
            id,
            name,
            download_dir,
            max_active_downloads,
        ))?),
        Request::ProfileSet { id, patch } => to_value(engine.update_profile(&id, patch)?),
        Request::ProfileDelete { id } => {
            engine.delete_profile(&id)?;
            serde_json::Value::Null
        }
        user => execute_user(&state.accounts, user)?,
    })
}

/// Runs a request directly against the store (daemon stopped).
pub fn execute_offline(store: &Store, req: Request) -> Result<serde_json::Value, ControlError> {
    let mut map: HashMap<String, ProfileRecord> = store
        .profiles()?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    Ok(match req {
        Request::ProfileList => {
            let mut v: Vec<_> = map.into_values().collect();
            v.sort_by(|a, b| a.id.cmp(&b.id));
            to_value(v)
        }
        Request::ProfileAdd {
            id,
            name,
            download_dir,
            max_active_downloads,
        } => to_value(profiles::create(
            store,
            &mut map,
            new_profile(id, name, download_dir, max_active_downloads),
        )?),
        Request::ProfileSet { id, patch } => {
            to_value(profiles::update(store, &mut map, &id, patch)?)
        }
        Request::ProfileDelete { id } => {
            let n = store.torrents()?.iter().filter(|t| t.profile == id).count();
            profiles::delete(store, &mut map, &id, n)?;
            serde_json::Value::Null
        }
        user => {
            let known: std::collections::HashSet<String> = map.into_keys().collect();
            let offline = Accounts::new(
                store.clone(),
                None,
                std::sync::Arc::new(move |p: &str| known.contains(p)),
            );
            execute_user(&offline, user)?
        }
    })
}

/// Serves the control socket until the returned task is aborted.
pub fn serve(data_dir: &Path, state: AppState) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let path = socket_path(data_dir);
    // A stale socket from a crashed run would make bind fail; we hold the redb lock, so
    // no other daemon can be using it.
    let _ = std::fs::remove_file(&path);
    // Created with mode 0600 from the start (umask), not chmod'ed after a window.
    let addr = addressable_socket_path(data_dir)?;
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = UnixListener::bind(&addr.path);
    rustix::process::umask(old);
    drop(addr);
    let listener = bound?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(stream, &state).await {
                    debug!("control connection: {e}");
                }
            });
        }
    }))
}

async fn handle(stream: UnixStream, state: &AppState) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    // Requests are small; the cap keeps a misbehaving client from growing memory.
    BufReader::new(tokio::io::AsyncReadExt::take(r, 1 << 20))
        .read_line(&mut line)
        .await?;
    let resp = match serde_json::from_str::<Request>(&line) {
        Ok(req) => {
            // Password hashing and store writes block: keep them off the async workers.
            let state = state.clone();
            match tokio::task::spawn_blocking(move || execute_online(&state, req)).await {
                Ok(Ok(v)) => Response::Ok(v),
                Ok(Err(e)) => {
                    if matches!(
                        e,
                        ControlError::Store(_)
                            | ControlError::Engine(
                                EngineError::Internal(_) | EngineError::Failed { .. }
                            )
                    ) {
                        warn!("control request failed: {e}");
                    }
                    Response::Error(e.to_string())
                }
                Err(e) => Response::Error(format!("internal error: {e}")),
            }
        }
        Err(e) => Response::Error(format!("bad control request: {e}")),
    };
    let mut out = serde_json::to_vec(&resp).unwrap_or_default();
    out.push(b'\n');
    w.write_all(&out).await?;
    w.shutdown().await
}

/// Sends one request to a running daemon. `Ok(None)` means no daemon answers.
pub async fn send(data_dir: &Path, req: &Request) -> std::io::Result<Option<Response>> {
    let addr = match addressable_socket_path(data_dir) {
        Ok(a) => a,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let stream = match UnixStream::connect(&addr.path).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let (r, mut w) = stream.into_split();
    let mut out = serde_json::to_vec(req).unwrap_or_default();
    out.push(b'\n');
    w.write_all(&out).await?;
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).await?;
    serde_json::from_str(&line)
        .map(Some)
        .map_err(|e| std::io::Error::other(format!("bad answer from the daemon: {e}")))
}

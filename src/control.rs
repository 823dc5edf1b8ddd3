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
use crate::engine::options::{EngineChange, EngineSettings};
use crate::engine::profiles::{self, ProfilePatch};
use crate::engine::speed::{SpeedChange, SpeedSettings};
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
    #[error("a new password is required")]
    PasswordRequired,
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
}

/// The profile commands: the `pytorrentd profile …` subcommands (clap) and, as JSON with
/// their name in `cmd`, the requests of the control socket. Declared once, here.
#[derive(Debug, Clone, clap::Subcommand, Serialize, Deserialize)]
#[serde(tag = "cmd")]
pub enum ProfileOp {
    /// List profiles.
    #[serde(rename = "profile_list")]
    List,
    /// Create a profile.
    #[serde(rename = "profile_add")]
    Add {
        /// Profile id (a-z, 0-9, '-', '_').
        id: String,
        /// Absolute download directory (must exist and be writable).
        #[arg(long)]
        dir: PathBuf,
        /// Maximum simultaneous downloads (0 = unlimited).
        #[arg(long)]
        max_active: Option<u32>,
        /// Display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
        /// Download limit shared by the profile's torrents (bytes/s, K/M/G suffix; 0 = none).
        #[arg(long, value_parser = parse_rate)]
        #[serde(default)]
        dl_limit: Option<u64>,
        /// Upload limit shared by the profile's torrents (bytes/s, K/M/G suffix; 0 = none).
        #[arg(long, value_parser = parse_rate)]
        #[serde(default)]
        ul_limit: Option<u64>,
    },
    /// Change a profile.
    #[serde(rename = "profile_set")]
    Set {
        id: String,
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long)]
        max_active: Option<u32>,
        #[arg(long)]
        name: Option<String>,
        /// Download limit shared by the profile's torrents (bytes/s, K/M/G suffix; 0 = none).
        #[arg(long, value_parser = parse_rate)]
        #[serde(default)]
        dl_limit: Option<u64>,
        /// Upload limit shared by the profile's torrents (bytes/s, K/M/G suffix; 0 = none).
        #[arg(long, value_parser = parse_rate)]
        #[serde(default)]
        ul_limit: Option<u64>,
    },
    /// Delete an empty profile.
    #[serde(rename = "profile_delete")]
    Delete { id: String },
}

/// A speed in bytes/s on the command line: a number with an optional binary suffix
/// (`512K`, `2M`, `1G`, `2MiB`), `0` for unlimited.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix("ib"))
        .unwrap_or(t);
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown unit in {s:?}: use K, M or G")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a speed: {s:?} (e.g. 0, 512K, 2M)"))?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("not a speed: {s:?}"));
    }
    Ok((n * mul as f64).round() as u64)
}

/// The speed-limit commands (`pytorrentd limits …` and their control-socket requests).
#[derive(Debug, Clone, clap::Subcommand, Serialize, Deserialize)]
#[serde(tag = "cmd")]
pub enum LimitsOp {
    /// Show the global speed limits, the alternative pair and the schedule.
    #[serde(rename = "limits_show")]
    Show,
    /// Change global speed limits (bytes/s with an optional K/M/G suffix; 0 = unlimited).
    #[serde(rename = "limits_set")]
    Set {
        #[arg(long, value_parser = parse_rate)]
        download: Option<u64>,
        #[arg(long, value_parser = parse_rate)]
        upload: Option<u64>,
        #[arg(long, value_parser = parse_rate)]
        alt_download: Option<u64>,
        #[arg(long, value_parser = parse_rate)]
        alt_upload: Option<u64>,
    },
    /// Switch the alternative limits on or off.
    #[serde(rename = "limits_alt")]
    Alt {
        #[arg(value_enum)]
        state: OnOff,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    fn on(self) -> bool {
        matches!(self, OnOff::On)
    }
}

/// The engine-settings commands (`pytorrentd engine …` and their control-socket requests).
#[derive(Debug, Clone, clap::Subcommand, Serialize, Deserialize)]
#[serde(tag = "cmd")]
pub enum EngineOp {
    /// Show the engine settings (and which wait for a restart).
    #[serde(rename = "engine_show")]
    Show,
    /// Change engine settings; most apply at the next start of the daemon.
    #[serde(rename = "engine_set")]
    Set {
        /// BitTorrent listen port (0 = random).
        #[arg(long)]
        listen_port: Option<u16>,
        #[arg(long, value_enum)]
        dht: Option<OnOff>,
        #[arg(long, value_enum)]
        lsd: Option<OnOff>,
        #[arg(long, value_enum)]
        upnp: Option<OnOff>,
        #[arg(long, value_enum)]
        pex: Option<OnOff>,
        /// Peer connections of all torrents together (0 = no cap).
        #[arg(long)]
        peer_limit_global: Option<u32>,
        /// Peer connections per torrent.
        #[arg(long)]
        peer_limit_torrent: Option<u32>,
        /// IP blocklist URL ('' removes it).
        #[arg(long)]
        blocklist_url: Option<String>,
        /// Network interface to bind to ('' for any).
        #[arg(long)]
        bind_interface: Option<String>,
    },
}

impl EngineOp {
    fn change(&self) -> Option<EngineChange> {
        match self {
            EngineOp::Show => None,
            EngineOp::Set {
                listen_port,
                dht,
                lsd,
                upnp,
                pex,
                peer_limit_global,
                peer_limit_torrent,
                blocklist_url,
                bind_interface,
            } => Some(EngineChange {
                listen_port: *listen_port,
                dht: dht.map(OnOff::on),
                lsd: lsd.map(OnOff::on),
                upnp: upnp.map(OnOff::on),
                pex: pex.map(OnOff::on),
                peer_limit_global: *peer_limit_global,
                peer_limit_torrent: *peer_limit_torrent,
                blocklist_url: blocklist_url.clone().map(Some),
                bind_interface: bind_interface.clone().map(Some),
            }),
        }
    }
}

impl LimitsOp {
    fn change(&self) -> Option<SpeedChange> {
        match *self {
            LimitsOp::Show => None,
            LimitsOp::Set {
                download,
                upload,
                alt_download,
                alt_upload,
            } => Some(SpeedChange {
                dl_limit: download,
                ul_limit: upload,
                alt_dl_limit: alt_download,
                alt_ul_limit: alt_upload,
                ..Default::default()
            }),
            LimitsOp::Alt { state } => Some(SpeedChange {
                alt_enabled: Some(matches!(state, OnOff::On)),
                ..Default::default()
            }),
        }
    }
}

/// The user commands (`pytorrentd user …` and their control-socket requests).
#[derive(Debug, Clone, clap::Subcommand, Serialize, Deserialize)]
#[serde(tag = "cmd")]
pub enum UserOp {
    /// List users.
    #[serde(rename = "user_list")]
    List,
    /// Create a user; without --password it is an external (proxy-authenticated) user.
    #[serde(rename = "user_add")]
    Add {
        name: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long, value_enum, default_value = "user")]
        role: RoleArg,
    },
    /// Delete a user (and its sessions and API tokens).
    #[serde(rename = "user_delete")]
    Delete { name: String },
    /// Set a new password (prompted twice when omitted); ends the user's sessions.
    #[serde(rename = "user_reset_password")]
    ResetPassword {
        name: String,
        password: Option<String>,
    },
    /// Make a user an administrator or a regular user.
    #[serde(rename = "user_set_role")]
    SetRole {
        name: String,
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Grant a level on a profile (or '*' for all profiles).
    #[serde(rename = "user_grant")]
    Grant {
        name: String,
        profile: String,
        #[arg(value_enum)]
        level: LevelArg,
    },
    /// Remove a grant.
    #[serde(rename = "user_revoke")]
    Revoke { name: String, profile: String },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleArg {
    User,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::User => Role::User,
            RoleArg::Admin => Role::Admin,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LevelArg {
    None,
    Ro,
    Rw,
    Full,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Level {
        match l {
            LevelArg::None => Level::None,
            LevelArg::Ro => Level::Ro,
            LevelArg::Rw | LevelArg::Full => Level::Full,
        }
    }
}

/// One control-socket request: a profile or a user command, told apart by its `cmd`.
#[derive(Debug, Clone)]
pub enum Request {
    Profile(ProfileOp),
    User(UserOp),
    Limits(LimitsOp),
    Engine(EngineOp),
    /// Write a backup to this (absolute) file.
    Backup(PathBuf),
}

impl Request {
    /// The audit log's (action, target) of a request that changes something.
    fn audit(&self) -> Option<(String, Option<String>)> {
        if self.is_read_only() {
            return None;
        }
        let v = serde_json::to_value(self).ok()?;
        let cmd = v.get("cmd")?.as_str()?.to_owned();
        let target = ["name", "id"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_owned));
        Some((cmd, target))
    }

    /// Requests that only read (served offline from a read-only view of the database).
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Request::Profile(ProfileOp::List)
                | Request::User(UserOp::List)
                | Request::Limits(LimitsOp::Show)
                | Request::Engine(EngineOp::Show)
                | Request::Backup(_)
        )
    }
}

impl Serialize for Request {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Request::Profile(op) => op.serialize(s),
            Request::User(op) => op.serialize(s),
            Request::Limits(op) => op.serialize(s),
            Request::Engine(op) => op.serialize(s),
            Request::Backup(p) => serde_json::json!({"cmd": "backup", "path": p}).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        let cmd = v.get("cmd").and_then(|c| c.as_str()).unwrap_or_default();
        if cmd == "backup" {
            let p = v
                .get("path")
                .and_then(|p| p.as_str())
                .ok_or_else(|| D::Error::custom("backup needs a path"))?;
            Ok(Request::Backup(PathBuf::from(p)))
        } else if cmd.starts_with("profile_") {
            ProfileOp::deserialize(v)
                .map(Request::Profile)
                .map_err(D::Error::custom)
        } else if cmd.starts_with("engine_") {
            EngineOp::deserialize(v)
                .map(Request::Engine)
                .map_err(D::Error::custom)
        } else if cmd.starts_with("limits_") {
            LimitsOp::deserialize(v)
                .map(Request::Limits)
                .map_err(D::Error::custom)
        } else {
            UserOp::deserialize(v)
                .map(Request::User)
                .map_err(D::Error::custom)
        }
    }
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
    (dl, ul): (Option<u64>, Option<u64>),
) -> ProfileRecord {
    ProfileRecord {
        name: name.unwrap_or_default(),
        id,
        download_dir,
        max_active_downloads: max.unwrap_or(0),
        dl_limit: dl.unwrap_or(0),
        ul_limit: ul.unwrap_or(0),
        created_at: None,
        ..Default::default()
    }
}

fn to_value<T: Serialize>(v: T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// User commands: the same accounts service online and offline (online, it tells open
/// sessions and sockets about the change).
fn execute_user(accounts: &Accounts, op: UserOp) -> Result<serde_json::Value, ControlError> {
    let grants = |g: BTreeMap<String, Option<Level>>| UserChange {
        permissions: Some(g),
        ..Default::default()
    };
    let change = |name: &str, c: UserChange| -> Result<serde_json::Value, ControlError> {
        accounts.update(name, c, SignOut::Everywhere)?;
        Ok(serde_json::Value::Null)
    };
    match op {
        UserOp::List => Ok(to_value(
            accounts
                .list()?
                .iter()
                .map(UserView::from)
                .collect::<Vec<_>>(),
        )),
        UserOp::Add {
            name,
            password,
            role,
        } => Ok(to_value(UserView::from(&accounts.create(
            &name,
            password.as_deref(),
            role.into(),
            Default::default(),
        )?))),
        UserOp::Delete { name } => {
            accounts.delete(&name)?;
            Ok(serde_json::Value::Null)
        }
        UserOp::ResetPassword { name, password } => {
            // The CLI asks for it before sending; a request without one changes nothing.
            let password = password.ok_or(ControlError::PasswordRequired)?;
            let c = UserChange {
                password: Some(password),
                ..Default::default()
            };
            change(&name, c)
        }
        UserOp::SetRole { name, role } => {
            let c = UserChange {
                role: Some(role.into()),
                ..Default::default()
            };
            change(&name, c)
        }
        UserOp::Grant {
            name,
            profile,
            level,
        } => change(&name, grants([(profile, Some(level.into()))].into())),
        UserOp::Revoke { name, profile } => change(&name, grants([(profile, None)].into())),
    }
}

/// Runs a request inside the running daemon.
pub fn execute_online(state: &AppState, req: Request) -> Result<serde_json::Value, ControlError> {
    let engine: &Engine = &state.engine;
    let op = match req {
        Request::User(op) => return execute_user(&state.accounts, op),
        Request::Limits(op) => {
            if let Some(c) = op.change() {
                engine.set_speed_settings(&c)?;
            }
            return Ok(to_value(engine.speed_settings()));
        }
        Request::Backup(path) => {
            let m = crate::backup::write_file(
                &state.store,
                &engine.resume_bitfields(),
                &state.config.data_dir,
                &path,
            )?;
            return Ok(to_value(m));
        }
        Request::Engine(op) => {
            if let Some(c) = op.change() {
                engine.set_engine_settings(&c)?;
            }
            return Ok(serde_json::json!({
                "settings": engine.engine_settings(),
                "restart_needed": engine.engine_restart_needed(),
            }));
        }
        Request::Profile(op) => op,
    };
    Ok(match op {
        ProfileOp::List => to_value(engine.profiles()),
        ProfileOp::Add {
            id,
            dir,
            max_active,
            name,
            dl_limit,
            ul_limit,
        } => to_value(engine.create_profile(new_profile(
            id,
            name,
            dir,
            max_active,
            (dl_limit, ul_limit),
        ))?),
        ProfileOp::Set {
            id,
            dir,
            max_active,
            name,
            dl_limit,
            ul_limit,
        } => to_value(
            engine.update_profile(&id, patch_of(name, dir, max_active, (dl_limit, ul_limit)))?,
        ),
        ProfileOp::Delete { id } => {
            engine.delete_profile(&id)?;
            serde_json::Value::Null
        }
    })
}

fn patch_of(
    name: Option<String>,
    dir: Option<PathBuf>,
    max: Option<u32>,
    (dl_limit, ul_limit): (Option<u64>, Option<u64>),
) -> ProfilePatch {
    ProfilePatch {
        name,
        download_dir: dir,
        max_active_downloads: max,
        dl_limit,
        ul_limit,
        ..Default::default()
    }
}

/// Runs a request directly against the store (daemon stopped).
pub fn execute_offline(store: &Store, req: Request) -> Result<serde_json::Value, ControlError> {
    let mut map: HashMap<String, ProfileRecord> = store
        .profiles()?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let op = match req {
        Request::User(op) => {
            let known: std::collections::HashSet<String> = map.into_keys().collect();
            let offline = Accounts::new(
                store.clone(),
                None,
                std::sync::Arc::new(move |p: &str| known.contains(p)),
            );
            return execute_user(&offline, op);
        }
        Request::Limits(op) => {
            let key = crate::engine::speed::SETTINGS_KEY;
            let mut now: SpeedSettings = store
                .get_json(crate::store::Table::Settings, key)?
                .unwrap_or_default();
            if let Some(c) = op.change() {
                c.apply(&mut now)?;
                store.write(|tx| tx.put(crate::store::Table::Settings, key, &now))?;
            }
            return Ok(to_value(now));
        }
        Request::Backup(path) => {
            let data_dir = store
                .file_path()
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let m = crate::backup::write_file(
                store,
                &crate::backup::bitfields_on_disk(&data_dir),
                &data_dir,
                &path,
            )?;
            return Ok(to_value(m));
        }
        Request::Engine(op) => {
            let key = crate::engine::options::SETTINGS_KEY;
            let mut now: EngineSettings = store
                .get_json(crate::store::Table::Settings, key)?
                .ok_or_else(|| {
                    EngineError::Invalid(
                        "no engine settings yet: they are written at the daemon's first start"
                            .into(),
                    )
                })?;
            if let Some(c) = op.change() {
                c.apply(&mut now)?;
                store.write(|tx| tx.put(crate::store::Table::Settings, key, &now))?;
            }
            // The daemon is stopped: everything applies at its next start.
            return Ok(serde_json::json!({"settings": now, "restart_needed": []}));
        }
        Request::Profile(op) => op,
    };
    Ok(match op {
        ProfileOp::List => {
            let mut v: Vec<_> = map.into_values().collect();
            v.sort_by(|a, b| a.id.cmp(&b.id));
            to_value(v)
        }
        ProfileOp::Add {
            id,
            dir,
            max_active,
            name,
            dl_limit,
            ul_limit,
        } => to_value(profiles::create(
            store,
            &mut map,
            new_profile(id, name, dir, max_active, (dl_limit, ul_limit)),
        )?),
        ProfileOp::Set {
            id,
            dir,
            max_active,
            name,
            dl_limit,
            ul_limit,
        } => to_value(profiles::update(
            store,
            &mut map,
            &id,
            patch_of(name, dir, max_active, (dl_limit, ul_limit)),
        )?),
        ProfileOp::Delete { id } => {
            let n = store.torrents()?.iter().filter(|t| t.profile == id).count();
            profiles::delete(store, &mut map, &id, n)?;
            serde_json::Value::Null
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
            let audit = req.audit();
            // Password hashing and store writes block: keep them off the async workers.
            let state2 = state.clone();
            match tokio::task::spawn_blocking(move || execute_online(&state2, req)).await {
                Ok(Ok(v)) => {
                    if let Some((action, target)) = audit {
                        let e = crate::audit::entry(None, None, action, target, None, "cli");
                        crate::audit::record(&state.store, e);
                    }
                    Response::Ok(v)
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_the_cli_commands_named_in_cmd() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "pytorrentd",
            "user",
            "grant",
            "eve",
            "movies",
            "rw",
            "--data-dir",
            "/d",
        ])
        .expect("parses");
        let crate::cli::Command::User(u) = cli.command else {
            panic!("not a user command");
        };
        let json = serde_json::to_value(Request::User(u.op)).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"cmd": "user_grant", "name": "eve", "profile": "movies", "level": "rw"})
        );
        let back: Request = serde_json::from_value(json).expect("deserializes");
        assert!(matches!(back, Request::User(UserOp::Grant { .. })));
        let p: Request = serde_json::from_str(
            r#"{"cmd":"profile_set","id":"a","dir":null,"max_active":3,"name":null}"#,
        )
        .expect("profile request");
        assert!(matches!(
            p,
            Request::Profile(ProfileOp::Set {
                max_active: Some(3),
                ..
            })
        ));
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"profile_frob"}"#).is_err());
    }
}

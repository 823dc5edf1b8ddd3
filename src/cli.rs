//! Command-line interface: argument types and the non-serve commands (`config`,
//! `profile …`). Profile commands go through the running daemon's control socket, or open
//! the store directly when the daemon is stopped.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::auth::users::UserView;
use crate::config::{Config, Level, Role, ServeOverrides};
use crate::control::{self, Request, Response};
use crate::engine::profiles::ProfilePatch;
use crate::store::{ProfileRecord, Store};

#[derive(Debug, Parser)]
#[command(
    name = "pytorrentd",
    version,
    about = "BitTorrent daemon with an embedded web UI"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (web UI, API and torrent engine).
    Serve(ServeArgs),
    /// Print the effective configuration (secrets masked); exit 1 if it is invalid.
    Config(DataDirArg),
    /// Manage profiles (download queues).
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCmd),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
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

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
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

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// List users.
    List(DataDirArg),
    /// Create a user; without --password it is an external (proxy-authenticated) user.
    Add {
        name: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long, value_enum, default_value = "user")]
        role: RoleArg,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Delete a user (and its sessions and API tokens).
    Delete {
        name: String,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Set a new password (prompted twice when omitted); ends the user's sessions.
    ResetPassword {
        name: String,
        password: Option<String>,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Make a user an administrator or a regular user.
    SetRole {
        name: String,
        #[arg(value_enum)]
        role: RoleArg,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Grant a level on a profile (or '*' for all profiles).
    Grant {
        name: String,
        profile: String,
        #[arg(value_enum)]
        level: LevelArg,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Remove a grant.
    Revoke {
        name: String,
        profile: String,
        #[command(flatten)]
        data: DataDirArg,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address of the web UI (PYTORRENT_HOST).
    #[arg(long)]
    pub host: Option<std::net::IpAddr>,
    /// Listen port of the web UI (PYTORRENT_PORT).
    #[arg(long)]
    pub port: Option<u16>,
    /// Data directory (PYTORRENT_DATA_DIR).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl ServeArgs {
    pub fn overrides(&self) -> ServeOverrides {
        ServeOverrides {
            host: self.host,
            port: self.port,
            data_dir: self.data_dir.clone(),
            prefer_system_install: false,
        }
    }
}

#[derive(Debug, Args)]
pub struct DataDirArg {
    /// Data directory (PYTORRENT_DATA_DIR).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArg {
    pub fn overrides(&self) -> ServeOverrides {
        ServeOverrides {
            data_dir: self.data_dir.clone(),
            prefer_system_install: true,
            ..Default::default()
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// List profiles.
    List(DataDirArg),
    /// Create a profile.
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
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Change a profile.
    Set {
        id: String,
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long)]
        max_active: Option<u32>,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Delete an empty profile.
    Delete {
        id: String,
        #[command(flatten)]
        data: DataDirArg,
    },
}

/// A one-line CLI failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

fn load_config(o: &ServeOverrides) -> Result<Config, CliError> {
    let (cfg, warnings) = Config::from_env(o).map_err(|e| CliError(e.to_string()))?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(cfg)
}

pub fn config_cmd(a: &DataDirArg) -> Result<String, CliError> {
    Ok(load_config(&a.overrides())?.render_masked())
}

/// Runs a profile command and returns what to print.
pub async fn profile_cmd(cmd: ProfileCmd) -> Result<String, CliError> {
    let (data, req, list) = match cmd {
        ProfileCmd::List(d) => (d, Request::ProfileList, true),
        ProfileCmd::Add {
            id,
            dir,
            max_active,
            name,
            data,
        } => (
            data,
            Request::ProfileAdd {
                id,
                name,
                download_dir: absolute(dir),
                max_active_downloads: max_active,
            },
            false,
        ),
        ProfileCmd::Set {
            id,
            dir,
            max_active,
            name,
            data,
        } => (
            data,
            Request::ProfileSet {
                id,
                patch: ProfilePatch {
                    name,
                    download_dir: dir.map(absolute),
                    max_active_downloads: max_active,
                },
            },
            false,
        ),
        ProfileCmd::Delete { id, data } => (data, Request::ProfileDelete { id }, false),
    };
    let cfg = load_config(&data.overrides())?;
    let value = run(&cfg, req).await?;
    if list {
        let profiles: Vec<ProfileRecord> =
            serde_json::from_value(value).map_err(|e| CliError(e.to_string()))?;
        let mut out = String::new();
        for p in profiles {
            let max = if p.max_active_downloads == 0 {
                "unlimited".to_string()
            } else {
                p.max_active_downloads.to_string()
            };
            out.push_str(&format!(
                "{}\t{}\t{}\tmax_active={}\n",
                p.id,
                p.name,
                p.download_dir.display(),
                max
            ));
        }
        Ok(out)
    } else {
        Ok("ok\n".into())
    }
}

/// Relative directories given on the command line mean "relative to where I am".
fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|c| c.join(&p)).unwrap_or(p)
    }
}

/// Asks for a new password twice: on the terminal when there is one, else two lines on
/// standard input (scripts).
fn prompt_new_password() -> Result<String, CliError> {
    use std::io::{BufRead, IsTerminal};
    let (a, b) = if std::io::stdin().is_terminal() {
        let a =
            rpassword::prompt_password("New password: ").map_err(|e| CliError(e.to_string()))?;
        let b = rpassword::prompt_password("Repeat it: ").map_err(|e| CliError(e.to_string()))?;
        (a, b)
    } else {
        let mut lines = std::io::stdin().lock().lines();
        let mut next = || -> Result<String, CliError> {
            lines
                .next()
                .ok_or_else(|| {
                    CliError("expected the new password twice on standard input".into())
                })?
                .map_err(|e| CliError(e.to_string()))
        };
        (next()?, next()?)
    };
    if a != b {
        return Err(CliError("the two passwords differ; nothing changed".into()));
    }
    Ok(a)
}

/// Runs a user command and returns what to print.
pub async fn user_cmd(cmd: UserCmd) -> Result<String, CliError> {
    let (data, req, list) = match cmd {
        UserCmd::List(d) => (d, Request::UserList, true),
        UserCmd::Add {
            name,
            password,
            role,
            data,
        } => (
            data,
            Request::UserAdd {
                name,
                password,
                role: role.into(),
            },
            false,
        ),
        UserCmd::Delete { name, data } => (data, Request::UserDelete { name }, false),
        UserCmd::ResetPassword {
            name,
            password,
            data,
        } => {
            let password = match password {
                Some(p) => p,
                None => prompt_new_password()?,
            };
            (data, Request::UserResetPassword { name, password }, false)
        }
        UserCmd::SetRole { name, role, data } => (
            data,
            Request::UserSetRole {
                name,
                role: role.into(),
            },
            false,
        ),
        UserCmd::Grant {
            name,
            profile,
            level,
            data,
        } => (
            data,
            Request::UserGrant {
                name,
                profile,
                level: level.into(),
            },
            false,
        ),
        UserCmd::Revoke {
            name,
            profile,
            data,
        } => (data, Request::UserRevoke { name, profile }, false),
    };
    let cfg = load_config(&data.overrides())?;
    let value = run(&cfg, req).await?;
    if !list {
        return Ok("ok\n".into());
    }
    let users: Vec<UserView> =
        serde_json::from_value(value).map_err(|e| CliError(e.to_string()))?;
    let mut out = String::new();
    for u in users {
        let grants: Vec<String> = u
            .permissions
            .iter()
            .map(|(p, l)| format!("{p}={}", l.as_str()))
            .collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            u.username,
            u.role,
            if u.external { "external" } else { "local" },
            if grants.is_empty() {
                "-".to_string()
            } else {
                grants.join(",")
            }
        ));
    }
    Ok(out)
}

async fn run(cfg: &Config, req: Request) -> Result<serde_json::Value, CliError> {
    match control::send(&cfg.data_dir, &req).await {
        Ok(Some(Response::Ok(v))) => return Ok(v),
        Ok(Some(Response::Error(e))) => return Err(CliError(e)),
        Ok(None) => {}
        Err(e) => {
            return Err(CliError(format!(
                "cannot talk to the daemon at {}: {e}",
                control::socket_path(&cfg.data_dir).display()
            )));
        }
    }
    if !Store::path(&cfg.data_dir).exists() {
        return Err(CliError(format!(
            "no database in {} (start the daemon once, or pass --data-dir)",
            cfg.data_dir.display()
        )));
    }
    let store = Store::open(&cfg.data_dir).map_err(|e| CliError(e.to_string()))?;
    tokio::task::spawn_blocking(move || control::execute_offline(&store, req))
        .await
        .map_err(|e| CliError(e.to_string()))?
        .map_err(|e| CliError(e.to_string()))
}

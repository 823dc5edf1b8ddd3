//! Command-line interface: argument types and the non-serve commands (`config`,
//! `profile …`). Profile commands go through the running daemon's control socket, or open
//! the store directly when the daemon is stopped.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ServeOverrides};
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
    control::execute_offline(&store, req).map_err(|e| CliError(e.to_string()))
}

//! Command-line interface: argument types and the non-serve commands (`config`,
//! `profile …`). Profile commands go through the running daemon's control socket, or open
//! the store directly when the daemon is stopped.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::auth::users::UserView;
use crate::config::{Config, ServeOverrides};
use crate::control::{self, EngineOp, LimitsOp, ProfileOp, Request, Response, UserOp};
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
    Profile(ProfileCmd),
    /// Manage user accounts.
    User(UserCmd),
    /// Show or change the global speed limits (live when the daemon runs).
    Limits(LimitsCmd),
    /// Show or change the engine settings (listen port, DHT, peer limits, blocklist, VPN
    /// interface).
    Engine(EngineCmd),
    /// Write a backup (database, fast-resume state) to FILE; works while the daemon runs.
    Backup(BackupArgs),
    /// Restore a backup into the data directory (the daemon stopped; an empty data
    /// directory unless --force, which moves the present state aside).
    Restore(RestoreArgs),
    /// Report what the database holds, without modifying it (stop the daemon first); exit
    /// 1 when anything is damaged, unreadable or quarantined.
    Check(DataDirArg),
    /// Make a .torrent of a file or folder (no daemon needed); prints its info hash.
    CreateTorrent(CreateTorrentArgs),
}

/// `pytorrentd create-torrent PATH [options]`.
#[derive(Debug, Args)]
pub struct CreateTorrentArgs {
    /// The file or folder to describe (symbolic links inside are refused).
    pub path: std::path::PathBuf,
    /// Where to write the .torrent (default: NAME.torrent in the current folder).
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
    /// A tracker URL (repeat for several; each is its own tier).
    #[arg(long = "tracker")]
    pub trackers: Vec<String>,
    /// A web seed URL (repeat for several).
    #[arg(long = "web-seed")]
    pub web_seeds: Vec<String>,
    /// Mark the torrent private (no DHT or peer exchange).
    #[arg(long)]
    pub private: bool,
    #[arg(long)]
    pub comment: Option<String>,
    /// Piece length in bytes (a power of two, 16 KiB to 64 MiB); default: about 1,500 pieces.
    #[arg(long)]
    pub piece_length: Option<u32>,
}

/// `pytorrentd create-torrent`: hashes on this thread and writes the file (never over an
/// existing one).
pub fn create_torrent_cmd(a: &CreateTorrentArgs) -> Result<String, CliError> {
    let e = |m: String| CliError(m);
    for u in a.trackers.iter().chain(&a.web_seeds) {
        crate::limits::check_url(u).map_err(|x| e(x.to_string()))?;
    }
    let opts = crate::engine::create::CreateOptions {
        trackers: a.trackers.clone(),
        piece_length: a.piece_length,
        private: a.private,
        comment: a.comment.clone(),
        web_seeds: a.web_seeds.clone(),
    };
    let progress = std::sync::Arc::new(crate::engine::create::Progress::default());
    let made = crate::engine::create::create(&a.path, &opts, &progress).map_err(|x| {
        e(format!(
            "cannot make a torrent of {}: {x}",
            a.path.display()
        ))
    })?;
    let out = a
        .output
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(format!("{}.torrent", made.name)));
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&out)
        .map_err(|x| e(format!("cannot write {}: {x}", out.display())))?;
    f.write_all(&made.bytes)
        .map_err(|x| e(format!("cannot write {}: {x}", out.display())))?;
    Ok(format!(
        "{}  {} ({} files, {} bytes)\n",
        made.info_hash,
        out.display(),
        made.files,
        made.total
    ))
}

/// `pytorrentd user [--data-dir DIR] <command>`.
#[derive(Debug, Args)]
pub struct UserCmd {
    #[command(subcommand)]
    pub op: UserOp,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// `pytorrentd limits [--data-dir DIR] <command>`.
#[derive(Debug, Args)]
pub struct LimitsCmd {
    #[command(subcommand)]
    pub op: LimitsOp,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// A limit for people: "unlimited" or e.g. "2.0 MiB/s".
fn rate(v: u64) -> String {
    if v == 0 {
        return "unlimited".into();
    }
    let units = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, size) in units {
        if v >= size {
            return format!("{:.1} {name}/s", v as f64 / size as f64);
        }
    }
    format!("{v} B/s")
}

/// Runs a limits command and prints the settings as they are afterwards.
pub async fn limits_cmd(cmd: LimitsCmd) -> Result<String, CliError> {
    let cfg = load_config(&cmd.data.overrides())?;
    let v = run(&cfg, Request::Limits(cmd.op)).await?;
    let s: crate::engine::speed::SpeedSettings =
        serde_json::from_value(v).map_err(|e| CliError(e.to_string()))?;
    let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let on: Vec<&str> = s
        .schedule
        .days
        .iter()
        .filter_map(|d| days.get(*d as usize).copied())
        .collect();
    Ok(format!(
        "download\t{}\nupload\t{}\nalt download\t{}\nalt upload\t{}\nalternative\t{}\nschedule\t{}\n",
        rate(s.dl_limit),
        rate(s.ul_limit),
        rate(s.alt_dl_limit),
        rate(s.alt_ul_limit),
        if s.alt_enabled { "on" } else { "off" },
        if s.schedule.enabled {
            format!("{}-{} {}", s.schedule.from, s.schedule.to, on.join(","))
        } else {
            "off".into()
        }
    ))
}

/// `pytorrentd backup FILE`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    pub file: PathBuf,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// `pytorrentd restore FILE [--force]`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    pub file: PathBuf,
    /// Restore over an existing database (it is moved to DATA_DIR/replaced-TIMESTAMP/).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

fn summary(m: &crate::backup::Manifest) -> String {
    format!(
        "{} records, {} fast-resume files (pytorrentd {}, {})\n",
        m.records,
        m.bitfields,
        m.version,
        m.created_at.to_rfc3339()
    )
}

pub async fn backup_cmd(a: BackupArgs) -> Result<String, CliError> {
    let cfg = load_config(&a.data.overrides())?;
    let v = run(&cfg, Request::Backup(absolute(a.file))).await?;
    let m: crate::backup::Manifest =
        serde_json::from_value(v).map_err(|e| CliError(e.to_string()))?;
    Ok(format!("backup written: {}", summary(&m)))
}

pub async fn restore_cmd(a: RestoreArgs) -> Result<String, CliError> {
    let cfg = load_config(&a.data.overrides())?;
    match control::send(&cfg.data_dir, &Request::Limits(LimitsOp::Show)).await {
        Ok(None) => {}
        _ => {
            return Err(CliError(format!(
                "the daemon is running on {}: stop it first (systemctl stop pytorrentd)",
                cfg.data_dir.display()
            )));
        }
    }
    let file = absolute(a.file);
    let data_dir = cfg.data_dir.clone();
    let m = tokio::task::spawn_blocking(move || crate::backup::restore(&file, &data_dir, a.force))
        .await
        .map_err(|e| CliError(e.to_string()))?
        .map_err(|e| CliError(e.to_string()))?;
    Ok(format!(
        "restored into {}: {}",
        cfg.data_dir.display(),
        summary(&m)
    ))
}

/// `pytorrentd engine [--data-dir DIR] <command>`.
#[derive(Debug, Args)]
pub struct EngineCmd {
    #[command(subcommand)]
    pub op: EngineOp,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Runs an engine command and prints the settings as they are afterwards, one per line.
pub async fn engine_cmd(cmd: EngineCmd) -> Result<String, CliError> {
    let cfg = load_config(&cmd.data.overrides())?;
    let v = run(&cfg, Request::Engine(cmd.op)).await?;
    let mut out = String::new();
    if let Some(map) = v["settings"].as_object() {
        for (k, val) in map {
            let shown = match val {
                serde_json::Value::Null => "-".to_string(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("{k}\t{shown}\n"));
        }
    }
    if let Some(r) = v["restart_needed"].as_array().filter(|r| !r.is_empty()) {
        let names: Vec<&str> = r.iter().filter_map(|x| x.as_str()).collect();
        out.push_str(&format!(
            "applies after a restart of the daemon: {}\n",
            names.join(", ")
        ));
    }
    Ok(out)
}

/// `pytorrentd profile [--data-dir DIR] <command>`.
#[derive(Debug, Args)]
pub struct ProfileCmd {
    #[command(subcommand)]
    pub op: ProfileOp,
    #[command(flatten)]
    pub data: DataDirArg,
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
    /// Start with an empty database when the existing one is missing, empty, damaged or
    /// from a newer version; the old file and engine state are moved aside, not deleted.
    #[arg(long)]
    pub reinitialize: bool,
}

impl ServeArgs {
    pub fn start_options(&self) -> crate::data_dir::StartOptions {
        crate::data_dir::StartOptions {
            reinitialize: self.reinitialize,
        }
    }

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
    let ProfileCmd { mut op, data } = cmd;
    let list = matches!(op, ProfileOp::List);
    // Relative directories mean "relative to where I am", not to the daemon's directory.
    match &mut op {
        ProfileOp::Add { dir, .. } => *dir = absolute(std::mem::take(dir)),
        ProfileOp::Set { dir: Some(dir), .. } => *dir = absolute(std::mem::take(dir)),
        _ => {}
    }
    let req = Request::Profile(op);
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
                "{}\t{}\t{}\tmax_active={}\tdl_limit={}\tul_limit={}\n",
                p.id,
                p.name,
                p.download_dir.display(),
                max,
                rate(p.dl_limit),
                rate(p.ul_limit)
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
    let UserCmd { mut op, data } = cmd;
    let list = matches!(op, UserOp::List);
    if let UserOp::ResetPassword { password, .. } = &mut op
        && password.is_none()
    {
        *password = Some(prompt_new_password()?);
    }
    let req = Request::User(op);
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
    let store = open_offline(&cfg.data_dir, req.is_read_only())?;
    tokio::task::spawn_blocking(move || control::execute_offline(&store, req))
        .await
        .map_err(|e| CliError(e.to_string()))?
        .map_err(|e| CliError(e.to_string()))
}

/// Opens the database of a stopped daemon for a CLI command. Never creates one, never
/// touches a damaged one; reads go through a view that leaves the file unchanged.
fn open_offline(data_dir: &std::path::Path, read_only: bool) -> Result<Store, CliError> {
    use crate::store::Inspection;
    let path = Store::path(data_dir);
    match Store::inspect(&path) {
        Inspection::Missing => Err(CliError(format!(
            "no database in {} (start the daemon once, or pass --data-dir)",
            data_dir.display()
        ))),
        Inspection::Empty => Err(CliError(format!(
            "the database {} is empty (0 bytes); nothing was changed. Restore it from a backup, or start the daemon with `pytorrentd serve --reinitialize`",
            path.display()
        ))),
        Inspection::Damaged(reason) => Err(CliError(format!(
            "the database {} is damaged ({reason}); it was not modified. See what is readable with `pytorrentd check`",
            path.display()
        ))),
        Inspection::TooNew { found } => Err(CliError(format!(
            "the database {} has schema version {found}, newer than this pytorrentd understands ({}); it was not modified",
            path.display(),
            crate::store::SCHEMA_VERSION
        ))),
        Inspection::Locked => Err(CliError(
            crate::store::StoreError::Locked { path }.to_string(),
        )),
        Inspection::Usable { .. } => if read_only {
            Store::open_view(data_dir)
        } else {
            Store::open_existing(data_dir)
        }
        .map_err(|e| CliError(e.to_string())),
    }
}

/// `pytorrentd check`: what the database holds, read through a view that never writes the
/// file. Returns the report, and whether everything was sound.
pub fn check_cmd(a: &DataDirArg) -> Result<(String, bool), CliError> {
    use crate::store::Inspection;
    use std::fmt::Write;
    let cfg = load_config(&a.overrides())?;
    let path = Store::path(&cfg.data_dir);
    let mut out = String::new();
    let mut sound = true;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = writeln!(out, "database: {} ({size} bytes)", path.display());
    let store = match Store::inspect(&path) {
        Inspection::Missing => {
            let _ = writeln!(out, "status: missing");
            sound = false;
            None
        }
        Inspection::Empty => {
            let _ = writeln!(out, "status: empty (0 bytes)");
            sound = false;
            None
        }
        Inspection::Locked => {
            return Err(CliError(format!(
                "{} is in use by a running daemon; stop it first (`systemctl stop pytorrentd`)",
                path.display()
            )));
        }
        Inspection::Usable { schema } => {
            let _ = writeln!(
                out,
                "status: sound (schema {schema}, every page checksum verified)"
            );
            Some(Store::open_view(&cfg.data_dir).map_err(|e| CliError(e.to_string()))?)
        }
        Inspection::TooNew { found } => {
            sound = false;
            let _ = writeln!(
                out,
                "status: schema {found}, newer than this build ({}); reading what this build understands",
                crate::store::SCHEMA_VERSION
            );
            Store::open_damaged_view(&cfg.data_dir).ok()
        }
        Inspection::Damaged(reason) => {
            sound = false;
            let _ = writeln!(out, "status: DAMAGED: {reason}");
            match Store::open_damaged_view(&cfg.data_dir) {
                Ok(s) => {
                    let _ = writeln!(
                        out,
                        "reading what is still readable (results may be incomplete):"
                    );
                    Some(s)
                }
                Err(e) => {
                    let _ = writeln!(out, "nothing is readable: {e}");
                    None
                }
            }
        }
    };
    if let Some(store) = store {
        let r = store.report();
        for t in &r.tables {
            let _ = write!(out, "{}: {} readable", t.table, t.readable.len());
            if !t.unreadable.is_empty() {
                let _ = write!(out, ", {} unreadable", t.unreadable.len());
            }
            let _ = writeln!(out);
            if matches!(t.table.as_str(), "users" | "profiles") && !t.readable.is_empty() {
                let _ = writeln!(out, "  {}", t.readable.join(", "));
            }
            if t.table == "torrents" {
                for (profile, n) in &r.torrents_by_profile {
                    let _ = writeln!(out, "  profile {profile}: {n}");
                }
            }
            for (key, reason) in &t.unreadable {
                sound = false;
                let _ = writeln!(out, "  UNREADABLE {}/{key}: {reason}", t.table);
            }
            if let Some(e) = &t.error {
                sound = false;
                let _ = writeln!(out, "  TABLE UNREADABLE past this point: {e}");
            }
        }
        if let Some(n) = r.torrent_files {
            let _ = writeln!(out, "torrent files: {n}");
        }
        let _ = writeln!(out, "quarantined: {}", r.quarantined.len());
        for q in &r.quarantined {
            sound = false;
            let _ = writeln!(
                out,
                "  {}/{} (set aside {}): {}",
                q.table,
                q.key,
                q.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                q.reason
            );
        }
    }
    if let Some(state) = crate::engine::saved_state(&cfg.data_dir) {
        let _ = writeln!(out, "engine state: {state}");
    }
    let _ = writeln!(
        out,
        "result: {}",
        if sound { "ok" } else { "PROBLEMS FOUND" }
    );
    Ok((out, sound))
}

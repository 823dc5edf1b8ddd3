//! Entry point: parse arguments, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use pytorrentd::cli::{self, Cli, Command};
use pytorrentd::config::{Config, LogFormat};

fn init_logging(cfg: &Config) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log)
        .map_err(|e| format!("PYTORRENT_LOG={}: invalid filter ({e})", cfg.log))?;
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match cfg.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("pytorrentd: {msg}");
    ExitCode::FAILURE
}

/// Usage errors as one line with exit status 1 (scripts rely on it; README "Command line");
/// `--help` and `--version` print normally.
fn parse_args() -> Result<Cli, ExitCode> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match Cli::try_parse() {
        Ok(c) => Ok(c),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            let _ = e.print();
            Err(
                if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                },
            )
        }
        Err(e) => {
            let rendered = e.to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ")
                .to_owned();
            let accepted = match e.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => format!(" (accepted: {})", v.join(", ")),
                _ => String::new(),
            };
            Err(fail(format!("{first}{accepted}; see --help")))
        }
    }
}

/// Runs `serve` under the glibc allocator settings of [`config::GLIBC_MALLOC_TUNING`]: glibc
/// reads them only at process start, so when they are missing the process replaces itself
/// (same PID, arguments and descriptors) with one that has them. Called before any thread
/// exists. If the exec fails the daemon simply runs untuned.
fn tune_allocator() {
    use std::os::unix::process::CommandExt;
    let current = std::env::var("GLIBC_TUNABLES").ok();
    let Some(tunables) = pytorrentd::config::glibc_tunables_to_apply(current.as_deref(), |alias| {
        std::env::var_os(alias).is_some()
    }) else {
        return;
    };
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "pytorrentd".into());
    // /proc/self/exe is this very binary, even after a package upgrade replaced the file.
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(argv0)
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .exec();
    eprintln!("pytorrentd: running without allocator tuning (re-exec failed: {err})");
}

/// Why a command failed: printed once, by `main`, as one line with status 1.
type Failure = Box<dyn std::fmt::Display>;

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    match run(args) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

fn run(args: Cli) -> Result<ExitCode, Failure> {
    if matches!(args.command, Command::Serve(_)) {
        tune_allocator();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Box::new(e) as Failure)?;
    let printed = |out: String| {
        print!("{out}");
        ExitCode::SUCCESS
    };
    match args.command {
        Command::Serve(a) => {
            let (cfg, warnings) = Config::from_env(&a.overrides()).map_err(boxed)?;
            init_logging(&cfg).map_err(boxed)?;
            for w in warnings {
                tracing::warn!("{w}");
            }
            rt.block_on(pytorrentd::daemon::serve(cfg, a.start_options()))
                .map_err(boxed)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(a) => cli::config_cmd(&a).map(printed).map_err(boxed),
        Command::User(u) => rt.block_on(cli::user_cmd(u)).map(printed).map_err(boxed),
        Command::Profile(p) => rt.block_on(cli::profile_cmd(p)).map(printed).map_err(boxed),
        Command::Limits(l) => rt.block_on(cli::limits_cmd(l)).map(printed).map_err(boxed),
        Command::Engine(c) => rt.block_on(cli::engine_cmd(c)).map(printed).map_err(boxed),
        Command::Backup(b) => rt.block_on(cli::backup_cmd(b)).map(printed).map_err(boxed),
        Command::Restore(r) => rt.block_on(cli::restore_cmd(r)).map(printed).map_err(boxed),
        Command::CreateTorrent(a) => cli::create_torrent_cmd(&a).map(printed).map_err(boxed),
        Command::Check(a) => {
            let (report, sound) = cli::check_cmd(&a).map_err(boxed)?;
            print!("{report}");
            Ok(if sound {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn boxed<E: std::fmt::Display + 'static>(e: E) -> Failure {
    Box::new(e)
}

//! `pytorrentd serve`: opens the store, starts the engine, the control socket and the HTTP
//! server, and stops all of them in order on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::time::Duration;

use tracing::{info, warn};

use crate::config::Config;
pub use crate::data_dir::{OpenError, StartOptions};
use crate::state::AppState;

/// Why `serve` stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Opening `DATA_DIR` (the database, the engine) failed or was refused.
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("control socket: {0}")]
    Control(std::io::Error),
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
    crate::backup::spawn_schedule(state.clone());
    crate::audit::spawn_prune(state.store.clone());
    crate::watch::spawn(state.clone());
    crate::webhooks::spawn(state.clone());
    crate::rss::spawn(state.clone());
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

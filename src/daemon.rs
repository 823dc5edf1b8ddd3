//! `pytorrentd serve`: opens the store, starts the engine, the control socket and the HTTP
//! server, and stops all of them in order on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::time::Duration;

use tracing::{info, warn};

use crate::config::Config;
use crate::state::AppState;

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

/// Runs the daemon until a stop signal arrives.
pub async fn serve(config: Config) -> Result<(), DaemonError> {
    for w in config.risk_warnings() {
        warn!("{w}");
    }
    let state = AppState::open(config).await?;
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

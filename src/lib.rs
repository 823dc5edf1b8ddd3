//! pytorrentd: a BitTorrent daemon (librqbit in-process) with an authenticated web UI.
//! `app(state)` builds the whole HTTP application so tests can drive it in-process;
//! `daemon::serve` runs it for real.

pub mod auth;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod engine;
pub mod feed;
pub mod http;
pub mod metrics;
pub mod private_fs;
pub mod state;
pub mod store;

pub use state::AppState;

/// The HTTP application (API, UI, headers) for a given state.
pub fn app(state: AppState) -> axum::Router {
    http::router(state)
}

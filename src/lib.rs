//! pytorrentd: a BitTorrent daemon (librqbit in-process) with an authenticated web UI.
//! `app(state)` builds the whole HTTP application so tests can drive it in-process;
//! `daemon::serve` runs it for real.

// serde_json::json! of a whole qBittorrent torrent row (about 50 fields) nests deeper than 128.
#![recursion_limit = "256"]

pub mod access;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod data_dir;
pub mod engine;
pub mod feed;
pub mod http;
pub mod jsondiff;
pub mod limits;
pub mod metrics;
pub mod private_fs;
pub mod rss;
pub mod state;
pub mod store;
pub mod watch;
pub mod webhooks;
pub mod zipstream;

pub use state::AppState;

/// The HTTP application for a given state: the API and UI routes, the live feed around
/// them, and the checks and headers every request passes first. Composed here so that the
/// `http` and `feed` layers need not know each other.
pub fn app(state: AppState) -> axum::Router {
    let routes = http::routes(&state);
    let with_feed = feed::attach(routes, state.clone());
    http::outer_layers(with_feed, state)
}

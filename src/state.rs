//! Shared application state handed to every handler.

use std::sync::Arc;

use crate::auth::AuthState;
use crate::auth::accounts::Accounts;
use crate::config::Config;
use crate::data_dir::{OpenError, StartOptions};
use crate::engine::Engine;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub engine: Arc<Engine>,
    pub store: Store,
    pub auth: Arc<AuthState>,
    /// Every account change goes through it (`src/auth/accounts.rs`).
    pub accounts: Accounts,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// What each client of the qBittorrent API last received from `sync/maindata`.
    pub qbit_sync: Arc<crate::http::qbit::SyncSessions>,
    /// The RSS task's lock and wake-up (`src/rss/`).
    pub rss: Arc<crate::rss::Runner>,
}

impl AppState {
    /// Opens the store (creating the default profile and first admin on first start) and
    /// starts the engine: everything `serve` needs except the listeners. Tests use it to
    /// drive the real application in-process.
    pub async fn open(config: Config) -> Result<AppState, OpenError> {
        Self::open_with(config, Default::default()).await
    }

    /// `open` with the operator's start options (`serve --reinitialize`).
    pub async fn open_with(config: Config, opts: StartOptions) -> Result<AppState, OpenError> {
        crate::data_dir::prepare(&config)?;
        let store: Store = crate::data_dir::open_checked_store(&config, opts)?;
        crate::engine::profiles::ensure_default(&store, &config.download_dir)?;
        if let Some(pw) = crate::auth::users::ensure_initial_admin(&store)? {
            // The one time a secret is logged, by design: nobody else can tell it to the owner.
            tracing::warn!(
                "created the first administrator: username 'admin', password '{pw}' — change it with `pytorrentd user reset-password admin`"
            );
        }
        match crate::auth::sessions::purge_expired(&store) {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "expired sessions removed"),
            Err(e) => tracing::warn!("purging sessions: {e}"),
        }
        let config = Arc::new(config);
        let engine = Engine::start(&config, store.clone()).await?;
        let auth = Arc::new(AuthState::new(&config));
        // Weak: the engine ends with the app (the feed's producer relies on it).
        let profiles = Arc::downgrade(&engine);
        let accounts = Accounts::new(
            store.clone(),
            Some(&auth),
            Arc::new(move |p: &str| profiles.upgrade().is_some_and(|e| e.profile(p).is_ok())),
        );
        Ok(AppState {
            auth,
            accounts,
            metrics: Arc::default(),
            qbit_sync: Arc::default(),
            rss: Arc::default(),
            config,
            engine,
            store,
        })
    }
}

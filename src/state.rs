//! Shared application state handed to every handler.

use std::sync::Arc;

use crate::config::Config;
use crate::engine::Engine;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub engine: Arc<Engine>,
    pub store: Store,
}

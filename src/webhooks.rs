//! Webhooks (README "Notifications"): administrators register URLs that receive chosen
//! notifications (`engine/notices.rs`) as JSON POSTs — `{"event", "at", "notice", "torrent"}`
//! — signed with `X-Pytorrentd-Signature: sha256=HEX(HMAC-SHA256(secret, body))` when the
//! hook has a secret. A failed delivery (no answer, or not 2xx) is retried with an
//! exponential back-off (1 s doubling to 5 min) for an hour; each hook keeps the outcome of
//! its last delivery. Secrets are stored to sign with, never shown or logged.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::broadcast::error::RecvError;

use crate::engine::EngineEvent;
use crate::engine::notices::{Notice, NoticeKind};
use crate::state::AppState;
use crate::store::{Store, Table};

const KEY: &str = "webhooks";
const STATUS_PREFIX: &str = "webhook_status/";
/// Hooks at most.
pub const HOOKS_MAX: usize = 20;
const RETRY_FOR: Duration = Duration::from_secs(3600);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<NoticeKind>,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// The last delivery of a hook.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    pub at: Option<DateTime<Utc>>,
    pub event: Option<String>,
    /// The receiver's HTTP status (null: no answer).
    pub status: Option<u16>,
    pub error: Option<String>,
    /// Attempts made for that event so far.
    pub attempts: u32,
    pub delivered: bool,
}

/// A hook as the API shows it (without its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<NoticeKind>,
    pub has_secret: bool,
    pub enabled: bool,
    pub last_delivery: Delivery,
}

/// A new hook, or a change of one (absent fields stay; `secret: null` or "" removes it).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Required for a new hook.
    #[schema(max_length = 2048, pattern = "^https?://[^/?#\\s]+")]
    pub url: Option<String>,
    /// Required for a new hook; at least one.
    #[schema(min_items = 1)]
    pub events: Option<Vec<NoticeKind>>,
    #[serde(default, deserialize_with = "crate::engine::share::double_option")]
    #[schema(value_type = Option<String>, max_length = 256)]
    pub secret: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// A new hook.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    #[schema(max_length = 2048, pattern = "^https?://[^/?#\\s]+")]
    pub url: String,
    #[schema(min_items = 1)]
    pub events: Vec<NoticeKind>,
    /// Signs each delivery (HMAC-SHA256); never shown again.
    #[schema(max_length = 256)]
    pub secret: Option<String>,
    /// Default on.
    pub enabled: Option<bool>,
}

impl From<NewWebhook> for WebhookInput {
    fn from(n: NewWebhook) -> Self {
        WebhookInput {
            url: Some(n.url),
            events: Some(n.events),
            secret: Some(n.secret),
            enabled: n.enabled,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Invalid(String),
    #[error("no webhook {0}")]
    NotFound(String),
    #[error("at most {HOOKS_MAX} webhooks; delete one first")]
    TooMany,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn load(store: &Store) -> Result<Vec<Webhook>, WebhookError> {
    Ok(store.get_json(Table::Settings, KEY)?.unwrap_or_default())
}

fn status(store: &Store, id: &str) -> Delivery {
    store
        .get_json(Table::Settings, &format!("{STATUS_PREFIX}{id}"))
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn view(store: &Store, h: &Webhook) -> WebhookView {
    WebhookView {
        id: h.id.clone(),
        url: h.url.clone(),
        events: h.events.clone(),
        has_secret: h.secret.is_some(),
        enabled: h.enabled,
        last_delivery: status(store, &h.id),
    }
}

pub fn list(store: &Store) -> Result<Vec<WebhookView>, WebhookError> {
    Ok(load(store)?.iter().map(|h| view(store, h)).collect())
}

impl WebhookInput {
    fn apply(&self, h: &mut Webhook) -> Result<(), WebhookError> {
        if let Some(u) = &self.url {
            let u = u.trim();
            let ok = u.len() <= 2048
                && url::Url::parse(u).is_ok_and(|p| {
                    matches!(p.scheme(), "http" | "https") && p.host_str().is_some()
                });
            if !ok {
                return Err(WebhookError::Invalid(format!(
                    "url must be an http:// or https:// URL (got {})",
                    crate::limits::quote(u)
                )));
            }
            h.url = u.to_owned();
        }
        if let Some(e) = &self.events {
            let mut e = e.clone();
            e.sort_by_key(|k| k.as_str());
            e.dedup();
            h.events = e;
        }
        if let Some(s) = &self.secret {
            let s = s.as_deref().filter(|s| !s.is_empty());
            if s.is_some_and(|s| s.len() > 256) {
                return Err(WebhookError::Invalid(
                    "secret is at most 256 characters".into(),
                ));
            }
            h.secret = s.map(str::to_owned);
        }
        if let Some(e) = self.enabled {
            h.enabled = e;
        }
        if h.url.is_empty() {
            return Err(WebhookError::Invalid("url is required".into()));
        }
        if h.events.is_empty() {
            return Err(WebhookError::Invalid(format!(
                "events must name at least one of {}",
                NoticeKind::ALL.map(|k| k.as_str()).join(", ")
            )));
        }
        Ok(())
    }
}

pub fn create(store: &Store, input: &WebhookInput) -> Result<WebhookView, WebhookError> {
    let mut hooks = load(store)?;
    if hooks.len() >= HOOKS_MAX {
        return Err(WebhookError::TooMany);
    }
    let mut h = Webhook {
        id: hex::encode(rand::random::<[u8; 6]>()),
        url: String::new(),
        events: Vec::new(),
        secret: None,
        enabled: true,
    };
    input.apply(&mut h)?;
    hooks.push(h.clone());
    store.write(|tx| tx.put(Table::Settings, KEY, &hooks))?;
    Ok(view(store, &h))
}

pub fn update(store: &Store, id: &str, input: &WebhookInput) -> Result<WebhookView, WebhookError> {
    let mut hooks = load(store)?;
    let h = hooks
        .iter_mut()
        .find(|h| h.id == id)
        .ok_or_else(|| WebhookError::NotFound(id.into()))?;
    input.apply(h)?;
    let v = h.clone();
    store.write(|tx| tx.put(Table::Settings, KEY, &hooks))?;
    Ok(view(store, &v))
}

pub fn delete(store: &Store, id: &str) -> Result<(), WebhookError> {
    let mut hooks = load(store)?;
    let n = hooks.len();
    hooks.retain(|h| h.id != id);
    if hooks.len() == n {
        return Err(WebhookError::NotFound(id.into()));
    }
    store.write(|tx| {
        tx.put(Table::Settings, KEY, &hooks)?;
        tx.delete(Table::Settings, &format!("{STATUS_PREFIX}{id}"))
            .map(|_| ())
    })?;
    Ok(())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .no_proxy()
        .user_agent(concat!("pytorrentd/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// `sha256=HEX` of the body with the secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; kept total anyway.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One attempt: the receiver's status, or why there was none.
async fn post(client: &reqwest::Client, h: &Webhook, body: &[u8]) -> (Option<u16>, Option<String>) {
    let mut req = client
        .post(&h.url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = &h.secret {
        req = req.header("x-pytorrentd-signature", signature(s, body));
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
        Ok(r) => (
            Some(r.status().as_u16()),
            Some(format!(
                "the receiver answered HTTP {}",
                r.status().as_u16()
            )),
        ),
        Err(e) => (
            None,
            Some(if e.is_timeout() {
                "no answer in time".into()
            } else if e.is_connect() {
                "cannot connect".into()
            } else {
                format!("{}", e.without_url())
            }),
        ),
    }
}

fn body_of(state: &AppState, n: &Notice) -> Vec<u8> {
    let torrent = n.hash.as_deref().and_then(|h| state.engine.row(h).ok());
    serde_json::to_vec(&serde_json::json!({
        "event": n.event,
        "at": n.at,
        "notice": n,
        "torrent": torrent,
    }))
    .unwrap_or_default()
}

fn record(store: &Store, id: &str, d: &Delivery) {
    if let Err(e) = store.write(|tx| tx.put(Table::Settings, &format!("{STATUS_PREFIX}{id}"), d)) {
        tracing::warn!(webhook = %id, "could not record a delivery: {e}");
    }
}

/// Delivers one notice to one hook, retrying for an hour.
async fn deliver(state: AppState, h: Webhook, body: Vec<u8>, event: String) {
    let client = client();
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_secs(1);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (status, error) = post(&client, &h, &body).await;
        let delivered = error.is_none();
        let d = Delivery {
            at: Some(Utc::now()),
            event: Some(event.clone()),
            status,
            error: error.clone(),
            attempts,
            delivered,
        };
        let store = state.store.clone();
        let id = h.id.clone();
        let _ = tokio::task::spawn_blocking(move || record(&store, &id, &d)).await;
        if delivered || started.elapsed() + wait > RETRY_FOR {
            if !delivered {
                tracing::warn!(webhook = %h.id, %event, "webhook not delivered after an hour: {}", error.unwrap_or_default());
            }
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(BACKOFF_MAX);
    }
}

/// Sends a test event to a hook now (one attempt) and answers its outcome.
pub async fn send_test(state: &AppState, id: &str) -> Result<Delivery, WebhookError> {
    let h = load(&state.store)?
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(|| WebhookError::NotFound(id.into()))?;
    let body = serde_json::to_vec(&serde_json::json!({
        "event": "test",
        "at": Utc::now(),
        "notice": null,
        "torrent": null,
    }))
    .unwrap_or_default();
    let (status, error) = post(&client(), &h, &body).await;
    let d = Delivery {
        at: Some(Utc::now()),
        event: Some("test".into()),
        status,
        delivered: error.is_none(),
        error,
        attempts: 1,
    };
    record(&state.store, id, &d);
    Ok(d)
}

/// Delivers notices to the hooks that want them (started once, at start).
pub fn spawn(state: AppState) {
    let mut events = state.engine.subscribe();
    tokio::spawn(async move {
        loop {
            let n = match events.recv().await {
                Ok(EngineEvent::Notice(n)) => n,
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            let hooks = match load(&state.store) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!("webhooks: {e}");
                    continue;
                }
            };
            let wanted: Vec<Webhook> = hooks
                .into_iter()
                .filter(|h| h.enabled && h.events.contains(&n.event))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let body = body_of(&state, &n);
            for h in wanted {
                tokio::spawn(deliver(
                    state.clone(),
                    h,
                    body.clone(),
                    n.event.as_str().to_owned(),
                ));
            }
        }
    });
}

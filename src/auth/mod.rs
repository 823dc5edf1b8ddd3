//! Identity and access. One resolver turns a request (REST call, page load, Socket.IO
//! handshake or event) into an [`Identity`]; every handler then checks its permission through
//! [`Identity::require`] / [`Identity::require_admin`]. Providers, bypass, tokens and sessions
//! all live here so the rest of the code never looks at credentials (docs/security.md).
//!
//! This layer knows nothing of HTTP: it reads a request through [`RequestHeaders`] and
//! answers with its own errors ([`Denied`], [`AccessError`]), which the HTTP layer maps to
//! statuses.

pub mod accounts;
pub mod error;
pub mod password;
pub mod ratelimit;
pub mod request;
pub mod sessions;
pub mod users;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use tokio::sync::broadcast;

use crate::access::{AuthProvider, Level, Role};
use crate::config::{Config, ip_in};
use crate::store::Store;
use users::UserRecord;

/// The headers of a request, as the resolver reads them, whatever carried the request (an
/// HTTP request, the Socket.IO handshake). Names are lowercase.
pub trait RequestHeaders {
    /// The values of header `name`, in order.
    fn values(&self, name: &str) -> Vec<&[u8]>;
    /// The names of every header present.
    fn names(&self) -> Vec<&str>;

    /// The first value of `name` as trimmed UTF-8 (`None` when absent or not UTF-8).
    fn first(&self, name: &str) -> Option<&str> {
        let v = *self.values(name).first()?;
        std::str::from_utf8(v).ok().map(str::trim)
    }

    fn has(&self, name: &str) -> bool {
        !self.values(name).is_empty()
    }
}

/// Why an authenticated caller may not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The profile does not exist for this caller (no grant): answered as missing.
    #[error("profile '{0}' does not exist")]
    Invisible(String),
    #[error("you have read-only access to profile '{0}'")]
    ReadOnly(String),
    #[error("this action requires an administrator")]
    AdminOnly,
}

/// Who is asking, resolved once per request or socket event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Identity {
    pub username: String,
    pub role: Role,
    pub provider: AuthProvider,
    pub bypass: bool,
    /// Per-profile grants (`*` = every profile) for role `user`.
    pub permissions: BTreeMap<String, Level>,
    /// SHA-256 of the session cookie or API token that authenticated the caller, so
    /// revoking that credential can reach open sockets.
    #[serde(skip)]
    pub credential: Option<String>,
    /// How the identity was established.
    #[serde(skip)]
    pub via: Via,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Via {
    #[default]
    Disabled,
    Bypass,
    Token,
    Header,
    Session,
}

/// What an operation needs on a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Write,
}

impl Identity {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin || self.bypass
    }

    /// The caller's level on a profile (`admin` rights map to `Full`); a profile-specific
    /// grant beats the `*` grant.
    pub fn level(&self, profile: &str) -> Level {
        if self.is_admin() {
            return Level::Full;
        }
        self.permissions
            .get(profile)
            .or_else(|| self.permissions.get("*"))
            .copied()
            .unwrap_or(Level::None)
    }

    /// Profiles without access do not exist for this caller; read-only ones refuse writes.
    pub fn require(&self, profile: &str, need: Need) -> Result<(), AccessError> {
        match (self.level(profile), need) {
            (Level::None, _) => Err(AccessError::Invisible(profile.to_owned())),
            (Level::Ro, Need::Write) => Err(AccessError::ReadOnly(profile.to_owned())),
            _ => Ok(()),
        }
    }

    pub fn require_admin(&self) -> Result<(), AccessError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AccessError::AdminOnly)
        }
    }

    /// How the caller sees a profile: `admin`, `full` or `ro`; `None` when it is invisible.
    pub fn view_level(&self, profile: &str) -> Option<&'static str> {
        if self.is_admin() {
            return Some("admin");
        }
        match self.level(profile) {
            Level::None => None,
            Level::Ro => Some("ro"),
            Level::Full => Some("full"),
        }
    }

    fn from_user(u: UserRecord, provider: AuthProvider, via: Via) -> Identity {
        Identity {
            username: u.username,
            role: u.role,
            provider,
            bypass: false,
            permissions: u.permissions,
            credential: None,
            via,
        }
    }
}

/// Changes that open sockets must react to.
#[derive(Debug, Clone)]
pub enum AuthEvent {
    /// One session ended (logout) or one API token was revoked: the credential's digest.
    CredentialRevoked { credential: String },
    /// Every session of a user ended (password reset, deletion).
    UserSessionsRevoked { username: String },
    /// Role or grants changed: re-check what the user's sockets may read.
    UserChanged { username: String },
}

/// Long-lived auth state: the login limiter, a dummy hash for equal-cost failures, and the
/// revocation channel.
pub struct AuthState {
    pub limiter: ratelimit::LoginLimiter,
    /// Where login password checks run (bounded; see [`password::Pool`]).
    pub hasher: password::Pool,
    /// Verified against when the user is unknown or has no password, so failures cost the
    /// same Argon2 work. Made at the first login, not at start: hashing allocates ~19 MiB,
    /// which an idle daemon should never hold.
    dummy_hash: std::sync::OnceLock<String>,
    pub events: broadcast::Sender<AuthEvent>,
}

impl AuthState {
    pub fn new(cfg: &Config) -> AuthState {
        AuthState {
            limiter: ratelimit::LoginLimiter::new(cfg.login_max_failures, cfg.login_ban_seconds),
            hasher: password::Pool::new(),
            dummy_hash: std::sync::OnceLock::new(),
            events: broadcast::channel(256).0,
        }
    }

    pub fn dummy_hash(&self) -> String {
        self.dummy_hash
            .get_or_init(|| password::hash(&password::generate()).unwrap_or_default())
            .clone()
    }

    pub fn emit(&self, ev: AuthEvent) {
        let _ = self.events.send(ev);
    }
}

/// Why a request has no identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    NotLoggedIn,
    /// External provider, trusted peer, but no usable header.
    HeaderMissing(String),
    /// External provider and the request did not come through a trusted proxy: the direct
    /// peer's address, named in the answer so the operator knows what to trust.
    UntrustedPeer(Option<std::net::IpAddr>),
    /// The header is malformed or ambiguous.
    BadHeader(String),
    /// A header user that does not exist and may not be created.
    UnknownUser(String),
    BadToken,
    Internal(String),
}

impl Denied {
    pub fn message(&self, cfg: &Config) -> String {
        match self {
            Denied::NotLoggedIn => "not logged in".into(),
            Denied::HeaderMissing(h) => format!(
                "the reverse proxy did not send the {h} header; check that it forwards the authenticated user on every path (PYTORRENT_AUTH_PROXY_USER_HEADER)"
            ),
            Denied::UntrustedPeer(peer) => format!(
                "this request did not come through a trusted proxy: it came from {}, so its {} header is ignored; if your reverse proxy runs there, add its address to PYTORRENT_AUTH_TRUSTED_PROXIES (provider '{}' has no login form)",
                peer.map_or_else(|| "an unknown address".to_owned(), |p| p.to_string()),
                cfg.proxy_user_header,
                cfg.auth_provider.as_str()
            ),
            Denied::BadHeader(m) => m.clone(),
            Denied::UnknownUser(u) => format!(
                "user '{u}' is not known to pytorrentd; create it with `pytorrentd user add {u}` or set PYTORRENT_AUTH_PROXY_AUTO_CREATE=true"
            ),
            Denied::BadToken => "the API token is invalid or revoked".into(),
            Denied::Internal(_) => "an internal error occurred; see the server log".into(),
        }
    }
}

fn cookie_value<'a>(h: &'a (impl RequestHeaders + ?Sized), name: &str) -> Option<&'a str> {
    h.values("cookie")
        .into_iter()
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The session cookie's value, if present: ours, else the `SID` cookie that logins through
/// the qBittorrent API set (the same kind of session, docs/qbittorrent.md).
pub fn session_cookie(h: &(impl RequestHeaders + ?Sized)) -> Option<&str> {
    cookie_value(h, sessions::COOKIE).or_else(|| cookie_value(h, sessions::QBIT_COOKIE))
}

fn presented_token(h: &(impl RequestHeaders + ?Sized)) -> Option<&str> {
    if let Some(v) = h.first("authorization")
        && let Some((scheme, t)) = v.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
        && t.trim().starts_with(sessions::TOKEN_PREFIX)
    {
        return Some(t.trim());
    }
    h.first("x-api-key")
        .filter(|t| t.starts_with(sessions::TOKEN_PREFIX))
}

fn is_bypassed(cfg: &Config, peer: Option<SocketAddr>, h: &(impl RequestHeaders + ?Sized)) -> bool {
    if cfg.bypass_hosts.is_empty() {
        return false;
    }
    // Anything relayed by a proxy is not a direct LAN request, whatever its Host says.
    if h.has("x-forwarded-for") || h.has("forwarded") {
        return false;
    }
    let Some(peer) = peer else { return false };
    if !ip_in(&cfg.bypass_networks, peer.ip()) {
        return false;
    }
    let Some(host) = h.first("host") else {
        return false;
    };
    cfg.bypass_hosts.iter().any(|b| b.matches(host))
}

fn bypass_identity(cfg: &Config, via: Via) -> Identity {
    Identity {
        username: cfg.bypass_user.clone(),
        role: Role::Admin,
        provider: cfg.auth_provider,
        bypass: true,
        permissions: BTreeMap::new(),
        credential: None,
        via,
    }
}

/// Reads the proxy's user header under the header rules of the README's "Authentication" section.
fn header_user(cfg: &Config, h: &(impl RequestHeaders + ?Sized)) -> Result<String, Denied> {
    let name = cfg.proxy_user_header.to_ascii_lowercase();
    // Some proxies and frameworks fold `_` into `-`: any spelling that folds into the
    // configured name is a second, ambiguous source of identity.
    if let Some(other) = h
        .names()
        .into_iter()
        .find(|k| *k != name && k.contains('_') && k.replace('_', "-") == name)
    {
        return Err(Denied::BadHeader(format!(
            "the request carries '{other}' besides '{}'; refusing an ambiguous identity",
            cfg.proxy_user_header
        )));
    }
    let all = h.values(&name);
    let mut values = all.iter();
    let Some(v) = values.next() else {
        return Err(Denied::HeaderMissing(cfg.proxy_user_header.clone()));
    };
    if values.next().is_some() {
        return Err(Denied::BadHeader(format!(
            "the {} header appears more than once",
            cfg.proxy_user_header
        )));
    }
    let s = std::str::from_utf8(v)
        .map_err(|_| {
            Denied::BadHeader(format!(
                "the {} header is not valid UTF-8",
                cfg.proxy_user_header
            ))
        })?
        .trim();
    if s.is_empty() {
        return Err(Denied::HeaderMissing(cfg.proxy_user_header.clone()));
    }
    users::check_username(s)
        .map_err(|e| Denied::BadHeader(format!("{}: {e}", cfg.proxy_user_header)))?;
    Ok(s.to_owned())
}

fn external_identity(cfg: &Config, store: &Store, name: &str) -> Result<Identity, Denied> {
    let internal = |e: users::UserError| Denied::Internal(e.to_string());
    let user = match users::get(store, name).map_err(internal)? {
        Some(u) if u.is_external() && cfg.proxy_auto_create => users::sync_external(
            store,
            &u,
            cfg.proxy_auto_create_role,
            cfg.proxy_auto_create_permission,
        )
        .map_err(internal)?,
        Some(u) => u,
        None if cfg.proxy_auto_create => {
            let perms = users::auto_permissions(
                cfg.proxy_auto_create_role,
                cfg.proxy_auto_create_permission,
            );
            match users::create(store, name, None, cfg.proxy_auto_create_role, perms) {
                Ok(u) => {
                    tracing::info!(
                        user = name,
                        role = cfg.proxy_auto_create_role.as_str(),
                        "created external user"
                    );
                    u
                }
                // Two first requests racing: the other one created it.
                Err(users::UserError::Exists(_)) => users::get(store, name)
                    .map_err(internal)?
                    .ok_or_else(|| Denied::UnknownUser(name.into()))?,
                Err(e) => return Err(internal(e)),
            }
        }
        None => return Err(Denied::UnknownUser(name.into())),
    };
    Ok(Identity::from_user(user, cfg.auth_provider, Via::Header))
}

/// Says in the log, at most once a minute, that header requests arrive from a peer we do not
/// trust: the usual sign of a proxy on another machine that is missing from the list. Rate
/// limited because every request of such a client would otherwise log.
fn log_untrusted_peer(cfg: &Config, ip: Option<std::net::IpAddr>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            peer = %ip.map_or_else(|| "unknown".to_owned(), |p| p.to_string()),
            "a request for provider '{}' came from a peer outside PYTORRENT_AUTH_TRUSTED_PROXIES; its {} header was ignored (add the proxy's address to that variable if it is yours)",
            cfg.auth_provider.as_str(),
            cfg.proxy_user_header
        );
    }
}

/// The resolver, in this order (README, "Authentication"): disabled → bypass → API token → header → session.
pub fn resolve(
    cfg: &Config,
    store: &Store,
    h: &(impl RequestHeaders + ?Sized),
    peer: Option<SocketAddr>,
) -> Result<Identity, Denied> {
    if !cfg.auth_enable {
        return Ok(bypass_identity(cfg, Via::Disabled));
    }
    if is_bypassed(cfg, peer, h) {
        return Ok(bypass_identity(cfg, Via::Bypass));
    }
    if let Some(secret) = presented_token(h) {
        let owner = sessions::token_owner(store, secret)
            .map_err(|e| Denied::Internal(e.to_string()))?
            .ok_or(Denied::BadToken)?;
        let user = users::get(store, &owner)
            .map_err(|e| Denied::Internal(e.to_string()))?
            .ok_or(Denied::BadToken)?;
        let mut id = Identity::from_user(user, cfg.auth_provider, Via::Token);
        id.credential = Some(sessions::digest(secret));
        return Ok(id);
    }
    match cfg.auth_provider {
        AuthProvider::Tinyauth | AuthProvider::Proxy => {
            if !request::peer_trusted(cfg, peer) {
                let ip = peer.map(|p| p.ip());
                log_untrusted_peer(cfg, ip);
                return Err(Denied::UntrustedPeer(ip));
            }
            let name = header_user(cfg, h)?;
            external_identity(cfg, store, &name)
        }
        AuthProvider::Local => {
            let token = session_cookie(h).ok_or(Denied::NotLoggedIn)?;
            let s = sessions::lookup_session(store, token)
                .map_err(|e| Denied::Internal(e.to_string()))?
                .ok_or(Denied::NotLoggedIn)?;
            let user = users::get(store, &s.username)
                .map_err(|e| Denied::Internal(e.to_string()))?
                .ok_or(Denied::NotLoggedIn)?;
            let mut id = Identity::from_user(user, cfg.auth_provider, Via::Session);
            id.credential = Some(sessions::digest(token));
            Ok(id)
        }
    }
}

/// Permissions of a user as the API shows them.
pub fn permissions_map(id: &Identity) -> HashMap<String, Level> {
    id.permissions
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

//! Typed, validated configuration: every `PYTORRENT_*` variable (README "Configuration") plus the
//! `serve` flags, parsed once at startup. Nothing else in the crate reads the environment.
//!
//! Value conventions (shared by every variable):
//! - values are trimmed; an unset or blank scalar variable means "use the default";
//! - a *set* list variable is taken literally, so `PYTORRENT_AUTH_TRUSTED_PROXIES=` means
//!   "trust nobody" rather than "the default ranges"; blank list entries (`a,,b`, trailing
//!   commas) are skipped. The one exception is `PYTORRENT_API_ALLOWED_ORIGINS`, where blank
//!   falls back to the Socket.IO list, as pyTorrent does;
//! - an invalid value is a [`ConfigError`] whose one-line message names the variable, the
//!   value and what is accepted.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::IpNet;

use crate::access::{AuthProvider, Level, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A normalized `scheme://host[:port]` origin (default ports dropped, lowercase).
///
/// Build it with [`Origin::parse`] (request headers) or [`Origin::parse_config`] (configured
/// lists) so that two spellings of the same origin compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Origin(pub String);

/// One `PYTORRENT_AUTH_BYPASS_HOSTS` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BypassHost {
    /// Lowercased host (IPv6 without brackets).
    pub host: String,
    /// `None` = any port.
    pub port: Option<u16>,
}

/// Renders a setting's effective value for `pytorrentd config` (lists comma-joined).
trait Render {
    fn render(&self) -> String;
}

macro_rules! render_display {
    ($($t:ty),*) => {$(
        impl Render for $t {
            fn render(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
render_display!(bool, u16, u32, u64, String, IpAddr);

impl Render for PathBuf {
    fn render(&self) -> String {
        self.display().to_string()
    }
}

impl<T: fmt::Display> Render for Vec<T> {
    fn render(&self) -> String {
        join(self)
    }
}

macro_rules! render_as_str {
    ($($t:ty),*) => {$(
        impl Render for $t {
            fn render(&self) -> String {
                self.as_str().to_owned()
            }
        }
    )*};
}
render_as_str!(AuthProvider, Role, Level, LogFormat);

/// Declares every setting once, as one row: doc line, field, type, variable name, and the
/// parse expression (which holds the default, the parser and the accepted values). The rows
/// give the [`Config`] struct, [`KNOWN_VARS`] (which the env-file test compares with
/// `packaging/pytorrentd.env`), the parsing of [`Config::from_vars`] and the lines of
/// `pytorrentd config`. Inside a parse expression, `name` is the row's variable, `env` the
/// environment, `overrides` the `serve` flags and `warnings` the warnings being collected;
/// the fields of earlier rows are in scope by name.
macro_rules! settings {
    (
        env = $env:ident, name = $name:ident, overrides = $ov:ident, warnings = $warn:ident;
        $(
            $(#[$attr:meta])*
            $field:ident: $ty:ty = $var:literal => $parse:expr;
        )+
    ) => {
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
        pub struct Config {
            $( $(#[$attr])* pub $field: $ty, )+
        }

        /// Every `PYTORRENT_*` variable the daemon reads, in declaration order (also the order
        /// of [`Config::render_masked`]).
        pub const KNOWN_VARS: &[&str] = &[$($var),+];

        impl Config {
            fn parse_settings(
                $env: &Env,
                $ov: &ServeOverrides,
                $warn: &mut Vec<String>,
            ) -> Result<Config, ConfigError> {
                $(
                    let $field: $ty = {
                        #[allow(unused_variables)]
                        let $name: &'static str = $var;
                        $parse
                    };
                )+
                Ok(Config { $($field),+ })
            }

            fn effective_values(&self) -> Vec<(&'static str, String)> {
                vec![$( ($var, Render::render(&self.$field)) ),+]
            }
        }
    };
}

settings! {
    env = env, name = name, overrides = overrides, warnings = warnings;

    /// Web UI and API listen address (`--host`).
    host: IpAddr = "PYTORRENT_HOST" => match overrides.host {
        Some(host) => {
            warnings.extend(env.overridden(name, "--host", &host.to_string()));
            host
        }
        None => env.scalar(name, IpAddr::from([0, 0, 0, 0]), parse_ip)?,
    };
    /// Web UI and API port (`--port`).
    port: u16 = "PYTORRENT_PORT" => match overrides.port {
        Some(0) => return Err(ConfigError::invalid("--port", "0", "expected a port number 1-65535")),
        Some(port) => {
            warnings.extend(env.overridden(name, "--port", &port.to_string()));
            port
        }
        None => env.scalar(name, 8090, |s| parse_port(s, false))?,
    };
    /// Database, engine state and control socket (`--data-dir`).
    data_dir: PathBuf = "PYTORRENT_DATA_DIR" => match &overrides.data_dir {
        Some(dir) if dir.as_os_str().is_empty() => {
            return Err(ConfigError::invalid("--data-dir", "", "expected a directory path"));
        }
        Some(dir) => {
            warnings.extend(env.overridden(name, "--data-dir", &dir.display().to_string()));
            dir.clone()
        }
        None => env.scalar(name, env.default_data_dir(overrides), |s| Ok(PathBuf::from(s)))?,
    };
    /// Download folder of the `default` profile created at first start.
    download_dir: PathBuf = "PYTORRENT_DOWNLOAD_DIR" =>
        env.scalar(name, data_dir.join("downloads"), |s| Ok(PathBuf::from(s)))?;
    /// BitTorrent TCP/uTP port (0 = random).
    bt_port: u16 = "PYTORRENT_BT_PORT" => env.scalar(name, 6881, |s| parse_port(s, true))?;
    /// Distributed hash table peer discovery.
    dht_enable: bool = "PYTORRENT_DHT_ENABLE" => env.scalar(name, true, parse_bool)?;
    /// UPnP port forwarding on the router.
    upnp_enable: bool = "PYTORRENT_UPNP_ENABLE" => env.scalar(name, false, parse_bool)?;
    /// Local service discovery (peers on the LAN).
    lsd_enable: bool = "PYTORRENT_LSD_ENABLE" => env.scalar(name, true, parse_bool)?;
    /// `false`: every request acts as the bypass user (an administrator).
    auth_enable: bool = "PYTORRENT_AUTH_ENABLE" => env.scalar(name, true, parse_bool)?;
    /// Who authenticates users: `local` logins, or a `tinyauth`/`proxy` header.
    auth_provider: AuthProvider = "PYTORRENT_AUTH_PROVIDER" => env.scalar(name, AuthProvider::Local, |s| {
        parse_choice(
            s,
            &[
                ("local", AuthProvider::Local),
                ("tinyauth", AuthProvider::Tinyauth),
                ("proxy", AuthProvider::Proxy),
            ],
        )
    })?;
    /// Header carrying the username set by the reverse proxy.
    proxy_user_header: String = "PYTORRENT_AUTH_PROXY_USER_HEADER" =>
        env.scalar(name, "Remote-User".to_owned(), parse_header_name)?;
    /// Create unknown users named by the proxy header.
    proxy_auto_create: bool = "PYTORRENT_AUTH_PROXY_AUTO_CREATE" => env.scalar(name, false, parse_bool)?;
    /// Role of auto-created users.
    proxy_auto_create_role: Role = "PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE" => env.scalar(name, Role::User, |s| {
        parse_choice(s, &[("user", Role::User), ("admin", Role::Admin)])
    })?;
    /// Level of auto-created users on every profile (`rw` = `full`).
    proxy_auto_create_permission: Level = "PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION" =>
        env.scalar(name, Level::Ro, |s| {
            parse_choice(
                s,
                &[
                    ("none", Level::None),
                    ("ro", Level::Ro),
                    ("rw", Level::Full),
                    ("full", Level::Full),
                ],
            )
        })?;
    /// Peers allowed to send the user header and `X-Forwarded-*`.
    // ipnet is built without its `serde` feature, so these lists serialize as strings.
    #[serde(serialize_with = "serialize_nets")]
    trusted_proxies: Vec<IpNet> = "PYTORRENT_AUTH_TRUSTED_PROXIES" =>
        env.list(name, DEFAULT_TRUSTED_PROXIES, NETS_ACCEPTED, parse_net)?;
    /// Extra names accepted in `Host` (lowercase, no trailing dot); `*` turns the check off.
    allowed_hosts: Vec<String> = "PYTORRENT_ALLOWED_HOSTS" =>
        env.list(name, "", ALLOWED_HOSTS_ACCEPTED, parse_allowed_host)?;
    /// Private networks that URL fetches made for non-admins may still reach.
    #[serde(serialize_with = "serialize_nets")]
    fetch_allowed_networks: Vec<IpNet> = "PYTORRENT_FETCH_ALLOWED_NETWORKS" =>
        env.list(name, "", NETS_ACCEPTED, parse_net)?;
    /// `host` or `host:port` names that skip login from the bypass networks.
    bypass_hosts: Vec<BypassHost> = "PYTORRENT_AUTH_BYPASS_HOSTS" =>
        env.list(name, "", HOSTS_ACCEPTED, BypassHost::parse)?;
    /// Account used for bypassed and auth-disabled requests.
    bypass_user: String = "PYTORRENT_AUTH_BYPASS_USER" => env.scalar(name, "admin".to_owned(), parse_username)?;
    /// Networks a bypassed request must come from.
    #[serde(serialize_with = "serialize_nets")]
    bypass_networks: Vec<IpNet> = "PYTORRENT_AUTH_BYPASS_NETWORKS" =>
        env.list(name, DEFAULT_PRIVATE_NETWORKS, NETS_ACCEPTED, parse_net)?;
    /// Honour `X-Forwarded-For/Proto/Host/Port/Prefix` from trusted proxies.
    proxy_fix_enable: bool = "PYTORRENT_PROXY_FIX_ENABLE" => env.scalar(name, false, parse_bool)?;
    /// Add `Secure` to the session cookie.
    session_cookie_secure: bool = "PYTORRENT_SESSION_COOKIE_SECURE" => env.scalar(name, false, parse_bool)?;
    /// Extra origins allowed for the Socket.IO handshake.
    socketio_cors_allowed_origins: Vec<Origin> = "PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS" =>
        env.list(name, "", ORIGINS_ACCEPTED, Origin::parse_config)?;
    /// Extra origins allowed for unsafe API requests; blank falls back to the Socket.IO list,
    /// as pyTorrent does.
    api_allowed_origins: Vec<Origin> = "PYTORRENT_API_ALLOWED_ORIGINS" => if env.is_blank(name) {
        socketio_cors_allowed_origins.clone()
    } else {
        env.list(name, "", ORIGINS_ACCEPTED, Origin::parse_config)?
    };
    /// Failed logins from one client IP before a ban.
    login_max_failures: u32 = "PYTORRENT_LOGIN_MAX_FAILURES" => env.scalar(name, 5, |s| {
        parse_number(s, 1, u32::MAX, "expected a whole number >= 1")
    })?;
    /// Length of a login ban.
    login_ban_seconds: u64 = "PYTORRENT_LOGIN_BAN_SECONDS" => env.scalar(name, 900, |s| {
        parse_number(
            s,
            1,
            MAX_BAN_SECONDS,
            &format!("expected a whole number of seconds from 1 to {MAX_BAN_SECONDS}"),
        )
    })?;
    /// Serve Prometheus metrics.
    metrics_enable: bool = "PYTORRENT_METRICS_ENABLE" => env.scalar(name, false, parse_bool)?;
    /// Path of the metrics endpoint.
    metrics_path: String = "PYTORRENT_METRICS_PATH" =>
        env.scalar(name, "/metrics".to_owned(), parse_metrics_path)?;
    /// Direct peers allowed to read the metrics (empty: everyone).
    #[serde(serialize_with = "serialize_nets")]
    metrics_allowed_ips: Vec<IpNet> = "PYTORRENT_METRICS_ALLOWED_IPS" =>
        env.list(name, "", NETS_ACCEPTED, parse_net)?;
    /// Log filter; its syntax belongs to tracing-subscriber, which validates it at start.
    log: String = "PYTORRENT_LOG" => env.scalar(name, "info".to_owned(), |s| Ok(s.to_owned()))?;
    /// Log format: `text` or `json`.
    log_format: LogFormat = "PYTORRENT_LOG_FORMAT" => env.scalar(name, LogFormat::Text, |s| {
        parse_choice(s, &[("text", LogFormat::Text), ("json", LogFormat::Json)])
    })?;
}

/// Flags of `pytorrentd serve`; each one that is set beats its environment variable.
#[derive(Debug, Clone, Default)]
pub struct ServeOverrides {
    pub host: Option<IpAddr>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    /// Administration commands (`user`, `profile`, `config`) run over SSH should find the
    /// packaged service's data without being told: when no data dir is given anywhere and
    /// `/var/lib/pytorrentd` holds a database, use it.
    pub prefer_system_install: bool,
}

/// Where the packaged systemd service keeps its data.
pub const SYSTEM_DATA_DIR: &str = "/var/lib/pytorrentd";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `var` is the variable name, or the `serve` flag (`--port`) for an invalid override.
    #[error("{var}={value}: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    fn invalid(var: &'static str, value: &str, reason: impl AsRef<str>) -> Self {
        ConfigError::Invalid {
            var,
            value: one_line(value),
            reason: one_line(reason.as_ref()),
        }
    }
}

/// Default of `PYTORRENT_AUTH_BYPASS_NETWORKS`: loopback plus the private and unique-local
/// ranges.
pub const DEFAULT_PRIVATE_NETWORKS: &str =
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

/// Default of `PYTORRENT_AUTH_TRUSTED_PROXIES`: only a proxy on this machine may speak for a
/// user. Trusting whole private ranges would let any machine on the LAN send the user header
/// straight to the daemon's port (docs/security.md).
pub const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.0/8,::1/128";

/// Upper bound of `PYTORRENT_LOGIN_BAN_SECONDS` (one year): larger values would overflow
/// `Instant + Duration` arithmetic without buying anything over "effectively forever".
pub const MAX_BAN_SECONDS: u64 = 365 * 24 * 60 * 60;

const MAX_USERNAME_BYTES: usize = 128;

const BOOL_ACCEPTED: &str = "expected true or false (also 1/0, yes/no, on/off)";
const NETS_ACCEPTED: &str =
    "expected a comma-separated list of CIDRs or IP addresses such as 10.0.0.0/8,::1";
const ALLOWED_HOSTS_ACCEPTED: &str = "expected a comma-separated list of host names such as nas.example.com,nas.local (no port), or * to turn the Host check off";
const HOSTS_ACCEPTED: &str =
    "expected a comma-separated list of host, host:port, [ipv6] or [ipv6]:port";
const ORIGINS_ACCEPTED: &str =
    "expected a comma-separated list of origins such as https://example.com,http://10.0.0.5:8090";

impl Config {
    /// Parses the environment given as `(name, value)` pairs; `HOME` and `XDG_DATA_HOME` are
    /// read from the same pairs for the data-dir default. Returns the configuration and the
    /// warnings to log (unknown `PYTORRENT_*` variables, environment values beaten by a flag).
    pub fn from_vars<I: IntoIterator<Item = (String, String)>>(
        vars: I,
        overrides: &ServeOverrides,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let env = Env {
            vars: vars.into_iter().collect(),
        };
        let mut warnings = env.unknown_variable_warnings();
        let config = Config::parse_settings(&env, overrides, &mut warnings)?;
        Ok((config, warnings))
    }

    /// [`Config::from_vars`] over the process environment.
    pub fn from_env(overrides: &ServeOverrides) -> Result<(Config, Vec<String>), ConfigError> {
        // `std::env::vars()` panics on any non-UTF-8 variable, even one we never read; a lossy
        // copy lets a broken unrelated variable pass and a broken PYTORRENT_* one fail cleanly.
        let vars = std::env::vars_os().map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        });
        Config::from_vars(vars, overrides)
    }

    /// `NAME=value` lines, one per [`KNOWN_VARS`] entry in that order, with effective values
    /// (lists comma-joined). Values of variables whose name contains SECRET, PASSWORD or
    /// TOKEN print as `********`.
    pub fn render_masked(&self) -> String {
        render_lines(&self.effective_values())
    }
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl Origin {
    /// Normalizes a request `Origin` or `Referer` header to `scheme://host[:port]`: only
    /// http(s) is accepted, scheme and host are lowercased, default ports are dropped, and
    /// anything after the authority (path, query, fragment) and any user info is ignored.
    /// `Err` (e.g. for `null`) should be treated as a foreign origin; its text is a fragment
    /// such as "has scheme ftp, only http and https are accepted".
    pub fn parse(s: &str) -> Result<Origin, String> {
        let url = url::Url::parse(s.trim()).map_err(|e| format!("is not a URL ({e})"))?;
        Origin::from_url(&url)
    }

    /// Stricter [`Origin::parse`] for configured allow-lists: the value must be exactly an
    /// origin, so a path, query, fragment, user info or wildcard is an error rather than
    /// silently dropped (an operator writing `https://host/app` or `*.example.com` would
    /// otherwise get an allow-list that does not mean what they think).
    pub fn parse_config(s: &str) -> Result<Origin, String> {
        if s.contains('*') {
            return Err("is a wildcard, which is not accepted: list each allowed origin as scheme://host[:port]".to_owned());
        }
        // The URL parser silently strips tabs and newlines; an allow-list entry must not
        // depend on that.
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("contains whitespace".to_owned());
        }
        if !s.contains("://") {
            return Err("is not of the form scheme://host[:port]".to_owned());
        }
        let url = url::Url::parse(s).map_err(|e| format!("is not a URL ({e})"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain user info".to_owned());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not contain a query or fragment".to_owned());
        }
        if url.path() != "/" {
            return Err("must not contain a path".to_owned());
        }
        Origin::from_url(&url)
    }

    fn from_url(url: &url::Url) -> Result<Origin, String> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "has scheme {scheme}, only http and https are accepted"
            ));
        }
        // The URL crate already lowercases and punycodes hosts and reports default ports as
        // `None`, which is exactly the normalization browsers apply to `Origin`.
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host.to_ascii_lowercase(),
            _ => return Err("has no host".to_owned()),
        };
        Ok(Origin(match url.port() {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host part (lowercase; IPv6 without brackets), as the Host check compares it.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or(self.0.as_str(), |(_, r)| r);
        if let Some(v6) = rest.strip_prefix('[') {
            return v6.split_once(']').map_or(v6, |(h, _)| h);
        }
        rest.split_once(':').map_or(rest, |(h, _)| h)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl BypassHost {
    /// Parses one configured entry: `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6
    /// literal (taken as port-less, since its colons cannot be a port separator).
    pub fn parse(s: &str) -> Result<BypassHost, String> {
        let (host, port) = split_host_port(s, true)?;
        Ok(BypassHost { host, port })
    }

    /// Whether a request's `Host` header value (`10.0.0.5:8090`, `[::1]:8090`, `EXAMPLE`)
    /// names this entry. Case-insensitive; a port-less entry matches any port, an entry
    /// with a port requires exactly that port, so a header without a port matches only
    /// port-less entries. A malformed header matches nothing.
    pub fn matches(&self, host_header: &str) -> bool {
        match split_host_port(host_header.trim(), false) {
            Ok((host, port)) => host == self.host && (self.port.is_none() || self.port == port),
            Err(_) => false,
        }
    }

    /// True for loopback, private, link-local and unique-local IP literals and `localhost`;
    /// any other entry deserves a startup warning (bypass is for private networks: docs/security.md).
    pub fn is_private(&self) -> bool {
        if self.host == "localhost" {
            return true;
        }
        match self.host.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
            Ok(IpAddr::V6(ip)) => {
                ip.is_loopback() || ip.is_unique_local() || ip.is_unicast_link_local()
            }
            Err(_) => false,
        }
    }
}

impl fmt::Display for BypassHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bracketed = self.host.contains(':');
        match (bracketed, self.port) {
            (true, Some(port)) => write!(f, "[{}]:{port}", self.host),
            (true, None) => write!(f, "[{}]", self.host),
            (false, Some(port)) => write!(f, "{}:{port}", self.host),
            (false, None) => f.write_str(&self.host),
        }
    }
}

/// Splits a request's `Host` value into a lowercase host (IPv6 without brackets) and optional
/// port; `None` when it is not a well-formed `host[:port]` or `[v6][:port]`.
pub fn parse_host_header(s: &str) -> Option<(String, Option<u16>)> {
    split_host_port(s.trim(), false).ok()
}

/// glibc allocator settings the daemon runs with, as (tunable, legacy environment alias,
/// value).
///
/// By default glibc raises its mmap threshold after a large block is freed, after which
/// large buffers come from the heap and are rarely given back. Argon2's 19 MiB, 64-byte
/// aligned buffer then leaves ~19 MiB behind at every login (measured: 36 MiB idle, 153 MiB
/// after six logins, 252 MiB after a burst of 80), and many arenas multiply the effect. A
/// fixed threshold and trim threshold keep the daemon flat (37 MiB after the same burst). One
/// arena: every thread's short-lived blocks then share one heap instead of fragmenting two,
/// 1 MiB less with 1,000 paused torrents at no measurable cost in download speed (per-thread
/// caches serve the small blocks). See docs/security.md ("Login cost") and BENCHMARKS.md
/// ("Memory").
pub const GLIBC_MALLOC_TUNING: &[(&str, &str, &str)] = &[
    (
        "glibc.malloc.mmap_threshold",
        "MALLOC_MMAP_THRESHOLD_",
        "131072",
    ),
    (
        "glibc.malloc.trim_threshold",
        "MALLOC_TRIM_THRESHOLD_",
        "131072",
    ),
    ("glibc.malloc.arena_max", "MALLOC_ARENA_MAX", "1"),
];

/// The `GLIBC_TUNABLES` value to re-execute `serve` with, or `None` when every setting of
/// [`GLIBC_MALLOC_TUNING`] is already decided (by us on an earlier exec, or by the operator
/// through `GLIBC_TUNABLES` or the `MALLOC_*` variables, which always win).
pub fn glibc_tunables_to_apply(
    current: Option<&str>,
    alias_set: impl Fn(&str) -> bool,
) -> Option<String> {
    let current = current.unwrap_or("");
    let missing: Vec<String> = GLIBC_MALLOC_TUNING
        .iter()
        .filter(|(name, alias, _)| !current.contains(name) && !alias_set(alias))
        .map(|(name, _, value)| format!("{name}={value}"))
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(
        std::iter::once(current.to_owned())
            .filter(|c| !c.is_empty())
            .chain(missing)
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Whether `ip` lies in any of `nets`. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what
/// a dual-stack listener reports for IPv4 peers) is also checked as its IPv4 form.
pub fn ip_in(nets: &[IpNet], ip: IpAddr) -> bool {
    let canonical = ip.to_canonical();
    nets.iter()
        .any(|net| net.contains(&ip) || net.contains(&canonical))
}

/// The environment as given, with the lookups every variable shares.
struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    fn is_blank(&self, name: &str) -> bool {
        self.vars.get(name).is_none_or(|v| v.trim().is_empty())
    }

    /// A scalar variable: unset or blank gives `default`, anything else must parse.
    fn scalar<T>(
        &self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.vars.get(name) {
            Some(raw) if !raw.trim().is_empty() => {
                parse(raw.trim()).map_err(|reason| ConfigError::invalid(name, raw, reason))
            }
            _ => Ok(default),
        }
    }

    /// A comma list: unset gives `default` (parsed like a user value, so defaults cannot
    /// drift from the syntax), set-but-blank gives an empty list.
    fn list<T>(
        &self,
        name: &'static str,
        default: &str,
        accepted: &str,
        parse_item: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, ConfigError> {
        let raw = self.vars.get(name).map_or(default, String::as_str);
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                parse_item(item).map_err(|problem| {
                    ConfigError::invalid(name, raw, format!("\"{item}\" {problem}; {accepted}"))
                })
            })
            .collect()
    }

    fn unknown_variable_warnings(&self) -> Vec<String> {
        let mut unknown: Vec<&str> = self
            .vars
            .keys()
            .map(String::as_str)
            .filter(|name| name.starts_with("PYTORRENT_") && !KNOWN_VARS.contains(name))
            .collect();
        unknown.sort_unstable();
        unknown
            .into_iter()
            .map(|name| format!("unknown variable {} ignored", one_line(name)))
            .collect()
    }

    /// A note when a flag silently replaces a value the operator also set in the
    /// environment, the usual source of "my EnvironmentFile change has no effect".
    fn overridden(&self, name: &str, flag: &str, value: &str) -> Option<String> {
        let env_value = self.vars.get(name)?;
        (!env_value.trim().is_empty()).then(|| {
            format!(
                "{name}={} overridden by {flag} {}",
                one_line(env_value),
                one_line(value)
            )
        })
    }

    /// The packaged service's `/var/lib/pytorrentd` when asked to prefer it and it holds a
    /// database (administration commands over SSH find the service's data untold); else
    /// `$XDG_DATA_HOME/pytorrentd`, else `$HOME/.local/share/pytorrentd`, else a directory
    /// next to the working directory. Relative values are ignored, as the XDG spec demands.
    fn default_data_dir(&self, overrides: &ServeOverrides) -> PathBuf {
        let system = PathBuf::from(SYSTEM_DATA_DIR);
        if overrides.prefer_system_install && system.join("pytorrentd.redb").exists() {
            return system;
        }
        let absolute = |name: &str| {
            self.vars
                .get(name)
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
        };
        if let Some(xdg) = absolute("XDG_DATA_HOME") {
            xdg.join("pytorrentd")
        } else if let Some(home) = absolute("HOME") {
            home.join(".local/share/pytorrentd")
        } else {
            PathBuf::from("./pytorrentd-data")
        }
    }
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(BOOL_ACCEPTED.to_owned()),
    }
}

fn parse_choice<T: Copy>(s: &str, choices: &[(&str, T)]) -> Result<T, String> {
    let wanted = s.to_ascii_lowercase();
    choices
        .iter()
        .find(|(name, _)| *name == wanted)
        .map(|&(_, value)| value)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            format!("expected one of {}", names.join(", "))
        })
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    let unbracketed = s
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(s);
    unbracketed
        .parse()
        .map_err(|_| "expected an IP address such as 0.0.0.0, 127.0.0.1 or ::".to_owned())
}

/// Port digits only: `u16::from_str` would also take `+80`.
fn parse_port(s: &str, allow_zero: bool) -> Result<u16, String> {
    let reason = if allow_zero {
        "expected a port number 0-65535 (0 = random)"
    } else {
        "expected a port number 1-65535"
    };
    match s.parse::<u16>() {
        Ok(port) if s.bytes().all(|b| b.is_ascii_digit()) && (allow_zero || port != 0) => Ok(port),
        _ => Err(reason.to_owned()),
    }
}

fn parse_number<T: std::str::FromStr + PartialOrd>(
    s: &str,
    min: T,
    max: T,
    reason: &str,
) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) && n >= min && n <= max => Ok(n),
        _ => Err(reason.to_owned()),
    }
}

/// RFC 9110 `token`: anything else could never appear as a header name on the wire.
fn parse_header_name(s: &str) -> Result<String, String> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if s.bytes().all(tchar) {
        Ok(s.to_owned())
    } else {
        Err("expected an HTTP header name such as Remote-User (letters, digits and !#$%&'*+-.^_`|~)".to_owned())
    }
}

/// Same limits as a username taken from the proxy header (README "Authentication", docs/security.md).
fn parse_username(s: &str) -> Result<String, String> {
    if s.len() <= MAX_USERNAME_BYTES && !s.chars().any(char::is_control) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "expected a username of at most {MAX_USERNAME_BYTES} bytes without control characters"
        ))
    }
}

/// The metrics route must not shadow the UI root, the API or the Socket.IO endpoint.
fn parse_metrics_path(s: &str) -> Result<String, String> {
    let well_formed = s.starts_with('/')
        && s.len() > 1
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#');
    let reserved = s == "/api" || s.starts_with("/api/") || s.starts_with("/socket.io");
    if well_formed && !reserved {
        Ok(s.to_owned())
    } else {
        Err("expected a path such as /metrics (starting with /, not /, not under /api/ or /socket.io)".to_owned())
    }
}

/// One `PYTORRENT_ALLOWED_HOSTS` entry: `*`, or a DNS name (or IP literal, harmless since IP
/// literals always pass). Stored lowercase without a trailing dot, the form
/// [`normalize_host_name`] gives request hosts.
fn parse_allowed_host(s: &str) -> Result<String, String> {
    if s == "*" {
        return Ok(s.to_owned());
    }
    if s.contains(':') && s.parse::<Ipv6Addr>().is_err() {
        return Err("must be a host name without port or scheme".to_owned());
    }
    let name = normalize_host_name(s);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if s.parse::<Ipv6Addr>().is_ok() || (name.len() <= 253 && name.split('.').all(label_ok)) {
        Ok(name)
    } else {
        Err("is not a host name".to_owned())
    }
}

/// Lowercase, without one trailing dot: `NAS.Example.` and `nas.example` are the same name.
pub fn normalize_host_name(s: &str) -> String {
    s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase()
}

/// `trunc` so `10.0.0.1/8` is shown as the network it denotes.
fn parse_net(s: &str) -> Result<IpNet, String> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| "is not a CIDR or IP address".to_owned())
}

/// Splits `host[:port]`, `[v6][:port]` (and, when `bare_v6` is set, an unbracketed IPv6
/// literal) into a lowercase host and optional port. IPv6 hosts are canonicalized so that
/// `[::0001]` and `[::1]` compare equal.
fn split_host_port(s: &str, bare_v6: bool) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("has an unclosed [")?;
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| "has an invalid IPv6 address in brackets")?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("has text after ]")?),
        };
        (ip.to_string(), port)
    } else if s.matches(':').count() > 1 {
        match s.parse::<Ipv6Addr>() {
            Ok(ip) if bare_v6 => (ip.to_string(), None),
            _ => return Err("needs brackets around an IPv6 address, as in [::1]:8090".to_owned()),
        }
    } else {
        let (host, port) = match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        };
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !valid {
            return Err("has an invalid host name".to_owned());
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = port
        .map(|p| parse_port(p, false).map_err(|_| "has an invalid port (expected 1-65535)"))
        .transpose()?;
    Ok((host, port))
}

fn serialize_nets<S: serde::Serializer>(nets: &[IpNet], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(nets.iter().map(ToString::to_string))
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn is_secret(name: &str) -> bool {
    ["SECRET", "PASSWORD", "TOKEN"]
        .iter()
        .any(|word| name.contains(word))
}

fn render_lines(values: &[(&str, String)]) -> String {
    values
        .iter()
        .map(|(name, value)| {
            // An empty secret stays visibly empty: "unset" is useful and reveals nothing.
            let shown = if is_secret(name) && !value.is_empty() {
                "********".to_owned()
            } else {
                one_line(value)
            };
            format!("{name}={shown}\n")
        })
        .collect()
}

/// Environment values may contain newlines or escapes; every message about them must stay
/// on one line and must not drive the terminal.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl Config {
    /// Settings that work but deserve a loud line at startup (docs/security.md).
    pub fn risk_warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if !self.auth_enable {
            w.push(format!(
                "PYTORRENT_AUTH_ENABLE=false: every request acts as administrator '{}'; use this only on a trusted network",
                self.bypass_user
            ));
        }
        let private: Vec<IpNet> = DEFAULT_PRIVATE_NETWORKS
            .split(',')
            .filter_map(|n| n.parse().ok())
            .collect();
        let header_auth = self.auth_enable && self.auth_provider != AuthProvider::Local;
        if header_auth {
            for net in &self.trusted_proxies {
                let inside = private.iter().any(|p| p.contains(net));
                if !inside {
                    w.push(format!(
                        "PYTORRENT_AUTH_TRUSTED_PROXIES contains {net}, which is not a private range: anyone there can claim any user with the {} header",
                        self.proxy_user_header
                    ));
                }
                // Loopback ranges are this machine, however wide.
                let wide = match net {
                    IpNet::V4(n) => n.prefix_len() < 24 && !n.addr().is_loopback(),
                    IpNet::V6(n) => n.prefix_len() < 64 && !n.addr().is_loopback(),
                };
                if wide {
                    w.push(format!(
                        "PYTORRENT_AUTH_TRUSTED_PROXIES contains {net}, which is wider than a /24 (IPv4) or /64 (IPv6): every machine there may send the {} header and act as any user; list only your proxy's address",
                        self.proxy_user_header
                    ));
                }
            }
        }
        for b in &self.bypass_hosts {
            if !b.is_private() {
                w.push(format!(
                    "PYTORRENT_AUTH_BYPASS_HOSTS entry {b} is not a private address: requests naming it skip login"
                ));
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<(Config, Vec<String>), ConfigError> {
        parse_with(pairs, &ServeOverrides::default())
    }

    fn parse_with(
        pairs: &[(&str, &str)],
        overrides: &ServeOverrides,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let vars = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()));
        Config::from_vars(vars, overrides)
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        match parse(pairs) {
            Ok((config, _)) => config,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        match parse(pairs) {
            Ok((config, _)) => panic!("expected an error, got {config:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn nets(list: &str) -> Vec<IpNet> {
        list.split(',')
            .map(|s| parse_net(s).expect("test CIDR"))
            .collect()
    }

    fn origin(s: &str) -> Origin {
        Origin(s.to_owned())
    }

    fn host(s: &str) -> BypassHost {
        BypassHost::parse(s).expect("test bypass host")
    }

    #[test]
    fn defaults() {
        let (c, warnings) = parse(&[]).expect("defaults are valid");
        assert!(warnings.is_empty());
        assert_eq!(c.host, "0.0.0.0".parse::<IpAddr>().expect("ip"));
        assert_eq!(c.port, 8090);
        assert_eq!(c.data_dir, PathBuf::from("./pytorrentd-data"));
        assert_eq!(c.download_dir, PathBuf::from("./pytorrentd-data/downloads"));
        assert_eq!(c.bt_port, 6881);
        assert!(c.dht_enable);
        assert!(!c.upnp_enable);
        assert!(c.lsd_enable);
        assert!(c.auth_enable);
        assert_eq!(c.auth_provider, AuthProvider::Local);
        assert_eq!(c.proxy_user_header, "Remote-User");
        assert!(!c.proxy_auto_create);
        assert_eq!(c.proxy_auto_create_role, Role::User);
        assert_eq!(c.proxy_auto_create_permission, Level::Ro);
        let private = nets("127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7");
        assert_eq!(c.trusted_proxies, nets("127.0.0.0/8,::1/128"));
        assert_eq!(c.bypass_networks, private);
        assert!(c.allowed_hosts.is_empty());
        assert!(c.fetch_allowed_networks.is_empty());
        assert!(c.bypass_hosts.is_empty());
        assert_eq!(c.bypass_user, "admin");
        assert!(!c.proxy_fix_enable);
        assert!(!c.session_cookie_secure);
        assert!(c.socketio_cors_allowed_origins.is_empty());
        assert!(c.api_allowed_origins.is_empty());
        assert_eq!(c.login_max_failures, 5);
        assert_eq!(c.login_ban_seconds, 900);
        assert!(!c.metrics_enable);
        assert_eq!(c.metrics_path, "/metrics");
        assert!(c.metrics_allowed_ips.is_empty());
        assert_eq!(c.log, "info");
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn blank_scalars_mean_default() {
        let c = config(&[
            ("PYTORRENT_PORT", ""),
            ("PYTORRENT_AUTH_PROVIDER", "  "),
            ("PYTORRENT_LOG", ""),
        ]);
        assert_eq!(c.port, 8090);
        assert_eq!(c.auth_provider, AuthProvider::Local);
        assert_eq!(c.log, "info");
    }

    #[test]
    fn data_dir_defaults_follow_xdg_then_home() {
        let c = config(&[("XDG_DATA_HOME", "/xdg"), ("HOME", "/home/u")]);
        assert_eq!(c.data_dir, PathBuf::from("/xdg/pytorrentd"));
        assert_eq!(c.download_dir, PathBuf::from("/xdg/pytorrentd/downloads"));
        let c = config(&[("XDG_DATA_HOME", ""), ("HOME", "/home/u")]);
        assert_eq!(c.data_dir, PathBuf::from("/home/u/.local/share/pytorrentd"));
        let c = config(&[("XDG_DATA_HOME", "relative"), ("HOME", "")]);
        assert_eq!(c.data_dir, PathBuf::from("./pytorrentd-data"));
        let c = config(&[("HOME", "/home/u"), ("PYTORRENT_DATA_DIR", "/srv/pt")]);
        assert_eq!(c.data_dir, PathBuf::from("/srv/pt"));
        assert_eq!(c.download_dir, PathBuf::from("/srv/pt/downloads"));
        let c = config(&[
            ("PYTORRENT_DATA_DIR", "/srv/pt"),
            ("PYTORRENT_DOWNLOAD_DIR", "/media/dl"),
        ]);
        assert_eq!(c.download_dir, PathBuf::from("/media/dl"));
    }

    #[test]
    fn explicit_values() {
        let c = config(&[
            ("PYTORRENT_HOST", "::1"),
            ("PYTORRENT_PORT", "9000"),
            ("PYTORRENT_BT_PORT", "0"),
            ("PYTORRENT_AUTH_PROVIDER", " TinyAuth "),
            ("PYTORRENT_AUTH_PROXY_USER_HEADER", "X-Forwarded-User"),
            ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE", "ADMIN"),
            ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION", "rw"),
            ("PYTORRENT_AUTH_BYPASS_USER", "root user"),
            ("PYTORRENT_LOGIN_MAX_FAILURES", "3"),
            ("PYTORRENT_LOGIN_BAN_SECONDS", "60"),
            ("PYTORRENT_METRICS_PATH", "/internal/metrics"),
            ("PYTORRENT_LOG", "pytorrentd=debug,info"),
            ("PYTORRENT_LOG_FORMAT", "JSON"),
        ]);
        assert_eq!(c.host, "::1".parse::<IpAddr>().expect("ip"));
        assert_eq!(c.port, 9000);
        assert_eq!(c.bt_port, 0);
        assert_eq!(c.auth_provider, AuthProvider::Tinyauth);
        assert_eq!(c.proxy_user_header, "X-Forwarded-User");
        assert_eq!(c.proxy_auto_create_role, Role::Admin);
        assert_eq!(c.proxy_auto_create_permission, Level::Full);
        assert_eq!(c.bypass_user, "root user");
        assert_eq!(c.login_max_failures, 3);
        assert_eq!(c.login_ban_seconds, 60);
        assert_eq!(c.metrics_path, "/internal/metrics");
        assert_eq!(c.log, "pytorrentd=debug,info");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(
            config(&[("PYTORRENT_HOST", "[::]")]).host,
            "::".parse::<IpAddr>().expect("ip")
        );
        let level = |v| {
            config(&[("PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION", v)])
                .proxy_auto_create_permission
        };
        assert_eq!(level("none"), Level::None);
        assert_eq!(level("ro"), Level::Ro);
        assert_eq!(level("full"), Level::Full);
        assert_eq!(
            config(&[("PYTORRENT_AUTH_PROVIDER", "proxy")]).auth_provider,
            AuthProvider::Proxy
        );
    }

    #[test]
    fn bool_spellings() {
        for (value, expected) in [
            ("true", true),
            ("TRUE", true),
            (" 1 ", true),
            ("yes", true),
            ("On", true),
            ("false", false),
            ("False", false),
            ("0", false),
            ("NO", false),
            ("off", false),
        ] {
            assert_eq!(
                config(&[("PYTORRENT_UPNP_ENABLE", value)]).upnp_enable,
                expected,
                "{value}"
            );
        }
    }

    #[test]
    fn every_bool_variable_is_wired() {
        let all_false = config(&[
            ("PYTORRENT_DHT_ENABLE", "off"),
            ("PYTORRENT_LSD_ENABLE", "off"),
            ("PYTORRENT_AUTH_ENABLE", "off"),
        ]);
        assert!(!all_false.dht_enable && !all_false.lsd_enable && !all_false.auth_enable);
        let all_true = config(&[
            ("PYTORRENT_UPNP_ENABLE", "on"),
            ("PYTORRENT_AUTH_PROXY_AUTO_CREATE", "on"),
            ("PYTORRENT_PROXY_FIX_ENABLE", "on"),
            ("PYTORRENT_SESSION_COOKIE_SECURE", "on"),
            ("PYTORRENT_METRICS_ENABLE", "on"),
        ]);
        assert!(all_true.upnp_enable && all_true.proxy_auto_create && all_true.proxy_fix_enable);
        assert!(all_true.session_cookie_secure && all_true.metrics_enable);
    }

    #[test]
    fn invalid_values_name_variable_value_and_accepted() {
        let bool_vars = [
            "PYTORRENT_DHT_ENABLE",
            "PYTORRENT_UPNP_ENABLE",
            "PYTORRENT_LSD_ENABLE",
            "PYTORRENT_AUTH_ENABLE",
            "PYTORRENT_AUTH_PROXY_AUTO_CREATE",
            "PYTORRENT_PROXY_FIX_ENABLE",
            "PYTORRENT_SESSION_COOKIE_SECURE",
            "PYTORRENT_METRICS_ENABLE",
        ];
        for name in bool_vars {
            assert_eq!(
                error(&[(name, "maybe")]),
                format!("{name}=maybe: expected true or false (also 1/0, yes/no, on/off)")
            );
        }
        let ban = format!("expected a whole number of seconds from 1 to {MAX_BAN_SECONDS}");
        let long_user = "u".repeat(129);
        let cases: &[(&str, &str, &str)] = &[
            (
                "PYTORRENT_HOST",
                "localhost",
                "expected an IP address such as 0.0.0.0, 127.0.0.1 or ::",
            ),
            ("PYTORRENT_PORT", "0", "expected a port number 1-65535"),
            ("PYTORRENT_PORT", "65536", "expected a port number 1-65535"),
            ("PYTORRENT_PORT", "+80", "expected a port number 1-65535"),
            (
                "PYTORRENT_BT_PORT",
                "-1",
                "expected a port number 0-65535 (0 = random)",
            ),
            (
                "PYTORRENT_AUTH_PROVIDER",
                "tinyauht",
                "expected one of local, tinyauth, proxy",
            ),
            (
                "PYTORRENT_AUTH_PROXY_USER_HEADER",
                "Remote User",
                "expected an HTTP header name such as Remote-User (letters, digits and !#$%&'*+-.^_`|~)",
            ),
            (
                "PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE",
                "root",
                "expected one of user, admin",
            ),
            (
                "PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION",
                "write",
                "expected one of none, ro, rw, full",
            ),
            (
                "PYTORRENT_AUTH_TRUSTED_PROXIES",
                "10.0.0.0/8,proxy",
                "\"proxy\" is not a CIDR or IP address; expected a comma-separated list of CIDRs or IP addresses such as 10.0.0.0/8,::1",
            ),
            (
                "PYTORRENT_AUTH_BYPASS_NETWORKS",
                "10.0.0.0/33",
                "\"10.0.0.0/33\" is not a CIDR or IP address; expected a comma-separated list of CIDRs or IP addresses such as 10.0.0.0/8,::1",
            ),
            (
                "PYTORRENT_METRICS_ALLOWED_IPS",
                "::1/129",
                "\"::1/129\" is not a CIDR or IP address; expected a comma-separated list of CIDRs or IP addresses such as 10.0.0.0/8,::1",
            ),
            (
                "PYTORRENT_AUTH_BYPASS_HOSTS",
                "10.0.0.5:99999",
                "\"10.0.0.5:99999\" has an invalid port (expected 1-65535); expected a comma-separated list of host, host:port, [ipv6] or [ipv6]:port",
            ),
            (
                "PYTORRENT_AUTH_BYPASS_USER",
                &long_user,
                "expected a username of at most 128 bytes without control characters",
            ),
            (
                "PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS",
                "ftp://example.com",
                "\"ftp://example.com\" has scheme ftp, only http and https are accepted; expected a comma-separated list of origins such as https://example.com,http://10.0.0.5:8090",
            ),
            (
                "PYTORRENT_API_ALLOWED_ORIGINS",
                "*",
                "\"*\" is a wildcard, which is not accepted: list each allowed origin as scheme://host[:port]; expected a comma-separated list of origins such as https://example.com,http://10.0.0.5:8090",
            ),
            (
                "PYTORRENT_API_ALLOWED_ORIGINS",
                "https://example.com/app",
                "\"https://example.com/app\" must not contain a path; expected a comma-separated list of origins such as https://example.com,http://10.0.0.5:8090",
            ),
            (
                "PYTORRENT_LOGIN_MAX_FAILURES",
                "0",
                "expected a whole number >= 1",
            ),
            (
                "PYTORRENT_LOGIN_MAX_FAILURES",
                "five",
                "expected a whole number >= 1",
            ),
            ("PYTORRENT_LOGIN_BAN_SECONDS", "0", &ban),
            ("PYTORRENT_LOGIN_BAN_SECONDS", "31536001", &ban),
            (
                "PYTORRENT_METRICS_PATH",
                "/api/metrics",
                "expected a path such as /metrics (starting with /, not /, not under /api/ or /socket.io)",
            ),
            ("PYTORRENT_LOG_FORMAT", "xml", "expected one of text, json"),
        ];
        for (name, value, reason) in cases {
            assert_eq!(error(&[(name, value)]), format!("{name}={value}: {reason}"));
        }
        assert_eq!(
            error(&[("PYTORRENT_AUTH_PROVIDER", "tinyauht")]),
            "PYTORRENT_AUTH_PROVIDER=tinyauht: expected one of local, tinyauth, proxy"
        );
    }

    #[test]
    fn error_messages_stay_on_one_line() {
        let message = error(&[("PYTORRENT_PORT", "80\n81")]);
        assert_eq!(
            message,
            "PYTORRENT_PORT=80\\n81: expected a port number 1-65535"
        );
        let message = error(&[("PYTORRENT_AUTH_BYPASS_HOSTS", "a b\u{1b}[31m")]);
        assert!(
            !message.contains('\n') && !message.contains('\u{1b}'),
            "{message}"
        );
    }

    #[test]
    fn metrics_path_rules() {
        for bad in [
            "metrics",
            "/",
            "/api",
            "/api/x",
            "/socket.io",
            "/socket.io/m",
            "/m?x",
            "/m x",
        ] {
            assert!(parse_metrics_path(bad).is_err(), "{bad}");
        }
        for good in ["/metrics", "/apimetrics", "/_/metrics"] {
            assert_eq!(parse_metrics_path(good).as_deref(), Ok(good));
        }
    }

    #[test]
    fn bypass_user_rules() {
        assert!(parse_username(&"u".repeat(128)).is_ok());
        assert!(parse_username("a\tb").is_err());
        // Blank falls back to the default rather than an empty username.
        assert_eq!(
            config(&[("PYTORRENT_AUTH_BYPASS_USER", " ")]).bypass_user,
            "admin"
        );
    }

    #[test]
    fn cidr_lists() {
        let c = config(&[
            (
                "PYTORRENT_AUTH_TRUSTED_PROXIES",
                " 10.1.2.3 , 192.168.0.0/16,,::1, fd00::/8, 10.9.9.9/8 ",
            ),
            ("PYTORRENT_AUTH_BYPASS_NETWORKS", ""),
            ("PYTORRENT_METRICS_ALLOWED_IPS", "2001:db8::5"),
        ]);
        assert_eq!(
            c.trusted_proxies,
            nets("10.1.2.3/32,192.168.0.0/16,::1/128,fd00::/8,10.0.0.0/8")
        );
        assert!(
            c.bypass_networks.is_empty(),
            "set-but-empty list means empty"
        );
        assert_eq!(c.metrics_allowed_ips, nets("2001:db8::5/128"));
    }

    #[test]
    fn ip_in_handles_mapped_addresses() {
        let list = nets("10.0.0.0/8,::1/128,fc00::/7");
        let ip = |s: &str| s.parse::<IpAddr>().expect("test ip");
        assert!(ip_in(&list, ip("10.1.2.3")));
        assert!(ip_in(&list, ip("::ffff:10.1.2.3")));
        assert!(ip_in(&list, ip("::1")));
        assert!(ip_in(&list, ip("fd12::1")));
        assert!(!ip_in(&list, ip("11.0.0.1")));
        assert!(!ip_in(&list, ip("::ffff:11.0.0.1")));
        assert!(!ip_in(&[], ip("127.0.0.1")));
    }

    #[test]
    fn bypass_host_parsing() {
        let c = config(&[(
            "PYTORRENT_AUTH_BYPASS_HOSTS",
            "10.11.1.11:8090, 10.11.1.11,NAS.Local,[::1]:8090,[FE80::0001],fd00::5,",
        )]);
        assert_eq!(
            c.bypass_hosts,
            vec![
                BypassHost {
                    host: "10.11.1.11".into(),
                    port: Some(8090)
                },
                BypassHost {
                    host: "10.11.1.11".into(),
                    port: None
                },
                BypassHost {
                    host: "nas.local".into(),
                    port: None
                },
                BypassHost {
                    host: "::1".into(),
                    port: Some(8090)
                },
                BypassHost {
                    host: "fe80::1".into(),
                    port: None
                },
                BypassHost {
                    host: "fd00::5".into(),
                    port: None
                },
            ]
        );
        for bad in [
            "host:",
            "host:0",
            "host:abc",
            "[::1",
            "[::1]x",
            "[nope]:80",
            "a/b",
            "fd00::5:80:x",
        ] {
            assert!(BypassHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bypass_host_matching() {
        let with_port = host("10.11.1.11:8090");
        assert!(with_port.matches("10.11.1.11:8090"));
        assert!(!with_port.matches("10.11.1.11:8091"));
        assert!(
            !with_port.matches("10.11.1.11"),
            "port-less header only matches port-less entries"
        );

        let any_port = host("10.11.1.11");
        assert!(any_port.matches("10.11.1.11"));
        assert!(any_port.matches("10.11.1.11:8090"));
        assert!(!any_port.matches("10.11.1.12"));
        assert!(!any_port.matches("10.11.1.11.evil.com"));

        let name = host("Nas.Local");
        assert!(name.matches("NAS.LOCAL"));
        assert!(name.matches(" nas.local:443 "));
        assert!(!name.matches("nas.local.")); // strict: no trailing-dot folding

        let v6 = host("[::1]:8090");
        assert!(v6.matches("[::1]:8090"));
        assert!(v6.matches("[0:0::1]:8090"));
        assert!(!v6.matches("[::1]"));
        assert!(!v6.matches("::1"));
        assert!(host("[::1]").matches("[::1]:1234"));
        assert!(host("fe80::1").matches("[FE80::1]"));

        assert!(!any_port.matches(""));
        assert!(!any_port.matches("10.11.1.11:"));
        assert!(!any_port.matches("10.11.1.11:x"));
    }

    #[test]
    fn bypass_host_is_private() {
        for private in [
            "localhost",
            "127.0.0.1",
            "10.0.0.1:80",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.0.1",
            "[::1]",
            "[fd00::1]",
            "[fe80::1]",
            "[::ffff:192.168.1.1]",
        ] {
            assert!(host(private).is_private(), "{private}");
        }
        for public in [
            "example.com",
            "8.8.8.8",
            "[2001:db8::1]",
            "100.64.0.1",
            "nas.local",
        ] {
            assert!(!host(public).is_private(), "{public}");
        }
    }

    #[test]
    fn bypass_host_display_round_trips() {
        for s in ["nas", "nas:80", "[::1]", "[::1]:80"] {
            assert_eq!(host(s).to_string(), s);
            assert_eq!(host(&host(s).to_string()), host(s));
        }
    }

    #[test]
    fn origin_normalization() {
        let cases = [
            ("https://Example.COM", "https://example.com"),
            ("https://example.com/", "https://example.com"),
            ("HTTPS://example.com:443", "https://example.com"),
            ("http://example.com:80/", "http://example.com"),
            ("http://example.com:443", "http://example.com:443"),
            ("https://example.com:8443", "https://example.com:8443"),
            ("http://[::1]:8090", "http://[::1]:8090"),
            ("http://10.0.0.5:8090", "http://10.0.0.5:8090"),
        ];
        for (input, expected) in cases {
            assert_eq!(Origin::parse_config(input), Ok(origin(expected)), "{input}");
            assert_eq!(Origin::parse(input), Ok(origin(expected)), "{input}");
        }
        for bad in [
            "*",
            "https://*.example.com",
            "ftp://example.com",
            "https://example.com/app",
            "https://example.com/?q=1",
            "https://example.com#x",
            "https://user:pw@example.com",
            "example.com",
            "https:example.com",
            "https://exa mple.com",
            "null",
        ] {
            assert!(Origin::parse_config(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origin_parse_takes_only_scheme_host_port_of_a_referer() {
        assert_eq!(
            Origin::parse("https://Example.com:443/torrents/1?x=y#frag"),
            Ok(origin("https://example.com"))
        );
        assert_eq!(
            Origin::parse("http://user@host.example:8080/a"),
            Ok(origin("http://host.example:8080"))
        );
        for bad in [
            "null",
            "",
            "ftp://example.com/",
            "file:///etc/passwd",
            "chrome-extension://abc",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origin_lists_and_api_fallback() {
        let socketio = (
            "PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS",
            "https://Pt.Example.com/, http://10.0.0.5:8090",
        );
        let expected = vec![
            origin("https://pt.example.com"),
            origin("http://10.0.0.5:8090"),
        ];

        let c = config(&[socketio]);
        assert_eq!(c.socketio_cors_allowed_origins, expected);
        assert_eq!(c.api_allowed_origins, expected, "unset API list falls back");

        let c = config(&[socketio, ("PYTORRENT_API_ALLOWED_ORIGINS", " ")]);
        assert_eq!(c.api_allowed_origins, expected, "blank API list falls back");

        let c = config(&[
            socketio,
            ("PYTORRENT_API_ALLOWED_ORIGINS", "https://api.example.com"),
        ]);
        assert_eq!(
            c.api_allowed_origins,
            vec![origin("https://api.example.com")]
        );
        assert_eq!(c.socketio_cors_allowed_origins, expected);
    }

    #[test]
    fn unknown_variables_warn() {
        let (_, warnings) = parse(&[
            ("PYTORRENT_FOO", "1"),
            ("PYTORRENT_AUTH_PROVDER", "proxy"),
            ("PATH", "/bin"),
            ("PYTORRENT_PORT", "8091"),
        ])
        .expect("valid");
        assert_eq!(
            warnings,
            vec![
                "unknown variable PYTORRENT_AUTH_PROVDER ignored",
                "unknown variable PYTORRENT_FOO ignored",
            ]
        );
    }

    #[test]
    fn overrides_beat_env() {
        let overrides = ServeOverrides {
            host: Some("127.0.0.1".parse().expect("ip")),
            port: Some(9999),
            data_dir: Some(PathBuf::from("/flag/dir")),
            prefer_system_install: false,
        };
        let (c, warnings) = parse_with(
            &[
                ("PYTORRENT_HOST", "0.0.0.0"),
                ("PYTORRENT_PORT", "8091"),
                ("PYTORRENT_DATA_DIR", "/env/dir"),
            ],
            &overrides,
        )
        .expect("valid");
        assert_eq!(c.host, "127.0.0.1".parse::<IpAddr>().expect("ip"));
        assert_eq!(c.port, 9999);
        assert_eq!(c.data_dir, PathBuf::from("/flag/dir"));
        assert_eq!(c.download_dir, PathBuf::from("/flag/dir/downloads"));
        assert_eq!(
            warnings,
            vec![
                "PYTORRENT_HOST=0.0.0.0 overridden by --host 127.0.0.1",
                "PYTORRENT_PORT=8091 overridden by --port 9999",
                "PYTORRENT_DATA_DIR=/env/dir overridden by --data-dir /flag/dir",
            ]
        );
        // An override also rescues an invalid environment value it replaces.
        let (c, _) = parse_with(&[("PYTORRENT_PORT", "bogus")], &overrides).expect("valid");
        assert_eq!(c.port, 9999);

        let zero = ServeOverrides {
            port: Some(0),
            ..ServeOverrides::default()
        };
        let message = parse_with(&[], &zero)
            .map(|_| ())
            .expect_err("port 0")
            .to_string();
        assert_eq!(message, "--port=0: expected a port number 1-65535");
    }

    #[test]
    fn render_masked_lists_every_known_var() {
        let c = config(&[
            ("PYTORRENT_AUTH_BYPASS_HOSTS", "nas:8090,[::1]"),
            (
                "PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS",
                "https://a.example,https://b.example",
            ),
        ]);
        let names: Vec<&str> = c.effective_values().iter().map(|(name, _)| *name).collect();
        assert_eq!(names, KNOWN_VARS);

        let rendered = c.render_masked();
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines.len(), KNOWN_VARS.len());
        for (line, name) in lines.iter().zip(KNOWN_VARS) {
            assert!(line.starts_with(&format!("{name}=")), "{line}");
        }
        assert!(lines.contains(&"PYTORRENT_PORT=8090"));
        assert!(lines.contains(&"PYTORRENT_AUTH_BYPASS_HOSTS=nas:8090,[::1]"));
        assert!(
            lines.contains(&"PYTORRENT_API_ALLOWED_ORIGINS=https://a.example,https://b.example")
        );
        assert!(lines.contains(&"PYTORRENT_AUTH_TRUSTED_PROXIES=127.0.0.0/8,::1/128"));
        assert!(lines.contains(&"PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION=ro"));
    }

    #[test]
    fn rendered_defaults_parse_back_to_the_same_config() {
        let c = config(&[
            ("PYTORRENT_AUTH_BYPASS_HOSTS", "nas:8090,[::1]"),
            ("PYTORRENT_METRICS_ALLOWED_IPS", "10.0.0.0/8"),
            ("PYTORRENT_API_ALLOWED_ORIGINS", "https://a.example"),
        ]);
        let rendered = c.render_masked();
        let pairs: Vec<(&str, &str)> = rendered
            .lines()
            .filter_map(|line| line.split_once('='))
            .collect();
        assert_eq!(config(&pairs), c);
    }

    #[test]
    fn serializes_networks_as_strings() {
        let c = config(&[("PYTORRENT_METRICS_ALLOWED_IPS", "10.0.0.1,::1")]);
        let json = serde_json::to_value(&c).expect("serializable");
        assert_eq!(
            json["metrics_allowed_ips"],
            serde_json::json!(["10.0.0.1/32", "::1/128"])
        );
        assert_eq!(json["auth_provider"], "local");
    }

    #[test]
    fn glibc_tuning_is_added_once_and_never_overrides_the_operator() {
        let none = |_: &str| false;
        assert_eq!(
            glibc_tunables_to_apply(None, none).as_deref(),
            Some(
                "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=1"
            )
        );
        let applied = glibc_tunables_to_apply(None, none).unwrap();
        assert_eq!(glibc_tunables_to_apply(Some(&applied), none), None);
        assert_eq!(
            glibc_tunables_to_apply(Some("glibc.malloc.arena_max=8"), |a| {
                a == "MALLOC_TRIM_THRESHOLD_"
            })
            .as_deref(),
            Some("glibc.malloc.arena_max=8:glibc.malloc.mmap_threshold=131072")
        );
        assert_eq!(
            glibc_tunables_to_apply(None, |_| true),
            None,
            "all three set through MALLOC_* variables"
        );
    }

    #[test]
    fn secrets_are_masked() {
        let rendered = render_lines(&[
            ("PYTORRENT_SECRET_KEY", "hunter2".to_owned()),
            ("PYTORRENT_ADMIN_PASSWORD", String::new()),
            ("PYTORRENT_API_TOKEN", "pt_abc".to_owned()),
            ("PYTORRENT_LOG", "info".to_owned()),
        ]);
        assert_eq!(
            rendered,
            "PYTORRENT_SECRET_KEY=********\nPYTORRENT_ADMIN_PASSWORD=\nPYTORRENT_API_TOKEN=********\nPYTORRENT_LOG=info\n"
        );
    }
}

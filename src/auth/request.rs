//! Facts about a request that depend on who sent it: the client IP, the application origin
//! (with proxy-fix, only from trusted proxies), the origin check against cross-site requests
//! and the Host check against DNS rebinding (docs/security.md).

use std::net::{IpAddr, SocketAddr};

use super::RequestHeaders;
use crate::config::{Config, Origin, ip_in};

fn header_str<'a>(h: &'a (impl RequestHeaders + ?Sized), name: &str) -> Option<&'a str> {
    h.first(name)
}

/// Whether the direct peer may speak for the client (user header, forwarded headers).
pub fn peer_trusted(cfg: &Config, peer: Option<SocketAddr>) -> bool {
    peer.is_some_and(|p| ip_in(&cfg.trusted_proxies, p.ip()))
}

/// The client IP: the peer, or with proxy-fix behind a trusted peer the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(
    cfg: &Config,
    peer: Option<SocketAddr>,
    h: &(impl RequestHeaders + ?Sized),
) -> Option<IpAddr> {
    let peer_ip = peer.map(|p| p.ip())?;
    if !(cfg.proxy_fix_enable && peer_trusted(cfg, peer)) {
        return Some(peer_ip);
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for v in h.values("x-forwarded-for") {
        let Ok(s) = std::str::from_utf8(v) else {
            continue;
        };
        for part in s.split(',') {
            if let Ok(ip) = part.trim().parse::<IpAddr>() {
                hops.push(ip);
            } else if let Ok(sa) = part.trim().parse::<SocketAddr>() {
                hops.push(sa.ip());
            }
        }
    }
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !ip_in(&cfg.trusted_proxies, *ip))
            .unwrap_or(peer_ip),
    )
}

/// How the client reached us: scheme, host[:port] and path prefix.
pub struct AppOrigin {
    pub origin: Option<Origin>,
    pub prefix: String,
}

pub fn app_origin(
    cfg: &Config,
    peer: Option<SocketAddr>,
    h: &(impl RequestHeaders + ?Sized),
) -> AppOrigin {
    let fwd = cfg.proxy_fix_enable && peer_trusted(cfg, peer);
    let first = |name: &str| {
        header_str(h, name)
            .and_then(|v| v.split(',').next())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let scheme = fwd
        .then(|| first("x-forwarded-proto"))
        .flatten()
        .unwrap_or_else(|| "http".into());
    let mut host = fwd
        .then(|| first("x-forwarded-host"))
        .flatten()
        .or_else(|| header_str(h, "host").map(str::to_owned))
        .unwrap_or_default();
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    if fwd
        && !has_port
        && !host.ends_with(']')
        && let Some(port) = first("x-forwarded-port")
    {
        host = format!("{host}:{port}");
    }
    let prefix = if fwd {
        first("x-forwarded-prefix")
            .map(|p| p.trim_end_matches('/').to_owned())
            .filter(|p| prefix_acceptable(p))
            .unwrap_or_default()
    } else {
        String::new()
    };
    AppOrigin {
        origin: Origin::parse(&format!("{scheme}://{host}")).ok(),
        prefix,
    }
}

/// A path prefix that is safe to put in a `Location` header: `/`-rooted, only
/// `[A-Za-z0-9/_.-]`, no empty or `..` segment. Anything else (`/\\evil.test`, which browsers
/// read as `//evil.test`) would turn our redirects into open redirects.
fn prefix_acceptable(p: &str) -> bool {
    p.starts_with('/')
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b))
        && p[1..].split('/').all(|seg| !seg.is_empty() && seg != "..")
}

/// A cross-site request refused by [`check_origin`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "request origin '{presented}' does not match this server's origin{}; if this is how you reach pytorrentd (e.g. through an HTTPS reverse proxy), add it to PYTORRENT_API_ALLOWED_ORIGINS or enable PYTORRENT_PROXY_FIX_ENABLE",
    app.as_ref().map(|o| format!(" '{}'", o.as_str())).unwrap_or_default()
)]
pub struct OriginRejected {
    pub presented: String,
    pub app: Option<Origin>,
}

/// The check against cross-site requests, for requests that change something: the `Origin`
/// (else `Referer`) must be the application's own origin or an allowed one. Without either
/// header the request is not a browser's and passes.
pub fn check_origin(
    cfg: &Config,
    peer: Option<SocketAddr>,
    h: &(impl RequestHeaders + ?Sized),
) -> Result<(), OriginRejected> {
    let presented = header_str(h, "origin").or_else(|| header_str(h, "referer"));
    let Some(presented) = presented else {
        return Ok(());
    };
    let app = app_origin(cfg, peer, h);
    if let Ok(o) = Origin::parse(presented)
        && (app.origin.as_ref() == Some(&o) || cfg.api_allowed_origins.contains(&o))
    {
        return Ok(());
    }
    Err(OriginRejected {
        presented: presented.to_owned(),
        app: app.origin,
    })
}

/// The same check for the Socket.IO handshake, against its own allow-list.
pub fn check_socket_origin(
    cfg: &Config,
    peer: Option<SocketAddr>,
    h: &(impl RequestHeaders + ?Sized),
) -> Result<(), String> {
    let Some(presented) = header_str(h, "origin") else {
        return Ok(());
    };
    let app = app_origin(cfg, peer, h);
    match Origin::parse(presented) {
        Ok(o)
            if app.origin.as_ref() == Some(&o)
                || cfg.socketio_cors_allowed_origins.contains(&o) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "origin '{presented}' is not allowed; add it to PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS"
        )),
    }
}

/// What the Host check (DNS rebinding defence, docs/security.md) thinks of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostVerdict {
    Accepted,
    /// More than one `Host` header: ambiguous, refused outright.
    Duplicate,
    /// Missing, malformed or an unknown name; the value as received (lossy).
    Rejected(String),
}

/// A page served from a name we do not know (a rebound DNS name) must not reach the API: the
/// `Host` must be an IP literal, `localhost`, a configured name, the host part of a bypass
/// entry or the host of an allowed origin. Case-insensitive and exact; one trailing dot is
/// ignored (`nas.example.` is the same DNS name as `nas.example`).
pub fn check_host(cfg: &Config, h: &(impl RequestHeaders + ?Sized)) -> HostVerdict {
    let values = h.values("host");
    if values.len() > 1 {
        return HostVerdict::Duplicate;
    }
    let raw = values
        .first()
        .map(|v| String::from_utf8_lossy(v).into_owned());
    if host_check_off(cfg) {
        return HostVerdict::Accepted;
    }
    let Some(raw) = raw else {
        return HostVerdict::Rejected(String::new());
    };
    if host_value_accepted(cfg, &raw) {
        HostVerdict::Accepted
    } else {
        HostVerdict::Rejected(raw)
    }
}

fn host_check_off(cfg: &Config) -> bool {
    cfg.allowed_hosts.iter().any(|h| h == "*")
}

/// The Host check on one header value.
pub fn host_value_accepted(cfg: &Config, raw: &str) -> bool {
    let Some((host, _port)) = crate::config::parse_host_header(raw) else {
        return false;
    };
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = crate::config::normalize_host_name(&host);
    accepted_host_names(cfg).any(|n| n == name)
}

/// Every name the Host check accepts besides IP literals, for the check and the startup line.
pub fn accepted_host_names(cfg: &Config) -> impl Iterator<Item = String> + '_ {
    std::iter::once("localhost".to_owned())
        .chain(cfg.allowed_hosts.iter().filter(|h| *h != "*").cloned())
        .chain(
            cfg.bypass_hosts
                .iter()
                .map(|b| crate::config::normalize_host_name(&b.host)),
        )
        .chain(
            cfg.api_allowed_origins
                .iter()
                .chain(&cfg.socketio_cors_allowed_origins)
                .map(|o| crate::config::normalize_host_name(o.host())),
        )
}

/// The names to show at startup ("*" when the check is off), without repeats.
pub fn accepted_hosts_summary(cfg: &Config) -> String {
    if host_check_off(cfg) {
        return "* (Host check off)".to_owned();
    }
    let mut names: Vec<String> = Vec::new();
    for n in accepted_host_names(cfg) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    format!("IP literals,{}", names.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServeOverrides;

    /// Headers as a list of (lower-case name, value).
    struct Headers(Vec<(&'static str, &'static str)>);

    impl RequestHeaders for Headers {
        fn values(&self, name: &str) -> Vec<&[u8]> {
            self.0
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.as_bytes())
                .collect()
        }
        fn names(&self) -> Vec<&str> {
            self.0.iter().map(|(n, _)| *n).collect()
        }
    }

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::from_vars(vars, &ServeOverrides::default())
            .expect("test configuration")
            .0
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().expect("test IP"), 40000))
    }

    #[test]
    fn host_check_accepts_ip_literals_localhost_and_configured_names_only() {
        let cfg = config(&[("PYTORRENT_ALLOWED_HOSTS", "nas.example")]);
        for ok in [
            "127.0.0.1:8090",
            "[::1]:8090",
            "192.168.1.20",
            "localhost:8090",
            "LOCALHOST",
            "nas.example",
            "NAS.Example.:8090",
        ] {
            assert!(host_value_accepted(&cfg, ok), "{ok} should pass");
        }
        for bad in [
            "evil.test:8090",
            "nas.example.evil.test",
            "nas.example:notaport",
            "",
            "user@nas.example",
            "nas example",
        ] {
            assert!(!host_value_accepted(&cfg, bad), "{bad:?} should be refused");
        }
        let two = Headers(vec![("host", "127.0.0.1"), ("host", "127.0.0.1")]);
        assert!(matches!(check_host(&cfg, &two), HostVerdict::Duplicate));
        let none = Headers(vec![]);
        assert!(matches!(check_host(&cfg, &none), HostVerdict::Rejected(_)));
        let any = config(&[("PYTORRENT_ALLOWED_HOSTS", "*")]);
        let rebound = Headers(vec![("host", "evil.test")]);
        assert!(matches!(check_host(&any, &rebound), HostVerdict::Accepted));
    }

    #[test]
    fn allowed_origins_and_bypass_hosts_are_accepted_names() {
        let cfg = config(&[
            ("PYTORRENT_API_ALLOWED_ORIGINS", "https://torrents.example"),
            ("PYTORRENT_AUTH_BYPASS_HOSTS", "home.lan"),
        ]);
        assert!(host_value_accepted(&cfg, "torrents.example"));
        assert!(host_value_accepted(&cfg, "home.lan:8090"));
        assert!(!host_value_accepted(&cfg, "other.example"));
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let cfg = config(&[("PYTORRENT_PROXY_FIX_ENABLE", "true")]);
        let h = Headers(vec![
            ("host", "127.0.0.1:8090"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "torrents.example"),
            ("x-forwarded-prefix", "/torrents/"),
            ("x-forwarded-for", "203.0.113.9, 127.0.0.1"),
        ]);
        // Through the loopback proxy (trusted by default): the client's view.
        let o = app_origin(&cfg, peer("127.0.0.1"), &h);
        assert_eq!(
            o.origin.as_ref().map(Origin::as_str),
            Some("https://torrents.example")
        );
        assert_eq!(o.prefix, "/torrents");
        assert_eq!(
            client_ip(&cfg, peer("127.0.0.1"), &h),
            "203.0.113.9".parse().ok()
        );
        // Straight from a LAN machine: the headers are ignored.
        let o = app_origin(&cfg, peer("192.168.1.50"), &h);
        assert_eq!(
            o.origin.as_ref().map(Origin::as_str),
            Some("http://127.0.0.1:8090")
        );
        assert_eq!(o.prefix, "");
        assert_eq!(
            client_ip(&cfg, peer("192.168.1.50"), &h),
            "192.168.1.50".parse().ok()
        );
    }

    #[test]
    fn prefixes_that_could_redirect_elsewhere_are_dropped() {
        for ok in ["/torrents", "/a/b-c_d.e"] {
            assert!(prefix_acceptable(ok), "{ok}");
        }
        for bad in [
            "torrents",
            "/\\evil.test",
            "//evil.test",
            "/a/../b",
            "/a b",
            "/a?x",
        ] {
            assert!(!prefix_acceptable(bad), "{bad}");
        }
    }

    #[test]
    fn cross_site_writes_are_refused_and_non_browser_requests_pass() {
        let cfg = config(&[]);
        let from =
            |origin: &'static str| Headers(vec![("host", "127.0.0.1:8090"), ("origin", origin)]);
        assert!(check_origin(&cfg, peer("127.0.0.1"), &from("http://127.0.0.1:8090")).is_ok());
        let err = check_origin(&cfg, peer("127.0.0.1"), &from("http://evil.test"))
            .expect_err("a foreign origin");
        assert_eq!(err.presented, "http://evil.test");
        let no_origin = Headers(vec![("host", "127.0.0.1:8090")]);
        assert!(check_origin(&cfg, peer("127.0.0.1"), &no_origin).is_ok());
        let referer = Headers(vec![
            ("host", "127.0.0.1:8090"),
            ("referer", "http://evil.test/page"),
        ]);
        assert!(check_origin(&cfg, peer("127.0.0.1"), &referer).is_err());
    }
}

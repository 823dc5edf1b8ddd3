//! The request-header parsers that decide who a request comes from and whether it is
//! same-origin: the Host check, client IP (X-Forwarded-For), application origin (Host,
//! X-Forwarded-Proto/Host/Port/Prefix), the CSRF Origin/Referer check, the Socket.IO origin
//! check, and the config-side `Origin`, `BypassHost` and Host parsers they rely on.
//!
//! The input is header lines `name: value`; the first byte chooses whether the direct peer is
//! a trusted proxy (forwarded headers honoured) or not.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use pytorrentd::auth::request::{
    app_origin, check_host, check_origin, check_socket_origin, client_ip, host_value_accepted,
};
use pytorrentd::config::{BypassHost, Config, Origin, ServeOverrides, parse_host_header};

fn config() -> &'static Config {
    static CFG: OnceLock<Config> = OnceLock::new();
    CFG.get_or_init(|| {
        let vars = [
            ("PYTORRENT_DATA_DIR", "/nonexistent/pytorrentd-fuzz"),
            ("PYTORRENT_PROXY_FIX_ENABLE", "true"),
            ("PYTORRENT_AUTH_TRUSTED_PROXIES", "127.0.0.1/32,::1/128,10.0.0.0/8"),
            ("PYTORRENT_API_ALLOWED_ORIGINS", "https://torrents.example.com"),
            ("PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS", "http://10.0.0.5:8090"),
            ("PYTORRENT_AUTH_BYPASS_HOSTS", "localhost,10.0.0.5:8090,[::1]"),
            ("PYTORRENT_ALLOWED_HOSTS", "torrents.example.com,nas.lan"),
        ];
        Config::from_vars(
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            &ServeOverrides::default(),
        )
        .expect("fuzz config")
        .0
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let cfg = config();
    let peer: SocketAddr = match pick % 3 {
        0 => ([127, 0, 0, 1], 40000).into(),
        1 => ([192, 168, 1, 9], 40000).into(),
        _ => "[::ffff:10.1.2.3]:40000".parse().expect("peer"),
    };
    let mut headers = HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(value.trim_ascii()),
        ) {
            headers.append(n, v);
        }
        if let Ok(s) = std::str::from_utf8(value) {
            let _ = parse_host_header(s);
            let _ = host_value_accepted(cfg, s);
            let _ = Origin::parse(s);
            let _ = Origin::parse_config(s);
            if let Ok(h) = BypassHost::parse(s) {
                let _ = h.matches(s);
                let _ = h.is_private();
                let _ = h.to_string();
            }
            for b in &cfg.bypass_hosts {
                let _ = b.matches(s);
            }
        }
    }
    let _ = check_host(cfg, &headers);
    let _ = client_ip(cfg, Some(peer), &headers);
    let o = app_origin(cfg, Some(peer), &headers);
    if let Some(origin) = o.origin {
        // An origin we build must parse back to itself.
        assert_eq!(Origin::parse(origin.as_str()).ok(), Some(origin.clone()));
    }
    let _ = check_origin(cfg, Some(peer), &headers);
    let _ = check_socket_origin(cfg, Some(peer), &headers);
});

//! The identity resolver, table-driven: providers × inputs → who `GET /api/auth/me` says the caller
//! is (or the exact error). Every row runs against a real in-process instance; rows sharing
//! the same variables share one instance (with fresh fixtures: users `alice` (local
//! password, `default`=ro) and `ext` (passwordless, `*`=full), a live and a revoked token of
//! `alice`, and a session of `alice`).

use std::collections::BTreeMap;

use pytorrentd::access::{Level, Role};

use crate::common::{Call, Inst, PW, me_permissions, pairs, phase, profile_levels};

const LIVE_TOKEN: &str = "{TOKEN}";
const REVOKED_TOKEN: &str = "{REVOKED}";
const SESSION: &str = "{SESSION}";

type Vars = Vec<(&'static str, String)>;

enum Expect {
    /// 200 from /api/auth/me with these fields. `perms`: the `permissions` object (None = not
    /// checked); `profiles`: `GET /api/profiles` as (id, level) (None = not checked).
    Me {
        user: String,
        role: &'static str,
        bypass: bool,
        perms: Option<Vec<(&'static str, &'static str)>>,
        profiles: Option<Vec<(&'static str, &'static str)>>,
    },
    /// An error answer; `msg` fragments must appear in the message.
    Err {
        status: u16,
        code: &'static str,
        msg: Vec<String>,
    },
}

struct Row {
    name: String,
    vars: Vars,
    peer: &'static str,
    host: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    expect: Expect,
}

fn v(pairs: &[(&'static str, &str)]) -> Vars {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn hs(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
}

fn me(user: &str, role: &'static str) -> Expect {
    Expect::Me {
        user: user.into(),
        role,
        bypass: false,
        perms: None,
        profiles: None,
    }
}

fn me_full(
    user: &str,
    role: &'static str,
    perms: &[(&'static str, &'static str)],
    profiles: &[(&'static str, &'static str)],
) -> Expect {
    Expect::Me {
        user: user.into(),
        role,
        bypass: false,
        perms: Some(perms.to_vec()),
        profiles: Some(profiles.to_vec()),
    }
}

fn bypass(user: &str) -> Expect {
    Expect::Me {
        user: user.into(),
        role: "admin",
        bypass: true,
        perms: None,
        profiles: Some(vec![("default", "admin")]),
    }
}

fn err(status: u16, code: &'static str) -> Expect {
    Expect::Err {
        status,
        code,
        msg: vec![],
    }
}

fn err_msg(status: u16, code: &'static str, msg: &[&str]) -> Expect {
    Expect::Err {
        status,
        code,
        msg: msg.iter().map(|s| s.to_string()).collect(),
    }
}

fn row(
    name: &str,
    vars: &Vars,
    peer: &'static str,
    host: Option<&str>,
    headers: Vec<(String, Vec<u8>)>,
    expect: Expect,
) -> Row {
    Row {
        name: name.into(),
        vars: vars.clone(),
        peer,
        host: host.map(str::to_owned),
        headers,
        expect,
    }
}

const RU: &str = "Remote-User";
const LAN_PEER: &str = "192.168.1.5";
const UNTRUSTED: &str = "203.0.113.9";

fn rows() -> Vec<Row> {
    let local = v(&[]);
    let tiny = v(&[("PYTORRENT_AUTH_PROVIDER", "tinyauth")]);
    let proxy = v(&[("PYTORRENT_AUTH_PROVIDER", "proxy")]);
    let proxy_lan = v(&[
        ("PYTORRENT_AUTH_PROVIDER", "proxy"),
        (
            "PYTORRENT_AUTH_TRUSTED_PROXIES",
            "127.0.0.0/8,172.16.0.0/24",
        ),
    ]);
    let tiny_narrow = v(&[
        ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
        ("PYTORRENT_AUTH_TRUSTED_PROXIES", "127.0.0.2/32"),
    ]);
    let proxy_xfu = v(&[
        ("PYTORRENT_AUTH_PROVIDER", "proxy"),
        ("PYTORRENT_AUTH_PROXY_USER_HEADER", "X-Forwarded-User"),
    ]);
    let by_port = v(&[("PYTORRENT_AUTH_BYPASS_HOSTS", "10.11.1.11:8090")]);
    let by_noport = v(&[("PYTORRENT_AUTH_BYPASS_HOSTS", "10.11.1.11")]);
    let by_name = v(&[("PYTORRENT_AUTH_BYPASS_HOSTS", "Nas.Lan:8090")]);
    let by_nets = v(&[
        ("PYTORRENT_AUTH_BYPASS_HOSTS", "10.11.1.11:8090"),
        ("PYTORRENT_AUTH_BYPASS_NETWORKS", "192.168.1.0/24"),
    ]);
    let by_user = v(&[
        ("PYTORRENT_AUTH_BYPASS_HOSTS", "10.11.1.11:8090"),
        ("PYTORRENT_AUTH_BYPASS_USER", "ops"),
    ]);
    let by_tiny = v(&[
        ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
        ("PYTORRENT_AUTH_BYPASS_HOSTS", "10.11.1.11:8090"),
    ]);
    let by_tiny_lan = v(&[
        ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
        ("PYTORRENT_AUTH_BYPASS_HOSTS", "10.11.1.11:8090"),
        ("PYTORRENT_AUTH_TRUSTED_PROXIES", "127.0.0.0/8,192.168.1.5"),
    ]);
    let off = v(&[("PYTORRENT_AUTH_ENABLE", "false")]);
    let off_tiny = v(&[
        ("PYTORRENT_AUTH_ENABLE", "false"),
        ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
    ]);
    let bh = Some("10.11.1.11:8090");

    let long128 = "u".repeat(128);
    let long129 = "u".repeat(129);

    let mut r = vec![
        // ---- local provider
        row(
            "local: nothing",
            &local,
            "127.0.0.1",
            None,
            vec![],
            err(401, "unauthorized"),
        ),
        row(
            "local: proxy header is ignored",
            &local,
            "127.0.0.1",
            None,
            hs(&[(RU, "admin")]),
            err(401, "unauthorized"),
        ),
        row(
            "local: session cookie",
            &local,
            "127.0.0.1",
            None,
            hs(&[("cookie", "pytorrent_session={SESSION}")]),
            me_full("alice", "user", &[("default", "ro")], &[("default", "ro")]),
        ),
        row(
            "local: forged cookie",
            &local,
            "127.0.0.1",
            None,
            hs(&[("cookie", &format!("pytorrent_session={}", "ab".repeat(32)))]),
            err(401, "unauthorized"),
        ),
        row(
            "local: bearer token",
            &local,
            UNTRUSTED,
            None,
            hs(&[("authorization", "Bearer {TOKEN}")]),
            me_full("alice", "user", &[("default", "ro")], &[("default", "ro")]),
        ),
        row(
            "local: X-API-Key token",
            &local,
            UNTRUSTED,
            None,
            hs(&[("x-api-key", "{TOKEN}")]),
            me("alice", "user"),
        ),
        row(
            "local: revoked bearer",
            &local,
            "127.0.0.1",
            None,
            hs(&[("authorization", "Bearer {REVOKED}")]),
            err(401, "unauthorized"),
        ),
        row(
            "local: revoked X-API-Key",
            &local,
            "127.0.0.1",
            None,
            hs(&[("x-api-key", "{REVOKED}")]),
            err(401, "unauthorized"),
        ),
        row(
            "local: unknown token",
            &local,
            "127.0.0.1",
            None,
            hs(&[("authorization", &format!("Bearer pt_{}", "0".repeat(64)))]),
            err(401, "unauthorized"),
        ),
        // ---- tinyauth, default trusted proxies (loopback + private)
        row(
            "tinyauth: no header",
            &tiny,
            "127.0.0.1",
            None,
            vec![],
            err(401, "unauthorized"),
        ),
        row(
            "tinyauth: empty header",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "")]),
            err(401, "unauthorized"),
        ),
        row(
            "tinyauth: blank header",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "   ")]),
            err(401, "unauthorized"),
        ),
        row(
            "tinyauth: passwordless user",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "ext")]),
            me_full("ext", "user", &[("*", "full")], &[("default", "full")]),
        ),
        row(
            "tinyauth: header value is trimmed",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "  ext ")]),
            me("ext", "user"),
        ),
        row(
            "tinyauth: a LAN peer is not a trusted proxy by default",
            &tiny,
            "10.0.0.3",
            None,
            hs(&[(RU, "ext")]),
            err_msg(
                401,
                "unauthorized",
                &["10.0.0.3", "PYTORRENT_AUTH_TRUSTED_PROXIES"],
            ),
        ),
        row(
            "tinyauth: local-password user presented by header",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "alice")]),
            me_full("alice", "user", &[("default", "ro")], &[("default", "ro")]),
        ),
        row(
            "tinyauth: admin by header",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "admin")]),
            me_full("admin", "admin", &[], &[("default", "admin")]),
        ),
        row(
            "tinyauth: unknown user, auto-create off",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "carol")]),
            err_msg(
                403,
                "unknown_user",
                &["carol", "PYTORRENT_AUTH_PROXY_AUTO_CREATE"],
            ),
        ),
        row(
            "tinyauth: valid user from an untrusted peer",
            &tiny,
            UNTRUSTED,
            None,
            hs(&[(RU, "ext")]),
            err(401, "unauthorized"),
        ),
        row(
            "tinyauth: underscore variant alongside",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "ext"), ("Remote_User", "admin")]),
            err(403, "header_rejected"),
        ),
        row(
            "tinyauth: underscore variant with the same value",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[("Remote_User", "ext"), (RU, "ext")]),
            err(403, "header_rejected"),
        ),
        row(
            "tinyauth: two Remote-User headers",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "ext"), (RU, "admin")]),
            err(403, "header_rejected"),
        ),
        row(
            "tinyauth: two identical Remote-User headers",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "ext"), (RU, "ext")]),
            err(403, "header_rejected"),
        ),
        row(
            "tinyauth: comma-joined values",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "ext, admin")]),
            err(403, "header_rejected"),
        ),
        row(
            "tinyauth: 129-byte value",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, &long129)]),
            err(403, "header_rejected"),
        ),
        row(
            "tinyauth: 128-byte value is a (unknown) name",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, &long128)]),
            err(403, "unknown_user"),
        ),
        row(
            "tinyauth: tab inside the value",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "ext\tadmin")]),
            err(403, "header_rejected"),
        ),
        row(
            "tinyauth: C1 control char (U+0085) inside the value",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[(RU, "ext\u{85}x")]),
            err(403, "header_rejected"),
        ),
        row(
            "tinyauth: non-UTF-8 value",
            &tiny,
            "127.0.0.1",
            None,
            vec![(RU.to_string(), b"ext\xff".to_vec())],
            err(403, "header_rejected"),
        ),
        row(
            "tinyauth: token from an untrusted peer still works",
            &tiny,
            UNTRUSTED,
            None,
            hs(&[("authorization", "Bearer {TOKEN}")]),
            me("alice", "user"),
        ),
        row(
            "tinyauth: X-API-Key beats the header",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[("x-api-key", "{TOKEN}"), (RU, "admin")]),
            me("alice", "user"),
        ),
        row(
            "tinyauth: revoked token",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[("authorization", "Bearer {REVOKED}")]),
            err(401, "unauthorized"),
        ),
        row(
            "tinyauth: a session cookie is not an external identity",
            &tiny,
            "127.0.0.1",
            None,
            hs(&[("cookie", "pytorrent_session={SESSION}")]),
            err(401, "unauthorized"),
        ),
        // ---- tinyauth with a narrow trusted-proxy list
        row(
            "tinyauth 127.0.0.2/32: peer 127.0.0.3 with a valid user",
            &tiny_narrow,
            "127.0.0.3",
            None,
            hs(&[(RU, "admin")]),
            err(401, "unauthorized"),
        ),
        row(
            "tinyauth 127.0.0.2/32: peer 127.0.0.2",
            &tiny_narrow,
            "127.0.0.2",
            None,
            hs(&[(RU, "ext")]),
            me("ext", "user"),
        ),
        row(
            "tinyauth 127.0.0.2/32: LAN peer",
            &tiny_narrow,
            LAN_PEER,
            None,
            hs(&[(RU, "ext")]),
            err(401, "unauthorized"),
        ),
        row(
            "tinyauth 127.0.0.2/32: token from 127.0.0.3",
            &tiny_narrow,
            "127.0.0.3",
            None,
            hs(&[("x-api-key", "{TOKEN}")]),
            me("alice", "user"),
        ),
        // ---- proxy provider
        row(
            "proxy: Remote-User from a listed LAN proxy",
            &proxy_lan,
            "172.16.0.9",
            None,
            hs(&[(RU, "ext")]),
            me("ext", "user"),
        ),
        row(
            "proxy: Remote-User from an unlisted LAN peer",
            &proxy,
            "172.16.0.9",
            None,
            hs(&[(RU, "ext")]),
            err_msg(
                401,
                "unauthorized",
                &["172.16.0.9", "PYTORRENT_AUTH_TRUSTED_PROXIES"],
            ),
        ),
        row(
            "proxy: bearer token",
            &proxy,
            UNTRUSTED,
            None,
            hs(&[("authorization", "Bearer {TOKEN}")]),
            me("alice", "user"),
        ),
        row(
            "proxy: X-API-Key token",
            &proxy,
            "127.0.0.1",
            None,
            hs(&[("x-api-key", "{TOKEN}")]),
            me("alice", "user"),
        ),
        row(
            "proxy: revoked X-API-Key",
            &proxy,
            "127.0.0.1",
            None,
            hs(&[("x-api-key", "{REVOKED}")]),
            err(401, "unauthorized"),
        ),
        // ---- proxy provider with a custom header name
        row(
            "proxy X-Forwarded-User: custom header",
            &proxy_xfu,
            "127.0.0.1",
            None,
            hs(&[("X-Forwarded-User", "ext")]),
            me("ext", "user"),
        ),
        row(
            "proxy X-Forwarded-User: Remote-User is not the configured header",
            &proxy_xfu,
            "127.0.0.1",
            None,
            hs(&[(RU, "ext")]),
            err(401, "unauthorized"),
        ),
        row(
            "proxy X-Forwarded-User: underscore variant alongside",
            &proxy_xfu,
            "127.0.0.1",
            None,
            hs(&[("X-Forwarded-User", "ext"), ("X_Forwarded_User", "admin")]),
            err(403, "header_rejected"),
        ),
        row(
            "proxy X-Forwarded-User: two values",
            &proxy_xfu,
            "127.0.0.1",
            None,
            hs(&[("X-Forwarded-User", "ext"), ("X-Forwarded-User", "admin")]),
            err(403, "header_rejected"),
        ),
        row(
            "proxy X-Forwarded-User: token",
            &proxy_xfu,
            UNTRUSTED,
            None,
            hs(&[("authorization", "Bearer {TOKEN}")]),
            me("alice", "user"),
        ),
        // ---- bypass by host:port
        row(
            "bypass host:port",
            &by_port,
            LAN_PEER,
            bh,
            vec![],
            bypass("admin"),
        ),
        row(
            "bypass host:port from loopback",
            &by_port,
            "127.0.0.1",
            bh,
            vec![],
            bypass("admin"),
        ),
        row(
            "bypass host:port, other port",
            &by_port,
            LAN_PEER,
            Some("10.11.1.11:8091"),
            vec![],
            err(401, "unauthorized"),
        ),
        row(
            "bypass host:port, Host without port",
            &by_port,
            LAN_PEER,
            Some("10.11.1.11"),
            vec![],
            err(401, "unauthorized"),
        ),
        row(
            "bypass host:port, only X-Forwarded-Host names it",
            &by_port,
            LAN_PEER,
            Some("pt.lan:8090"),
            hs(&[("x-forwarded-host", "10.11.1.11:8090")]),
            err(401, "unauthorized"),
        ),
        row(
            "bypass host:port, with X-Forwarded-For",
            &by_port,
            LAN_PEER,
            bh,
            hs(&[("x-forwarded-for", "192.168.1.77")]),
            err(401, "unauthorized"),
        ),
        row(
            "bypass host:port, with Forwarded",
            &by_port,
            LAN_PEER,
            bh,
            hs(&[("forwarded", "for=192.168.1.77;host=10.11.1.11:8090")]),
            err(401, "unauthorized"),
        ),
        row(
            "bypass host:port, public peer 8.8.8.8",
            &by_port,
            "8.8.8.8",
            bh,
            vec![],
            err(401, "unauthorized"),
        ),
        row(
            "bypass host:port, no Host header",
            &by_port,
            LAN_PEER,
            None,
            vec![],
            err(401, "unauthorized"),
        ),
        row(
            "bypass ignores a bogus token",
            &by_port,
            LAN_PEER,
            bh,
            hs(&[("authorization", "Bearer pt_bogus")]),
            bypass("admin"),
        ),
        // ---- bypass, port-less entry
        row(
            "bypass port-less entry, Host with a port",
            &by_noport,
            LAN_PEER,
            Some("10.11.1.11:1234"),
            vec![],
            bypass("admin"),
        ),
        row(
            "bypass port-less entry, Host without a port",
            &by_noport,
            LAN_PEER,
            Some("10.11.1.11"),
            vec![],
            bypass("admin"),
        ),
        row(
            "bypass port-less entry, other host",
            &by_noport,
            LAN_PEER,
            Some("10.11.1.12"),
            vec![],
            err(401, "unauthorized"),
        ),
        row(
            "bypass port-less entry, suffix trick",
            &by_noport,
            LAN_PEER,
            Some("10.11.1.11.evil.example"),
            vec![],
            err(421, "host_rejected"),
        ),
        // ---- bypass, names are case-insensitive
        row(
            "bypass name, upper-case Host",
            &by_name,
            LAN_PEER,
            Some("NAS.LAN:8090"),
            vec![],
            bypass("admin"),
        ),
        row(
            "bypass name, lower-case Host",
            &by_name,
            LAN_PEER,
            Some("nas.lan:8090"),
            vec![],
            bypass("admin"),
        ),
        // ---- bypass networks
        row(
            "bypass networks 192.168.1.0/24: inside",
            &by_nets,
            LAN_PEER,
            bh,
            vec![],
            bypass("admin"),
        ),
        row(
            "bypass networks 192.168.1.0/24: outside (10.0.0.9)",
            &by_nets,
            "10.0.0.9",
            bh,
            vec![],
            err(401, "unauthorized"),
        ),
        row(
            "bypass networks 192.168.1.0/24: loopback is outside",
            &by_nets,
            "127.0.0.1",
            bh,
            vec![],
            err(401, "unauthorized"),
        ),
        // ---- IPv6 and IPv4-mapped peers (what a dual-stack listener reports)
        row(
            "bypass [::1]:8090 from ::1",
            &v(&[("PYTORRENT_AUTH_BYPASS_HOSTS", "[::1]:8090")]),
            "::1",
            Some("[::1]:8090"),
            vec![],
            bypass("admin"),
        ),
        row(
            "bypass host:port from an IPv4-mapped LAN peer",
            &by_port,
            "::ffff:192.168.1.5",
            bh,
            vec![],
            bypass("admin"),
        ),
        row(
            "bypass host:port from an IPv4-mapped public peer",
            &by_port,
            "::ffff:8.8.8.8",
            bh,
            vec![],
            err(401, "unauthorized"),
        ),
        row(
            "tinyauth: IPv4-mapped loopback peer is trusted",
            &tiny,
            "::ffff:127.0.0.1",
            None,
            hs(&[(RU, "ext")]),
            me("ext", "user"),
        ),
        row(
            "tinyauth: IPv4-mapped public peer is not trusted",
            &tiny,
            "::ffff:203.0.113.9",
            None,
            hs(&[(RU, "ext")]),
            err(401, "unauthorized"),
        ),
        row(
            "tinyauth 127.0.0.2/32: IPv4-mapped 127.0.0.3",
            &tiny_narrow,
            "::ffff:127.0.0.3",
            None,
            hs(&[(RU, "ext")]),
            err(401, "unauthorized"),
        ),
        // ---- bypass user
        row(
            "bypass user ops",
            &by_user,
            LAN_PEER,
            bh,
            vec![],
            bypass("ops"),
        ),
        // ---- bypass with tinyauth: the header is never looked at
        row(
            "bypass + tinyauth: unknown header user ignored",
            &by_tiny,
            LAN_PEER,
            bh,
            hs(&[(RU, "ghost")]),
            bypass("admin"),
        ),
        row(
            "bypass + tinyauth: malformed header ignored",
            &by_tiny,
            LAN_PEER,
            bh,
            hs(&[(RU, "ext"), (RU, "alice"), ("Remote_User", "x")]),
            bypass("admin"),
        ),
        row(
            "bypass + tinyauth: not bypassed, header used",
            &by_tiny_lan,
            LAN_PEER,
            Some("pt.lan:8090"),
            hs(&[(RU, "ext")]),
            me("ext", "user"),
        ),
        // ---- auth disabled
        row(
            "auth off: anonymous public peer",
            &off,
            "8.8.8.8",
            None,
            vec![],
            bypass("admin"),
        ),
        row(
            "auth off: revoked token",
            &off,
            "8.8.8.8",
            None,
            hs(&[("authorization", "Bearer {REVOKED}")]),
            bypass("admin"),
        ),
        row(
            "auth off + tinyauth: untrusted peer, unknown header",
            &off_tiny,
            UNTRUSTED,
            None,
            hs(&[(RU, "ghost")]),
            bypass("admin"),
        ),
    ];

    // ---- auto-create: role × permission (tinyauth), each its own instance
    for (role, perm, perms, profiles) in [
        ("user", "none", vec![], vec![]),
        ("user", "ro", vec![("*", "ro")], vec![("default", "ro")]),
        ("user", "rw", vec![("*", "full")], vec![("default", "full")]),
        (
            "user",
            "full",
            vec![("*", "full")],
            vec![("default", "full")],
        ),
        ("admin", "none", vec![], vec![("default", "admin")]),
        ("admin", "ro", vec![], vec![("default", "admin")]),
        ("admin", "rw", vec![], vec![("default", "admin")]),
        ("admin", "full", vec![], vec![("default", "admin")]),
    ] {
        let vars = v(&[
            ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
            ("PYTORRENT_AUTH_PROXY_AUTO_CREATE", "true"),
            ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE", role),
            ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION", perm),
        ]);
        let role_s: &'static str = if role == "admin" { "admin" } else { "user" };
        let fresh = format!("new-{role}-{perm}");
        let expect_fresh = Expect::Me {
            user: fresh.clone(),
            role: role_s,
            bypass: false,
            // An admin needs no grants: what it sees is checked through /api/profiles.
            perms: (role == "user").then(|| perms.clone()),
            profiles: Some(profiles.clone()),
        };
        r.push(row(
            &format!("auto-create {role}/{perm}: new user"),
            &vars,
            "127.0.0.1",
            None,
            hs(&[(RU, &fresh)]),
            expect_fresh,
        ));
        // The passwordless `ext` (`*`=full) follows the variables.
        r.push(row(
            &format!("auto-create {role}/{perm}: passwordless user re-synced"),
            &vars,
            "127.0.0.1",
            None,
            hs(&[(RU, "ext")]),
            Expect::Me {
                user: "ext".into(),
                role: role_s,
                bypass: false,
                perms: (role == "user").then(|| perms.clone()),
                profiles: Some(profiles.clone()),
            },
        ));
        // `alice` has a local password: never changed by the header.
        r.push(row(
            &format!("auto-create {role}/{perm}: local-password user untouched"),
            &vars,
            "127.0.0.1",
            None,
            hs(&[(RU, "alice")]),
            me_full("alice", "user", &[("default", "ro")], &[("default", "ro")]),
        ));
        // Untrusted peers still cannot create anyone.
        r.push(row(
            &format!("auto-create {role}/{perm}: untrusted peer creates nobody"),
            &vars,
            UNTRUSTED,
            None,
            hs(&[(RU, "mallory")]),
            err(401, "unauthorized"),
        ));
        // Invalid names are not created either.
        r.push(row(
            &format!("auto-create {role}/{perm}: 129-byte name"),
            &vars,
            "127.0.0.1",
            None,
            hs(&[(RU, &long129)]),
            err(403, "header_rejected"),
        ));
    }
    r.push(row(
        "auto-create, proxy with X-Forwarded-User",
        &v(&[
            ("PYTORRENT_AUTH_PROVIDER", "proxy"),
            ("PYTORRENT_AUTH_PROXY_USER_HEADER", "X-Forwarded-User"),
            ("PYTORRENT_AUTH_PROXY_AUTO_CREATE", "true"),
        ]),
        "127.0.0.1",
        None,
        hs(&[("X-Forwarded-User", "newbie")]),
        me_full("newbie", "user", &[("*", "ro")], &[("default", "ro")]),
    ));
    r
}

/// Fixtures every instance gets; returns (live token, revoked token, session of alice).
fn fixtures(inst: &Inst) -> (String, String, String) {
    inst.user("alice", Some(PW), Role::User, &[("default", Level::Ro)]);
    inst.user("ext", None, Role::User, &[("*", Level::Full)]);
    let (_, live) = inst.token("alice");
    let (rid, revoked) = inst.token("alice");
    pytorrentd::auth::sessions::revoke_token(&inst.state.store, "alice", &rid).expect("revoke");
    let session = inst.session("alice");
    (live, revoked, session)
}

fn subst(v: &[u8], live: &str, revoked: &str, session: &str) -> Vec<u8> {
    String::from_utf8(v.to_vec())
        .map(|s| {
            s.replace(LIVE_TOKEN, live)
                .replace(REVOKED_TOKEN, revoked)
                .replace(SESSION, session)
                .into_bytes()
        })
        .unwrap_or_else(|_| v.to_vec())
}

/// Runs one row; returns a description of every mismatch.
async fn check(inst: &Inst, r: &Row, live: &str, revoked: &str, session: &str) -> Vec<String> {
    let headers: Vec<(String, Vec<u8>)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), subst(v, live, revoked, session)))
        .collect();
    let call = |path: &str| {
        let mut c = Call::get(path).peer(r.peer).headers(&headers);
        if r.host.is_some() {
            c = c.host(r.host.as_deref());
        }
        c
    };
    let mut bad = Vec::new();
    let resp = inst.send(call("/api/auth/me")).await;
    match &r.expect {
        Expect::Err { status, code, msg } => {
            if resp.status != *status || resp.code() != *code {
                bad.push(format!("expected {status} {code}, got {}", resp.brief()));
                return bad;
            }
            for m in msg {
                if !resp.message().contains(m.as_str()) {
                    bad.push(format!("message lacks '{m}': {}", resp.message()));
                }
            }
            if resp.status >= 400 && resp.message().trim().is_empty() {
                bad.push("error without a message".into());
            }
            // The same caller gets the same answer on a data endpoint.
            let p = inst.send(call("/api/profiles")).await;
            if p.status != *status {
                bad.push(format!(
                    "GET /api/profiles: expected {status}, got {}",
                    p.brief()
                ));
            }
        }
        Expect::Me {
            user,
            role,
            bypass,
            perms,
            profiles,
        } => {
            if resp.status != 200 {
                bad.push(format!("expected 200 as {user}, got {}", resp.brief()));
                return bad;
            }
            let j = &resp.json;
            let provider = r
                .vars
                .iter()
                .find(|(k, _)| *k == "PYTORRENT_AUTH_PROVIDER")
                .map(|(_, v)| v.as_str())
                .unwrap_or("local");
            let got = (
                j["username"].as_str().unwrap_or("?"),
                j["role"].as_str().unwrap_or("?"),
                j["bypass"].as_bool(),
                j["provider"].as_str().unwrap_or("?"),
            );
            let want = (user.as_str(), *role, Some(*bypass), provider);
            if got != want {
                bad.push(format!(
                    "(user, role, bypass, provider): expected {want:?}, got {got:?}"
                ));
            }
            if let Some(p) = perms {
                let got = me_permissions(j);
                if got != pairs(p) {
                    bad.push(format!("permissions: expected {p:?}, got {got:?}"));
                }
            }
            let pr = inst.send(call("/api/profiles")).await;
            if pr.status != 200 {
                bad.push(format!("GET /api/profiles: {}", pr.brief()));
            } else if let Some(p) = profiles {
                let got = profile_levels(&pr.json);
                if got != pairs(p) {
                    bad.push(format!("profiles: expected {p:?}, got {got:?}"));
                }
            }
            // Admin rights are real rights.
            let users = inst.send(call("/api/users")).await;
            let want_users = if *role == "admin" { 200 } else { 403 };
            if users.status != want_users {
                bad.push(format!(
                    "GET /api/users: expected {want_users}, got {}",
                    users.brief()
                ));
            }
        }
    }
    bad
}

/// Runs rows grouped by their variables (first-seen order), one instance per group, each on
/// its own runtime so nothing of one instance outlives its group; fails listing every
/// mismatching row.
fn run_rows(rows: Vec<Row>) {
    let mut groups: Vec<(Vars, Vec<&Row>)> = Vec::new();
    for r in &rows {
        match groups.iter_mut().find(|(v, _)| *v == r.vars) {
            Some((_, g)) => g.push(r),
            None => groups.push((r.vars.clone(), vec![r])),
        }
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (vars, group) in groups {
        phase(async {
            let vars_ref: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let inst = Inst::start(&vars_ref).await;
            let (live, revoked, session) = fixtures(&inst);
            for r in group {
                for m in check(&inst, r, &live, &revoked, &session).await {
                    failures.push(format!("[{}] {m}", r.name));
                }
                checked += 1;
            }
            // No graceful engine stop (it takes a second): the runtime's end drops it all.
            drop(inst);
        });
    }
    assert_eq!(checked, rows.len());
    assert!(
        failures.is_empty(),
        "{} of {} resolver rows failed:\n  {}",
        failures.len(),
        rows.len(),
        failures.join("\n  ")
    );
}

#[test]
fn resolver_table() {
    run_rows(rows());
}

/// The stricter header rules (docs/security.md) that go beyond the obvious cases: an underscore
/// variant of a multi-dash header name is any spelling with `_` for `-` (what CGI/WSGI
/// back-ends fold together, e.g. `X-Forwarded_User`), and "printable" excludes Unicode
/// format characters (bidi overrides, zero-width spaces) that would let the proxy's users
/// get look-alike accounts auto-created.
#[test]
fn resolver_strict_header_rules() {
    let proxy_xfu = v(&[
        ("PYTORRENT_AUTH_PROVIDER", "proxy"),
        ("PYTORRENT_AUTH_PROXY_USER_HEADER", "X-Forwarded-User"),
    ]);
    let ac_ro = v(&[
        ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
        ("PYTORRENT_AUTH_PROXY_AUTO_CREATE", "true"),
    ]);
    let mut r = Vec::new();
    for variant in ["X-Forwarded_User", "X_Forwarded-User"] {
        r.push(row(
            &format!("proxy X-Forwarded-User: partial underscore variant {variant} alongside"),
            &proxy_xfu,
            "127.0.0.1",
            None,
            hs(&[("X-Forwarded-User", "ext"), (variant, "admin")]),
            err(403, "header_rejected"),
        ));
    }
    for (what, name) in [
        ("bidi override U+202E", "eve\u{202e}nimda"),
        ("zero-width space U+200B", "ad\u{200b}min"),
    ] {
        r.push(row(
            &format!("auto-create: {what}"),
            &ac_ro,
            "127.0.0.1",
            None,
            hs(&[(RU, name)]),
            err(403, "header_rejected"),
        ));
    }
    run_rows(r);
}

/// Auto-create writes a real user record: role and grants as configured, no password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_created_user_is_stored_passwordless() {
    let inst = Inst::start(&[
        ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
        ("PYTORRENT_AUTH_PROXY_AUTO_CREATE", "true"),
        ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION", "rw"),
    ])
    .await;
    let store = &inst.state.store;
    assert!(
        pytorrentd::auth::users::get(store, "dora")
            .unwrap()
            .is_none()
    );
    inst.send(Call::get("/api/auth/me").header("Remote-User", "dora"))
        .await
        .assert_status("first request of dora", 200);
    let u = pytorrentd::auth::users::get(store, "dora")
        .unwrap()
        .expect("dora was created");
    assert_eq!(u.role, Role::User);
    assert!(u.password_hash.is_none(), "external users have no password");
    assert_eq!(
        u.permissions,
        BTreeMap::from([("*".to_string(), Level::Full)]),
        "rw is stored as full on every profile"
    );
    // No session is created: the next request without the header is anonymous.
    let r = inst
        .send(Call::get("/api/auth/me").header("Remote-User", "dora"))
        .await;
    assert!(
        r.set_cookie().is_none(),
        "header auth sets no cookie: {:?}",
        r.headers
    );
    inst.send(Call::get("/api/auth/me")).await.assert_error(
        "no header after a header login",
        401,
        "unauthorized",
    );
}

/// Restarting with other AUTO_CREATE_ROLE/PERMISSION: passwordless users follow at their next
/// request; a local-password user presented by the header keeps role, grants and password.
#[test]
fn resync_after_variables_change() {
    fn vars(role: &'static str, perm: &'static str) -> [(&'static str, &'static str); 4] {
        [
            ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
            ("PYTORRENT_AUTH_PROXY_AUTO_CREATE", "true"),
            ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE", role),
            ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION", perm),
        ]
    }
    type Seen = (String, Vec<(String, String)>, Vec<(String, String)>);
    async fn me_of(inst: &Inst, who: &str) -> Seen {
        let r = inst
            .send(Call::get("/api/auth/me").header("Remote-User", who))
            .await;
        r.assert_status(&format!("me as {who}"), 200);
        let p = inst
            .send(Call::get("/api/profiles").header("Remote-User", who))
            .await;
        p.assert_status(&format!("profiles as {who}"), 200);
        (
            r.json["role"].as_str().unwrap_or("?").to_owned(),
            me_permissions(&r.json),
            profile_levels(&p.json),
        )
    }

    let (mut dir, lena_before) = phase(async {
        let inst = Inst::start(&vars("user", "ro")).await;
        inst.user("lena", Some(PW), Role::User, &[("default", Level::Ro)]);
        let lena = pytorrentd::auth::users::get(&inst.state.store, "lena")
            .unwrap()
            .unwrap();
        assert_eq!(
            me_of(&inst, "rick").await,
            (
                "user".into(),
                pairs(&[("*", "ro")]),
                pairs(&[("default", "ro")])
            ),
            "rick created as user/ro"
        );
        (inst.stop().await, lena)
    });

    let steps: [(&str, &str, Seen); 4] = [
        (
            "admin",
            "none",
            ("admin".into(), vec![], pairs(&[("default", "admin")])),
        ),
        (
            "user",
            "full",
            (
                "user".into(),
                pairs(&[("*", "full")]),
                pairs(&[("default", "full")]),
            ),
        ),
        ("user", "none", ("user".into(), vec![], vec![])),
        (
            "user",
            "rw",
            (
                "user".into(),
                pairs(&[("*", "full")]),
                pairs(&[("default", "full")]),
            ),
        ),
    ];
    for (role, perm, want) in steps {
        let lena_before = lena_before.clone();
        dir = phase(async move {
            let inst = Inst::start_at(dir, &vars(role, perm)).await;
            let ctx = format!("after restart with {role}/{perm}");
            assert_eq!(
                me_of(&inst, "rick").await,
                want,
                "{ctx}: passwordless rick follows the variables"
            );
            assert_eq!(
                me_of(&inst, "lena").await,
                (
                    "user".into(),
                    pairs(&[("default", "ro")]),
                    pairs(&[("default", "ro")])
                ),
                "{ctx}: local-password lena is untouched"
            );
            let lena = pytorrentd::auth::users::get(&inst.state.store, "lena")
                .unwrap()
                .unwrap();
            assert_eq!(lena, lena_before, "{ctx}: lena's stored record changed");
            inst.stop().await
        });
    }
}

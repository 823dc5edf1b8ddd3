//! Security hardening (docs/security.md), in process over the real app, engine and store: the
//! Host check against DNS rebinding, the URL fetch guard (counted at a local HTTP server), no
//! clobbering of existing files or writes through symlinks, no hidden profile in answers,
//! private files under `DATA_DIR`, the trusted-proxy warning and a safe `X-Forwarded-Prefix`.
//! The real-binary parts (login cost, feed session identity, long `DATA_DIR`) are in
//! `tests/it/security.rs`.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pytorrentd::access::{Level, Role};
use serde_json::json;

use crate::common::{Call, Inst, PW, poll};
use crate::util::{Payload, RqSeeder, tempdir};

// ---------------------------------------------------------------------------------------------
// Host check
// ---------------------------------------------------------------------------------------------

/// One request of the Host table: the `Host` value(s) sent (none = no header), the expected
/// status and error code ("" = success).
struct HostRow {
    name: &'static str,
    vars: Vec<(&'static str, &'static str)>,
    hosts: Vec<&'static str>,
    path: &'static str,
    expect: (u16, &'static str),
}

fn host_row(
    name: &'static str,
    vars: &[(&'static str, &'static str)],
    hosts: &[&'static str],
    expect: (u16, &'static str),
) -> HostRow {
    HostRow {
        name,
        vars: vars.to_vec(),
        hosts: hosts.to_vec(),
        path: "/api/auth/me",
        expect,
    }
}

const OK: (u16, &str) = (200, "");
const REJECTED: (u16, &str) = (421, "host_rejected");

fn host_rows() -> Vec<HostRow> {
    // Auth off: every request that passes the Host check is answered 200 by /api/auth/me.
    let off = [("PYTORRENT_AUTH_ENABLE", "false")];
    let named = [
        ("PYTORRENT_AUTH_ENABLE", "false"),
        ("PYTORRENT_ALLOWED_HOSTS", "nas.example,Media.Lan."),
    ];
    let by_origin = [
        ("PYTORRENT_AUTH_ENABLE", "false"),
        (
            "PYTORRENT_API_ALLOWED_ORIGINS",
            "https://torrents.example.com",
        ),
        (
            "PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS",
            "https://feed.example.com:8443",
        ),
    ];
    let by_bypass = [
        ("PYTORRENT_AUTH_ENABLE", "false"),
        ("PYTORRENT_AUTH_BYPASS_HOSTS", "nas.lan:8090"),
    ];
    let star = [
        ("PYTORRENT_AUTH_ENABLE", "false"),
        ("PYTORRENT_ALLOWED_HOSTS", "*"),
    ];
    let mut rows = vec![
        host_row("IPv4 literal with port", &off, &["127.0.0.1:8090"], OK),
        host_row("IPv4 literal without port", &off, &["192.168.1.20"], OK),
        host_row("IPv6 literal with port", &off, &["[::1]:8090"], OK),
        host_row("IPv6 literal without port", &off, &["[2001:db8::7]"], OK),
        host_row(
            "IPv4-mapped IPv6 literal",
            &off,
            &["[::ffff:10.0.0.1]:80"],
            OK,
        ),
        host_row("localhost", &off, &["localhost:8090"], OK),
        host_row("localhost upper case", &off, &["LOCALHOST"], OK),
        host_row(
            "localhost with trailing dot",
            &off,
            &["localhost.:8090"],
            OK,
        ),
        host_row(
            "a subdomain of localhost",
            &off,
            &["evil.localhost"],
            REJECTED,
        ),
        host_row("an unknown name", &off, &["evil.test:8090"], REJECTED),
        host_row("decimal IPv4 is a name", &off, &["2130706433"], REJECTED),
        host_row("short IPv4 is a name", &off, &["127.1"], REJECTED),
        host_row("empty Host", &off, &[""], REJECTED),
        host_row("no Host at all", &off, &[], REJECTED),
        host_row("garbage", &off, &["a b/c"], REJECTED),
        host_row("bad port", &off, &["127.0.0.1:99999"], REJECTED),
        host_row(
            "two Host headers",
            &off,
            &["127.0.0.1", "evil.test"],
            (400, "duplicate_host"),
        ),
        host_row(
            "two equal Host headers",
            &off,
            &["127.0.0.1", "127.0.0.1"],
            (400, "duplicate_host"),
        ),
        host_row("allowed name", &named, &["nas.example:8090"], OK),
        host_row("allowed name, other case", &named, &["NAS.Example"], OK),
        host_row("allowed name, trailing dot", &named, &["nas.example."], OK),
        host_row(
            "allowed name listed with a dot and capitals",
            &named,
            &["media.lan"],
            OK,
        ),
        host_row("suffix trick", &named, &["nas.example.evil.test"], REJECTED),
        host_row("prefix trick", &named, &["evil.nas.example"], REJECTED),
        host_row("near miss", &named, &["nas.exampl"], REJECTED),
        host_row(
            "host of an allowed API origin",
            &by_origin,
            &["torrents.example.com"],
            OK,
        ),
        host_row(
            "host of an allowed Socket.IO origin",
            &by_origin,
            &["feed.example.com:8443"],
            OK,
        ),
        host_row(
            "origin host suffix trick",
            &by_origin,
            &["torrents.example.com.evil.test"],
            REJECTED,
        ),
        host_row(
            "host part of a bypass entry",
            &by_bypass,
            &["nas.lan:9999"],
            OK,
        ),
        host_row("check turned off", &star, &["anything.evil.test"], OK),
        host_row(
            "check off, still one Host",
            &star,
            &["a", "b"],
            (400, "duplicate_host"),
        ),
    ];
    rows.push(HostRow {
        name: "the health probe answers any name",
        vars: off.to_vec(),
        hosts: vec!["evil.test"],
        path: "/api/health",
        expect: OK,
    });
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_check_table() {
    let mut failures = Vec::new();
    let mut current: Option<(Vec<(&str, &str)>, Inst)> = None;
    for row in host_rows() {
        if current.as_ref().is_none_or(|(v, _)| *v != row.vars) {
            if let Some((_, inst)) = current.take() {
                inst.stop().await;
            }
            current = Some((row.vars.clone(), Inst::start(&row.vars).await));
        }
        let inst = &current.as_ref().expect("instance").1;
        let mut call = Call::get(row.path).host(None);
        for h in &row.hosts {
            call = call.header("host", h);
        }
        let r = inst.send(call).await;
        let got = (r.status, r.code());
        if got != row.expect {
            failures.push(format!(
                "[{}] expected {:?}, got {}",
                row.name,
                row.expect,
                r.brief()
            ));
        } else if row.expect == REJECTED && !r.message().contains("PYTORRENT_ALLOWED_HOSTS") {
            failures.push(format!(
                "[{}] message must name the variable: {}",
                row.name,
                r.brief()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// The rebinding attack of the report: a page on `evil.test` (resolving to this machine)
/// posting to the API with its own origin. Refused with auth off, with a session cookie and
/// with a proxy header user; nothing is created. Pages and the Socket.IO handshake too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_rebinding_is_refused_everywhere() {
    let dir = tempdir("rebind");
    let attack = |c: Call| {
        c.host(Some("evil.test:8090"))
            .header("origin", "http://evil.test:8090")
    };
    let create = json!({"id": "pwned", "name": "pwned", "download_dir": dir.path()});

    for (label, vars) in [
        ("auth disabled", vec![("PYTORRENT_AUTH_ENABLE", "false")]),
        ("local provider", vec![]),
        ("tinyauth", vec![("PYTORRENT_AUTH_PROVIDER", "tinyauth")]),
    ] {
        let inst = Inst::start(&vars).await;
        inst.set_admin_password();
        let who = |c: Call| match label {
            "local provider" => c.cookie(&inst.session("admin")),
            "tinyauth" => c.header("remote-user", "admin"),
            _ => c,
        };
        let r = inst
            .send(attack(who(Call::post("/api/profiles").json(&create))))
            .await;
        r.assert_error(&format!("{label}: rebound POST"), 421, "host_rejected");
        let r = inst
            .send(attack(who(Call::get(
                "/socket.io/?EIO=4&transport=polling",
            ))))
            .await;
        r.assert_error(
            &format!("{label}: rebound Socket.IO handshake"),
            421,
            "host_rejected",
        );
        let page = inst
            .send(attack(who(Call::get("/").header("accept", "text/html"))))
            .await;
        assert_eq!(
            page.status,
            421,
            "{label}: rebound page load: {}",
            page.brief()
        );
        assert!(
            page.header("content-type")
                .is_some_and(|c| c.starts_with("text/html"))
                && page.text().contains("PYTORRENT_ALLOWED_HOSTS"),
            "{label}: a page load gets an explaining page: {}",
            page.text()
        );
        // The explaining page's stylesheet (no data in it) is served to any name.
        let css = inst
            .send(Call::get("/page.css").host(Some("evil.test:8090")))
            .await;
        assert_eq!(css.status, 200, "{label}: page.css: {}", css.brief());
        // The same request by an accepted name still works, so the refusal was the Host's.
        let ok = inst
            .send(
                who(Call::get("/api/profiles"))
                    .host(Some("127.0.0.1:8090"))
                    .header("origin", "http://127.0.0.1:8090"),
            )
            .await;
        ok.assert_status(&format!("{label}: by IP"), 200);
        assert!(
            !ok.text().contains("pwned"),
            "{label}: the rebound request created a profile: {}",
            ok.text()
        );
        inst.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// URL fetches
// ---------------------------------------------------------------------------------------------

/// A local HTTP server that counts every request it receives and answers by path:
/// `/torrent` the given bytes, `/forbidden` 403, `/redirect` 302 to `redirect_to`.
struct Target {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Target {
    async fn start(ip: &str, torrent: Vec<u8>, redirect_to: Option<String>) -> Target {
        let ip: IpAddr = ip.parse().expect("ip");
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let torrent = Arc::new(torrent);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let counter = counter.clone();
                let torrent = torrent.clone();
                let redirect_to = redirect_to.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut req = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let line = String::from_utf8_lossy(&req).into_owned();
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let (head, body): (String, Vec<u8>) = match path.as_str() {
                        "/torrent" => ("200 OK".into(), torrent.to_vec()),
                        "/redirect" => (
                            format!(
                                "302 Found\r\nlocation: {}",
                                redirect_to.as_deref().unwrap_or("/")
                            ),
                            Vec::new(),
                        ),
                        "/forbidden" => ("403 Forbidden".into(), b"no".to_vec()),
                        _ => ("404 Not Found".into(), b"none".to_vec()),
                    };
                    let msg = format!(
                        "HTTP/1.1 {head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(msg.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Target { addr, hits, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port on `ip` where nothing listens.
fn closed_port(ip: &str) -> u16 {
    let l = std::net::TcpListener::bind((ip, 0)).expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

/// Adds by URL as `user` (cookie) into `default`.
async fn add_url_as(inst: &Inst, cookie: &str, url: &str) -> crate::common::Resp {
    inst.send(
        Call::post("/api/profiles/default/torrents")
            .cookie(cookie)
            .json(&json!({"url": url, "paused": true})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_fetches_of_non_admins_cannot_reach_private_addresses() {
    let src = tempdir("ssrf-src");
    let p = Payload::single(src.path(), "ssrf.bin", 20_000, &[], 16_384).await;
    // 127.0.0.1 stands for the daemon's own host; 127.0.0.2 for a public web server (listed
    // in PYTORRENT_FETCH_ALLOWED_NETWORKS so that loopback can play the Internet).
    let victim = Target::start("127.0.0.1", p.torrent.clone(), None).await;
    let public = Target::start("127.0.0.2", p.torrent.clone(), Some(victim.url("/torrent"))).await;
    let inst = Inst::start(&[("PYTORRENT_FETCH_ALLOWED_NETWORKS", "127.0.0.2/32")]).await;
    inst.set_admin_password();
    inst.user("u", Some(PW), Role::User, &[("default", Level::Full)]);
    let user = inst.session("u");
    let admin = inst.session("admin");
    let port = victim.addr.port();

    let refused = [
        format!("http://127.0.0.1:{port}/torrent"),
        format!("http://localhost:{port}/torrent"),
        format!("http://2130706433:{port}/torrent"),
        format!("http://0x7f.1:{port}/torrent"),
        format!("http://[::ffff:127.0.0.1]:{port}/torrent"),
        format!("http://[::1]:{port}/torrent"),
        public.url("/redirect"),
    ];
    let mut messages = Vec::new();
    for url in &refused {
        let r = add_url_as(&inst, &user, url).await;
        r.assert_error(&format!("user fetch of {url}"), 400, "fetch_failed");
        messages.push(r.message().to_owned());
    }
    assert_eq!(
        victim.hits(),
        0,
        "a refused fetch reached the private server"
    );
    assert_eq!(public.hits(), 1, "the redirecting server was asked once");

    // No oracle: an HTTP error, a closed port and a refused address read the same.
    let closed = format!("http://127.0.0.2:{}/torrent", closed_port("127.0.0.2"));
    for url in [public.url("/forbidden"), public.url("/missing"), closed] {
        let r = add_url_as(&inst, &user, &url).await;
        r.assert_error(&format!("user fetch of {url}"), 400, "fetch_failed");
        messages.push(r.message().to_owned());
    }
    messages.dedup();
    assert_eq!(
        messages.len(),
        1,
        "guarded fetch errors differ: {messages:?}"
    );
    assert!(
        !messages[0].contains("403") && !messages[0].contains("refused"),
        "the generic message leaks a detail: {}",
        messages[0]
    );

    // An allowed (public) address works for the user.
    let r = add_url_as(&inst, &user, &public.url("/torrent")).await;
    r.assert_status("user fetch from an allowed address", 201);
    let h = r.json["added"][0]["hash"].as_str().unwrap_or("").to_owned();
    assert_eq!(h, p.hash);
    inst.send(Call::delete(&format!("/api/torrents/{h}")).cookie(&admin))
        .await
        .assert_status("remove it again", 204);

    // Administrators fetch anything, and see why a fetch failed (still a 4xx).
    let r = add_url_as(&inst, &admin, &format!("http://127.0.0.1:{port}/torrent")).await;
    r.assert_status("admin fetch from loopback", 201);
    assert_eq!(victim.hits(), 1);
    let r = add_url_as(&inst, &admin, &public.url("/forbidden")).await;
    r.assert_error("admin fetch of a 403", 400, "fetch_failed");
    assert!(r.message().contains("403"), "{}", r.brief());
    inst.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Files on disk
// ---------------------------------------------------------------------------------------------

fn add_upload(cookie: &str, torrent: &[u8], fields: &[(&str, &str)]) -> Call {
    let mut all = vec![("paused", "true")];
    all.extend_from_slice(fields);
    Call::post("/api/profiles/default/torrents")
        .cookie(cookie)
        .multipart(&[("t.torrent", torrent)], &all)
}

async fn torrent_count(inst: &Inst, admin: &str) -> usize {
    let r = inst
        .send(Call::get("/api/profiles/default/torrents").cookie(admin))
        .await;
    r.json.as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_never_clobber_existing_files_or_write_through_links() {
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    inst.user("u", Some(PW), Role::User, &[("default", Level::Full)]);
    let user = inst.session("u");
    let admin = inst.session("admin");
    let dl = inst.state.config.download_dir.clone();
    let outside = tempdir("outside");
    let src = tempdir("clobber-src");

    // A file of the user's that belongs to no torrent, and a torrent naming it with length 1.
    let victim = random(100_000);
    std::fs::write(dl.join("victim.txt"), &victim).unwrap();
    let t = Payload::single(&src.path().join("a"), "victim.txt", 1, &[], 16_384).await;
    let r = inst.send(add_upload(&user, &t.torrent, &[])).await;
    r.assert_error("torrent over a larger existing file", 409, "file_conflict");
    assert!(r.message().contains("victim.txt"), "{}", r.brief());

    // A symlink in the profile folder pointing at a file outside.
    let secret = random(5_000);
    std::fs::write(outside.path().join("secret.txt"), &secret).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), dl.join("link")).unwrap();
    let t = Payload::single(&src.path().join("b"), "link", 1, &[], 16_384).await;
    let r = inst.send(add_upload(&user, &t.torrent, &[])).await;
    r.assert_error("torrent named like a symlink", 400, "path_escapes_profile");

    // A subdir that is a symlink to a folder outside.
    std::os::unix::fs::symlink(outside.path(), dl.join("sub")).unwrap();
    let t = Payload::single(&src.path().join("c"), "new.bin", 10, &[], 16_384).await;
    let r = inst
        .send(add_upload(&user, &t.torrent, &[("subdir", "sub")]))
        .await;
    r.assert_error("subdir through a symlink", 400, "path_escapes_profile");
    let r = inst
        .send(add_upload(&user, &t.torrent, &[("subdir", "sub/deeper")]))
        .await;
    r.assert_error("subdir below a symlink", 400, "path_escapes_profile");

    assert_eq!(
        torrent_count(&inst, &admin).await,
        0,
        "a refused add stored something"
    );
    assert_eq!(std::fs::read(dl.join("victim.txt")).unwrap(), victim);
    assert_eq!(
        std::fs::read(outside.path().join("secret.txt")).unwrap(),
        secret
    );
    let outside_entries: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        outside_entries,
        vec![std::ffi::OsString::from("secret.txt")]
    );

    // Pre-placed complete data of the right size is verified and seeded, not refused.
    let pre = Payload::multi(
        &src.path().join("d"),
        "preplaced",
        &[("one.bin", 40_000), ("dir/two.bin", 30_000)],
        &[],
        16_384,
    )
    .await;
    pre.copy_into(&dl);
    let r = inst
        .send(add_upload(&user, &pre.torrent, &[("paused", "false")]))
        .await;
    r.assert_status("pre-placed data", 201);
    poll(
        Duration::from_secs(30),
        "pre-placed data verified",
        async || {
            let r = inst
                .send(Call::get(&format!("/api/torrents/{}", pre.hash)).cookie(&admin))
                .await;
            (r.json["progress"].as_f64() == Some(1.0)).then_some(())
        },
    )
    .await;
    pre.assert_in(&dl, None);
    inst.stop().await;
}

/// A magnet learns its files only from peers: a conflict then keeps it waiting with the
/// reason shown, and the existing file stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_metadata_that_would_clobber_is_held() {
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    let admin = inst.session("admin");
    let dl = inst.state.config.download_dir.clone();
    let src = tempdir("magnet-clobber");
    let p = Payload::single(src.path(), "precious.txt", 2_000, &[], 16_384).await;
    let seeder = RqSeeder::start(&[&p], None).await;
    let precious = random(50_000);
    std::fs::write(dl.join("precious.txt"), &precious).unwrap();
    let r = inst
        .send(
            Call::post("/api/profiles/default/torrents")
                .cookie(&admin)
                .json(&json!({"magnet": p.magnet(&[seeder.addr], &[])})),
        )
        .await;
    r.assert_status("magnet add", 201);
    let row = poll(
        Duration::from_secs(30),
        "the conflict reported on the row",
        async || {
            let r = inst
                .send(Call::get(&format!("/api/torrents/{}", p.hash)).cookie(&admin))
                .await;
            r.json["error"]
                .as_str()
                .filter(|e| e.contains("precious.txt"))
                .map(|_| r.json.clone())
        },
    )
    .await;
    assert_ne!(row["progress"].as_f64(), Some(1.0), "{row}");
    assert_eq!(std::fs::read(dl.join("precious.txt")).unwrap(), precious);
    drop(seeder);
    inst.stop().await;
}

fn random(n: usize) -> Vec<u8> {
    crate::util::random_bytes(n)
}

// ---------------------------------------------------------------------------------------------
// Leaks, file modes, warnings, prefix
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_never_name_a_hidden_profile() {
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    let admin = inst.session("admin");
    let p2dir = tempdir("hidden-p2");
    inst.send(
        Call::post("/api/profiles")
            .cookie(&admin)
            .json(&json!({"id": "p2", "name": "Secret", "download_dir": p2dir.path()})),
    )
    .await
    .assert_status("create p2", 201);
    inst.user("u", Some(PW), Role::User, &[("default", Level::Full)]);
    inst.user(
        "v",
        Some(PW),
        Role::User,
        &[("default", Level::Full), ("p2", Level::Ro)],
    );
    let src = tempdir("dup-src");
    let t = Payload::single(src.path(), "dup.bin", 1_000, &[], 16_384).await;
    inst.send(
        Call::post("/api/profiles/p2/torrents")
            .cookie(&admin)
            .multipart(&[("t.torrent", &t.torrent)], &[("paused", "true")]),
    )
    .await
    .assert_status("admin adds to p2", 201);

    for (magnet, label) in [(false, "upload"), (true, "magnet")] {
        let call = |c: Call| {
            if magnet {
                c.json(&json!({"magnet": format!("magnet:?xt=urn:btih:{}", t.hash)}))
            } else {
                c.multipart(&[("t.torrent", &t.torrent)], &[("paused", "true")])
            }
        };
        let r = inst
            .send(call(
                Call::post("/api/profiles/default/torrents").cookie(&inst.session("u")),
            ))
            .await;
        r.assert_error(&format!("{label} by u"), 409, "duplicate_torrent");
        assert!(
            !r.text().contains("p2") && !r.text().contains("Secret"),
            "{label}: the answer names a profile u cannot see: {}",
            r.text()
        );
        // Someone who can see p2 is told where it is.
        let r = inst
            .send(call(
                Call::post("/api/profiles/default/torrents").cookie(&inst.session("v")),
            ))
            .await;
        r.assert_error(&format!("{label} by v"), 409, "duplicate_torrent");
        assert!(r.message().contains("p2"), "{}", r.brief());
    }
    inst.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_files_are_private_whatever_the_directory_mode() {
    let dir = tempdir("modes");
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("engine")).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("engine"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data.join("engine/dht.json"), b"x").unwrap();
    std::fs::set_permissions(
        data.join("engine/dht.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let inst = Inst::start_at(dir, &[]).await;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{p:?}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    let data = inst.state.config.data_dir.clone();
    assert_eq!(mode(&data.join("pytorrentd.redb")), 0o600, "database file");
    // The engine rewrites its own files with the process umask (write, then rename): they
    // are protected by their directory, which nobody else may enter; files found at start
    // are made private too.
    assert_eq!(mode(&data.join("engine")), 0o700, "engine directory");
    assert_eq!(
        mode(&data.join("engine/dht.json")),
        0o600,
        "a file found at start"
    );
    inst.stop().await;
}

#[test]
fn wide_trusted_proxy_ranges_warn_when_header_auth_is_on() {
    use pytorrentd::config::Config;
    let warnings = |vars: &[(&str, &str)]| {
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let (cfg, _) = Config::from_vars(vars, &Default::default()).expect("config");
        cfg.risk_warnings()
    };
    let wide = |w: &[String]| w.iter().filter(|l| l.contains("wider than")).count();
    let w = warnings(&[
        ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
        (
            "PYTORRENT_AUTH_TRUSTED_PROXIES",
            "192.168.0.0/16,10.1.2.0/24,fd00::/48,fd00:1::/64",
        ),
    ]);
    assert_eq!(wide(&w), 2, "{w:?}");
    assert!(w.iter().any(|l| l.contains("192.168.0.0/16")), "{w:?}");
    assert!(w.iter().any(|l| l.contains("fd00::/48")), "{w:?}");
    let w = warnings(&[("PYTORRENT_AUTH_TRUSTED_PROXIES", "192.168.0.0/16")]);
    assert_eq!(wide(&w), 0, "local logins do not read the header: {w:?}");
    let w = warnings(&[("PYTORRENT_AUTH_PROVIDER", "proxy")]);
    assert!(w.is_empty(), "the default is quiet: {w:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_prefix_cannot_make_an_open_redirect() {
    let inst = Inst::start(&[("PYTORRENT_PROXY_FIX_ENABLE", "true")]).await;
    for (prefix, location) in [
        ("/\\evil.test", "/login"),
        ("//evil.test", "/login"),
        ("/a/../..", "/login"),
        ("/tor rents", "/login"),
        ("/ok/../x", "/login"),
        ("https://evil.test", "/login"),
        ("/torrents", "/torrents/login"),
        ("/my_app-1.2/ui/", "/my_app-1.2/ui/login"),
    ] {
        let r = inst
            .send(Call::get("/logout").header("x-forwarded-prefix", prefix))
            .await;
        assert_eq!(
            (r.status, r.header("location")),
            (302, Some(location)),
            "X-Forwarded-Prefix: {prefix}"
        );
    }
    inst.stop().await;
}

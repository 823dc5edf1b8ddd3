//! End to end behind a real nginx with the pyTorrent Tinyauth vhost (the shape the README
//! shows): `auth_request` to a forward-auth service, `Remote-User` from its answer, 302 to
//! the login page on 401. The forward-auth service is a stand-in for Tinyauth's
//! `/api/auth/nginx` running in the test: cookie `tinyauth-session=valid-NAME` → 200 with
//! `Remote-User: NAME`, anything else → 401 with `x-tinyauth-location`.
//!
//! The daemon listens on 127.0.0.1 and trusts only 127.0.0.2 (nginx's `proxy_bind`), so a
//! direct request from any other loopback address cannot speak for a user. Proxy-fix is on,
//! as the reference recommends behind a reverse proxy: nginx sends `Host: $host` (no port),
//! so the browser's Origin only matches the application origin rebuilt from
//! `X-Forwarded-Proto/Host`.

use std::fs::{self, File};
use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::cli::{Input, run_cli};
use crate::util::*;

// ---------------------------------------------------------------------------------------------
// the Tinyauth stand-in
// ---------------------------------------------------------------------------------------------

const LOGIN_URL: &str = "http://auth.example.test/login";

/// What the stand-in saw of one auth subrequest.
#[derive(Debug, Clone)]
struct Seen {
    cookie: String,
    forwarded_uri: String,
    forwarded_host: String,
    forwarded_proto: String,
}

struct Standin {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

fn hdr(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn tinyauth_nginx(State(seen): State<Arc<Mutex<Vec<Seen>>>>, h: HeaderMap) -> Response {
    let cookie = hdr(&h, "cookie");
    seen.lock().unwrap().push(Seen {
        cookie: cookie.clone(),
        forwarded_uri: hdr(&h, "x-forwarded-uri"),
        forwarded_host: hdr(&h, "x-forwarded-host"),
        forwarded_proto: hdr(&h, "x-forwarded-proto"),
    });
    let user = cookie
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == "tinyauth-session")
        .and_then(|(_, v)| v.strip_prefix("valid-"))
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    match user {
        Some(u) => (StatusCode::OK, [("remote-user", u)], "").into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            [("x-tinyauth-location", LOGIN_URL.to_string())],
            "",
        )
            .into_response(),
    }
}

impl Standin {
    async fn start() -> Standin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/api/auth/nginx", axum::routing::any(tinyauth_nginx))
            .with_state(seen.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Standin { port, seen, task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// nginx
// ---------------------------------------------------------------------------------------------

struct Nginx {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The pyTorrent vhost from the reference, adapted: upstreams on loopback, `proxy_bind` so
/// the daemon sees the proxy as 127.0.0.2, forwarded headers and WebSocket upgrade.
fn nginx_conf(dir: &Path, port: u16, daemon_port: u16, standin_port: u16) -> String {
    let d = dir.display();
    // As root a worker would switch to `nobody`, which cannot enter the 0700 temp dir.
    let user = if running_as_root() { "user root;" } else { "" };
    format!(
        r#"{user}
daemon off;
master_process off;
worker_processes 1;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 128; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/client_body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    server {{
        listen 127.0.0.1:{port};
        server_name _;

        location / {{
            proxy_pass http://127.0.0.1:{daemon_port};
            auth_request /tinyauth;
            error_page 401 = @tinyauth_login;
            auth_request_set $redirection_url $upstream_http_x_tinyauth_location;
            auth_request_set $auth_user $upstream_http_remote_user;
            proxy_set_header Remote-User $auth_user;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_bind 127.0.0.2;
        }}

        location = /tinyauth {{
            internal;
            proxy_pass http://127.0.0.1:{standin_port}/api/auth/nginx;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header x-forwarded-proto $scheme;
            proxy_set_header x-forwarded-host $http_host;
            proxy_set_header x-forwarded-uri $request_uri;
        }}

        location @tinyauth_login {{
            return 302 http://auth.example.test/login?redirect_uri=$scheme://$http_host$request_uri;
        }}
    }}
}}
"#
    )
}

impl Nginx {
    async fn start(root: &Path, daemon_port: u16, standin_port: u16) -> Nginx {
        let bin = require_tool("nginx", "nginx");
        let dir = root.join("nginx");
        fs::create_dir_all(dir.join("tmp")).unwrap();
        let port = free_port();
        let conf = dir.join("nginx.conf");
        fs::write(&conf, nginx_conf(&dir, port, daemon_port, standin_port)).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            // Startup errors before the config is read go here, not to /var/log/nginx.
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(File::create(dir.join("stdout.log")).unwrap())
            .stderr(File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .expect("spawn nginx");
        let mut n = Nginx {
            port,
            dir,
            child: Some(child),
        };
        wait_for(15, "nginx to listen", async || {
            if let Some(st) = n.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("nginx exited at startup with {st}\n{}", n.logs());
            }
            TcpStream::connect(("127.0.0.1", port))
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await;
        n
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The origin a browser on this vhost sends.
    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn logs(&self) -> String {
        let read = |f: &str| fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!(
            "--- nginx stderr ---\n{}\n--- nginx error.log ---\n{}\n--- nginx access.log ---\n{}",
            read("stderr.log"),
            read("error.log"),
            read("access.log")
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("===== nginx =====\n{}", self.logs());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the stack
// ---------------------------------------------------------------------------------------------

/// Daemon (tinyauth provider, auto-create role user / rw, trusting only 127.0.0.2), the
/// forward-auth stand-in and nginx in front of both. Field order = drop order: nginx first.
struct Stack {
    nginx: Nginx,
    standin: Standin,
    daemon: Daemon,
    /// No redirects followed: 302s are what we check.
    client: reqwest::Client,
    _tmp: tempfile::TempDir,
}

impl Stack {
    async fn start(tag: &str) -> Stack {
        let tmp = tempdir(&format!("auth-nginx-{tag}"));
        let daemon = Daemon::start_with_env(
            tmp.path(),
            &[
                ("PYTORRENT_AUTH_ENABLE", "true"),
                ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
                ("PYTORRENT_AUTH_PROXY_USER_HEADER", "Remote-User"),
                ("PYTORRENT_AUTH_PROXY_AUTO_CREATE", "true"),
                ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE", "user"),
                ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION", "rw"),
                ("PYTORRENT_AUTH_TRUSTED_PROXIES", "127.0.0.2/32"),
                ("PYTORRENT_PROXY_FIX_ENABLE", "true"),
                ("PYTORRENT_HOST", "127.0.0.1"),
            ],
        )
        .await;
        let standin = Standin::start().await;
        let nginx = Nginx::start(tmp.path(), daemon.port, standin.port).await;
        Stack {
            nginx,
            standin,
            daemon,
            client: no_redirect_client(None),
            _tmp: tmp,
        }
    }

    /// A request through nginx; `cookie` is the Tinyauth session cookie value, if any.
    fn via_nginx(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut r = self.client.request(method, self.nginx.url(path));
        if let Some(c) = cookie {
            r = r.header("cookie", format!("tinyauth-session={c}"));
        }
        r
    }

    async fn users(&self) -> String {
        let out = run_cli(
            &self.daemon.root,
            &self.daemon.data_dir,
            &["user", "list"],
            Input::Null,
        )
        .await;
        assert_eq!(out.code, Some(0), "user list:\n{out}");
        out.stdout
    }
}

fn no_redirect_client(local: Option<IpAddr>) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .local_address(local)
        .build()
        .expect("reqwest client")
}

struct Answer {
    status: u16,
    location: Option<String>,
    content_type: String,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} location={:?} content-type={:?} body={}",
            self.status,
            self.location,
            self.content_type,
            self.text.chars().take(600).collect::<String>()
        )
    }
}

async fn send(r: reqwest::RequestBuilder) -> Answer {
    let resp = r.send().await.expect("send request");
    let h = resp.headers().clone();
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Answer {
        status: resp.status().as_u16(),
        location: get("location"),
        content_type: get("content-type").unwrap_or_default(),
        text: resp.text().await.unwrap_or_default(),
    }
}

/// The SPA index as the daemon serves it directly to the trusted proxy address for `user`
/// (the embedded UI may be rebuilt while tests run, so it is not read from `assets/`).
async fn spa_index(s: &Stack, user: &str) -> String {
    let trusted = no_redirect_client(Some("127.0.0.2".parse().unwrap()));
    let a = send(trusted.get(s.daemon.url("/")).header("remote-user", user)).await;
    assert_eq!(
        a.status, 200,
        "GET / directly from 127.0.0.2 as {user}: {a}"
    );
    assert!(
        a.content_type.starts_with("text/html") && a.text.to_ascii_lowercase().contains("<html"),
        "the SPA index: {a}"
    );
    a.text
}

/// Lines of `user list` naming `user`.
fn user_line<'a>(list: &'a str, user: &str) -> Option<&'a str> {
    list.lines().find(|l| l.split('\t').next() == Some(user))
}

// ---------------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------------

/// (a) + (e) + page loads: an authorized browser request reaches the API as the Tinyauth
/// user, auto-created as `user` with `full` on `*`; unsafe requests with the vhost's Origin
/// pass; `/` is the SPA, `/login` and `/logout` go home.
#[tokio::test(flavor = "multi_thread")]
async fn authorized_request_reaches_the_api_as_the_tinyauth_user() {
    let s = Stack::start("ok").await;
    let origin = s.nginx.origin();
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    assert!(
        user_line(&s.users().await, "alice").is_none(),
        "alice must not exist before her first request"
    );

    let a = send(s.via_nginx(get.clone(), "/api/auth/me", Some("valid-alice"))).await;
    assert_eq!(a.status, 200, "GET /api/auth/me via nginx as alice: {a}");
    let me = a.json();
    assert_eq!(
        (
            &me["username"],
            &me["role"],
            &me["provider"],
            &me["bypass"],
            &me["logout_available"],
            &me["permissions"]
        ),
        (
            &json!("alice"),
            &json!("user"),
            &json!("tinyauth"),
            &json!(false),
            &json!(false),
            &json!({"*": "full"})
        ),
        "{me}"
    );
    let seen = s.standin.seen();
    let last = seen.last().expect("the stand-in saw the auth subrequest");
    assert_eq!(
        (
            last.forwarded_uri.as_str(),
            last.forwarded_host.as_str(),
            last.forwarded_proto.as_str()
        ),
        ("/api/auth/me", origin.trim_start_matches("http://"), "http"),
        "what nginx sent to the forward-auth service: {last:?}"
    );
    assert!(
        last.cookie.contains("tinyauth-session=valid-alice"),
        "{last:?}"
    );

    let list = s.users().await;
    assert_eq!(
        user_line(&list, "alice"),
        Some("alice\tuser\texternal\t*=full"),
        "auto-created alice:\n{list}"
    );

    let a = send(s.via_nginx(get.clone(), "/api/profiles", Some("valid-alice"))).await;
    assert_eq!(a.status, 200, "{a}");
    let levels: Vec<(Value, Value)> = a
        .json()
        .as_array()
        .unwrap_or_else(|| panic!("profiles: {a}"))
        .iter()
        .map(|p| (p["id"].clone(), p["level"].clone()))
        .collect();
    assert_eq!(levels, vec![(json!("default"), json!("full"))], "{a}");

    // Unsafe requests from the vhost's own origin pass the CSRF check.
    let a = send(
        s.via_nginx(post.clone(), "/api/tokens", Some("valid-alice"))
            .header("origin", &origin)
            .json(&json!({"name": "through-nginx"})),
    )
    .await;
    assert_eq!(
        a.status, 201,
        "POST /api/tokens via nginx with Origin {origin}: {a}"
    );
    let token = a.json()["token"].as_str().unwrap_or_default().to_string();
    assert!(token.starts_with("pt_"), "{a}");
    let magnet = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=nginx-e2e";
    let a = send(
        s.via_nginx(
            post.clone(),
            "/api/profiles/default/torrents",
            Some("valid-alice"),
        )
        .header("origin", &origin)
        .header("referer", format!("{origin}/"))
        .json(&json!({"magnet": magnet, "paused": true})),
    )
    .await;
    assert_eq!(a.status, 201, "add a magnet via nginx as alice: {a}");
    // ... and a foreign origin does not.
    let a = send(
        s.via_nginx(post.clone(), "/api/tokens", Some("valid-alice"))
            .header("origin", "http://evil.example.test")
            .json(&json!({"name": "csrf"})),
    )
    .await;
    assert_eq!(
        (a.status, a.json()["error"]["code"].clone()),
        (403, json!("origin_rejected")),
        "foreign origin through nginx: {a}"
    );

    // The token works directly, even from an address that is not a trusted proxy.
    let direct = no_redirect_client(Some("127.0.0.3".parse().unwrap()));
    let a = send(direct.get(s.daemon.url("/api/auth/me")).bearer_auth(&token)).await;
    assert_eq!(
        (a.status, a.json()["username"].clone()),
        (200, json!("alice")),
        "{a}"
    );

    // Another Tinyauth user is another pytorrentd user.
    let a = send(s.via_nginx(get.clone(), "/api/auth/me", Some("valid-bob"))).await;
    assert_eq!(
        (a.status, a.json()["username"].clone()),
        (200, json!("bob")),
        "{a}"
    );

    // Page loads.
    let a = send(s.via_nginx(get.clone(), "/", Some("valid-alice"))).await;
    assert_eq!(a.status, 200, "GET / via nginx as alice: {a}");
    assert!(a.content_type.starts_with("text/html"), "{a}");
    let index = spa_index(&s, "alice").await;
    assert_eq!(a.text, index, "GET / via nginx serves the SPA index");
    let a = send(s.via_nginx(
        get.clone(),
        "/torrents/some-client-route",
        Some("valid-alice"),
    ))
    .await;
    assert_eq!(
        (a.status, a.text == index),
        (200, true),
        "SPA fallback: {a}"
    );
    let a = send(s.via_nginx(get.clone(), "/login", Some("valid-alice"))).await;
    assert_eq!(
        (a.status, a.location.as_deref()),
        (302, Some("/")),
        "GET /login with an external provider: {a}"
    );

    // (e) Logout is a no-op redirect home; the user stays signed in at Tinyauth.
    let a = send(s.via_nginx(get.clone(), "/logout", Some("valid-alice"))).await;
    assert_eq!(
        (a.status, a.location.as_deref()),
        (302, Some("/")),
        "GET /logout: {a}"
    );
    let a = send(
        s.via_nginx(post.clone(), "/logout", Some("valid-alice"))
            .header("origin", &origin),
    )
    .await;
    assert_eq!(
        (a.status, a.location.as_deref()),
        (302, Some("/")),
        "POST /logout: {a}"
    );
    let a = send(s.via_nginx(get.clone(), "/api/auth/me", Some("valid-alice"))).await;
    assert_eq!(
        (a.status, a.json()["username"].clone()),
        (200, json!("alice")),
        "{a}"
    );
}

/// (b) Without a Tinyauth session nginx answers the 302 to the login page with the original
/// URL, for page loads and API calls alike; nothing reaches the daemon.
#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_request_is_redirected_to_the_login_page() {
    let s = Stack::start("login").await;
    let origin = s.nginx.origin();
    for (method, path, cookie) in [
        (reqwest::Method::GET, "/", None),
        (reqwest::Method::GET, "/api/auth/me", None),
        (reqwest::Method::GET, "/api/profiles?x=1", Some("expired")),
        (reqwest::Method::POST, "/api/tokens", None),
        (reqwest::Method::GET, "/logout", None),
    ] {
        let a = send(s.via_nginx(method.clone(), path, cookie)).await;
        let want = format!("{LOGIN_URL}?redirect_uri={origin}{path}");
        assert_eq!(
            (a.status, a.location.as_deref()),
            (302, Some(want.as_str())),
            "{method} {path} (cookie {cookie:?}) without a valid session: {a}"
        );
    }
    let list = s.users().await;
    assert_eq!(
        list.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "only the first admin exists:\n{list}"
    );
}

/// (c) Only the trusted proxy may speak for a user: the same forged `Remote-User` header
/// sent directly from untrusted addresses gets 401 (API) or the explanation page (not the
/// SPA), and no user is created. From 127.0.0.2 the header is honoured (control).
#[tokio::test(flavor = "multi_thread")]
async fn forged_header_from_an_untrusted_peer_is_refused() {
    let s = Stack::start("forged").await;
    let d = &s.daemon;
    let index = spa_index(&s, "trusted-dora").await;
    for src in ["127.0.0.3", "127.0.0.1"] {
        let c = no_redirect_client(Some(src.parse().unwrap()));
        for who in ["admin", "mallory"] {
            let a = send(
                c.get(d.url("/api/auth/me"))
                    .header("remote-user", who)
                    .header("x-forwarded-for", "127.0.0.2"),
            )
            .await;
            assert_eq!(
                a.status, 401,
                "GET /api/auth/me from {src} with Remote-User: {who}: {a}"
            );
            assert!(
                !a.json()["error"]["code"].as_str().unwrap_or("").is_empty(),
                "401 carries a JSON error: {a}"
            );
            let a = send(
                c.post(d.url("/api/tokens"))
                    .header("remote-user", who)
                    .json(&json!({"name": "forged"})),
            )
            .await;
            assert_eq!(
                a.status, 401,
                "POST /api/tokens from {src} with Remote-User: {who}: {a}"
            );
            let a = send(c.get(d.url("/")).header("remote-user", who)).await;
            assert_eq!(
                a.status, 401,
                "page load from {src} with Remote-User: {who}: {a}"
            );
            assert!(a.text != index, "the SPA must not be served: {a}");
        }
    }
    let list = s.users().await;
    assert!(
        user_line(&list, "mallory").is_none(),
        "a forged header created a user:\n{list}"
    );

    // Control: the same header from the trusted proxy address is an identity.
    let trusted = no_redirect_client(Some("127.0.0.2".parse().unwrap()));
    let a = send(
        trusted
            .get(d.url("/api/auth/me"))
            .header("remote-user", "trusted-carl"),
    )
    .await;
    assert_eq!(
        (a.status, a.json()["username"].clone()),
        (200, json!("trusted-carl")),
        "direct from the trusted proxy address: {a}"
    );
}

/// Tinyauth cookie value, extra request headers.
type SmuggleCase<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)]);

/// (d) A client cannot choose its identity through nginx: `Remote_User` (underscore) is
/// dropped by nginx or refused by the daemon, and a client `Remote-User` is replaced by the
/// one Tinyauth vouched for. The answer is the cookie user, a refusal, or the login
/// redirect — never admin.
#[tokio::test(flavor = "multi_thread")]
async fn smuggled_user_headers_through_nginx_never_become_admin() {
    let s = Stack::start("smuggle").await;
    let get = reqwest::Method::GET;
    let cases: &[SmuggleCase] = &[
        (Some("valid-alice"), &[("Remote_User", "admin")]),
        (Some("valid-alice"), &[("Remote-User", "admin")]),
        (
            Some("valid-alice"),
            &[("Remote-User", "admin"), ("Remote_User", "admin")],
        ),
        (
            Some("valid-alice"),
            &[("X-Forwarded-User", "admin"), ("Remote-user", "admin")],
        ),
        (None, &[("Remote_User", "admin")]),
        (None, &[("Remote-User", "admin")]),
        (
            Some("bogus"),
            &[("Remote-User", "admin"), ("Remote_User", "admin")],
        ),
    ];
    for (cookie, headers) in cases {
        let mut r = s.via_nginx(get.clone(), "/api/auth/me", *cookie);
        for (k, v) in *headers {
            r = r.header(*k, *v);
        }
        let a = send(r).await;
        let ctx = format!("cookie {cookie:?} headers {headers:?}: {a}");
        assert_ne!(a.json()["username"], json!("admin"), "became admin! {ctx}");
        match (cookie, a.status) {
            (Some("valid-alice"), 200) => {
                assert_eq!(a.json()["username"], json!("alice"), "{ctx}")
            }
            (Some("valid-alice"), 403) => {
                assert_eq!(a.json()["error"]["code"], json!("header_rejected"), "{ctx}")
            }
            (Some("valid-alice"), _) => panic!("unexpected answer: {ctx}"),
            (_, 302) => assert!(
                a.location
                    .as_deref()
                    .is_some_and(|l| l.starts_with(LOGIN_URL)),
                "{ctx}"
            ),
            _ => panic!("an unauthenticated request must be sent to the login page: {ctx}"),
        }
    }
    let list = s.users().await;
    assert_eq!(
        user_line(&list, "admin"),
        Some("admin\tadmin\tlocal\t-"),
        "the admin account is untouched:\n{list}"
    );
}

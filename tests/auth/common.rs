//! In-process fixtures for the auth tables: a real `AppState` (redb + librqbit) per temp dir,
//! a request builder that sets the direct peer (`ConnectInfo`) and any headers, and small
//! helpers for logins, users, tokens and .torrent files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use pytorrentd::AppState;
use pytorrentd::access::{Level, Role};
use pytorrentd::config::Config;
use serde_json::Value;
use tower::ServiceExt;

/// Password given to every local account the tests create (and to `admin`).
pub const PW: &str = "correct horse battery";

/// The `Host` header sent when a call does not set its own.
pub const DEFAULT_HOST: &str = "pt.lan:8090";

/// Variables every in-process instance gets: its own data dir, no discovery, random BT port.
pub fn base_vars(data_dir: &Path) -> Vec<(String, String)> {
    vec![
        (
            "PYTORRENT_DATA_DIR".into(),
            data_dir.to_string_lossy().into_owned(),
        ),
        ("PYTORRENT_DHT_ENABLE".into(), "false".into()),
        ("PYTORRENT_LSD_ENABLE".into(), "false".into()),
        ("PYTORRENT_UPNP_ENABLE".into(), "false".into()),
        ("PYTORRENT_BT_PORT".into(), "0".into()),
        ("PYTORRENT_LOG".into(), "warn".into()),
        // The name the tables send by default ([`DEFAULT_HOST`]) must pass the Host check.
        ("PYTORRENT_ALLOWED_HOSTS".into(), "pt.lan".into()),
    ]
}

/// A running in-process instance.
pub struct Inst {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub app: Router,
}

impl Inst {
    /// A fresh instance in a new temp dir with `vars` on top of [`base_vars`].
    pub async fn start(vars: &[(&str, &str)]) -> Inst {
        let dir = tempfile::Builder::new()
            .prefix("pytorrentd-auth-")
            .tempdir()
            .expect("temp dir");
        Inst::start_at(dir, vars).await
    }

    /// An instance on an existing temp dir (a restart when it held one before).
    pub async fn start_at(dir: tempfile::TempDir, vars: &[(&str, &str)]) -> Inst {
        let state = open_state(&dir.path().join("data"), vars).await;
        let app = pytorrentd::app(state.clone());
        Inst { dir, state, app }
    }

    /// Stops the engine and drops this handle's state clones, keeping the temp dir. Tasks
    /// the app spawned may still hold state clones (and redb's lock) until their runtime is
    /// dropped: restarts go through [`phase`].
    pub async fn stop(self) -> tempfile::TempDir {
        let Inst { dir, state, app } = self;
        drop(app);
        state.engine.shutdown().await;
        drop(state);
        dir
    }

    pub async fn send(&self, call: Call) -> Resp {
        call.send(&self.app).await
    }

    /// Sets `admin`'s password to [`PW`].
    pub fn set_admin_password(&self) {
        use pytorrentd::auth::accounts::{SignOut, UserChange};
        let change = UserChange {
            password: Some(PW.to_owned()),
            ..Default::default()
        };
        self.state
            .accounts
            .update("admin", change, SignOut::Everywhere)
            .expect("set admin password");
    }

    /// Creates a user; `password` `None` = passwordless (external) user.
    pub fn user(&self, name: &str, password: Option<&str>, role: Role, grants: &[(&str, Level)]) {
        let grants: BTreeMap<String, Level> =
            grants.iter().map(|(p, l)| (p.to_string(), *l)).collect();
        pytorrentd::auth::users::create(&self.state.store, name, password, role, grants)
            .unwrap_or_else(|e| panic!("create user {name}: {e}"));
    }

    /// A fresh API token secret of `user`, created through the store (no HTTP).
    pub fn token(&self, user: &str) -> (String, String) {
        let (rec, secret) =
            pytorrentd::auth::sessions::create_token(&self.state.store, user, "test")
                .expect("create token");
        (rec.id, secret)
    }

    /// A session cookie value for `user`, created through the store (no Argon2).
    pub fn session(&self, user: &str) -> String {
        pytorrentd::auth::sessions::create_session(&self.state.store, user).expect("session")
    }

    /// Logs in over HTTP from 127.0.0.1, asserts 200 and returns the cookie value.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let r = self
            .send(Call::post("/api/auth/login").json(&serde_json::json!({
                "username": user, "password": password,
            })))
            .await;
        assert_eq!(r.status, 200, "login {user}: {}", r.text());
        r.session_cookie()
            .unwrap_or_else(|| panic!("login {user}: no session cookie in {:?}", r.headers))
    }
}

/// Runs `f` on its own multi-thread runtime and drops that runtime afterwards, so every task
/// the application spawned is gone (with the state clones it held, and so redb's lock) before
/// the next phase opens the same data dir.
pub fn phase<T>(f: impl std::future::Future<Output = T>) -> T {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let out = rt.block_on(f);
    rt.shutdown_timeout(Duration::from_secs(10));
    out
}

/// Opens the real state, retrying while a previous instance still holds redb's lock.
pub async fn open_state(data_dir: &Path, vars: &[(&str, &str)]) -> AppState {
    let mut all = base_vars(data_dir);
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let (cfg, _warnings) =
        Config::from_vars(all, &Default::default()).expect("valid test configuration");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match AppState::open(cfg.clone()).await {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline && e.to_string().contains("lock") => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("AppState::open: {e}"),
        }
    }
}

pub fn sock(ip: &str) -> SocketAddr {
    let ip: std::net::IpAddr = ip.parse().expect("ip literal");
    SocketAddr::new(ip, 45678)
}

/// One request: method, path, direct peer, headers (repeatable, raw bytes), body.
#[derive(Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub peer: SocketAddr,
    pub headers: Vec<(String, Vec<u8>)>,
    pub host: Option<String>,
    pub body: Vec<u8>,
}

impl Call {
    pub fn new(method: Method, path: &str) -> Call {
        Call {
            method,
            path: path.to_owned(),
            peer: sock("127.0.0.1"),
            headers: Vec::new(),
            host: Some(DEFAULT_HOST.to_owned()),
            body: Vec::new(),
        }
    }
    pub fn get(path: &str) -> Call {
        Call::new(Method::GET, path)
    }
    pub fn post(path: &str) -> Call {
        Call::new(Method::POST, path)
    }
    pub fn patch(path: &str) -> Call {
        Call::new(Method::PATCH, path)
    }
    pub fn delete(path: &str) -> Call {
        Call::new(Method::DELETE, path)
    }
    pub fn peer(mut self, ip: &str) -> Call {
        self.peer = sock(ip);
        self
    }
    /// Replaces the `Host` header (`None`: no Host header at all).
    pub fn host(mut self, host: Option<&str>) -> Call {
        self.host = host.map(str::to_owned);
        self
    }
    /// Appends a header (a second call with the same name adds a second value).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Call {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }
    pub fn headers(mut self, hs: &[(String, Vec<u8>)]) -> Call {
        self.headers.extend(hs.iter().cloned());
        self
    }
    pub fn cookie(self, value: &str) -> Call {
        self.header("cookie", format!("pytorrent_session={value}"))
    }
    pub fn bearer(self, token: &str) -> Call {
        self.header("authorization", format!("Bearer {token}"))
    }
    pub fn json(mut self, v: &Value) -> Call {
        self.body = serde_json::to_vec(v).expect("json");
        self.header("content-type", "application/json")
    }
    /// A multipart/form-data body: `files` are `torrent` parts, `fields` text fields.
    pub fn multipart(mut self, files: &[(&str, &[u8])], fields: &[(&str, &str)]) -> Call {
        let boundary = "----pytorrentd-test-boundary-7d1f";
        let mut b = Vec::new();
        for (fname, data) in files {
            b.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"torrent\"; filename=\"{fname}\"\r\nContent-Type: application/x-bittorrent\r\n\r\n"
                )
                .as_bytes(),
            );
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        for (k, v) in fields {
            b.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.body = b;
        self.header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
    }

    pub fn build(&self) -> Request<Body> {
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .body(Body::from(self.body.clone()))
            .expect("request");
        let h = req.headers_mut();
        if let Some(host) = &self.host {
            h.insert(
                http::header::HOST,
                HeaderValue::from_str(host).expect("host header"),
            );
        }
        for (k, v) in &self.headers {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                HeaderValue::from_bytes(v).expect("header value"),
            );
        }
        req.extensions_mut().insert(ConnectInfo(self.peer));
        req
    }

    pub async fn send(self, app: &Router) -> Resp {
        let resp = app.clone().oneshot(self.build()).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("read body")
            .to_vec();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Resp {
            status: status.as_u16(),
            headers,
            body,
            json,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The value of the `pytorrent_session` cookie this response sets.
    pub fn session_cookie(&self) -> Option<String> {
        self.set_cookie()
            .and_then(|c| c.split(';').next().map(str::trim).map(str::to_owned))
            .and_then(|kv| kv.strip_prefix("pytorrent_session=").map(str::to_owned))
    }
    pub fn set_cookie(&self) -> Option<&str> {
        self.header("set-cookie")
    }
    /// "status code" for compact assertion messages.
    pub fn brief(&self) -> String {
        format!("{} {} {}", self.status, self.code(), self.text_snippet())
    }
    fn text_snippet(&self) -> String {
        self.text().chars().take(300).collect()
    }
    #[track_caller]
    pub fn assert_status(&self, ctx: &str, status: u16) {
        assert_eq!(self.status, status, "{ctx}: got {}", self.brief());
    }
    /// Asserts an error answer with the given status and code and a non-empty message.
    #[track_caller]
    pub fn assert_error(&self, ctx: &str, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "{ctx}: expected {status} {code}, got {}",
            self.brief()
        );
        assert!(
            !self.message().trim().is_empty(),
            "{ctx}: error without a message: {}",
            self.text()
        );
    }
}

/// A small single-file .torrent built with `librqbit::create_torrent` from a fresh file under
/// `parent`; returns (bytes, lowercase info hash).
pub async fn make_torrent(parent: &Path, name: &str) -> (Vec<u8>, String) {
    let p = crate::util::Payload::single(parent, name, 20_000, &[], 16_384).await;
    (p.torrent, p.hash)
}

/// Polls `f` every 50 ms until it returns `Some`, panicking with `what` after `timeout`.
pub async fn poll<T>(timeout: Duration, what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `(id, level)` pairs of `GET /api/profiles`, sorted.
pub fn profile_levels(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["id"].as_str().unwrap_or("?").to_owned(),
                        p["level"].as_str().unwrap_or("?").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The permissions object of `GET /api/auth/me`, as sorted pairs.
pub fn me_permissions(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["permissions"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("?").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

pub fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    out.sort();
    out
}

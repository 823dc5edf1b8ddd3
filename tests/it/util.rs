//! Fixtures shared by every integration test: the daemon process, HTTP helpers, payload and
//! .torrent creation, an opentracker, aria2c seeders/leechers, a librqbit seeder session, and
//! a deadline poller.
//!
//! Rules kept here: random loopback ports, one temp dir per test, every spawned process is
//! killed by PID in `Drop` (also on panic), logs of the daemon are printed when a test fails,
//! DHT/LSD/UPnP are off everywhere.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// generic helpers
// ---------------------------------------------------------------------------------------------

/// A free TCP port on 127.0.0.1 (bound, then released). Ports handed out once in this process
/// are never handed out again, so parallel tests do not collide with each other.
pub fn free_port() -> u16 {
    static USED: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let used = USED.get_or_init(|| Mutex::new(HashSet::new()));
    loop {
        // Below the kernel's ephemeral range (32768–60999 by default): no outgoing connection
        // takes such a port, so one found free stays free. Ports of closed connections linger
        // in TIME_WAIT, and librqbit binds its listener without SO_REUSEADDR, which such a
        // socket refuses while std's check here (with SO_REUSEADDR) passes.
        let port: u16 = rand::random_range(20_000..32_768);
        let Ok(l) = TcpListener::bind(("0.0.0.0", port)) else {
            continue;
        };
        // The UDP side of the same port must be free too (uTP, opentracker's UDP listener).
        let udp_ok = std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok();
        drop(l);
        if udp_ok && used.lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// Path of a required external tool; panics (fails the test) with an install hint if missing.
pub fn require_tool(bin: &str, apt_pkg: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]) {
        let p = dir.join(bin);
        if p.is_file() {
            return p;
        }
    }
    panic!("{bin} not found: apt-get install {apt_pkg}");
}

pub fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("pytorrentd-it-{prefix}-"))
        // IT_KEEP=1 keeps the directory (logs, payloads) for a look after the run.
        .disable_cleanup(std::env::var_os("IT_KEEP").is_some())
        .tempdir()
        .expect("create temp dir")
}

/// Polls `f` every 100 ms until it returns `Ok`, or panics after `secs` seconds with `what`
/// and the last `Err` description (the last observed state).
pub async fn wait_for<T>(
    secs: u64,
    what: &str,
    mut f: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(last) => {
                if Instant::now() >= deadline {
                    panic!("timed out after {secs} s waiting for {what}; last observed: {last}");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to `secs`) for a child to exit; `None` when it is still running at the deadline.
pub async fn wait_exit(child: &mut Child, secs: f64) -> Option<ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn send_signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill(1)");
    assert!(st.success(), "kill -{sig} {pid} failed: {st}");
}

fn tail(path: &Path, max_lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| format!("<cannot read {path:?}: {e}>"));
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!("... ({start} earlier lines omitted)\n"));
    }
    out.push_str(&lines[start..].join("\n"));
    out
}

/// Parses an RFC 3339 timestamp field (panics with the value when it is not one).
#[track_caller]
pub fn rfc3339(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not an RFC 3339 string: {v}"));
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("not RFC 3339: {s:?}: {e}"))
}

/// Random bytes.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::rng().fill_bytes(&mut v);
    v
}

/// Asserts two byte slices are equal without dumping megabytes on failure.
pub fn assert_same_bytes(what: &str, expected: &[u8], actual: &[u8]) {
    if expected.len() != actual.len() {
        panic!(
            "{what}: length differs: expected {} bytes, got {}",
            expected.len(),
            actual.len()
        );
    }
    if let Some(pos) = expected.iter().zip(actual).position(|(a, b)| a != b) {
        let bad = expected.iter().zip(actual).filter(|(a, b)| a != b).count();
        panic!("{what}: content differs: first difference at byte {pos}, {bad} bytes differ");
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// (status, JSON body). An empty body is `Null`; a non-JSON body is returned as a JSON string
/// prefixed with `<non-json>` so assertions print it.
/// The body of a GET of `url` (panics on a transport error).
pub async fn get_bytes(url: &str) -> bytes::Bytes {
    http_client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

pub async fn to_status_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("read response body");
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    match serde_json::from_slice(&bytes) {
        Ok(v) => (status, v),
        Err(_) => (
            status,
            Value::String(format!("<non-json> {}", String::from_utf8_lossy(&bytes))),
        ),
    }
}

/// The error code of a `{"error":{"code":..}}` body, or "" when absent.
pub fn err_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// Asserts an error answer: status, code, and that a non-empty message is present.
#[track_caller]
pub fn assert_error(ctx: &str, got: &(u16, Value), status: u16, code: &str) {
    let (st, body) = got;
    assert_eq!(
        (*st, err_code(body)),
        (status, code),
        "{ctx}: expected {status} {code}, got {st} {body}"
    );
    let msg = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        !msg.trim().is_empty(),
        "{ctx}: error without a message: {body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Daemon
// ---------------------------------------------------------------------------------------------

pub struct Daemon {
    pub root: PathBuf,
    pub data_dir: PathBuf,
    pub download_dir: PathBuf,
    pub port: u16,
    pub bt_port: u16,
    /// number of the current run (1 for the first start, 2 after the first restart, ...)
    pub run: u32,
    extra_env: Vec<(String, String)>,
    /// Arguments appended to `serve` from the next start on (e.g. `--reinitialize`).
    pub extra_args: Vec<String>,
    /// A program that execs the daemon, with its arguments (e.g. `prlimit --nofile=…`).
    pub launcher: Vec<String>,
    child: Option<Child>,
    client: reqwest::Client,
}

/// Environment for any pytorrentd child: inherited env minus every PYTORRENT_* variable.
pub fn clean_command(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("PYTORRENT_") || k.to_ascii_lowercase().ends_with("_proxy") {
            cmd.env_remove(&k);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// The binary under test: this build's, or `PYTORRENTD_BIN` (e.g. a release build for the
/// long crash loop).
pub fn daemon_bin() -> PathBuf {
    std::env::var_os("PYTORRENTD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_pytorrentd")))
}

impl Daemon {
    /// Starts a daemon whose data lives under `root/data`, default download dir `root/downloads`.
    pub async fn start(root: &Path) -> Daemon {
        Self::start_with_env(root, &[]).await
    }

    pub async fn start_with_env(root: &Path, env: &[(&str, &str)]) -> Daemon {
        Self::start_launched(root, env, &[]).await
    }

    /// `start_with_env`, the daemon exec'ed by `launcher` (e.g. `["prlimit", "--nofile=64"]`).
    pub async fn start_launched(root: &Path, env: &[(&str, &str)], launcher: &[&str]) -> Daemon {
        let data_dir = root.join("data");
        let download_dir = root.join("downloads");
        fs::create_dir_all(&download_dir).unwrap();
        let mut d = Daemon {
            root: root.to_path_buf(),
            data_dir,
            download_dir,
            port: 0,
            bt_port: 0,
            run: 0,
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            extra_args: Vec::new(),
            launcher: launcher.iter().map(|s| s.to_string()).collect(),
            child: None,
            client: http_client(),
        };
        d.spawn().await;
        d
    }

    pub fn log_paths(&self, run: u32) -> (PathBuf, PathBuf) {
        (
            self.root.join(format!("daemon-run{run}.stdout.log")),
            self.root.join(format!("daemon-run{run}.stderr.log")),
        )
    }

    /// stdout + stderr of one run.
    pub fn log_of_run(&self, run: u32) -> String {
        let (o, e) = self.log_paths(run);
        format!(
            "{}\n{}",
            fs::read_to_string(o).unwrap_or_default(),
            fs::read_to_string(e).unwrap_or_default()
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon not running").id()
    }

    async fn spawn(&mut self) {
        // A port handed out by `free_port` can be taken by another process (other test
        // binaries run beside this one) before the daemon binds it: try again with new ports.
        for _ in 0..3 {
            if self.spawn_once().await {
                return;
            }
            // The failed attempt's logs are overwritten: run numbers stay 1, 2, … per start.
            self.run -= 1;
        }
        panic!("pytorrentd could not bind its ports in three attempts");
    }

    /// Starts the daemon and waits until it is ready; `false` when it exited because a port
    /// was taken (its logs are kept under this run's number).
    async fn spawn_once(&mut self) -> bool {
        assert!(self.child.is_none(), "daemon already running");
        self.run += 1;
        self.port = free_port();
        self.bt_port = free_port();
        let (out, err) = self.log_paths(self.run);
        let mut cmd = match self.launcher.split_first() {
            Some((prog, args)) => {
                let mut c = clean_command(Path::new(prog));
                c.args(args).arg(daemon_bin());
                c
            }
            None => clean_command(&daemon_bin()),
        };
        cmd.arg("serve")
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("PYTORRENT_DHT_ENABLE", "false")
            .env("PYTORRENT_LSD_ENABLE", "false")
            .env("PYTORRENT_UPNP_ENABLE", "false")
            .env("PYTORRENT_BT_PORT", self.bt_port.to_string())
            .env("PYTORRENT_DOWNLOAD_DIR", &self.download_dir)
            .env("PYTORRENT_AUTH_ENABLE", "false")
            // IT_DAEMON_LOG raises the daemon's log level when chasing a failure by hand.
            .env(
                "PYTORRENT_LOG",
                std::env::var("IT_DAEMON_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("XDG_DATA_HOME", self.root.join("xdg"))
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd.args(&self.extra_args);
        let child = cmd.spawn().expect("spawn pytorrentd");
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = self.url("/api/health");
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                if fs::read_to_string(self.log_paths(self.run).1)
                    .is_ok_and(|e| e.contains("Address already in use"))
                {
                    return false;
                }
                panic!(
                    "pytorrentd exited during startup with {st}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    tail(&self.log_paths(self.run).0, 100),
                    tail(&self.log_paths(self.run).1, 100)
                );
            }
            if let Ok(resp) = self
                .client
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                let (st, body) = to_status_json(resp).await;
                if st == 200 && body == json!({"status": "ok"}) {
                    return true;
                }
                assert!(
                    Instant::now() < deadline,
                    "GET /api/health never became 200 {{\"status\":\"ok\"}}; last {st} {body}"
                );
            }
            assert!(
                Instant::now() < deadline,
                "pytorrentd not ready within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits up to 10 s; asserts exit code 0. Returns how long it took.
    pub async fn stop(&mut self) -> Duration {
        let mut child = self.child.take().expect("daemon not running");
        let t0 = Instant::now();
        send_signal(child.id(), "TERM");
        let st = wait_exit(&mut child, 10.0).await;
        match st {
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("pytorrentd did not exit within 10 s of SIGTERM");
            }
            Some(st) => {
                assert_eq!(
                    st.code(),
                    Some(0),
                    "pytorrentd exit status after SIGTERM: {st}"
                );
            }
        }
        t0.elapsed()
    }

    /// SIGKILL by PID (no graceful shutdown).
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("daemon not running");
        child.kill().expect("SIGKILL pytorrentd");
        let _ = child.wait();
    }

    /// Starts again with the same data dir (fresh ports, new log files).
    pub async fn start_again(&mut self) {
        self.spawn().await;
    }

    pub async fn restart(&mut self) -> Duration {
        let d = self.stop().await;
        self.spawn().await;
        d
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base(), path)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends a request; a transport error fails the test naming the request.
    async fn send(&self, what: &str, path: &str, req: reqwest::RequestBuilder) -> (u16, Value) {
        let r = req.send().await;
        to_status_json(r.unwrap_or_else(|e| panic!("{what} {path}: {e}"))).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, self.client.get(self.url(path)))
            .await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("POST", path, self.client.post(self.url(path)).json(body))
            .await
    }

    pub async fn post_empty(&self, path: &str) -> (u16, Value) {
        self.send("POST", path, self.client.post(self.url(path)))
            .await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let req = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        self.send("POST", path, req).await
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("PATCH", path, self.client.patch(self.url(path)).json(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send("DELETE", path, self.client.delete(self.url(path)))
            .await
    }

    pub async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form) -> (u16, Value) {
        let req = self.client.post(self.url(path)).multipart(form);
        self.send("POST multipart", path, req).await
    }

    // ---- typed helpers -----------------------------------------------------------------

    pub async fn create_profile(&self, id: &str, dir: &Path, max_active: u64) -> Value {
        fs::create_dir_all(dir).unwrap();
        let (st, body) = self
            .post_json(
                "/api/profiles",
                &json!({"id": id, "name": format!("Profile {id}"), "download_dir": dir, "max_active_downloads": max_active}),
            )
            .await;
        assert_eq!(st, 201, "create profile {id}: {body}");
        assert_eq!(body["id"], id, "create profile answer: {body}");
        body
    }

    pub async fn profiles(&self) -> Vec<Value> {
        let (st, body) = self.get("/api/profiles").await;
        assert_eq!(st, 200, "GET /api/profiles: {body}");
        body.as_array()
            .unwrap_or_else(|| panic!("profiles not an array: {body}"))
            .clone()
    }

    /// Adds .torrent bytes by multipart upload; extra text fields as given. Returns (status, body).
    pub async fn add_torrent_bytes(
        &self,
        profile: &str,
        torrent: &[u8],
        fields: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new().part(
            "torrent",
            reqwest::multipart::Part::bytes(torrent.to_vec())
                .file_name("upload.torrent")
                .mime_str("application/x-bittorrent")
                .unwrap(),
        );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        self.post_multipart(&format!("/api/profiles/{profile}/torrents"), form)
            .await
    }

    /// Like `add_torrent_bytes` but asserts 201 with exactly one row, returns that row.
    pub async fn add_torrent_ok(
        &self,
        profile: &str,
        torrent: &[u8],
        fields: &[(&str, &str)],
    ) -> Value {
        let (st, body) = self.add_torrent_bytes(profile, torrent, fields).await;
        assert_eq!(st, 201, "add .torrent to {profile}: {body}");
        let added = body["added"]
            .as_array()
            .unwrap_or_else(|| panic!("no added array: {body}"));
        assert_eq!(added.len(), 1, "expected one added row: {body}");
        added[0].clone()
    }

    /// JSON add (magnet / url). Asserts 201 with one row, returns that row.
    pub async fn add_json_ok(&self, profile: &str, req: &Value) -> Value {
        let (st, body) = self
            .post_json(&format!("/api/profiles/{profile}/torrents"), req)
            .await;
        assert_eq!(st, 201, "add {req} to {profile}: {body}");
        let added = body["added"]
            .as_array()
            .unwrap_or_else(|| panic!("no added array: {body}"));
        assert_eq!(added.len(), 1, "expected one added row: {body}");
        added[0].clone()
    }

    pub async fn torrents(&self, profile: &str) -> Vec<Value> {
        let (st, body) = self.get(&format!("/api/profiles/{profile}/torrents")).await;
        assert_eq!(st, 200, "GET torrents of {profile}: {body}");
        body.as_array()
            .unwrap_or_else(|| panic!("torrent list not an array: {body}"))
            .clone()
    }

    /// The number `field` of each torrent of `profile`, read together (0 when absent).
    pub async fn numbers(&self, profile: &str, hashes: &[&str], field: &str) -> Vec<u64> {
        let rows = self.torrents(profile).await;
        hashes
            .iter()
            .map(|h| {
                rows.iter()
                    .find(|r| r["hash"] == *h)
                    .and_then(|r| r[field].as_u64())
                    .unwrap_or(0)
            })
            .collect()
    }

    pub async fn torrent(&self, hash: &str) -> Value {
        let (st, body) = self.get(&format!("/api/torrents/{hash}")).await;
        assert_eq!(st, 200, "GET /api/torrents/{hash}: {body}");
        body
    }

    pub async fn files(&self, hash: &str) -> Vec<Value> {
        let (st, body) = self.get(&format!("/api/torrents/{hash}/files")).await;
        assert_eq!(st, 200, "GET files of {hash}: {body}");
        body.as_array()
            .unwrap_or_else(|| panic!("files not an array: {body}"))
            .clone()
    }

    pub async fn action(&self, hash: &str, action: &str) -> Value {
        let (st, body) = self
            .post_empty(&format!("/api/torrents/{hash}/{action}"))
            .await;
        assert_eq!(st, 200, "POST {action} {hash}: {body}");
        body
    }

    pub async fn patch_torrent(&self, hash: &str, req: &Value) -> Value {
        let (st, body) = self.patch_json(&format!("/api/torrents/{hash}"), req).await;
        assert_eq!(st, 200, "PATCH {hash} {req}: {body}");
        body
    }

    /// Every profile's torrent hashes, in list order: profile id → hashes.
    pub async fn torrent_set(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for p in self.profiles().await {
            let id = p["id"].as_str().unwrap().to_string();
            let hashes = self
                .torrents(&id)
                .await
                .iter()
                .map(|t| t["hash"].as_str().unwrap().to_string())
                .collect();
            out.insert(id, hashes);
        }
        out
    }

    /// Waits until the torrent is `seeding` with progress 1.0; returns the row.
    pub async fn wait_complete(&self, hash: &str, secs: u64) -> Value {
        wait_for(
            secs,
            &format!("torrent {hash} to be seeding with progress 1.0"),
            async || {
                let (st, row) = self.get(&format!("/api/torrents/{hash}")).await;
                if st == 200 && row["state"] == "seeding" && row["progress"].as_f64() == Some(1.0) {
                    Ok(row)
                } else {
                    Err(format!(
                        "{st} state={} progress={} error={}",
                        row["state"], row["progress"], row["error"]
                    ))
                }
            },
        )
        .await
    }

    /// Waits until the torrent is in `state`; returns the row.
    pub async fn wait_state(&self, hash: &str, state: &str, secs: u64) -> Value {
        wait_for(
            secs,
            &format!("torrent {hash} to reach state {state}"),
            async || {
                let (st, row) = self.get(&format!("/api/torrents/{hash}")).await;
                if st == 200 && row["state"] == state {
                    Ok(row)
                } else {
                    Err(format!(
                        "{st} state={} progress={} error={}",
                        row["state"], row["progress"], row["error"]
                    ))
                }
            },
        )
        .await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            for run in 1..=self.run {
                let (o, e) = self.log_paths(run);
                eprintln!(
                    "===== pytorrentd run {run} stdout ({o:?}) =====\n{}\n===== pytorrentd run {run} stderr =====\n{}\n",
                    tail(&o, 150),
                    tail(&e, 150)
                );
            }
        }
    }
}

/// Summary `hash → state` for a list of rows (for assertion messages).
pub fn states_of(rows: &[Value]) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("?").to_string(),
                r["state"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// payloads and .torrent files
// ---------------------------------------------------------------------------------------------

pub struct PayloadFile {
    /// Path relative to the download directory (includes the torrent name for multi-file).
    pub rel: PathBuf,
    pub data: Vec<u8>,
}

pub struct Payload {
    pub name: String,
    /// Directory that contains `name` (what a client's "download dir" would be).
    pub parent: PathBuf,
    pub single: bool,
    /// Files in torrent order (index = torrent file index).
    pub files: Vec<PayloadFile>,
    pub torrent: Vec<u8>,
    pub torrent_path: PathBuf,
    pub hash: String,
    pub size: u64,
}

impl Payload {
    /// Multi-file payload `parent/name/<rel>` filled with random bytes.
    pub async fn multi(
        parent: &Path,
        name: &str,
        files: &[(&str, usize)],
        trackers: &[String],
        piece_length: u32,
    ) -> Payload {
        let root = parent.join(name);
        for (rel, size) in files {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, random_bytes(*size)).unwrap();
        }
        Self::from_disk(parent, name, false, trackers, piece_length).await
    }

    /// Single-file payload `parent/name`.
    pub async fn single(
        parent: &Path,
        name: &str,
        size: usize,
        trackers: &[String],
        piece_length: u32,
    ) -> Payload {
        fs::create_dir_all(parent).unwrap();
        fs::write(parent.join(name), random_bytes(size)).unwrap();
        Self::from_disk(parent, name, true, trackers, piece_length).await
    }

    async fn from_disk(
        parent: &Path,
        name: &str,
        single: bool,
        trackers: &[String],
        piece_length: u32,
    ) -> Payload {
        let content = parent.join(name);
        let spawner = librqbit::spawn_utils::BlockingSpawner::new(1);
        let res = librqbit::create_torrent(
            &content,
            librqbit::CreateTorrentOptions {
                name: Some(name),
                trackers: trackers.to_vec(),
                piece_length: Some(piece_length),
            },
            &spawner,
        )
        .await
        .expect("create_torrent");
        let torrent = res.as_bytes().expect("serialize torrent").to_vec();
        let hash = hex::encode(res.info_hash().0);
        let mut files = Vec::new();
        match &res.meta.info.data.files {
            None => files.push(PayloadFile {
                rel: PathBuf::from(name),
                data: fs::read(&content).unwrap(),
            }),
            Some(list) => {
                for f in list {
                    let mut rel = PathBuf::from(name);
                    for c in &f.path {
                        rel.push(std::str::from_utf8(c.as_ref()).unwrap());
                    }
                    let data = fs::read(parent.join(&rel)).unwrap();
                    assert_eq!(data.len() as u64, f.length);
                    files.push(PayloadFile { rel, data });
                }
            }
        }
        let size = files.iter().map(|f| f.data.len() as u64).sum();
        let torrent_path = parent.join(format!("{name}.torrent"));
        fs::write(&torrent_path, &torrent).unwrap();
        Payload {
            name: name.to_string(),
            parent: parent.to_path_buf(),
            single,
            files,
            torrent,
            torrent_path,
            hash,
            size,
        }
    }

    /// Where librqbit should be told to put/find the data (`output_folder`).
    pub fn librqbit_output_folder(&self) -> PathBuf {
        if self.single {
            self.parent.clone()
        } else {
            self.parent.join(&self.name)
        }
    }

    pub fn magnet(&self, peers: &[SocketAddr], trackers: &[String]) -> String {
        let mut m = format!("magnet:?xt=urn:btih:{}&dn={}", self.hash, self.name);
        for t in trackers {
            m.push_str(&format!("&tr={}", pct(t.as_bytes())));
        }
        for p in peers {
            m.push_str(&format!("&x.pe={p}"));
        }
        m
    }

    /// Asserts every file (or the selected indices) is present byte-for-byte under `dir`.
    #[track_caller]
    pub fn assert_in(&self, dir: &Path, only: Option<&[usize]>) {
        for (i, f) in self.files.iter().enumerate() {
            if only.is_some_and(|o| !o.contains(&i)) {
                continue;
            }
            let p = dir.join(&f.rel);
            let got =
                fs::read(&p).unwrap_or_else(|e| panic!("downloaded file {p:?} unreadable: {e}"));
            assert_same_bytes(&format!("file {p:?}"), &f.data, &got);
        }
    }

    /// Copies the payload (as the torrent lays it out) into `dir`.
    pub fn copy_into(&self, dir: &Path) {
        for f in &self.files {
            let p = dir.join(&f.rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, &f.data).unwrap();
        }
    }
}

/// Percent-encodes every byte that is not unreserved.
pub fn pct(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// opentracker
// ---------------------------------------------------------------------------------------------

pub struct Tracker {
    pub port: u16,
    dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Tracker {
    /// Reserves a port and a chroot dir; call `start` once the whitelisted hashes are known.
    pub fn new(root: &Path) -> Tracker {
        Self::named(root, "tracker")
    }

    /// A second (third…) tracker in the same test: its own chroot dir and log.
    pub fn named(root: &Path, name: &str) -> Tracker {
        require_tool("opentracker", "opentracker");
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        Tracker {
            port: free_port(),
            log: root.join(format!("{name}.log")),
            dir,
            child: None,
        }
    }

    /// The same tracker over UDP (BEP 15; opentracker listens on the same port number).
    pub fn udp_url(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }

    pub fn announce_url(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    pub async fn start(&mut self, info_hashes: &[&str]) {
        use std::os::unix::fs::PermissionsExt;
        let bin = require_tool("opentracker", "opentracker");
        let mut wl = String::new();
        for h in info_hashes {
            wl.push_str(h);
            wl.push('\n');
        }
        fs::write(self.dir.join("whitelist"), wl).unwrap();
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(
            self.dir.join("whitelist"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let child = Command::new(bin)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-P",
                &self.port.to_string(),
            ])
            .arg("-d")
            .arg(&self.dir)
            .args(["-w", "/whitelist"])
            .stdin(Stdio::null())
            .stdout(File::create(&self.log).unwrap())
            .stderr(Stdio::from(
                File::options().append(true).open(&self.log).unwrap(),
            ))
            .spawn()
            .expect("spawn opentracker");
        self.child = Some(child);
        let port = self.port;
        wait_for(10, "opentracker to listen", async || {
            TcpStream::connect(("127.0.0.1", port))
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await;
    }

    /// (complete, incomplete) from a scrape of `hash_hex`.
    pub async fn scrape(&self, hash_hex: &str) -> (u64, u64) {
        let raw = hex::decode(hash_hex).unwrap();
        let url = format!(
            "http://127.0.0.1:{}/scrape?info_hash={}",
            self.port,
            pct(&raw)
        );
        let body = http_client()
            .get(url)
            .send()
            .await
            .expect("scrape")
            .bytes()
            .await
            .unwrap();
        let s = String::from_utf8_lossy(&body).to_string();
        let num = |key: &str| -> u64 {
            s.find(key)
                .map(|i| {
                    let rest = &s[i + key.len()..];
                    rest[..rest.find('e').unwrap()].parse().unwrap_or(0)
                })
                .unwrap_or(0)
        };
        (num("8:completei"), num("10:incompletei"))
    }

    /// Waits until the tracker knows at least `n` seeders (complete) of `hash_hex`.
    pub async fn wait_seeders(&self, hash_hex: &str, n: u64, secs: u64) {
        wait_for(
            secs,
            &format!("tracker to list {n} seeder(s) of {hash_hex}"),
            async || {
                let (c, i) = self.scrape(hash_hex).await;
                if c >= n {
                    Ok(())
                } else {
                    Err(format!("complete={c} incomplete={i}"))
                }
            },
        )
        .await
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("===== opentracker log =====\n{}", tail(&self.log, 50));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// aria2c
// ---------------------------------------------------------------------------------------------

pub struct Aria2 {
    pub listen_port: u16,
    pub rpc_port: Option<u16>,
    pub log: PathBuf,
    child: Option<Child>,
    name: String,
}

fn aria2_base(out_dir: &Path, listen_port: u16, log: &Path) -> Command {
    let bin = require_tool("aria2c", "aria2");
    let mut c = Command::new(bin);
    c.args([
        "--no-conf",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--disable-ipv6=true",
        "--interface=127.0.0.1",
        "--bt-require-crypto=false",
        "--bt-min-crypto-level=plain",
        "--file-allocation=falloc",
        "--summary-interval=0",
        "--console-log-level=warn",
        "--log-level=info",
    ])
    .arg(format!("--listen-port={listen_port}"))
    .arg(format!("--dir={}", out_dir.display()))
    .arg(format!("--log={}", log.display()))
    .stdin(Stdio::null());
    c
}

impl Aria2 {
    /// aria2c seeding `torrent` with data already in `data_dir` (the torrent's parent dir).
    /// `max_upload`: e.g. "2M" to throttle. JSON-RPC is enabled to read its upload counter.
    pub async fn seed(
        root: &Path,
        tag: &str,
        torrent: &Path,
        data_dir: &Path,
        max_upload: Option<&str>,
    ) -> Aria2 {
        let listen_port = free_port();
        let rpc_port = free_port();
        let log = root.join(format!("aria2-{tag}.log"));
        let mut cmd = aria2_base(data_dir, listen_port, &log);
        cmd.args([
            "--seed-ratio=0.0",
            "--bt-seed-unverified=true",
            "--check-integrity=false",
        ])
        .args(["--enable-rpc=true", "--rpc-listen-all=false"])
        .arg(format!("--rpc-listen-port={rpc_port}"));
        if let Some(m) = max_upload {
            cmd.arg(format!("--max-overall-upload-limit={m}"));
        }
        cmd.arg(torrent);
        let out = root.join(format!("aria2-{tag}.console"));
        cmd.stdout(File::create(&out).unwrap()).stderr(Stdio::from(
            File::create(root.join(format!("aria2-{tag}.stderr"))).unwrap(),
        ));
        let child = cmd.spawn().expect("spawn aria2c");
        let a = Aria2 {
            listen_port,
            rpc_port: Some(rpc_port),
            log,
            child: Some(child),
            name: tag.into(),
        };
        // ready when RPC answers and the torrent is in seeding mode
        wait_for(20, "aria2c seeder to be active", async || {
            let v = a.rpc("aria2.tellActive", json!([])).await?;
            let arr = v.as_array().cloned().unwrap_or_default();
            if arr.iter().any(|d| d["seeder"] == "true") {
                Ok(())
            } else {
                Err(format!("tellActive: {v}"))
            }
        })
        .await;
        a
    }

    /// aria2c leecher that exits (code 0) once the download is complete.
    pub fn leech(root: &Path, tag: &str, torrent: &Path, out_dir: &Path) -> Aria2 {
        let listen_port = free_port();
        let log = root.join(format!("aria2-{tag}.log"));
        fs::create_dir_all(out_dir).unwrap();
        let mut cmd = aria2_base(out_dir, listen_port, &log);
        cmd.args(["--seed-time=0", "--bt-tracker-interval=1"]);
        cmd.arg(torrent);
        cmd.stdout(File::create(root.join(format!("aria2-{tag}.console"))).unwrap())
            .stderr(Stdio::from(
                File::create(root.join(format!("aria2-{tag}.stderr"))).unwrap(),
            ));
        let child = cmd.spawn().expect("spawn aria2c");
        Aria2 {
            listen_port,
            rpc_port: None,
            log,
            child: Some(child),
            name: tag.into(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.listen_port))
    }

    pub async fn rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        let port = self.rpc_port.ok_or("rpc not enabled")?;
        let r = http_client()
            .post(format!("http://127.0.0.1:{port}/jsonrpc"))
            .json(&json!({"jsonrpc": "2.0", "id": "t", "method": method, "params": params}))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let (st, v) = to_status_json(r).await;
        if st != 200 {
            return Err(format!("{st} {v}"));
        }
        Ok(v["result"].clone())
    }

    /// Total bytes aria2c has uploaded (all active downloads).
    pub async fn uploaded(&self) -> u64 {
        let v = self
            .rpc("aria2.tellActive", json!([]))
            .await
            .expect("aria2 rpc");
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|d| {
                        d["uploadLength"]
                            .as_str()
                            .unwrap_or("0")
                            .parse::<u64>()
                            .unwrap()
                    })
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Waits for the (leecher) process to exit; returns its status or panics after `secs`.
    pub async fn wait_exit(&mut self, secs: f64) -> ExitStatus {
        let child = self.child.as_mut().expect("aria2c not running");
        match wait_exit(child, secs).await {
            Some(st) => {
                self.child = None;
                st
            }
            None => panic!(
                "aria2c {} still running after {secs} s\n--- aria2c log tail ---\n{}",
                self.name,
                tail(&self.log, 60)
            ),
        }
    }

    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log, n)
    }
}

impl Drop for Aria2 {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "===== aria2c {} log tail =====\n{}",
                self.name,
                tail(&self.log, 60)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// librqbit seeder session (in this process)
// ---------------------------------------------------------------------------------------------

pub struct RqSeeder {
    pub session: Arc<librqbit::Session>,
    pub addr: SocketAddr,
    handles: Vec<Arc<librqbit::ManagedTorrent>>,
}

impl RqSeeder {
    /// A session listening on 127.0.0.1 (free port), DHT/LSD/UPnP off, no
    /// persistence, optional upload throttle, seeding every payload from its own folder.
    pub async fn start(payloads: &[&Payload], upload_bps: Option<u32>) -> RqSeeder {
        let empty = tempdir("rqseed-default");
        // librqbit announces no port for a loopback listener (then trackers get its default
        // 4240): pick the port and announce it explicitly.
        let port = free_port();
        let session = librqbit::Session::new_with_opts(
            empty.path().to_path_buf(),
            librqbit::SessionOptions {
                dht: None,
                persistence: None,
                fastresume: false,
                disable_local_service_discovery: true,
                listen: Some(librqbit::ListenerOptions {
                    mode: librqbit::ListenerMode::TcpOnly,
                    listen_addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    announce_port: Some(port),
                    enable_upnp_port_forwarding: false,
                    ipv4_only: true,
                    ..Default::default()
                }),
                ratelimits: librqbit::limits::LimitsConfig {
                    upload_bps: upload_bps.and_then(std::num::NonZeroU32::new),
                    download_bps: None,
                },
                ..Default::default()
            },
        )
        .await
        .expect("start librqbit seeder session");
        let addr = session.listen_addr().expect("seeder listen addr");
        let mut handles = Vec::new();
        for p in payloads {
            let h = session
                .add_torrent(
                    librqbit::AddTorrent::TorrentFileBytes(bytes::Bytes::from(p.torrent.clone())),
                    Some(librqbit::AddTorrentOptions {
                        overwrite: true,
                        output_folder: Some(
                            p.librqbit_output_folder().to_str().unwrap().to_string(),
                        ),
                        ..Default::default()
                    }),
                )
                .await
                .expect("seeder add_torrent")
                .into_handle()
                .expect("seeder handle");
            handles.push(h);
        }
        let s = RqSeeder {
            session,
            addr,
            handles,
        };
        wait_for(
            30,
            "librqbit seeder to finish its initial check",
            async || {
                for h in &s.handles {
                    let st = h.stats();
                    if st.error.is_some() || !st.finished || h.live().is_none() {
                        return Err(format!("{st}"));
                    }
                }
                Ok(())
            },
        )
        .await;
        drop(empty);
        s
    }

    /// Hands torrent `i` a peer to connect to.
    pub fn add_peer(&self, i: usize, addr: SocketAddr) {
        self.handles[i]
            .live()
            .expect("seeder torrent is live")
            .add_peer_if_not_seen(addr)
            .expect("peer added");
    }

    /// Bytes uploaded for torrent `i`.
    pub fn uploaded(&self, i: usize) -> u64 {
        self.handles[i].stats().uploaded_bytes
    }
}

impl Drop for RqSeeder {
    fn drop(&mut self) {
        self.session.cancellation_token().cancel();
    }
}

// ---------------------------------------------------------------------------------------------
// tiny HTTP file server (for `{"url": ...}` adds)
// ---------------------------------------------------------------------------------------------

/// Serves `body` for any GET on a random loopback port until dropped.
pub struct StaticServer {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl StaticServer {
    pub async fn start(body: Vec<u8>, content_type: &'static str) -> StaticServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = Arc::new(body);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let body = body.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = vec![0u8; 8192];
                    let mut req = Vec::new();
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        StaticServer { port, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a whole file (panics with the path on error).
pub fn read(path: &Path) -> Vec<u8> {
    let mut v = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut v))
        .unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    v
}

/// Writes a whole file.
pub fn write(path: &Path, data: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    File::create(path)
        .and_then(|mut f| f.write_all(data))
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// hand-made .torrent files
// ---------------------------------------------------------------------------------------------

/// A bencode value for building .torrent files by hand, malformed ones included (integers
/// are kept as text so that 2^64 or a 5,000-digit number can be written).
#[derive(Clone, Debug)]
pub enum Ben {
    Int(String),
    Str(Vec<u8>),
    List(Vec<Ben>),
    Dict(Vec<(Vec<u8>, Ben)>),
}

impl Ben {
    pub fn int(v: impl ToString) -> Ben {
        Ben::Int(v.to_string())
    }
    pub fn str(v: impl AsRef<[u8]>) -> Ben {
        Ben::Str(v.as_ref().to_vec())
    }
    pub fn list(v: Vec<Ben>) -> Ben {
        Ben::List(v)
    }
    /// A dictionary with its keys in the given order.
    pub fn dict(entries: Vec<(&str, Ben)>) -> Ben {
        Ben::Dict(
            entries
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    /// Sets `key` of a dictionary (replacing it, or inserting it in sorted position).
    pub fn set(&mut self, key: &str, v: Ben) -> &mut Ben {
        let Ben::Dict(d) = self else {
            panic!("Ben::set on a non-dictionary")
        };
        match d.iter_mut().find(|(k, _)| k == key.as_bytes()) {
            Some(e) => e.1 = v,
            None => {
                d.push((key.as_bytes().to_vec(), v));
                d.sort_by(|a, b| a.0.cmp(&b.0));
            }
        }
        self
    }

    pub fn remove(&mut self, key: &str) -> &mut Ben {
        if let Ben::Dict(d) = self {
            d.retain(|(k, _)| k != key.as_bytes());
        }
        self
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Ben::Int(t) => out.extend_from_slice(format!("i{t}e").as_bytes()),
            Ben::Str(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Ben::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode_into(out);
                }
                out.push(b'e');
            }
            Ben::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Ben::Str(k.clone()).encode_into(out);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }
}

/// A well-formed single-file info dictionary for `size` bytes in pieces of 16 KiB, with
/// made-up piece hashes (enough for everything but downloading).
pub fn info_single(name: &[u8], size: u64) -> Ben {
    let pieces = size.div_ceil(16384) as usize;
    Ben::dict(vec![
        ("length", Ben::int(size)),
        ("name", Ben::str(name)),
        ("piece length", Ben::int(16384)),
        ("pieces", Ben::str(random_bytes(20 * pieces))),
    ])
}

/// A multi-file info dictionary (folder `name`) with made-up piece hashes.
pub fn info_multi(name: &[u8], files: &[(&[&[u8]], u64)]) -> Ben {
    let total: u64 = files.iter().map(|f| f.1).sum();
    let list = files
        .iter()
        .map(|(path, len)| {
            Ben::dict(vec![
                ("length", Ben::int(len)),
                ("path", Ben::list(path.iter().map(Ben::str).collect())),
            ])
        })
        .collect();
    Ben::dict(vec![
        ("files", Ben::list(list)),
        ("name", Ben::str(name)),
        ("piece length", Ben::int(16384)),
        (
            "pieces",
            Ben::str(random_bytes(20 * total.div_ceil(16384) as usize)),
        ),
    ])
}

/// A .torrent around `info`.
pub fn torrent_of(info: &Ben) -> Vec<u8> {
    Ben::dict(vec![
        ("announce", Ben::str("http://127.0.0.1:9/announce")),
        ("info", info.clone()),
    ])
    .encode()
}

/// The v1 info hash (SHA-1 of the bencoded info dictionary) as 20 bytes, computed by
/// librqbit's reader (which hashes the raw bytes without judging the values).
pub fn info_hash_of(info: &Ben) -> [u8; 20] {
    let t = torrent_of(info);
    librqbit_core::torrent_metainfo::torrent_from_bytes(&t)
        .expect("hash a hand-made torrent")
        .info_hash
        .0
}

// ---------------------------------------------------------------------------------------------
// a peer that serves a magnet's metadata (ut_metadata, BEP 9) and nothing else
// ---------------------------------------------------------------------------------------------

/// A BitTorrent peer on 127.0.0.1 that answers the handshake and the extension handshake
/// and sends the given `info` dictionary bytes to whoever asks for the metadata, so that
/// a magnet can resolve to metadata that no real client would serve (malformed on purpose).
pub struct MetadataPeer {
    pub addr: SocketAddr,
    /// Connections that asked for at least one metadata piece.
    pub served: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl MetadataPeer {
    pub async fn start(info_hash: [u8; 20], info: Vec<u8>) -> MetadataPeer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let info = Arc::new(info);
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = served.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let info = info.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let _ = serve_metadata(sock, info_hash, &info, &counter).await;
                });
            }
        });
        MetadataPeer { addr, served, task }
    }
}

impl Drop for MetadataPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The integer after `key` (a bencoded `<len>:<key>i<n>e`) in `b`, if present.
fn bencode_int_after(b: &[u8], key: &str) -> Option<u64> {
    let pat = format!("{}:{key}i", key.len());
    let at = b.windows(pat.len()).position(|w| w == pat.as_bytes())? + pat.len();
    let end = at + b[at..].iter().position(|&c| c == b'e')?;
    std::str::from_utf8(&b[at..end]).ok()?.parse().ok()
}

async fn serve_metadata(
    mut sock: tokio::net::TcpStream,
    info_hash: [u8; 20],
    info: &[u8],
    served: &std::sync::atomic::AtomicUsize,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const OUR_UT_METADATA: u8 = 3;
    let mut theirs = [0u8; 68];
    sock.read_exact(&mut theirs).await?;
    let mut hs = Vec::with_capacity(68);
    hs.push(19u8);
    hs.extend_from_slice(b"BitTorrent protocol");
    hs.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0]); // BEP 10 extension protocol
    hs.extend_from_slice(&info_hash);
    hs.extend_from_slice(b"-XX0001-metadatapeer");
    sock.write_all(&hs).await?;
    let ext = |id: u8, payload: &[u8]| {
        let mut m = Vec::new();
        m.extend_from_slice(&(payload.len() as u32 + 2).to_be_bytes());
        m.push(20);
        m.push(id);
        m.extend_from_slice(payload);
        m
    };
    let ours = format!(
        "d1:md11:ut_metadatai{OUR_UT_METADATA}ee13:metadata_sizei{}ee",
        info.len()
    );
    sock.write_all(&ext(0, ours.as_bytes())).await?;
    let mut their_ut_metadata: Option<u8> = None;
    let mut first = true;
    loop {
        let mut len = [0u8; 4];
        sock.read_exact(&mut len).await?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            continue;
        }
        let mut msg = vec![0u8; len];
        sock.read_exact(&mut msg).await?;
        if msg[0] != 20 || msg.len() < 2 {
            continue;
        }
        let payload = &msg[2..];
        if msg[1] == 0 {
            their_ut_metadata = bencode_int_after(payload, "ut_metadata").map(|v| v as u8);
        } else if msg[1] == OUR_UT_METADATA
            && let (Some(id), Some(piece)) =
                (their_ut_metadata, bencode_int_after(payload, "piece"))
        {
            if first {
                served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                first = false;
            }
            let start = (piece as usize * 16384).min(info.len());
            let end = (start + 16384).min(info.len());
            let mut data = format!(
                "d8:msg_typei1e5:piecei{piece}e10:total_sizei{}ee",
                info.len()
            )
            .into_bytes();
            data.extend_from_slice(&info[start..end]);
            sock.write_all(&ext(id, &data)).await?;
        }
    }
}

// ---- the command line ----

/// What a run of `pytorrentd` printed and how it ended (`code` is `None` when it was killed
/// at its deadline).
pub struct CliOut {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl CliOut {
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// The single `pytorrentd: …` error line (log lines of `serve` aside); fails otherwise.
    #[track_caller]
    pub fn one_error_line(&self, ctx: &str) -> String {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("pytorrentd: "))
            .collect();
        assert_eq!(errors.len(), 1, "{ctx}: one error line expected\n{self}");
        assert!(
            !self.stderr.contains("panicked"),
            "{ctx}: it panicked\n{self}"
        );
        errors[0].to_owned()
    }
}

impl std::fmt::Display for CliOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exit={:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

/// What the command gets on standard input.
#[derive(Clone, Copy)]
pub enum CliInput<'a> {
    /// `/dev/null` (EOF at once).
    Null,
    /// A pipe kept open and never written: a command that tries to read from it hangs and
    /// is caught by the deadline.
    OpenPipe,
    /// These bytes, then EOF.
    Text(&'a str),
}

/// Runs `pytorrentd ARGS` with a clean environment plus `env`, its output kept in files
/// under `scratch`; killed after `secs`.
pub async fn run_cli_in(
    scratch: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: CliInput<'_>,
    secs: f64,
) -> CliOut {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let out_p = scratch.join(format!("cli-{n}.out"));
    let err_p = scratch.join(format!("cli-{n}.err"));
    let mut cmd = clean_command(&daemon_bin());
    cmd.args(args)
        .env("XDG_DATA_HOME", scratch.join("xdg"))
        .stdout(File::create(&out_p).unwrap())
        .stderr(File::create(&err_p).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    match input {
        CliInput::Null => cmd.stdin(Stdio::null()),
        CliInput::OpenPipe | CliInput::Text(_) => cmd.stdin(Stdio::piped()),
    };
    let mut child = cmd.spawn().expect("spawn pytorrentd");
    let mut stdin = child.stdin.take();
    if let (CliInput::Text(t), Some(mut w)) = (input, stdin.take()) {
        // A command that exits early closes the pipe: a write error is then expected.
        let _ = w.write_all(t.as_bytes());
    }
    let st = wait_exit(&mut child, secs).await;
    drop(stdin);
    let code = match st {
        Some(st) => st.code(),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    CliOut {
        code,
        stdout: std::fs::read_to_string(&out_p).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_p).unwrap_or_default(),
        what: format!("pytorrentd {}", args.join(" ")),
    }
}

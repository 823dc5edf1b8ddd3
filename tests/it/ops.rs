//! Operations (issue "NAS-ready"): systemd readiness notifications, Prometheus metrics, and
//! the packaged env file matching the variables the daemon knows.

use std::collections::BTreeSet;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::util::*;

/// Every `PYTORRENT_*` name in a text.
fn var_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("PYTORRENT_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn env_file_lists_exactly_the_variables_the_daemon_reads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let env_file = std::fs::read_to_string(root.join("packaging/pytorrentd.env")).unwrap();
    // Only `#NAME=` / `NAME=` lines declare variables; prose may mention names too.
    let declared: BTreeSet<String> = env_file
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .filter(|k| k.starts_with("PYTORRENT_"))
        .collect();
    let known: BTreeSet<String> = pytorrentd::config::KNOWN_VARS
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        declared, known,
        "packaging/pytorrentd.env and config::KNOWN_VARS differ"
    );
    // And no code reads a variable outside the list: every PYTORRENT_* literal in src/.
    let mut in_code = BTreeSet::new();
    for entry in walk(&root.join("src")) {
        let text = std::fs::read_to_string(entry).unwrap();
        // Unit tests use made-up variables on purpose.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        in_code.extend(var_names(code));
    }
    // Prefix constants and test fixtures for unknown variables are not real variables.
    in_code.retain(|v| {
        v != "PYTORRENT_" && known.iter().all(|k| !k.starts_with(v.as_str()) || k == v)
    });
    let unknown: Vec<_> = in_code.iter().filter(|v| !known.contains(*v)).collect();
    assert!(
        unknown.is_empty(),
        "variables used in src/ but not in KNOWN_VARS: {unknown:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn notify_ready_only_when_serving_and_stopping_on_sigterm() {
    let tmp = tempdir("notify");
    let sock_path = tmp.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_nonblocking(true).unwrap();
    let port = free_port();
    let mut cmd = clean_command(&daemon_bin());
    cmd.arg("serve")
        .arg("--host")
        .arg("127.0.0.1")
        .arg("--port")
        .arg(port.to_string())
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .env("PYTORRENT_DHT_ENABLE", "false")
        .env("PYTORRENT_LSD_ENABLE", "false")
        .env("PYTORRENT_BT_PORT", "0")
        .env("PYTORRENT_AUTH_ENABLE", "false")
        .env("NOTIFY_SOCKET", &sock_path)
        .stderr(std::fs::File::create(tmp.path().join("log")).unwrap());
    let mut child = KillOnDrop(cmd.spawn().unwrap());
    let client = http_client();
    let url = format!("http://127.0.0.1:{port}/api/health");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    let ready_msg = loop {
        assert!(Instant::now() < deadline, "no READY=1 within 30 s");
        match sock.recv(&mut buf) {
            Ok(n) => break String::from_utf8_lossy(&buf[..n]).to_string(),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert!(
        ready_msg.contains("READY=1"),
        "first notification: {ready_msg}"
    );
    // READY means serving: the API must answer right away.
    let r = client
        .get(&url)
        .send()
        .await
        .expect("API answers once READY=1 was sent");
    assert_eq!(r.status(), 200);

    let pid = child.0.id();
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let stopping = loop {
        assert!(Instant::now() < deadline, "no STOPPING=1 within 10 s");
        match sock.recv(&mut buf) {
            Ok(n) => {
                let m = String::from_utf8_lossy(&buf[..n]).to_string();
                if m.contains("STOPPING=1") {
                    break m;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert!(stopping.contains("STOPPING=1"));
    let status = wait_exit(&mut child.0, 10.0)
        .await
        .expect("exit within 10 s");
    assert!(status.success(), "exit status {status}");
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn parse_metrics(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).expect("metrics parse as Prometheus text")
}

fn sample<'a>(
    scrape: &'a prometheus_parse::Scrape,
    metric: &str,
    labels: &[(&str, &str)],
) -> Option<&'a prometheus_parse::Sample> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn value(s: &prometheus_parse::Sample) -> f64 {
    match s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        _ => f64::NAN,
    }
}

#[tokio::test]
async fn metrics_reflect_torrents_and_are_limited_to_allowed_ips() {
    let tmp = tempdir("metrics");
    let d = Daemon::start_with_env(
        tmp.path(),
        &[
            ("PYTORRENT_METRICS_ENABLE", "true"),
            ("PYTORRENT_METRICS_ALLOWED_IPS", "127.0.0.1/32"),
        ],
    )
    .await;
    let before = parse_metrics(
        &d.client()
            .get(d.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let paused = sample(
        &before,
        "pytorrentd_torrents",
        &[("profile", "default"), ("state", "paused")],
    )
    .map(value)
    .unwrap_or(-1.0);
    assert_eq!(paused, 0.0, "no paused torrent yet");

    let p = Payload::single(&tmp.path().join("payload"), "m.bin", 64 * 1024, &[], 16384).await;
    let (st, body) = d
        .add_torrent_bytes("default", &p.torrent, &[("paused", "true")])
        .await;
    assert_eq!(st, 201, "{body}");
    d.wait_state(&p.hash, "paused", 20).await;
    let resp = d.client().get(d.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    let text = resp.text().await.unwrap();
    let after = parse_metrics(&text);
    let paused = sample(
        &after,
        "pytorrentd_torrents",
        &[("profile", "default"), ("state", "paused")],
    )
    .map(value);
    assert_eq!(paused, Some(1.0), "{text}");
    for m in [
        "pytorrentd_download_speed_bytes",
        "pytorrentd_upload_speed_bytes",
        "pytorrentd_sockets_connected",
        "pytorrentd_logins_total",
        "pytorrentd_http_requests_total",
    ] {
        assert!(
            after.samples.iter().any(|s| s.metric == m),
            "{m} missing in\n{text}"
        );
    }
    let ok_2xx = sample(
        &after,
        "pytorrentd_http_requests_total",
        &[("status", "201")],
    )
    .map(value);
    assert!(ok_2xx >= Some(1.0), "the 201 of the add is counted: {text}");

    // From another loopback address: refused.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let r = other.get(d.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

/// The committed `docs/openapi.json` is what the code generates (regenerate with
/// `UPDATE_OPENAPI=1 cargo test --test it openapi`).
#[test]
fn committed_openapi_document_is_current() {
    use utoipa::OpenApi;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let generated = pytorrentd::http::ApiDoc::openapi()
        .to_pretty_json()
        .expect("serialize OpenAPI")
        + "\n";
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test --test it openapi` and commit it"
    );
}

/// The embedded UI: hashed files cached for good, index revalidated, SPA routes fall back to
/// the index, missing files are 404, responses compressed when the client asks.
#[tokio::test]
async fn embedded_ui_headers_fallback_and_compression() {
    let tmp = tempdir("ui-serving");
    let d = Daemon::start(tmp.path()).await;
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/assets");
    let js = std::fs::read_dir(&assets)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .find(|n| n.ends_with(".js"))
        .expect("a built .js in assets/assets");
    let c = d.client();
    let r = c
        .get(d.url(&format!("/assets/{js}")))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );

    let index = c.get(d.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let index_body = index.text().await.unwrap();
    assert!(index_body.contains(&js), "index.html loads the bundle");
    assert!(!index_body.contains("<script>"), "no inline script");

    let route = c.get(d.url("/profiles/default")).send().await.unwrap();
    assert_eq!(route.status(), 200);
    assert_eq!(route.text().await.unwrap(), index_body, "SPA fallback");

    let missing = c.get(d.url("/assets/nope-123.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

/// `PYTORRENT_LOG_FORMAT=json`: one JSON object per line; the startup line names version,
/// listen address, data dir, provider, bypass hosts and trusted proxies; risky settings warn.
#[tokio::test]
async fn json_logs_startup_line_and_risk_warnings() {
    let tmp = tempdir("json-logs");
    let mut d = Daemon::start_with_env(
        tmp.path(),
        &[
            ("PYTORRENT_LOG_FORMAT", "json"),
            ("PYTORRENT_AUTH_ENABLE", "true"),
            (
                "PYTORRENT_AUTH_BYPASS_HOSTS",
                "torrents.example.com,192.168.1.5:8090",
            ),
            ("PYTORRENT_AUTH_PROVIDER", "tinyauth"),
            ("PYTORRENT_AUTH_TRUSTED_PROXIES", "0.0.0.0/0"),
        ],
    )
    .await;
    d.stop().await;
    let log = d.log_of_run(1);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let ready = lines
        .iter()
        .find(|l| l["fields"]["message"] == "pytorrentd ready")
        .expect("startup line");
    let f = &ready["fields"];
    for key in [
        "version",
        "listen",
        "data_dir",
        "provider",
        "bypass_hosts",
        "trusted_proxies",
        "accepted_hosts",
    ] {
        assert!(!f[key].is_null(), "startup line lacks {key}: {ready}");
    }
    assert_eq!(f["provider"], "tinyauth");
    // The names the Host check accepts: localhost and the bypass host names.
    let hosts = f["accepted_hosts"].as_str().unwrap_or("");
    for name in ["localhost", "torrents.example.com", "192.168.1.5"] {
        assert!(
            hosts.split(',').any(|h| h == name),
            "accepted_hosts lacks {name}: {hosts}"
        );
    }
    let warnings: Vec<String> = lines
        .iter()
        .filter(|l| l["level"] == "WARN")
        .map(|l| l["fields"]["message"].as_str().unwrap_or("").to_string())
        .collect();
    let has = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(
        !has("PYTORRENT_AUTH_ENABLE=false"),
        "auth is on here: {warnings:?}"
    );
    assert!(
        has("torrents.example.com"),
        "public bypass entry warning: {warnings:?}"
    );
    assert!(
        !has("192.168.1.5"),
        "private bypass entries are fine: {warnings:?}"
    );
    assert!(
        has("0.0.0.0/0"),
        "wide trusted proxies warning: {warnings:?}"
    );

    // The test fixture's default daemon runs without auth: that is warned about.
    let tmp2 = tempdir("auth-off-warning");
    let mut d2 = Daemon::start(tmp2.path()).await;
    d2.stop().await;
    let log2 = d2.log_of_run(1);
    assert!(
        log2.lines()
            .any(|l| l.contains("WARN") && l.contains("PYTORRENT_AUTH_ENABLE=false")),
        "auth disabled warning:\n{log2}"
    );
}

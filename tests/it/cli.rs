//! The command line: invalid configuration stops `serve` and `config` with one line naming the
//! variable, the value and what is accepted; `config` prints every variable; the `profile`
//! commands work against a stopped daemon (redb file) and a running one (control socket).

use std::path::Path;

use serde_json::json;

use crate::util::*;

pub(crate) use crate::util::CliOut as Out;

/// Runs `pytorrentd ARGS` with a clean environment plus `env`; kills it after `secs`.
pub(crate) async fn run(dir: &Path, args: &[&str], env: &[(&str, &str)], secs: f64) -> Out {
    run_cli_in(dir, args, env, CliInput::Null, secs).await
}

/// Every configuration variable (README "Configuration").
const ALL_VARS: &[&str] = &[
    "PYTORRENT_HOST",
    "PYTORRENT_PORT",
    "PYTORRENT_DATA_DIR",
    "PYTORRENT_DOWNLOAD_DIR",
    "PYTORRENT_BT_PORT",
    "PYTORRENT_DHT_ENABLE",
    "PYTORRENT_UPNP_ENABLE",
    "PYTORRENT_LSD_ENABLE",
    "PYTORRENT_AUTH_ENABLE",
    "PYTORRENT_AUTH_PROVIDER",
    "PYTORRENT_AUTH_PROXY_USER_HEADER",
    "PYTORRENT_AUTH_PROXY_AUTO_CREATE",
    "PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE",
    "PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION",
    "PYTORRENT_AUTH_TRUSTED_PROXIES",
    "PYTORRENT_AUTH_BYPASS_HOSTS",
    "PYTORRENT_AUTH_BYPASS_USER",
    "PYTORRENT_AUTH_BYPASS_NETWORKS",
    "PYTORRENT_PROXY_FIX_ENABLE",
    "PYTORRENT_SESSION_COOKIE_SECURE",
    "PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS",
    "PYTORRENT_API_ALLOWED_ORIGINS",
    "PYTORRENT_LOGIN_MAX_FAILURES",
    "PYTORRENT_LOGIN_BAN_SECONDS",
    "PYTORRENT_METRICS_ENABLE",
    "PYTORRENT_METRICS_PATH",
    "PYTORRENT_METRICS_ALLOWED_IPS",
    "PYTORRENT_LOG",
    "PYTORRENT_LOG_FORMAT",
];

/// (variable, bad value, words the message must contain besides the variable and value)
const INVALID: &[(&str, &str, &[&str])] = &[
    (
        "PYTORRENT_AUTH_PROVIDER",
        "tinyauht",
        &["local", "tinyauth", "proxy"],
    ),
    ("PYTORRENT_DHT_ENABLE", "maybe", &["true", "false"]),
    ("PYTORRENT_LOG_FORMAT", "xml", &["text", "json"]),
    (
        "PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION",
        "write",
        &["none", "ro", "rw", "full"],
    ),
    (
        "PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE",
        "root",
        &["user", "admin"],
    ),
    ("PYTORRENT_AUTH_TRUSTED_PROXIES", "10.0.0.0/33", &[]),
    ("PYTORRENT_API_ALLOWED_ORIGINS", "not an origin", &[]),
    ("PYTORRENT_PORT", "eighty", &[]),
];

#[track_caller]
fn assert_one_line_error(ctx: &str, out: &Out, var: &str, value: &str, accepted: &[&str]) {
    assert_eq!(out.code, Some(1), "{ctx}: must exit 1\n{out}");
    let lines = out.stderr_lines();
    assert_eq!(
        lines.len(),
        1,
        "{ctx}: exactly one non-empty line on stderr\n{out}"
    );
    let line = lines[0];
    assert!(line.contains(var), "{ctx}: line must name {var}: {line:?}");
    assert!(
        line.contains(value),
        "{ctx}: line must show the value {value:?}: {line:?}"
    );
    for a in accepted {
        assert!(
            line.contains(a),
            "{ctx}: line must list accepted value {a:?}: {line:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_config_stops_serve_and_config_with_one_line() {
    let tmp = tempdir("cli-invalid");
    let root = tmp.path();
    let data = root.join("data");
    let data_s = data.to_str().unwrap().to_string();
    for (var, value, accepted) in INVALID {
        let port = free_port().to_string();
        let bt = free_port().to_string();
        let mut env: Vec<(&str, &str)> = vec![
            ("PYTORRENT_HOST", "127.0.0.1"),
            ("PYTORRENT_PORT", &port),
            ("PYTORRENT_BT_PORT", &bt),
            ("PYTORRENT_DATA_DIR", &data_s),
            ("PYTORRENT_DHT_ENABLE", "false"),
            ("PYTORRENT_LSD_ENABLE", "false"),
            ("PYTORRENT_UPNP_ENABLE", "false"),
        ];
        env.retain(|(k, _)| k != var);
        env.push((var, value));
        let out = run(root, &["serve"], &env, 10.0).await;
        assert_one_line_error(
            &format!("serve with {var}={value}"),
            &out,
            var,
            value,
            accepted,
        );
        let out = run(root, &["config"], &env, 10.0).await;
        assert_one_line_error(
            &format!("config with {var}={value}"),
            &out,
            var,
            value,
            accepted,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn config_prints_every_variable() {
    let tmp = tempdir("cli-config");
    let root = tmp.path();
    let data = root.join("data");
    let data_s = data.to_str().unwrap();
    let out = run(
        root,
        &["config"],
        &[("PYTORRENT_DATA_DIR", data_s), ("PYTORRENT_PORT", "9999")],
        10.0,
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    let mut vals = std::collections::BTreeMap::new();
    for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a NAME=value line: {line:?}\n{out}"));
        assert!(
            k.starts_with("PYTORRENT_") && k.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "bad name in {line:?}"
        );
        assert!(
            vals.insert(k.to_string(), v.to_string()).is_none(),
            "{k} printed twice\n{out}"
        );
    }
    let missing: Vec<&&str> = ALL_VARS
        .iter()
        .filter(|v| !vals.contains_key(**v))
        .collect();
    assert!(
        missing.is_empty(),
        "config does not print {missing:?}\n{out}"
    );
    let expect = [
        ("PYTORRENT_PORT", "9999"),
        ("PYTORRENT_HOST", "0.0.0.0"),
        ("PYTORRENT_DATA_DIR", data_s),
        ("PYTORRENT_BT_PORT", "6881"),
        ("PYTORRENT_DHT_ENABLE", "true"),
        ("PYTORRENT_UPNP_ENABLE", "false"),
        ("PYTORRENT_LSD_ENABLE", "true"),
        ("PYTORRENT_AUTH_ENABLE", "true"),
        ("PYTORRENT_AUTH_PROVIDER", "local"),
        ("PYTORRENT_AUTH_PROXY_USER_HEADER", "Remote-User"),
        ("PYTORRENT_AUTH_PROXY_AUTO_CREATE", "false"),
        ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE", "user"),
        ("PYTORRENT_AUTH_PROXY_AUTO_CREATE_PERMISSION", "ro"),
        ("PYTORRENT_AUTH_BYPASS_USER", "admin"),
        ("PYTORRENT_PROXY_FIX_ENABLE", "false"),
        ("PYTORRENT_SESSION_COOKIE_SECURE", "false"),
        ("PYTORRENT_LOGIN_MAX_FAILURES", "5"),
        ("PYTORRENT_LOGIN_BAN_SECONDS", "900"),
        ("PYTORRENT_METRICS_ENABLE", "false"),
        ("PYTORRENT_METRICS_PATH", "/metrics"),
        ("PYTORRENT_LOG", "info"),
        ("PYTORRENT_LOG_FORMAT", "text"),
    ];
    for (k, v) in expect {
        assert_eq!(vals.get(k).map(|s| s.trim()), Some(v), "{k}\n{out}");
    }
    let dl = vals["PYTORRENT_DOWNLOAD_DIR"].trim().to_string();
    assert_eq!(
        Path::new(&dl),
        data.join("downloads"),
        "download dir defaults to DATA_DIR/downloads\n{out}"
    );
    // Only a proxy on this machine is trusted by default (the LAN is not).
    assert_eq!(
        vals["PYTORRENT_AUTH_TRUSTED_PROXIES"].trim(),
        "127.0.0.0/8,::1/128",
        "trusted proxies default\n{out}"
    );

    // an unknown PYTORRENT_* variable is a warning, not an error
    let out = run(
        root,
        &["config"],
        &[
            ("PYTORRENT_DATA_DIR", data_s),
            ("PYTORRENT_NO_SUCH_THING", "1"),
        ],
        10.0,
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stderr.contains("PYTORRENT_NO_SUCH_THING")
            || out.stdout.contains("PYTORRENT_NO_SUCH_THING"),
        "unknown variable must be warned about\n{out}"
    );
}

fn list_ids(out: &Out) -> Vec<String> {
    out.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

#[track_caller]
fn assert_ok(ctx: &str, out: &Out) {
    assert_eq!(out.code, Some(0), "{ctx}\n{out}");
}

#[track_caller]
fn assert_cli_error(ctx: &str, out: &Out) {
    assert_eq!(out.code, Some(1), "{ctx}: must exit 1\n{out}");
    assert_eq!(
        out.stderr_lines().len(),
        1,
        "{ctx}: one line on stderr\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_cli_with_daemon_stopped() {
    let tmp = tempdir("cli-prof-stopped");
    let root = tmp.path();
    let mut d = Daemon::start(root).await;
    d.stop().await;
    let dd = d.data_dir.to_str().unwrap().to_string();
    let movies = root.join("movies");
    std::fs::create_dir_all(&movies).unwrap();
    let movies_s = movies.to_str().unwrap();
    let tv = root.join("tv");
    std::fs::create_dir_all(&tv).unwrap();

    let out = run(root, &["profile", "list", "--data-dir", &dd], &[], 15.0).await;
    assert_ok("list", &out);
    assert_eq!(list_ids(&out), ["default"], "{out}");

    let out = run(
        root,
        &[
            "profile",
            "add",
            "movies",
            "--dir",
            movies_s,
            "--max-active",
            "2",
            "--name",
            "Movies",
            "--data-dir",
            &dd,
        ],
        &[],
        15.0,
    )
    .await;
    assert_ok("add movies", &out);
    let out = run(
        root,
        &["profile", "add", "tv", "--dir", tv.to_str().unwrap()],
        &[("PYTORRENT_DATA_DIR", &dd)],
        15.0,
    )
    .await;
    assert_ok("add tv (data dir from env)", &out);
    let out = run(root, &["profile", "list", "--data-dir", &dd], &[], 15.0).await;
    assert_ok("list", &out);
    let mut ids = list_ids(&out);
    ids.sort();
    assert_eq!(ids, ["default", "movies", "tv"], "{out}");

    let out = run(
        root,
        &[
            "profile",
            "set",
            "movies",
            "--max-active",
            "3",
            "--name",
            "Films",
        ],
        &[("PYTORRENT_DATA_DIR", &dd)],
        15.0,
    )
    .await;
    assert_ok("set movies", &out);
    let out = run(
        root,
        &["profile", "delete", "tv", "--data-dir", &dd],
        &[],
        15.0,
    )
    .await;
    assert_ok("delete tv", &out);

    let missing = root.join("missing");
    let long_name = "n".repeat(200);
    let bad: Vec<(&str, Vec<&str>)> = vec![
        (
            "add with missing dir",
            vec![
                "profile",
                "add",
                "bad",
                "--dir",
                missing.to_str().unwrap(),
                "--data-dir",
                &dd,
            ],
        ),
        (
            "add with relative dir",
            vec![
                "profile",
                "add",
                "rel",
                "--dir",
                "relative/dir",
                "--data-dir",
                &dd,
            ],
        ),
        (
            "add duplicate id",
            vec![
                "profile",
                "add",
                "movies",
                "--dir",
                movies_s,
                "--data-dir",
                &dd,
            ],
        ),
        (
            "delete unknown",
            vec!["profile", "delete", "nope", "--data-dir", &dd],
        ),
        (
            "add with a 200-character name",
            vec![
                "profile",
                "add",
                "longname",
                "--dir",
                movies_s,
                "--name",
                &long_name,
                "--data-dir",
                &dd,
            ],
        ),
        (
            "set max-active above the limit",
            vec![
                "profile",
                "set",
                "movies",
                "--max-active",
                "5000",
                "--data-dir",
                &dd,
            ],
        ),
        (
            "set unknown",
            vec![
                "profile",
                "set",
                "nope",
                "--max-active",
                "1",
                "--data-dir",
                &dd,
            ],
        ),
    ];
    for (ctx, args) in &bad {
        let out = run(root, args, &[], 15.0).await;
        assert_cli_error(ctx, &out);
    }
    // limit errors state the limit
    for (ctx, limit) in [
        (
            "add with a 200-character name",
            "1-128 printable characters",
        ),
        ("set max-active above the limit", "0 (unlimited) to 1000"),
    ] {
        let args = &bad.iter().find(|b| b.0 == ctx).unwrap().1;
        let out = run(root, args, &[], 15.0).await;
        assert!(out.stderr.contains(limit), "{ctx}: {out}");
    }

    // the daemon sees what the CLI wrote
    d.start_again().await;
    let profiles = d.profiles().await;
    let ids: Vec<&str> = profiles.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&"default") && ids.contains(&"movies") && ids.len() == 2,
        "{profiles:?}"
    );
    let m = profiles.iter().find(|p| p["id"] == "movies").unwrap();
    assert_eq!(m["name"], "Films", "{m}");
    assert_eq!(m["max_active_downloads"], 3, "{m}");
    assert_eq!(
        Path::new(m["download_dir"].as_str().unwrap()),
        movies,
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_cli_with_daemon_running() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir("cli-prof-running");
    let root = tmp.path();
    let d = Daemon::start(root).await;
    let dd = d.data_dir.to_str().unwrap().to_string();
    let sock = d.data_dir.join("control.sock");
    let meta = std::fs::metadata(&sock).unwrap_or_else(|e| panic!("control socket {sock:?}: {e}"));
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "control socket mode"
    );

    let live = root.join("live");
    std::fs::create_dir_all(&live).unwrap();
    let out = run(
        root,
        &[
            "profile",
            "add",
            "live",
            "--dir",
            live.to_str().unwrap(),
            "--max-active",
            "1",
            "--data-dir",
            &dd,
        ],
        &[],
        15.0,
    )
    .await;
    assert_ok("add live", &out);
    let p = d
        .profiles()
        .await
        .into_iter()
        .find(|p| p["id"] == "live")
        .expect("profile added through the control socket is visible in the API");
    assert_eq!(p["max_active_downloads"], 1, "{p}");

    let out = run(
        root,
        &[
            "profile",
            "set",
            "live",
            "--max-active",
            "4",
            "--name",
            "Live Stuff",
            "--data-dir",
            &dd,
        ],
        &[],
        15.0,
    )
    .await;
    assert_ok("set live", &out);
    let p = d
        .profiles()
        .await
        .into_iter()
        .find(|p| p["id"] == "live")
        .unwrap();
    assert_eq!(
        (p["max_active_downloads"].clone(), p["name"].clone()),
        (json!(4), json!("Live Stuff")),
        "{p}"
    );

    let out = run(
        root,
        &["profile", "list"],
        &[("PYTORRENT_DATA_DIR", &dd)],
        15.0,
    )
    .await;
    assert_ok("list", &out);
    let mut ids = list_ids(&out);
    ids.sort();
    assert_eq!(ids, ["default", "live"], "{out}");

    let missing = root.join("missing");
    let out = run(
        root,
        &[
            "profile",
            "add",
            "bad",
            "--dir",
            missing.to_str().unwrap(),
            "--data-dir",
            &dd,
        ],
        &[],
        15.0,
    )
    .await;
    assert_cli_error("add with missing dir (running)", &out);
    let long_name = "n".repeat(200);
    let out = run(
        root,
        &[
            "profile",
            "set",
            "live",
            "--name",
            &long_name,
            "--data-dir",
            &dd,
        ],
        &[],
        15.0,
    )
    .await;
    assert_cli_error("set a 200-character name (running)", &out);
    assert!(out.stderr.contains("1-128 printable characters"), "{out}");
    let out = run(
        root,
        &[
            "profile",
            "set",
            "live",
            "--max-active",
            "5000",
            "--data-dir",
            &dd,
        ],
        &[],
        15.0,
    )
    .await;
    assert_cli_error("set max-active 5000 (running)", &out);
    assert!(out.stderr.contains("0 (unlimited) to 1000"), "{out}");

    // a profile with a torrent cannot be deleted
    let t = Payload::single(&root.join("src"), "cli.bin", 50_000, &[], 16 * 1024).await;
    d.add_torrent_ok("live", &t.torrent, &[("paused", "true")])
        .await;
    let out = run(
        root,
        &["profile", "delete", "live", "--data-dir", &dd],
        &[],
        15.0,
    )
    .await;
    assert_cli_error("delete non-empty profile", &out);
    assert!(d.profiles().await.iter().any(|p| p["id"] == "live"));
    let (st, body) = d
        .delete(&format!("/api/torrents/{}?delete_files=true", t.hash))
        .await;
    assert_eq!(st, 204, "{body}");
    let out = run(
        root,
        &["profile", "delete", "live", "--data-dir", &dd],
        &[],
        15.0,
    )
    .await;
    assert_ok("delete live", &out);
    assert!(
        !d.profiles().await.iter().any(|p| p["id"] == "live"),
        "deleted profile still listed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_cli_live_and_with_the_daemon_stopped() {
    let tmp = tempdir("cli-limits");
    let root = tmp.path();
    let mut d = Daemon::start(root).await;
    let dd = d.data_dir.to_str().unwrap().to_string();
    let limits = async |d: &Daemon| {
        let (st, s) = d.get("/api/stats").await;
        assert_eq!(st, 200, "{s}");
        s["limits"].clone()
    };
    let out = run(
        root,
        &[
            "limits",
            "set",
            "--download",
            "2M",
            "--upload",
            "512K",
            "--alt-download",
            "1MiB",
            "--data-dir",
            &dd,
        ],
        &[],
        15.0,
    )
    .await;
    assert_ok("limits set", &out);
    assert!(out.stdout.contains("download\t2.0 MiB/s"), "{out}");
    assert_eq!(
        limits(&d).await,
        json!({"dl_limit": 2 << 20, "ul_limit": 512 << 10, "alt_enabled": false})
    );
    let out = run(root, &["limits", "alt", "on", "--data-dir", &dd], &[], 15.0).await;
    assert_ok("limits alt on", &out);
    assert_eq!(
        limits(&d).await,
        json!({"dl_limit": 1 << 20, "ul_limit": 0, "alt_enabled": true})
    );
    let out = run(
        root,
        &[
            "profile",
            "set",
            "default",
            "--dl-limit",
            "768K",
            "--data-dir",
            &dd,
        ],
        &[],
        15.0,
    )
    .await;
    assert_ok("profile set --dl-limit", &out);
    let p = d
        .profiles()
        .await
        .into_iter()
        .find(|p| p["id"] == "default")
        .unwrap();
    assert_eq!(p["dl_limit"], 768 << 10, "{p}");
    // Below one block per second, or not a speed: one line, nothing changed.
    for bad in ["5K", "fast", "2X"] {
        let out = run(
            root,
            &["limits", "set", "--download", bad, "--data-dir", &dd],
            &[],
            15.0,
        )
        .await;
        assert_cli_error(&format!("limits set --download {bad}"), &out);
    }
    assert_eq!(limits(&d).await["dl_limit"], 1 << 20);

    // Stopped: read and changed in the database, in force at the next start.
    d.stop().await;
    let out = run(root, &["limits", "show", "--data-dir", &dd], &[], 15.0).await;
    assert_ok("limits show offline", &out);
    assert!(out.stdout.contains("alternative\ton"), "{out}");
    let out = run(
        root,
        &["limits", "alt", "off", "--data-dir", &dd],
        &[],
        15.0,
    )
    .await;
    assert_ok("limits alt off offline", &out);
    d.start_again().await;
    assert_eq!(
        limits(&d).await,
        json!({"dl_limit": 2 << 20, "ul_limit": 512 << 10, "alt_enabled": false})
    );
}

//! Security hardening against the real binary (docs/security.md): the cost of logins under a
//! flood (failures counted before hashing, bounded memory), Engine.IO sessions that only their
//! opener can use, and a 200-byte `DATA_DIR` with its control socket.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{Out, run};
use crate::util::*;

/// A daemon with local logins; returns it and the generated admin password from its log.
async fn local_auth_daemon(root: &std::path::Path, env: &[(&str, &str)]) -> (Daemon, String) {
    let mut all = vec![("PYTORRENT_AUTH_ENABLE", "true")];
    all.extend_from_slice(env);
    let d = Daemon::start_with_env(root, &all).await;
    let log = d.log_of_run(1);
    let pw = log
        .split("password '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no generated admin password in the log:\n{log}"))
        .to_owned();
    (d, pw)
}

fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(ip)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

async fn login(c: &reqwest::Client, d: &Daemon, user: &str, pw: &str) -> reqwest::Response {
    c.post(d.url("/api/auth/login"))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .expect("login request")
}

async fn wrong_login(c: reqwest::Client, url: String) -> reqwest::Response {
    c.post(url)
        .json(&json!({"username": "admin", "password": "wrong password"}))
        .send()
        .await
        .expect("login request")
}

/// `VmHWM` (peak resident memory) of a process, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in\n{status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_floods_are_counted_before_hashing_and_bounded_in_memory() {
    let tmp = tempdir("login-cost");
    let (d, _pw) = local_auth_daemon(tmp.path(), &[("PYTORRENT_LOGIN_MAX_FAILURES", "5")]).await;

    eprintln!(
        "peak RSS before any login: {} MiB",
        vm_hwm_kib(d.pid()) / 1024
    );
    // 60 wrong passwords at once from one address: at most 5 are checked (401), the others
    // are refused without a check.
    let one = client_from("127.0.0.1".parse().unwrap());
    let url = d.url("/api/auth/login");
    let burst = (0..60).map(|_| wrong_login(one.clone(), url.clone()));
    let answers = futures_join_all(burst).await;
    let mut counts = std::collections::BTreeMap::new();
    for r in &answers {
        *counts.entry(r.status().as_u16()).or_insert(0) += 1;
    }
    let checked = counts.get(&401).copied().unwrap_or(0);
    assert!(
        (1..=5).contains(&checked),
        "60 concurrent wrong logins: {checked} were checked (401), at most 5 may be; statuses {counts:?}"
    );
    assert_eq!(
        checked + counts.get(&429).copied().unwrap_or(0) + counts.get(&503).copied().unwrap_or(0),
        60,
        "every other answer is 429 or 503: {counts:?}"
    );

    eprintln!(
        "peak RSS after the one-address burst: {} MiB",
        vm_hwm_kib(d.pid()) / 1024
    );
    // 80 logins at once from 80 addresses, each below its own limit: hashing is bounded, so
    // memory is too; what the pool cannot take is answered 503 with Retry-After.
    let many =
        (2..82u8).map(|i| wrong_login(client_from(IpAddr::from([127, 0, 0, i])), url.clone()));
    let answers = futures_join_all(many).await;
    let mut counts = std::collections::BTreeMap::new();
    for r in &answers {
        let st = r.status().as_u16();
        *counts.entry(st).or_insert(0) += 1;
        if st == 503 {
            assert!(
                r.headers().get("retry-after").is_some(),
                "503 without Retry-After"
            );
        }
    }
    assert_eq!(
        counts.get(&401).copied().unwrap_or(0) + counts.get(&503).copied().unwrap_or(0),
        80,
        "80 addresses: only 401 and 503 answers: {counts:?}"
    );
    let peak = vm_hwm_kib(d.pid());
    eprintln!(
        "80 concurrent logins: statuses {counts:?}, peak RSS {} MiB",
        peak / 1024
    );
    assert!(
        peak < 200 * 1024,
        "peak RSS after 80 concurrent logins is {} MiB (limit 200 MiB)",
        peak / 1024
    );
}

/// `join_all` without the futures crate: spawn each on the runtime and await in order.
async fn futures_join_all<F, T>(futs: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Engine.IO sessions
// ---------------------------------------------------------------------------------------------

struct Poll<'a> {
    d: &'a Daemon,
    c: reqwest::Client,
}

impl Poll<'_> {
    fn url(&self, sid: Option<&str>) -> String {
        let mut u = self.d.url("/socket.io/?EIO=4&transport=polling");
        if let Some(s) = sid {
            u.push_str("&sid=");
            u.push_str(s);
        }
        u
    }

    async fn get(&self, sid: Option<&str>, cookie: Option<&str>) -> (u16, String) {
        let mut r = self.c.get(self.url(sid));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        let resp = r.send().await.expect("poll GET");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    }

    async fn post(&self, sid: &str, cookie: Option<&str>, body: &str) -> (u16, String) {
        let mut r = self
            .c
            .post(self.url(Some(sid)))
            .header("content-type", "text/plain;charset=UTF-8")
            .body(body.to_owned());
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        let resp = r.send().await.expect("poll POST");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_sessions_serve_only_the_identity_that_opened_them() {
    let tmp = tempdir("feed-sid");
    let (d, pw) = local_auth_daemon(tmp.path(), &[]).await;
    let c = http_client();
    let r = login(&c, &d, "admin", &pw).await;
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned();
    // Something only the victim may read.
    let src = tempdir("feed-sid-src");
    let p = Payload::single(src.path(), "victims-private-film.mkv", 30_000, &[], 16_384).await;
    let form = reqwest::multipart::Form::new()
        .part(
            "torrent",
            reqwest::multipart::Part::bytes(p.torrent.clone()).file_name("t.torrent"),
        )
        .text("paused", "true");
    let added = c
        .post(d.url("/api/profiles/default/torrents"))
        .header("cookie", &cookie)
        .multipart(form)
        .send()
        .await
        .expect("add");
    assert_eq!(added.status(), 201);

    let poll = Poll {
        d: &d,
        c: c.clone(),
    };
    let (st, open) = poll.get(None, Some(&cookie)).await;
    assert_eq!(st, 200, "handshake: {open}");
    let sid = open
        .strip_prefix('0')
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .and_then(|v| v["sid"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no sid in the open packet {open}"));

    // Someone who knows the sid but not the cookie: refused every time, in any order.
    let forged =
        "pytorrent_session=0000000000000000000000000000000000000000000000000000000000000000";
    for (what, cookie) in [
        ("no cookie", None),
        ("a forged cookie", Some(forged)),
        ("no cookie again", None),
    ] {
        let (st, body) = poll.post(&sid, cookie, "40").await;
        assert!(st == 401 || st == 403, "connect with {what}: {st} {body}");
        let (st, body) = poll.get(Some(&sid), cookie).await;
        assert!(st == 401 || st == 403, "poll with {what}: {st} {body}");
    }

    // The opener connects and subscribes.
    let (st, body) = poll.post(&sid, Some(&cookie), "40").await;
    assert_eq!((st, body.as_str()), (200, "ok"));
    wait_for(10, "the connect acknowledgement", async || {
        let (st, body) = poll.get(Some(&sid), Some(&cookie)).await;
        if st == 200 && body.contains("40{") {
            Ok(())
        } else {
            Err(format!("{st} {body}"))
        }
    })
    .await;
    let (st, _) = poll
        .post(
            &sid,
            Some(&cookie),
            r#"42["subscribe",{"profile":"default"}]"#,
        )
        .await;
    assert_eq!(st, 200);
    // The snapshot is waiting in the session: a request without the cookie does not get it.
    for _ in 0..3 {
        let (st, body) = poll.get(Some(&sid), None).await;
        assert!(st == 401 || st == 403, "stolen poll: {st} {body}");
        assert!(
            !body.contains("victims-private-film"),
            "the snapshot leaked: {body}"
        );
        let (st, body) = poll
            .post(&sid, None, r#"42["subscribe",{"profile":"default"}]"#)
            .await;
        assert!(st == 401 || st == 403, "stolen subscribe: {st} {body}");
    }
    // And the opener does (so the refusals above were about identity, not timing).
    let snapshot = wait_for(10, "the opener's snapshot", async || {
        let (st, body) = poll.get(Some(&sid), Some(&cookie)).await;
        if st == 200 && body.contains("torrents:snapshot") {
            Ok(body)
        } else {
            Err(format!("{st} {body}"))
        }
    })
    .await;
    assert!(snapshot.contains("victims-private-film"), "{snapshot}");
}

// ---------------------------------------------------------------------------------------------
// Long DATA_DIR
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_byte_data_dir_works_with_the_control_socket() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir("long");
    let base = tmp.path().to_string_lossy().len();
    // Daemon::start puts the data in ROOT/data: make that path 200 bytes long.
    let root = tmp.path().join("d".repeat(200 - base - "/data".len() - 1));
    std::fs::create_dir_all(&root).unwrap();
    let d = Daemon::start(&root).await;
    let dd = d.data_dir.to_string_lossy().into_owned();
    assert_eq!(dd.len(), 200, "{dd}");
    let sock = d.data_dir.join("control.sock");
    let mode = std::fs::metadata(&sock)
        .unwrap_or_else(|e| panic!("control socket {sock:?}: {e}"))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // The database is locked by the daemon, so these succeed only over the socket.
    let dl = root.join("fam");
    std::fs::create_dir_all(&dl).unwrap();
    let ok = |what: &str, out: &Out| assert_eq!(out.code, Some(0), "{what}\n{out}");
    let out = run(
        &root,
        &[
            "profile",
            "add",
            "fam",
            "--dir",
            dl.to_str().unwrap(),
            "--data-dir",
            &dd,
        ],
        &[],
        15.0,
    )
    .await;
    ok("profile add", &out);
    let out = run(&root, &["user", "add", "kid", "--data-dir", &dd], &[], 15.0).await;
    ok("user add", &out);
    let out = run(&root, &["user", "list", "--data-dir", &dd], &[], 15.0).await;
    ok("user list", &out);
    assert!(out.stdout.contains("kid"), "{out}");
    assert!(
        d.profiles().await.iter().any(|p| p["id"] == "fam"),
        "the running daemon knows the new profile"
    );
}

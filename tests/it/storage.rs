//! The database under faults (docs/reliability.md): a full `DATA_DIR` gives 507 with
//! `Retry-After` and a degraded health check, and everything works again once space
//! returns, without a restart; a missing, empty, damaged or newer database is refused at
//! start with one line and left byte for byte as it was; unreadable records are quarantined
//! and the rest is served; `pytorrentd check` reports what is readable.

use std::fs;
use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use crate::faults::*;
use crate::util::*;

/// Answers allowed while the data disk is full: success, or the storage errors. Never a
/// 500, never a dropped connection.
#[track_caller]
fn assert_ok_or_storage(ctx: &str, got: &(u16, Value)) {
    let (st, body) = got;
    let ok = (200..300).contains(st)
        || (*st == 507 && err_code(body) == "insufficient_storage")
        || (*st == 503 && err_code(body) == "storage_unavailable");
    assert!(ok, "{ctx} while the disk is full: {st} {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn full_data_dir_gives_507_then_everything_works_again_without_restart() {
    let tmp = tempdir("datadir-full");
    let root = tmp.path();
    let disk = Tmpfs::mount(&root.join("data"), "16m");
    let mut d = Daemon::start_with_env(root, &[("PYTORRENT_AUTH_ENABLE", "true")]).await;
    let pw = first_admin_password(&d);
    let s = Session {
        d: &d,
        cookie: login(&d, "admin", &pw).await.expect("first login"),
    };

    let (first, _) = s.upload("default", &synthetic_torrent("first", 64)).await;
    assert_eq!(first.0, 201, "upload before the disk is full: {}", first.1);
    let first_hash = first.1["added"][0]["hash"].as_str().unwrap().to_owned();

    let filler = disk.fill("filler");
    assert!(disk.free_bytes() < 64 * 1024, "tmpfs not full");

    // ~1.2 MiB of piece hashes: the commit needs fresh pages on the full disk.
    let big = synthetic_torrent("big", 60_000);
    let ((st, body), retry) = s.upload("default", &big).await;
    assert_error(
        "upload on a full DATA_DIR",
        &(st, body.clone()),
        507,
        "insufficient_storage",
    );
    let msg = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("disk is full") && !msg.contains(&*root.to_string_lossy()),
        "the message says what happened and leaks no path: {msg}"
    );
    assert!(retry.is_some(), "507 carries Retry-After");

    let (hst, health) = d.get("/api/health").await;
    assert_eq!(
        (hst, health["status"].as_str()),
        (503, Some("degraded")),
        "health while writes fail: {health}"
    );
    assert!(
        health["store"].as_str().unwrap_or("").contains("no space"),
        "health names the cause: {health}"
    );

    // Other requests while full: answered, never a 500.
    let label = json!({"label": "during"});
    assert_ok_or_storage(
        "PATCH",
        &s.send(
            Method::PATCH,
            &format!("/api/torrents/{first_hash}"),
            Some(label),
        )
        .await,
    );
    assert_ok_or_storage(
        "token",
        &s.send(Method::POST, "/api/tokens", Some(json!({"name": "t0"})))
            .await,
    );
    let l = login(&d, "admin", &pw).await;
    if let Err(got) = &l {
        assert_ok_or_storage("login", got);
    }
    let (lst, list) = s
        .send(Method::GET, "/api/profiles/default/torrents", None)
        .await;
    assert_eq!(lst, 200, "reads keep working: {list}");

    fs::remove_file(&filler).unwrap();

    // Everything works again, in the same process.
    let ((st, body), _) = s.upload("default", &big).await;
    assert_eq!(st, 201, "upload after space returned: {body}");
    let big_hash = body["added"][0]["hash"].as_str().unwrap().to_owned();
    let (st, body) = s
        .send(
            Method::PATCH,
            &format!("/api/torrents/{big_hash}"),
            Some(json!({"label": "after"})),
        )
        .await;
    assert_eq!(st, 200, "PATCH after space returned: {body}");
    let (st, body) = s
        .send(Method::DELETE, &format!("/api/torrents/{first_hash}"), None)
        .await;
    assert!(
        (200..300).contains(&st),
        "DELETE after space returned: {st} {body}"
    );
    let (st, body) = s
        .send(Method::POST, "/api/tokens", Some(json!({"name": "after"})))
        .await;
    assert_eq!(st, 201, "token creation after space returned: {body}");
    let again = login(&d, "admin", &pw).await;
    assert!(again.is_ok(), "login after space returned: {again:?}");
    wait_for(10, "health back to ok", async || {
        let (st, b) = d.get("/api/health").await;
        if st == 200 && b == json!({"status": "ok"}) {
            Ok(())
        } else {
            Err(format!("{st} {b}"))
        }
    })
    .await;
    assert_eq!(d.pid(), d.pid(), "same process");

    // And it was all durable: after a restart exactly the acknowledged state is there.
    d.restart().await;
    let s = Session {
        d: &d,
        cookie: login(&d, "admin", &pw).await.expect("login after restart"),
    };
    let (_, list) = s
        .send(Method::GET, "/api/profiles/default/torrents", None)
        .await;
    let rows: Vec<(String, Value)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["hash"].as_str().unwrap().to_owned(), r["label"].clone()))
        .collect();
    assert_eq!(rows, vec![(big_hash, json!("after"))], "{list}");
    drop(d);
    drop(disk);
}

/// A data dir holding an engine state (session.json, fast-resume files) next to a missing or
/// empty database: `serve` refuses with one line naming the files and the ways out, the CLI
/// creates nothing, and nothing under the data dir changes; `--reinitialize` starts fresh
/// with the old state moved aside.
#[tokio::test(flavor = "multi_thread")]
async fn engine_state_without_database_is_refused_and_never_wiped() {
    let tmp = tempdir("no-db");
    let root = tmp.path();
    let mut d = Daemon::start(root).await;
    let p = Payload::single(&root.join("src"), "a.bin", 100_000, &[], 16_384).await;
    d.add_torrent_ok("default", &p.torrent, &[]).await;
    wait_for(20, "fast-resume file written", async || {
        if d.data_dir.join(format!("engine/{}.bitv", p.hash)).exists() {
            Ok(())
        } else {
            Err("no .bitv yet".into())
        }
    })
    .await;
    d.kill9();
    let db = d.data_dir.join("pytorrentd.redb");

    for (case, empty) in [("missing", false), ("empty", true)] {
        fs::remove_file(&db).ok();
        if empty {
            fs::write(&db, b"").unwrap();
        }
        let before = tree_digest(&d.data_dir);
        let out = run_cli(
            root,
            &d,
            &[
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                &free_port().to_string(),
            ],
        )
        .await;
        assert_eq!(out.code, Some(1), "{case}: serve must refuse\n{out}");
        let line = out.one_error_line(case);
        for needle in [
            db.to_str().unwrap(),
            "engine",
            if empty { "empty (0 bytes)" } else { "missing" },
            "backup",
            "--reinitialize",
        ] {
            assert!(
                line.contains(needle),
                "{case}: message lacks {needle:?}: {line}"
            );
        }
        let out = run_cli(root, &d, &["user", "list"]).await;
        assert_eq!(out.code, Some(1), "{case}: user list must fail\n{out}");
        out.one_error_line(case);
        assert_eq!(
            before,
            tree_digest(&d.data_dir),
            "{case}: the data dir changed"
        );
    }

    // The way out: start over, with the old engine state kept aside.
    d.extra_args = vec!["--reinitialize".into()];
    d.start_again().await;
    assert!(d.torrents("default").await.is_empty());
    let aside: Vec<String> = fs::read_dir(&d.data_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("engine.set-aside-"))
        .collect();
    assert_eq!(aside.len(), 1, "engine dir moved aside: {aside:?}");
    assert!(
        d.data_dir
            .join(&aside[0])
            .join(format!("{}.bitv", p.hash))
            .exists(),
        "fast-resume file kept"
    );
}

/// SHA-256 of every file under `dir` (relative path → digest).
fn tree_digest(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in fs::read_dir(&p).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, sha256_file(&path)));
            }
        }
    }
    out.sort();
    out
}

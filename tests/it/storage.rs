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

/// Flips a byte inside every copy of `needle` (a record's bytes) in the file: redb is
/// copy-on-write, so stale copies may sit in free pages; one of them is the live record,
/// whose page checksum then no longer matches.
fn flip_record_bytes(bytes: &mut [u8], needle: &[u8]) {
    let spots: Vec<usize> = bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(at, _)| at + needle.len() / 2)
        .collect();
    assert!(
        !spots.is_empty(),
        "record bytes not found in the database file"
    );
    for at in spots {
        bytes[at] ^= 0x01;
    }
}

/// Sets `meta/schema_version` with redb directly, as a newer pytorrentd would have.
fn set_schema_version(db: &Path, v: &str) {
    let meta: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("meta");
    let db = redb::Database::open(db).expect("open with redb");
    let tx = db.begin_write().unwrap();
    tx.open_table(meta)
        .unwrap()
        .insert("schema_version", v)
        .unwrap();
    tx.commit().unwrap();
}

/// A truncated file, a flipped byte in a used page, a 0-byte file and a newer schema: each
/// makes `serve` (and the CLI) refuse with one line and exit 1, and the file keeps every
/// byte; `pytorrentd check` reports what is readable. With the good file back, all is there.
#[tokio::test(flavor = "multi_thread")]
async fn damaged_or_newer_database_is_refused_and_left_byte_for_byte() {
    let tmp = tempdir("db-damaged");
    let root = tmp.path();
    let mut d = Daemon::start(root).await;
    let mut hashes = Vec::new();
    for i in 0..3 {
        let p = Payload::single(&root.join("src"), &format!("f{i}.bin"), 50_000, &[], 16_384).await;
        d.add_torrent_ok("default", &p.torrent, &[("label", "keep")])
            .await;
        hashes.push(p.hash);
    }
    hashes.sort();
    d.stop().await;
    let db = d.data_dir.join("pytorrentd.redb");
    let good = fs::read(&db).unwrap();

    // Reading a sound database from the CLI changes nothing either.
    let before = sha256_file(&db);
    let out = run_cli(root, &d, &["user", "list"]).await;
    assert_eq!(out.code, Some(0), "user list on a sound database\n{out}");
    let out = run_cli(root, &d, &["check"]).await;
    assert_eq!(out.code, Some(0), "check of a sound database\n{out}");
    assert!(
        out.stdout.contains("torrents: 3 readable") && out.stdout.contains("result: ok"),
        "check report\n{out}"
    );
    assert_eq!(
        before,
        sha256_file(&db),
        "user list / check modified the file"
    );

    let newer = {
        let scratch = root.join("scratch.redb");
        fs::write(&scratch, &good).unwrap();
        set_schema_version(&scratch, "99");
        fs::read(&scratch).unwrap()
    };
    let mut flipped = good.clone();
    flip_record_bytes(&mut flipped, hashes[1].as_bytes());
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            &["damaged", "backup", "pytorrentd check", "--reinitialize"],
        ),
        (
            "flipped",
            flipped,
            &["damaged", "backup", "pytorrentd check", "--reinitialize"],
        ),
        (
            "zero-length",
            Vec::new(),
            &["empty (0 bytes)", "backup", "--reinitialize"],
        ),
        (
            "newer schema",
            newer,
            &["schema version 99", "newer", "backup", "pytorrentd check"],
        ),
    ];
    for (case, bytes, words) in cases {
        fs::write(&db, &bytes).unwrap();
        let sha = sha256_file(&db);
        let port = free_port().to_string();
        let out = run_cli(root, &d, &["serve", "--host", "127.0.0.1", "--port", &port]).await;
        assert_eq!(out.code, Some(1), "{case}: serve must refuse\n{out}");
        let line = out.one_error_line(case);
        assert!(
            line.contains(db.to_str().unwrap()),
            "{case}: names the file: {line}"
        );
        for w in words {
            assert!(line.contains(w), "{case}: message lacks {w:?}: {line}");
        }
        assert_eq!(sha, sha256_file(&db), "{case}: serve modified the file");

        let out = run_cli(root, &d, &["user", "list"]).await;
        assert_eq!(out.code, Some(1), "{case}: user list must refuse\n{out}");
        out.one_error_line(case);
        let out = run_cli(root, &d, &["check"]).await;
        assert_eq!(out.code, Some(1), "{case}: check reports a problem\n{out}");
        assert!(
            out.stdout.contains("PROBLEMS FOUND") && !out.stderr.contains("panicked"),
            "{case}: check output\n{out}"
        );
        if case == "newer schema" {
            assert!(out.stdout.contains("torrents: 3 readable"), "{case}\n{out}");
        }
        assert_eq!(sha, sha256_file(&db), "{case}: the CLI modified the file");
        assert!(
            !fs::read_dir(&d.data_dir)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains("set-aside")),
            "{case}: nothing may be moved without --reinitialize"
        );
    }

    fs::write(&db, &good).unwrap();
    d.start_again().await;
    let mut got: Vec<String> = d
        .torrents("default")
        .await
        .iter()
        .map(|r| r["hash"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, hashes, "the good file serves every torrent");
}

/// One torrent record that does not decode (written into the real redb file) is moved to
/// quarantine at start and logged; the daemon serves the rest, and `pytorrentd check`
/// lists the quarantined record.
#[tokio::test(flavor = "multi_thread")]
async fn unreadable_torrent_record_is_quarantined_and_the_rest_served() {
    let tmp = tempdir("db-quarantine");
    let root = tmp.path();
    let mut d = Daemon::start(root).await;
    let a = Payload::single(&root.join("src"), "a.bin", 40_000, &[], 16_384).await;
    let b = Payload::single(&root.join("src"), "b.bin", 40_000, &[], 16_384).await;
    d.add_torrent_ok("default", &a.torrent, &[]).await;
    d.add_torrent_ok("default", &b.torrent, &[]).await;
    d.stop().await;

    let db_path = d.data_dir.join("pytorrentd.redb");
    {
        let torrents: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("torrents");
        let db = redb::Database::open(&db_path).expect("open with redb");
        let tx = db.begin_write().unwrap();
        tx.open_table(torrents)
            .unwrap()
            .insert(b.hash.as_str(), &b"{\"hash\": \"truncated reco"[..])
            .unwrap();
        tx.commit().unwrap();
    }

    d.start_again().await;
    let rows = d.torrents("default").await;
    let hashes: Vec<&str> = rows.iter().map(|r| r["hash"].as_str().unwrap()).collect();
    assert_eq!(
        hashes,
        vec![a.hash.as_str()],
        "the readable torrent is served"
    );
    let log = d.log_of_run(2);
    assert!(
        log.lines()
            .any(|l| l.contains("quarantine") && l.contains(&b.hash)),
        "the quarantined record is logged:\n{log}"
    );
    d.stop().await;

    let out = run_cli(root, &d, &["check"]).await;
    assert_eq!(
        out.code,
        Some(1),
        "check reports the quarantined record\n{out}"
    );
    assert!(
        out.stdout.contains("quarantined: 1")
            && out.stdout.contains(&format!("torrents/{}", b.hash)),
        "check lists it\n{out}"
    );
    // A second start serves the same (the record stays in quarantine, nothing new logged).
    d.start_again().await;
    assert_eq!(d.torrents("default").await.len(), 1);
}

/// A read-only data directory: `serve` refuses with one clear line (no panic), while the
/// read-only CLI commands still work.
#[tokio::test(flavor = "multi_thread")]
async fn read_only_data_dir_is_refused_clearly() {
    let tmp = tempdir("db-readonly");
    let root = tmp.path();
    let disk = Tmpfs::mount(&root.join("data"), "16m");
    let mut d = Daemon::start(root).await;
    d.stop().await;
    let st = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&disk.path)
        .status()
        .unwrap();
    assert!(st.success(), "remount read-only");
    let port = free_port().to_string();
    let out = run_cli(root, &d, &["serve", "--host", "127.0.0.1", "--port", &port]).await;
    assert_eq!(out.code, Some(1), "serve on a read-only data dir\n{out}");
    let line = out.one_error_line("read-only");
    assert!(
        line.contains("not writable") && line.contains(d.data_dir.to_str().unwrap()),
        "names the directory and the problem: {line}"
    );
    let out = run_cli(root, &d, &["user", "list"]).await;
    assert_eq!(
        out.code,
        Some(0),
        "user list on a read-only data dir\n{out}"
    );
    assert!(out.stdout.contains("admin"), "{out}");
    let out = run_cli(root, &d, &["check"]).await;
    assert_eq!(out.code, Some(0), "check on a read-only data dir\n{out}");
    drop(d);
    drop(disk);
}

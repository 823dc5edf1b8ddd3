//! Backup and restore (README "Backup and restore"): a backup taken while a download runs
//! (`pytorrentd backup` through the control socket, and the admin download), restored into a
//! fresh data directory: the same users (their logins work), profiles, torrents with their
//! states, labels, limits and settings; completed data is not hashed again. A data directory
//! with a database is refused unless `--force`, which moves it aside.

use serde_json::{Value, json};

use crate::cli::run;
use crate::restart::FULL_HASH_LINE;
use crate::util::*;

const KIB: usize = 1024;

/// `pytorrentd restore FILE [--force] --data-dir DIR`.
async fn restore(
    root: &std::path::Path,
    file: &std::path::Path,
    dir: &std::path::Path,
    force: bool,
) -> crate::cli::Out {
    let (file, dir) = (file.to_str().unwrap(), dir.to_str().unwrap());
    let mut args = vec!["restore", file, "--data-dir", dir];
    if force {
        args.push("--force");
    }
    run(root, &args, &[], 60.0).await
}

fn summary(rows: &[Value]) -> Vec<Value> {
    let mut v: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"hash": r["hash"], "labels": r["labels"], "dl_limit": r["dl_limit"],
                   "share": r["share"], "paused": r["paused"], "name": r["name"]})
        })
        .collect();
    v.sort_by(|a, b| a["hash"].as_str().cmp(&b["hash"].as_str()));
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_downloading_restores_everything() {
    let tmp = tempdir("backup");
    let root = tmp.path();
    let done = Payload::single(&root.join("src-done"), "done.bin", 2048 * KIB, &[], 65_536).await;
    let busy = Payload::single(&root.join("src-busy"), "busy.bin", 8192 * KIB, &[], 65_536).await;
    let seeder = Aria2::seed(
        root,
        "seeder",
        &busy.torrent_path,
        &busy.parent,
        Some("256K"),
    )
    .await;
    let mut d = Daemon::start(root).await;
    let tv = root.join("tv");
    d.create_profile("tv", &tv, 2).await;
    let (st, b) = d
        .patch_json(
            "/api/profiles/tv",
            &json!({"dl_limit": 1 << 20, "ratio_limit": 2.0}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = d
        .post_json(
            "/api/users",
            &json!({"username": "eve", "password": "eve-password-1", "role": "user", "permissions": {"tv": "ro"}}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = d
        .patch_json(
            "/api/settings",
            &json!({"speed": {"ul_limit": 3 << 20, "alt_dl_limit": 1 << 20}, "share": {"seed_time_limit": 600}}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    done.copy_into(&tv);
    d.add_torrent_ok("tv", &done.torrent, &[("labels", "kept")])
        .await;
    d.wait_complete(&done.hash, 30).await;
    d.patch_torrent(
        &done.hash,
        &json!({"labels": ["kept", "second"], "ul_limit": 65536}),
    )
    .await;
    d.add_torrent_ok(
        "default",
        &busy.torrent,
        &[("peers", &seeder.addr().to_string())],
    )
    .await;
    wait_for(30, "the download under way", async || {
        let r = d.torrent(&busy.hash).await;
        if r["downloaded"].as_u64().unwrap_or(0) > 256 * 1024 {
            Ok(())
        } else {
            Err(r.to_string())
        }
    })
    .await;
    let before_tv = summary(&d.torrents("tv").await);
    let before_default = summary(&d.torrents("default").await);
    let (_, settings_before) = d.get("/api/settings").await;
    let profiles_before = d.profiles().await;

    // While it downloads: the CLI through the control socket, and the admin download.
    let file = root.join("nightly.tar.gz");
    let dd = d.data_dir.to_str().unwrap().to_string();
    let out = run(
        root,
        &["backup", file.to_str().unwrap(), "--data-dir", &dd],
        &[],
        60.0,
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("backup written"), "{out}");
    let resp = d.client().get(d.url("/api/backup")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/gzip");
    let downloaded = resp.bytes().await.unwrap();
    assert_eq!(&downloaded[..2], &[0x1f, 0x8b], "gzip");
    let file2 = root.join("downloaded.tar.gz");
    std::fs::write(&file2, &downloaded).unwrap();
    d.stop().await;

    // Restored into a fresh data directory, then started with logins on.
    let root2 = root.join("second");
    let dd2 = root2.join("data");
    let out = restore(root, &file, &dd2, false).await;
    assert_eq!(out.code, Some(0), "{out}");
    let out = restore(root, &file2, &dd2, false).await;
    assert_eq!(
        out.code,
        Some(1),
        "a data directory with a database is refused: {out}"
    );
    assert!(out.stderr.contains("--force"), "{out}");
    let out = restore(root, &file2, &dd2, true).await;
    assert_eq!(out.code, Some(0), "{out}");
    let aside: Vec<_> = std::fs::read_dir(&dd2)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "the replaced state is kept");
    // Not a backup: refused with one line, nothing changed.
    let junk = root.join("junk.tar.gz");
    std::fs::write(&junk, b"not a backup").unwrap();
    let out = restore(root, &junk, &dd2, true).await;
    assert_eq!(out.code, Some(1), "{out}");

    let d2 = Daemon::start_with_env(&root2, &[("PYTORRENT_AUTH_ENABLE", "true")]).await;
    let cookie = crate::faults::login(&d2, "eve", "eve-password-1").await;
    assert!(cookie.is_ok(), "eve logs in after the restore: {cookie:?}");
    let admin = d2
        .client()
        .get(d2.url("/api/profiles/tv/torrents"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        admin.status(),
        401,
        "logins are on: the restored users are needed"
    );
    drop(d2);
    let d3 = Daemon::start(&root2).await;
    let (_, settings_after) = d3.get("/api/settings").await;
    assert_eq!(settings_after["speed"], settings_before["speed"]);
    assert_eq!(settings_after["share"], settings_before["share"]);
    assert_eq!(d3.profiles().await, profiles_before);
    let row = d3.wait_state(&done.hash, "seeding", 30).await;
    assert_eq!(row["progress"], 1.0, "{row}");
    assert_eq!(summary(&d3.torrents("tv").await), before_tv);
    assert_eq!(summary(&d3.torrents("default").await), before_default);
    // The download continues from where the backup saw it.
    d3.wait_complete(&busy.hash, 90).await;
    busy.assert_in(
        &d3.download_dir
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("downloads"),
        None,
    );
    let log = d3.log_of_run(1);
    let rehash: Vec<&str> = log.lines().filter(|l| l.contains(FULL_HASH_LINE)).collect();
    assert!(
        rehash.is_empty(),
        "completed data hashed again:\n{}",
        rehash.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn daily_backups_go_to_a_folder_and_the_oldest_are_removed() {
    let tmp = tempdir("backup-schedule");
    let root = tmp.path();
    let d = Daemon::start(root).await;
    let dir = root.join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), b"not ours").unwrap();
    for bad in [
        json!({"enabled": true}),
        json!({"dir": "relative/path"}),
        json!({"dir": root.join("missing")}),
        json!({"dir": dir, "keep": 0}),
    ] {
        let r = d
            .patch_json("/api/settings", &json!({ "backup": bad }))
            .await;
        assert_error(&format!("backup {bad}"), &r, 400, "invalid_input");
    }
    let (st, s) = d
        .patch_json(
            "/api/settings",
            &json!({"backup": {"enabled": true, "dir": dir, "keep": 2}}),
        )
        .await;
    assert_eq!(st, 200, "{s}");
    assert_eq!(s["backup"]["keep"], 2, "{s}");
    let ours = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("pytorrentd-backup-") && n.ends_with(".tar.gz"))
            .collect();
        v.sort();
        v
    };
    // Never run: the schedule's next check (every 30 s) writes one.
    wait_for(45, "the first daily backup", async || {
        if ours().len() == 1 {
            Ok(())
        } else {
            Err(format!("{:?}", ours()))
        }
    })
    .await;
    // Two more by hand: two are kept, the oldest goes, other files stay.
    for _ in 0..2 {
        let (st, b) = d.post_empty("/api/backup").await;
        assert_eq!(st, 200, "{b}");
    }
    let kept = ours();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(dir.join("notes.txt").exists());
    let (_, s) = d.get("/api/settings").await;
    assert_eq!(s["backup_status"]["last_file"], json!(kept[1]), "{s}");
    assert!(s["backup_status"]["last_error"].is_null(), "{s}");
    // Each is a backup the restore takes.
    let out = restore(root, &dir.join(&kept[1]), &root.join("restored"), false).await;
    assert_eq!(out.code, Some(0), "{out}");
}

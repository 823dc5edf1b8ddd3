//! Move on completion (README "Move on completion"): a profile's `complete_dir` receives a
//! torrent's data when it completes (here on another filesystem, so the data is copied),
//! byte for byte, and the torrent seeds from there to a real aria2c leecher, also after a
//! restart; a move that fails (a read-only destination) leaves it seeding where it was with
//! the error in its row.

use std::process::Command;

use serde_json::json;

use crate::faults::Tmpfs;
use crate::util::*;

const KIB: usize = 1024;

#[tokio::test(flavor = "multi_thread")]
async fn completed_data_moves_and_keeps_seeding() {
    let tmp = tempdir("complete-move");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    let announce = tracker.announce_url();
    let p = Payload::multi(
        &root.join("src"),
        "Show S01",
        &[("e01.mkv", 1500 * KIB + 17), ("extras/notes.txt", 3 * KIB)],
        std::slice::from_ref(&announce),
        65_536,
    )
    .await;
    tracker.start(&[&p.hash]).await;
    let done = Tmpfs::mount(&root.join("complete"), "32m");
    let incoming = root.join("incoming");
    let seeder = Aria2::seed(root, "seeder", &p.torrent_path, &p.parent, None).await;
    let mut d = Daemon::start(root).await;
    d.create_profile("tv", &incoming, 0).await;
    let (st, body) = d
        .patch_json(
            "/api/profiles/tv",
            &json!({"complete_dir": done.path, "min_free_space": 0}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["complete_dir"], done.path.to_str().unwrap(), "{body}");
    // Not a folder the daemon can use: refused, nothing changed.
    let r = d
        .patch_json("/api/profiles/tv", &json!({"complete_dir": "relative/dir"}))
        .await;
    assert!(r.0 == 400, "{r:?}");

    d.add_torrent_ok("tv", &p.torrent, &[("peers", &seeder.addr().to_string())])
        .await;
    let row = wait_for(60, "the completed torrent moved and seeding", async || {
        let r = d.torrent(&p.hash).await;
        if r["save_dir"] == done.path.to_str().unwrap() && r["state"] == "seeding" {
            Ok(r)
        } else {
            Err(r.to_string())
        }
    })
    .await;
    assert!(row["error"].is_null(), "{row}");
    p.assert_in(&done.path, None);
    assert!(
        !incoming.join("Show S01").exists(),
        "nothing left where it downloaded"
    );
    drop(seeder);

    // It seeds from the new place: a leecher gets the whole payload from it.
    tracker.wait_seeders(&p.hash, 1, 30).await;
    let out = root.join("leech");
    let mut l = Aria2::leech(root, "leech", &p.torrent_path, &out);
    assert!(l.wait_exit(60.0).await.success(), "{}", l.log_tail(30));
    p.assert_in(&out, None);

    // After a restart it is still there, seeding, not downloaded again.
    d.restart().await;
    let r = d.wait_state(&p.hash, "seeding", 30).await;
    assert_eq!(r["save_dir"], done.path.to_str().unwrap(), "{r}");
    assert_eq!(r["progress"], 1.0, "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_move_leaves_it_seeding_where_it_was() {
    let tmp = tempdir("complete-move-fails");
    let root = tmp.path();
    let p = Payload::single(&root.join("src"), "movie.mkv", 700 * KIB, &[], 32_768).await;
    let done = Tmpfs::mount(&root.join("complete"), "8m");
    let incoming = root.join("incoming");
    let seeder = Aria2::seed(root, "seeder", &p.torrent_path, &p.parent, None).await;
    let d = Daemon::start(root).await;
    d.create_profile("films", &incoming, 0).await;
    let (st, body) = d
        .patch_json(
            "/api/profiles/films",
            &json!({"complete_dir": done.path, "min_free_space": 0}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    // The destination turns read-only before the download completes.
    let ro = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&done.path)
        .status()
        .unwrap();
    assert!(ro.success(), "remount read-only");
    d.add_torrent_ok(
        "films",
        &p.torrent,
        &[("peers", &seeder.addr().to_string())],
    )
    .await;
    let row = wait_for(60, "the failed move shown in the row", async || {
        let r = d.torrent(&p.hash).await;
        let err = r["error"].as_str().unwrap_or_default();
        if r["state"] == "seeding" && err.contains("moving to") {
            Ok(r)
        } else {
            Err(r.to_string())
        }
    })
    .await;
    assert_eq!(row["save_dir"], incoming.to_str().unwrap(), "{row}");
    p.assert_in(&incoming, None);
    // Still seeding from where it was: its file serves byte for byte.
    let (st, _) = d.get(&format!("/api/torrents/{}", p.hash)).await;
    assert_eq!(st, 200);
    let bytes = get_bytes(&d.url(&format!("/api/torrents/{}/files/0/content", p.hash))).await;
    assert_same_bytes("served after the failed move", &p.files[0].data, &bytes);
}

//! Share limits (README "Share limits"): a torrent seeding to a real aria2c leecher stops at
//! ratio 1.0 — paused by its own limit, removed with its data by its profile's; a global
//! seeding-time limit of one minute pauses a torrent within the next minute while a torrent
//! whose own limit is "none" keeps seeding. Uploaded bytes, which the ratio counts, survive a
//! crash (written once a minute) and are not counted twice after a clean stop.

use serde_json::json;

use crate::util::*;

const KIB: usize = 1024;

#[tokio::test(flavor = "multi_thread")]
async fn ratio_limits_pause_or_remove_with_data() {
    let tmp = tempdir("share-ratio");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    let announce = tracker.announce_url();
    let p = Payload::single(
        &root.join("src"),
        "kept.bin",
        700 * KIB,
        std::slice::from_ref(&announce),
        32 * 1024,
    )
    .await;
    let q = Payload::single(
        &root.join("src2"),
        "gone.bin",
        500 * KIB,
        &[announce],
        32 * 1024,
    )
    .await;
    tracker.start(&[&p.hash, &q.hash]).await;
    let d = Daemon::start(root).await;
    let gone_dir = root.join("gone-profile");
    d.create_profile("gone", &gone_dir, 0).await;
    let (st, body) = d
        .patch_json(
            "/api/profiles/gone",
            &json!({"ratio_limit": 1.0, "share_action": "remove_with_data"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["share"]["share_action"], "remove_with_data", "{body}");
    p.copy_into(&d.download_dir);
    q.copy_into(&gone_dir);
    d.add_torrent_ok("default", &p.torrent, &[]).await;
    d.add_torrent_ok("gone", &q.torrent, &[]).await;
    d.wait_complete(&p.hash, 30).await;
    d.wait_complete(&q.hash, 30).await;
    let row = d.patch_torrent(&p.hash, &json!({"ratio_limit": 1.0})).await;
    assert_eq!(row["share"]["ratio_limit"], 1.0, "{row}");
    // Out of range: refused, nothing changed.
    let r = d
        .patch_json(
            &format!("/api/torrents/{}", p.hash),
            &json!({"ratio_limit": -2}),
        )
        .await;
    assert_error("ratio -2", &r, 400, "invalid_input");
    tracker.wait_seeders(&p.hash, 1, 30).await;
    tracker.wait_seeders(&q.hash, 1, 30).await;
    let out = root.join("leech");
    let mut l1 = Aria2::leech(root, "l1", &p.torrent_path, &out);
    let mut l2 = Aria2::leech(root, "l2", &q.torrent_path, &out);
    assert!(l1.wait_exit(60.0).await.success(), "{}", l1.log_tail(30));
    assert!(l2.wait_exit(60.0).await.success(), "{}", l2.log_tail(30));
    let row = d.wait_state(&p.hash, "paused", 30).await;
    assert!(row["ratio"].as_f64().unwrap_or(0.0) >= 1.0, "{row}");
    assert!(
        d.download_dir.join("kept.bin").exists(),
        "a paused torrent keeps its data"
    );
    wait_for(
        30,
        "the profile's limit to remove the torrent and its data",
        async || {
            let (st, _) = d.get(&format!("/api/torrents/{}", q.hash)).await;
            if st == 404 && !gone_dir.join("gone.bin").exists() {
                Ok(())
            } else {
                Err(format!(
                    "status {st}, data present: {}",
                    gone_dir.join("gone.bin").exists()
                ))
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_global_seeding_time_limit_pauses_within_the_minute() {
    let tmp = tempdir("share-time");
    let root = tmp.path();
    let a = Payload::single(&root.join("src"), "a.bin", 64 * KIB, &[], 16 * 1024).await;
    let b = Payload::single(&root.join("src"), "b.bin", 64 * KIB, &[], 16 * 1024).await;
    let d = Daemon::start(root).await;
    let r = d
        .patch_json("/api/settings", &json!({"share": {"seed_time_limit": -7}}))
        .await;
    assert_error("minutes -7", &r, 400, "invalid_input");
    let (st, body) = d
        .patch_json("/api/settings", &json!({"share": {"seed_time_limit": 1}}))
        .await;
    assert_eq!(
        (st, body["share"]["seed_time_limit"].clone()),
        (200, json!(1)),
        "{body}"
    );
    a.copy_into(&d.download_dir);
    b.copy_into(&d.download_dir);
    d.add_torrent_ok("default", &a.torrent, &[]).await;
    d.add_torrent_ok("default", &b.torrent, &[]).await;
    // b's own limit is "none": it keeps seeding.
    d.patch_torrent(&b.hash, &json!({"seed_time_limit": -1}))
        .await;
    let done = d.wait_complete(&a.hash, 30).await;
    let completed = rfc3339(&done["completed_at"]);
    let row = d.wait_state(&a.hash, "paused", 100).await;
    let waited = chrono::Utc::now().signed_duration_since(completed.with_timezone(&chrono::Utc));
    assert!(
        (60..=90).contains(&waited.num_seconds()),
        "paused {} s after completion, expected within the minute after the limit",
        waited.num_seconds()
    );
    assert!(row["paused"].as_bool().unwrap_or(false), "{row}");
    assert_eq!(d.torrent(&b.hash).await["state"], "seeding");
    // The setting survives a restart.
    let mut d = d;
    d.restart().await;
    let (_, s) = d.get("/api/settings").await;
    assert_eq!(s["share"]["seed_time_limit"], 1, "{s}");
}

/// The bytes of this run's uploads the daemon last logged as saved (debug line of
/// `engine/traffic.rs`), if any.
fn saved_uploads(log: &str) -> Option<u64> {
    log.lines()
        .filter(|l| l.contains("this run's uploads saved"))
        .filter_map(|l| {
            l.split("bytes=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .next_back()
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_survive_a_crash_and_count_once() {
    let tmp = tempdir("share-crash");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    let announce = tracker.announce_url();
    let size = 3 * 1024 * KIB as u64;
    let p = Payload::single(
        &root.join("src"),
        "up.bin",
        size as usize,
        &[announce],
        64 * 1024,
    )
    .await;
    tracker.start(&[&p.hash]).await;
    let mut d = Daemon::start_with_env(
        root,
        &[("PYTORRENT_LOG", "info,pytorrentd::engine::traffic=debug")],
    )
    .await;
    p.copy_into(&d.download_dir);
    d.add_torrent_ok("default", &p.torrent, &[]).await;
    d.wait_complete(&p.hash, 30).await;
    // An aria2c leecher takes the whole file; the daemon writes this run's uploads with the
    // first traffic sample of the next minute.
    let leech = async |d: &Daemon, tag: &str| {
        tracker.wait_seeders(&p.hash, 1, 30).await;
        let mut l = Aria2::leech(root, tag, &p.torrent_path, &root.join(tag));
        assert!(l.wait_exit(60.0).await.success(), "{}", l.log_tail(30));
        wait_for(
            75,
            "this run's uploads saved",
            async || match saved_uploads(&d.log_of_run(d.run)) {
                Some(b) if b >= size => Ok(b),
                other => Err(format!("last saved: {other:?}")),
            },
        )
        .await
    };
    let uploaded = async |d: &Daemon| d.torrent(&p.hash).await["uploaded"].as_u64().unwrap_or(0);

    let saved = leech(&d, "l1").await;
    let before = uploaded(&d).await;
    assert!(saved <= before, "saved {saved}, uploaded {before}");
    // A clean stop folds the run's uploads into the record and forgets what it wrote each
    // minute: the next start adds nothing again.
    d.restart().await;
    assert_eq!(uploaded(&d).await, before, "after a clean restart");
    let log = d.log_of_run(d.run);
    assert!(!log.contains("uploads of the last run added"), "{log}");

    // kill -9: what was saved at the last minute is still there.
    let saved = leech(&d, "l2").await;
    d.kill9();
    d.start_again().await;
    let row = d.torrent(&p.hash).await;
    assert_eq!(row["uploaded"], before + saved, "after a crash: {row}");
    assert!(row["ratio"].as_f64().unwrap_or(0.0) >= 2.0, "{row}");
    let log = d.log_of_run(d.run);
    assert!(
        log.contains("uploads of the last run added to 1 torrents"),
        "{log}"
    );
}

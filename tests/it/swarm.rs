//! Real swarms on loopback: the daemon downloads from a librqbit seeder session and/or an
//! aria2c seeder (found through a local opentracker, a magnet's `x.pe`, or the `peers` add
//! option), and seeds to a real aria2c leecher. Every download is compared byte for byte.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::*;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Sanity check of the fixtures alone (no daemon): librqbit seeder → opentracker → aria2c
/// leecher. When this fails, the environment is broken, not pytorrentd.
#[tokio::test(flavor = "multi_thread")]
async fn fixture_selftest_librqbit_seeder_to_aria2c_via_tracker() {
    let tmp = tempdir("selftest");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    let p = Payload::multi(
        &root.join("src"),
        "selftest",
        &[("a.bin", 700 * KIB), ("d/b.bin", 300 * KIB)],
        &[tracker.announce_url()],
        64 * KIB as u32,
    )
    .await;
    tracker.start(&[&p.hash]).await;
    let seeder = RqSeeder::start(&[&p], None).await;
    tracker.wait_seeders(&p.hash, 1, 20).await;
    let out = root.join("leech");
    let mut leecher = Aria2::leech(root, "leech", &p.torrent_path, &out);
    let st = leecher.wait_exit(45.0).await;
    assert!(
        st.success(),
        "aria2c leecher failed: {st}\n{}",
        leecher.log_tail(40)
    );
    p.assert_in(&out, None);
    assert!(
        seeder.uploaded(0) >= p.size,
        "librqbit seeder uploaded {} < {}",
        seeder.uploaded(0),
        p.size
    );
}

/// Sanity check of the fixtures alone (no daemon): aria2c seeder (with its RPC upload counter)
/// → opentracker → a librqbit leecher session in this process.
#[tokio::test(flavor = "multi_thread")]
async fn fixture_selftest_aria2c_seeder_to_librqbit_leecher_via_tracker() {
    let tmp = tempdir("selftest2");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    let p = Payload::multi(
        &root.join("src"),
        "selftest2",
        &[("a.bin", 900 * KIB), ("d/b.bin", 200 * KIB)],
        &[tracker.announce_url()],
        64 * KIB as u32,
    )
    .await;
    tracker.start(&[&p.hash]).await;
    let aria = Aria2::seed(root, "seeder", &p.torrent_path, &p.parent, None).await;
    tracker.wait_seeders(&p.hash, 1, 20).await;
    let out = root.join("leech");
    let session = librqbit::Session::new_with_opts(
        out.clone(),
        librqbit::SessionOptions {
            dht: None,
            persistence: None,
            disable_local_service_discovery: true,
            listen: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let h = session
        .add_torrent(
            librqbit::AddTorrent::TorrentFileBytes(bytes::Bytes::from(p.torrent.clone())),
            Some(librqbit::AddTorrentOptions {
                output_folder: Some(out.join(&p.name).to_str().unwrap().into()),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_handle()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(45), h.wait_until_completed())
        .await
        .expect("librqbit leecher timed out")
        .unwrap();
    p.assert_in(&out, None);
    let up = aria.uploaded().await;
    session.cancellation_token().cancel();
    assert!(up >= p.size, "aria2c uploaded {up} < {}", p.size);
}

/// .torrent multipart upload; the only seeder is aria2c, found through the tracker named in
/// the .torrent. Bytes compared; aria2c's own upload counter proves the data came from it.
#[tokio::test(flavor = "multi_thread")]
async fn torrent_upload_downloads_from_aria2c_seeder_via_tracker() {
    let tmp = tempdir("aria-seed");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    // uneven sizes: pieces span file boundaries
    let p = Payload::multi(
        &root.join("src"),
        "aria-payload",
        &[
            ("one.bin", 1_500_000),
            ("two.bin", 2 * MIB + 123),
            ("sub/three.bin", 700_001),
        ],
        &[tracker.announce_url()],
        256 * KIB as u32,
    )
    .await;
    tracker.start(&[&p.hash]).await;
    let aria = Aria2::seed(root, "seeder", &p.torrent_path, &p.parent, None).await;
    tracker.wait_seeders(&p.hash, 1, 20).await;

    let d = Daemon::start(root).await;
    let dl = root.join("dl-swarm");
    d.create_profile("swarm", &dl, 0).await;
    let row = d.add_torrent_ok("swarm", &p.torrent, &[]).await;
    assert_eq!(row["hash"], p.hash, "row: {row}");
    assert_eq!(row["profile"], "swarm", "row: {row}");
    assert_eq!(row["name"], p.name, "row: {row}");
    assert_eq!(row["size"].as_u64(), Some(p.size), "row: {row}");

    let done = d.wait_complete(&p.hash, 45).await;
    assert_eq!(done["size"].as_u64(), Some(p.size), "row: {done}");
    // completed_at: set (the daemon may record it a moment after the state flips), RFC 3339,
    // not before added_at
    let row = wait_for(5, "completed_at to be set", async || {
        let row = d.torrent(&p.hash).await;
        if row["completed_at"].is_string() {
            Ok(row)
        } else {
            Err(format!("{row}"))
        }
    })
    .await;
    assert!(
        rfc3339(&row["completed_at"]) >= rfc3339(&row["added_at"]),
        "completed before added: {row}"
    );
    p.assert_in(&dl, None);

    // file list
    let files = d.files(&p.hash).await;
    assert_eq!(files.len(), p.files.len(), "files: {files:?}");
    for (i, f) in files.iter().enumerate() {
        assert_eq!(f["index"].as_u64(), Some(i as u64), "{f}");
        assert_eq!(
            f["size"].as_u64(),
            Some(p.files[i].data.len() as u64),
            "{f}"
        );
        assert_eq!(f["progress"].as_f64(), Some(1.0), "{f}");
        assert_eq!(f["wanted"], true, "{f}");
        let last = p.files[i].rel.file_name().unwrap().to_str().unwrap();
        assert!(
            f["path"].as_str().unwrap_or("").ends_with(last),
            "file {i} path {f} should end with {last}"
        );
    }

    // the data really came from aria2c (the only seeder)
    wait_for(
        10,
        "aria2c upload counter to cover the payload",
        async || {
            let up = aria.uploaded().await;
            if up >= p.size {
                Ok(())
            } else {
                Err(format!("aria2c uploaded {up} of {}", p.size))
            }
        },
    )
    .await;
}

/// Magnet with `x.pe` pointing at the librqbit seeder session (no tracker): the add answers
/// at once, metadata is fetched from the peer, data downloaded and compared.
#[tokio::test(flavor = "multi_thread")]
async fn magnet_fetches_metadata_and_data_from_librqbit_seeder() {
    let tmp = tempdir("magnet-rq");
    let root = tmp.path();
    let p = Payload::multi(
        &root.join("src"),
        "magnet-payload",
        &[("a.bin", 2 * MIB + 7), ("b/c.bin", 1_000_003)],
        &[],
        128 * KIB as u32,
    )
    .await;
    let seeder = RqSeeder::start(&[&p], None).await;

    let d = Daemon::start(root).await;
    let dl = root.join("dl-magnet");
    d.create_profile("mag", &dl, 0).await;
    let magnet = p.magnet(&[seeder.addr], &[]);
    let t0 = Instant::now();
    let row = d.add_json_ok("mag", &json!({"magnet": magnet})).await;
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "adding a magnet must answer at once, took {took:?}"
    );
    assert_eq!(row["hash"], p.hash, "row: {row}");
    assert_eq!(row["profile"], "mag", "row: {row}");

    let done = d.wait_complete(&p.hash, 45).await;
    assert_eq!(done["name"], p.name, "name from fetched metadata: {done}");
    assert_eq!(done["size"].as_u64(), Some(p.size), "{done}");
    p.assert_in(&dl, None);
    assert!(
        seeder.uploaded(0) >= p.size,
        "the librqbit seeder (only peer) uploaded {} < payload {}",
        seeder.uploaded(0),
        p.size
    );
}

/// Magnet without peers in it, the peer given by the `peers` add option; the only seeder is
/// aria2c, which must also serve the metadata.
#[tokio::test(flavor = "multi_thread")]
async fn magnet_with_peers_option_downloads_from_aria2c() {
    let tmp = tempdir("magnet-aria");
    let root = tmp.path();
    let p = Payload::multi(
        &root.join("src"),
        "peers-payload",
        &[("x.bin", 1_200_000), ("y.bin", 900_000)],
        &[],
        64 * KIB as u32,
    )
    .await;
    let aria = Aria2::seed(root, "seeder", &p.torrent_path, &p.parent, None).await;

    let d = Daemon::start(root).await;
    let magnet = p.magnet(&[], &[]);
    let row = d
        .add_json_ok(
            "default",
            &json!({"magnet": magnet, "peers": [aria.addr().to_string()], "label": "viapeers"}),
        )
        .await;
    assert_eq!(row["hash"], p.hash, "row: {row}");
    assert_eq!(row["label"], "viapeers", "row: {row}");
    let done = d.wait_complete(&p.hash, 45).await;
    assert_eq!(done["label"], "viapeers", "{done}");
    p.assert_in(&d.download_dir, None);
    wait_for(
        10,
        "aria2c upload counter to cover the payload",
        async || {
            let up = aria.uploaded().await;
            if up >= p.size {
                Ok(())
            } else {
                Err(format!("aria2c uploaded {up} of {}", p.size))
            }
        },
    )
    .await;
}

/// Both seeders (librqbit and aria2c, each throttled) announce to the tracker; the daemon
/// finds both there, connects to both (seen in /peers) and both upload part of the data.
#[tokio::test(flavor = "multi_thread")]
async fn both_seeders_via_tracker_each_contribute() {
    let tmp = tempdir("both");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    let p = Payload::multi(
        &root.join("src"),
        "both-payload",
        &[
            ("big1.bin", 5 * MIB + 11),
            ("big2.bin", 5 * MIB - 11),
            ("small.txt", 4321),
        ],
        &[tracker.announce_url()],
        256 * KIB as u32,
    )
    .await;
    tracker.start(&[&p.hash]).await;
    let rq = RqSeeder::start(&[&p], Some(3 * MIB as u32)).await;
    let aria = Aria2::seed(root, "seeder", &p.torrent_path, &p.parent, Some("3M")).await;
    tracker.wait_seeders(&p.hash, 2, 20).await;

    let d = Daemon::start(root).await;
    d.add_torrent_ok("default", &p.torrent, &[]).await;

    let mut max_peers = 0usize;
    let mut last_peers = serde_json::Value::Null;
    wait_for(50, "download from both seeders to complete", async || {
        let (st, peers) = d.get(&format!("/api/torrents/{}/peers", p.hash)).await;
        if st == 200 {
            let n = peers.as_array().map(|a| a.len()).unwrap_or(0);
            if n > max_peers {
                max_peers = n;
                last_peers = peers.clone();
            }
        }
        let row = d.torrent(&p.hash).await;
        if row["state"] == "seeding" && row["progress"].as_f64() == Some(1.0) {
            Ok(())
        } else {
            Err(format!(
                "state={} progress={} peers={}",
                row["state"], row["progress"], row["peers"]
            ))
        }
    })
    .await;
    p.assert_in(&d.download_dir, None);
    let up_rq = rq.uploaded(0);
    let up_aria = aria.uploaded().await;
    assert!(
        max_peers >= 2,
        "/peers never showed both seeders; max {max_peers}: {last_peers}"
    );
    assert!(
        up_rq > 0 && up_aria > 0,
        "both seeders must contribute: librqbit {up_rq}, aria2c {up_aria}"
    );
    assert!(
        up_rq + up_aria >= p.size,
        "uploads {up_rq}+{up_aria} < size {}",
        p.size
    );
}

/// `only_files` on a multipart add: only the chosen files are fetched (piece-aligned files, so
/// the unselected one gets no byte); then selecting all files via PATCH completes the rest.
#[tokio::test(flavor = "multi_thread")]
async fn only_files_then_select_all() {
    let tmp = tempdir("onlyfiles");
    let root = tmp.path();
    let p = Payload::multi(
        &root.join("src"),
        "sel-payload",
        &[("f0.bin", MIB), ("f1.bin", 2 * MIB), ("f2.bin", 512 * KIB)],
        &[],
        64 * KIB as u32,
    )
    .await;
    let seeder = RqSeeder::start(&[&p], None).await;
    let d = Daemon::start(root).await;
    // map our file names to torrent indices (the torrent's order is the file walk order)
    let idx = |name: &str| p.files.iter().position(|f| f.rel.ends_with(name)).unwrap();
    let (i0, i1, i2) = (idx("f0.bin"), idx("f1.bin"), idx("f2.bin"));
    let sel = format!("{},{}", i0.min(i2), i0.max(i2));
    let row = d
        .add_torrent_ok(
            "default",
            &p.torrent,
            &[("only_files", &sel), ("peers", &seeder.addr.to_string())],
        )
        .await;
    assert_eq!(row["hash"], p.hash);

    let files = wait_for(45, "selected files to complete", async || {
        let (st, files) = d.get(&format!("/api/torrents/{}/files", p.hash)).await;
        let arr = files.as_array().cloned().unwrap_or_default();
        if st == 200
            && arr.len() == 3
            && arr[i0]["progress"].as_f64() == Some(1.0)
            && arr[i2]["progress"].as_f64() == Some(1.0)
        {
            Ok(arr)
        } else {
            Err(format!("{st} {files}"))
        }
    })
    .await;
    assert_eq!(files[i0]["wanted"], true, "{files:?}");
    assert_eq!(files[i1]["wanted"], false, "{files:?}");
    assert_eq!(files[i2]["wanted"], true, "{files:?}");
    assert_eq!(
        files[i1]["downloaded"].as_u64(),
        Some(0),
        "unselected file got bytes: {files:?}"
    );
    p.assert_in(&d.download_dir, Some(&[i0, i2]));
    let f1 = d.download_dir.join(&p.files[i1].rel);
    if let Ok(data) = std::fs::read(&f1) {
        assert!(
            data != p.files[i1].data,
            "unselected file {f1:?} was downloaded anyway"
        );
    }
    let row = d.torrent(&p.hash).await;
    assert_ne!(row["state"], "error", "{row}");

    // now want everything
    d.patch_torrent(&p.hash, &json!({"files": [0, 1, 2]})).await;
    d.wait_complete(&p.hash, 45).await;
    let files = d.files(&p.hash).await;
    assert!(
        files
            .iter()
            .all(|f| f["wanted"] == true && f["progress"].as_f64() == Some(1.0)),
        "{files:?}"
    );
    p.assert_in(&d.download_dir, None);
}

/// Reverse direction: data already in a profile dir; the daemon checks it, reaches
/// `seeding`, announces to the tracker, and a real aria2c leecher downloads everything from it.
#[tokio::test(flavor = "multi_thread")]
async fn daemon_seeds_to_aria2c_leecher() {
    let tmp = tempdir("daemon-seeds");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    let p = Payload::single(
        &root.join("src"),
        "seeded.bin",
        3 * MIB + 4099,
        &[tracker.announce_url()],
        128 * KIB as u32,
    )
    .await;
    let pm = Payload::multi(
        &root.join("src2"),
        "seeded-dir",
        &[("a.bin", MIB + 1), ("b/b.bin", 333_333)],
        &[tracker.announce_url()],
        64 * KIB as u32,
    )
    .await;
    tracker.start(&[&p.hash, &pm.hash]).await;

    let d = Daemon::start(root).await;
    let seedbox = root.join("seedbox");
    d.create_profile("seedbox", &seedbox, 1).await;
    p.copy_into(&seedbox);
    pm.copy_into(&seedbox);
    d.add_torrent_ok("seedbox", &p.torrent, &[]).await;
    d.add_torrent_ok("seedbox", &pm.torrent, &[]).await;
    // both complete: checking → seeding, and seeding takes no download slot (max_active=1)
    d.wait_complete(&p.hash, 30).await;
    d.wait_complete(&pm.hash, 30).await;
    tracker.wait_seeders(&p.hash, 1, 30).await;
    tracker.wait_seeders(&pm.hash, 1, 30).await;

    let out = root.join("leech");
    let mut l1 = Aria2::leech(root, "leech1", &p.torrent_path, &out);
    let mut l2 = Aria2::leech(root, "leech2", &pm.torrent_path, &out);
    let st1 = l1.wait_exit(45.0).await;
    let st2 = l2.wait_exit(45.0).await;
    assert!(
        st1.success(),
        "aria2c leecher (single-file) failed: {st1}\n{}",
        l1.log_tail(40)
    );
    assert!(
        st2.success(),
        "aria2c leecher (multi-file) failed: {st2}\n{}",
        l2.log_tail(40)
    );
    p.assert_in(&out, None);
    pm.assert_in(&out, None);

    for (hash, size) in [(&p.hash, p.size), (&pm.hash, pm.size)] {
        wait_for(
            10,
            "daemon's uploaded counter to cover the payload",
            async || {
                let row = d.torrent(hash).await;
                match row["uploaded"].as_u64() {
                    Some(u) if u >= size => Ok(()),
                    _ => Err(format!("{row}")),
                }
            },
        )
        .await;
    }

    // stats: global count and per-profile entries
    let (st, stats) = d.get("/api/stats").await;
    assert_eq!(st, 200, "{stats}");
    assert_eq!(stats["torrents"].as_u64(), Some(2), "{stats}");
    assert!(
        stats["dl_speed"].is_u64() && stats["ul_speed"].is_u64(),
        "{stats}"
    );
    let profs = stats["profiles"]
        .as_array()
        .unwrap_or_else(|| panic!("{stats}"));
    let sb = profs
        .iter()
        .find(|p| p["id"] == "seedbox")
        .unwrap_or_else(|| panic!("{stats}"));
    assert_eq!(sb["torrents"].as_u64(), Some(2), "{stats}");
    assert!(sb["disk_free"].as_u64().unwrap_or(0) > 0, "{stats}");
    let def = profs
        .iter()
        .find(|p| p["id"] == "default")
        .unwrap_or_else(|| panic!("{stats}"));
    assert_eq!(def["torrents"].as_u64(), Some(0), "{stats}");

    // recheck of intact data: back to seeding with everything
    d.action(&pm.hash, "recheck").await;
    d.wait_complete(&pm.hash, 30).await;
    // corrupt the first piece of the single file, recheck: no longer complete
    let f = seedbox.join(&p.files[0].rel);
    let mut data = std::fs::read(&f).unwrap();
    data[10] ^= 0xff;
    std::fs::write(&f, &data).unwrap();
    d.action(&p.hash, "recheck").await;
    let row = wait_for(30, "recheck to find the corrupted piece", async || {
        let row = d.torrent(&p.hash).await;
        let prog = row["progress"].as_f64().unwrap_or(1.0);
        match row["state"].as_str() {
            Some("checking") | Some("initializing") => Err(format!("{row}")),
            _ if prog < 1.0 => Ok(row),
            _ => Err(format!("{row}")),
        }
    })
    .await;
    let expect = 1.0 - (128.0 * 1024.0) / p.size as f64;
    let prog = row["progress"].as_f64().unwrap();
    assert!(
        (prog - expect).abs() < 0.001,
        "one 128 KiB piece missing → progress {expect:.4}, got {prog}: {row}"
    );
    // incomplete again: it takes the profile's free download slot (the seeding one takes none)
    let row = d.wait_state(&p.hash, "downloading", 10).await;
    assert_eq!(row["progress"].as_f64(), Some(prog), "{row}");

    // delete keeping the data / deleting the data
    let (st, body) = d
        .delete(&format!("/api/torrents/{}?delete_files=false", pm.hash))
        .await;
    assert_eq!(st, 204, "{body}");
    pm.assert_in(&seedbox, None);
    let (st, body) = d
        .delete(&format!("/api/torrents/{}?delete_files=true", p.hash))
        .await;
    assert_eq!(st, 204, "{body}");
    assert!(!f.exists(), "delete_files=true must remove {f:?}");
    assert!(d.torrents("seedbox").await.is_empty());
    let (st, _) = d.get(&format!("/api/torrents/{}", p.hash)).await;
    assert_eq!(st, 404);
}

/// A magnet nobody can resolve is still accepted at once, listed as `initializing` (not an
/// error) while metadata is awaited, and can be deleted.
#[tokio::test(flavor = "multi_thread")]
async fn magnet_without_peers_is_accepted_at_once_and_waits() {
    let tmp = tempdir("magnet-wait");
    let root = tmp.path();
    let p = Payload::single(
        &root.join("src"),
        "nobody-has-it.bin",
        100_000,
        &[],
        16 * KIB as u32,
    )
    .await;
    let d = Daemon::start(root).await;
    let t0 = Instant::now();
    let row = d
        .add_json_ok(
            "default",
            &json!({"magnet": p.magnet(&[], &[]), "label": "meta"}),
        )
        .await;
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "adding a magnet must answer at once, took {took:?}"
    );
    assert_eq!(row["hash"], p.hash, "{row}");
    assert_eq!(row["state"], "initializing", "{row}");
    for _ in 0..10 {
        let rows = d.torrents("default").await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["hash"], p.hash);
        assert_eq!(rows[0]["state"], "initializing", "{}", rows[0]);
        assert_eq!(rows[0]["label"], "meta", "{}", rows[0]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (st, body) = d
        .delete(&format!("/api/torrents/{}?delete_files=true", p.hash))
        .await;
    assert_eq!(st, 204, "{body}");
    assert!(d.torrents("default").await.is_empty());
}

/// Add by http URL of a .torrent: the daemon fetches it, records its source, and downloads
/// the data from an aria2c seeder.
#[tokio::test(flavor = "multi_thread")]
async fn url_of_torrent_downloads_from_aria2c() {
    let tmp = tempdir("url-add");
    let root = tmp.path();
    let p = Payload::single(
        &root.join("src"),
        "by-url.bin",
        700_000,
        &[],
        32 * KIB as u32,
    )
    .await;
    let aria = Aria2::seed(root, "seeder", &p.torrent_path, &p.parent, None).await;
    let srv = StaticServer::start(p.torrent.clone(), "application/x-bittorrent").await;

    let d = Daemon::start(root).await;
    let row = d
        .add_json_ok(
            "default",
            &json!({"url": srv.url("/by-url.torrent"), "peers": [aria.addr().to_string()]}),
        )
        .await;
    assert_eq!(row["hash"], p.hash, "row: {row}");
    d.wait_complete(&p.hash, 45).await;
    p.assert_in(&d.download_dir, None);
    let details = d.torrent(&p.hash).await;
    assert_eq!(
        details["source_url"],
        srv.url("/by-url.torrent"),
        "{details}"
    );
}

/// Piece lengths that are not a power of two (nor a multiple of the 16 KiB block) exist in
/// real torrents and are accepted: such a torrent downloads byte for byte from aria2c.
#[tokio::test(flavor = "multi_thread")]
async fn odd_piece_length_downloads_from_aria2c() {
    let tmp = tempdir("odd-pl");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    let p = Payload::multi(
        &root.join("src"),
        "odd-pieces",
        &[("a.bin", 1_300_007), ("b/c.bin", 411_111)],
        &[tracker.announce_url()],
        270_544,
    )
    .await;
    let info = librqbit_core::torrent_metainfo::torrent_from_bytes(&p.torrent).unwrap();
    assert_eq!(info.info.data.piece_length, 270_544, "fixture piece length");
    tracker.start(&[&p.hash]).await;
    let _aria = Aria2::seed(root, "seeder", &p.torrent_path, &p.parent, None).await;
    tracker.wait_seeders(&p.hash, 1, 20).await;
    let d = Daemon::start(root).await;
    let row = d.add_torrent_ok("default", &p.torrent, &[]).await;
    assert_eq!(row["size"].as_u64(), Some(p.size), "row: {row}");
    d.wait_complete(&p.hash, 60).await;
    p.assert_in(&d.download_dir, None);
}

/// Force re-announce. The tracker is down when the torrent starts, so the daemon's announce
/// fails and the engine retries it no sooner than 10 s later (librqbit's backoff); the seeder
/// then registers, unaware of the daemon. Only a re-announce can bring the two together
/// before those 10 s: the seeder must show up in the Peers list (with all pieces, and the
/// torrent's availability ≥ 1) before then, and the data must arrive byte for byte.
#[tokio::test(flavor = "multi_thread")]
async fn reannounce_finds_a_seeder_now_with_its_progress_and_the_availability() {
    let tmp = tempdir("reannounce");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    let p = Payload::single(
        &root.join("src"),
        "reannounced.bin",
        4 * MIB,
        &[tracker.announce_url()],
        256 * KIB as u32,
    )
    .await;
    let d = Daemon::start(root).await;
    let dl = root.join("dl");
    d.create_profile("re", &dl, 0).await;

    // Not running: nothing to announce (409), and an unknown hash stays a 404.
    let paused = d
        .add_torrent_ok("re", &p.torrent, &[("paused", "true")])
        .await;
    assert_eq!(paused["hash"], p.hash);
    let (st, body) = d
        .post_empty(&format!("/api/torrents/{}/reannounce", p.hash))
        .await;
    assert_eq!(st, 409, "{body}");
    let (st, body) = d
        .post_empty(&format!("/api/torrents/{}/reannounce", "ab".repeat(20)))
        .await;
    assert_eq!(st, 404, "{body}");

    d.action(&p.hash, "resume").await;
    d.wait_state(&p.hash, "downloading", 20).await;
    let live_at = Instant::now();
    tracker.start(&[&p.hash]).await;
    let _aria = Aria2::seed(root, "late-seeder", &p.torrent_path, &p.parent, Some("1M")).await;
    tracker.wait_seeders(&p.hash, 1, 5).await;
    let row = d.torrent(&p.hash).await;
    assert_eq!(
        row["peers"], 0,
        "a peer before any announce succeeded: {row}"
    );

    let (st, body) = d
        .post_empty(&format!("/api/torrents/{}/reannounce", p.hash))
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["hash"], p.hash, "{body}");

    let budget = Duration::from_secs(10).saturating_sub(live_at.elapsed());
    assert!(
        budget >= Duration::from_secs(3),
        "the set-up took too long to tell a re-announce from the engine's retry"
    );
    wait_for(
        budget.as_secs(),
        "the seeder in the Peers list, complete",
        async || {
            let (st, peers) = d.get(&format!("/api/torrents/{}/peers", p.hash)).await;
            let row = d.torrent(&p.hash).await;
            let seeder = peers
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["progress"].as_f64() == Some(1.0));
            match (st, seeder, row["availability"].as_f64()) {
                (200, Some(s), Some(a)) if a >= 1.0 => {
                    assert_eq!(s["interested"], false, "a seeder wants nothing: {s}");
                    Ok(())
                }
                _ => Err(format!(
                    "peers {peers}, availability {}",
                    row["availability"]
                )),
            }
        },
    )
    .await;
    d.wait_complete(&p.hash, 45).await;
    p.assert_in(&dl, None);
}

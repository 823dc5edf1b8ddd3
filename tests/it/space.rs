//! The disk-space guard (README "Disk space") on a small tmpfs the test mounts: a torrent
//! that would not fit is added with a warning and held in the queue (reason `disk_space`);
//! a running download is held when the free space falls below the profile's minimum and
//! continues when the test frees space; it completes byte for byte.

use std::fs;
use std::time::Duration;

use serde_json::json;

use crate::faults::Tmpfs;
use crate::util::*;

const MIB: u64 = 1 << 20;

#[tokio::test(flavor = "multi_thread")]
async fn downloads_wait_for_the_profiles_minimum_free_space() {
    let tmp = tempdir("space-guard");
    let root = tmp.path();
    let small = root.join("small");
    let disk = Tmpfs::mount(&small, "64m");
    let a = Payload::single(
        &root.join("src-a"),
        "fits.bin",
        24 * MIB as usize,
        &[],
        65_536,
    )
    .await;
    let b = Payload::single(
        &root.join("src-b"),
        "too-big.bin",
        52 * MIB as usize,
        &[],
        65_536,
    )
    .await;
    // Throttled so that the download is still running when the disk fills.
    let seed_a = Aria2::seed(root, "seed-a", &a.torrent_path, &a.parent, Some("3M")).await;
    let seed_b = Aria2::seed(root, "seed-b", &b.torrent_path, &b.parent, None).await;
    let d = Daemon::start(root).await;
    d.create_profile("small", &small, 0).await;
    let p = d
        .profiles()
        .await
        .into_iter()
        .find(|p| p["id"] == "small")
        .unwrap();
    assert_eq!(p["min_free_space"], 1u64 << 30, "the default minimum: {p}");
    let (st, body) = d
        .patch_json("/api/profiles/small", &json!({"min_free_space": 16 * MIB}))
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["min_free_space"], 16 * MIB, "{body}");

    // 52 MiB + 16 MiB kept free do not fit in 64 MiB: added with a warning, held.
    let (st, body) = d
        .add_torrent_bytes(
            "small",
            &b.torrent,
            &[("peers", &seed_b.addr().to_string())],
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let warning = body["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains("too-big.bin") && warning.contains("queue"),
        "{body}"
    );
    let held = |r: &serde_json::Value| r["state"] == "queued" && r["reason"] == "disk_space";
    wait_for(15, "the big torrent held for disk space", async || {
        let r = d.torrent(&b.hash).await;
        if held(&r) { Ok(()) } else { Err(r.to_string()) }
    })
    .await;

    // One that fits runs.
    let (st, body) = d
        .add_torrent_bytes(
            "small",
            &a.torrent,
            &[("peers", &seed_a.addr().to_string())],
        )
        .await;
    assert_eq!(st, 201, "{body}");
    assert!(body.get("warnings").is_none(), "{body}");
    wait_for(30, "the small torrent downloading", async || {
        let r = d.torrent(&a.hash).await;
        let n = r["downloaded"].as_u64().unwrap_or(0);
        if r["state"] == "downloading" && n >= 4 * MIB {
            Ok(())
        } else {
            Err(r.to_string())
        }
    })
    .await;

    // Another program takes the space: 10 MiB left, below the 16 MiB minimum.
    let filler = small.join("other-program.bin");
    fs::write(&filler, vec![7u8; (disk.free_bytes() - 10 * MIB) as usize]).unwrap();
    let row = wait_for(10, "the running download held for disk space", async || {
        let r = d.torrent(&a.hash).await;
        if held(&r) { Ok(r) } else { Err(r.to_string()) }
    })
    .await;
    let at = row["downloaded"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = d.torrent(&a.hash).await;
    assert!(held(&r), "still held: {r}");
    // Pieces in flight when it was held may still land.
    assert!(
        r["downloaded"].as_u64().unwrap() <= at + 2 * MIB,
        "a held download stops: {at} then {r}"
    );
    assert!(
        disk.free_bytes() >= 4 * MIB,
        "the disk never filled: {}",
        disk.free_bytes()
    );
    let (st, h) = d.get("/api/health").await;
    assert_eq!(st, 200, "{h}");

    // Space returns: the download continues and completes; the big one still waits.
    fs::remove_file(&filler).unwrap();
    d.wait_complete(&a.hash, 60).await;
    a.assert_in(&small, None);
    let r = d.torrent(&b.hash).await;
    assert!(held(&r), "the big torrent still does not fit: {r}");
    assert_eq!(r["downloaded"], 0, "{r}");

    // The guard off for the profile: the big one starts.
    let (st, body) = d
        .patch_json("/api/profiles/small", &json!({"min_free_space": 0}))
        .await;
    assert_eq!(st, 200, "{body}");
    wait_for(15, "the big torrent started", async || {
        let r = d.torrent(&b.hash).await;
        if r["reason"].is_null() && r["state"] != "queued" {
            Ok(())
        } else {
            Err(r.to_string())
        }
    })
    .await;
}

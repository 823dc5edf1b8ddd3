//! Running out of resources (docs/reliability.md): a full disk under a download directory
//! stops the torrent with one human line and reason `disk_space`, the daemon keeps serving,
//! `resume` retries at once and the torrent continues by itself once space returns,
//! completing byte for byte. File descriptors: the soft limit is raised to the hard limit,
//! paused torrents hold no descriptor, and torrents beyond the limit wait instead of
//! starving the HTTP listener.

use std::fs;
use std::time::Duration;

use serde_json::Value;

use crate::faults::*;
use crate::util::*;

/// Asserts the row of a torrent stopped by a full disk: state `error`, reason `disk_space`,
/// one line naming the directory, progress = verified bytes (> 0, ≤ size).
#[track_caller]
fn assert_disk_full_row(row: &Value, dir: &std::path::Path) {
    assert_eq!(row["state"], "error", "{row}");
    assert_eq!(row["reason"], "disk_space", "{row}");
    let msg = row["error"].as_str().unwrap_or("");
    assert!(
        msg.contains(dir.to_str().unwrap()) && msg.contains("no space left"),
        "one human line naming the path and the cause: {msg:?}"
    );
    assert!(
        !msg.contains('\n') && msg.len() < 300 && !msg.to_lowercase().contains("backtrace"),
        "no backtrace or cause chain in the row: {msg:?}"
    );
    let (size, downloaded) = (
        row["size"].as_u64().unwrap(),
        row["downloaded"].as_u64().unwrap(),
    );
    assert!(
        downloaded > 0 && downloaded < size,
        "progress shows the verified bytes on disk: {row}"
    );
    let p = row["progress"].as_f64().unwrap();
    assert!(
        (p - downloaded as f64 / size as f64).abs() < 1e-6,
        "progress matches downloaded/size: {row}"
    );
}

async fn wait_disk_full(d: &Daemon, hash: &str, dir: &std::path::Path) -> Value {
    let row = wait_for(60, "the torrent to stop on the full disk", async || {
        let row = d.torrent(hash).await;
        // The verified bytes show up within a moment of the stop.
        if row["reason"] == "disk_space"
            && row["state"] == "error"
            && row["downloaded"].as_u64().unwrap_or(0) > 0
        {
            Ok(row)
        } else {
            Err(format!(
                "state={} reason={} error={} downloaded={}",
                row["state"], row["reason"], row["error"], row["downloaded"]
            ))
        }
    })
    .await;
    assert_disk_full_row(&row, dir);
    row
}

#[tokio::test(flavor = "multi_thread")]
async fn full_download_disk_waits_visibly_and_continues_by_itself() {
    let tmp = tempdir("dl-disk-full");
    let root = tmp.path();
    let small = root.join("small");
    let disk = Tmpfs::mount(&small, "32m");
    // Not a multiple of the piece length: librqbit's torrent builder adds a bogus last piece
    // hash then, which aria2c refuses.
    let p = Payload::single(
        &root.join("src"),
        "big.bin",
        (16 << 20) + 4321,
        &[],
        262_144,
    )
    .await;
    let aria = Aria2::seed(root, "seeder", &p.torrent_path, &p.parent, None).await;
    let d = Daemon::start(root).await;
    d.create_profile("small", &small, 0).await;

    // 6 MiB left for a 16 MiB download.
    let filler = small.join("filler");
    fs::write(&filler, vec![1u8; (disk.free_bytes() - (6 << 20)) as usize]).unwrap();
    let row = d
        .add_torrent_ok("small", &p.torrent, &[("peers", &aria.addr().to_string())])
        .await;
    assert_eq!(row["hash"], p.hash);
    wait_disk_full(&d, &p.hash, &small).await;

    // The daemon keeps serving: health, lists, other adds.
    let (st, h) = d.get("/api/health").await;
    assert_eq!((st, h["status"].as_str()), (200, Some("ok")), "{h}");
    let other = Payload::single(&root.join("src"), "other.bin", 20_000, &[], 16_384).await;
    d.add_torrent_ok("default", &other.torrent, &[("paused", "true")])
        .await;
    assert_eq!(d.torrents("small").await.len(), 1);
    // It stays waiting (no retry while the space is not there).
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_disk_full_row(&d.torrent(&p.hash).await, &small);

    // `resume` retries at once: with the space back, it is running again in its answer.
    fs::remove_file(&filler).unwrap();
    let resumed = d.action(&p.hash, "resume").await;
    assert!(
        matches!(
            resumed["state"].as_str(),
            Some("checking" | "downloading" | "seeding")
        ) && resumed["reason"].is_null(),
        "resume must retry, not answer 200 with nothing changed: {resumed}"
    );
    d.wait_complete(&p.hash, 60).await;
    p.assert_in(&small, None);

    // Once more without any request: 4 MiB left for a 12 MiB download; free the space and
    // it continues by itself.
    let q = Payload::single(
        &root.join("src"),
        "second.bin",
        (12 << 20) + 4321,
        &[],
        262_144,
    )
    .await;
    let aria2 = Aria2::seed(root, "seeder2", &q.torrent_path, &q.parent, None).await;
    let free = disk.free_bytes();
    fs::write(&filler, vec![1u8; (free - (4 << 20)) as usize]).unwrap();
    d.add_torrent_ok("small", &q.torrent, &[("peers", &aria2.addr().to_string())])
        .await;
    wait_disk_full(&d, &q.hash, &small).await;
    fs::remove_file(&filler).unwrap();
    d.wait_complete(&q.hash, 90).await;
    q.assert_in(&small, None);
    p.assert_in(&small, None);
    let log = d.log_of_run(1);
    assert!(
        log.contains("torrent stopped") && log.contains("No space left on device (os error 28)"),
        "the full engine error is in the log:\n{log}"
    );
    drop(d);
    drop(disk);
}

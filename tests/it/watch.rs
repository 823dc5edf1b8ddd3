//! Watch folders (README "Watch folders"): a .torrent written slowly in chunks over 2 s is
//! added once, when complete, and renamed `.added`; a file that is not a torrent becomes
//! `.invalid`; files dropped while the daemon is stopped are added at its start.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use crate::util::*;

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn torrents_dropped_into_the_watch_folder_are_added_once() {
    let tmp = tempdir("watch");
    let root = tmp.path();
    let a = Payload::single(&root.join("src"), "slow.bin", 200_000, &[], 16_384).await;
    let b = Payload::single(&root.join("src"), "later.bin", 100_000, &[], 16_384).await;
    let mut d = Daemon::start(root).await;
    let watch = root.join("watch");
    std::fs::create_dir_all(&watch).unwrap();
    let bad = d
        .patch_json(
            "/api/profiles/default",
            &json!({"watch_dir": root.join("nope")}),
        )
        .await;
    assert_error("missing watch folder", &bad, 400, "download_dir_invalid");
    let (st, body) = d
        .patch_json("/api/profiles/default", &json!({"watch_dir": watch}))
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["watch_dir"], watch.to_str().unwrap(), "{body}");
    // Let the watcher take the folder up before writing into it.
    tokio::time::sleep(Duration::from_secs(6)).await;

    // Written in four chunks over two seconds.
    let path = watch.join("slow.torrent");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = a.torrent.len().div_ceil(4);
    for part in a.torrent.chunks(chunk) {
        f.write_all(part).unwrap();
        f.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(650)).await;
    }
    drop(f);
    std::fs::write(watch.join("junk.torrent"), b"this is not bencode").unwrap();
    std::fs::write(watch.join("notes.txt"), b"ignored").unwrap();
    wait_for(20, "the folder handled", async || {
        let n = names(&watch);
        if n == ["junk.torrent.invalid", "notes.txt", "slow.torrent.added"] {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    })
    .await;
    let rows = d.torrents("default").await;
    assert_eq!(rows.len(), 1, "added once: {rows:?}");
    assert_eq!(rows[0]["hash"], a.hash);

    // Dropped while stopped: added at the start.
    d.stop().await;
    std::fs::write(watch.join("later.torrent"), &b.torrent).unwrap();
    d.start_again().await;
    wait_for(20, "the file dropped while stopped", async || {
        let rows = d.torrents("default").await;
        if rows.iter().any(|r| r["hash"] == b.hash) && watch.join("later.torrent.added").exists() {
            Ok(())
        } else {
            Err(format!("{:?}", names(&watch)))
        }
    })
    .await;
    assert_eq!(d.torrents("default").await.len(), 2);
}

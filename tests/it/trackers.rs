//! Trackers (README "Trackers"): pytorrentd announces a seeding torrent to its opentracker;
//! after a second tracker (over UDP) is added and the torrent reannounced, that tracker lists
//! it; removing it tells it `stopped` and no announce reaches it any more. Tracker rows show
//! status, last and next announce, counts and errors; bad lists change nothing; the list
//! survives a restart.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::*;

async fn rows(d: &Daemon, hash: &str) -> Vec<Value> {
    let (st, body) = d.get(&format!("/api/torrents/{hash}/trackers")).await;
    assert_eq!(st, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

async fn wait_row(d: &Daemon, hash: &str, url: &str, status: &str) -> Value {
    wait_for(20, &format!("tracker {url} {status}"), async || {
        let all = rows(d, hash).await;
        match all.iter().find(|r| r["url"] == url) {
            Some(r) if r["status"] == status => Ok(r.clone()),
            _ => Err(Value::Array(all).to_string()),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn trackers_are_announced_added_and_removed_live() {
    let tmp = tempdir("trackers");
    let root = tmp.path();
    let mut t1 = Tracker::named(root, "t1");
    let mut t2 = Tracker::named(root, "t2");
    let first = t1.announce_url();
    let p = Payload::single(
        &root.join("src"),
        "shared.bin",
        300 * 1024,
        std::slice::from_ref(&first),
        32_768,
    )
    .await;
    t1.start(&[&p.hash]).await;
    t2.start(&[&p.hash]).await;
    let mut d = Daemon::start(root).await;
    p.copy_into(&d.download_dir);
    d.add_torrent_ok("default", &p.torrent, &[]).await;
    d.wait_complete(&p.hash, 30).await;

    // The torrent's own tracker: announced to, with what it answered.
    t1.wait_seeders(&p.hash, 1, 30).await;
    let r = wait_row(&d, &p.hash, &first, "working").await;
    assert!(!r["last_announce"].is_null(), "{r}");
    let next = rfc3339(&r["next_announce"]);
    assert!(next > chrono::Utc::now(), "the next announce is ahead: {r}");
    assert_eq!(r["seeds"], 1, "{r}");
    assert!(r["last_error"].is_null(), "{r}");
    assert_eq!(t2.scrape(&p.hash).await.0, 0);

    // Bad lists: refused, nothing changed.
    for bad in [
        json!(["ftp://tracker.example/announce"]),
        json!(["not a url"]),
        json!([""]),
    ] {
        let r = d
            .patch_json(
                &format!("/api/torrents/{}", p.hash),
                &json!({"trackers": bad}),
            )
            .await;
        assert_error(&format!("trackers {bad}"), &r, 400, "invalid_input");
    }
    assert_eq!(rows(&d, &p.hash).await.len(), 1);

    // A second tracker, over UDP, and a reannounce: it lists the torrent.
    let second = t2.udp_url();
    let row = d
        .patch_torrent(&p.hash, &json!({"trackers": [first, second]}))
        .await;
    assert_eq!(
        row["trackers"],
        json!(["127.0.0.1"]),
        "hosts of the trackers: {row}"
    );
    d.action(&p.hash, "reannounce").await;
    t2.wait_seeders(&p.hash, 1, 15).await;
    let r = wait_row(&d, &p.hash, &second, "working").await;
    assert_eq!(r["tier"], 1, "{r}");
    assert_eq!(r["seeds"], 1, "{r}");

    // Removed: told `stopped`, then left alone even by a reannounce.
    d.patch_torrent(&p.hash, &json!({"trackers": [first]}))
        .await;
    wait_for(
        15,
        "the removed tracker to forget the torrent",
        async || {
            let (c, i) = t2.scrape(&p.hash).await;
            if c == 0 {
                Ok(())
            } else {
                Err(format!("complete={c} incomplete={i}"))
            }
        },
    )
    .await;
    d.action(&p.hash, "reannounce").await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            t2.scrape(&p.hash).await.0,
            0,
            "no announce to a removed tracker"
        );
    }
    assert_eq!(t1.scrape(&p.hash).await.0, 1);

    // A tracker nobody answers at: an error with its reason, the others unaffected.
    let dead = format!("http://127.0.0.1:{}/announce", free_port());
    d.patch_torrent(&p.hash, &json!({"trackers": [first, dead]}))
        .await;
    let r = wait_row(&d, &p.hash, &dead, "error").await;
    assert!(
        r["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{r}"
    );
    assert_eq!(rows(&d, &p.hash).await[0]["status"], "working");

    // The list a user set survives a restart.
    d.restart().await;
    let urls: Vec<Value> = rows(&d, &p.hash)
        .await
        .iter()
        .map(|r| r["url"].clone())
        .collect();
    assert_eq!(urls, vec![json!(first), json!(dead)]);
}

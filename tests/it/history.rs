//! Traffic history (README "Traffic history"): after a download from a real aria2c seeder,
//! the profile's history holds the payload's bytes (within 1 %) in minute buckets, the
//! global history the same, another profile nothing; 7 days come in 10-minute buckets.

use serde_json::Value;

use crate::util::*;

fn total(h: &Value, field: &str) -> u64 {
    h["points"]
        .as_array()
        .map(|p| p.iter().map(|x| x[field].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_shows_in_the_minute_buckets_of_its_profile() {
    let tmp = tempdir("history");
    let root = tmp.path();
    let p = Payload::single(
        &root.join("src"),
        "hist.bin",
        6 * 1024 * 1024 + 77,
        &[],
        65_536,
    )
    .await;
    let seeder = Aria2::seed(root, "seeder", &p.torrent_path, &p.parent, Some("2M")).await;
    let d = Daemon::start(root).await;
    d.create_profile("tv", &root.join("tv"), 0).await;
    d.add_torrent_ok("tv", &p.torrent, &[("peers", &seeder.addr().to_string())])
        .await;
    d.wait_complete(&p.hash, 60).await;
    let size = p.size;
    let h = wait_for(20, "the download in the history", async || {
        let (st, h) = d.get("/api/stats/history?range=1h&profile=tv").await;
        assert_eq!(st, 200, "{h}");
        let got = total(&h, "dl");
        if got as f64 >= size as f64 * 0.99 {
            Ok(h)
        } else {
            Err(format!("{got} of {size}: {h}"))
        }
    })
    .await;
    let got = total(&h, "dl");
    assert!(
        (got as f64 - size as f64).abs() <= size as f64 * 0.01,
        "{got} bytes in the history for a {size}-byte download"
    );
    assert_eq!(h["step"], 60);
    for pt in h["points"].as_array().unwrap() {
        assert_eq!(pt["t"].as_i64().unwrap() % 60, 0, "minute buckets: {pt}");
    }
    // The download ran for a few seconds at 2 MiB/s: one or two minutes.
    assert!(h["points"].as_array().unwrap().len() <= 3, "{h}");
    let (_, all) = d.get("/api/stats/history?range=24h").await;
    assert_eq!(
        total(&all, "dl"),
        got,
        "the global history sums the profiles"
    );
    let (_, other) = d.get("/api/stats/history?range=24h&profile=default").await;
    assert_eq!(total(&other, "dl"), 0, "{other}");
    let (_, week) = d.get("/api/stats/history?range=7d&profile=tv").await;
    assert_eq!(week["step"], 600);
    assert_eq!(total(&week, "dl"), got);
    let r = d.get("/api/stats/history?range=2y").await;
    assert_error("range 2y", &r, 400, "invalid_query");
    let r = d.get("/api/stats/history?profile=nope").await;
    assert_eq!(r.0, 404, "{:?}", r.1);
}

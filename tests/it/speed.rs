//! Speed limits (README "Speed limits") measured on real transfers with aria2c on loopback:
//! a global limit holds within 10 % over 10 s and a raise takes effect within 2 s; a
//! profile's limit is shared by its torrents; a torrent's own limit below its profile's wins;
//! the same for uploads with pytorrentd seeding to aria2c leechers. The schedule switches to
//! the alternative limits when its window covers the present time, and not otherwise.

use std::time::{Duration, Instant};

use chrono::{Datelike, Timelike};
use serde_json::{Value, json};

use crate::util::*;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// The byte counter `field` (`downloaded` or `uploaded`) of each torrent, read together.
async fn counters(d: &Daemon, hashes: &[&str], field: &str) -> Vec<u64> {
    d.numbers("default", hashes, field).await
}

/// Average rates (bytes/s) of each torrent over `secs`, from the counters at both ends.
async fn rates(d: &Daemon, hashes: &[&str], field: &str, secs: f64) -> Vec<f64> {
    let a = counters(d, hashes, field).await;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let b = counters(d, hashes, field).await;
    let dt = t0.elapsed().as_secs_f64();
    a.iter()
        .zip(&b)
        .map(|(x, y)| y.saturating_sub(*x) as f64 / dt)
        .collect()
}

fn assert_near(what: &str, got: f64, want: u64) {
    let ratio = got / want as f64;
    eprintln!("{what}: {ratio:.3}× the limit");
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{what}: {:.0} KiB/s against a limit of {} KiB/s ({ratio:.3}×, allowed 0.9–1.1)",
        got / KIB as f64,
        want / KIB
    );
}

/// Waits until `hash`'s counter has moved by `bytes` (the transfer runs and the limiter's
/// initial one-second burst is spent).
async fn wait_moving(d: &Daemon, hash: &str, field: &str, bytes: u64) {
    let start = counters(d, &[hash], field).await[0];
    wait_for(60, &format!("{field} of {hash} to grow"), async || {
        let now = counters(d, &[hash], field).await[0];
        if now >= start + bytes {
            Ok(())
        } else {
            Err(format!("{now} (from {start})"))
        }
    })
    .await;
}

/// Sets the global limits (bytes/s).
async fn set_global(d: &Daemon, speed: Value) {
    let (st, body) = d
        .patch_json("/api/settings", &json!({ "speed": speed }))
        .await;
    assert_eq!(st, 200, "{body}");
}

/// After raising a limit: the rate over one second goes past `above` within 2 s of the change.
async fn assert_raised_within_2s(d: &Daemon, hash: &str, field: &str, above: u64) {
    let changed = Instant::now();
    let mut prev = (Instant::now(), counters(d, &[hash], field).await[0]);
    let mut seen = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = (Instant::now(), counters(d, &[hash], field).await[0]);
        let dt = now.0.duration_since(prev.0).as_secs_f64();
        if dt >= 1.0 {
            let rate = now.1.saturating_sub(prev.1) as f64 / dt;
            seen.push(format!("{:.0}", rate / KIB as f64));
            if rate > above as f64 {
                return;
            }
            prev = now;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(2) + Duration::from_millis(600),
            "the raised limit was not in force within 2 s (KiB/s per second since the change: {seen:?})"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn download_limits_global_raised_profile_shared_and_torrent() {
    let tmp = tempdir("speed-dl");
    let root = tmp.path();
    let a = Payload::single(
        &root.join("src-a"),
        "a.bin",
        80 * MIB as usize,
        &[],
        64 * 1024,
    )
    .await;
    let b = Payload::single(
        &root.join("src-b"),
        "b.bin",
        48 * MIB as usize,
        &[],
        64 * 1024,
    )
    .await;
    let seed_a = Aria2::seed(root, "seed-a", &a.torrent_path, &a.parent, None).await;
    let seed_b = Aria2::seed(root, "seed-b", &b.torrent_path, &b.parent, None).await;
    let d = Daemon::start(root).await;

    // Below one block per second: refused, nothing changed.
    let r = d
        .patch_json("/api/settings", &json!({"speed": {"dl_limit": 1000}}))
        .await;
    assert_error("dl_limit 1000", &r, 400, "invalid_input");
    let r = d
        .patch_json("/api/profiles/default", &json!({"dl_limit": 100}))
        .await;
    assert_error("profile dl_limit 100", &r, 400, "invalid_input");

    // Global limit.
    let limit = 2 * MIB;
    set_global(&d, json!({"dl_limit": limit})).await;
    let (_, stats) = d.get("/api/stats").await;
    assert_eq!(stats["limits"]["dl_limit"], limit, "{stats}");
    let peer = seed_a.addr().to_string();
    d.add_torrent_ok("default", &a.torrent, &[("peers", &peer)])
        .await;
    wait_moving(&d, &a.hash, "downloaded", 3 * MIB).await;
    let r = rates(&d, &[&a.hash], "downloaded", 10.0).await;
    assert_near("global download limit", r[0], limit);

    // Raised mid-transfer: in force within 2 s.
    set_global(&d, json!({"dl_limit": 6 * MIB})).await;
    assert_raised_within_2s(&d, &a.hash, "downloaded", 4 * MIB).await;

    // The profile's limit, shared by its two torrents (set before the global one goes, so
    // that nothing runs unlimited in between).
    let (st, body) = d
        .patch_json("/api/profiles/default", &json!({"dl_limit": limit}))
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["dl_limit"], limit, "{body}");
    set_global(&d, json!({"dl_limit": 0})).await;
    let peer = seed_b.addr().to_string();
    d.add_torrent_ok("default", &b.torrent, &[("peers", &peer)])
        .await;
    wait_moving(&d, &b.hash, "downloaded", 2 * MIB).await;
    let r = rates(&d, &[&a.hash, &b.hash], "downloaded", 10.0).await;
    assert_near("profile limit, sum of its two torrents", r[0] + r[1], limit);
    assert!(
        r[0] > 0.0 && r[1] > 0.0,
        "both torrents share the limit: {r:?}"
    );

    // A torrent's own limit below its profile's wins; the other takes the rest.
    let own = 512 * KIB;
    let row = d.patch_torrent(&a.hash, &json!({"dl_limit": own})).await;
    assert_eq!(row["dl_limit"], own, "{row}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = rates(&d, &[&a.hash, &b.hash], "downloaded", 10.0).await;
    assert_near("torrent limit under the profile's", r[0], own);
    assert_near(
        "profile limit with one torrent held lower",
        r[0] + r[1],
        limit,
    );
    let done = counters(&d, &[&a.hash, &b.hash], "downloaded").await;
    assert!(
        done[0] < a.size && done[1] < b.size,
        "the payloads must outlast the measurements: {done:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_limits_global_raised_and_torrent_under_profile() {
    let tmp = tempdir("speed-ul");
    let root = tmp.path();
    let mut tracker = Tracker::new(root);
    let announce = tracker.announce_url();
    let trackers = std::slice::from_ref(&announce);
    let a = Payload::single(
        &root.join("src-a"),
        "ua.bin",
        64 * MIB as usize,
        trackers,
        64 * 1024,
    )
    .await;
    let b = Payload::single(
        &root.join("src-b"),
        "ub.bin",
        40 * MIB as usize,
        trackers,
        64 * 1024,
    )
    .await;
    tracker.start(&[&a.hash, &b.hash]).await;
    let d = Daemon::start(root).await;
    a.copy_into(&d.download_dir);
    b.copy_into(&d.download_dir);
    d.add_torrent_ok("default", &a.torrent, &[]).await;
    d.add_torrent_ok("default", &b.torrent, &[]).await;
    d.wait_complete(&a.hash, 60).await;
    d.wait_complete(&b.hash, 60).await;

    let limit = 2 * MIB;
    set_global(&d, json!({"ul_limit": limit})).await;
    // The leechers find the daemon through the tracker.
    tracker.wait_seeders(&a.hash, 1, 30).await;
    tracker.wait_seeders(&b.hash, 1, 30).await;
    // The tracker hands out the daemon's own listening port (what the leechers connect to).
    for hash in [&a.hash, &b.hash] {
        let raw = hex::decode(hash).unwrap();
        let url = format!(
            "http://127.0.0.1:{}/announce?info_hash={}&peer_id=-XX0000-000000000000&port=1&uploaded=0&downloaded=0&left=1&compact=1",
            tracker.port,
            pct(&raw)
        );
        let body = get_bytes(&url).await;
        let mut want = vec![127, 0, 0, 1];
        want.extend_from_slice(&d.bt_port.to_be_bytes());
        assert!(
            body.windows(6).any(|w| w == want.as_slice()),
            "the tracker lists the daemon at 127.0.0.1:{}: {body:?}",
            d.bt_port
        );
    }
    let out = root.join("leech");
    let _la = Aria2::leech(root, "la", &a.torrent_path, &out);
    wait_moving(&d, &a.hash, "uploaded", 3 * MIB).await;
    let r = rates(&d, &[&a.hash], "uploaded", 10.0).await;
    assert_near("global upload limit", r[0], limit);

    set_global(&d, json!({"ul_limit": 6 * MIB})).await;
    assert_raised_within_2s(&d, &a.hash, "uploaded", 4 * MIB).await;

    // Profile at 2 MiB/s shared by both, the first torrent held at 512 KiB/s by its own
    // (set before the global limit goes, so that nothing runs unlimited in between).
    let (st, body) = d
        .patch_json("/api/profiles/default", &json!({"ul_limit": limit}))
        .await;
    assert_eq!(st, 200, "{body}");
    let own = 512 * KIB;
    d.patch_torrent(&a.hash, &json!({"ul_limit": own})).await;
    set_global(&d, json!({"ul_limit": 0})).await;
    let _lb = Aria2::leech(root, "lb", &b.torrent_path, &out);
    wait_moving(&d, &b.hash, "uploaded", 2 * MIB).await;
    let r = rates(&d, &[&a.hash, &b.hash], "uploaded", 10.0).await;
    assert_near("torrent upload limit under the profile's", r[0], own);
    assert_near("profile upload limit, both torrents", r[0] + r[1], limit);
    let sent = counters(&d, &[&a.hash, &b.hash], "uploaded").await;
    assert!(
        sent[0] < a.size && sent[1] < b.size,
        "the leechers must still be downloading: {sent:?}"
    );
}

/// "HH:MM" of `now` moved by `minutes` (wrapping around midnight).
fn hhmm(now: chrono::DateTime<chrono::Local>, minutes: i64) -> String {
    let m = (now.hour() as i64 * 60 + now.minute() as i64 + minutes).rem_euclid(24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schedule_switches_to_the_alternative_limits_inside_its_window() {
    let tmp = tempdir("speed-schedule");
    let d = Daemon::start(tmp.path()).await;
    set_global(
        &d,
        json!({"dl_limit": 4 * MIB, "ul_limit": 3 * MIB, "alt_dl_limit": MIB, "alt_ul_limit": 512 * KIB}),
    )
    .await;
    let limits = async || {
        let (st, s) = d.get("/api/stats").await;
        assert_eq!(st, 200, "{s}");
        s["limits"].clone()
    };
    assert_eq!(
        limits().await,
        json!({"dl_limit": 4 * MIB, "ul_limit": 3 * MIB, "alt_enabled": false})
    );
    // A window that does not cover now (every day, from in 30 minutes for 10 minutes).
    let now = chrono::Local::now();
    let today = now.weekday().num_days_from_monday();
    set_global(
        &d,
        json!({"schedule": {"enabled": true, "days": [0,1,2,3,4,5,6], "from": hhmm(now, 30), "to": hhmm(now, 40)}}),
    )
    .await;
    assert_eq!(limits().await["alt_enabled"], false);
    // A window covering now, on today only (from 2 minutes ago to in 10 minutes; a window
    // starting before midnight belongs to yesterday).
    let start_day = if now.hour() == 0 && now.minute() < 2 {
        (today + 6) % 7
    } else {
        today
    };
    set_global(
        &d,
        json!({"schedule": {"enabled": true, "days": [start_day], "from": hhmm(now, -2), "to": hhmm(now, 10)}}),
    )
    .await;
    assert_eq!(
        limits().await,
        json!({"dl_limit": MIB, "ul_limit": 512 * KIB, "alt_enabled": true})
    );
    // The same window on another day does not cover now: the schedule switches them off.
    set_global(
        &d,
        json!({"schedule": {"enabled": true, "days": [(start_day + 3) % 7], "from": hhmm(now, -2), "to": hhmm(now, 10)}}),
    )
    .await;
    assert_eq!(limits().await["alt_enabled"], false);
    // The switch by hand, kept across a restart.
    set_global(&d, json!({"schedule": {"enabled": false, "days": [], "from": "00:00", "to": "00:00"}, "alt_enabled": true})).await;
    let mut d = d;
    d.restart().await;
    let (st, s) = d.get("/api/settings").await;
    assert_eq!(st, 200, "{s}");
    assert_eq!(s["speed"]["alt_enabled"], true, "{s}");
    assert_eq!(s["speed"]["alt_dl_limit"], MIB, "{s}");
    let (_, stats) = d.get("/api/stats").await;
    assert_eq!(stats["limits"]["dl_limit"], MIB, "{stats}");
}

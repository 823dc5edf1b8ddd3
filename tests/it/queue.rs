//! Per-profile download queue (README "What it does"): at most `max_active_downloads` incomplete, non-paused
//! torrents are `downloading`, in queue order; the rest are `queued`; seeding takes no slot; a
//! user pause is never undone by the queue; force-start bypasses the limit; moves reorder.

use std::path::Path;

use serde_json::{Value, json};

use crate::util::*;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// A profile `q` with one download slot and three peerless torrents added in order: waits
/// until the first is `downloading` and the others `queued`, and returns the rows.
async fn three_in_one_slot(root: &Path) -> (Daemon, Vec<Payload>, Vec<serde_json::Value>) {
    let ps = orphan_payloads(root, 3).await;
    let d = Daemon::start(root).await;
    d.create_profile("q", &root.join("q"), 1).await;
    for p in &ps {
        d.add_torrent_ok("q", &p.torrent, &[]).await;
    }
    let want: Vec<(&str, &str)> = vec![
        (ps[0].hash.as_str(), "downloading"),
        (ps[1].hash.as_str(), "queued"),
        (ps[2].hash.as_str(), "queued"),
    ];
    let rows = wait_list(&d, "q", &want, 20).await;
    (d, ps, rows)
}

/// `n` single-file torrents nobody seeds (they stay incomplete forever).
async fn orphan_payloads(root: &Path, n: usize) -> Vec<Payload> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(
            Payload::single(
                &root.join("orphans"),
                &format!("orphan-{i}.bin"),
                256 * KIB,
                &[],
                64 * KIB as u32,
            )
            .await,
        );
    }
    v
}

fn list_summary(rows: &[Value]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{}:{}@{}",
                r["name"].as_str().unwrap_or("?"),
                r["state"].as_str().unwrap_or("?"),
                r["queue_position"]
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Waits until the profile's list is exactly `expected` (hash, state) in this order, with
/// strictly increasing queue_position. Returns the rows.
async fn wait_list(d: &Daemon, profile: &str, expected: &[(&str, &str)], secs: u64) -> Vec<Value> {
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(h, s)| (h.to_string(), s.to_string()))
        .collect();
    wait_for(
        secs,
        &format!("profile {profile} list to be {expected:?}"),
        async || {
            let rows = d.torrents(profile).await;
            let got: Vec<(String, String)> = rows
                .iter()
                .map(|r| {
                    (
                        r["hash"].as_str().unwrap_or("").to_string(),
                        r["state"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            if got == want {
                Ok(rows)
            } else {
                Err(list_summary(&rows))
            }
        },
    )
    .await
}

#[track_caller]
fn assert_positions_increasing(rows: &[Value]) {
    let pos: Vec<i64> = rows
        .iter()
        .map(|r| {
            r["queue_position"]
                .as_i64()
                .unwrap_or_else(|| panic!("queue_position not an integer: {r}"))
        })
        .collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "list must be sorted by distinct queue_position: {}",
        list_summary(rows)
    );
}

fn count_state(rows: &[Value], state: &str) -> usize {
    rows.iter().filter(|r| r["state"] == state).count()
}

/// max_active_downloads=1 with three added torrents: exactly one `downloading`, two `queued`;
/// pausing the active one starts the next in queue order, and so on.
#[tokio::test(flavor = "multi_thread")]
async fn one_active_two_queued_and_pause_starts_next() {
    let tmp = tempdir("q-basic");
    let root = tmp.path();
    let (d, ps, rows) = three_in_one_slot(root).await;
    let (a, b, c) = (
        ps[0].hash.as_str(),
        ps[1].hash.as_str(),
        ps[2].hash.as_str(),
    );
    assert_positions_increasing(&rows);
    for r in &rows {
        assert_eq!(r["profile"], "q", "{r}");
        assert_eq!(r["paused"], false, "{r}");
    }

    let row = d.action(a, "pause").await;
    assert_eq!(row["state"], "paused", "pause answer: {row}");
    assert_eq!(row["paused"], true, "pause answer: {row}");
    wait_list(
        &d,
        "q",
        &[(a, "paused"), (b, "downloading"), (c, "queued")],
        20,
    )
    .await;

    d.action(b, "pause").await;
    wait_list(
        &d,
        "q",
        &[(a, "paused"), (b, "paused"), (c, "downloading")],
        20,
    )
    .await;

    // resuming A (first in queue order): the limit still holds, A is no longer paused and
    // takes the slot back in queue order (C goes back to queued).
    let row = d.action(a, "resume").await;
    assert_eq!(row["paused"], false, "resume answer: {row}");
    wait_list(
        &d,
        "q",
        &[(a, "downloading"), (b, "paused"), (c, "queued")],
        20,
    )
    .await;
}

/// With a real (throttled) seeder and max_active_downloads=1, the three torrents download one
/// after the other in queue order: never two downloading at once, finishing one starts the next.
#[tokio::test(flavor = "multi_thread")]
async fn finishing_active_starts_next_in_queue_order() {
    let tmp = tempdir("q-finish");
    let root = tmp.path();
    let mut ps = Vec::new();
    for i in 0..3 {
        ps.push(
            Payload::single(
                &root.join("src"),
                &format!("seq-{i}.bin"),
                2 * MIB + i,
                &[],
                128 * KIB as u32,
            )
            .await,
        );
    }
    // whole session limited to 1 MiB/s (the limiter allows a 1 s burst): each torrent takes 1-2 s
    let seeder = RqSeeder::start(&[&ps[0], &ps[1], &ps[2]], Some(MIB as u32)).await;
    let d = Daemon::start(root).await;
    let dir = root.join("q");
    d.create_profile("q", &dir, 1).await;
    let peer = seeder.addr.to_string();
    for p in &ps {
        d.add_torrent_ok("q", &p.torrent, &[("peers", &peer)]).await;
    }
    let hashes: Vec<&str> = ps.iter().map(|p| p.hash.as_str()).collect();

    let mut first_seeding: Vec<String> = Vec::new();
    let mut saw_first_active_others_queued = false;
    let mut violations: Vec<String> = Vec::new();
    let mut trace: Vec<String> = Vec::new();
    wait_for(55, "all three to finish", async || {
        let rows = d.torrents("q").await;
        let summary = list_summary(&rows);
        if trace.last() != Some(&summary) {
            trace.push(summary);
        }
        let dl = count_state(&rows, "downloading");
        if dl > 1 {
            violations.push(list_summary(&rows));
        }
        let state_of = |h: &str| {
            rows.iter()
                .find(|r| r["hash"] == h)
                .map(|r| r["state"].as_str().unwrap_or("").to_string())
                .unwrap_or_default()
        };
        if state_of(hashes[0]) == "downloading"
            && state_of(hashes[1]) == "queued"
            && state_of(hashes[2]) == "queued"
        {
            saw_first_active_others_queued = true;
        }
        for h in &hashes {
            if state_of(h) == "seeding" && !first_seeding.iter().any(|x| x == h) {
                first_seeding.push(h.to_string());
            }
            if state_of(h) == "error" {
                return Err(format!("error state: {}", list_summary(&rows)));
            }
        }
        if first_seeding.len() == 3 {
            Ok(())
        } else {
            Err(list_summary(&rows))
        }
    })
    .await;
    let trace = trace.join("\n  ");
    assert!(
        violations.is_empty(),
        "more than one torrent downloading with max_active_downloads=1: {violations:?}\nobserved:\n  {trace}"
    );
    assert!(
        saw_first_active_others_queued,
        "never observed [first downloading, 2nd and 3rd queued]; observed:\n  {trace}"
    );
    assert_eq!(
        first_seeding, hashes,
        "torrents must complete in queue order; observed:\n  {trace}"
    );
    for p in &ps {
        p.assert_in(&dir, None);
    }
    // completed_at (recorded by the daemon shortly after completion) agrees with the order
    let rows = wait_for(5, "completed_at to be recorded for all three", async || {
        let rows = d.torrents("q").await;
        if rows.iter().all(|r| r["completed_at"].is_string()) {
            Ok(rows)
        } else {
            Err(list_summary(&rows))
        }
    })
    .await;
    let times: Vec<_> = rows.iter().map(|r| rfc3339(&r["completed_at"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "completed_at out of queue order: {times:?}"
    );
}

/// A user-paused torrent is skipped by the queue and never resumed by it; force-start runs a
/// torrent beyond the limit.
#[tokio::test(flavor = "multi_thread")]
async fn user_paused_stays_paused_and_force_start_bypasses_limit() {
    let tmp = tempdir("q-force");
    let root = tmp.path();
    let ps = orphan_payloads(root, 4).await;
    let d = Daemon::start(root).await;
    d.create_profile("q", &root.join("q"), 1).await;
    let (a, b, c, e) = (
        ps[0].hash.as_str(),
        ps[1].hash.as_str(),
        ps[2].hash.as_str(),
        ps[3].hash.as_str(),
    );
    d.add_torrent_ok("q", &ps[0].torrent, &[]).await;
    let rb = d
        .add_torrent_ok("q", &ps[1].torrent, &[("paused", "true")])
        .await;
    assert_eq!(rb["paused"], true, "added paused: {rb}");
    d.add_torrent_ok("q", &ps[2].torrent, &[]).await;
    wait_list(
        &d,
        "q",
        &[(a, "downloading"), (b, "paused"), (c, "queued")],
        20,
    )
    .await;

    // the slot frees up: the queue skips the user-paused B and starts C
    d.action(a, "pause").await;
    wait_list(
        &d,
        "q",
        &[(a, "paused"), (b, "paused"), (c, "downloading")],
        20,
    )
    .await;
    // and B stays paused (sampled over a while: the queue must not resume it)
    for _ in 0..15 {
        let row = d.torrent(b).await;
        assert_eq!(
            (row["state"].as_str(), row["paused"].as_bool()),
            (Some("paused"), Some(true)),
            "{row}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // force-start the paused B: runs although C already holds the only slot
    let row = d.action(b, "force-start").await;
    assert_eq!(row["force_start"], true, "force-start answer: {row}");
    wait_list(
        &d,
        "q",
        &[(a, "paused"), (b, "downloading"), (c, "downloading")],
        20,
    )
    .await;

    // a new torrent is queued (limit reached) until force-started
    d.add_torrent_ok("q", &ps[3].torrent, &[]).await;
    wait_list(
        &d,
        "q",
        &[
            (a, "paused"),
            (b, "downloading"),
            (c, "downloading"),
            (e, "queued"),
        ],
        20,
    )
    .await;
    d.action(e, "force-start").await;
    let rows = wait_list(
        &d,
        "q",
        &[
            (a, "paused"),
            (b, "downloading"),
            (c, "downloading"),
            (e, "downloading"),
        ],
        20,
    )
    .await;
    assert_eq!(count_state(&rows, "downloading"), 3);
    // A was never touched by the queue
    let ra = d.torrent(a).await;
    assert_eq!(ra["paused"], true, "{ra}");
}

/// top / up / down / bottom moves change queue_position and the list order as expected.
#[tokio::test(flavor = "multi_thread")]
async fn queue_moves_reorder_positions() {
    let tmp = tempdir("q-moves");
    let root = tmp.path();
    let ps = orphan_payloads(root, 4).await;
    let d = Daemon::start(root).await;
    d.create_profile("q", &root.join("q"), 1).await;
    for p in &ps {
        d.add_torrent_ok("q", &p.torrent, &[("paused", "true")])
            .await;
    }
    let h: Vec<&str> = ps.iter().map(|p| p.hash.as_str()).collect();
    let (a, b, c, dd) = (h[0], h[1], h[2], h[3]);

    async fn order(d: &Daemon) -> Vec<String> {
        let rows = d.torrents("q").await;
        assert_positions_increasing(&rows);
        for r in &rows {
            let single = d.torrent(r["hash"].as_str().unwrap()).await;
            assert_eq!(
                single["queue_position"], r["queue_position"],
                "details and list disagree: {single} vs {r}"
            );
        }
        rows.iter()
            .map(|r| r["hash"].as_str().unwrap().to_string())
            .collect()
    }
    assert_eq!(order(&d).await, [a, b, c, dd], "initial order = add order");

    let steps: [(&str, &str, [&str; 4]); 6] = [
        (dd, "top", [dd, a, b, c]),
        (dd, "down", [a, dd, b, c]),
        (a, "bottom", [dd, b, c, a]),
        (c, "up", [dd, c, b, a]),
        (dd, "up", [dd, c, b, a]),  // already first: no change
        (a, "down", [dd, c, b, a]), // already last: no change
    ];
    for (who, mv, expect) in steps {
        let row = d.patch_torrent(who, &json!({"queue": mv})).await;
        assert_eq!(row["hash"], who, "{row}");
        let got = order(&d).await;
        assert_eq!(got, expect, "after moving {who} {mv}");
        // the answer's position is the torrent's new position
        let listed = d.torrents("q").await;
        let mine = listed.iter().find(|r| r["hash"] == who).unwrap();
        assert_eq!(
            row["queue_position"], mine["queue_position"],
            "PATCH answer vs list"
        );
    }
    // all still paused (moves do not resume)
    let rows = d.torrents("q").await;
    assert!(
        rows.iter().all(|r| r["state"] == "paused"),
        "{}",
        list_summary(&rows)
    );
}

/// Queue order decides who downloads: moving a queued torrent to the top gives it the slot,
/// moving it to the bottom gives the slot back.
#[tokio::test(flavor = "multi_thread")]
async fn moving_queued_torrent_to_top_gives_it_the_slot() {
    let tmp = tempdir("q-top");
    let root = tmp.path();
    let (d, ps, _) = three_in_one_slot(root).await;
    let (a, b, c) = (
        ps[0].hash.as_str(),
        ps[1].hash.as_str(),
        ps[2].hash.as_str(),
    );
    d.patch_torrent(c, &json!({"queue": "top"})).await;
    wait_list(
        &d,
        "q",
        &[(c, "downloading"), (a, "queued"), (b, "queued")],
        20,
    )
    .await;
    d.patch_torrent(c, &json!({"queue": "bottom"})).await;
    wait_list(
        &d,
        "q",
        &[(a, "downloading"), (b, "queued"), (c, "queued")],
        20,
    )
    .await;
}

/// Changing max_active_downloads applies at once: 1 → 2 starts the next, 0 = unlimited.
#[tokio::test(flavor = "multi_thread")]
async fn changing_max_active_applies() {
    let tmp = tempdir("q-limit");
    let root = tmp.path();
    let (d, ps, _) = three_in_one_slot(root).await;
    let (a, b, c) = (
        ps[0].hash.as_str(),
        ps[1].hash.as_str(),
        ps[2].hash.as_str(),
    );
    let (st, p) = d
        .patch_json("/api/profiles/q", &json!({"max_active_downloads": 2}))
        .await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["max_active_downloads"], 2, "{p}");
    wait_list(
        &d,
        "q",
        &[(a, "downloading"), (b, "downloading"), (c, "queued")],
        20,
    )
    .await;
    let (st, p) = d
        .patch_json("/api/profiles/q", &json!({"max_active_downloads": 0}))
        .await;
    assert_eq!(st, 200, "{p}");
    wait_list(
        &d,
        "q",
        &[(a, "downloading"), (b, "downloading"), (c, "downloading")],
        20,
    )
    .await;
    let (st, p) = d
        .patch_json("/api/profiles/q", &json!({"max_active_downloads": 1}))
        .await;
    assert_eq!(st, 200, "{p}");
    wait_list(
        &d,
        "q",
        &[(a, "downloading"), (b, "queued"), (c, "queued")],
        20,
    )
    .await;
}

/// Moving a torrent to another profile: it leaves the first queue (the next one starts there)
/// and joins the other profile's queue under that profile's limit.
#[tokio::test(flavor = "multi_thread")]
async fn moving_torrent_to_another_profile_updates_both_queues() {
    let tmp = tempdir("q-move-profile");
    let root = tmp.path();
    let ps = orphan_payloads(root, 3).await;
    let d = Daemon::start(root).await;
    d.create_profile("q", &root.join("q"), 1).await;
    d.create_profile("r", &root.join("r"), 1).await;
    let (a, b, c) = (
        ps[0].hash.as_str(),
        ps[1].hash.as_str(),
        ps[2].hash.as_str(),
    );
    d.add_torrent_ok("q", &ps[0].torrent, &[("label", "moved")])
        .await;
    d.add_torrent_ok("q", &ps[1].torrent, &[]).await;
    d.add_torrent_ok("r", &ps[2].torrent, &[]).await;
    wait_list(&d, "q", &[(a, "downloading"), (b, "queued")], 20).await;
    wait_list(&d, "r", &[(c, "downloading")], 20).await;

    let row = d.patch_torrent(a, &json!({"profile": "r"})).await;
    assert_eq!(row["profile"], "r", "PATCH answer: {row}");
    assert_eq!(row["label"], "moved", "label kept: {row}");
    wait_list(&d, "q", &[(b, "downloading")], 20).await;
    let rows = wait_for(20, "r to hold both, one downloading", async || {
        let rows = d.torrents("r").await;
        let mut hs: Vec<&str> = rows
            .iter()
            .map(|r| r["hash"].as_str().unwrap_or(""))
            .collect();
        hs.sort();
        let mut want = vec![a, c];
        want.sort();
        if hs == want && count_state(&rows, "downloading") == 1 && count_state(&rows, "queued") == 1
        {
            Ok(rows)
        } else {
            Err(list_summary(&rows))
        }
    })
    .await;
    assert_positions_increasing(&rows);
    // queue order decides: whichever is first in r's queue is the one downloading
    assert_eq!(rows[0]["state"], "downloading", "{}", list_summary(&rows));
    assert_eq!(d.torrent(a).await["profile"], "r");
}

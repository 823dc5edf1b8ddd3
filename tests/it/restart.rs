//! Persistence across restarts (docs/architecture.md, "Where state lives"): a graceful SIGTERM restart keeps the torrent set,
//! profiles, states, queue order, labels and wanted files, and completed data is not
//! re-hashed; a `kill -9` in the middle of concurrent adds and deletes loses no acknowledged
//! change and leaves every torrent in a sane state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::*;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

pub(crate) const FULL_HASH_LINE: &str = "Doing initial checksum validation";

/// Everything about the daemon's state that must survive a restart.
#[derive(Debug, PartialEq)]
struct Snapshot {
    /// profile id → (name, download_dir, max_active_downloads)
    profiles: BTreeMap<String, (Value, Value, Value)>,
    /// profile id → [(hash, state, label, paused)] in list (queue) order
    torrents: BTreeMap<String, Vec<(String, String, Value, Value)>>,
    /// hash → wanted flags per file
    wanted: BTreeMap<String, Vec<bool>>,
}

async fn snapshot(d: &Daemon) -> Snapshot {
    let mut profiles = BTreeMap::new();
    let mut torrents = BTreeMap::new();
    let mut wanted = BTreeMap::new();
    for p in d.profiles().await {
        let id = p["id"].as_str().unwrap().to_string();
        profiles.insert(
            id.clone(),
            (
                p["name"].clone(),
                p["download_dir"].clone(),
                p["max_active_downloads"].clone(),
            ),
        );
        let rows = d.torrents(&id).await;
        let mut v = Vec::new();
        for r in &rows {
            let h = r["hash"].as_str().unwrap().to_string();
            v.push((
                h.clone(),
                r["state"].as_str().unwrap_or("?").to_string(),
                r["label"].clone(),
                r["paused"].clone(),
            ));
            let files = d.files(&h).await;
            wanted.insert(
                h,
                files
                    .iter()
                    .map(|f| {
                        f["wanted"]
                            .as_bool()
                            .unwrap_or_else(|| panic!("wanted not a bool: {f}"))
                    })
                    .collect(),
            );
        }
        torrents.insert(id, v);
    }
    Snapshot {
        profiles,
        torrents,
        wanted,
    }
}

/// Two profiles with a completed (seeding) torrent, a downloading one, a queued one, user-paused
/// ones, labels, a partial file selection and a moved queue; SIGTERM (exit 0 within 10 s); start
/// again on the same data dir: everything is as before, and the completed data is not re-hashed.
#[tokio::test(flavor = "multi_thread")]
async fn graceful_restart_keeps_everything_without_rehash() {
    let tmp = tempdir("restart");
    let root = tmp.path();
    let src = root.join("src");
    let done = Payload::multi(
        &src,
        "done-payload",
        &[("x.bin", 6 * MIB + 5), ("y/z.bin", 2 * MIB)],
        &[],
        256 * KIB as u32,
    )
    .await;
    let o1 = Payload::single(&src, "orphan-1.bin", 300 * KIB, &[], 64 * KIB as u32).await;
    let o2 = Payload::single(&src, "orphan-2.bin", 300 * KIB, &[], 64 * KIB as u32).await;
    let o3 = Payload::single(&src, "orphan-3.bin", 300 * KIB, &[], 64 * KIB as u32).await;
    let o4 = Payload::single(&src, "orphan-4.bin", 300 * KIB, &[], 64 * KIB as u32).await;
    let multi = Payload::multi(
        &src,
        "partial",
        &[
            ("p0.bin", 100 * KIB),
            ("p1.bin", 200 * KIB),
            ("p2.bin", 300 * KIB),
        ],
        &[],
        64 * KIB as u32,
    )
    .await;
    let other = Payload::single(&src, "other.bin", 200 * KIB, &[], 64 * KIB as u32).await;
    // a magnet nobody can resolve: kept as a magnet record, stays initializing
    let unresolved = Payload::single(&src, "unresolved.bin", 100 * KIB, &[], 64 * KIB as u32).await;

    let mut d = Daemon::start(root).await;
    let two_dir = root.join("two");
    d.create_profile("two", &two_dir, 1).await;
    done.copy_into(&two_dir);

    // profile "two" (max 1): completed, then o1, o2, o3 (user-paused)
    d.add_torrent_ok("two", &done.torrent, &[("label", "finished")])
        .await;
    d.wait_complete(&done.hash, 30).await;
    d.add_torrent_ok("two", &o1.torrent, &[("label", "first")])
        .await;
    d.add_torrent_ok("two", &o2.torrent, &[]).await;
    d.add_torrent_ok("two", &o3.torrent, &[("paused", "true"), ("label", "held")])
        .await;
    d.add_torrent_ok("two", &o4.torrent, &[("paused", "true")])
        .await;
    // reorder paused ones only (who downloads does not change): o3 to the top, o4 before o2
    // → [o3, done, o1, o4, o2]
    d.patch_torrent(&o3.hash, &json!({"queue": "top"})).await;
    d.patch_torrent(&o4.hash, &json!({"queue": "up"})).await;
    // label changed after the add, then one removed
    d.patch_torrent(&o2.hash, &json!({"label": "second"})).await;
    d.patch_torrent(&o1.hash, &json!({"label": null})).await;

    // default profile: partial selection, paused; and a plain one
    d.add_torrent_ok(
        "default",
        &multi.torrent,
        &[
            ("paused", "true"),
            ("only_files", "0,2"),
            ("label", "partial"),
        ],
    )
    .await;
    d.add_torrent_ok("default", &other.torrent, &[]).await;
    d.add_json_ok(
        "default",
        &json!({"magnet": unresolved.magnet(&[], &[]), "label": "meta"}),
    )
    .await;

    // wait for the expected steady state before the restart
    let want_two: Vec<(String, &str)> = vec![
        (o3.hash.clone(), "paused"),
        (done.hash.clone(), "seeding"),
        (o1.hash.clone(), "downloading"),
        (o4.hash.clone(), "paused"),
        (o2.hash.clone(), "queued"),
    ];
    let before = wait_for(30, "steady state before restart", async || {
        let s = snapshot(&d).await;
        let two: Vec<(String, &str)> = s
            .torrents
            .get("two")
            .map(|v| {
                v.iter()
                    .map(|(h, st, _, _)| (h.clone(), st.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        let two: Vec<(String, &str)> = two
            .into_iter()
            .map(|(h, st)| {
                (
                    h,
                    if st == "paused" || st == "seeding" || st == "downloading" || st == "queued" {
                        st
                    } else {
                        "other"
                    },
                )
            })
            .collect();
        let def = s.torrents.get("default").cloned().unwrap_or_default();
        let def_ok = def.len() == 3
            && def[0].0 == multi.hash
            && def[0].1 == "paused"
            && def[1].0 == other.hash
            && def[1].1 == "downloading"
            && def[2].0 == unresolved.hash
            && def[2].1 == "initializing";
        if two == want_two && def_ok {
            Ok(s)
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    // sanity of what we are about to compare
    assert_eq!(
        before.wanted[&multi.hash],
        vec![true, false, true],
        "only_files 0,2"
    );
    assert_eq!(before.torrents["two"][0].2, json!("held"));
    assert_eq!(before.torrents["two"][4].2, json!("second"));
    assert!(
        before.torrents["two"][2].2.is_null() || before.torrents["two"][2].2 == json!(""),
        "label removed: {:?}",
        before.torrents["two"][2]
    );
    assert!(
        d.log_of_run(1).contains(FULL_HASH_LINE),
        "the daemon log (info) must show librqbit's '{FULL_HASH_LINE}' line when it hashes new data; \
         without it the no-rehash check below is meaningless"
    );

    let took = d.stop().await;
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
    d.start_again().await;

    let after = wait_for(30, "same state after restart", async || {
        let s = snapshot(&d).await;
        if s == before {
            Ok(s)
        } else {
            Err(format!("\nbefore: {before:?}\nafter:  {s:?}"))
        }
    })
    .await;
    assert_eq!(after, before);
    let row = d.torrent(&done.hash).await;
    assert_eq!(row["progress"].as_f64(), Some(1.0), "{row}");
    assert!(row["completed_at"].is_string(), "completed_at kept: {row}");
    done.assert_in(&two_dir, None);

    let log2 = d.log_of_run(2);
    let rehash: Vec<&str> = log2
        .lines()
        .filter(|l| l.contains(FULL_HASH_LINE))
        .collect();
    assert!(
        rehash.is_empty(),
        "torrents were fully re-hashed after a graceful restart:\n{}",
        rehash.join("\n")
    );
}

#[derive(Default, Debug)]
struct Ledger {
    add_attempted: BTreeSet<String>,
    add_acked: BTreeSet<String>,
    delete_attempted: BTreeSet<String>,
    delete_acked: BTreeSet<String>,
}

/// 10 torrents added (paused, two profiles); then a burst fired all at once: 10 more adds and
/// 5 deletes of the first ones; `kill -9` as soon as 3 of the burst's requests were answered
/// (so others are in flight); restart: every acknowledged add that was not deleted is there,
/// every acknowledged delete is gone, nothing unknown appeared, each torrent answers its details
/// endpoints, is in its profile and is still paused.
#[tokio::test(flavor = "multi_thread")]
async fn kill9_during_concurrent_adds_and_deletes_loses_nothing_acknowledged() {
    let tmp = tempdir("kill9");
    let root = tmp.path();
    let mut payloads = Vec::new();
    for i in 0..20 {
        payloads.push(
            Payload::single(
                &root.join("src"),
                &format!("burst-{i:02}.bin"),
                64 * KIB + i,
                &[],
                16 * KIB as u32,
            )
            .await,
        );
    }
    let mut d = Daemon::start(root).await;
    d.create_profile("p2", &root.join("p2"), 2).await;
    let profile_of = |i: usize| if i.is_multiple_of(2) { "default" } else { "p2" };

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    // phase 1: ten acknowledged adds
    for (i, p) in payloads.iter().enumerate().take(10) {
        ledger.lock().unwrap().add_attempted.insert(p.hash.clone());
        d.add_torrent_ok(profile_of(i), &p.torrent, &[("paused", "true")])
            .await;
        ledger.lock().unwrap().add_acked.insert(p.hash.clone());
    }

    // phase 2: the burst
    let client = http_client();
    let base = d.base();
    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let start = Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        let is_add = i >= 10;
        let is_delete = i < 10 && i % 2 == 0;
        if !is_add && !is_delete {
            continue;
        }
        let ledger = ledger.clone();
        let client = client.clone();
        let base = base.clone();
        let torrent = p.torrent.clone();
        let hash = p.hash.clone();
        let profile = profile_of(i);
        let ack_tx = ack_tx.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            if is_add {
                let form = reqwest::multipart::Form::new()
                    .part(
                        "torrent",
                        reqwest::multipart::Part::bytes(torrent)
                            .file_name("t.torrent")
                            .mime_str("application/x-bittorrent")
                            .unwrap(),
                    )
                    .text("paused", "true");
                ledger.lock().unwrap().add_attempted.insert(hash.clone());
                let Ok(resp) = client
                    .post(format!("{base}/api/profiles/{profile}/torrents"))
                    .multipart(form)
                    .send()
                    .await
                else {
                    return;
                };
                let st = resp.status().as_u16();
                if resp.bytes().await.is_ok() && st == 201 {
                    ledger.lock().unwrap().add_acked.insert(hash.clone());
                    let _ = ack_tx.send(());
                }
            } else {
                ledger.lock().unwrap().delete_attempted.insert(hash.clone());
                let Ok(resp) = client
                    .delete(format!("{base}/api/torrents/{hash}?delete_files=true"))
                    .send()
                    .await
                else {
                    return;
                };
                if resp.status().as_u16() == 204 {
                    ledger.lock().unwrap().delete_acked.insert(hash.clone());
                    let _ = ack_tx.send(());
                }
            }
        }));
    }
    drop(ack_tx);
    start.wait().await;
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(30), ack_rx.recv())
            .await
            .expect("burst requests not answered within 30 s")
            .expect("burst ended before 3 requests were acknowledged");
    }
    d.kill9();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(40), t)
            .await
            .expect("request task hung")
            .unwrap();
    }
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    let burst_acked = ledger.add_acked.len() - 10 + ledger.delete_acked.len();
    assert!(
        burst_acked < 15,
        "the kill came after the whole burst was answered; ledger: {ledger:?}"
    );

    d.start_again().await;
    let set = d.torrent_set().await;
    let mut present: BTreeMap<String, String> = BTreeMap::new();
    for (profile, hashes) in &set {
        for h in hashes {
            assert!(
                present.insert(h.clone(), profile.clone()).is_none(),
                "{h} listed twice: {set:?}"
            );
        }
    }
    let present_set: BTreeSet<String> = present.keys().cloned().collect();
    let required: BTreeSet<String> = ledger
        .add_acked
        .difference(&ledger.delete_attempted)
        .cloned()
        .collect();
    let missing: Vec<&String> = required.difference(&present_set).collect();
    assert!(
        missing.is_empty(),
        "acknowledged adds lost after kill -9: {missing:?}\nledger: {ledger:?}\nafter: {set:?}"
    );
    let resurrected: Vec<&String> = ledger.delete_acked.intersection(&present_set).collect();
    assert!(
        resurrected.is_empty(),
        "acknowledged deletes came back after kill -9: {resurrected:?}"
    );
    let unknown: Vec<&String> = present_set.difference(&ledger.add_attempted).collect();
    assert!(unknown.is_empty(), "torrents nobody added: {unknown:?}");
    eprintln!(
        "kill -9 ledger: adds attempted {}, acked {}; deletes attempted {}, acked {}; present after restart {}; burst requests answered before the kill {burst_acked}/15",
        ledger.add_attempted.len(),
        ledger.add_acked.len(),
        ledger.delete_attempted.len(),
        ledger.delete_acked.len(),
        present_set.len()
    );

    for (h, profile) in &present {
        let i = payloads.iter().position(|p| &p.hash == h).unwrap();
        let want_profile = if i % 2 == 0 { "default" } else { "p2" };
        assert_eq!(profile, want_profile, "{h} in the wrong profile");
        let row = wait_for(
            20,
            &format!("{h} to leave initializing/checking"),
            async || {
                let (st, row) = d.get(&format!("/api/torrents/{h}")).await;
                if st != 200 {
                    return Err(format!("details answered {st} {row}"));
                }
                match row["state"].as_str() {
                    Some("initializing") | Some("checking") => Err(format!("{row}")),
                    _ => Ok(row),
                }
            },
        )
        .await;
        assert_ne!(row["state"], "error", "{row}");
        assert_eq!(
            row["state"], "paused",
            "added paused, must still be paused: {row}"
        );
        for sub in ["files", "peers", "trackers"] {
            let (st, body) = d.get(&format!("/api/torrents/{h}/{sub}")).await;
            assert_eq!(st, 200, "{sub} of {h}: {body}");
            assert!(body.is_array(), "{sub} of {h}: {body}");
        }
    }

    // the daemon still works: an acknowledged-deleted torrent can be added again, deleted again
    if let Some(h) = ledger.delete_acked.iter().next() {
        let p = payloads.iter().find(|p| &p.hash == h).unwrap();
        d.add_torrent_ok("default", &p.torrent, &[("paused", "true")])
            .await;
        let (st, body) = d
            .delete(&format!("/api/torrents/{h}?delete_files=false"))
            .await;
        assert_eq!(st, 204, "{body}");
    }
}

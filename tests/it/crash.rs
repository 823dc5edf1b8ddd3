//! The crash loop (docs/reliability.md, run by `tests/crash/loop.sh [CYCLES]`): cycles of
//! `kill -9` at a random moment during concurrent bursts of adds, deletes, label changes and
//! profile moves, each followed by a restart and a consistency check: every acknowledged
//! change is there, every acknowledged delete stays gone, a change in flight at the kill is
//! either fully there or not at all (a batch add is all or nothing), nothing unknown
//! appears, every torrent answers its endpoints from exactly one profile, no answer is a
//! 5xx; and the time to be serving again is measured.
//!
//! Knobs: `CRASH_CYCLES` (default 10), `CRASH_SEED` (random by default, printed),
//! `CRASH_WORKERS` (8), `CRASH_REPORT` (a CSV file, one line per cycle),
//! `PYTORRENTD_BIN` (another binary, e.g. a release build).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::faults::synthetic_torrent;
use crate::util::*;

/// What a torrent may look like after the restart: absent, or present in a profile with a
/// label.
type Look = Option<(String, Option<String>)>;

/// A torrent as observed after a restart: profile, label, name.
type Seen = (String, Option<String>, String);

#[derive(Default)]
struct Worker {
    /// Torrents whose state is known for sure (acknowledged, or observed after a restart).
    known: BTreeMap<String, (String, Option<String>)>,
    /// A change in flight when the daemon died: hashes and the looks each may have. A
    /// batch add counts as one change (`all_or_nothing`).
    in_flight: Option<InFlight>,
}

struct InFlight {
    looks: BTreeMap<String, Vec<Look>>,
    all_or_nothing: bool,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    acked: u64,
    status_5xx: Vec<String>,
    other_errors: Vec<String>,
}

const PROFILES: [&str; 2] = ["default", "b"];

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn send(
    client: &reqwest::Client,
    req: reqwest::RequestBuilder,
    what: &str,
    tally: &Mutex<Tally>,
) -> Option<(u16, Value)> {
    let _ = client;
    tally.lock().unwrap().sent += 1;
    let resp = req.send().await.ok()?;
    let st = resp.status().as_u16();
    let body = resp.bytes().await.ok()?;
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut t = tally.lock().unwrap();
    if st >= 500 {
        t.status_5xx.push(format!("{what}: {st} {v}"));
    } else if st >= 400 {
        t.other_errors.push(format!("{what}: {st} {v}"));
    } else {
        t.acked += 1;
    }
    Some((st, v))
}

/// One worker's burst: random changes to its own torrents until the daemon dies.
async fn burst(
    w: Arc<Mutex<Worker>>,
    id: usize,
    base: String,
    seed: u64,
    tally: Arc<Mutex<Tally>>,
) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0u64;
    loop {
        n += 1;
        let known: Vec<(String, (String, Option<String>))> = w
            .lock()
            .unwrap()
            .known
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let roll: u32 = rng.random_range(0..100);
        let op = if known.is_empty() || (roll < 40 && known.len() < 40) {
            0
        } else if roll < 65 || known.len() >= 40 {
            1
        } else if roll < 85 {
            2
        } else {
            3
        };
        match op {
            0 => {
                // Add 1-3 torrents in one request.
                let profile = PROFILES[rng.random_range(0..2)];
                let k = rng.random_range(1..=3);
                let mut form = reqwest::multipart::Form::new();
                for i in 0..k {
                    form = form.part(
                        "torrent",
                        reqwest::multipart::Part::bytes(synthetic_torrent(
                            &format!("w{id}-{seed}-{n}-{i}.bin"),
                            1,
                        ))
                        .file_name("t.torrent")
                        .mime_str("application/x-bittorrent")
                        .unwrap(),
                    );
                }
                // Most stay paused (out of the engine); some run (no peers anywhere).
                form = form.text("paused", (rng.random_range(0..5) > 0).to_string());
                // The hashes are only known from the answer: an add in flight is found by
                // name after the restart (see `check`).
                let marker = format!("w{id}-{seed}-{n}-");
                w.lock().unwrap().in_flight = Some(InFlight {
                    looks: BTreeMap::from([(marker, vec![None, Some((profile.into(), None))])]),
                    all_or_nothing: true,
                });
                let req = client
                    .post(format!("{base}/api/profiles/{profile}/torrents"))
                    .multipart(form);
                let Some((st, body)) = send(&client, req, "add", &tally).await else {
                    return;
                };
                let mut g = w.lock().unwrap();
                g.in_flight = None;
                if st == 201 {
                    for r in body["added"].as_array().into_iter().flatten() {
                        let h = r["hash"].as_str().unwrap_or("").to_owned();
                        g.known.insert(h, (profile.into(), None));
                    }
                }
            }
            _ => {
                let (hash, (profile, label)) = known[rng.random_range(0..known.len())].clone();
                let (after, req, what): (Look, _, &str) = match op {
                    1 => (
                        None,
                        client.delete(format!(
                            "{base}/api/torrents/{hash}?delete_files={}",
                            rng.random_bool(0.5)
                        )),
                        "delete",
                    ),
                    2 => {
                        let l = format!("l{}", rng.random_range(0..1000));
                        (
                            Some((profile.clone(), Some(l.clone()))),
                            client
                                .patch(format!("{base}/api/torrents/{hash}"))
                                .json(&json!({ "label": l })),
                            "label",
                        )
                    }
                    _ => {
                        let to = if profile == PROFILES[0] {
                            PROFILES[1]
                        } else {
                            PROFILES[0]
                        };
                        (
                            Some((to.into(), label.clone())),
                            client
                                .patch(format!("{base}/api/torrents/{hash}"))
                                .json(&json!({ "profile": to })),
                            "move",
                        )
                    }
                };
                w.lock().unwrap().in_flight = Some(InFlight {
                    looks: BTreeMap::from([(
                        hash.clone(),
                        vec![Some((profile.clone(), label.clone())), after.clone()],
                    )]),
                    all_or_nothing: false,
                });
                let Some((st, _)) = send(&client, req, what, &tally).await else {
                    return;
                };
                let mut g = w.lock().unwrap();
                g.in_flight = None;
                if (200..300).contains(&st) {
                    match after {
                        None => {
                            g.known.remove(&hash);
                        }
                        Some(look) => {
                            g.known.insert(hash, look);
                        }
                    }
                }
            }
        }
    }
}

/// Every torrent as the restarted daemon serves it: hash → (profile, label, name).
async fn observe(d: &Daemon) -> Result<BTreeMap<String, Seen>, String> {
    let mut seen = BTreeMap::new();
    for p in PROFILES {
        let (st, body) = d.get(&format!("/api/profiles/{p}/torrents")).await;
        if st != 200 {
            return Err(format!("list {p}: {st} {body}"));
        }
        for r in body.as_array().into_iter().flatten() {
            let h = r["hash"].as_str().unwrap_or("").to_owned();
            if r["state"] == "initializing" {
                return Err(format!("{h} still initializing"));
            }
            let look = (
                p.to_owned(),
                r["label"].as_str().map(str::to_owned),
                r["name"].as_str().unwrap_or("").to_owned(),
            );
            if let Some(prev) = seen.insert(h.clone(), look) {
                return Err(format!("{h} listed twice ({} and {p})", prev.0));
            }
        }
    }
    Ok(seen)
}

/// Checks the restarted daemon against what the workers know; returns the problems and
/// makes every worker's knowledge match what was observed.
async fn check(d: &Daemon, workers: &[Arc<Mutex<Worker>>]) -> (Vec<String>, usize) {
    let seen = wait_for(120, "every torrent restored", async || observe(d).await).await;
    let mut problems = Vec::new();
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    for w in workers {
        let mut g = w.lock().unwrap();
        let in_flight = g.in_flight.take();
        let mut uncertain: BTreeSet<String> = BTreeSet::new();
        if let Some(f) = &in_flight {
            for (key, looks) in &f.looks {
                if f.all_or_nothing {
                    // An add in flight: its torrents are found by name; all or none.
                    let found: Vec<(&String, &Seen)> = seen
                        .iter()
                        .filter(|(_, v)| v.2.starts_with(key.as_str()))
                        .collect();
                    for (h, v) in &found {
                        if !looks.contains(&Some((v.0.clone(), v.1.clone()))) {
                            problems.push(format!("add in flight {h}: unexpected {v:?}"));
                        }
                        g.known.insert((*h).clone(), (v.0.clone(), v.1.clone()));
                        claimed.insert((*h).clone());
                        uncertain.insert((*h).clone());
                    }
                    let names: BTreeSet<&str> = found.iter().map(|(_, v)| v.2.as_str()).collect();
                    let expected_any = !found.is_empty();
                    if expected_any {
                        // Every torrent of the batch (names key0.bin, key1.bin, ...) or none.
                        let max = names
                            .iter()
                            .filter_map(|n| n.strip_prefix(key.as_str()))
                            .filter_map(|n| n.strip_suffix(".bin"))
                            .filter_map(|n| n.parse::<usize>().ok())
                            .max()
                            .unwrap_or(0);
                        if names.len() != max + 1 {
                            problems.push(format!(
                                "add in flight {key}: half present ({} of {} torrents)",
                                names.len(),
                                max + 1
                            ));
                        }
                    }
                } else {
                    let now: Look = seen.get(key).map(|v| (v.0.clone(), v.1.clone()));
                    if !looks.contains(&now) {
                        problems.push(format!(
                            "change in flight on {key}: {now:?} is neither {:?} nor {:?}",
                            looks[0], looks[1]
                        ));
                    }
                    match &now {
                        Some(l) => {
                            g.known.insert(key.clone(), l.clone());
                        }
                        None => {
                            g.known.remove(key);
                        }
                    }
                    uncertain.insert(key.clone());
                }
            }
        }
        let known: Vec<(String, (String, Option<String>))> = g
            .known
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (h, want) in known {
            claimed.insert(h.clone());
            if uncertain.contains(&h) {
                continue;
            }
            match seen.get(&h) {
                None => problems.push(format!("acknowledged torrent {h} lost")),
                Some(v) if (v.0.clone(), v.1.clone()) != want => problems.push(format!(
                    "acknowledged change on {h} lost: want {want:?}, got {v:?}"
                )),
                Some(_) => {}
            }
        }
    }
    for h in seen.keys() {
        if !claimed.contains(h) {
            problems.push(format!(
                "{h} is present but no acknowledged add made it (or a deleted torrent came back)"
            ));
        }
    }
    // Whole torrents: details and files answer, one file each.
    for h in seen.keys() {
        let (st, row) = d.get(&format!("/api/torrents/{h}")).await;
        let (fst, files) = d.get(&format!("/api/torrents/{h}/files")).await;
        if st != 200 || fst != 200 || files.as_array().map(|a| a.len()) != Some(1) {
            problems.push(format!(
                "{h} half present: details {st} {row}, files {fst} {files}"
            ));
        } else if row["state"] == "error" {
            problems.push(format!("{h} in error after restart: {}", row["error"]));
        }
    }
    (problems, seen.len())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "long: run by tests/crash/loop.sh (CRASH_CYCLES=N)"]
async fn crash_loop() {
    let cycles = env_num("CRASH_CYCLES", 10);
    let workers_n = env_num("CRASH_WORKERS", 8) as usize;
    let seed = env_num("CRASH_SEED", rand::rng().random());
    println!("crash loop: {cycles} cycles, {workers_n} workers, CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempdir("crash-loop");
    let root = tmp.path();
    let mut d = Daemon::start(root).await;
    d.create_profile("b", &root.join("b"), 2).await;
    let workers: Vec<Arc<Mutex<Worker>>> = (0..workers_n).map(|_| Arc::default()).collect();
    let mut report = String::from("cycle,requests,acknowledged,torrents,start_ms,problems\n");
    let mut all_problems = Vec::new();
    let mut all_5xx = Vec::new();
    let (mut total_sent, mut total_acked) = (0u64, 0u64);
    let mut starts = Vec::new();
    for cycle in 1..=cycles {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let tasks: Vec<_> = workers
            .iter()
            .enumerate()
            .map(|(i, w)| tokio::spawn(burst(w.clone(), i, d.base(), rng.random(), tally.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..2000))).await;
        d.kill9();
        for t in tasks {
            let _ = t.await;
        }
        let t0 = Instant::now();
        d.start_again().await;
        let start = t0.elapsed();
        starts.push(start);
        let (problems, torrents) = check(&d, &workers).await;
        let t = tally.lock().unwrap();
        total_sent += t.sent;
        total_acked += t.acked;
        all_5xx.extend(t.status_5xx.iter().cloned());
        println!(
            "cycle {cycle}: {} requests ({} acknowledged, {} refused), {torrents} torrents, serving again in {} ms, {}",
            t.sent,
            t.acked,
            t.other_errors.len(),
            start.as_millis(),
            if problems.is_empty() && t.status_5xx.is_empty() {
                "consistent".to_string()
            } else {
                format!("{} PROBLEMS", problems.len() + t.status_5xx.len())
            }
        );
        for p in problems.iter().chain(t.status_5xx.iter()) {
            println!("  {p}");
        }
        for e in t.other_errors.iter().take(3) {
            println!("  refused: {e}");
        }
        report.push_str(&format!(
            "{cycle},{},{},{torrents},{},{}\n",
            t.sent,
            t.acked,
            start.as_millis(),
            problems.len() + t.status_5xx.len()
        ));
        all_problems.extend(problems);
    }
    starts.sort();
    let max = starts.last().copied().unwrap_or_default();
    let median = starts.get(starts.len() / 2).copied().unwrap_or_default();
    println!(
        "crash loop done: {cycles} cycles, {total_sent} requests, {total_acked} acknowledged, {} problems, {} 5xx; serving again in median {} ms, max {} ms (CRASH_SEED={seed})",
        all_problems.len(),
        all_5xx.len(),
        median.as_millis(),
        max.as_millis()
    );
    if let Ok(path) = std::env::var("CRASH_REPORT") {
        std::fs::write(&path, &report).expect("write CRASH_REPORT");
    }
    assert!(
        all_problems.is_empty() && all_5xx.is_empty(),
        "crash loop found problems (CRASH_SEED={seed}):\n{}\n{}",
        all_problems.join("\n"),
        all_5xx.join("\n")
    );
}

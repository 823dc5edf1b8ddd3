//! Running out of resources (docs/reliability.md): a full disk under a download directory
//! stops the torrent with one human line and reason `disk_space`, the daemon keeps serving,
//! `resume` retries at once and the torrent continues by itself once space returns,
//! completing byte for byte. File descriptors: the soft limit is raised to the hard limit,
//! paused torrents hold no descriptor, and torrents beyond the limit wait instead of
//! starving the HTTP listener.

use std::fs;
use std::time::Duration;

use serde_json::{Value, json};

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
    // The disk-space guard off: this is about a disk that fills anyway (another program).
    let (st, body) = d
        .patch_json("/api/profiles/small", &json!({"min_free_space": 0}))
        .await;
    assert_eq!(st, 200, "{body}");

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

/// (soft, hard) "Max open files" of a process.
fn nofile_limits(pid: u32) -> (u64, u64) {
    let text = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files line");
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

fn open_fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// Adds `n` synthetic single-piece torrents (no data anywhere) in batches; returns hashes.
async fn add_synthetic(d: &Daemon, profile: &str, n: usize, paused: bool) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut left = n;
    while left > 0 {
        let batch = left.min(50);
        left -= batch;
        let mut form = reqwest::multipart::Form::new();
        for i in 0..batch {
            form = form.part(
                "torrent",
                reqwest::multipart::Part::bytes(synthetic_torrent(&format!("t{left}-{i}.bin"), 1))
                    .file_name(format!("t{left}-{i}.torrent"))
                    .mime_str("application/x-bittorrent")
                    .unwrap(),
            );
        }
        form = form.text("paused", paused.to_string());
        let (st, body) = d
            .post_multipart(&format!("/api/profiles/{profile}/torrents"), form)
            .await;
        assert_eq!(st, 201, "add a batch of {batch}: {body}");
        for r in body["added"].as_array().unwrap() {
            hashes.push(r["hash"].as_str().unwrap().to_owned());
        }
    }
    hashes
}

/// A soft limit of 256 is raised to the hard limit at start; 300 paused torrents hold no
/// file descriptor (before and after a restart); a resumed one takes its descriptors and
/// gives them back when paused again.
#[tokio::test(flavor = "multi_thread")]
async fn soft_limit_is_raised_and_paused_torrents_hold_no_descriptors() {
    let tmp = tempdir("fd-paused");
    let root = tmp.path();
    let launcher = ["prlimit", "--nofile=256:8192"];
    require_tool("prlimit", "util-linux");
    let mut d = Daemon::start_launched(root, &[], &launcher).await;
    assert_eq!(
        nofile_limits(d.pid()),
        (8192, 8192),
        "the soft limit is raised to the hard limit"
    );
    let baseline = open_fds(d.pid());
    let hashes = add_synthetic(&d, "default", 300, true).await;
    let rows = d.torrents("default").await;
    assert!(rows.iter().all(|r| r["state"] == "paused"), "all paused");
    let fds = open_fds(d.pid());
    assert!(
        fds < baseline + 20,
        "300 paused torrents must not hold descriptors: {baseline} before, {fds} after"
    );

    d.restart().await;
    assert_eq!(nofile_limits(d.pid()), (8192, 8192));
    let rows = wait_for(30, "all 300 restored, paused", async || {
        let rows = d.torrents("default").await;
        // Restoring runs behind the API: done once every size is known again.
        if rows.len() == 300
            && rows
                .iter()
                .all(|r| r["state"] == "paused" && r["size"].as_u64() == Some(16_384))
        {
            Ok(rows)
        } else {
            Err(format!(
                "{:?}",
                states_of(&rows).iter().take(5).collect::<Vec<_>>()
            ))
        }
    })
    .await;
    assert!(
        rows.iter().all(|r| r["size"].as_u64() == Some(16_384)),
        "sizes known"
    );
    let fds = open_fds(d.pid());
    assert!(fds < baseline + 20, "after restart: {baseline} → {fds}");

    // Resumed, it is in the engine (its data file is open); paused again, it leaves.
    let one = &hashes[0];
    let row = d.action(one, "resume").await;
    assert_ne!(row["state"], "paused", "{row}");
    let data = d.download_dir.join(row["name"].as_str().unwrap());
    let holds = |pid: u32| {
        fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .any(|e| fs::read_link(e.path()).is_ok_and(|t| t == data))
    };
    let pid = d.pid();
    wait_for(20, "the resumed torrent's file to be open", async || {
        if holds(pid) {
            Ok(())
        } else {
            Err("not open".into())
        }
    })
    .await;
    d.action(one, "pause").await;
    wait_for(20, "the paused torrent's file to be closed", async || {
        if holds(pid) {
            Err("still open".into())
        } else {
            Ok(())
        }
    })
    .await;
    assert_eq!(d.torrent(one).await["state"], "paused");
}

/// Soft and hard limit 200 and 150 running torrents: those beyond what the limit allows
/// (minus descriptors kept for the web server) wait with reason `fd_limit`, the API keeps
/// answering, and waiting torrents start by themselves when others are deleted.
#[tokio::test(flavor = "multi_thread")]
async fn torrents_beyond_the_descriptor_limit_wait_and_the_api_keeps_answering() {
    let tmp = tempdir("fd-limit");
    let root = tmp.path();
    require_tool("prlimit", "util-linux");
    let d = Daemon::start_launched(root, &[], &["prlimit", "--nofile=200:200"]).await;
    assert_eq!(nofile_limits(d.pid()), (200, 200));
    let hashes = add_synthetic(&d, "default", 150, false).await;

    let waiting = |rows: &[Value]| {
        rows.iter()
            .filter(|r| r["reason"] == "fd_limit")
            .map(|r| r["hash"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let rows = d.torrents("default").await;
    let w = waiting(&rows);
    assert!(
        !w.is_empty() && w.len() < 150,
        "some torrents run, the rest wait for descriptors: {} waiting",
        w.len()
    );
    for r in rows.iter().filter(|r| r["reason"] == "fd_limit") {
        assert_eq!(r["state"], "queued", "{r}");
        assert!(
            r["error"]
                .as_str()
                .unwrap_or("")
                .contains("file descriptors"),
            "{r}"
        );
    }
    assert!(open_fds(d.pid()) < 200);
    // The listener never starves: every request is answered, quickly.
    for i in 0..30 {
        let t0 = std::time::Instant::now();
        let (st, _) = d.get("/api/health").await;
        assert_eq!(st, 200, "health #{i}");
        let (st, _) = d.get("/api/profiles/default/torrents").await;
        assert_eq!(st, 200, "list #{i}");
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "request #{i} was slow"
        );
    }

    // Deleting running torrents frees descriptors: waiting ones start by themselves.
    let running: Vec<&String> = hashes.iter().filter(|h| !w.contains(h)).collect();
    for h in running.iter().take(30) {
        let (st, body) = d.delete(&format!("/api/torrents/{h}")).await;
        assert!((200..300).contains(&st), "delete {h}: {st} {body}");
    }
    wait_for(
        40,
        "waiting torrents to start once descriptors are free",
        async || {
            let now = waiting(&d.torrents("default").await).len();
            if now < w.len() {
                Ok(())
            } else {
                Err(format!("{now} still waiting (was {})", w.len()))
            }
        },
    )
    .await;
    let log = d.log_of_run(1);
    assert!(
        !log.contains("accept error"),
        "the listener never ran out of descriptors:\n{log}"
    );
}

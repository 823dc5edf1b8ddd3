//! Tests of our patches to the vendored librqbit (vendor/README.md), one or more per patch,
//! against the real daemon and real peers.

use crate::util::*;

const KIB: usize = 1024;
const PIECE: usize = 256 * KIB;

/// 0001-write-chunks-on-the-worker: chunks are written on the async worker and completed pieces
/// hashed in `block_in_place`. A seeder that serves corrupt pieces must still be caught by the
/// hash check: the download completes byte for byte from the honest seeder, and the daemon
/// reports the failed checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_pieces_are_refused_after_the_hash_check() {
    let tmp = tempdir("corrupt-seeder");
    let root = tmp.path();
    // aria2c stops at once when a torrent has no peer source: give it a tracker.
    let mut tracker = Tracker::new(root);
    let p = Payload::single(
        &root.join("good"),
        "film.bin",
        4 * 1024 * KIB + 1234,
        &[tracker.announce_url()],
        PIECE as u32,
    )
    .await;
    tracker.start(&[&p.hash]).await;
    // The same file with one byte changed in every fourth piece, served unverified by aria2c.
    let bad_dir = root.join("bad");
    let mut bad = p.files[0].data.clone();
    for piece in (0..bad.len() / PIECE).step_by(4) {
        bad[piece * PIECE + 100] ^= 0xff;
    }
    write(&bad_dir.join("film.bin"), &bad);
    let liar = Aria2::seed(root, "liar", &p.torrent_path, &bad_dir, None).await;
    // The honest seeder is slow, so most pieces are first offered by the liar.
    let honest = RqSeeder::start(&[&p], Some(256 * 1024)).await;

    let d = Daemon::start(root).await;
    let peers = format!("{},{}", liar.addr(), honest.addr);
    let row = d
        .add_torrent_ok("default", &p.torrent, &[("peers", &peers)])
        .await;
    assert_eq!(row["hash"], p.hash);
    d.wait_complete(&p.hash, 120).await;
    p.assert_in(&d.download_dir, None);
    let log = d.log_of_run(1);
    assert!(
        log.contains("did not validate"),
        "the corrupt pieces never reached the hash check:\n{}",
        log.lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
}

//! Moving a torrent to another profile moves its data; a move that cannot happen leaves the
//! torrent working where it was.

use serde_json::json;

use crate::util::*;

#[tokio::test(flavor = "multi_thread")]
async fn profile_move_carries_data_and_failed_move_changes_nothing() {
    let tmp = tempdir("move-data");
    let root = tmp.path();
    let d = Daemon::start(root).await;
    let a_dir = root.join("a");
    let b_dir = root.join("b");
    let c_dir = root.join("c");
    d.create_profile("a", &a_dir, 0).await;
    d.create_profile("b", &b_dir, 0).await;
    d.create_profile("c", &c_dir, 0).await;

    let p = Payload::multi(
        &root.join("src"),
        "moving",
        &[("one.bin", 300_000), ("sub/two.bin", 200_000)],
        &[],
        32 * 1024,
    )
    .await;
    p.copy_into(&a_dir);
    d.add_torrent_ok("a", &p.torrent, &[]).await;
    d.wait_state(&p.hash, "seeding", 30).await;

    // A successful move: data leaves a, arrives in b, the torrent seeds from there.
    let row = d.patch_torrent(&p.hash, &json!({"profile": "b"})).await;
    assert_eq!(row["profile"], "b", "{row}");
    p.assert_in(&b_dir, None);
    assert!(!a_dir.join("moving").exists(), "data left behind in a");
    d.wait_state(&p.hash, "seeding", 30).await;
    assert_eq!(
        d.torrent(&p.hash).await["save_dir"],
        json!(b_dir),
        "save_dir follows"
    );
    let in_b: Vec<_> = d
        .torrents("b")
        .await
        .iter()
        .map(|r| r["hash"].clone())
        .collect();
    assert_eq!(in_b, vec![json!(p.hash)]);
    assert!(d.torrents("a").await.is_empty());

    // A move that cannot happen (the destination already has a folder of that name):
    // 409 move_failed, the torrent stays in b, whole, seeding, and the other parts of the
    // same PATCH (label, wanted files, queue) are not applied either.
    std::fs::create_dir_all(c_dir.join("moving")).unwrap();
    std::fs::write(c_dir.join("moving/other.txt"), b"someone else's").unwrap();
    let (st, body) = d
        .patch_json(
            &format!("/api/torrents/{}", p.hash),
            &json!({"profile": "c", "label": "not-applied", "files": [0], "queue": "bottom"}),
        )
        .await;
    assert_error(
        "move onto an existing folder",
        &(st, body),
        409,
        "move_failed",
    );
    let details = d.torrent(&p.hash).await;
    assert_eq!(details["profile"], "b", "{details}");
    p.assert_in(&b_dir, None);
    assert_eq!(
        std::fs::read(c_dir.join("moving/other.txt")).unwrap(),
        b"someone else's",
        "the destination is untouched"
    );
    d.wait_state(&p.hash, "seeding", 30).await;
    assert!(d.torrents("c").await.is_empty());
    assert_eq!(
        details["label"],
        json!(null),
        "label applied by a failed PATCH: {details}"
    );
    let all_wanted = |files: &[serde_json::Value]| files.iter().all(|f| f["wanted"] == true);
    assert!(
        all_wanted(&d.files(&p.hash).await),
        "files changed by a failed PATCH"
    );

    // A part that is invalid fails the whole PATCH before anything is applied: valid files
    // with a label over the limit, or a valid label with a file index out of range.
    let long = "x".repeat(129);
    for (body, code) in [
        (json!({"files": [0], "label": long}), "invalid_input"),
        (json!({"label": "kept?", "files": [0, 7]}), "invalid_input"),
        (
            json!({"label": "kept?", "profile": "nowhere"}),
            "profile_not_found",
        ),
    ] {
        let (st, answer) = d
            .patch_json(&format!("/api/torrents/{}", p.hash), &body)
            .await;
        assert!(st == 400 || st == 404, "{body} → {st} {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} → {answer}");
        let row = d.torrent(&p.hash).await;
        assert_eq!(row["label"], json!(null), "{body} applied its label: {row}");
        assert!(
            all_wanted(&d.files(&p.hash).await),
            "{body} applied its files"
        );
    }

    // All parts at once, when they are valid: one answer with all of them applied.
    let row = d
        .patch_torrent(
            &p.hash,
            &json!({"label": "both", "files": [1], "profile": "a"}),
        )
        .await;
    assert_eq!(row["profile"], "a", "{row}");
    assert_eq!(row["label"], "both", "{row}");
    let files = d.files(&p.hash).await;
    assert_eq!(files[0]["wanted"], false, "{files:?}");
    assert_eq!(files[1]["wanted"], true, "{files:?}");
    assert!(
        a_dir.join("moving/sub/two.bin").exists(),
        "data moved back to a"
    );
}

//! Several labels per torrent (README "API"): set on add (JSON and multipart), replaced by
//! PATCH `labels`, set by the older one-label `label`, checked as docs/limits.md says,
//! and kept across a restart; a given name (`PATCH {"name"}`) shows instead of the torrent's.

use serde_json::{Value, json};

use crate::util::*;

const KIB: usize = 1024;

fn labels(row: &Value) -> Vec<String> {
    row["labels"]
        .as_array()
        .unwrap_or_else(|| panic!("no labels array: {row}"))
        .iter()
        .map(|l| l.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn torrents_carry_several_labels_and_a_given_name() {
    let tmp = tempdir("labels");
    let a = Payload::single(&tmp.path().join("src"), "a.bin", 40 * KIB, &[], 16 * 1024).await;
    let b = Payload::single(&tmp.path().join("src"), "b.bin", 40 * KIB, &[], 16 * 1024).await;
    let mut d = Daemon::start(tmp.path()).await;

    // JSON add: `label` first, then `labels`; spaces trimmed, empty and repeated ones dropped.
    let row = d
        .add_json_ok(
            "default",
            &json!({"magnet": a.magnet(&[], &[]), "paused": true, "label": "tv",
                    "labels": [" hd ", "", "tv", "2024"]}),
        )
        .await;
    assert_eq!(labels(&row), ["tv", "hd", "2024"]);
    assert_eq!(row["label"], "tv", "label is the first of labels");
    // Multipart add: `labels` comma-separated.
    d.add_torrent_ok(
        "default",
        &b.torrent,
        &[("paused", "true"), ("labels", "linux, iso")],
    )
    .await;
    assert_eq!(labels(&d.torrent(&b.hash).await), ["linux", "iso"]);

    // PATCH labels replaces them; the older `label` sets exactly one; null clears.
    let row = d
        .patch_torrent(&a.hash, &json!({"labels": ["movies", "4k"]}))
        .await;
    assert_eq!(
        (labels(&row), row["label"].clone()),
        (vec!["movies".into(), "4k".into()], json!("movies"))
    );
    let row = d.patch_torrent(&a.hash, &json!({"label": "one"})).await;
    assert_eq!(labels(&row), ["one"]);
    let row = d.patch_torrent(&a.hash, &json!({"label": null})).await;
    assert_eq!(
        (labels(&row), row["label"].clone()),
        (Vec::<String>::new(), Value::Null)
    );
    let row = d
        .patch_torrent(
            &a.hash,
            &json!({"labels": ["keep", "me"], "name": "My show"}),
        )
        .await;
    assert_eq!(row["name"], "My show");

    // Out of the limits: 400 naming the input, nothing changed.
    let many: Vec<String> = (0..33).map(|i| format!("l{i}")).collect();
    for (what, body) in [
        ("33 labels", json!({"labels": many})),
        ("a comma", json!({"labels": ["a,b"]})),
        ("a control character", json!({"labels": ["a\u{7}"]})),
        ("129 characters", json!({"labels": ["x".repeat(129)]})),
        ("label and labels", json!({"label": "a", "labels": ["b"]})),
        ("an empty name", json!({"name": "  "})),
        ("a 256-character name", json!({"name": "n".repeat(256)})),
    ] {
        let r = d
            .patch_json(&format!("/api/torrents/{}", a.hash), &body)
            .await;
        assert_error(what, &r, 400, "invalid_input");
    }
    let (st, body) = d
        .post_json(
            "/api/profiles/default/torrents",
            &json!({"magnet": a.magnet(&[], &[]), "labels": ["x,y"]}),
        )
        .await;
    assert_eq!(st, 400, "add with a comma in a label: {body}");
    let row = d.torrent(&a.hash).await;
    assert_eq!(
        (labels(&row), row["name"].clone()),
        (vec!["keep".into(), "me".into()], json!("My show"))
    );

    // Kept across a restart; the given name can be taken back.
    d.restart().await;
    let row = d.torrent(&a.hash).await;
    assert_eq!(
        (labels(&row), row["name"].clone()),
        (vec!["keep".into(), "me".into()], json!("My show"))
    );
    assert_eq!(labels(&d.torrent(&b.hash).await), ["linux", "iso"]);
    let row = d.patch_torrent(&a.hash, &json!({"name": null})).await;
    assert_eq!(row["name"], "a.bin");
    d.stop().await;
}

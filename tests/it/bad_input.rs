//! Bad input gets the documented 4xx status and error code, and changes nothing: after every
//! rejected request the profiles and the torrent set are exactly as before.

use std::path::Path;

use serde_json::{Value, json};

use crate::util::*;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// A daemon with a second profile `other` and one (paused) torrent in `default`.
struct Base {
    d: Daemon,
    t: Payload,
    spare: Payload,
    before: (Vec<Value>, std::collections::BTreeMap<String, Vec<String>>),
}

async fn profiles_view(d: &Daemon) -> Vec<Value> {
    d.profiles()
        .await
        .iter()
        .map(|p| {
            json!([
                p["id"],
                p["name"],
                p["download_dir"],
                p["max_active_downloads"]
            ])
        })
        .collect()
}

async fn base(root: &Path) -> Base {
    let t = Payload::single(
        &root.join("src"),
        "present.bin",
        100 * KIB,
        &[],
        16 * KIB as u32,
    )
    .await;
    let spare = Payload::single(
        &root.join("src"),
        "spare.bin",
        90 * KIB,
        &[],
        16 * KIB as u32,
    )
    .await;
    let d = Daemon::start(root).await;
    d.create_profile("other", &root.join("other"), 3).await;
    d.add_torrent_ok("default", &t.torrent, &[("paused", "true")])
        .await;
    let before = (profiles_view(&d).await, d.torrent_set().await);
    assert_eq!(before.1["default"], vec![t.hash.clone()]);
    Base {
        d,
        t,
        spare,
        before,
    }
}

impl Base {
    /// Asserts that profiles and torrent set are unchanged.
    async fn unchanged(&self, ctx: &str) {
        let now = (profiles_view(&self.d).await, self.d.torrent_set().await);
        assert_eq!(
            now, self.before,
            "{ctx}: state changed by a rejected request"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_magnets_are_rejected() {
    let tmp = tempdir("bad-magnet");
    let b = base(tmp.path()).await;
    let bad = [
        "magnet:?xt=urn:btih:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        "magnet:?xt=urn:btih:0123456789abcdef",
        "magnet:?dn=no-hash-at-all",
        "magnet:",
        "not a magnet at all",
        "http://127.0.0.1:9/x.torrent",
    ];
    for m in bad {
        let r =
            b.d.post_json("/api/profiles/default/torrents", &json!({"magnet": m}))
                .await;
        assert_error(&format!("magnet {m:?}"), &r, 400, "invalid_magnet");
        b.unchanged(&format!("magnet {m:?}")).await;
    }
    // a request naming neither magnet nor url nor file
    let r =
        b.d.post_json("/api/profiles/default/torrents", &json!({"label": "x"}))
            .await;
    assert_eq!(r.0, 400, "add without a source: {:?}", r);
    b.unchanged("add without a source").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_torrent_files_are_rejected() {
    let tmp = tempdir("bad-torrent");
    let b = base(tmp.path()).await;
    let half = b.spare.torrent[..b.spare.torrent.len() / 2].to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random bytes", random_bytes(4096)),
        (
            "bencode without info",
            b"d8:announce22:http://127.0.0.1:1/anne".to_vec(),
        ),
        ("empty file", Vec::new()),
        ("truncated torrent", half),
        ("plain text", b"this is not a torrent\n".to_vec()),
    ];
    for (what, bytes) in &cases {
        let r = b.d.add_torrent_bytes("default", bytes, &[]).await;
        assert_error(what, &r, 400, "invalid_torrent");
        b.unchanged(what).await;
    }

    // one good and one garbage file in the same upload: rejected as a whole, nothing added
    let form = reqwest::multipart::Form::new()
        .part(
            "torrent",
            reqwest::multipart::Part::bytes(b.spare.torrent.clone()).file_name("good.torrent"),
        )
        .part(
            "torrent",
            reqwest::multipart::Part::bytes(random_bytes(500)).file_name("bad.torrent"),
        );
    let r =
        b.d.post_multipart("/api/profiles/default/torrents", form)
            .await;
    assert_error("good + garbage in one upload", &r, 400, "invalid_torrent");
    b.unchanged("good + garbage in one upload").await;

    // by URL: the daemon fetches garbage
    let srv = StaticServer::start(random_bytes(3000), "application/x-bittorrent").await;
    let r =
        b.d.post_json(
            "/api/profiles/default/torrents",
            &json!({"url": srv.url("/x.torrent")}),
        )
        .await;
    assert_error("garbage .torrent by url", &r, 400, "invalid_torrent");
    b.unchanged("garbage .torrent by url").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_over_10_mib_get_413() {
    let tmp = tempdir("bad-size");
    let b = base(tmp.path()).await;
    let r =
        b.d.add_torrent_bytes("default", &random_bytes(11 * MIB), &[])
            .await;
    assert_error("11 MiB multipart upload", &r, 413, "payload_too_large");
    b.unchanged("11 MiB multipart upload").await;

    let big = format!(
        "magnet:?xt=urn:btih:{}&dn={}",
        b.spare.hash,
        "a".repeat(11 * MIB)
    );
    let r =
        b.d.post_json("/api/profiles/default/torrents", &json!({"magnet": big}))
            .await;
    assert_error("11 MiB JSON body", &r, 413, "payload_too_large");
    b.unchanged("11 MiB JSON body").await;

    // just under the limit is not refused for its size (it is a valid torrent)
    let r =
        b.d.add_torrent_bytes("other", &b.spare.torrent, &[("paused", "true")])
            .await;
    assert_eq!(r.0, 201, "small valid upload after the big ones: {:?}", r);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_profile_is_404() {
    let tmp = tempdir("bad-profile");
    let b = base(tmp.path()).await;
    let d = &b.d;
    let r = d.add_torrent_bytes("nope", &b.spare.torrent, &[]).await;
    assert_error(
        "multipart add to unknown profile",
        &r,
        404,
        "profile_not_found",
    );
    b.unchanged("multipart add to unknown profile").await;
    let r = d
        .post_json(
            "/api/profiles/nope/torrents",
            &json!({"magnet": b.spare.magnet(&[], &[])}),
        )
        .await;
    assert_error(
        "magnet add to unknown profile",
        &r,
        404,
        "profile_not_found",
    );
    let r = d.get("/api/profiles/nope/torrents").await;
    assert_error("list of unknown profile", &r, 404, "profile_not_found");
    let r = d
        .patch_json("/api/profiles/nope", &json!({"name": "x"}))
        .await;
    assert_error("patch unknown profile", &r, 404, "profile_not_found");
    let r = d.delete("/api/profiles/nope").await;
    assert_error("delete unknown profile", &r, 404, "profile_not_found");
    let r = d
        .patch_json(
            &format!("/api/torrents/{}", b.t.hash),
            &json!({"profile": "nope"}),
        )
        .await;
    assert_error(
        "move torrent to unknown profile",
        &r,
        404,
        "profile_not_found",
    );
    b.unchanged("unknown profile requests").await;
    let row = d.torrent(&b.t.hash).await;
    assert_eq!(row["profile"], "default", "{row}");
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_are_409_naming_the_profile() {
    let tmp = tempdir("bad-dup");
    let b = base(tmp.path()).await;
    let d = &b.d;
    for (ctx, r) in [
        (
            "same .torrent into another profile",
            d.add_torrent_bytes("other", &b.t.torrent, &[]).await,
        ),
        (
            "same .torrent into the same profile",
            d.add_torrent_bytes("default", &b.t.torrent, &[]).await,
        ),
        (
            "magnet of it into another profile",
            d.post_json(
                "/api/profiles/other/torrents",
                &json!({"magnet": b.t.magnet(&[], &[])}),
            )
            .await,
        ),
    ] {
        assert_error(ctx, &r, 409, "duplicate_torrent");
        let msg = r.1["error"]["message"].as_str().unwrap_or("");
        assert!(
            msg.contains("default"),
            "{ctx}: message must name the profile holding it: {msg:?}"
        );
        b.unchanged(ctx).await;
    }
    // the existing torrent is untouched (still paused, still in default)
    let row = d.torrent(&b.t.hash).await;
    assert_eq!(
        (row["profile"].as_str(), row["state"].as_str()),
        (Some("default"), Some("paused")),
        "{row}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_unwritable_download_dir_is_400() {
    let tmp = tempdir("bad-dir");
    let root = tmp.path();
    let b = base(root).await;
    let d = &b.d;
    let file = root.join("a-regular-file");
    std::fs::write(&file, b"x").unwrap();
    let cases = [
        ("missing dir", root.join("does/not/exist")),
        ("regular file", file.clone()),
        ("read-only filesystem (/proc)", "/proc".into()),
    ];
    for (ctx, dir) in &cases {
        let r = d
            .post_json("/api/profiles", &json!({"id": "newp", "name": "New", "download_dir": dir, "max_active_downloads": 1}))
            .await;
        assert_error(
            &format!("create profile with {ctx}"),
            &r,
            400,
            "download_dir_invalid",
        );
        b.unchanged(ctx).await;
        let r = d
            .patch_json("/api/profiles/other", &json!({"download_dir": dir}))
            .await;
        assert_error(
            &format!("patch profile to {ctx}"),
            &r,
            400,
            "download_dir_invalid",
        );
        b.unchanged(ctx).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_escaping_are_rejected() {
    let tmp = tempdir("bad-escape");
    let root = tmp.path();
    let b = base(root).await;
    let d = &b.d;
    std::fs::create_dir_all(root.join("x")).unwrap();
    std::fs::create_dir_all(root.join("y")).unwrap();
    let dotdot = format!("{}/x/../y", root.display());
    for (ctx, dir) in [
        ("relative download_dir", "relative/dir"),
        ("download_dir with ..", dotdot.as_str()),
    ] {
        let r = d
            .post_json("/api/profiles", &json!({"id": "esc", "name": "Esc", "download_dir": dir, "max_active_downloads": 1}))
            .await;
        assert_error(ctx, &r, 400, "path_escape");
        b.unchanged(ctx).await;
    }
    for sub in ["../x", "a/../../b", "/etc"] {
        let ctx = format!("add with subdir {sub:?}");
        let r = d
            .post_json(
                "/api/profiles/default/torrents",
                &json!({"magnet": b.spare.magnet(&[], &[]), "subdir": sub, "paused": true}),
            )
            .await;
        assert_error(&ctx, &r, 400, "path_escape");
        b.unchanged(&ctx).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_and_wrong_content_type() {
    let tmp = tempdir("bad-json");
    let b = base(tmp.path()).await;
    let d = &b.d;
    let t = &b.t.hash;
    let cases: [(&str, &str, &str); 4] = [
        ("POST", "/api/profiles/default/torrents", r#"{"magnet": "#),
        ("POST", "/api/profiles", r#"{"id": "p", "#),
        ("PATCH", &format!("/api/torrents/{t}"), r#"{"label": }"#),
        ("PATCH", "/api/profiles/other", "not json"),
    ];
    for (method, path, body) in cases {
        let req = match method {
            "POST" => d.client().post(d.url(path)),
            _ => d.client().patch(d.url(path)),
        };
        let resp = req
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let r = to_status_json(resp).await;
        assert_error(
            &format!("{method} {path} with {body:?}"),
            &r,
            400,
            "invalid_json",
        );
        b.unchanged(path).await;
    }
    for ct in ["text/plain", "application/xml"] {
        let r = d
            .post_raw(
                "/api/profiles/default/torrents",
                ct,
                format!(r#"{{"magnet": "{}"}}"#, b.spare.magnet(&[], &[])).into_bytes(),
            )
            .await;
        assert_error(
            &format!("add with content-type {ct}"),
            &r,
            415,
            "unsupported_media_type",
        );
        b.unchanged(ct).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_torrent_is_404() {
    let tmp = tempdir("bad-hash");
    let b = base(tmp.path()).await;
    let d = &b.d;
    let h = b.spare.hash.clone(); // valid hash, not added
    for sub in ["", "/files", "/peers", "/trackers"] {
        let r = d.get(&format!("/api/torrents/{h}{sub}")).await;
        assert_error(&format!("GET {sub}"), &r, 404, "torrent_not_found");
    }
    for action in ["pause", "resume", "recheck", "force-start"] {
        let r = d.post_empty(&format!("/api/torrents/{h}/{action}")).await;
        assert_error(action, &r, 404, "torrent_not_found");
    }
    let r = d
        .patch_json(&format!("/api/torrents/{h}"), &json!({"label": "x"}))
        .await;
    assert_error("PATCH", &r, 404, "torrent_not_found");
    let r = d
        .delete(&format!("/api/torrents/{h}?delete_files=true"))
        .await;
    assert_error("DELETE", &r, 404, "torrent_not_found");
    b.unchanged("unknown torrent").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_profile_with_torrents_is_409() {
    let tmp = tempdir("bad-delprof");
    let b = base(tmp.path()).await;
    let d = &b.d;
    let r = d.delete("/api/profiles/default").await;
    assert_error("delete non-empty profile", &r, 409, "profile_not_empty");
    b.unchanged("delete non-empty profile").await;
    // an empty profile can be deleted
    let (st, body) = d.delete("/api/profiles/other").await;
    assert_eq!(st, 204, "delete empty profile: {body}");
    let ids: Vec<Value> = d.profiles().await.iter().map(|p| p["id"].clone()).collect();
    assert_eq!(ids, vec![json!("default")]);
}

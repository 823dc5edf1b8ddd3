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
        // librqbit would expand these file selections into billions of indices (memory
        // exhaustion; found by the magnet fuzz target)
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=0-4000000000",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=4-18446744073709551615",
        // base32 hashes that decode to the wrong length (librqbit's parser panicked)
        "magnet:?xt=urn:btih:MFRGGZDFMZTWQ2LKNNWG23TXEBO34PY=",
        "magnet:?xt=urn:btmh:1220AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
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

/// One malformed .torrent: what is wrong, the bytes, and a piece of the expected reason.
fn malformed_torrents() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let size = 100 * KIB as u64; // 7 pieces of 16 KiB
    let with = |key: &str, v: Ben| {
        let mut info = info_single(b"file.bin", size);
        info.set(key, v);
        torrent_of(&info)
    };
    const F: &[&[u8]] = &[b"f"];
    let many_files: Vec<(&[&[u8]], u64)> = (0..100_001).map(|_| (F, 0)).collect();
    vec![
        (
            "piece length 0",
            with("piece length", Ben::int(0)),
            "piece length 0 is outside 16 KiB to 64 MiB",
        ),
        (
            "piece length 2^62",
            with("piece length", Ben::int(1u64 << 62)),
            "is outside 16 KiB to 64 MiB",
        ),
        (
            "piece length 2^64",
            with("piece length", Ben::int("18446744073709551616")),
            "does not fit in 64 bits",
        ),
        (
            "pieces of 19 bytes",
            with("pieces", Ben::str([1u8; 19])),
            "'pieces' is 19 bytes, not a multiple of 20",
        ),
        (
            "pieces of 0 bytes",
            with("pieces", Ben::str(b"")),
            "'pieces' holds 0 hashes",
        ),
        (
            "too few pieces",
            with("pieces", Ben::str([1u8; 40])),
            "'pieces' holds 2 hashes but 102400 bytes in pieces of 16384 bytes need 7",
        ),
        (
            "length 2^62",
            with("length", Ben::int(1u64 << 62)),
            "larger than 1 PiB",
        ),
        (
            "length of 5,000 digits",
            with("length", Ben::Int("7".repeat(5000))),
            "5000 digits) does not fit in 64 bits",
        ),
        (
            "NUL in the name",
            with("name", Ben::str(b"evil\0name.bin")),
            "contains a control character",
        ),
        (
            "invalid UTF-8 in the name",
            with("name", Ben::str(b"caf\xe9 \xff.bin")),
            "is not valid UTF-8",
        ),
        (
            "NUL in a path",
            torrent_of(&info_multi(
                b"folder",
                &[(&[b"ok.txt"], 100), (&[b"sub", b"a\0b.txt"], 100)],
            )),
            "component 1 of the path of file 1",
        ),
        (
            "invalid UTF-8 in a path",
            torrent_of(&info_multi(b"folder", &[(&[b"\xc3\x28.txt"], 100)])),
            "is not valid UTF-8",
        ),
        (
            "100,001 files",
            torrent_of(&info_multi(b"folder", &many_files)),
            "more than 100000 files",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_torrent_metadata_is_400_with_a_reason() {
    let tmp = tempdir("bad-info");
    let b = base(tmp.path()).await;
    for (what, bytes, reason) in malformed_torrents() {
        let r = b.d.add_torrent_bytes("default", &bytes, &[]).await;
        assert_error(what, &r, 400, "invalid_torrent");
        let msg = r.1["error"]["message"].as_str().unwrap_or("");
        assert!(
            msg.contains(reason),
            "{what}: reason {msg:?} lacks {reason:?}"
        );
        assert!(msg.len() < 400, "{what}: message too long: {msg:?}");
        b.unchanged(what).await;
    }
    // the same checks apply to a .torrent fetched by URL
    let (_, zero_pl, _) = malformed_torrents().swap_remove(0);
    let srv = StaticServer::start(zero_pl, "application/x-bittorrent").await;
    let r =
        b.d.post_json(
            "/api/profiles/default/torrents",
            &json!({"url": srv.url("/zero.torrent")}),
        )
        .await;
    assert_error("piece length 0 by URL", &r, 400, "invalid_torrent");
    b.unchanged("piece length 0 by URL").await;
    // `..` in a path is refused as an escape
    let dotdot = torrent_of(&info_multi(b"folder", &[(&[b"..", b"etc.txt"], 10)]));
    let r = b.d.add_torrent_bytes("default", &dotdot, &[]).await;
    assert_error("'..' in a path", &r, 400, "path_escape");
    b.unchanged("'..' in a path").await;
    // nothing of it reached the store: still the same after a restart
    let mut d = b.d;
    d.restart().await;
    assert_eq!(d.torrent_set().await, b.before.1, "torrents after restart");
}

/// A magnet whose metadata (sent by a peer, matching the info hash) is malformed: the add
/// itself is accepted (nothing is known yet), then the torrent goes to `error` naming the
/// problem, no metadata is stored, and fetching stops. With a piece length of 0, librqbit's
/// own reader panics on the metadata: the panic must stay inside that torrent.
#[tokio::test(flavor = "multi_thread")]
async fn magnet_with_malformed_metadata_goes_to_error() {
    let tmp = tempdir("bad-meta");
    let b = base(tmp.path()).await;
    let d = &b.d;
    let cases: Vec<(&str, Ben, &str)> = vec![
        (
            "piece length 0 (panics inside librqbit)",
            {
                let mut i = info_single(b"zero.bin", 100_000);
                i.set("piece length", Ben::int(0));
                i
            },
            "the torrent engine cannot read it",
        ),
        (
            "pieces of 19 bytes",
            {
                let mut i = info_single(b"short.bin", 100_000);
                i.set("pieces", Ben::str([1u8; 19]));
                i
            },
            "'pieces' is 19 bytes, not a multiple of 20",
        ),
        (
            "NUL in the name",
            info_single(b"nul\0.bin", 100_000),
            "contains a control character",
        ),
    ];
    for (what, info, reason) in cases {
        let hash = info_hash_of(&info);
        let peer = MetadataPeer::start(hash, info.encode()).await;
        let hex = hex::encode(hash);
        let magnet = format!("magnet:?xt=urn:btih:{hex}&dn=bad&x.pe={}", peer.addr);
        let (st, body) = d
            .post_json(
                "/api/profiles/default/torrents",
                &json!({"magnet": magnet, "paused": true}),
            )
            .await;
        assert_eq!(st, 201, "{what}: add magnet: {body}");
        let row = wait_for(60, &format!("{what}: row in error"), async || {
            let (st, row) = d.get(&format!("/api/torrents/{hex}")).await;
            if st == 200 && row["state"] == "error" {
                Ok(row)
            } else {
                Err(format!("{st} {row}"))
            }
        })
        .await;
        let err = row["error"].as_str().unwrap_or("");
        assert!(
            err.contains("metadata is invalid") && err.contains(reason),
            "{what}: error {err:?} lacks {reason:?}"
        );
        assert!(
            peer.served.load(std::sync::atomic::Ordering::SeqCst) > 0,
            "{what}: the metadata peer was never asked"
        );
        assert_eq!(row["size"], 0, "{what}: no metadata may be kept: {row}");
        let (st, files) = d.get(&format!("/api/torrents/{hex}/files")).await;
        assert!(
            st == 200 && files == json!([]),
            "{what}: files of a torrent without valid metadata: {st} {files}"
        );
        // the daemon is whole: other requests work and the torrent can be removed
        let (st, _) = d.get("/api/health").await;
        assert_eq!(st, 200);
        let (st, body) = d.delete(&format!("/api/torrents/{hex}")).await;
        assert_eq!(st, 204, "{what}: delete: {body}");
        b.unchanged(what).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_text_inputs_are_400_and_change_nothing() {
    let tmp = tempdir("bad-limits");
    let b = base(tmp.path()).await;
    let d = &b.d;
    let add = "/api/profiles/default/torrents";
    let magnet = b.spare.magnet(&[], &[]);
    let one_mb = "a".repeat(1_000_000);
    let row_before = d.torrent(&b.t.hash).await;

    // PATCH label: too long, NUL and other control characters
    for (what, label) in [
        ("1 MB label", one_mb.clone()),
        ("129-character label", "l".repeat(129)),
        ("label with NUL", "a\0b".to_string()),
        ("label with a newline", "a\nb".to_string()),
        ("label with ESC", "\u{1b}[31mred".to_string()),
    ] {
        let r = d
            .patch_json(
                &format!("/api/torrents/{}", b.t.hash),
                &json!({"label": label}),
            )
            .await;
        assert_error(&format!("PATCH {what}"), &r, 400, "invalid_input");
        let msg = r.1["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains("label"), "{what}: {msg}");
        assert!(
            msg.len() < 200,
            "{what}: the message must not echo the input: {msg:?}"
        );
    }
    let r = d
        .patch_json(
            &format!("/api/torrents/{}", b.t.hash),
            &json!({"label": one_mb}),
        )
        .await;
    assert!(
        r.1["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("at most 128 characters")
    );
    let row = d.torrent(&b.t.hash).await;
    assert_eq!(row["label"], row_before["label"], "label changed: {row}");

    // JSON adds
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "1 MB subdir",
            json!({"magnet": magnet, "subdir": one_mb}),
            "invalid_input",
            "at most 1024 bytes",
        ),
        (
            "subdir with a 256-byte folder name",
            json!({"magnet": magnet, "subdir": format!("ok/{}", "x".repeat(256))}),
            "invalid_input",
            "at most 255 bytes",
        ),
        (
            "subdir with NUL",
            json!({"magnet": magnet, "subdir": "a\u{0}b"}),
            "invalid_input",
            "control characters",
        ),
        (
            "100,000 peers",
            json!({"magnet": magnet, "peers": vec!["127.0.0.1:1"; 100_000]}),
            "invalid_input",
            "at most 100 peers",
        ),
        (
            "1 MB magnet",
            json!({"magnet": format!("{magnet}&dn={one_mb}")}),
            "invalid_magnet",
            "at most 16384 bytes",
        ),
        (
            "1 MB URL",
            json!({"url": format!("http://127.0.0.1:9/{one_mb}")}),
            "invalid_url",
            "at most 8192 bytes",
        ),
        (
            "129-character label on add",
            json!({"magnet": magnet, "label": "l".repeat(129)}),
            "invalid_input",
            "at most 128 characters",
        ),
        (
            "100,001 file indices",
            json!({"magnet": magnet, "only_files": vec![0; 100_001]}),
            "invalid_input",
            "at most 100000 entries",
        ),
    ];
    for (what, body, code, reason) in cases {
        let r = d.post_json(add, &body).await;
        assert_error(what, &r, 400, code);
        let msg = r.1["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains(reason), "{what}: {msg:?} lacks {reason:?}");
        b.unchanged(what).await;
    }
    // more x.pe peer hints in the magnet than allowed
    let many: String = (1..=101).map(|p| format!("&x.pe=127.0.0.1:{p}")).collect();
    let r = d
        .post_json(add, &json!({"magnet": format!("{magnet}{many}")}))
        .await;
    assert_error("101 x.pe hints", &r, 400, "invalid_input");
    b.unchanged("101 x.pe hints").await;

    // multipart adds
    let text = |form: reqwest::multipart::Form, k: &'static str, v: String| form.text(k, v);
    let file =
        || reqwest::multipart::Part::bytes(b.spare.torrent.clone()).file_name("spare.torrent");
    let mut too_many = reqwest::multipart::Form::new().part("torrent", file());
    for _ in 0..128 {
        too_many = too_many.text("magnet", "");
    }
    let mut sources = reqwest::multipart::Form::new();
    for i in 0..101 {
        sources = sources.text("magnet", format!("magnet:?xt=urn:btih:{:040x}", i + 1));
    }
    let forms: Vec<(&str, reqwest::multipart::Form, &str)> = vec![
        (
            "multipart 1 MB subdir",
            text(
                reqwest::multipart::Form::new().part("torrent", file()),
                "subdir",
                one_mb.clone(),
            ),
            "at most 1024 bytes",
        ),
        (
            "multipart 3 MiB label field",
            text(
                reqwest::multipart::Form::new().part("torrent", file()),
                "label",
                "l".repeat(3 * MIB),
            ),
            "longer than 2097152 bytes",
        ),
        ("multipart with 129 parts", too_many, "at most 128 parts"),
        (
            "multipart with 101 magnets",
            sources,
            "at most 100 torrents",
        ),
        (
            "multipart 100,000 peers",
            text(
                reqwest::multipart::Form::new().part("torrent", file()),
                "peers",
                vec!["127.0.0.1:1"; 100_000].join(","),
            ),
            "at most 100 peers",
        ),
    ];
    for (what, form, reason) in forms {
        let r = d.post_multipart(add, form).await;
        assert_eq!(r.0, 400, "{what}: {:?}", r);
        let msg = r.1["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains(reason), "{what}: {msg:?} lacks {reason:?}");
        b.unchanged(what).await;
    }

    // profiles
    let dir = tmp.path().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    for (what, body, reason) in [
        (
            "profile with a 1 MB name",
            json!({"id": "p", "name": one_mb, "download_dir": dir}),
            "1-128 printable characters",
        ),
        (
            "profile name with a newline",
            json!({"id": "p", "name": "a\nb", "download_dir": dir}),
            "1-128 printable characters",
        ),
        (
            "profile with a 1 MB id",
            json!({"id": one_mb, "download_dir": dir}),
            "1-64 characters",
        ),
        (
            "max_active_downloads 2^31",
            json!({"id": "p", "download_dir": dir, "max_active_downloads": 1u64 << 31}),
            "0 (unlimited) to 1000",
        ),
        (
            "5 KB download dir",
            json!({"id": "p", "download_dir": format!("/{}", "d/".repeat(2500))}),
            "at most 4096 bytes",
        ),
    ] {
        let r = d.post_json("/api/profiles", &body).await;
        assert_error(what, &r, 400, "invalid_input");
        let msg = r.1["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains(reason), "{what}: {msg:?} lacks {reason:?}");
        assert!(
            msg.len() < 300,
            "{what}: the message must not echo the input"
        );
        b.unchanged(what).await;
    }
    for (what, body) in [
        ("PATCH profile 1 MB name", json!({"name": one_mb})),
        (
            "PATCH profile max 5000",
            json!({"max_active_downloads": 5000}),
        ),
    ] {
        let r = d.patch_json("/api/profiles/other", &body).await;
        assert_error(what, &r, 400, "invalid_input");
        b.unchanged(what).await;
    }
}

/// A long `dn` is a display hint: it is shortened, not refused, and has no control
/// characters in the list (and so in every feed client).
#[tokio::test(flavor = "multi_thread")]
async fn long_magnet_names_are_shortened() {
    let tmp = tempdir("bad-dn");
    let b = base(tmp.path()).await;
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn={}%0A{}",
        b.spare.hash,
        "n".repeat(5000),
        "z".repeat(5000)
    );
    let (st, body) =
        b.d.post_json(
            "/api/profiles/default/torrents",
            &json!({"magnet": magnet, "paused": true}),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let name = body["added"][0]["name"].as_str().unwrap_or("").to_string();
    assert!(name.len() <= 255, "name of {} bytes", name.len());
    assert!(name.starts_with("nnnn") && name.ends_with('…'), "{name}");
    assert!(!name.chars().any(char::is_control), "{name:?}");
    let listed = b.d.torrent(&b.spare.hash).await;
    assert_eq!(listed["name"], name.as_str());
}

/// Sends raw request bytes on a new connection; returns the status, the JSON body (Null
/// when the body is not JSON) and the raw head, reading until the body is complete.
async fn raw_request(port: u16, request: &[u8]) -> (u16, Value, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    // The server may answer (and stop reading) before the whole head is sent.
    let _ = sock.write_all(request).await;
    let mut buf = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout_at(deadline.into(), sock.read(&mut chunk))
            .await
            .expect("answer within 20 s")
            .unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len || n == 0 {
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let body = serde_json::from_slice(&buf[end + 4..]).unwrap_or(Value::Null);
                return (status, body, head);
            }
        }
        assert!(
            n > 0,
            "connection closed before a full answer: {:?}",
            String::from_utf8_lossy(&buf[..buf.len().min(300)])
        );
    }
}

/// Oversized request heads get the JSON error body like every other refusal (hyper alone
/// answers them with an empty body before any handler runs): a request target over 8 KiB
/// is 414 `uri_too_long`, more than 100 header fields or a head over 64 KiB (a 1 MB request
/// target included) is 431 `headers_too_large`, a request that is not HTTP is 400
/// `bad_request`.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_request_heads_get_json_errors() {
    let tmp = tempdir("bad-head");
    let d = Daemon::start(tmp.path()).await;
    let get = |target: &str, headers: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\n{headers}\r\n",
            d.port
        )
        .into_bytes()
    };
    let check = |what: &str, r: &(u16, Value, String), status: u16, code: &str, limit: &str| {
        assert_eq!(r.0, status, "{what}: head {:?}", r.2);
        assert_eq!(r.1["error"]["code"], code, "{what}: body {}", r.1);
        let msg = r.1["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains(limit), "{what}: {msg:?} lacks {limit:?}");
        assert!(
            r.2.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{what}: head {:?}",
            r.2
        );
    };
    let r = raw_request(
        d.port,
        &get(&format!("/api/health?x={}", "u".repeat(1 << 20)), ""),
    )
    .await;
    check(
        "1 MB URI",
        &r,
        431,
        "headers_too_large",
        "65536 bytes for the request line",
    );
    let r = raw_request(
        d.port,
        &get(&format!("/api/health?x={}", "u".repeat(20_000)), ""),
    )
    .await;
    check(
        "20 KB URI",
        &r,
        414,
        "uri_too_long",
        "20014 bytes; at most 8192",
    );
    let r = raw_request(
        d.port,
        &get(&format!("/api/profiles?{}", "q".repeat(9000)), ""),
    )
    .await;
    check(
        "9 KB URI",
        &r,
        414,
        "uri_too_long",
        "9014 bytes; at most 8192",
    );

    let many: String = (0..1000).map(|i| format!("x-filler-{i}: v\r\n")).collect();
    let r = raw_request(d.port, &get("/api/health", &many)).await;
    check(
        "1,000 headers",
        &r,
        431,
        "headers_too_large",
        "at most 100 header fields",
    );
    let r = raw_request(
        d.port,
        &get(
            "/api/health",
            &format!("x-big: {}\r\n", "b".repeat(100_000)),
        ),
    )
    .await;
    check(
        "one 100 KB header",
        &r,
        431,
        "headers_too_large",
        "at most 65536",
    );
    let r = raw_request(
        d.port,
        &get(
            "/api/health",
            &format!("cookie: {}\r\n", "c".repeat(70_000)),
        ),
    )
    .await;
    check(
        "a 70 KB cookie",
        &r,
        431,
        "headers_too_large",
        "at most 65536",
    );
    // also for requests with a body
    let post = format!(
        "POST /api/profiles/default/torrents HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n{many}\r\n{{}}",
        d.port
    );
    let r = raw_request(d.port, post.as_bytes()).await;
    check(
        "POST with 1,000 headers",
        &r,
        431,
        "headers_too_large",
        "at most 100",
    );

    // within the limits all is well
    let r = raw_request(
        d.port,
        &get(&format!("/api/health?x={}", "u".repeat(7000)), ""),
    )
    .await;
    assert_eq!((r.0, &r.1), (200, &json!({"status": "ok"})), "{:?}", r.2);
    let ninety: String = (0..90)
        .map(|i| format!("x-filler-{i}: {}\r\n", "v".repeat(500)))
        .collect();
    let r = raw_request(d.port, &get("/api/health", &ninety)).await;
    assert_eq!((r.0, &r.1), (200, &json!({"status": "ok"})), "{:?}", r.2);
    let (st, _) = d.get("/api/health").await;
    assert_eq!(st, 200);
}

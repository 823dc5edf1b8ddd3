//! A torrent's files in the browser (docs/files.md): ranges on a complete file compared byte
//! for byte, HEAD and conditional requests, the sandboxing headers, a file streamed while
//! its torrent downloads from a throttled aria2c, the ZIP of the complete files, the
//! `.torrent` export, and refusals (unknown file, metadata unknown, a symlink planted in
//! place of a file).

use std::time::Instant;

use serde_json::json;

use crate::util::*;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

async fn get(d: &Daemon, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut rq = d.client().get(d.url(path));
    for (k, v) in headers {
        rq = rq.header(*k, *v);
    }
    rq.send().await.expect("request")
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn complete_files_ranges_conditionals_archive_and_torrent() {
    let tmp = tempdir("files");
    let root = tmp.path();
    let d = Daemon::start(root).await;
    let p = Payload::multi(
        &root.join("src"),
        "Show — season 1",
        &[
            ("e01 video.webm", 300 * KIB + 7),
            ("notes.txt", 10 * KIB),
            ("sub/page.html", 2 * KIB),
        ],
        &[],
        32 * 1024,
    )
    .await;
    p.copy_into(&d.download_dir);
    d.add_torrent_ok("default", &p.torrent, &[]).await;
    d.wait_state(&p.hash, "seeding", 30).await;
    // Torrent order is the creator's walk order: find each file's index by name.
    let at = |name: &str| {
        p.files
            .iter()
            .position(|f| f.rel.ends_with(name))
            .unwrap_or_else(|| panic!("{name} not in the payload"))
    };
    let (iv, it, ih) = (at("e01 video.webm"), at("notes.txt"), at("page.html"));
    let url = |i: usize| format!("/api/torrents/{}/files/{i}/content", p.hash);
    let video = &p.files[iv].data;
    let len = video.len();

    // The whole file, with its validators and the sandbox.
    let r = get(&d, &url(iv), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type"),
        "video/webm",
        "{:?}",
        r.headers()
    );
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    assert!(
        header(&r, "content-security-policy").starts_with("sandbox"),
        "{:?}",
        r.headers()
    );
    assert!(
        header(&r, "content-disposition").starts_with("inline; filename=\"e01 video.webm\""),
        "{:?}",
        r.headers()
    );
    let etag = header(&r, "etag");
    let modified = header(&r, "last-modified");
    assert!(
        etag.starts_with('"') && modified.ends_with("GMT"),
        "{etag} {modified}"
    );
    assert_same_bytes("whole file", video, &r.bytes().await.unwrap());

    // Ranges: first bytes, middle, suffix, open-ended, beyond the end.
    for (range, a, b) in [
        ("bytes=0-99", 0, 100),
        ("bytes=1000-204799", 1000, 204_800),
        ("bytes=-100", len - 100, len),
        (&format!("bytes={}-", len - 5) as &str, len - 5, len),
    ] {
        let r = get(&d, &url(iv), &[("range", range)]).await;
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes {a}-{}/{len}", b - 1),
            "{range}"
        );
        assert_same_bytes(range, &video[a..b], &r.bytes().await.unwrap());
    }
    let r = get(&d, &url(iv), &[("range", &format!("bytes={len}-"))]).await;
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "content-range"), format!("bytes */{len}"));
    // Several ranges are answered with the whole file.
    let r = get(&d, &url(iv), &[("range", "bytes=0-1,5-6")]).await;
    assert_eq!(r.status(), 200);

    // HEAD: the headers without the body.
    let r = d.client().head(d.url(&url(iv))).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), header(&r, "content-length")),
        (200, len.to_string())
    );
    assert!(r.bytes().await.unwrap().is_empty());

    // Conditional requests.
    let r = get(&d, &url(iv), &[("if-none-match", &etag)]).await;
    assert_eq!(r.status(), 304);
    let r = get(&d, &url(iv), &[("if-modified-since", &modified)]).await;
    assert_eq!(r.status(), 304);
    let r = get(
        &d,
        &url(iv),
        &[("range", "bytes=0-9"), ("if-range", "\"other\"")],
    )
    .await;
    assert_eq!(r.status(), 200, "a stale If-Range gets the whole file");
    let r = get(&d, &url(iv), &[("range", "bytes=0-9"), ("if-range", &etag)]).await;
    assert_eq!(r.status(), 206);

    // Downloads on request; HTML never shows inline (and never runs: sandbox).
    let r = get(&d, &format!("{}?download=1", url(iv)), &[]).await;
    assert!(header(&r, "content-disposition").starts_with("attachment;"));
    let r = get(&d, &url(ih), &[]).await;
    assert!(
        header(&r, "content-disposition").starts_with("attachment;"),
        "{:?}",
        r.headers()
    );
    assert_same_bytes("html", &p.files[ih].data, &r.bytes().await.unwrap());
    let r = get(&d, &url(it), &[]).await;
    assert_eq!(header(&r, "content-type"), "text/plain; charset=utf-8");

    // Malformed hash and index; unknown file; unknown torrent.
    assert_error(
        "bad hash",
        &d.get("/api/torrents/xyz/files/0/content").await,
        400,
        "invalid_hash",
    );
    assert_error(
        "bad index",
        &d.get(&format!("/api/torrents/{}/files/-1/content", p.hash))
            .await,
        400,
        "invalid_path",
    );
    assert_error("file 9", &d.get(&url(9)).await, 404, "file_not_found");
    assert_error(
        "unknown torrent",
        &d.get(&format!("/api/torrents/{}/files/0/content", "0".repeat(40)))
            .await,
        404,
        "torrent_not_found",
    );

    // The .torrent as added.
    let r = get(&d, &format!("/api/torrents/{}/torrent", p.hash), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/x-bittorrent");
    assert_same_bytes(".torrent", &p.torrent, &r.bytes().await.unwrap());

    // The ZIP of the complete files, folders kept; checked with unzip.
    let r = get(&d, &format!("/api/torrents/{}/archive", p.hash), &[]).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-disposition").contains(".zip"));
    let zip = root.join("a.zip");
    std::fs::write(&zip, r.bytes().await.unwrap()).unwrap();
    let unzip = require_tool("unzip", "unzip");
    let t = std::process::Command::new(&unzip)
        .arg("-tq")
        .arg(&zip)
        .output()
        .unwrap();
    assert!(
        t.status.success(),
        "unzip -t: {}",
        String::from_utf8_lossy(&t.stdout)
    );
    for f in &p.files {
        let name = f.rel.to_string_lossy().into_owned();
        let out = std::process::Command::new(&unzip)
            .arg("-p")
            .arg(&zip)
            .arg(&name)
            .output()
            .unwrap();
        assert_same_bytes(&format!("zip entry {name}"), &f.data, &out.stdout);
    }

    // A file replaced by a link to something outside: refused, its bytes never served.
    let outside = root.join("secret.txt");
    std::fs::write(&outside, vec![b's'; 10 * KIB]).unwrap();
    let notes = d.download_dir.join(&p.files[it].rel);
    std::fs::remove_file(&notes).unwrap();
    std::os::unix::fs::symlink(&outside, &notes).unwrap();
    let r = d.get(&url(it)).await;
    assert_error("symlinked file", &r, 400, "path_escapes_profile");

    // A magnet whose metadata is unknown: nothing to read yet.
    let m = "e".repeat(40);
    d.add_json_ok(
        "default",
        &json!({"magnet": format!("magnet:?xt=urn:btih:{m}"), "paused": true}),
    )
    .await;
    assert_error(
        "torrent of a magnet",
        &d.get(&format!("/api/torrents/{m}/torrent")).await,
        409,
        "conflict",
    );
    assert_error(
        "file of a magnet",
        &d.get(&format!("/api/torrents/{m}/files/0/content")).await,
        409,
        "conflict",
    );
    assert_error(
        "archive of a magnet",
        &d.get(&format!("/api/torrents/{m}/archive")).await,
        409,
        "not_downloaded",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_streams_while_its_torrent_downloads() {
    let tmp = tempdir("files-stream");
    let root = tmp.path();
    let p = Payload::single(&root.join("seed"), "movie.bin", 64 * MIB, &[], 256 * 1024).await;
    let seeder = Aria2::seed(root, "slow", &p.torrent_path, &p.parent, Some("1M")).await;
    let d = Daemon::start(root).await;
    let magnet = p.magnet(
        &[format!("127.0.0.1:{}", seeder.listen_port).parse().unwrap()],
        &[],
    );
    d.add_json_ok("default", &json!({"magnet": magnet})).await;
    // Metadata first (the file list), then ask for the last MiB.
    wait_for(60, "the metadata", async || {
        let f = d.files(&p.hash).await;
        if f.is_empty() {
            Err("no files yet".to_owned())
        } else {
            Ok(())
        }
    })
    .await;
    let start = 63 * MIB;
    let t0 = Instant::now();
    let r = get(
        &d,
        &format!("/api/torrents/{}/files/0/content", p.hash),
        &[("range", &format!("bytes={start}-"))],
    )
    .await;
    let status = r.status();
    let body = r.bytes().await.unwrap();
    assert_eq!(
        status,
        206,
        "{}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    let took = t0.elapsed();
    let progress = d.torrent(&p.hash).await["progress"].as_f64().unwrap_or(1.0);
    assert_same_bytes("the last MiB", &p.files[0].data[start..], &body);
    assert!(
        progress < 0.5,
        "the last MiB arrived at {:.0} % after {took:?}: it was not fetched first",
        progress * 100.0
    );
    eprintln!(
        "last MiB of a 64 MiB file at 1 MiB/s: {took:?}, torrent at {:.1} %",
        progress * 100.0
    );
    // A paused torrent answers what it has, and refuses what it has not.
    d.action(&p.hash, "pause").await;
    let r = get(
        &d,
        &format!("/api/torrents/{}/files/0/content", p.hash),
        &[("range", &format!("bytes={start}-"))],
    )
    .await;
    assert_eq!(r.status(), 206, "verified bytes of a paused torrent");
    assert_same_bytes(
        "the last MiB again",
        &p.files[0].data[start..],
        &r.bytes().await.unwrap(),
    );
    let r = d
        .get(&format!("/api/torrents/{}/files/0/content", p.hash))
        .await;
    assert_error(
        "the whole file of a paused torrent",
        &r,
        409,
        "not_downloaded",
    );
    drop(seeder);
}

async fn creation_done(d: &Daemon, id: &str) -> serde_json::Value {
    wait_for(60, "the creation to end", async || {
        let (st, v) = d.get(&format!("/api/creations/{id}")).await;
        match (st, v["state"].as_str()) {
            (200, Some("hashing")) => Err(format!("hashing {}/{}", v["hashed"], v["total"])),
            (200, _) => Ok(v),
            _ => Err(format!("{st} {v}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn torrents_are_made_from_a_folder_and_seed_where_the_data_is() {
    let tmp = tempdir("files-create");
    let root = tmp.path();
    let d = Daemon::start(root).await;
    let album = d.download_dir.join("music/album");
    std::fs::create_dir_all(album.join("cd2")).unwrap();
    std::fs::write(album.join("01.flac"), random_bytes(300 * KIB)).unwrap();
    std::fs::write(album.join("cd2/02.flac"), random_bytes(200 * KIB + 3)).unwrap();
    std::fs::write(d.download_dir.join("music/notes.txt"), b"liner notes").unwrap();
    std::os::unix::fs::symlink("/etc", d.download_dir.join("music/elsewhere")).unwrap();

    // The picker lists the profile's folder, links left out.
    let (st, list) = d.get("/api/profiles/default/browse?path=music").await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(
        list,
        json!([{"name": "album", "dir": true, "size": 0}, {"name": "notes.txt", "dir": false, "size": 11}])
    );

    // Refusals: outside, missing, a link, a bad tracker.
    let create = "/api/profiles/default/create-torrent";
    for (what, body, code) in [
        ("parent", json!({"path": "../x"}), "path_escape"),
        ("absolute", json!({"path": "/etc"}), "path_escape"),
        ("missing", json!({"path": "music/nothing"}), "invalid_input"),
        (
            "link",
            json!({"path": "music/elsewhere"}),
            "path_escapes_profile",
        ),
        (
            "tracker",
            json!({"path": "music/album", "trackers": ["ftp://x/"]}),
            "invalid_url",
        ),
        (
            "piece",
            json!({"path": "music/album", "piece_length": 1000}),
            "invalid_input",
        ),
    ] {
        let r = d.post_json(create, &body).await;
        if what == "piece" {
            // The piece length is checked by the creator: the job fails with the reason.
            assert_eq!(r.0, 202, "{what}: {}", r.1);
            let v = creation_done(&d, r.1["id"].as_str().unwrap()).await;
            assert_eq!(v["state"], "failed", "{v}");
            assert!(
                v["error"].as_str().unwrap_or("").contains("power of two"),
                "{v}"
            );
            continue;
        }
        assert_error(what, &r, 400, code);
    }

    // The CLI (no daemon needed) tells the info hash first: the tracker is started for it.
    let mut tracker = Tracker::new(root);
    let announce = tracker.announce_url();
    let out = root.join("cli.torrent");
    let r = run_cli_in(
        root,
        &[
            "create-torrent",
            album.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--tracker",
            &announce,
        ],
        &[],
        CliInput::Null,
        60.0,
    )
    .await;
    assert_eq!(r.code, Some(0), "{r}");
    let hash = r
        .stdout
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(hash.len(), 40, "{r}");
    tracker.start(&[&hash]).await;

    // A real creation: hashed in the background, added where the data lies, seeding; the
    // same folder gives the same info hash as the CLI.
    let (st, v) = d
        .post_json(
            create,
            &json!({"path": "music/album", "trackers": [announce], "comment": "made here"}),
        )
        .await;
    assert_eq!(st, 202, "{v}");
    let v = creation_done(&d, v["id"].as_str().unwrap()).await;
    assert_eq!(
        (v["state"].as_str(), v["hashed"].clone()),
        (Some("done"), json!(500 * KIB + 3)),
        "{v}"
    );
    assert_eq!(v["hash"], json!(hash), "{v}");
    let row = d.wait_state(&hash, "seeding", 30).await;
    assert_eq!(row["name"], "album");
    assert_eq!(row["save_dir"], json!(d.download_dir.join("music")));
    let (_, files) = d.get(&format!("/api/torrents/{hash}/files")).await;
    assert_eq!(files.as_array().map(Vec::len), Some(2), "{files}");

    // The exported .torrent has the torrent's info hash, and aria2c downloads the folder
    // from pytorrentd with it, byte for byte.
    let exported = d
        .client()
        .get(d.url(&format!("/api/torrents/{hash}/torrent")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let t = root.join("exported.torrent");
    std::fs::write(&t, &exported).unwrap();
    let aria = require_tool("aria2c", "aria2");
    let shown = std::process::Command::new(aria)
        .arg("-S")
        .arg(&t)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains(&hash) && text.contains("made here"), "{text}");
    tracker.wait_seeders(&hash, 1, 30).await;
    let got = root.join("leech");
    let mut leecher = Aria2::leech(root, "created", &t, &got);
    let st = leecher.wait_exit(60.0).await;
    assert!(
        st.success(),
        "aria2c leecher failed: {st}\n{}",
        leecher.log_tail(40)
    );
    for rel in ["01.flac", "cd2/02.flac"] {
        assert_same_bytes(
            rel,
            &std::fs::read(album.join(rel)).unwrap(),
            &std::fs::read(got.join("album").join(rel)).unwrap(),
        );
    }
    // The CLI never writes over a file.
    let again = run_cli_in(
        root,
        &[
            "create-torrent",
            album.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
        CliInput::Null,
        60.0,
    )
    .await;
    assert_eq!(again.code, Some(1), "{again}");

    // Cancelling: a big (sparse) file, cancelled at once.
    let big = std::fs::File::create(d.download_dir.join("big.img")).unwrap();
    big.set_len(4 << 30).unwrap();
    let (st, v) = d.post_json(create, &json!({"path": "big.img"})).await;
    assert_eq!(st, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let (st, c) = d.delete(&format!("/api/creations/{id}")).await;
    assert_eq!(st, 200, "{c}");
    let v = creation_done(&d, &id).await;
    assert_eq!(v["state"], "cancelled", "{v}");
    assert_error(
        "cancel twice",
        &d.delete(&format!("/api/creations/{id}")).await,
        409,
        "conflict",
    );
    assert_error(
        "unknown creation",
        &d.get("/api/creations/nope").await,
        404,
        "not_found",
    );
    let (_, all) = d.get("/api/creations").await;
    assert!(all.as_array().is_some_and(|a| a.len() >= 3), "{all}");
}

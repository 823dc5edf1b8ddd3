//! RSS feeds and rules (README "RSS") against a local HTTP server serving real-world-shaped
//! feeds kept as fixtures (`fixtures/rss/`: a showRSS-style RSS 2.0 feed with enclosures, an
//! Atom feed with enclosure links, a Jackett-style Torznab feed with magnet links).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::faults::{Session, first_admin_password, login};
use crate::util::*;

/// What the feed server serves and what it saw.
#[derive(Default)]
struct Served {
    base: String,
    /// Feed documents by path, with `{{BASE}}` and `{{HASH_*}}` filled in.
    feeds: HashMap<String, String>,
    /// Bumped to change the ETag (the document is "new" to a conditional GET).
    version: u32,
    /// An item inserted at `<!--NEW-->` of the showRSS feed.
    extra: String,
    /// `/flaky.xml` answers 500 while set.
    broken: bool,
    torrents: HashMap<String, Vec<u8>>,
    /// (path, If-None-Match) of every request.
    seen: Vec<(String, Option<String>)>,
}

struct FeedServer {
    port: u16,
    served: Arc<Mutex<Served>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(served: Arc<Mutex<Served>>, uri: Uri, headers: HeaderMap) -> Response {
    let inm = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut s = served.lock().unwrap();
    let path = uri.path().to_owned();
    s.seen.push((path.clone(), inm.clone()));
    if let Some(name) = path.strip_prefix("/t/") {
        return match s.torrents.get(name) {
            Some(b) => ([("content-type", "application/x-bittorrent")], b.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    if path == "/flaky.xml" && s.broken {
        return (StatusCode::INTERNAL_SERVER_ERROR, "indexer down").into_response();
    }
    let key = if path == "/flaky.xml" {
        "/showrss.xml"
    } else {
        path.as_str()
    };
    let Some(doc) = s.feeds.get(key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}-v{}\"", path.trim_start_matches('/'), s.version);
    if inm.as_deref() == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    let body = doc.replace("<!--NEW-->", &s.extra);
    (
        [
            (
                "content-type",
                "application/rss+xml; charset=utf-8".to_owned(),
            ),
            ("etag", etag),
        ],
        body,
    )
        .into_response()
}

impl FeedServer {
    async fn start() -> FeedServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(Mutex::new(Served {
            base: format!("http://127.0.0.1:{port}"),
            ..Default::default()
        }));
        let s2 = served.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let s = s2.clone();
            async move { answer(s, uri, headers).await }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FeedServer { port, served, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Served) -> R) -> R {
        f(&mut self.served.lock().unwrap())
    }

    /// The If-None-Match headers of the requests for `path`, in order.
    fn conditionals(&self, path: &str) -> Vec<Option<String>> {
        self.with(|s| {
            s.seen
                .iter()
                .filter(|(p, _)| p == path)
                .map(|(_, i)| i.clone())
                .collect()
        })
    }
}

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/rss")
        .join(name);
    String::from_utf8(read(&p)).unwrap()
}

/// A small valid .torrent named `name`, and its info hash.
fn torrent(name: &str) -> (Vec<u8>, String) {
    let info = info_single(name.as_bytes(), 3 * 16_384 + 77);
    (torrent_of(&info), hex::encode(info_hash_of(&info)))
}

fn ok(r: (u16, Value), what: &str) -> Value {
    assert!((200..300).contains(&r.0), "{what}: {r:?}");
    r.1
}

fn titles(v: &Value) -> Vec<String> {
    let mut t: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect();
    t.sort();
    t
}

/// Creates a feed; returns its id.
async fn add_feed(d: &Daemon, body: Value) -> String {
    let f = ok(d.post_json("/api/rss/feeds", &body).await, "create feed");
    f["id"].as_str().unwrap().to_owned()
}

/// Fetches a feed now; returns its view.
async fn refresh(d: &Daemon, id: &str) -> Value {
    ok(
        d.post_empty(&format!("/api/rss/feeds/{id}/refresh")).await,
        "refresh",
    )
}

/// A feed's view from the list.
async fn feed_view(d: &Daemon, id: &str) -> Value {
    let feeds = ok(d.get("/api/rss/feeds").await, "feeds");
    feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("feed {id} not listed: {feeds}"))
}

/// Waits until the default profile holds a torrent with `hash`.
async fn wait_torrent(d: &Daemon, hash: &str, what: &str) {
    wait_for(20, what, async || {
        let rows = d.torrents("default").await;
        if rows.iter().any(|t| t["hash"] == hash) {
            Ok(())
        } else {
            Err(format!("{} rows", rows.len()))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_grab_matching_items_once_across_restarts_with_conditional_gets() {
    let tmp = tempdir("rss");
    let root = tmp.path();
    let srv = FeedServer::start().await;
    let names = [
        "ng-s01e01",
        "ng-s01e02",
        "ng-s01e02-repack",
        "ng-s01e03-720p",
        "ng-s01e05",
        "ng-s02e01",
        "dg-s01e01",
        "ng-s01e04",
        "distro-24.04.2",
        "distro-23.10",
    ];
    let mut hash = HashMap::new();
    let magnet1 = hex::encode(random_bytes(20));
    let magnet2 = hex::encode(random_bytes(20));
    srv.with(|s| {
        for n in names {
            let (bytes, h) = torrent(n);
            s.torrents.insert(format!("{n}.torrent"), bytes);
            hash.insert(n, h);
        }
        for (path, file) in [
            ("/showrss.xml", "showrss.xml"),
            ("/releases.atom", "releases.atom"),
            ("/torznab.xml", "jackett-torznab.xml"),
        ] {
            let doc = fixture(file)
                .replace("{{BASE}}", &s.base)
                .replace("{{HASH_M1}}", &magnet1)
                .replace("{{HASH_M2}}", &magnet2);
            s.feeds.insert(path.into(), doc);
        }
    });
    let mut d = Daemon::start(root).await;

    // A feed: fetched, parsed, no conditional header the first time.
    let fid = add_feed(
        &d,
        json!({"url": srv.url("/showrss.xml"), "profile": "default", "refresh_minutes": 60}),
    )
    .await;
    let v = refresh(&d, &fid).await;
    assert_eq!(v["error"], Value::Null, "{v}");
    assert_eq!(v["items"], 7, "{v}");
    assert_eq!(v["title"], "showRSS: feed for Night Garden");
    assert_eq!(srv.conditionals("/showrss.xml")[0], None);
    let items = ok(d.get(&format!("/api/rss/feeds/{fid}/items")).await, "items");
    let e5 = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Night.Garden.S01E05.2160p.WEB.h265-GRP")
        .unwrap();
    assert_eq!(e5["size"], 42949672960u64);
    assert_eq!(e5["link"], srv.url("/t/ng-s01e05.torrent"));

    // The preview of a rule: include/exclude, the episode range and the size range.
    let rule = json!({
        "name": "Night Garden S1",
        "profile": "default",
        "feeds": [fid],
        "include": "^night\\.garden\\.",
        "exclude": "720p",
        "episodes": "S01E01-S01E10",
        "only_new": true,
        "max_size": 10u64 << 30,
        "labels": ["tv"],
        "paused": true,
    });
    let preview = ok(d.post_json("/api/rss/preview", &rule).await, "preview");
    assert_eq!(
        titles(&preview),
        [
            "Night.Garden.S01E01.1080p.WEB.h264-GRP",
            "Night.Garden.S01E02.1080p.WEB.h264-GRP",
            "Night.Garden.S01E02.REPACK.1080p.WEB.h264-GRP",
        ]
    );
    assert!(
        preview
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["grabbed"].is_null())
    );
    // "Only new episodes": the repack comes after the first S01E02 and would be skipped.
    let skipped: Vec<&str> = preview
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["skipped"] == true)
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["Night.Garden.S01E02.REPACK.1080p.WEB.h264-GRP"]);
    // Bad rules are refused with a reason, and nothing is created.
    for (bad, why) in [
        (json!({"include": "(unclosed"}), "regular expression"),
        (json!({"episodes": "S01E10-S01E01"}), "episodes"),
        (json!({"min_size": 10, "max_size": 5}), "min_size"),
        (json!({"feeds": ["nope"]}), "no RSS feed"),
        (json!({"profile": "nope"}), "profile"),
    ] {
        let mut r = rule.clone();
        for (k, v) in bad.as_object().unwrap() {
            r[k] = v.clone();
        }
        let (st, body) = d.post_json("/api/rss/rules", &r).await;
        assert!(st == 400 || st == 404, "{bad}: {st} {body}");
        assert!(body.to_string().contains(why), "{bad}: {body}");
    }
    assert_eq!(ok(d.get("/api/rss/rules").await, "rules"), json!([]));

    // The rule grabs exactly S01E01 and the first S01E02 (not the repack: only new episodes).
    let created = ok(d.post_json("/api/rss/rules", &rule).await, "create rule");
    let rid = created["id"].as_str().unwrap().to_owned();
    let want = [hash["ng-s01e01"].clone(), hash["ng-s01e02"].clone()];
    wait_for(20, "the rule's grabs", async || {
        let have: Vec<String> = d
            .torrents("default")
            .await
            .iter()
            .map(|t| t["hash"].as_str().unwrap().to_owned())
            .collect();
        if want.iter().all(|h| have.contains(h)) {
            Ok(())
        } else {
            Err(format!("{have:?}"))
        }
    })
    .await;
    let rows = d.torrents("default").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for t in &rows {
        assert_eq!(t["labels"], json!(["tv"]), "{t}");
        assert_eq!(t["state"], "paused", "{t}");
    }
    let history = ok(
        d.get(&format!("/api/rss/history?rule={rid}")).await,
        "history",
    );
    assert_eq!(
        titles(&history),
        [
            "Night.Garden.S01E01.1080p.WEB.h264-GRP",
            "Night.Garden.S01E02.1080p.WEB.h264-GRP"
        ]
    );
    let notes = ok(d.get("/api/me/notifications").await, "notifications");
    let grabbed = notes["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["event"] == "rss_grabbed")
        .count();
    assert_eq!(grabbed, 2, "{notes}");
    let views = ok(d.get("/api/rss/rules").await, "rules");
    assert_eq!(views[0]["grabbed"], 2, "{views}");

    // The next fetch is conditional: the server answers 304 and nothing changes.
    let v = refresh(&d, &fid).await;
    assert_eq!(v["error"], Value::Null, "{v}");
    assert_eq!(v["items"], 7, "the items are kept through a 304: {v}");
    assert_eq!(
        srv.conditionals("/showrss.xml").last().unwrap().as_deref(),
        Some("\"showrss.xml-v0\"")
    );
    // A grabbed torrent deleted by the user is not grabbed again, even from a full answer.
    ok(
        d.delete(&format!("/api/torrents/{}", hash["ng-s01e01"]))
            .await,
        "delete",
    );
    srv.with(|s| s.version += 1);
    refresh(&d, &fid).await;
    assert_eq!(d.torrents("default").await.len(), 1);

    // After a restart: the same document again (new ETag) grabs nothing; a new episode is
    // grabbed.
    d.restart().await;
    srv.with(|s| {
        s.version += 1;
        s.extra = format!(
            "<item><title>Night.Garden.S01E04.1080p.WEB.h264-GRP</title><guid isPermaLink=\"false\">e4</guid>\
             <enclosure url=\"{}/t/ng-s01e04.torrent\" length=\"1610612736\" type=\"application/x-bittorrent\"/></item>",
            s.base
        );
    });
    let v = refresh(&d, &fid).await;
    assert_eq!(v["items"], 8, "{v}");
    let have = wait_for(20, "the new episode", async || {
        let have: Vec<String> = d
            .torrents("default")
            .await
            .iter()
            .map(|t| t["hash"].as_str().unwrap().to_owned())
            .collect();
        if have.contains(&hash["ng-s01e04"]) {
            Ok(have)
        } else {
            Err(format!("{have:?}"))
        }
    })
    .await;
    let mut have = have;
    have.sort();
    let mut expect = vec![hash["ng-s01e02"].clone(), hash["ng-s01e04"].clone()];
    expect.sort();
    assert_eq!(have, expect, "nothing grabbed twice across the restart");
    let downloads = |name: &str| {
        srv.with(|s| {
            s.seen
                .iter()
                .filter(|(p, _)| p == &format!("/t/{name}.torrent"))
                .count()
        })
    };
    assert_eq!(downloads("ng-s01e01"), 1);
    assert_eq!(downloads("ng-s01e02-repack"), 0);
    assert_eq!(downloads("ng-s01e05"), 0);

    // An Atom feed: the enclosure link (relative to the feed's URL).
    let aid = add_feed(
        &d,
        json!({"url": srv.url("/releases.atom"), "profile": "default", "name": "Releases"}),
    )
    .await;
    let v = refresh(&d, &aid).await;
    assert_eq!(
        (v["items"].clone(), v["name"].clone()),
        (json!(2), json!("Releases")),
        "{v}"
    );
    ok(
        d.post_json(
            "/api/rss/rules",
            &json!({"name": "Distro", "profile": "default", "feeds": [aid], "include": "distro 24"}),
        )
        .await,
        "atom rule",
    );
    wait_torrent(&d, &hash["distro-24.04.2"], "the Atom grab").await;
    assert_eq!(downloads("distro-23.10"), 0);

    // A Torznab feed: the magnet link of the item under 2 GiB.
    let tid = add_feed(
        &d,
        json!({"url": srv.url("/torznab.xml"), "profile": "default"}),
    )
    .await;
    refresh(&d, &tid).await;
    ok(
        d.post_json(
            "/api/rss/rules",
            &json!({"name": "Night Garden from the indexer", "profile": "default", "feeds": [tid], "include": "night garden", "max_size": 2u64 << 30}),
        )
        .await,
        "torznab rule",
    );
    wait_torrent(&d, &magnet1, "the magnet grab").await;
    assert!(
        !d.torrents("default")
            .await
            .iter()
            .any(|t| t["hash"] == magnet2.as_str()),
        "the 9 GiB item is outside the size range"
    );
    let dl_requests = srv.with(|s| s.seen.iter().filter(|(p, _)| p.starts_with("/dl/")).count());
    assert_eq!(
        dl_requests, 0,
        "the magnet is taken, not the indexer's download link"
    );

    // A feed answering 500 shows the error and is tried again by itself.
    srv.with(|s| s.broken = true);
    let kid = add_feed(
        &d,
        json!({"url": srv.url("/flaky.xml"), "profile": "default"}),
    )
    .await;
    let v = wait_for(20, "the feed's error", async || {
        let f = feed_view(&d, &kid).await;
        if f["error"].is_string() {
            Ok(f)
        } else {
            Err(f.to_string())
        }
    })
    .await;
    assert!(v["error"].as_str().unwrap().contains("500"), "{v}");
    assert!(v["last_ok"].is_null(), "{v}");
    srv.with(|s| s.broken = false);
    let v = wait_for(40, "the retried fetch", async || {
        let f = feed_view(&d, &kid).await;
        if f["error"].is_null() && f["last_ok"].is_string() {
            Ok(f)
        } else {
            Err(f.to_string())
        }
    })
    .await;
    assert_eq!(v["items"], 8, "{v}");
    assert!(
        srv.conditionals("/flaky.xml").len() >= 2,
        "fetched again after the failure"
    );

    // Deleting a feed disables a rule left without feeds.
    ok(
        d.delete(&format!("/api/rss/feeds/{aid}")).await,
        "delete feed",
    );
    let rules = ok(d.get("/api/rss/rules").await, "rules");
    let distro = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Distro")
        .unwrap();
    assert_eq!(
        (distro["enabled"].clone(), distro["feeds"].clone()),
        (json!(false), json!([]))
    );
}

/// Feeds and rules belong to profiles: users see and change only their profiles' ones, and a
/// non-administrator's feed may not reach private addresses (docs/security.md, "Fetches").
#[tokio::test(flavor = "multi_thread")]
async fn feeds_follow_profile_access_and_the_fetch_rule() {
    let tmp = tempdir("rss-access");
    let root = tmp.path();
    let srv = FeedServer::start().await;
    srv.with(|s| {
        let doc = fixture("showrss.xml").replace("{{BASE}}", &s.base);
        s.feeds.insert("/showrss.xml".into(), doc);
        s.torrents
            .insert("ng-s01e02.torrent".into(), torrent("ng-s01e02").0);
    });
    let d = Daemon::start_with_env(root, &[("PYTORRENT_AUTH_ENABLE", "true")]).await;
    let admin = Session {
        d: &d,
        cookie: login(&d, "admin", &first_admin_password(&d))
            .await
            .expect("admin login"),
    };
    let kids = root.join("kids");
    std::fs::create_dir_all(&kids).unwrap();
    use reqwest::Method;
    ok(
        admin
            .send(
                Method::POST,
                "/api/profiles",
                Some(json!({"id": "kids", "download_dir": kids})),
            )
            .await,
        "profile",
    );
    ok(
        admin
            .send(
                Method::POST,
                "/api/users",
                Some(json!({"username": "ann", "password": "ann-password-1", "role": "user", "permissions": {"kids": "full", "default": "ro"}})),
            )
            .await,
        "user",
    );
    let admin_feed = ok(
        admin
            .send(
                Method::POST,
                "/api/rss/feeds",
                Some(json!({"url": srv.url("/showrss.xml"), "profile": "default"})),
            )
            .await,
        "admin feed",
    );
    let afid = admin_feed["id"].as_str().unwrap().to_owned();
    let v = ok(
        admin
            .send(
                Method::POST,
                &format!("/api/rss/feeds/{afid}/refresh"),
                None,
            )
            .await,
        "admin refresh",
    );
    assert_eq!(
        v["error"],
        Value::Null,
        "an administrator's feed may be on loopback: {v}"
    );

    let ann = Session {
        d: &d,
        cookie: login(&d, "ann", "ann-password-1").await.expect("ann login"),
    };
    // Read-only on default: sees the feed, cannot change or refresh it.
    let listed = ok(ann.send(Method::GET, "/api/rss/feeds", None).await, "list");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (st, _) = ann
        .send(
            Method::PATCH,
            &format!("/api/rss/feeds/{afid}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = ann
        .send(
            Method::POST,
            "/api/rss/feeds",
            Some(json!({"url": srv.url("/showrss.xml"), "profile": "default"})),
        )
        .await;
    assert_eq!(st, 403);
    // Her own feed on kids, at the loopback server: refused by the fetch rule, with the
    // generic message, and the server never asked.
    let before = srv.with(|s| s.seen.len());
    let mine = ok(
        ann.send(
            Method::POST,
            "/api/rss/feeds",
            Some(json!({"url": srv.url("/showrss.xml"), "profile": "kids"})),
        )
        .await,
        "ann's feed",
    );
    let mid = mine["id"].as_str().unwrap().to_owned();
    let v = ok(
        ann.send(Method::POST, &format!("/api/rss/feeds/{mid}/refresh"), None)
            .await,
        "ann refresh",
    );
    assert_eq!(v["error"], "could not download a feed from this URL", "{v}");
    assert_eq!(
        srv.with(|s| s.seen.len()),
        before,
        "no request reached the server"
    );
    // A rule on kids may read the admin's feed she can see; on default (ro) she may not.
    let (st, body) = ann
        .send(
            Method::POST,
            "/api/rss/rules",
            Some(json!({"name": "x", "profile": "default", "feeds": [afid]})),
        )
        .await;
    assert_eq!(st, 403, "{body}");
    ok(
        ann.send(
            Method::POST,
            "/api/rss/rules",
            Some(json!({"name": "kids show", "profile": "kids", "feeds": [afid], "include": "S01E01"})),
        )
        .await,
        "ann's rule",
    );
    // Her rule's .torrent link is on loopback too: not fetched for her.
    let hist = wait_for(20, "the failed grab in the history", async || {
        let h = ok(
            ann.send(Method::GET, "/api/rss/history", None).await,
            "history",
        );
        if h.as_array().unwrap().is_empty() {
            Err(h.to_string())
        } else {
            Ok(h)
        }
    })
    .await;
    assert!(hist[0]["hash"].is_null(), "{hist}");
    assert_eq!(
        hist[0]["error"], "could not download a .torrent file from this URL",
        "{hist}"
    );
    // An administrator's rule on kids, switched on by her, stays the administrator's: its
    // loopback link is fetched.
    let admin_rule = ok(
        admin
            .send(
                Method::POST,
                "/api/rss/rules",
                Some(json!({"name": "admin's kids rule", "profile": "kids", "feeds": [afid], "include": "S01E02\\.1080p", "enabled": false})),
            )
            .await,
        "admin's rule",
    );
    let arid = admin_rule["id"].as_str().unwrap().to_owned();
    ok(
        ann.send(
            Method::PATCH,
            &format!("/api/rss/rules/{arid}"),
            Some(json!({"enabled": true})),
        )
        .await,
        "ann switches it on",
    );
    let grabbed = wait_for(20, "the admin rule's grab", async || {
        let h = ok(
            ann.send(Method::GET, &format!("/api/rss/history?rule={arid}"), None)
                .await,
            "history",
        );
        match h.as_array().unwrap().first() {
            Some(g) => Ok(g.clone()),
            None => Err(h.to_string()),
        }
    })
    .await;
    assert!(grabbed["hash"].is_string(), "{grabbed}");

    // A user without access to kids sees none of it.
    ok(
        admin
            .send(
                Method::POST,
                "/api/users",
                Some(json!({"username": "bob", "password": "bob-password-1", "role": "user", "permissions": {"default": "ro"}})),
            )
            .await,
        "bob",
    );
    let bob = Session {
        d: &d,
        cookie: login(&d, "bob", "bob-password-1").await.expect("bob login"),
    };
    let listed = ok(
        bob.send(Method::GET, "/api/rss/feeds", None).await,
        "bob's list",
    );
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (st, _) = bob
        .send(Method::GET, &format!("/api/rss/feeds/{mid}/items"), None)
        .await;
    assert_eq!(st, 404);
    assert_eq!(
        ok(
            bob.send(Method::GET, "/api/rss/rules", None).await,
            "bob's rules"
        ),
        json!([])
    );
    assert_eq!(
        ok(
            bob.send(Method::GET, "/api/rss/history", None).await,
            "bob's history"
        ),
        json!([])
    );
}

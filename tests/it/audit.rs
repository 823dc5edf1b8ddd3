//! The audit log (README "Audit log"): logins (failed ones too), user and grant changes,
//! profile changes, adds, moves, deletes with or without data, setting changes, through the
//! REST API, the qBittorrent API and the command line, each with the user, the client's
//! address, the time and the object; listed for administrators only, filtered and paged.

use reqwest::Method;
use serde_json::{Value, json};

use crate::faults::{Session, first_admin_password, login, synthetic_torrent};
use crate::util::*;

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn find<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["action"] == action).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_change_is_in_the_audit_log_for_admins() {
    let tmp = tempdir("audit");
    let root = tmp.path();
    let d = Daemon::start_with_env(root, &[("PYTORRENT_AUTH_ENABLE", "true")]).await;
    let pw = first_admin_password(&d);
    assert!(login(&d, "admin", "not-the-password").await.is_err());
    let s = Session {
        d: &d,
        cookie: login(&d, "admin", &pw).await.expect("admin login"),
    };
    let ok = |r: (u16, Value), what: &str| {
        assert!((200..300).contains(&r.0), "{what}: {r:?}");
        r.1
    };
    ok(
        s.send(Method::POST, "/api/users", Some(json!({"username": "eve", "password": "eve-password-1", "role": "user", "permissions": {"default": "ro"}}))).await,
        "create eve",
    );
    ok(
        s.send(
            Method::PATCH,
            "/api/users/eve",
            Some(json!({"permissions": {"default": "full"}})),
        )
        .await,
        "grant eve",
    );
    let tv = root.join("tv");
    std::fs::create_dir_all(&tv).unwrap();
    ok(
        s.send(
            Method::POST,
            "/api/profiles",
            Some(json!({"id": "tv", "download_dir": tv})),
        )
        .await,
        "profile",
    );
    ok(
        s.send(
            Method::PATCH,
            "/api/profiles/tv",
            Some(json!({"max_active_downloads": 2})),
        )
        .await,
        "profile update",
    );
    let (added, _) = s.upload("default", &synthetic_torrent("audited", 64)).await;
    let hash = ok(added, "add")["added"][0]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        s.send(
            Method::PATCH,
            &format!("/api/torrents/{hash}"),
            Some(json!({"profile": "tv"})),
        )
        .await,
        "move",
    );
    ok(
        s.send(
            Method::DELETE,
            &format!("/api/torrents/{hash}?delete_files=true"),
            None,
        )
        .await,
        "delete",
    );
    ok(
        s.send(
            Method::PATCH,
            "/api/settings",
            Some(json!({"speed": {"dl_limit": 1 << 20}})),
        )
        .await,
        "settings",
    );
    // The qBittorrent API and the command line.
    let qb = d.client();
    let r = qb
        .post(d.url("/api/v2/auth/login"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form(&[("username", "admin"), ("password", pw.as_str())]))
        .send()
        .await
        .unwrap();
    let sid = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("SID="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .expect("SID");
    let r = qb
        .post(d.url("/api/v2/torrents/createCategory"))
        .header(reqwest::header::COOKIE, &sid)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form(&[
            ("category", "films"),
            ("savePath", root.join("films").to_str().unwrap()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let out = crate::cli::run(
        root,
        &[
            "user",
            "reset-password",
            "eve",
            "eve-password-2",
            "--data-dir",
            d.data_dir.to_str().unwrap(),
        ],
        &[],
        30.0,
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");

    let (st, page) = s.send(Method::GET, "/api/audit?limit=500", None).await;
    assert_eq!(st, 200, "{page}");
    let all = page["entries"].as_array().cloned().unwrap_or_default();
    let one = |action: &str| -> Value {
        let v = find(&all, action);
        assert!(
            !v.is_empty(),
            "no {action} in {}",
            Value::Array(all.clone())
        );
        // The newest entry through the REST API (or through the one door it has).
        v.iter()
            .find(|e| e["via"] == "api")
            .copied()
            .unwrap_or(v[0])
            .clone()
    };
    let failed = one("login_failed");
    assert_eq!(
        (failed["target"].clone(), failed["ip"].clone()),
        (json!("admin"), json!("127.0.0.1"))
    );
    assert!(failed["user"].is_null());
    let by_admin =
        |e: &Value| e["user"] == "admin" && e["ip"] == "127.0.0.1" && e["at"].is_string();
    for (action, target) in [
        ("login", None),
        ("user_create", Some("eve")),
        ("user_update", Some("eve")),
        ("profile_create", Some("tv")),
        ("profile_update", Some("tv")),
        ("torrent_add", Some("default")),
        ("torrent_move", Some(hash.as_str())),
        ("torrent_delete", Some(hash.as_str())),
        ("settings_update", None),
    ] {
        let e = one(action);
        assert!(by_admin(&e), "{action}: {e}");
        if let Some(t) = target {
            let summary: Vec<String> = all
                .iter()
                .map(|e| format!("{} {} {}", e["action"], e["via"], e["target"]))
                .collect();
            assert_eq!(e["target"], t, "{action}: {e}\n{summary:#?}");
        }
    }
    assert_eq!(
        one("user_update")["detail"],
        "permissions",
        "a grant change says so"
    );
    assert_eq!(one("torrent_move")["detail"], "to tv");
    assert_eq!(one("torrent_delete")["detail"], "with data");
    assert_eq!(one("torrent_add")["detail"], json!(hash));
    assert_eq!(one("settings_update")["detail"], "speed");
    assert!(
        find(&all, "login")
            .iter()
            .any(|e| e["via"] == "qbittorrent"),
        "the qBittorrent login is recorded"
    );
    let cat = one("profile_create");
    let qb_cat = find(&all, "profile_create")
        .into_iter()
        .find(|e| e["via"] == "qbittorrent")
        .unwrap_or_else(|| panic!("createCategory not recorded: {cat}"));
    assert_eq!(qb_cat["target"], "films");
    let cli = one("user_reset_password");
    assert_eq!(
        (cli["via"].clone(), cli["target"].clone()),
        (json!("cli"), json!("eve"))
    );
    // No password anywhere in the log.
    let text = Value::Array(all.clone()).to_string();
    assert!(
        !text.contains("eve-password") && !text.contains(&pw),
        "{text}"
    );
    // Newest first.
    let ids: Vec<&str> = all.iter().filter_map(|e| e["id"].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);

    // Filters and pages.
    let (_, t) = s
        .send(Method::GET, "/api/audit?action=torrent_*", None)
        .await;
    let actions: Vec<&str> = t["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["torrent_delete", "torrent_move", "torrent_add"]);
    let (_, p1) = s
        .send(Method::GET, "/api/audit?user=admin&limit=2", None)
        .await;
    let next = p1["next"].as_str().expect("a next page").to_owned();
    let (_, p2) = s
        .send(
            Method::GET,
            &format!("/api/audit?user=admin&limit=2&before={next}"),
            None,
        )
        .await;
    let e1 = p1["entries"].as_array().unwrap();
    let e2 = p2["entries"].as_array().unwrap();
    assert_eq!((e1.len(), e2.len()), (2, 2));
    assert!(
        e2[0]["id"].as_str() < e1[1]["id"].as_str(),
        "the second page is older"
    );

    // Not for users.
    let eve = Session {
        d: &d,
        cookie: login(&d, "eve", "eve-password-2").await.expect("eve login"),
    };
    let (st, _) = eve.send(Method::GET, "/api/audit", None).await;
    assert_eq!(st, 403);
}

//! Roles and permissions: caller kinds × endpoint classes → exact statuses, plus the
//! `*` grant precedence, `GET /api/profiles` levels and the last-admin rule. Everything runs
//! against the real app with real .torrent files (paused, so nothing is downloaded).

use pytorrentd::access::{Level, Role};
use serde_json::json;

use crate::common::{Call, Inst, PW, make_torrent, pairs, profile_levels};

const BYPASS_HOST: &str = "10.11.1.11:8090";
const LAN_PEER: &str = "192.168.1.5";

/// How a caller authenticates.
#[derive(Clone)]
enum Auth {
    Bearer(String),
    ApiKey(String),
    Cookie(String),
    Bypass,
}

impl Auth {
    fn apply(&self, c: Call) -> Call {
        match self {
            Auth::Bearer(t) => c.bearer(t),
            Auth::ApiKey(t) => c.header("x-api-key", t),
            Auth::Cookie(v) => c.cookie(v),
            Auth::Bypass => c.peer(LAN_PEER).host(Some(BYPASS_HOST)),
        }
    }
}

fn with_bypass() -> [(&'static str, &'static str); 1] {
    [("PYTORRENT_AUTH_BYPASS_HOSTS", BYPASS_HOST)]
}

/// Adds a .torrent (multipart, paused) as `auth`; returns the response.
async fn add(inst: &Inst, auth: &Auth, profile: &str, torrent: &[u8]) -> crate::common::Resp {
    inst.send(
        auth.apply(
            Call::post(&format!("/api/profiles/{profile}/torrents"))
                .multipart(&[("t.torrent", torrent)], &[("paused", "true")]),
        ),
    )
    .await
}

/// The hashes the admin sees in a profile.
async fn hashes(inst: &Inst, admin: &Auth, profile: &str) -> Vec<String> {
    let r = inst
        .send(admin.apply(Call::get(&format!("/api/profiles/{profile}/torrents"))))
        .await;
    r.assert_status("admin lists torrents", 200);
    let mut v: Vec<String> = r
        .json
        .as_array()
        .expect("torrent list is an array")
        .iter()
        .map(|t| t["hash"].as_str().unwrap_or("?").to_owned())
        .collect();
    v.sort();
    v
}

/// One cell: the expected status and error code ("" for success).
type Cell = (u16, &'static str);

const COLUMNS: [&str; 9] = [
    "list",
    "details",
    "add",
    "action",
    "delete",
    "profile admin",
    "user list",
    "user create",
    "grant to u-full",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_matrix() {
    let inst = Inst::start(&with_bypass()).await;
    let payloads = inst.dir.path().join("payloads");
    inst.set_admin_password();
    inst.user("u-none", None, Role::User, &[]);
    inst.user("u-ro", None, Role::User, &[("default", Level::Ro)]);
    inst.user("u-full", Some(PW), Role::User, &[("default", Level::Full)]);
    let admin = Auth::Cookie(inst.login("admin", PW).await);
    let callers: Vec<(&str, Auth)> = vec![
        ("user none", Auth::Bearer(inst.token("u-none").1)),
        ("user ro", Auth::ApiKey(inst.token("u-ro").1)),
        ("user full", Auth::Cookie(inst.login("u-full", PW).await)),
        ("admin", admin.clone()),
        ("bypass", Auth::Bypass),
    ];

    let nf_profile: Cell = (404, "profile_not_found");
    let nf_torrent: Cell = (404, "torrent_not_found");
    let forbidden: Cell = (403, "forbidden");
    let expected: Vec<[Cell; 9]> = vec![
        // none: the profile does not exist for it; admin endpoints are forbidden
        [
            nf_profile, nf_torrent, nf_profile, nf_torrent, nf_torrent, forbidden, forbidden,
            forbidden, forbidden,
        ],
        // ro: reads only
        [
            (200, ""),
            (200, ""),
            forbidden,
            forbidden,
            forbidden,
            forbidden,
            forbidden,
            forbidden,
            forbidden,
        ],
        // full: reads and writes, no administration
        [
            (200, ""),
            (200, ""),
            (201, ""),
            (200, ""),
            (204, ""),
            forbidden,
            forbidden,
            forbidden,
            forbidden,
        ],
        // admin
        [
            (200, ""),
            (200, ""),
            (201, ""),
            (200, ""),
            (204, ""),
            (201, ""),
            (200, ""),
            (201, ""),
            (200, ""),
        ],
        // bypass
        [
            (200, ""),
            (200, ""),
            (201, ""),
            (200, ""),
            (204, ""),
            (201, ""),
            (200, ""),
            (201, ""),
            (200, ""),
        ],
    ];
    let expected_profiles: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("default", "ro")],
        vec![("default", "full")],
        vec![("default", "admin")],
        vec![("default", "admin")],
    ];

    // The shared target torrent, and one victim per caller for the delete column.
    let (t_bytes, target) = make_torrent(&payloads, "target.bin").await;
    add(&inst, &admin, "default", &t_bytes)
        .await
        .assert_status("admin adds the target", 201);
    let mut victims = Vec::new();
    let mut news = Vec::new();
    for (i, _) in callers.iter().enumerate() {
        let (b, h) = make_torrent(&payloads, &format!("victim-{i}.bin")).await;
        add(&inst, &admin, "default", &b)
            .await
            .assert_status("admin adds a victim", 201);
        victims.push(h);
        news.push(make_torrent(&payloads, &format!("new-{i}.bin")).await);
    }

    let mut failures = Vec::new();
    for (i, ((who, auth), want)) in callers.iter().zip(&expected).enumerate() {
        let profile_dir = inst.dir.path().join(format!("profile-{i}"));
        std::fs::create_dir_all(&profile_dir).unwrap();
        let calls: [Call; 9] = [
            Call::get("/api/profiles/default/torrents"),
            Call::get(&format!("/api/torrents/{target}")),
            Call::post("/api/profiles/default/torrents")
                .multipart(&[("new.torrent", &news[i].0)], &[("paused", "true")]),
            Call::post(&format!("/api/torrents/{target}/pause")),
            Call::delete(&format!("/api/torrents/{}", victims[i])),
            Call::post("/api/profiles").json(&json!({
                "id": format!("made-by-{i}"),
                "name": format!("Made by {who}"),
                "download_dir": profile_dir.to_string_lossy(),
                "max_active_downloads": 0,
            })),
            Call::get("/api/users"),
            Call::post("/api/users").json(&json!({
                "username": format!("made-by-{i}"),
                "role": "user",
            })),
            Call::patch("/api/users/u-full").json(&json!({"permissions": {"*": "full"}})),
        ];
        for ((col, call), (status, code)) in COLUMNS.iter().zip(calls).zip(want) {
            let r = inst.send(auth.apply(call)).await;
            let ok = r.status == *status && (code.is_empty() || r.code() == *code);
            if !ok {
                failures.push(format!(
                    "{who} × {col}: expected {status} {code}, got {}",
                    r.brief()
                ));
            }
            if *status == 201 && *col == "add" {
                let got = r.json["added"][0]["hash"].as_str().unwrap_or("?");
                if got != news[i].1 {
                    failures.push(format!("{who} × add: added {got}, expected {}", news[i].1));
                }
            }
        }
        // Refused writes changed nothing; allowed ones did what they said.
        let now = hashes(&inst, &admin, "default").await;
        let allowed_write = want[2].0 == 201;
        if now.contains(&news[i].1) != allowed_write {
            failures.push(format!(
                "{who}: new torrent present = {}, expected {allowed_write}",
                !allowed_write
            ));
        }
        if now.contains(&victims[i]) == allowed_write {
            failures.push(format!(
                "{who}: victim present = {allowed_write}, expected {}",
                !allowed_write
            ));
        }
        // GET /api/profiles: only visible profiles, each with the caller's level.
        let pr = inst.send(auth.apply(Call::get("/api/profiles"))).await;
        let mut got = profile_levels(&pr.json);
        got.retain(|(id, _)| !id.starts_with("made-by-"));
        if pr.status != 200 || got != pairs(&expected_profiles[i]) {
            failures.push(format!(
                "{who} × GET /api/profiles: expected {:?}, got {} {got:?}",
                expected_profiles[i], pr.status
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "permission matrix mismatches:\n  {}",
        failures.join("\n  ")
    );

    // Admin and bypass created profiles and users; they are real.
    let pr = inst.send(admin.apply(Call::get("/api/profiles"))).await;
    assert_eq!(
        profile_levels(&pr.json),
        pairs(&[
            ("default", "admin"),
            ("made-by-3", "admin"),
            ("made-by-4", "admin"),
        ]),
        "profiles after the matrix"
    );
    let users = inst.send(admin.apply(Call::get("/api/users"))).await;
    let mut names: Vec<&str> = users
        .json
        .as_array()
        .expect("users array")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "admin",
            "made-by-3",
            "made-by-4",
            "u-full",
            "u-none",
            "u-ro"
        ],
        "users after the matrix"
    );
}

/// A profile-specific grant beats `*`: `*`=ro, `default`=none sees `other` read-only and
/// nothing of `default` (not its listing, torrents, or stats).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn specific_grant_beats_star() {
    let inst = Inst::start(&[]).await;
    let (_, admin_tok) = inst.token("admin");
    let admin = Auth::Bearer(admin_tok);
    let other_dir = inst.dir.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    inst.send(admin.apply(Call::post("/api/profiles").json(&json!({
        "id": "other", "name": "Other", "download_dir": other_dir.to_string_lossy(),
        "max_active_downloads": 0,
    }))))
    .await
    .assert_status("create profile other", 201);
    let payloads = inst.dir.path().join("payloads");
    let (b, in_default) = make_torrent(&payloads, "d.bin").await;
    add(&inst, &admin, "default", &b)
        .await
        .assert_status("add to default", 201);
    let (b, in_other) = make_torrent(&payloads, "o.bin").await;
    add(&inst, &admin, "other", &b)
        .await
        .assert_status("add to other", 201);

    inst.user(
        "mixed",
        None,
        Role::User,
        &[("*", Level::Ro), ("default", Level::None)],
    );
    let me = Auth::Bearer(inst.token("mixed").1);

    let pr = inst.send(me.apply(Call::get("/api/profiles"))).await;
    pr.assert_status("profiles", 200);
    assert_eq!(profile_levels(&pr.json), pairs(&[("other", "ro")]));

    inst.send(me.apply(Call::get("/api/profiles/default/torrents")))
        .await
        .assert_error("list default", 404, "profile_not_found");
    inst.send(me.apply(Call::get(&format!("/api/torrents/{in_default}"))))
        .await
        .assert_error("details in default", 404, "torrent_not_found");
    inst.send(me.apply(Call::get(&format!("/api/torrents/{in_default}/files"))))
        .await
        .assert_error("files in default", 404, "torrent_not_found");
    inst.send(me.apply(Call::post(&format!("/api/torrents/{in_default}/pause"))))
        .await
        .assert_error("pause in default", 404, "torrent_not_found");

    let l = inst
        .send(me.apply(Call::get("/api/profiles/other/torrents")))
        .await;
    l.assert_status("list other", 200);
    assert_eq!(l.json.as_array().map(Vec::len), Some(1), "{}", l.text());
    inst.send(me.apply(Call::get(&format!("/api/torrents/{in_other}"))))
        .await
        .assert_status("details in other", 200);
    inst.send(me.apply(Call::post(&format!("/api/torrents/{in_other}/pause"))))
        .await
        .assert_error("pause in other (ro)", 403, "forbidden");

    let st = inst.send(me.apply(Call::get("/api/stats"))).await;
    st.assert_status("stats", 200);
    let ids: Vec<&str> = st.json["profiles"]
        .as_array()
        .expect("stats.profiles")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["other"],
        "stats list only visible profiles: {}",
        st.text()
    );
}

/// The last active admin can be neither deleted nor demoted; with a second admin it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_admin_is_protected() {
    let inst = Inst::start(&with_bypass()).await;
    let admin = Auth::Bearer(inst.token("admin").1);

    for (who, auth) in [("admin", &admin), ("bypass", &Auth::Bypass)] {
        inst.send(auth.apply(Call::delete("/api/users/admin")))
            .await
            .assert_error(&format!("{who} deletes the last admin"), 409, "last_admin");
        inst.send(auth.apply(Call::patch("/api/users/admin").json(&json!({"role": "user"}))))
            .await
            .assert_error(&format!("{who} demotes the last admin"), 409, "last_admin");
    }
    let me = inst.send(admin.apply(Call::get("/api/auth/me"))).await;
    assert_eq!(
        (me.status, me.json["role"].as_str()),
        (200, Some("admin")),
        "admin is still admin: {}",
        me.text()
    );

    // A second admin makes demotion possible; then that one is the last.
    inst.send(admin.apply(Call::post("/api/users").json(&json!({
        "username": "root2", "password": PW, "role": "admin",
    }))))
    .await
    .assert_status("create root2", 201);
    let root2 = Auth::Bearer(inst.token("root2").1);
    let r = inst
        .send(root2.apply(Call::patch("/api/users/admin").json(&json!({"role": "user"}))))
        .await;
    r.assert_status("demote admin with another admin present", 200);
    assert_eq!(r.json["role"], "user", "{}", r.text());
    inst.send(root2.apply(Call::delete("/api/users/root2")))
        .await
        .assert_error("root2 deletes itself, the last admin", 409, "last_admin");
    inst.send(root2.apply(Call::patch("/api/users/root2").json(&json!({"role": "user"}))))
        .await
        .assert_error("root2 demotes itself, the last admin", 409, "last_admin");
    // The demoted admin lost its rights at once.
    inst.send(admin.apply(Call::get("/api/users")))
        .await
        .assert_error("demoted admin lists users", 403, "forbidden");
    // And the former admin can now be deleted.
    inst.send(root2.apply(Call::delete("/api/users/admin")))
        .await
        .assert_status("delete the demoted admin", 204);
    inst.send(admin.apply(Call::get("/api/auth/me")))
        .await
        .assert_error("deleted user's token", 401, "unauthorized");
}

//! The file routes (docs/files.md) under the permission model: `ro` reads files and exports
//! and cannot create or browse; a user without access to the profile sees nothing (404).

use pytorrentd::access::{Level, Role};
use serde_json::json;

use crate::common::{Call, Inst, PW};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_routes_follow_the_profile_levels() {
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    inst.user("reader", Some(PW), Role::User, &[("default", Level::Ro)]);
    inst.user("stranger", Some(PW), Role::User, &[]);
    let admin = inst.session("admin");
    let hash = "c".repeat(40);
    inst.send(
        Call::post("/api/profiles/default/torrents")
            .cookie(&admin)
            .json(&json!({"magnet": format!("magnet:?xt=urn:btih:{hash}"), "paused": true})),
    )
    .await
    .assert_status("add", 201);
    let reader = inst.session("reader");
    let stranger = inst.session("stranger");
    let reads = [
        format!("/api/torrents/{hash}/files/0/content"),
        format!("/api/torrents/{hash}/archive"),
        format!("/api/torrents/{hash}/torrent"),
    ];
    for path in &reads {
        // The reader gets past the permission check (the magnet has no metadata yet).
        let r = inst.send(Call::get(path).cookie(&reader)).await;
        assert_eq!(r.status, 409, "reader {path}: {}", r.brief());
        inst.send(Call::get(path).cookie(&stranger))
            .await
            .assert_error(&format!("stranger {path}"), 404, "torrent_not_found");
    }
    let create = Call::post("/api/profiles/default/create-torrent").json(&json!({"path": "x"}));
    inst.send(create.clone().cookie(&reader))
        .await
        .assert_error("reader creates", 403, "forbidden");
    inst.send(create.cookie(&stranger)).await.assert_error(
        "stranger creates",
        404,
        "profile_not_found",
    );
    inst.send(Call::get("/api/profiles/default/browse").cookie(&reader))
        .await
        .assert_error("reader browses", 403, "forbidden");
    inst.send(Call::get("/api/profiles/default/browse").cookie(&stranger))
        .await
        .assert_error("stranger browses", 404, "profile_not_found");
    inst.send(Call::get("/api/profiles/default/browse").cookie(&admin))
        .await
        .assert_status("admin browses", 200);
}

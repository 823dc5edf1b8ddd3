//! The caller's own account (`/api/me/...`) over the real app: the generated-password flag,
//! self-service password change (keeps the current session, ends the others), own sessions
//! (list, revoke one, revoke the others), per-user preferences; and an admin setting their
//! own password through `PATCH /api/users/{name}` stays signed in.

use pytorrentd::access::{Level, Role};
use serde_json::json;

use crate::common::{Call, Inst, PW};

async fn status_with(inst: &Inst, cookie: &str) -> u16 {
    inst.send(Call::get("/api/auth/me").cookie(cookie))
        .await
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_admin_password_is_flagged_until_changed() {
    let inst = Inst::start(&[]).await;
    let c = inst.session("admin");
    let r = inst.send(Call::get("/api/me").cookie(&c)).await;
    r.assert_status("me", 200);
    assert_eq!(r.json["username"], "admin");
    assert_eq!(r.json["password_change_required"], true, "{}", r.text());
    assert_eq!(r.json["can_change_password"], true);
    assert_eq!(r.json["current_session"].as_str().map(str::len), Some(16));
    // Any password change clears the flag (here the store path the CLI and admins use).
    inst.set_admin_password();
    let c = inst.session("admin");
    let r = inst.send(Call::get("/api/me").cookie(&c)).await;
    assert_eq!(r.json["password_change_required"], false, "{}", r.text());
    // Other users never carry it.
    inst.user("ann", Some(PW), Role::User, &[]);
    let c = inst.session("ann");
    let r = inst.send(Call::get("/api/me").cookie(&c)).await;
    assert_eq!(r.json["password_change_required"], false);
    let r = inst.send(Call::get("/api/me")).await;
    r.assert_error("no credentials", 401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_password_change_keeps_this_session_and_ends_the_others() {
    let inst = Inst::start(&[]).await;
    inst.user("alice", Some(PW), Role::User, &[("default", Level::Full)]);
    let here = inst.login("alice", PW).await;
    let there = inst.login("alice", PW).await;
    let (_, token) = inst.token("alice");
    let change = |cur: &str, new: &str| {
        Call::post("/api/me/password").json(&json!({"current_password": cur, "new_password": new}))
    };

    // Bad input changes nothing.
    let r = inst
        .send(change("wrong password!", "a new password").cookie(&here))
        .await;
    r.assert_error("wrong current password", 403, "wrong_password");
    let r = inst.send(change(PW, "short").cookie(&here)).await;
    r.assert_error("too short", 400, "invalid_password");
    let r = inst.send(change(PW, PW).cookie(&here)).await;
    r.assert_error("same password", 400, "invalid_password");
    let r = inst
        .send(
            Call::post("/api/me/password")
                .json(&json!({"current_password": PW, "new_password": "a new password", "x": 1}))
                .cookie(&here),
        )
        .await;
    r.assert_error("unknown field", 400, "invalid_json");
    let r = inst
        .send(change(&"x".repeat(5000), "a new password").cookie(&here))
        .await;
    r.assert_error("absurd current password", 403, "wrong_password");
    assert_eq!(status_with(&inst, &there).await, 200, "nothing revoked yet");

    let r = inst.send(change(PW, "a new password").cookie(&here)).await;
    r.assert_status("change", 200);
    assert_eq!(r.json["revoked_sessions"], 1, "{}", r.text());
    assert_eq!(status_with(&inst, &here).await, 200, "this session stays");
    assert_eq!(status_with(&inst, &there).await, 401, "the other one ends");
    let r = inst.send(Call::get("/api/auth/me").bearer(&token)).await;
    r.assert_status("API tokens are not sessions", 200);
    let r = inst
        .send(Call::post("/api/auth/login").json(&json!({"username": "alice", "password": PW})))
        .await;
    r.assert_error("old password", 401, "unauthorized");
    inst.login("alice", "a new password").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_without_a_local_password_cannot_change_one() {
    let inst = Inst::start(&[]).await;
    inst.user("proxied", None, Role::User, &[]);
    let (_, token) = inst.token("proxied");
    let r = inst.send(Call::get("/api/me").bearer(&token)).await;
    assert_eq!(r.json["can_change_password"], false, "{}", r.text());
    assert!(r.json["current_session"].is_null());
    let r = inst
        .send(
            Call::post("/api/me/password")
                .json(&json!({"current_password": "whatever1", "new_password": "a new password"}))
                .bearer(&token),
        )
        .await;
    r.assert_error("external user", 409, "no_local_password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_sessions_are_listed_and_revoked() {
    let inst = Inst::start(&[]).await;
    inst.user("bob", Some(PW), Role::User, &[]);
    inst.user("eve", Some(PW), Role::User, &[]);
    let a = inst.session("bob");
    let b = inst.session("bob");
    let c = inst.session("bob");
    let eve = inst.session("eve");

    let r = inst.send(Call::get("/api/me/sessions").cookie(&a)).await;
    r.assert_status("list", 200);
    let list = r.json.as_array().expect("array").clone();
    assert_eq!(list.len(), 3, "{}", r.text());
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let other = list
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .expect("another session")
        .to_owned();

    // Someone else's session is not ours to see or end.
    let eve_list = inst.send(Call::get("/api/me/sessions").cookie(&eve)).await;
    let eve_id = eve_list.json[0]["id"]
        .as_str()
        .expect("eve's id")
        .to_owned();
    let r = inst
        .send(Call::delete(&format!("/api/me/sessions/{eve_id}")).cookie(&a))
        .await;
    r.assert_error("eve's session", 404, "session_not_found");
    assert_eq!(status_with(&inst, &eve).await, 200);
    for bad in ["zz", "0123456789abcdefg", "short"] {
        let r = inst
            .send(Call::delete(&format!("/api/me/sessions/{bad}")).cookie(&a))
            .await;
        r.assert_error(bad, 400, "invalid_session_id");
    }
    let r = inst
        .send(Call::delete("/api/me/sessions/0000000000000000").cookie(&a))
        .await;
    r.assert_error("unknown", 404, "session_not_found");

    let r = inst
        .send(Call::delete(&format!("/api/me/sessions/{other}")).cookie(&a))
        .await;
    r.assert_status("revoke one", 204);
    let alive = [status_with(&inst, &b).await, status_with(&inst, &c).await];
    assert_eq!(alive.iter().filter(|s| **s == 401).count(), 1, "{alive:?}");
    assert_eq!(status_with(&inst, &a).await, 200);

    let r = inst.send(Call::delete("/api/me/sessions").cookie(&a)).await;
    r.assert_status("revoke the others", 200);
    assert_eq!(r.json["revoked_sessions"], 1, "{}", r.text());
    assert_eq!(status_with(&inst, &a).await, 200);
    assert_eq!(status_with(&inst, &b).await, 401);
    assert_eq!(status_with(&inst, &c).await, 401);
    assert_eq!(status_with(&inst, &eve).await, 200, "other users untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_are_per_user_bounded_objects() {
    let inst = Inst::start(&[]).await;
    inst.user("carol", Some(PW), Role::User, &[]);
    inst.user("dave", Some(PW), Role::User, &[]);
    let carol = inst.session("carol");
    let dave = inst.session("dave");
    let get = |c: &str| Call::get("/api/me/preferences").cookie(c);
    let put = |c: &str, v: serde_json::Value| {
        Call::new(http::Method::PUT, "/api/me/preferences")
            .json(&v)
            .cookie(c)
    };

    let r = inst.send(get(&carol)).await;
    r.assert_status("empty", 200);
    assert_eq!(r.json, json!({}));
    let prefs = json!({"cols": {"hidden": ["eta"], "order": ["name", "size"], "widths": {"name": 420}}, "sort": {"col": "size", "desc": true}});
    inst.send(put(&carol, prefs.clone()))
        .await
        .assert_status("put", 200);
    assert_eq!(inst.send(get(&carol)).await.json, prefs);
    assert_eq!(inst.send(get(&dave)).await.json, json!({}), "per user");

    // Bad input: a clear 4xx, and the stored value stays.
    inst.send(put(&carol, json!([1, 2])))
        .await
        .assert_error("array", 400, "invalid_preferences");
    let many: serde_json::Map<String, serde_json::Value> =
        (0..65).map(|i| (format!("k{i}"), json!(i))).collect();
    inst.send(put(&carol, serde_json::Value::Object(many)))
        .await
        .assert_error("too many keys", 400, "invalid_preferences");
    inst.send(put(&carol, json!({"big": "x".repeat(17 * 1024)})))
        .await
        .assert_error("too large", 413, "preferences_too_large");
    let mut raw = Call::new(http::Method::PUT, "/api/me/preferences").cookie(&carol);
    raw.body = b"{\"a\":".to_vec();
    let r = inst
        .send(raw.header("content-type", "application/json"))
        .await;
    r.assert_error("malformed", 400, "invalid_json");
    let mut text = Call::new(http::Method::PUT, "/api/me/preferences").cookie(&carol);
    text.body = b"{}".to_vec();
    let r = inst.send(text.header("content-type", "text/plain")).await;
    r.assert_error("not JSON", 415, "unsupported_media_type");
    assert_eq!(inst.send(get(&carol)).await.json, prefs, "unchanged");
    let r = inst.send(Call::get("/api/me/preferences")).await;
    r.assert_error("anonymous", 401, "unauthorized");

    // Deleting the user deletes them; a new user of that name starts empty.
    let admin = inst.session("admin");
    inst.send(Call::delete("/api/users/carol").cookie(&admin))
        .await
        .assert_status("delete carol", 204);
    inst.user("carol", Some(PW), Role::User, &[]);
    let carol = inst.session("carol");
    assert_eq!(inst.send(get(&carol)).await.json, json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_setting_their_own_password_stays_signed_in() {
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    inst.user("frank", Some(PW), Role::User, &[]);
    let here = inst.session("admin");
    let there = inst.session("admin");
    let frank = inst.session("frank");
    let r = inst
        .send(
            Call::patch("/api/users/admin")
                .json(&json!({"password": "another admin password"}))
                .cookie(&here),
        )
        .await;
    r.assert_status("own password", 200);
    assert_eq!(
        status_with(&inst, &here).await,
        200,
        "the admin stays signed in"
    );
    assert_eq!(status_with(&inst, &there).await, 401, "other sessions end");
    // Someone else's password: all of their sessions end, as before.
    let r = inst
        .send(
            Call::patch("/api/users/frank")
                .json(&json!({"password": "frank's new password"}))
                .cookie(&here),
        )
        .await;
    r.assert_status("frank's password", 200);
    assert_eq!(status_with(&inst, &frank).await, 401);
}

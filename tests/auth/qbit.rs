//! The qBittorrent API's door (docs/qbittorrent.md) goes through the same auth stack: its
//! login shares the password check, the brute-force ban and the sessions of the REST login;
//! tokens, proxy headers and the LAN bypass work without a login; the Host and origin checks
//! apply. (The API's behaviour with real clients is tested by tests/qbittorrent/.)

use pytorrentd::access::{Level, Role};

use crate::common::{Call, Inst, PW, Resp};

fn form(path: &str, fields: &[(&str, &str)]) -> Call {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut c = Call::post(path).header("content-type", "application/x-www-form-urlencoded");
    c.body = body.into_bytes();
    c
}

fn qlogin(user: &str, password: &str) -> Call {
    form(
        "/api/v2/auth/login",
        &[("username", user), ("password", password)],
    )
}

fn sid(r: &Resp) -> String {
    let c = r
        .set_cookie()
        .unwrap_or_else(|| panic!("no Set-Cookie: {}", r.brief()));
    let v = c
        .strip_prefix("SID=")
        .unwrap_or_else(|| panic!("not the SID cookie: {c}"));
    v.split(';').next().unwrap_or_default().to_owned()
}

fn info() -> Call {
    Call::get("/api/v2/torrents/info")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qbittorrent_login_shares_the_ban_and_the_sessions() {
    let inst = Inst::start(&[
        ("PYTORRENT_LOGIN_MAX_FAILURES", "3"),
        ("PYTORRENT_LOGIN_BAN_SECONDS", "30"),
    ])
    .await;
    inst.set_admin_password();
    let attacker = "192.0.2.7";
    for i in 1..=3 {
        let r = inst
            .send(qlogin("admin", "wrong password").peer(attacker))
            .await;
        assert_eq!(
            (r.status, r.text()),
            (200, "Fails.".to_owned()),
            "failure {i}"
        );
        assert!(r.set_cookie().is_none(), "a failed login sets no cookie");
    }
    // The ban counts for both doors: the REST login is banned too, and the qBittorrent
    // login answers qBittorrent's 403.
    inst.send(
        Call::post("/api/auth/login")
            .peer(attacker)
            .json(&serde_json::json!({"username": "admin", "password": PW})),
    )
    .await
    .assert_error("REST login while banned", 429, "too_many_attempts");
    let r = inst.send(qlogin("admin", PW).peer(attacker)).await;
    assert_eq!(r.status, 403, "{}", r.brief());
    assert!(r.text().contains("banned"), "{}", r.text());

    // Another address logs in: SID is an ordinary session.
    let r = inst.send(qlogin("admin", PW).peer("192.0.2.8")).await;
    assert_eq!((r.status, r.text()), (200, "Ok.".to_owned()));
    let cookie = r.set_cookie().unwrap_or_default().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    let s = sid(&r);
    let with_sid = |c: Call| c.header("cookie", format!("SID={s}"));
    inst.send(with_sid(info()))
        .await
        .assert_status("info with SID", 200);
    inst.send(with_sid(Call::get("/api/auth/me")))
        .await
        .assert_status("REST with SID", 200);
    // Logged in already: another login answers Ok. without checking anything.
    let again = inst.send(with_sid(qlogin("admin", "anything"))).await;
    assert_eq!(again.text(), "Ok.");
    // Logout ends it for both doors.
    inst.send(with_sid(form("/api/v2/auth/logout", &[])))
        .await
        .assert_status("logout", 200);
    let r = inst.send(with_sid(info())).await;
    assert_eq!((r.status, r.text()), (403, "Forbidden".to_owned()));
    inst.send(with_sid(Call::get("/api/auth/me")))
        .await
        .assert_error("REST after logout", 401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qbittorrent_api_follows_the_resolver() {
    // Local logins: nothing → 403; a token → in; a GET for a changing action → 405.
    let inst = Inst::start(&[]).await;
    inst.user("alice", Some(PW), Role::User, &[("default", Level::Full)]);
    let r = inst.send(info()).await;
    assert_eq!((r.status, r.text()), (403, "Forbidden".to_owned()));
    let (_, token) = inst.token("alice");
    inst.send(info().bearer(&token))
        .await
        .assert_status("token", 200);
    let r = inst
        .send(Call::get("/api/v2/torrents/pause?hashes=all").bearer(&token))
        .await;
    assert_eq!(r.status, 405, "{}", r.brief());
    // A page of another site cannot make a logged-in browser act.
    inst.send(
        form("/api/v2/torrents/pause", &[("hashes", "all")])
            .bearer(&token)
            .header("origin", "https://evil.example"),
    )
    .await
    .assert_error("cross-site POST", 403, "origin_rejected");
    // The *arr apps send no Origin or Referer: that passes.
    inst.send(form("/api/v2/torrents/pause", &[("hashes", "all")]).bearer(&token))
        .await
        .assert_status("POST without Origin", 200);
    // The Host check: an unknown name is refused before anything else.
    let r = inst
        .send(info().bearer(&token).host(Some("rebind.example")))
        .await;
    assert_eq!(r.status, 421, "{}", r.brief());
    inst.stop().await;

    // A proxy user header from a trusted proxy needs no login; from anyone else it is ignored.
    let inst = Inst::start(&[
        ("PYTORRENT_AUTH_PROVIDER", "proxy"),
        ("PYTORRENT_AUTH_PROXY_USER_HEADER", "X-Forwarded-User"),
    ])
    .await;
    inst.user("ext", None, Role::User, &[("*", Level::Full)]);
    let r = inst
        .send(info().peer("127.0.0.1").header("X-Forwarded-User", "ext"))
        .await;
    r.assert_status("trusted proxy header", 200);
    let r = inst
        .send(
            qlogin("", "")
                .peer("127.0.0.1")
                .header("X-Forwarded-User", "ext"),
        )
        .await;
    assert_eq!(r.text(), "Ok.", "login through the proxy");
    let r = inst
        .send(info().peer("192.0.2.9").header("X-Forwarded-User", "ext"))
        .await;
    assert_eq!(r.status, 403, "untrusted peer: {}", r.brief());
    let r = inst.send(qlogin("ext", "x").peer("192.0.2.9")).await;
    assert_eq!(
        r.text(),
        "Fails.",
        "no password login with an external provider"
    );
    inst.stop().await;

    // The LAN bypass: no login at all.
    let inst = Inst::start(&[("PYTORRENT_AUTH_BYPASS_HOSTS", "10.11.1.11:8090")]).await;
    let r = inst
        .send(info().peer("10.11.1.50").host(Some("10.11.1.11:8090")))
        .await;
    r.assert_status("bypass", 200);
    let r = inst
        .send(
            qlogin("", "")
                .peer("10.11.1.50")
                .host(Some("10.11.1.11:8090")),
        )
        .await;
    assert_eq!(r.text(), "Ok.");
    inst.stop().await;
}

//! Local sessions, logout, revocation, brute-force protection, external-provider
//! login/logout behaviour, page loads, security headers and API tokens — over the real app.

use std::time::{Duration, Instant};

use pytorrentd::access::{Level, Role};
use serde_json::json;

use crate::common::{Call, Inst, PW, Resp, phase, poll};

fn login_call(user: &str, password: &str) -> Call {
    Call::post("/api/auth/login").json(&json!({"username": user, "password": password}))
}

/// Cookie attributes after the `name=value` pair, trimmed.
fn cookie_attrs(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .collect()
}

fn has_attr(attrs: &[String], want: &str) -> bool {
    attrs.iter().any(|a| a.eq_ignore_ascii_case(want))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_flags() {
    for (secure, vars) in [
        (false, vec![]),
        (true, vec![("PYTORRENT_SESSION_COOKIE_SECURE", "true")]),
    ] {
        let inst = Inst::start(&vars).await;
        inst.set_admin_password();
        let r = inst.send(login_call("admin", PW)).await;
        r.assert_status("login", 200);
        assert_eq!(
            (r.json["username"].as_str(), r.json["role"].as_str()),
            (Some("admin"), Some("admin")),
            "{}",
            r.text()
        );
        let sc = r.set_cookie().expect("Set-Cookie on login").to_owned();
        assert_eq!(
            r.headers.get_all("set-cookie").iter().count(),
            1,
            "one cookie"
        );
        let value = r.session_cookie().expect("pytorrent_session cookie");
        // ≥128 bits of randomness: at least 32 hex digits (or 22 base64 characters).
        assert!(
            value.len() >= 32
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)),
            "opaque token of at least 128 bits expected, got {value:?}"
        );
        let attrs = cookie_attrs(&sc);
        for want in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(has_attr(&attrs, want), "{want} missing in {sc:?}");
        }
        assert_eq!(
            has_attr(&attrs, "Secure"),
            secure,
            "Secure iff PYTORRENT_SESSION_COOKIE_SECURE ({secure}): {sc:?}"
        );
        // The cookie is the session.
        let me = inst.send(Call::get("/api/auth/me").cookie(&value)).await;
        me.assert_status("me with the cookie", 200);
        assert_eq!(me.json["username"], "admin");
        assert_eq!(me.json["logout_available"], true, "{}", me.text());
        assert_eq!(me.json["provider"], "local");
    }
}

/// Every login issues a new token (no fixation): two logins give two working cookies, and a
/// cookie presented at login is never adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_token_per_login() {
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    let a = inst.login("admin", PW).await;
    let b = inst.login("admin", PW).await;
    assert_ne!(a, b, "two logins must give two tokens");
    for (n, c) in [("first", &a), ("second", &b)] {
        inst.send(Call::get("/api/auth/me").cookie(c))
            .await
            .assert_status(&format!("{n} cookie"), 200);
    }
    // A planted cookie value is not adopted.
    let planted = "a".repeat(64);
    let r = inst.send(login_call("admin", PW).cookie(&planted)).await;
    r.assert_status("login with a planted cookie", 200);
    let issued = r.session_cookie().expect("cookie");
    assert_ne!(issued, planted, "login adopted the presented cookie value");
    inst.send(Call::get("/api/auth/me").cookie(&planted))
        .await
        .assert_error("planted cookie", 401, "unauthorized");
    // Logging in while logged in also rotates.
    let r = inst.send(login_call("admin", PW).cookie(&a)).await;
    r.assert_status("login while logged in", 200);
    assert_ne!(
        r.session_cookie().expect("cookie"),
        a,
        "session not rotated"
    );
}

/// Session cookies and token secrets are not in the redb file in clear; the session
/// survives a restart (it is stored, with its expiry).
#[test]
fn secrets_not_stored_in_clear() {
    const MARKER: &str = "marker-token-name-5f3a";
    let (dir, cookie, secret) = phase(async {
        let inst = Inst::start(&[]).await;
        inst.set_admin_password();
        let cookie = inst.login("admin", PW).await;
        let t = inst
            .send(
                Call::post("/api/tokens")
                    .cookie(&cookie)
                    .json(&json!({"name": MARKER})),
            )
            .await;
        t.assert_status("create token", 201);
        let secret = t.json["token"].as_str().expect("token secret").to_owned();
        (inst.stop().await, cookie, secret)
    });
    let db = dir.path().join("data").join("pytorrentd.redb");
    let bytes = std::fs::read(&db).unwrap_or_else(|e| panic!("read {db:?}: {e}"));
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(MARKER.as_bytes()),
        "scan sanity: the token's name should be visible in {db:?}"
    );
    assert!(
        !contains(cookie.as_bytes()),
        "the session cookie value is stored in clear in {db:?}"
    );
    assert!(
        !contains(secret.as_bytes()),
        "the API token secret is stored in clear in {db:?}"
    );
    // Secrets without their prefix, and upper-case hex, are not there either.
    let bare = secret.trim_start_matches("pt_");
    assert!(
        !contains(bare.as_bytes()),
        "token secret body stored in clear"
    );
    assert!(
        !contains(cookie.to_ascii_uppercase().as_bytes()),
        "cookie stored in clear (upper case)"
    );

    phase(async {
        let inst = Inst::start_at(dir, &[]).await;
        inst.send(Call::get("/api/auth/me").cookie(&cookie))
            .await
            .assert_status("session after restart", 200);
        inst.send(Call::get("/api/auth/me").bearer(&secret))
            .await
            .assert_status("token after restart", 200);
        drop(inst);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_the_session() {
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    for method in ["POST", "GET"] {
        let cookie = inst.login("admin", PW).await;
        let call = if method == "POST" {
            Call::post("/logout")
        } else {
            Call::get("/logout")
        };
        let r = inst.send(call.cookie(&cookie)).await;
        r.assert_status(&format!("{method} /logout"), 302);
        assert_eq!(r.header("location"), Some("/login"), "{method} /logout");
        inst.send(Call::get("/api/auth/me").cookie(&cookie))
            .await
            .assert_error(
                &format!("cookie after {method} /logout"),
                401,
                "unauthorized",
            );
        inst.send(Call::get("/").cookie(&cookie))
            .await
            .assert_status(&format!("page after {method} /logout"), 302);
    }
    // Without a session it is still a harmless redirect to the login page.
    let r = inst.send(Call::post("/logout")).await;
    r.assert_status("logout without a session", 302);
    assert_eq!(r.header("location"), Some("/login"));
}

/// `PATCH /api/users/{name} {"password"}` revokes every session of that user (not others').
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_revokes_sessions() {
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    inst.user("bob", Some(PW), Role::User, &[("default", Level::Ro)]);
    let admin = inst.login("admin", PW).await;
    let bob1 = inst.login("bob", PW).await;
    let bob2 = inst.login("bob", PW).await;
    let new_pw = "a brand new password";
    let r = inst
        .send(
            Call::patch("/api/users/bob")
                .cookie(&admin)
                .json(&json!({"password": new_pw})),
        )
        .await;
    r.assert_status("reset bob's password", 200);
    for (n, c) in [("first", &bob1), ("second", &bob2)] {
        inst.send(Call::get("/api/auth/me").cookie(c))
            .await
            .assert_error(
                &format!("bob's {n} session after reset"),
                401,
                "unauthorized",
            );
    }
    inst.send(Call::get("/api/auth/me").cookie(&admin))
        .await
        .assert_status("admin's session is untouched", 200);
    inst.send(login_call("bob", PW).peer("192.0.2.50"))
        .await
        .assert_error("old password", 401, "unauthorized");
    let fresh = inst.login("bob", new_pw).await;
    inst.send(Call::get("/api/auth/me").cookie(&fresh))
        .await
        .assert_status("bob with the new password", 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_revokes_sessions_and_tokens() {
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    inst.user("bob", Some(PW), Role::User, &[("default", Level::Full)]);
    let admin = inst.login("admin", PW).await;
    let bob = inst.login("bob", PW).await;
    let (_, bob_token) = inst.token("bob");
    inst.send(Call::get("/api/auth/me").bearer(&bob_token))
        .await
        .assert_status("bob's token before", 200);
    inst.send(Call::delete("/api/users/bob").cookie(&admin))
        .await
        .assert_status("delete bob", 204);
    inst.send(Call::get("/api/auth/me").cookie(&bob))
        .await
        .assert_error("bob's session after deletion", 401, "unauthorized");
    inst.send(Call::get("/api/auth/me").bearer(&bob_token))
        .await
        .assert_error("bob's token after deletion", 401, "unauthorized");
    inst.send(login_call("bob", PW).peer("192.0.2.51"))
        .await
        .assert_error("bob logs in after deletion", 401, "unauthorized");
    // Re-creating the name does not resurrect the old session.
    inst.user("bob", Some(PW), Role::User, &[]);
    inst.send(Call::get("/api/auth/me").cookie(&bob))
        .await
        .assert_error("old session of a re-created bob", 401, "unauthorized");
}

fn retry_after(r: &Resp) -> u64 {
    r.header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", r.headers))
        .parse()
        .unwrap_or_else(|e| panic!("Retry-After not seconds: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_ban() {
    let inst = Inst::start(&[
        ("PYTORRENT_LOGIN_MAX_FAILURES", "3"),
        ("PYTORRENT_LOGIN_BAN_SECONDS", "2"),
    ])
    .await;
    inst.set_admin_password();
    let attacker = "192.0.2.7";
    for i in 1..=3 {
        inst.send(login_call("admin", "wrong password").peer(attacker))
            .await
            .assert_error(&format!("failure {i}"), 401, "unauthorized");
    }
    let banned_at = Instant::now();
    let r = inst.send(login_call("admin", PW).peer(attacker)).await;
    r.assert_error("right password while banned", 429, "too_many_attempts");
    let ra = retry_after(&r);
    assert!(
        (1..=2).contains(&ra),
        "Retry-After {ra} not within the 2 s ban"
    );
    inst.send(login_call("nobody", PW).peer(attacker))
        .await
        .assert_error("unknown user while banned", 429, "too_many_attempts");
    // Without proxy-fix, X-Forwarded-For is not the client IP: no escape by header.
    inst.send(
        login_call("admin", PW)
            .peer(attacker)
            .header("x-forwarded-for", "198.51.100.77"),
    )
    .await
    .assert_error("banned peer with X-Forwarded-For", 429, "too_many_attempts");
    // Another client IP is not banned.
    let other = inst.send(login_call("admin", PW).peer("192.0.2.8")).await;
    other.assert_status("other client IP", 200);
    assert!(other.session_cookie().is_some());

    // After the ban the right password works again.
    let ok = poll(Duration::from_secs(6), "the ban to expire", async || {
        let r = inst.send(login_call("admin", PW).peer(attacker)).await;
        match r.status {
            200 => Some(r),
            429 => None,
            _ => panic!("unexpected answer while waiting for the ban: {}", r.brief()),
        }
    })
    .await;
    let waited = banned_at.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "ban lifted after {waited:?}, expected about 2 s"
    );
    assert!(
        ok.session_cookie().is_some(),
        "login after the ban sets a cookie"
    );
}

/// Client IP behind a trusted proxy with proxy-fix: the rightmost X-Forwarded-For entry that
/// is not a trusted proxy (a forged leftmost entry does not escape the ban).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ban_follows_client_ip_behind_proxy() {
    let inst = Inst::start(&[
        ("PYTORRENT_PROXY_FIX_ENABLE", "true"),
        // 10.0.0.1 is a second proxy in front of the first.
        (
            "PYTORRENT_AUTH_TRUSTED_PROXIES",
            "127.0.0.0/8,::1/128,10.0.0.0/8",
        ),
        ("PYTORRENT_LOGIN_MAX_FAILURES", "2"),
        ("PYTORRENT_LOGIN_BAN_SECONDS", "60"),
    ])
    .await;
    inst.set_admin_password();
    let via = |xff: &str, pw: &str| {
        login_call("admin", pw)
            .peer("127.0.0.2")
            .header("x-forwarded-for", xff)
    };
    for i in 1..=2 {
        inst.send(via("198.51.100.1", "wrong password"))
            .await
            .assert_error(&format!("failure {i} of 198.51.100.1"), 401, "unauthorized");
    }
    for xff in [
        "198.51.100.1",
        "203.0.113.50, 198.51.100.1",
        "198.51.100.1, 10.0.0.1",
    ] {
        inst.send(via(xff, PW)).await.assert_error(
            &format!("X-Forwarded-For: {xff}"),
            429,
            "too_many_attempts",
        );
    }
    inst.send(via("198.51.100.1, 198.51.100.2", PW))
        .await
        .assert_status("another client behind the same proxy", 200);
    inst.send(via("198.51.100.3", PW))
        .await
        .assert_status("third client", 200);
}

/// Unknown users cost the same Argon2 work as wrong passwords (README "Authentication", docs/security.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_costs_like_wrong_password() {
    let inst = Inst::start(&[("PYTORRENT_LOGIN_MAX_FAILURES", "1000")]).await;
    inst.set_admin_password();
    inst.user("ext", None, Role::User, &[]);
    async fn timed(inst: &Inst, user: &str) -> Duration {
        let t = Instant::now();
        inst.send(login_call(user, "wrong password").peer("192.0.2.60"))
            .await
            .assert_error(&format!("login {user}"), 401, "unauthorized");
        t.elapsed()
    }
    // Warm-up.
    timed(&inst, "admin").await;
    timed(&inst, "nobody").await;
    let (mut known, mut unknown, mut external) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for i in 0..5 {
        known += timed(&inst, "admin").await;
        unknown += timed(&inst, &format!("nobody-{i}")).await;
        external += timed(&inst, "ext").await;
    }
    for (what, t) in [("unknown user", unknown), ("passwordless user", external)] {
        let ratio = t.as_secs_f64() / known.as_secs_f64();
        assert!(
            (0.5..=2.0).contains(&ratio),
            "{what}: {t:?} vs wrong password {known:?} (ratio {ratio:.2}) — not the same Argon2 cost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_provider_has_no_login_or_logout() {
    for (provider, header) in [("tinyauth", "Remote-User"), ("proxy", "Remote-User")] {
        let inst = Inst::start(&[("PYTORRENT_AUTH_PROVIDER", provider)]).await;
        inst.set_admin_password();
        let r = inst.send(login_call("admin", PW)).await;
        r.assert_error(
            &format!("{provider}: local login"),
            409,
            "external_provider",
        );
        assert!(r.set_cookie().is_none(), "{provider}: login set a cookie");

        let me = inst
            .send(Call::get("/api/auth/me").header(header, "admin"))
            .await;
        me.assert_status(&format!("{provider}: me"), 200);
        assert_eq!(me.json["provider"], provider);
        assert_eq!(
            me.json["logout_available"],
            false,
            "{provider}: {}",
            me.text()
        );
        for call in [Call::get("/logout"), Call::post("/logout")] {
            let m = call.method.clone();
            let r = inst.send(call.header(header, "admin")).await;
            r.assert_status(&format!("{provider}: {m} /logout"), 302);
            assert_eq!(r.header("location"), Some("/"), "{provider}: {m} /logout");
        }
        // Still signed in through the proxy afterwards.
        inst.send(Call::get("/api/auth/me").header(header, "admin"))
            .await
            .assert_status(&format!("{provider}: me after logout"), 200);
        // No login form is offered.
        let r = inst.send(Call::get("/login").header(header, "admin")).await;
        r.assert_status(&format!("{provider}: GET /login"), 302);
        assert_eq!(r.header("location"), Some("/"));
        drop(inst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_loads() {
    // local
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    for path in ["/", "/torrents/abc"] {
        let r = inst.send(Call::get(path)).await;
        r.assert_status(&format!("local GET {path} anonymous"), 302);
        assert_eq!(r.header("location"), Some("/login"), "GET {path}");
    }
    let r = inst.send(Call::get("/login")).await;
    r.assert_status("local GET /login anonymous", 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html"),
        "{:?}",
        r.headers
    );
    let cookie = inst.login("admin", PW).await;
    let r = inst.send(Call::get("/").cookie(&cookie)).await;
    r.assert_status("local GET / signed in", 200);
    assert!(r.text().contains("<html"), "index page expected");
    let r = inst.send(Call::get("/login").cookie(&cookie)).await;
    r.assert_status("local GET /login signed in", 302);
    assert_eq!(r.header("location"), Some("/"));
    drop(inst);

    // bypass and auth disabled: the same resolver lets page loads through
    let inst = Inst::start(&[("PYTORRENT_AUTH_BYPASS_HOSTS", "10.11.1.11:8090")]).await;
    inst.send(
        Call::get("/")
            .peer("192.168.1.5")
            .host(Some("10.11.1.11:8090")),
    )
    .await
    .assert_status("bypassed page load", 200);
    let r = inst
        .send(
            Call::get("/")
                .peer("192.168.1.5")
                .host(Some("10.11.1.11:8090"))
                .header("x-forwarded-for", "192.168.1.9"),
        )
        .await;
    r.assert_status("proxied request to the bypass host", 302);
    assert_eq!(r.header("location"), Some("/login"));
    drop(inst);
    let inst = Inst::start(&[("PYTORRENT_AUTH_ENABLE", "false")]).await;
    inst.send(Call::get("/").peer("8.8.8.8"))
        .await
        .assert_status("auth disabled page load", 200);
    drop(inst);

    // external providers: a page that names the missing header
    for (vars, header) in [
        (vec![("PYTORRENT_AUTH_PROVIDER", "tinyauth")], "Remote-User"),
        (
            vec![
                ("PYTORRENT_AUTH_PROVIDER", "proxy"),
                ("PYTORRENT_AUTH_PROXY_USER_HEADER", "X-Forwarded-User"),
            ],
            "X-Forwarded-User",
        ),
    ] {
        let inst = Inst::start(&vars).await;
        let r = inst.send(Call::get("/").peer("127.0.0.1")).await;
        r.assert_status(&format!("{header}: GET / without the header"), 401);
        assert!(
            r.header("content-type")
                .unwrap_or("")
                .starts_with("text/html"),
            "{header}: HTML expected: {:?}",
            r.headers
        );
        assert!(
            r.text().contains(header),
            "{header}: the page should name the missing header: {}",
            r.text()
        );
        let r = inst
            .send(Call::get("/").peer("203.0.113.9").header(header, "admin"))
            .await;
        r.assert_status(&format!("{header}: GET / from an untrusted peer"), 401);
        assert!(
            r.header("content-type")
                .unwrap_or("")
                .starts_with("text/html")
        );
        inst.send(Call::get("/").header(header, "admin"))
            .await
            .assert_status(&format!("{header}: GET / with the header"), 200);
        drop(inst);
    }
}

fn check_security_headers(what: &str, r: &Resp) {
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}: {:?}",
        r.headers
    );
    assert_eq!(
        r.header("referrer-policy"),
        Some("same-origin"),
        "{what}: {:?}",
        r.headers
    );
    let csp = r
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP: {:?}", r.headers));
    let directives: Vec<(String, String)> = csp
        .split(';')
        .filter_map(|d| {
            let d = d.trim();
            let (name, value) = d.split_once(' ').unwrap_or((d, ""));
            (!name.is_empty()).then(|| (name.to_ascii_lowercase(), value.to_owned()))
        })
        .collect();
    let get = |n: &str| {
        directives
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("frame-ancestors"), Some("'none'"), "{what}: {csp}");
    let script = get("script-src")
        .or_else(|| get("default-src"))
        .unwrap_or_else(|| panic!("{what}: CSP restricts no scripts: {csp}"));
    for bad in ["'unsafe-inline'", "'unsafe-eval'", "*", "data:"] {
        assert!(
            !script.split_whitespace().any(|s| s == bad),
            "{what}: script-src allows {bad}: {csp}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_everywhere() {
    let inst = Inst::start(&[]).await;
    let cookie = inst.session("admin");
    let index = inst.send(Call::get("/").cookie(&cookie)).await;
    index.assert_status("index", 200);
    // No inline script in the page itself either.
    let html = index.text();
    for tag in html.split("<script").skip(1) {
        let open = tag.split('>').next().unwrap_or("");
        assert!(
            open.contains("src="),
            "inline <script> in the index page: <script{open}>"
        );
    }
    let script_src = html
        .split("<script")
        .nth(1)
        .and_then(|t| t.split("src=\"").nth(1))
        .and_then(|t| t.split('"').next())
        .map(str::to_owned);

    let mut cases = vec![
        ("API 200", inst.send(Call::get("/api/health")).await, 200),
        ("API 401", inst.send(Call::get("/api/auth/me")).await, 401),
        (
            "API 404",
            inst.send(Call::get("/api/nope").cookie(&cookie)).await,
            404,
        ),
        (
            "API 403 origin_rejected",
            inst.send(
                Call::post("/api/tokens")
                    .cookie(&cookie)
                    .header("origin", "http://evil.example")
                    .json(&json!({"name": "x"})),
            )
            .await,
            403,
        ),
        ("page redirect", inst.send(Call::get("/")).await, 302),
        ("login page", inst.send(Call::get("/login")).await, 200),
        ("index page", index.clone(), 200),
    ];
    if let Some(src) = script_src {
        cases.push(("static script", inst.send(Call::get(&src)).await, 200));
    }
    for (what, r, status) in &cases {
        r.assert_status(what, *status);
        check_security_headers(what, r);
    }
    drop(inst);

    let inst = Inst::start(&[("PYTORRENT_AUTH_PROVIDER", "tinyauth")]).await;
    let r = inst.send(Call::get("/")).await;
    r.assert_status("external 401 page", 401);
    check_security_headers("external 401 page", &r);
    assert!(
        !r.text().contains("<script"),
        "the explanation page has no script"
    );
    let r = inst
        .send(Call::get("/api/auth/me").header("Remote-User", "nobody"))
        .await;
    r.assert_error("unknown header user", 403, "unknown_user");
    check_security_headers("API 403 unknown_user", &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_lifecycle() {
    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    inst.user("bob", Some(PW), Role::User, &[("default", Level::Ro)]);
    let admin = inst.login("admin", PW).await;
    let bob = inst.session("bob");

    let r = inst
        .send(
            Call::post("/api/tokens")
                .cookie(&admin)
                .json(&json!({"name": "cli"})),
        )
        .await;
    r.assert_status("create token", 201);
    let id = r.json["id"].as_str().expect("id").to_owned();
    let secret = r.json["token"].as_str().expect("token").to_owned();
    assert_eq!(r.json["name"], "cli");
    assert!(
        secret.starts_with("pt_"),
        "secret {secret:?} lacks the pt_ prefix"
    );
    assert!(secret.len() >= 3 + 32, "secret too short: {secret:?}");

    // Shown once: the listing has id and name, never the secret.
    let list = inst.send(Call::get("/api/tokens").cookie(&admin)).await;
    list.assert_status("list tokens", 200);
    let items = list.json.as_array().expect("token list");
    assert_eq!(items.len(), 1, "{}", list.text());
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["name"], "cli");
    assert!(
        items[0].get("token").is_none(),
        "listing shows a secret: {}",
        list.text()
    );
    let bare = secret.trim_start_matches("pt_");
    assert!(!list.text().contains(bare), "listing leaks the secret");

    // Works as Bearer and X-API-Key, as its owner.
    for call in [
        Call::get("/api/auth/me").bearer(&secret),
        Call::get("/api/auth/me").header("x-api-key", &secret),
    ] {
        let me = inst.send(call).await;
        me.assert_status("token auth", 200);
        assert_eq!(me.json["username"], "admin");
        assert_eq!(me.json["logout_available"], false, "{}", me.text());
    }

    // Someone else's tokens are not visible or revocable.
    let bl = inst.send(Call::get("/api/tokens").cookie(&bob)).await;
    bl.assert_status("bob lists tokens", 200);
    assert_eq!(bl.json, json!([]), "bob sees admin's tokens");
    inst.send(Call::delete(&format!("/api/tokens/{id}")).cookie(&bob))
        .await
        .assert_error("bob revokes admin's token", 404, "token_not_found");
    inst.send(Call::get("/api/auth/me").bearer(&secret))
        .await
        .assert_status("token after bob's attempt", 200);

    // Bad names are refused.
    inst.send(
        Call::post("/api/tokens")
            .cookie(&admin)
            .json(&json!({"name": ""})),
    )
    .await
    .assert_error("empty token name", 400, "invalid_input");

    // Revocation.
    inst.send(Call::delete(&format!("/api/tokens/{id}")).cookie(&admin))
        .await
        .assert_status("revoke", 204);
    inst.send(Call::get("/api/auth/me").bearer(&secret))
        .await
        .assert_error("revoked token", 401, "unauthorized");
    inst.send(Call::get("/api/auth/me").header("x-api-key", &secret))
        .await
        .assert_error("revoked token as X-API-Key", 401, "unauthorized");
    inst.send(Call::delete(&format!("/api/tokens/{id}")).cookie(&admin))
        .await
        .assert_error("revoke twice", 404, "token_not_found");
    let list = inst.send(Call::get("/api/tokens").cookie(&admin)).await;
    assert_eq!(list.json, json!([]), "revoked token still listed");
}

/// Sessions are stored with an expiry that matches the cookie's lifetime; an expired session
/// is refused even though its cookie is still presented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_session_is_refused() {
    use pytorrentd::auth::sessions::SessionRecord;
    use pytorrentd::store::Table;

    let inst = Inst::start(&[]).await;
    inst.set_admin_password();
    let r = inst.send(login_call("admin", PW)).await;
    r.assert_status("login", 200);
    let cookie = r.session_cookie().expect("cookie");
    let attrs = cookie_attrs(r.set_cookie().expect("Set-Cookie"));
    let max_age: i64 = attrs
        .iter()
        .find_map(|a| {
            a.split_once('=')
                .filter(|(k, _)| k.eq_ignore_ascii_case("max-age"))
                .map(|(_, v)| v.parse().expect("Max-Age seconds"))
        })
        .expect("the session cookie has a Max-Age");
    let store = &inst.state.store;
    let records: Vec<(String, SessionRecord)> = store
        .write(|tx| tx.list::<SessionRecord>(Table::Sessions))
        .expect("list sessions");
    assert_eq!(records.len(), 1, "one stored session");
    let (key, rec) = &records[0];
    assert_eq!(rec.username, "admin");
    assert_ne!(key, &cookie, "the session key is the cookie value in clear");
    let left = (rec.expires_at - chrono::Utc::now()).num_seconds();
    assert!(
        (left - max_age).abs() <= 60,
        "stored expiry ({left} s left) does not match the cookie's Max-Age ({max_age} s)"
    );

    inst.send(Call::get("/api/auth/me").cookie(&cookie))
        .await
        .assert_status("fresh session", 200);
    store
        .write(|tx| {
            for (k, mut s) in tx.list::<SessionRecord>(Table::Sessions)? {
                s.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
                tx.put(Table::Sessions, &k, &s)?;
            }
            Ok::<_, pytorrentd::store::StoreError>(())
        })
        .expect("age the session");
    inst.send(Call::get("/api/auth/me").cookie(&cookie))
        .await
        .assert_error("expired session", 401, "unauthorized");
    let page = inst.send(Call::get("/").cookie(&cookie)).await;
    page.assert_status("page load with an expired session", 302);
    assert_eq!(page.header("location"), Some("/login"));
}

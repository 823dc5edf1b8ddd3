//! Origin checks (CSRF), table-driven: variables × peer × Origin/Referer/forwarded
//! headers → the unsafe request passes (its normal status) or gets 403 `origin_rejected`
//! whose message names the origin and PYTORRENT_API_ALLOWED_ORIGINS. Every row carries a
//! fresh, valid session cookie of `admin`, so a pass is the handler's own answer.

use http::Method;
use serde_json::{Value, json};

use crate::common::{Call, Inst, phase};

#[derive(Clone, Copy)]
enum Expect {
    /// The guard let it through: the handler's status.
    Pass(u16),
    /// 403 origin_rejected; the message must contain this fragment of the presented value.
    Reject(&'static str),
}

type Vars = Vec<(&'static str, &'static str)>;

struct Row {
    name: &'static str,
    vars: Vars,
    peer: &'static str,
    host: &'static str,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    headers: Vec<(&'static str, &'static str)>,
    expect: Expect,
}

const HOST: &str = "pt.lan:8090";
const SAME: &str = "http://pt.lan:8090";
const EVIL: &str = "http://evil.example";

/// The default request: create an API token as the logged-in admin.
fn tok(
    name: &'static str,
    vars: &[(&'static str, &'static str)],
    headers: &[(&'static str, &'static str)],
    expect: Expect,
) -> Row {
    Row {
        name,
        vars: vars.to_vec(),
        peer: "127.0.0.1",
        host: HOST,
        method: Method::POST,
        path: "/api/tokens",
        body: Some(json!({"name": "t"})),
        headers: headers.to_vec(),
        expect,
    }
}

fn rows() -> Vec<Row> {
    use Expect::{Pass, Reject};
    let none: &[(&str, &str)] = &[];
    let api_list: &[(&str, &str)] = &[(
        "PYTORRENT_API_ALLOWED_ORIGINS",
        "https://torrents.example.com,http://10.0.0.5:8090",
    )];
    let socket_only: &[(&str, &str)] = &[(
        "PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS",
        "https://sock.example.com",
    )];
    let both: &[(&str, &str)] = &[
        (
            "PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS",
            "https://sock.example.com",
        ),
        ("PYTORRENT_API_ALLOWED_ORIGINS", "https://api.example.com"),
    ];
    let fix: &[(&str, &str)] = &[("PYTORRENT_PROXY_FIX_ENABLE", "true")];
    let fix_narrow: &[(&str, &str)] = &[
        ("PYTORRENT_PROXY_FIX_ENABLE", "true"),
        ("PYTORRENT_AUTH_TRUSTED_PROXIES", "127.0.0.2/32"),
    ];
    let fwd: &[(&str, &str)] = &[
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "torrents.example.com"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        fwd.iter().chain(extra).copied().collect()
    };

    let mut r = vec![
        // ---- same origin against the Host header
        tok("matching Origin", none, &[("origin", SAME)], Pass(201)),
        tok(
            "mismatching Origin",
            none,
            &[("origin", EVIL)],
            Reject(EVIL),
        ),
        tok(
            "other port",
            none,
            &[("origin", "http://pt.lan:8091")],
            Reject("http://pt.lan:8091"),
        ),
        tok(
            "other scheme",
            none,
            &[("origin", "https://pt.lan:8090")],
            Reject("https://pt.lan:8090"),
        ),
        tok(
            "port missing",
            none,
            &[("origin", "http://pt.lan")],
            Reject("http://pt.lan"),
        ),
        tok("Origin: null", none, &[("origin", "null")], Reject("null")),
        tok(
            "mismatching Referer only",
            none,
            &[("referer", "http://evil.example/page?x=1")],
            Reject(EVIL),
        ),
        tok(
            "matching Referer with a path",
            none,
            &[("referer", "http://pt.lan:8090/torrents/abc?x=1#f")],
            Pass(201),
        ),
        tok("no Origin, no Referer", none, &[], Pass(201)),
        tok(
            "Referer with the host as user info",
            none,
            &[("referer", "http://pt.lan:8090@evil.example/x")],
            Reject("evil.example"),
        ),
        tok(
            "Referer with the host in the query",
            none,
            &[("referer", "http://evil.example/?u=http://pt.lan:8090/")],
            Reject(EVIL),
        ),
        tok(
            "Origin with the host as a subdomain",
            none,
            &[("origin", "http://pt.lan:8090.evil.example")],
            Reject("evil.example"),
        ),
        tok(
            "Origin wins over a matching Referer",
            none,
            &[("origin", EVIL), ("referer", "http://pt.lan:8090/")],
            Reject(EVIL),
        ),
        tok(
            "matching Origin, foreign Referer",
            none,
            &[("origin", SAME), ("referer", "http://evil.example/")],
            Pass(201),
        ),
        tok(
            "upper-case Origin",
            none,
            &[("origin", "HTTP://PT.LAN:8090")],
            Pass(201),
        ),
        tok(
            "forwarded headers without proxy-fix are ignored",
            none,
            &with(&[("origin", "https://torrents.example.com")]),
            Reject("https://torrents.example.com"),
        ),
        // ---- the API allow-list
        tok(
            "Origin in PYTORRENT_API_ALLOWED_ORIGINS",
            api_list,
            &[("origin", "https://torrents.example.com")],
            Pass(201),
        ),
        tok(
            "allow-listed Origin with its default port",
            api_list,
            &[("origin", "https://torrents.example.com:443")],
            Pass(201),
        ),
        tok(
            "allow-listed Referer",
            api_list,
            &[("referer", "https://torrents.example.com/app/")],
            Pass(201),
        ),
        tok(
            "second allow-listed Origin",
            api_list,
            &[("origin", "http://10.0.0.5:8090")],
            Pass(201),
        ),
        tok(
            "allow-listed host, other scheme",
            api_list,
            &[("origin", "http://torrents.example.com")],
            Reject("http://torrents.example.com"),
        ),
        tok(
            "not allow-listed",
            api_list,
            &[("origin", EVIL)],
            Reject(EVIL),
        ),
        tok(
            "same origin with a list set",
            api_list,
            &[("origin", SAME)],
            Pass(201),
        ),
        // ---- fallback to the Socket.IO list
        tok(
            "API list unset: Socket.IO list applies",
            socket_only,
            &[("origin", "https://sock.example.com")],
            Pass(201),
        ),
        tok(
            "API list unset: other origin",
            socket_only,
            &[("origin", EVIL)],
            Reject(EVIL),
        ),
        tok(
            "API list set: Socket.IO list not used",
            both,
            &[("origin", "https://sock.example.com")],
            Reject("https://sock.example.com"),
        ),
        tok(
            "API list set: its origin passes",
            both,
            &[("origin", "https://api.example.com")],
            Pass(201),
        ),
        // ---- proxy-fix
        Row {
            peer: "127.0.0.2",
            host: "127.0.0.1:8090",
            ..tok(
                "proxy-fix, trusted peer, forwarded https origin",
                fix,
                &with(&[("origin", "https://torrents.example.com")]),
                Pass(201),
            )
        },
        Row {
            peer: "203.0.113.9",
            host: "127.0.0.1:8090",
            ..tok(
                "proxy-fix, untrusted peer, same forwarded headers",
                fix,
                &with(&[("origin", "https://torrents.example.com")]),
                Reject("https://torrents.example.com"),
            )
        },
        Row {
            peer: "203.0.113.9",
            host: "127.0.0.1:8090",
            ..tok(
                "proxy-fix, untrusted peer, Host origin",
                fix,
                &with(&[("origin", "http://127.0.0.1:8090")]),
                Pass(201),
            )
        },
        Row {
            peer: "127.0.0.2",
            host: "127.0.0.1:8090",
            ..tok(
                "proxy-fix, trusted peer: the inner Host is not the origin",
                fix,
                &with(&[("origin", "http://127.0.0.1:8090")]),
                Reject("http://127.0.0.1:8090"),
            )
        },
        Row {
            peer: "127.0.0.2",
            host: "127.0.0.1:8090",
            ..tok(
                "proxy-fix, trusted peer, X-Forwarded-Port",
                fix,
                &with(&[
                    ("x-forwarded-port", "8443"),
                    ("origin", "https://torrents.example.com:8443"),
                ]),
                Pass(201),
            )
        },
        Row {
            peer: "127.0.0.3",
            host: "127.0.0.1:8090",
            ..tok(
                "proxy-fix, peer outside a narrow trusted list",
                fix_narrow,
                &with(&[("origin", "https://torrents.example.com")]),
                Reject("https://torrents.example.com"),
            )
        },
        Row {
            peer: "127.0.0.2",
            host: "127.0.0.1:8090",
            ..tok(
                "proxy-fix, peer inside a narrow trusted list",
                fix_narrow,
                &with(&[("origin", "https://torrents.example.com")]),
                Pass(201),
            )
        },
        // ---- default ports
        Row {
            host: "pt.lan",
            ..tok(
                "Origin :80 equals Host without port",
                none,
                &[("origin", "http://pt.lan:80")],
                Pass(201),
            )
        },
        Row {
            host: "pt.lan:80",
            ..tok(
                "Host :80 equals Origin without port",
                none,
                &[("origin", "http://pt.lan")],
                Pass(201),
            )
        },
    ];

    // ---- other methods and paths
    let other = |name, method, path, body: Option<Value>, origin, expect| Row {
        name,
        vars: vec![],
        peer: "127.0.0.1",
        host: HOST,
        method,
        path,
        body,
        headers: vec![("origin", origin)],
        expect,
    };
    r.extend([
        other(
            "GET is never checked",
            Method::GET,
            "/api/tokens",
            None,
            EVIL,
            Pass(200),
        ),
        other(
            "GET me is never checked",
            Method::GET,
            "/api/auth/me",
            None,
            "null",
            Pass(200),
        ),
        other(
            "GET /logout is never checked",
            Method::GET,
            "/logout",
            None,
            EVIL,
            Pass(302),
        ),
        other(
            "POST /logout, foreign",
            Method::POST,
            "/logout",
            None,
            EVIL,
            Reject(EVIL),
        ),
        other(
            "POST /logout, same",
            Method::POST,
            "/logout",
            None,
            SAME,
            Pass(302),
        ),
        other(
            "login, foreign",
            Method::POST,
            "/api/auth/login",
            Some(json!({"username": "admin", "password": "wrong password"})),
            EVIL,
            Reject(EVIL),
        ),
        other(
            "login, same",
            Method::POST,
            "/api/auth/login",
            Some(json!({"username": "admin", "password": "wrong password"})),
            SAME,
            Pass(401),
        ),
        other(
            "PUT, foreign",
            Method::PUT,
            "/api/tokens",
            Some(json!({})),
            EVIL,
            Reject(EVIL),
        ),
        other(
            "PUT, same",
            Method::PUT,
            "/api/tokens",
            Some(json!({})),
            SAME,
            Pass(405),
        ),
        other(
            "DELETE, foreign",
            Method::DELETE,
            "/api/tokens/0123456789abcdef",
            None,
            EVIL,
            Reject(EVIL),
        ),
        other(
            "DELETE, same",
            Method::DELETE,
            "/api/tokens/0123456789abcdef",
            None,
            SAME,
            Pass(404),
        ),
        other(
            "PATCH, foreign",
            Method::PATCH,
            "/api/users/admin",
            Some(json!({"role": "admin"})),
            EVIL,
            Reject(EVIL),
        ),
        other(
            "PATCH, same",
            Method::PATCH,
            "/api/users/admin",
            Some(json!({"role": "admin"})),
            SAME,
            Pass(200),
        ),
        other(
            "POST to an unknown API path, foreign",
            Method::POST,
            "/api/nope",
            None,
            EVIL,
            Reject(EVIL),
        ),
    ]);
    r
}

#[test]
fn origin_table() {
    let rows = rows();
    let mut groups: Vec<(Vars, Vec<&Row>)> = Vec::new();
    for r in &rows {
        match groups.iter_mut().find(|(v, _)| *v == r.vars) {
            Some((_, g)) => g.push(r),
            None => groups.push((r.vars.clone(), vec![r])),
        }
    }
    let mut failures = Vec::new();
    for (vars, group) in groups {
        phase(async {
            let inst = Inst::start(&vars).await;
            for r in group {
                let mut c = Call::new(r.method.clone(), r.path)
                    .peer(r.peer)
                    .host(Some(r.host))
                    .cookie(&inst.session("admin"));
                if let Some(b) = &r.body {
                    c = c.json(b);
                }
                for (k, v) in &r.headers {
                    c = c.header(k, v);
                }
                let resp = inst.send(c).await;
                match r.expect {
                    Expect::Pass(status) => {
                        if resp.status != status || resp.code() == "origin_rejected" {
                            failures.push(format!(
                                "[{}] expected to pass with {status}, got {}",
                                r.name,
                                resp.brief()
                            ));
                        }
                    }
                    Expect::Reject(fragment) => {
                        if (resp.status, resp.code()) != (403, "origin_rejected") {
                            failures.push(format!(
                                "[{}] expected 403 origin_rejected, got {}",
                                r.name,
                                resp.brief()
                            ));
                        } else {
                            for want in [fragment, "PYTORRENT_API_ALLOWED_ORIGINS"] {
                                if !resp.message().contains(want) {
                                    failures.push(format!(
                                        "[{}] message lacks '{want}': {}",
                                        r.name,
                                        resp.message()
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            drop(inst);
        });
    }
    assert!(
        failures.is_empty(),
        "{} of {} origin rows failed:\n  {}",
        failures.len(),
        rows.len(),
        failures.join("\n  ")
    );
}

/// A rejected request changes nothing: a refused `POST /logout` leaves the session alive, a
/// refused token creation creates no token; the accepted logout then ends the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_requests_change_nothing() {
    let inst = Inst::start(&[]).await;
    let cookie = inst.session("admin");
    let as_admin = |c: Call| c.cookie(&cookie);

    inst.send(as_admin(Call::post("/logout").header("origin", EVIL)))
        .await
        .assert_error("foreign logout", 403, "origin_rejected");
    inst.send(as_admin(Call::get("/api/auth/me")))
        .await
        .assert_status("session survives a refused logout", 200);

    inst.send(as_admin(
        Call::post("/api/tokens")
            .json(&json!({"name": "csrf"}))
            .header("referer", "http://evil.example/x"),
    ))
    .await
    .assert_error("foreign token creation", 403, "origin_rejected");
    let list = inst.send(as_admin(Call::get("/api/tokens"))).await;
    list.assert_status("list tokens", 200);
    assert_eq!(list.json, json!([]), "no token was created");

    let out = inst
        .send(as_admin(Call::post("/logout").header("origin", SAME)))
        .await;
    out.assert_status("same-origin logout", 302);
    inst.send(as_admin(Call::get("/api/auth/me")))
        .await
        .assert_error("session after logout", 401, "unauthorized");
}

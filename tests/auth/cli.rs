//! The user CLI (README "Command line"): `pytorrentd user list|add|delete|reset-password|set-role|grant|
//! revoke` against a stopped daemon (the CLI opens the redb file) and a running one (it talks
//! over `DATA_DIR/control.sock`, mode 0600). Every effect is checked through the HTTP API of
//! the real daemon: logins, sessions, `GET /api/profiles` levels, roles.
//!
//! Errors must exit 1 with exactly one line on stderr; nothing may prompt unless asked to
//! (`reset-password NAME` without a password reads two lines from a non-tty stdin).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use serde_json::{Value, json};

use crate::util::*;

// ---------------------------------------------------------------------------------------------
// running the CLI
// ---------------------------------------------------------------------------------------------

pub(crate) use crate::util::{CliInput as Input, CliOut as Out};

/// Runs `pytorrentd ARGS --data-dir DATA` with a clean environment; kills it after 30 s
/// (then `code` is `None`).
pub(crate) async fn run_cli(root: &Path, data_dir: &Path, args: &[&str], input: Input<'_>) -> Out {
    let data = data_dir.to_str().expect("UTF-8 temp path");
    let all: Vec<&str> = args.iter().copied().chain(["--data-dir", data]).collect();
    run_cli_in(root, &all, &[], input, 30.0).await
}

#[track_caller]
fn assert_ok(out: &Out) {
    assert_eq!(out.code, Some(0), "expected success:\n{out}");
}

/// Exit 1, exactly one non-empty line on stderr, mentioning every `needles` (case-insensitive).
#[track_caller]
fn assert_fails_one_line(out: &Out, needles: &[&str]) {
    assert_eq!(out.code, Some(1), "expected exit code 1:\n{out}");
    let lines = out.stderr_lines();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one line on stderr:\n{out}"
    );
    let line = lines[0].to_lowercase();
    for n in needles {
        assert!(
            line.contains(&n.to_lowercase()),
            "the error line should mention {n:?}:\n{out}"
        );
    }
}

/// One row of `user list`: (role, local|external, grants).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    role: String,
    kind: String,
    grants: String,
}

fn row(role: &str, kind: &str, grants: &str) -> Row {
    Row {
        role: role.into(),
        kind: kind.into(),
        grants: grants.into(),
    }
}

/// `user list` as username → row (tab-separated: name, role, local|external, grants).
async fn user_list(root: &Path, data: &Path) -> BTreeMap<String, Row> {
    let out = run_cli(root, data, &["user", "list"], Input::Null).await;
    assert_ok(&out);
    out.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(
                f.len(),
                4,
                "user list line {l:?} is not 4 tab-separated fields:\n{out}"
            );
            (f[0].to_string(), row(f[1], f[2], f[3]))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// HTTP as a given user
// ---------------------------------------------------------------------------------------------

/// The environment for a daemon with local authentication (no login bans in these tests).
const LOCAL_AUTH: &[(&str, &str)] = &[
    ("PYTORRENT_AUTH_ENABLE", "true"),
    ("PYTORRENT_AUTH_PROVIDER", "local"),
    ("PYTORRENT_LOGIN_MAX_FAILURES", "1000"),
];

/// The first administrator's password from the log of the first run.
pub(crate) fn initial_admin_password(d: &Daemon) -> String {
    let log = d.log_of_run(1);
    let line = log
        .lines()
        .find(|l| l.contains("password '"))
        .unwrap_or_else(|| panic!("no \"password '...'\" line in the first run's log:\n{log}"));
    let start = line.find("password '").unwrap() + "password '".len();
    let len = line[start..].find('\'').expect("closing quote");
    line[start..start + len].to_string()
}

/// `POST /api/auth/login`; Ok(cookie pair `pytorrent_session=…`) or Err((status, body)).
async fn login(d: &Daemon, user: &str, pw: &str) -> Result<String, (u16, Value)> {
    let resp = d
        .client()
        .post(d.url("/api/auth/login"))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .expect("POST /api/auth/login");
    let cookie = resp
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|kv| kv.trim_start().starts_with("pytorrent_session="))
        .map(|kv| kv.trim().to_string());
    let got = to_status_json(resp).await;
    match (got.0, cookie) {
        (200, Some(c)) => Ok(c),
        _ => Err(got),
    }
}

#[track_caller]
fn expect_login(ctx: &str, r: Result<String, (u16, Value)>) -> String {
    match r {
        Ok(c) => c,
        Err((st, body)) => panic!("{ctx}: login should succeed, got {st} {body}"),
    }
}

#[track_caller]
fn expect_login_refused(ctx: &str, r: Result<String, (u16, Value)>) {
    match r {
        Ok(_) => panic!("{ctx}: login should be refused, but it succeeded"),
        Err(got) => assert_status_err(ctx, &got, 401),
    }
}

async fn get_as(d: &Daemon, cookie: &str, path: &str) -> (u16, Value) {
    let r = d
        .client()
        .get(d.url(path))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    to_status_json(r).await
}

/// `GET /api/profiles` as a user: profile id → level.
async fn levels_of(d: &Daemon, cookie: &str) -> BTreeMap<String, String> {
    let (st, body) = get_as(d, cookie, "/api/profiles").await;
    assert_eq!(st, 200, "GET /api/profiles: {body}");
    body.as_array()
        .unwrap_or_else(|| panic!("profiles not an array: {body}"))
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or("?").to_string(),
                p["level"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn levels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn me(d: &Daemon, cookie: &str) -> Value {
    let (st, body) = get_as(d, cookie, "/api/auth/me").await;
    assert_eq!(st, 200, "GET /api/auth/me: {body}");
    body
}

/// An error answer with this status and a JSON error body with a code and a message.
#[track_caller]
fn assert_status_err(ctx: &str, got: &(u16, Value), status: u16) {
    let (st, body) = got;
    assert_eq!(*st, status, "{ctx}: expected {status}, got {st} {body}");
    assert!(
        !err_code(body).is_empty()
            && body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
        "{ctx}: expected an error body with code and message, got {body}"
    );
}

#[track_caller]
fn assert_unauthorized(ctx: &str, got: &(u16, Value)) {
    assert_status_err(ctx, got, 401);
}

/// Starts a daemon with local auth once (creating the redb file, `default` and `admin`),
/// stops it, and returns it (stopped) with the admin password.
async fn prepared_data_dir(root: &Path) -> (Daemon, String) {
    let mut d = Daemon::start_with_env(root, LOCAL_AUTH).await;
    let pw = initial_admin_password(&d);
    d.stop().await;
    (d, pw)
}

// ---------------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------------

/// Stopped daemon: every command works on the redb file, errors are one line and exit 1,
/// and the result is what the daemon serves when it starts.
#[tokio::test(flavor = "multi_thread")]
async fn offline_commands_take_effect_when_the_daemon_starts() {
    let tmp = tempdir("auth-cli-offline");
    let root = tmp.path();
    let (mut d, admin_pw) = prepared_data_dir(root).await;
    let data = d.data_dir.clone();
    let cli = async |args: &[&str]| run_cli(root, &data, args, Input::Null).await;

    assert_eq!(
        user_list(root, &data).await,
        [("admin".to_string(), row("admin", "local", "-"))].into(),
        "a fresh data dir has exactly the first administrator"
    );

    // add: local with a password, duplicate, external without a password (must not prompt).
    assert_ok(&cli(&["user", "add", "alice", "--password", "alice-pass-1"]).await);
    assert_fails_one_line(
        &cli(&["user", "add", "alice", "--password", "other-pass-1"]).await,
        &["alice"],
    );
    let out = run_cli(root, &data, &["user", "add", "ext"], Input::OpenPipe).await;
    assert!(
        out.code.is_some(),
        "`user add ext` without --password waited for input (it must not prompt):\n{out}"
    );
    assert_ok(&out);
    assert_fails_one_line(&cli(&["user", "add", "bad,name"]).await, &[]);
    assert_fails_one_line(
        &cli(&["user", "add", "shorty", "--password", "short"]).await,
        &[],
    );

    // The last administrator can be neither deleted nor demoted; a second one can.
    assert_fails_one_line(&cli(&["user", "delete", "admin"]).await, &[]);
    assert_fails_one_line(&cli(&["user", "set-role", "admin", "user"]).await, &[]);
    assert_ok(
        &cli(&[
            "user",
            "add",
            "root2",
            "--password",
            "root2-pass-1",
            "--role",
            "admin",
        ])
        .await,
    );
    assert_eq!(
        user_list(root, &data).await.get("root2"),
        Some(&row("admin", "local", "-"))
    );
    assert_ok(&cli(&["user", "set-role", "root2", "user"]).await);
    assert_eq!(
        user_list(root, &data).await.get("root2"),
        Some(&row("user", "local", "-"))
    );
    assert_ok(&cli(&["user", "set-role", "root2", "admin"]).await);
    assert_ok(&cli(&["user", "delete", "root2"]).await);

    // Unknown user, for every command that names one.
    for args in [
        &["user", "delete", "nobody"][..],
        &["user", "set-role", "nobody", "admin"],
        &["user", "reset-password", "nobody", "nobody-pass-1"],
        &["user", "grant", "nobody", "default", "ro"],
        &["user", "revoke", "nobody", "default"],
    ] {
        assert_fails_one_line(&cli(args).await, &["nobody"]);
    }

    // Grants: unknown profile refused; default=ro stays, '*' set then revoked.
    assert_fails_one_line(
        &cli(&["user", "grant", "alice", "nosuch", "ro"]).await,
        &["nosuch"],
    );
    assert_ok(&cli(&["user", "grant", "alice", "default", "ro"]).await);
    assert_ok(&cli(&["user", "grant", "alice", "*", "rw"]).await);
    assert_eq!(
        user_list(root, &data).await.get("alice"),
        Some(&row("user", "local", "*=full,default=ro")),
        "rw is stored as full"
    );
    assert_ok(&cli(&["user", "revoke", "alice", "*"]).await);

    // reset-password: prompted twice (two stdin lines); a mismatch or a missing line changes
    // nothing and exits 1; a too-short password is refused.
    let out = run_cli(
        root,
        &data,
        &["user", "reset-password", "alice"],
        Input::Text("mismatch-one-1\nmismatch-two-2\n"),
    )
    .await;
    assert_fails_one_line(&out, &[]);
    let out = run_cli(
        root,
        &data,
        &["user", "reset-password", "alice"],
        Input::Text("only-one-line-1\n"),
    )
    .await;
    assert_fails_one_line(&out, &[]);
    let out = run_cli(
        root,
        &data,
        &["user", "reset-password", "alice"],
        Input::Null,
    )
    .await;
    assert_fails_one_line(&out, &[]);
    assert_ok(&cli(&["user", "add", "dave", "--password", "dave-pass-1"]).await);
    let out = run_cli(
        root,
        &data,
        &["user", "reset-password", "dave"],
        Input::Text("dave-pass-2\ndave-pass-2\n"),
    )
    .await;
    assert_ok(&out);
    assert_ok(&cli(&["user", "add", "eve", "--password", "eve-pass-1"]).await);
    assert_ok(&cli(&["user", "reset-password", "eve", "eve-pass-2"]).await);
    assert_fails_one_line(&cli(&["user", "reset-password", "eve", "short"]).await, &[]);

    assert_eq!(
        user_list(root, &data).await,
        [
            ("admin".to_string(), row("admin", "local", "-")),
            ("alice".to_string(), row("user", "local", "default=ro")),
            ("dave".to_string(), row("user", "local", "-")),
            ("eve".to_string(), row("user", "local", "-")),
            ("ext".to_string(), row("user", "external", "-")),
        ]
        .into()
    );

    // What the daemon serves.
    d.start_again().await;
    let alice = expect_login(
        "alice keeps her password (the mismatched reset changed nothing)",
        login(&d, "alice", "alice-pass-1").await,
    );
    for pw in ["mismatch-one-1", "mismatch-two-2", "only-one-line-1"] {
        expect_login_refused(
            &format!("alice with the refused password {pw}"),
            login(&d, "alice", pw).await,
        );
    }
    assert_eq!(levels_of(&d, &alice).await, levels(&[("default", "ro")]));
    let m = me(&d, &alice).await;
    assert_eq!(
        (&m["username"], &m["role"], &m["logout_available"]),
        (&json!("alice"), &json!("user"), &json!(true)),
        "{m}"
    );
    expect_login(
        "dave, prompted password",
        login(&d, "dave", "dave-pass-2").await,
    );
    expect_login_refused("dave, old password", login(&d, "dave", "dave-pass-1").await);
    expect_login(
        "eve, password argument",
        login(&d, "eve", "eve-pass-2").await,
    );
    expect_login_refused("eve, old password", login(&d, "eve", "eve-pass-1").await);
    expect_login_refused("ext has no password", login(&d, "ext", "").await);
    expect_login_refused(
        "root2 was deleted",
        login(&d, "root2", "root2-pass-1").await,
    );
    let admin = expect_login("admin", login(&d, "admin", &admin_pw).await);
    let (st, users) = get_as(&d, &admin, "/api/users").await;
    assert_eq!(st, 200, "GET /api/users as admin: {users}");
    let ext = users
        .as_array()
        .and_then(|a| a.iter().find(|u| u["username"] == "ext"))
        .unwrap_or_else(|| panic!("ext missing from {users}"));
    assert_eq!(
        (&ext["external"], &ext["role"]),
        (&json!(true), &json!("user")),
        "{ext}"
    );
    d.stop().await;
}

/// Running daemon: the CLI goes through `control.sock` (0600; the redb file is locked), each
/// change is live (grants, roles, password resets end sessions, deletion), errors are the
/// same one line, and everything persists once the daemon is stopped, where the same
/// commands work again on the file.
#[tokio::test(flavor = "multi_thread")]
async fn online_commands_act_on_the_running_daemon_and_persist() {
    let tmp = tempdir("auth-cli-online");
    let root = tmp.path();
    let mut d = Daemon::start_with_env(root, LOCAL_AUTH).await;
    let admin_pw = initial_admin_password(&d);
    let data = d.data_dir.clone();
    let cli = async |args: &[&str]| run_cli(root, &data, args, Input::Null).await;

    let sock = data.join("control.sock");
    let meta = std::fs::symlink_metadata(&sock)
        .unwrap_or_else(|e| panic!("{sock:?} while the daemon runs: {e}"));
    assert!(meta.file_type().is_socket(), "{sock:?} is not a socket");
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "mode of {sock:?} is {:o}",
        meta.permissions().mode() & 0o777
    );

    assert_eq!(
        user_list(root, &data).await,
        [("admin".to_string(), row("admin", "local", "-"))].into()
    );

    // A new local user can log in at once, and sees nothing without grants.
    assert_ok(&cli(&["user", "add", "carol", "--password", "carol-pass-1"]).await);
    let c1 = expect_login(
        "carol after user add",
        login(&d, "carol", "carol-pass-1").await,
    );
    let m = me(&d, &c1).await;
    assert_eq!(
        (&m["username"], &m["role"]),
        (&json!("carol"), &json!("user")),
        "{m}"
    );
    assert_eq!(levels_of(&d, &c1).await, levels(&[]));

    // Grants and revokes apply to the next request.
    assert_ok(&cli(&["user", "grant", "carol", "default", "ro"]).await);
    assert_eq!(levels_of(&d, &c1).await, levels(&[("default", "ro")]));
    let (st, body) = get_as(&d, &c1, "/api/profiles/default/torrents").await;
    assert_eq!(st, 200, "carol reads default with ro: {body}");
    assert_ok(&cli(&["user", "grant", "carol", "default", "full"]).await);
    assert_eq!(levels_of(&d, &c1).await, levels(&[("default", "full")]));
    assert_ok(&cli(&["user", "revoke", "carol", "default"]).await);
    assert_eq!(levels_of(&d, &c1).await, levels(&[]));
    let (st, body) = get_as(&d, &c1, "/api/profiles/default/torrents").await;
    assert_status_err("default after revoke", &(st, body), 404);
    assert_ok(&cli(&["user", "grant", "carol", "*", "ro"]).await);
    assert_eq!(levels_of(&d, &c1).await, levels(&[("default", "ro")]));

    // Roles.
    assert_ok(&cli(&["user", "set-role", "carol", "admin"]).await);
    assert_eq!(me(&d, &c1).await["role"], "admin");
    let (st, body) = get_as(&d, &c1, "/api/users").await;
    assert_eq!(st, 200, "carol as admin lists users: {body}");
    assert_ok(&cli(&["user", "set-role", "carol", "user"]).await);
    assert_eq!(me(&d, &c1).await["role"], "user");
    let got = get_as(&d, &c1, "/api/users").await;
    assert_status_err("carol demoted lists users", &got, 403);

    // Errors through the socket: same exit code, one line.
    assert_fails_one_line(
        &cli(&["user", "add", "carol", "--password", "carol-pass-9"]).await,
        &["carol"],
    );
    assert_fails_one_line(
        &cli(&["user", "grant", "carol", "nosuch", "ro"]).await,
        &["nosuch"],
    );
    assert_fails_one_line(&cli(&["user", "delete", "nobody"]).await, &["nobody"]);
    assert_fails_one_line(
        &cli(&["user", "set-role", "nobody", "user"]).await,
        &["nobody"],
    );
    assert_fails_one_line(&cli(&["user", "delete", "admin"]).await, &[]);
    assert_fails_one_line(&cli(&["user", "set-role", "admin", "user"]).await, &[]);
    assert_eq!(
        me(&d, &c1).await["permissions"],
        json!({"*": "ro"}),
        "nothing changed"
    );

    // reset-password with the password given: old session ends, old password refused.
    assert_ok(&cli(&["user", "reset-password", "carol", "carol-pass-2"]).await);
    assert_unauthorized(
        "carol's session after reset-password",
        &get_as(&d, &c1, "/api/auth/me").await,
    );
    expect_login_refused(
        "carol, old password",
        login(&d, "carol", "carol-pass-1").await,
    );
    let c2 = expect_login(
        "carol, new password",
        login(&d, "carol", "carol-pass-2").await,
    );

    // reset-password prompted twice on stdin.
    let out = run_cli(
        root,
        &data,
        &["user", "reset-password", "carol"],
        Input::Text("carol-pass-3\ncarol-pass-3\n"),
    )
    .await;
    assert_ok(&out);
    assert_unauthorized(
        "carol's session after the prompted reset",
        &get_as(&d, &c2, "/api/auth/me").await,
    );
    let c3 = expect_login(
        "carol, prompted password",
        login(&d, "carol", "carol-pass-3").await,
    );
    // A mismatch changes nothing: the session survives, the password stays.
    let out = run_cli(
        root,
        &data,
        &["user", "reset-password", "carol"],
        Input::Text("carol-pass-4\ncarol-pass-5\n"),
    )
    .await;
    assert_fails_one_line(&out, &[]);
    assert_eq!(
        me(&d, &c3).await["username"],
        "carol",
        "session kept after a mismatch"
    );
    expect_login_refused(
        "carol-pass-4 was refused",
        login(&d, "carol", "carol-pass-4").await,
    );
    expect_login(
        "carol still has carol-pass-3",
        login(&d, "carol", "carol-pass-3").await,
    );

    // External user without a password: no prompt, listed as external, cannot log in.
    let out = run_cli(root, &data, &["user", "add", "frank"], Input::OpenPipe).await;
    assert!(
        out.code.is_some(),
        "`user add frank` without --password waited for input (it must not prompt):\n{out}"
    );
    assert_ok(&out);
    expect_login_refused("frank is passwordless", login(&d, "frank", "").await);

    // Another local user to survive the restart; carol is deleted and loses her session.
    assert_ok(
        &cli(&[
            "user",
            "add",
            "gina",
            "--password",
            "gina-pass-1",
            "--role",
            "user",
        ])
        .await,
    );
    assert_ok(&cli(&["user", "grant", "gina", "default", "ro"]).await);
    assert_ok(&cli(&["user", "delete", "carol"]).await);
    assert_unauthorized(
        "carol's session after user delete",
        &get_as(&d, &c3, "/api/auth/me").await,
    );
    expect_login_refused("carol deleted", login(&d, "carol", "carol-pass-3").await);

    let expected: BTreeMap<String, Row> = [
        ("admin".to_string(), row("admin", "local", "-")),
        ("frank".to_string(), row("user", "external", "-")),
        ("gina".to_string(), row("user", "local", "default=ro")),
    ]
    .into();
    assert_eq!(user_list(root, &data).await, expected, "through the socket");

    // Stopped (SIGTERM, exit 0 asserted by the fixture): the same state, read from the file.
    d.stop().await;
    assert_eq!(user_list(root, &data).await, expected, "from the redb file");
    assert_ok(&cli(&["user", "set-role", "gina", "admin"]).await);
    assert_fails_one_line(&cli(&["user", "delete", "carol"]).await, &["carol"]);

    d.start_again().await;
    let g = expect_login(
        "gina after the restart",
        login(&d, "gina", "gina-pass-1").await,
    );
    assert_eq!(
        me(&d, &g).await["role"],
        "admin",
        "offline set-role applied"
    );
    expect_login("admin", login(&d, "admin", &admin_pw).await);
    d.stop().await;
}

/// A bad role or level is an error like any other: exit 1 and one line naming the value and
/// what is accepted; nothing is created.
#[tokio::test(flavor = "multi_thread")]
async fn bad_role_or_level_is_one_line_exit_1() {
    let tmp = tempdir("auth-cli-badarg");
    let root = tmp.path();
    let (d, _) = prepared_data_dir(root).await;
    let data = d.data_dir.clone();
    let before = user_list(root, &data).await;
    for (args, value) in [
        (
            &[
                "user",
                "add",
                "bob",
                "--password",
                "bob-pass-1",
                "--role",
                "superuser",
            ][..],
            "superuser",
        ),
        (&["user", "set-role", "admin", "boss"], "boss"),
        (&["user", "grant", "admin", "default", "rx"], "rx"),
    ] {
        let out = run_cli(root, &data, args, Input::Null).await;
        assert_fails_one_line(&out, &[value]);
    }
    assert_eq!(user_list(root, &data).await, before, "nothing changed");
}

/// The control socket refuses what it does not know: an unknown command, a known one with
/// missing fields and a line that is not JSON each get an error answer (never `null`, which
/// a caller would take for success), and nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn control_socket_refuses_unknown_and_malformed_requests() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixStream;

    let tmp = tempdir("auth-cli-control-unknown");
    let root = tmp.path();
    let mut d = Daemon::start_with_env(root, LOCAL_AUTH).await;
    let data = d.data_dir.clone();
    let sock = data.join("control.sock");
    let ask = |line: &str| -> Value {
        let mut s = UnixStream::connect(&sock).unwrap_or_else(|e| panic!("{sock:?}: {e}"));
        s.write_all(line.as_bytes()).expect("write request");
        s.write_all(b"\n").expect("write newline");
        let mut answer = String::new();
        BufReader::new(s)
            .read_line(&mut answer)
            .expect("read answer");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("answer {answer:?}: {e}"))
    };
    for (req, expect) in [
        (
            r#"{"cmd":"user_frobnicate","name":"eve"}"#,
            "unknown variant",
        ),
        (r#"{"cmd":"user_add","name":"eve"}"#, "missing field"),
        ("not json", "bad control request"),
    ] {
        let v = ask(req);
        let err = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{req}: expected an error answer, got {v}"));
        assert!(err.contains(expect), "{req}: {err:?} lacks {expect:?}");
    }
    // A known command still works, and nothing was added by the refused ones.
    let v = ask(r#"{"cmd":"user_list"}"#);
    let names: Vec<&str> = v["ok"]
        .as_array()
        .unwrap_or_else(|| panic!("user_list answered {v}"))
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["admin"], "{v}");
    d.stop().await;
}

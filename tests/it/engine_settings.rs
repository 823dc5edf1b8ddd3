//! Engine settings (README "Engine settings"): stored in redb, the environment only gives the
//! first start's values; the global peer limit applies at once to running torrents (vendored
//! patch 0006); the listen port and the IP blocklist apply after a restart and are named as
//! such until then; a blocklist that cannot be loaded does not keep the daemon from starting.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::*;

const KIB: usize = 1024;

async fn settings(d: &Daemon) -> Value {
    let (st, s) = d.get("/api/settings").await;
    assert_eq!(st, 200, "{s}");
    s
}

async fn patch(d: &Daemon, engine: Value) -> Value {
    let (st, s) = d
        .patch_json("/api/settings", &json!({ "engine": engine }))
        .await;
    assert_eq!(st, 200, "{s}");
    s
}

async fn peers(d: &Daemon, hashes: &[&str]) -> Vec<u64> {
    d.numbers("default", hashes, "peers").await
}

#[tokio::test(flavor = "multi_thread")]
async fn engine_settings_live_after_restart_and_first_start_defaults() {
    let tmp = tempdir("engine-settings");
    let root = tmp.path();
    let a = Payload::single(&root.join("src-a"), "a.bin", 3 * 1024 * KIB, &[], 32_768).await;
    let b = Payload::single(&root.join("src-b"), "b.bin", 3 * 1024 * KIB, &[], 32_768).await;
    let seed_a = Aria2::seed(root, "seed-a", &a.torrent_path, &a.parent, Some("128K")).await;
    let seed_b = Aria2::seed(root, "seed-b", &b.torrent_path, &b.parent, Some("128K")).await;
    let mut d = Daemon::start(root).await;
    let s = settings(&d).await;
    assert_eq!(
        s["engine"]["listen_port"], d.bt_port,
        "first start: the environment's port"
    );
    assert_eq!(s["engine"]["dht"], false, "{s}");
    assert_eq!(s["restart_needed"], json!([]), "{s}");

    // Bad values: refused, nothing changed.
    for bad in [
        json!({"peer_limit_torrent": 0}),
        json!({"bind_interface": "nope0"}),
        json!({"blocklist_url": "gopher://x"}),
        json!({"listen_port": 70000}),
    ] {
        let r = d
            .patch_json("/api/settings", &json!({ "engine": bad }))
            .await;
        assert!(r.0 == 400, "{bad}: {r:?}");
    }
    assert_eq!(settings(&d).await, s);

    // The global peer limit, at once: one peer connection for both torrents together.
    patch(&d, json!({"peer_limit_global": 1})).await;
    d.add_torrent_ok(
        "default",
        &a.torrent,
        &[("peers", &seed_a.addr().to_string())],
    )
    .await;
    d.add_torrent_ok(
        "default",
        &b.torrent,
        &[("peers", &seed_b.addr().to_string())],
    )
    .await;
    wait_for(20, "one torrent connected", async || {
        let p = peers(&d, &[&a.hash, &b.hash]).await;
        if p.iter().sum::<u64>() == 1 {
            Ok(())
        } else {
            Err(format!("{p:?}"))
        }
    })
    .await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let p = peers(&d, &[&a.hash, &b.hash]).await;
        assert!(p.iter().sum::<u64>() <= 1, "global limit 1: {p:?}");
    }
    let s = patch(&d, json!({"peer_limit_global": 0})).await;
    assert_eq!(s["restart_needed"], json!([]), "live: {s}");
    wait_for(20, "both torrents connected", async || {
        let p = peers(&d, &[&a.hash, &b.hash]).await;
        if p == [1, 1] {
            Ok(())
        } else {
            Err(format!("{p:?}"))
        }
    })
    .await;

    // The listen port: after a restart, although the environment still says the old one.
    let port = free_port();
    let s = patch(&d, json!({"listen_port": port, "pex": false})).await;
    assert_eq!(s["restart_needed"], json!(["listen_port"]), "{s}");
    assert_eq!(s["engine"]["pex"], false, "{s}");
    let out = crate::cli::run(
        root,
        &["engine", "show", "--data-dir", d.data_dir.to_str().unwrap()],
        &[],
        15.0,
    )
    .await;
    assert!(
        out.stdout.contains(&format!("listen_port\t{port}"))
            && out
                .stdout
                .contains("applies after a restart of the daemon: listen_port"),
        "{out}"
    );
    d.restart().await;
    let s = settings(&d).await;
    assert_eq!(s["restart_needed"], json!([]), "{s}");
    assert_eq!(s["engine"]["listen_port"], port, "{s}");
    wait_for(10, "the engine listening on the new port", async || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await;

    // A blocklist covering loopback, loaded at the next start: the seeders are refused.
    let list = StaticServer::start(
        b"loopback:127.0.0.0-127.255.255.255\n".to_vec(),
        "text/plain",
    )
    .await;
    let s = patch(&d, json!({"blocklist_url": list.url("/list.p2p")})).await;
    assert_eq!(s["restart_needed"], json!(["blocklist_url"]), "{s}");
    d.restart().await;
    let c = Payload::single(&root.join("src-c"), "c.bin", 512 * KIB, &[], 32_768).await;
    let seed_c = Aria2::seed(root, "seed-c", &c.torrent_path, &c.parent, None).await;
    d.add_torrent_ok(
        "default",
        &c.torrent,
        &[("peers", &seed_c.addr().to_string())],
    )
    .await;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let r = d.torrent(&c.hash).await;
        assert_eq!(r["downloaded"], 0, "a blocked peer sends nothing: {r}");
    }

    // A blocklist that cannot be loaded: the daemon starts without it.
    patch(
        &d,
        json!({"blocklist_url": format!("http://127.0.0.1:{}/gone", free_port())}),
    )
    .await;
    d.restart().await;
    d.wait_complete(&c.hash, 30).await;
}

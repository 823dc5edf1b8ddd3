//! Notifications and webhooks (README "Notifications"): adding and completing a torrent make
//! notices a user sees (unread count, mark as read); a webhook receiver that is down for 10 s
//! then up gets each event exactly once (retried), signed with HMAC-SHA256 of the body.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::*;

/// (signature header, body) of each request a receiver got.
type Got = Arc<Mutex<Vec<(Option<String>, Vec<u8>)>>>;

/// A webhook receiver on `port` answering 200 to everything.
async fn receiver(port: u16, got: Got) -> tokio::task::JoinHandle<()> {
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let got = got.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, len) = loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let sig = head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("x-pytorrentd-signature")
                        .then(|| v.trim().to_owned())
                });
                got.lock().unwrap().push((sig, buf[head_end..].to_vec()));
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    })
}

fn events(got: &Got) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .filter_map(|(_, b)| serde_json::from_slice::<Value>(b).ok())
        .map(|v| v["event"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn notices_for_users_and_signed_webhooks_with_retries() {
    let tmp = tempdir("notices");
    let root = tmp.path();
    let p = Payload::single(&root.join("src"), "note.bin", 300_000, &[], 16_384).await;
    let d = Daemon::start(root).await;
    let port = free_port();
    for bad in [
        json!({"url": "ftp://127.0.0.1/x", "events": ["added"]}),
        json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": []}),
        json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["exploded"]}),
    ] {
        let r = d.post_json("/api/webhooks", &bad).await;
        assert!(r.0 == 400, "{bad}: {r:?}");
    }
    let (st, hook) = d
        .post_json(
            "/api/webhooks",
            &json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["added", "completed"], "secret": "s3cret"}),
        )
        .await;
    assert_eq!(st, 201, "{hook}");
    assert_eq!(hook["has_secret"], true);
    assert!(
        hook.get("secret").is_none(),
        "the secret is never shown: {hook}"
    );
    let hook_id = hook["id"].as_str().unwrap().to_owned();

    // The receiver is down while the torrent is added and completes.
    p.copy_into(&d.download_dir);
    d.add_torrent_ok("default", &p.torrent, &[]).await;
    d.wait_complete(&p.hash, 30).await;
    // The completion is recorded by the queue's next pass.
    let n = wait_for(10, "the added and completed notices", async || {
        let (_, n) = d.get("/api/me/notifications").await;
        let kinds: Vec<String> = n["entries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["event"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if kinds.iter().any(|k| k == "added") && kinds.iter().any(|k| k == "completed") {
            Ok(n)
        } else {
            Err(n.to_string())
        }
    })
    .await;
    assert!(n["unread"].as_u64().unwrap() >= 2, "{n}");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let got: Got = Default::default();
    let server = receiver(port, got.clone()).await;
    wait_for(
        40,
        "both events delivered after the receiver came up",
        async || {
            let e = events(&got);
            if e.contains(&"added".to_owned()) && e.contains(&"completed".to_owned()) {
                Ok(())
            } else {
                Err(format!("{e:?}"))
            }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut e = events(&got);
    e.sort();
    assert_eq!(e, ["added", "completed"], "each event exactly once");
    for (sig, body) in got.lock().unwrap().iter() {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sig.as_deref(), Some(expected.as_str()), "signature");
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["torrent"]["hash"], p.hash, "{v}");
    }
    let (_, hooks) = d.get("/api/webhooks").await;
    let last = &hooks[0]["last_delivery"];
    assert_eq!(last["delivered"], true, "{hooks}");
    assert!(last["attempts"].as_u64().unwrap() > 1, "retried: {hooks}");

    // "Send test" and mark as read.
    let (st, t) = d.post_empty(&format!("/api/webhooks/{hook_id}/test")).await;
    assert_eq!((st, t["delivered"].clone()), (200, json!(true)), "{t}");
    wait_for(10, "the test event", async || {
        if events(&got).contains(&"test".to_owned()) {
            Ok(())
        } else {
            Err(format!("{:?}", events(&got)))
        }
    })
    .await;
    let (st, _) = d.post_json("/api/me/notifications/read", &json!({})).await;
    assert_eq!(st, 204);
    let (_, n) = d.get("/api/me/notifications").await;
    assert_eq!(n["unread"], 0, "{n}");
    let r = d
        .post_json("/api/me/notifications/read", &json!({"up_to": "nonsense"}))
        .await;
    assert_error("up_to nonsense", &r, 400, "invalid_input");
    server.abort();
}

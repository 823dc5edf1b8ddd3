//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the same functions as
//! the fuzz targets, on the stable toolchain, as part of `cargo test`: every input that once
//! crashed a target (`regression-*`) and every input that reached new code stays harmless.
//! The fuzzing itself (nightly, `fuzz/run.sh`) is described in docs/reliability.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::{FromRequest, Multipart};
use http::{HeaderMap, HeaderName, HeaderValue};
use librqbit_core::torrent_metainfo::torrent_from_bytes;
use pytorrentd::auth::request::{
    app_origin, check_host, check_origin, check_socket_origin, client_ip, host_value_accepted,
};
use pytorrentd::config::{BypassHost, Config, Origin, ServeOverrides, parse_host_header};
use pytorrentd::engine::validate::{check_info, check_torrent_file};

/// The files of one corpus; fails when there are none (a corpus must not go missing
/// silently).
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
        .map(|e| {
            let p = e.expect("corpus entry").path();
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            (p, data)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "corpus {target} has only {} files",
        files.len()
    );
    files
}

/// Runs `f` on every input of `target`, naming the input that panics.
fn replay(target: &str, f: impl Fn(&[u8])) {
    for (path, data) in corpus(target) {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&data)));
        assert!(r.is_ok(), "{target}: input {path:?} panics");
    }
}

#[test]
fn torrent_corpus() {
    replay("torrent", |data| {
        if let Ok(checked) = check_torrent_file(data)
            && let Ok(t) = torrent_from_bytes(data)
            && let Ok(info) = t.info.data.validate()
        {
            assert_eq!(info.lengths().total_length(), checked.total);
            assert_eq!(info.lengths().default_piece_length(), checked.piece_length);
            assert_eq!(info.iter_file_details().count(), checked.files);
        }
        let _ = pytorrentd::engine::read_torrent(data);
        let _ = check_info(data);
    });
    // The regression inputs are refused, not merely survived.
    for (path, data) in corpus("torrent") {
        if path.to_string_lossy().contains("regression-") {
            assert!(check_torrent_file(&data).is_err(), "{path:?} accepted");
        }
    }
}

#[test]
fn magnet_corpus() {
    replay("magnet", |data| {
        if let Ok(s) = std::str::from_utf8(data) {
            let _ = pytorrentd::engine::read_magnet(s);
            let _ = pytorrentd::limits::magnet_display_name(s);
        }
    });
    for (path, data) in corpus("magnet") {
        if path.to_string_lossy().contains("regression-") {
            let s = String::from_utf8_lossy(&data);
            assert!(
                pytorrentd::engine::read_magnet(&s).is_err(),
                "{path:?} accepted"
            );
        }
    }
}

#[test]
fn multipart_corpus() {
    const CONTENT_TYPES: [&str; 4] = [
        "multipart/form-data; boundary=X",
        "multipart/form-data; boundary=\"----pytorrentd\"",
        "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
        "multipart/form-data",
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    replay("multipart", |data| {
        let Some((&pick, body)) = data.split_first() else {
            return;
        };
        let req = http::Request::builder()
            .method("POST")
            .uri("/api/profiles/default/torrents")
            .header(
                http::header::CONTENT_TYPE,
                CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()],
            )
            .body(axum::body::Body::from(body.to_vec()))
            .expect("request");
        rt.block_on(async {
            if let Ok(mp) = Multipart::from_request(req, &()).await {
                let _ = pytorrentd::http::torrents::read_multipart(mp).await;
            }
        });
    });
}

fn fuzz_config() -> Config {
    let vars = [
        ("PYTORRENT_DATA_DIR", "/nonexistent/pytorrentd-fuzz"),
        ("PYTORRENT_PROXY_FIX_ENABLE", "true"),
        (
            "PYTORRENT_AUTH_TRUSTED_PROXIES",
            "127.0.0.1/32,::1/128,10.0.0.0/8",
        ),
        (
            "PYTORRENT_API_ALLOWED_ORIGINS",
            "https://torrents.example.com",
        ),
        (
            "PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS",
            "http://10.0.0.5:8090",
        ),
        (
            "PYTORRENT_AUTH_BYPASS_HOSTS",
            "localhost,10.0.0.5:8090,[::1]",
        ),
        ("PYTORRENT_ALLOWED_HOSTS", "torrents.example.com,nas.lan"),
    ];
    Config::from_vars(
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        &ServeOverrides::default(),
    )
    .expect("fuzz config")
    .0
}

#[test]
fn request_headers_corpus() {
    let cfg = fuzz_config();
    replay("request_headers", |data| {
        let Some((&pick, rest)) = data.split_first() else {
            return;
        };
        let peer: SocketAddr = match pick % 3 {
            0 => ([127, 0, 0, 1], 40000).into(),
            1 => ([192, 168, 1, 9], 40000).into(),
            _ => "[::ffff:10.1.2.3]:40000".parse().expect("peer"),
        };
        let mut headers = HeaderMap::new();
        for line in rest.split(|&b| b == b'\n') {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name),
                HeaderValue::from_bytes(value.trim_ascii()),
            ) {
                headers.append(n, v);
            }
            if let Ok(s) = std::str::from_utf8(value) {
                let _ = parse_host_header(s);
                let _ = host_value_accepted(&cfg, s);
                let _ = Origin::parse(s);
                let _ = Origin::parse_config(s);
                if let Ok(h) = BypassHost::parse(s) {
                    let _ = h.matches(s);
                }
            }
        }
        let _ = check_host(&cfg, &headers);
        let _ = client_ip(&cfg, Some(peer), &headers);
        if let Some(origin) = app_origin(&cfg, Some(peer), &headers).origin {
            assert_eq!(Origin::parse(origin.as_str()).ok(), Some(origin.clone()));
        }
        let _ = check_origin(&cfg, Some(peer), &headers);
        let _ = check_socket_origin(&cfg, Some(peer), &headers);
    });
}

#[test]
fn config_corpus() {
    replay("config", |data| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let vars: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if let Ok((cfg, _)) = Config::from_vars(vars, &ServeOverrides::default()) {
            let _ = cfg.render_masked();
            let _ = cfg.risk_warnings();
        }
    });
}

//! The multipart form of the add route (`POST /api/profiles/{id}/torrents`), read by
//! `http::torrents::read_multipart` from a request whose body is the fuzz input. The first
//! byte picks one of a few Content-Type headers (boundary spellings included).
#![no_main]

use std::sync::OnceLock;

use axum::extract::{FromRequest, Multipart};
use libfuzzer_sys::fuzz_target;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime")
    })
}

const CONTENT_TYPES: [&str; 4] = [
    "multipart/form-data; boundary=X",
    "multipart/form-data; boundary=\"----pytorrentd\"",
    "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
    "multipart/form-data",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let ct = CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()];
    let req = http::Request::builder()
        .method("POST")
        .uri("/api/profiles/default/torrents")
        .header(http::header::CONTENT_TYPE, ct)
        .body(axum::body::Body::from(body.to_vec()))
        .expect("request");
    runtime().block_on(async {
        if let Ok(mp) = Multipart::from_request(req, &()).await {
            let _ = pytorrentd::http::torrents::read_multipart(mp).await;
        }
    });
});

//! The compiled-in single-page UI (`assets/`), with SPA fallback for client routes. Page
//! loads go through the identity resolver: unauthenticated visitors are sent to `/login`
//! (local provider) or shown what the proxy failed to send (external providers).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use rust_embed::RustEmbed;

use crate::auth::request::app_origin;
use crate::auth::{Denied, resolve};
use crate::config::AuthProvider;
use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

fn file_response(path: &str, data: Vec<u8>) -> Response {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    // Hashed build outputs never change; everything else must be revalidated.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(mime.as_ref())
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        Body::from(data),
    )
        .into_response()
}

fn index() -> Response {
    match Assets::get("index.html") {
        Some(f) => file_response("index.html", f.data.into_owned()),
        None => (StatusCode::NOT_FOUND, "UI not built").into_response(),
    }
}

pub(crate) fn explain(status: StatusCode, title: &str, msg: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pytorrentd: {}</title></head><body><h1>{}</h1><p>{}</p></body></html>",
        esc(title),
        esc(title),
        esc(msg)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

pub async fn serve(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let path = uri.path().trim_start_matches('/');
    // Static files carry no data: the login page needs them before anyone is known.
    if !path.is_empty()
        && path != "index.html"
        && let Some(file) = Assets::get(path)
    {
        return file_response(path, file.data.into_owned());
    }
    if path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
    {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let cfg = &st.config;
    let prefix = app_origin(cfg, Some(peer), &headers).prefix;
    let who = resolve(cfg, &st.store, &headers, Some(peer));
    let local = cfg.auth_provider == AuthProvider::Local;
    if path == "login" {
        // The login form only makes sense for the local provider and strangers.
        return if local && who.is_err() {
            index()
        } else {
            super::found(&format!("{prefix}/"))
        };
    }
    match who {
        Ok(_) => index(),
        Err(Denied::NotLoggedIn) if local => super::found(&format!("{prefix}/login")),
        Err(Denied::Internal(e)) => {
            tracing::error!("page load: {e}");
            explain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                "See the server log.",
            )
        }
        Err(d) => explain(StatusCode::UNAUTHORIZED, "Not signed in", &d.message(cfg)),
    }
}

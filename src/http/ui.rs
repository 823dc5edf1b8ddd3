//! The compiled-in single-page UI (`assets/`), with SPA fallback for client routes. Page
//! loads go through the identity resolver: unauthenticated visitors are sent to `/login`
//! (local provider) or shown what the proxy failed to send (external providers).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use rust_embed::RustEmbed;

use crate::access::AuthProvider;
use crate::auth::request::app_origin;
use crate::auth::{Denied, resolve};
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

/// What a server-rendered page says: a title and plain words for anyone, what to do next,
/// and the technical detail (for whoever runs the server) folded below.
pub(crate) struct Explained<'a> {
    pub title: &'a str,
    pub plain: &'a str,
    pub next: &'a str,
    pub detail: &'a str,
}

/// A small page in the app's look (`page.css`: both themes, phone-sized). `prefix` is the
/// path the app is served under behind a proxy ("" at the root).
pub(crate) fn explain(status: StatusCode, e: &Explained, prefix: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let prefix = esc(prefix);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"dark light\">\
<title>pytorrentd: {title}</title>\
<link rel=\"icon\" href=\"{prefix}/favicon.svg\" type=\"image/svg+xml\">\
<link rel=\"stylesheet\" href=\"{prefix}/page.css\"></head>\
<body><main class=\"page\"><div class=\"brand\"><img src=\"{prefix}/favicon.svg\" alt=\"\">pytorrentd</div>\
<h1>{title}</h1><p>{plain}</p><p class=\"next\">{next}</p>\
<details><summary>Technical details</summary><p class=\"detail\">{detail}</p></details>\
</main></body></html>",
        title = esc(e.title),
        plain = esc(e.plain),
        next = esc(e.next),
        detail = esc(e.detail),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// The page for a visitor the resolver could not identify (external providers).
fn not_signed_in(d: &Denied, cfg: &crate::config::Config, prefix: &str) -> Response {
    let detail = d.message(cfg);
    let (title, plain, next) = match d {
        Denied::UnknownUser(_) => (
            "Your account is not set up here",
            "You are signed in with your sign-in service, but pytorrentd does not know your account yet.",
            "Ask the person who runs this server to add your account, then reload this page.",
        ),
        _ => (
            "You are not signed in",
            "pytorrentd could not tell who you are. This server relies on a sign-in service in front of it (a reverse proxy) to say who you are, and this time it did not.",
            "Open pytorrentd through the address you usually use and sign in there. If that does not help, show this page to the person who runs the server.",
        ),
    };
    explain(
        StatusCode::UNAUTHORIZED,
        &Explained {
            title,
            plain,
            next,
            detail: &detail,
        },
        prefix,
    )
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
                &Explained {
                    title: "Something went wrong",
                    plain: "pytorrentd hit an internal error while loading this page.",
                    next: "Try again in a moment. If it keeps happening, the server log says what went wrong.",
                    detail: "internal error (the cause is in the server log)",
                },
                &prefix,
            )
        }
        Err(d) => not_signed_in(&d, cfg, &prefix),
    }
}

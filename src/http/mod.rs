//! The HTTP surface: router, security headers, JSON fallbacks, OpenAPI and the embedded UI.
//! Handlers stay thin: extract, check permission, call the engine, serialize.

mod audit;
pub mod auth;
mod conventions;
mod error;
mod extract;
pub mod files;
pub mod me;
pub mod profiles;
pub mod qbit;
pub mod rss;
pub mod server;
pub mod torrents;
mod ui;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;

use conventions::Conventions;
pub use error::{ApiError, ErrorCode};
pub use extract::peer_of;

use crate::auth::Identity;
use crate::engine::{MAX_TORRENT_BYTES, Stats};
use crate::state::AppState;

/// The CSP: no inline script, no framing (docs/security.md).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` while database writes fail (then the answer is 503).
    status: &'static str,
    /// What fails, when degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<String>,
}

/// Liveness and the truth about writes: a store whose writes fail (full disk, I/O error)
/// answers 503 `degraded` until a write succeeds again.
#[utoipa::path(get, path = "/api/health", tag = "system", responses(
    (status = 200, description = "Serving; database writes work", body = Health),
    (status = 503, description = "Serving, but database writes fail", body = Health),
))]
async fn health(State(st): State<AppState>) -> axum::response::Response {
    let store = st.store.clone();
    let r = tokio::task::spawn_blocking(move || store.health())
        .await
        .unwrap_or_else(|e| Err(format!("health check failed: {e}")));
    match r {
        Ok(()) => Json(Health {
            status: "ok",
            store: None,
        })
        .into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "degraded",
                store: Some(why),
            }),
        )
            .into_response(),
    }
}

#[utoipa::path(get, path = "/api/stats", tag = "system", responses((status = 200, body = Stats)))]
async fn stats(State(st): State<AppState>, id: Identity) -> Json<Stats> {
    let mut s = st.engine.stats();
    if !id.is_admin() {
        // Totals only over what the caller may see.
        s.profiles
            .retain(|p| id.level(&p.id) != crate::access::Level::None);
        s.torrents = s.profiles.iter().map(|p| p.torrents).sum();
        s.dl_speed = s.profiles.iter().map(|p| p.dl_speed).sum();
        s.ul_speed = s.profiles.iter().map(|p| p.ul_speed).sum();
    }
    Json(s)
}

/// How far a traffic history goes back.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
enum HistoryRange {
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// `1h`, `24h`, `7d` or `30d` (default `24h`).
    #[param(inline)]
    range: Option<HistoryRange>,
    /// One profile (default: every profile the caller sees, summed).
    profile: Option<String>,
}

/// A traffic history: bytes per bucket of `step` seconds from `from` (unix seconds) to now;
/// buckets without traffic are left out.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct History {
    from: i64,
    step: i64,
    points: Vec<crate::engine::traffic::Point>,
}

#[utoipa::path(get, path = "/api/stats/history", tag = "system", operation_id = "traffic_history",
    params(HistoryQuery),
    responses((status = 200, body = History), (status = 400, description = "an unknown range"), (status = 404, description = "no such profile (or not visible)")))]
async fn history(
    State(st): State<AppState>,
    id: Identity,
    extract::ApiQuery(q): extract::ApiQuery<HistoryQuery>,
) -> Result<Json<History>, ApiError> {
    let (secs, step) = match q.range.unwrap_or(HistoryRange::Day) {
        HistoryRange::Hour => (3600, 60),
        HistoryRange::Day => (86_400, 60),
        HistoryRange::Week => (7 * 86_400, 600),
        HistoryRange::Month => (30 * 86_400, 600),
    };
    let profiles: Vec<String> = match q.profile {
        Some(p) => {
            id.require(&p, crate::auth::Need::Read)?;
            st.engine.profile(&p)?;
            vec![p]
        }
        None => st
            .engine
            .profiles()
            .into_iter()
            .map(|p| p.id)
            .filter(|p| id.level(p) != crate::access::Level::None)
            .collect(),
    };
    let from = chrono::Utc::now().timestamp() - secs;
    let engine = st.engine.clone();
    let points = tokio::task::spawn_blocking(move || engine.traffic_history(&profiles, from, step))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(Json(History { from, step, points }))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pytorrentd API",
        description = "BitTorrent daemon API. Errors are {\"error\":{\"code\",\"message\"}}."
    ),
    paths(
        health,
        stats,
        history,
        auth::login,
        auth::me,
        auth::list_users,
        auth::create_user,
        auth::update_user,
        auth::delete_user,
        auth::list_tokens,
        auth::create_token,
        auth::delete_token,
        me::get_account,
        me::change_password,
        me::list_sessions,
        me::revoke_session,
        me::revoke_other_sessions,
        me::get_preferences,
        me::put_preferences,
        profiles::list,
        profiles::create,
        profiles::update,
        profiles::delete,
        torrents::list,
        torrents::add,
        torrents::details,
        torrents::files,
        torrents::peers,
        torrents::trackers,
        torrents::action,
        torrents::patch,
        torrents::delete,
        files::content,
        files::archive,
        files::torrent_file,
        files::create_torrent,
        files::list_creations,
        files::get_creation,
        files::cancel_creation,
        files::browse,
        profiles::get_settings,
        profiles::update_settings,
        files::backup,
        audit::list,
        me::notifications,
        profiles::list_webhooks,
        profiles::create_webhook,
        profiles::update_webhook,
        profiles::delete_webhook,
        profiles::test_webhook,
        me::mark_notifications_read,
        profiles::backup_now,
        rss::list_feeds,
        rss::create_feed,
        rss::update_feed,
        rss::delete_feed,
        rss::refresh_feed,
        rss::feed_items,
        rss::list_rules,
        rss::create_rule,
        rss::update_rule,
        rss::delete_rule,
        rss::preview,
        rss::history,
    ),
    components(schemas(
        error::ErrorBody,
        error::ErrorDetail,
        torrents::TorrentAction,
        conventions::RoleName,
        conventions::LevelName
    )),
    modifiers(&Conventions)
)]
pub struct ApiDoc;

async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// A plain `302 Found` (what logout and login redirects answer, README "Authentication").
pub(crate) fn found(location: &str) -> axum::response::Response {
    let loc = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::FOUND, [(header::LOCATION, loc)]).into_response()
}

async fn api_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such API endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this method is not allowed on this endpoint",
    )
}

fn api_router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/stats", get(stats))
        .route("/stats/history", get(history))
        .route("/auth/login", post(auth::login))
        .route("/auth/me", get(auth::me))
        .route("/users", get(auth::list_users).post(auth::create_user))
        .route(
            "/users/{name}",
            axum::routing::patch(auth::update_user).delete(auth::delete_user),
        )
        .route("/tokens", get(auth::list_tokens).post(auth::create_token))
        .route("/tokens/{id}", axum::routing::delete(auth::delete_token))
        .route("/me", get(me::get_account))
        .route("/me/password", post(me::change_password))
        .route(
            "/me/sessions",
            get(me::list_sessions).delete(me::revoke_other_sessions),
        )
        .route(
            "/me/sessions/{sid}",
            axum::routing::delete(me::revoke_session),
        )
        .route("/me/notifications", get(me::notifications))
        .route("/me/notifications/read", post(me::mark_notifications_read))
        .route(
            "/me/preferences",
            get(me::get_preferences).put(me::put_preferences),
        )
        .route("/profiles", get(profiles::list).post(profiles::create))
        .route(
            "/profiles/{id}",
            axum::routing::patch(profiles::update).delete(profiles::delete),
        )
        .route(
            "/profiles/{id}/torrents",
            get(torrents::list).post(torrents::add),
        )
        .route(
            "/torrents/{hash}",
            get(torrents::details)
                .patch(torrents::patch)
                .delete(torrents::delete),
        )
        .route("/torrents/{hash}/files", get(torrents::files))
        .route("/torrents/{hash}/peers", get(torrents::peers))
        .route("/torrents/{hash}/trackers", get(torrents::trackers))
        .route(
            "/torrents/{hash}/files/{index}/content",
            get(files::content),
        )
        .route("/torrents/{hash}/archive", get(files::archive))
        .route("/torrents/{hash}/torrent", get(files::torrent_file))
        .route("/profiles/{id}/create-torrent", post(files::create_torrent))
        .route("/profiles/{id}/browse", get(files::browse))
        .route(
            "/settings",
            get(profiles::get_settings).patch(profiles::update_settings),
        )
        .route("/backup", get(files::backup).post(profiles::backup_now))
        .route("/creations", get(files::list_creations))
        .route(
            "/creations/{cid}",
            get(files::get_creation).delete(files::cancel_creation),
        )
        .route("/torrents/{hash}/{action}", post(torrents::action))
        .route("/audit", get(audit::list))
        .route(
            "/webhooks",
            get(profiles::list_webhooks).post(profiles::create_webhook),
        )
        .route(
            "/webhooks/{id}",
            axum::routing::patch(profiles::update_webhook).delete(profiles::delete_webhook),
        )
        .route("/webhooks/{id}/test", post(profiles::test_webhook))
        .route("/rss/feeds", get(rss::list_feeds).post(rss::create_feed))
        .route(
            "/rss/feeds/{id}",
            axum::routing::patch(rss::update_feed).delete(rss::delete_feed),
        )
        .route("/rss/feeds/{id}/refresh", post(rss::refresh_feed))
        .route("/rss/feeds/{id}/items", get(rss::feed_items))
        .route("/rss/rules", get(rss::list_rules).post(rss::create_rule))
        .route(
            "/rss/rules/{id}",
            axum::routing::patch(rss::update_rule).delete(rss::delete_rule),
        )
        .route("/rss/preview", post(rss::preview))
        .route("/rss/history", get(rss::history))
        .merge(qbit::router())
        // Every route, the qBittorrent API's too: what changes is in the audit log.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::layer,
        ))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// Methods that change something, which the origin check covers.
fn is_unsafe(m: &http::Method) -> bool {
    matches!(
        *m,
        http::Method::POST | http::Method::PUT | http::Method::PATCH | http::Method::DELETE
    )
}

/// The origin check (against cross-site requests) for unsafe methods on the API and `/logout`.
async fn origin_guard(
    State(st): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if is_unsafe(req.method()) {
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0);
        if let Err(e) = crate::auth::request::check_origin(&st.config, peer, req.headers()) {
            return ApiError::from(e).into_response();
        }
    }
    next.run(req).await
}

/// The Host check (DNS rebinding defence) in front of everything but the health probe, which
/// load balancers and `curl` call by whatever name they know.
async fn host_guard(
    State(st): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use crate::auth::request::{HostVerdict, check_host};
    // The health probe, and the stylesheet of the page that explains a refusal (it holds no
    // data, so serving it to any name reveals nothing).
    let health = req.method() == http::Method::GET
        && matches!(req.uri().path(), "/api/health" | "/page.css");
    let verdict = check_host(&st.config, req.headers());
    let err = match verdict {
        HostVerdict::Accepted => return next.run(req).await,
        HostVerdict::Rejected(_) if health => return next.run(req).await,
        HostVerdict::Duplicate => ApiError::new(
            ErrorCode::DuplicateHost,
            "the request carries more than one Host header",
        ),
        HostVerdict::Rejected(host) => ApiError::new(
            ErrorCode::HostRejected,
            if host.is_empty() {
                "the request has no Host header; pytorrentd answers only to the names it knows (PYTORRENT_ALLOWED_HOSTS)".to_owned()
            } else {
                format!(
                    "'{}' is not a name this server answers to; if this is how you reach pytorrentd, add the host name to PYTORRENT_ALLOWED_HOSTS",
                    host.chars().take(200).collect::<String>().escape_default()
                )
            },
        ),
    };
    let path = req.uri().path();
    let wants_page = !path.starts_with("/api/")
        && !path.starts_with("/socket.io")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_page {
        return ui::explain(
            err.status,
            &ui::Explained {
                title: "Unknown server name",
                plain: "This server does not answer to the name you used to reach it. That protects it from web pages that try to reach it under a borrowed name.",
                next: "Use the address you normally use for pytorrentd, or ask the person who runs it to add this name.",
                detail: &err.message,
            },
            "",
        );
    }
    err.into_response()
}

async fn count_responses(
    State(st): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let resp = next.run(req).await;
    st.metrics.http_response(resp.status().as_u16());
    resp
}

/// `GET PYTORRENT_METRICS_PATH`: Prometheus text, limited to PYTORRENT_METRICS_ALLOWED_IPS
/// (direct peers) when that is set.
async fn metrics(
    State(st): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
) -> axum::response::Response {
    let allowed = &st.config.metrics_allowed_ips;
    if !allowed.is_empty() && !crate::config::ip_in(allowed, peer.ip()) {
        return ApiError::forbidden(format!(
            "{} is not in PYTORRENT_METRICS_ALLOWED_IPS",
            peer.ip()
        ))
        .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        crate::metrics::render(&st),
    )
        .into_response()
}

fn panic_response(p: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    ApiError::internal(format!("request handler panicked: {msg}")).into_response()
}

/// The request-head limits of `crate::limits` that reach the router: a request target over
/// `HTTP_URI_MAX_BYTES` is 414, header fields over `HTTP_HEAD_MAX_BYTES` in all are 431,
/// both with the JSON error body and the exact sizes. (hyper refuses most oversized heads
/// itself before the router runs, and `server` turns those answers into JSON too; but its
/// buffer limit is checked between reads, so a large head that arrives in one read can get
/// through it.)
async fn head_limits(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use crate::limits::{HTTP_HEAD_MAX_BYTES, HTTP_URI_MAX_BYTES};
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().len())
        .unwrap_or(0);
    if target > HTTP_URI_MAX_BYTES {
        return ApiError::new(
            ErrorCode::UriTooLong,
            format!(
                "the request target is {target} bytes; at most {HTTP_URI_MAX_BYTES} are accepted"
            ),
        )
        .into_response();
    }
    let bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if target + bytes > HTTP_HEAD_MAX_BYTES {
        return ApiError::new(ErrorCode::HeadersTooLarge,
            format!(
                "the request head is about {} bytes; at most {HTTP_HEAD_MAX_BYTES} bytes for the request line and header fields together are accepted",
                target + bytes
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// The API, `/logout`, the metrics route and the UI, compressed. The live feed is attached
/// around these by the composition root (`crate::app`), inside [`outer_layers`].
pub fn routes(state: &AppState) -> Router<AppState> {
    let guarded = Router::new()
        .nest("/api", api_router(state))
        .route("/logout", get(auth::logout).post(auth::logout))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin_guard,
        ));
    let mut app = Router::new().merge(guarded);
    if state.config.metrics_enable {
        app = app.route(&state.config.metrics_path, get(metrics));
    }
    app.fallback(ui::serve)
        // Last line of defence: a panic in a handler answers a JSON 500 (cause logged)
        // instead of dropping the connection. Known bad inputs never get this far: they are
        // refused with a 4xx before any code that could panic on them.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        // gzip or brotli as the client prefers (the UI bundle shrinks about 3x).
        .layer(tower_http::compression::CompressionLayer::new())
}

/// What every request passes first, the live feed included: the Host check, response
/// counting, the body limit and the security headers.
pub fn outer_layers(inner: Router<AppState>, state: AppState) -> Router {
    inner
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            host_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_responses,
        ))
        // Multipart framing needs a little room above the 10 MiB .torrent limit.
        .layer(DefaultBodyLimit::max(MAX_TORRENT_BYTES + 64 * 1024))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // Downloaded files carry their own, stricter policy (`files::FILE_CSP`).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // First of all: a head outside the limits gets no further.
        .layer(axum::middleware::from_fn(head_limits))
        .with_state(state)
}

//! The HTTP surface: router, security headers, JSON fallbacks, OpenAPI and the embedded UI.
//! Handlers stay thin: extract, check permission, call the engine, serialize.

mod error;
mod extract;
pub mod profiles;
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

pub use error::ApiError;

use crate::auth::Identity;
use crate::engine::{MAX_TORRENT_BYTES, Stats};
use crate::state::AppState;

/// The CSP: no inline script, no framing (SPEC §3).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

#[utoipa::path(get, path = "/api/health", tag = "system", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[utoipa::path(get, path = "/api/stats", tag = "system", responses((status = 200, body = Stats)))]
async fn stats(State(st): State<AppState>, id: Identity) -> Json<Stats> {
    let mut s = st.engine.stats();
    if !id.is_admin() {
        // Totals only over what the caller may see.
        s.profiles
            .retain(|p| id.level(&p.id) != crate::config::Level::None);
        s.torrents = s.profiles.iter().map(|p| p.torrents).sum();
        s.dl_speed = s.profiles.iter().map(|p| p.dl_speed).sum();
        s.ul_speed = s.profiles.iter().map(|p| p.ul_speed).sum();
    }
    Json(s)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    username: String,
    role: &'static str,
    provider: &'static str,
    bypass: bool,
    logout_available: bool,
    #[schema(value_type = std::collections::HashMap<String, String>)]
    permissions: std::collections::HashMap<String, crate::config::Level>,
}

#[utoipa::path(get, path = "/api/auth/me", tag = "auth", responses((status = 200, body = Me), (status = 401)))]
async fn me(State(st): State<AppState>, id: Identity) -> Json<Me> {
    let logout_available = st.config.auth_enable
        && !id.bypass
        && st.config.auth_provider == crate::config::AuthProvider::Local;
    Json(Me {
        username: id.username,
        role: id.role.as_str(),
        provider: id.provider.as_str(),
        bypass: id.bypass,
        logout_available,
        permissions: id.permissions,
    })
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
        me,
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
    )
)]
pub struct ApiDoc;

async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

async fn api_not_found() -> ApiError {
    ApiError::not_found("not_found", "no such API endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed on this endpoint",
    )
}

fn api_router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/stats", get(stats))
        .route("/auth/me", get(me))
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
        .route("/torrents/{hash}/{action}", post(torrents::action))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api", api_router())
        .fallback(ui::serve)
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
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .with_state(state)
}

//! Profile endpoints: everyone lists what they can see; changes are admin-only.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;

use super::ApiError;
use super::extract::{ApiJson, ApiPath};
use crate::auth::Identity;
use crate::engine::profiles::{ProfilePatch, ProfileView};
use crate::state::AppState;
use crate::store::ProfileRecord;

/// The profile as `id` sees it (`None` when it is invisible to them).
pub fn view(p: &ProfileRecord, id: &Identity) -> Option<ProfileView> {
    ProfileView::of(p, id.view_level(&p.id))
}

#[utoipa::path(get, path = "/api/profiles", tag = "profiles",
    responses((status = 200, body = Vec<ProfileView>)))]
pub async fn list(State(st): State<AppState>, id: Identity) -> Json<Vec<ProfileView>> {
    Json(
        st.engine
            .profiles()
            .iter()
            .filter_map(|p| view(p, &id))
            .collect(),
    )
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProfile {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub download_dir: String,
    #[serde(default)]
    pub max_active_downloads: u32,
}

#[utoipa::path(post, path = "/api/profiles", tag = "profiles", request_body = NewProfile,
    responses((status = 201, body = ProfileView), (status = 400), (status = 403), (status = 409)))]
pub async fn create(
    State(st): State<AppState>,
    id: Identity,
    ApiJson(n): ApiJson<NewProfile>,
) -> Result<(StatusCode, Json<ProfileView>), ApiError> {
    id.require_admin()?;
    let p = st.engine.create_profile(ProfileRecord {
        id: n.id,
        name: n.name,
        download_dir: n.download_dir.into(),
        max_active_downloads: n.max_active_downloads,
        created_at: None,
    })?;
    let v = view(&p, &id).ok_or_else(|| ApiError::internal("admin view missing"))?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(patch, path = "/api/profiles/{id}", tag = "profiles", request_body = ProfilePatch,
    params(("id" = String, Path)),
    responses((status = 200, body = ProfileView), (status = 400), (status = 403), (status = 404)))]
pub async fn update(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(pid): ApiPath<String>,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<Json<ProfileView>, ApiError> {
    id.require_admin()?;
    let p = st.engine.update_profile(&pid, patch)?;
    view(&p, &id)
        .map(Json)
        .ok_or_else(|| ApiError::internal("admin view missing"))
}

#[utoipa::path(delete, path = "/api/profiles/{id}", tag = "profiles",
    params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn delete(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(pid): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    id.require_admin()?;
    st.engine.delete_profile(&pid)?;
    Ok(StatusCode::NO_CONTENT)
}

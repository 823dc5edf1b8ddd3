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

#[utoipa::path(get, path = "/api/profiles", tag = "profiles", operation_id = "list_profiles",
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
    /// 1-64 characters among a-z, 0-9, '-' and '_'.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub id: String,
    /// Display name, at most 128 printable characters; empty (the default) = the id.
    #[serde(default)]
    #[schema(
        max_length = 128,
        pattern = r"^$|^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029][^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
    )]
    pub name: String,
    /// Absolute path of an existing, writable directory.
    #[schema(min_length = 1, max_length = 4096)]
    pub download_dir: String,
    /// Downloads running at once in this profile; 0 (the default) = unlimited.
    #[serde(default)]
    #[schema(maximum = 1000)]
    pub max_active_downloads: u32,
    /// Download limit shared by the profile's torrents, bytes/s; 0 (the default) = unlimited.
    #[serde(default)]
    pub dl_limit: u64,
    /// Upload limit shared by the profile's torrents, bytes/s; 0 (the default) = unlimited.
    #[serde(default)]
    pub ul_limit: u64,
}

#[utoipa::path(post, path = "/api/profiles", tag = "profiles", operation_id = "create_profile", request_body = NewProfile,
    responses((status = 201, body = ProfileView), (status = 409, description = "a profile with this id exists")))]
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
        dl_limit: n.dl_limit,
        ul_limit: n.ul_limit,
        ..Default::default()
    })?;
    let v = view(&p, &id).ok_or_else(|| ApiError::internal("admin view missing"))?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(patch, path = "/api/profiles/{id}", tag = "profiles", operation_id = "update_profile", request_body = ProfilePatch,
    params(super::torrents::ProfilePath),
    responses((status = 200, body = ProfileView), (status = 404, description = "no such profile")))]
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

#[utoipa::path(delete, path = "/api/profiles/{id}", tag = "profiles", operation_id = "delete_profile",
    params(super::torrents::ProfilePath),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such profile"), (status = 409, description = "the profile still has torrents, or is the last one")))]
pub async fn delete(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(pid): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    id.require_admin()?;
    st.engine.delete_profile(&pid)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Settings changed at run time (admin): the global share limits and speed limits (README
/// "Share limits", "Speed limits").
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    /// Global share limits; null fields mean none.
    pub share: crate::store::ShareLimits,
    /// Global speed limits, the alternative pair, its switch and schedule.
    pub speed: crate::engine::speed::SpeedSettings,
    /// Engine settings as stored (README "Engine settings").
    pub engine: crate::engine::options::EngineSettings,
    /// Names of the engine settings that changed and apply after a restart of the daemon.
    pub restart_needed: Vec<String>,
    /// Daily backups to a folder (README "Backup and restore").
    pub backup: crate::backup::BackupSchedule,
    /// The last scheduled or "now" backup.
    pub backup_status: crate::backup::BackupStatus,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// Changes of the global share limits (absent fields stay as they are).
    #[serde(default, deserialize_with = "super::extract::object_only")]
    pub share: crate::engine::share::ShareChange,
    /// Changes of the speed settings (absent fields stay as they are).
    #[serde(default, deserialize_with = "super::extract::object_only")]
    pub speed: crate::engine::speed::SpeedChange,
    /// Changes of the engine settings (absent fields stay as they are).
    #[serde(default, deserialize_with = "super::extract::object_only")]
    pub engine: crate::engine::options::EngineChange,
    /// Changes of the backup schedule (absent fields stay as they are).
    #[serde(default, deserialize_with = "super::extract::object_only")]
    pub backup: crate::backup::BackupScheduleChange,
}

fn settings_view(st: &AppState) -> Result<SettingsView, ApiError> {
    Ok(SettingsView {
        backup: crate::backup::schedule(&st.store)?,
        backup_status: crate::backup::status(&st.store)?,
        share: st.engine.share_settings(),
        speed: st.engine.speed_settings(),
        engine: st.engine.engine_settings(),
        restart_needed: st
            .engine
            .engine_restart_needed()
            .into_iter()
            .map(String::from)
            .collect(),
    })
}

#[utoipa::path(get, path = "/api/settings", tag = "settings", operation_id = "get_settings",
    responses((status = 200, body = SettingsView), (status = 403, description = "administrators only")))]
pub async fn get_settings(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<SettingsView>, ApiError> {
    id.require_admin()?;
    Ok(Json(settings_view(&st)?))
}

#[utoipa::path(patch, path = "/api/settings", tag = "settings", operation_id = "update_settings",
    request_body = SettingsPatch,
    responses((status = 200, body = SettingsView), (status = 400, description = "a value out of range"), (status = 403, description = "administrators only")))]
pub async fn update_settings(
    State(st): State<AppState>,
    id: Identity,
    ApiJson(p): ApiJson<SettingsPatch>,
) -> Result<Json<SettingsView>, ApiError> {
    id.require_admin()?;
    // Every part is checked before any is stored: a bad value changes nothing.
    p.share
        .apply(&mut st.engine.share_settings())
        .and_then(|()| p.speed.apply(&mut st.engine.speed_settings()))
        .and_then(|()| p.engine.apply(&mut st.engine.engine_settings()))?;
    p.backup.apply(&mut crate::backup::schedule(&st.store)?)?;
    if !p.share.is_empty() {
        st.engine.set_share_settings(&p.share)?;
    }
    if !p.speed.is_empty() {
        st.engine.set_speed_settings(&p.speed)?;
    }
    if !p.engine.is_empty() {
        st.engine.set_engine_settings(&p.engine)?;
    }
    if !p.backup.is_empty() {
        crate::backup::set_schedule(&st.store, &p.backup)?;
    }
    Ok(Json(settings_view(&st)?))
}

#[utoipa::path(post, path = "/api/backup", tag = "settings", operation_id = "backup_now",
    responses((status = 200, body = crate::backup::BackupStatus, description = "a backup was written to the schedule's folder"), (status = 409, description = "no backup folder is set"), (status = 403, description = "administrators only")))]
pub async fn backup_now(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<crate::backup::BackupStatus>, ApiError> {
    id.require_admin()?;
    let s2 = st.clone();
    let r = tokio::task::spawn_blocking(move || crate::backup::run_now(&s2))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(Json(r))
}

#[utoipa::path(get, path = "/api/webhooks", tag = "settings", operation_id = "list_webhooks",
    responses((status = 200, body = Vec<crate::webhooks::WebhookView>), (status = 403, description = "administrators only")))]
pub async fn list_webhooks(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<Vec<crate::webhooks::WebhookView>>, ApiError> {
    id.require_admin()?;
    Ok(Json(crate::webhooks::list(&st.store)?))
}

#[utoipa::path(post, path = "/api/webhooks", tag = "settings", operation_id = "create_webhook",
    request_body = crate::webhooks::NewWebhook,
    responses((status = 201, body = crate::webhooks::WebhookView), (status = 400, description = "a bad URL or no events"), (status = 403, description = "administrators only"), (status = 409, description = "20 webhooks exist already")))]
pub async fn create_webhook(
    State(st): State<AppState>,
    id: Identity,
    ApiJson(w): ApiJson<crate::webhooks::NewWebhook>,
) -> Result<(StatusCode, Json<crate::webhooks::WebhookView>), ApiError> {
    id.require_admin()?;
    let w: crate::webhooks::WebhookInput = w.into();
    Ok((
        StatusCode::CREATED,
        Json(crate::webhooks::create(&st.store, &w)?),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WebhookPath {
    /// The webhook's id.
    #[param(max_length = 64)]
    pub id: String,
}

#[utoipa::path(patch, path = "/api/webhooks/{id}", tag = "settings", operation_id = "update_webhook",
    params(WebhookPath), request_body = crate::webhooks::WebhookInput,
    responses((status = 200, body = crate::webhooks::WebhookView), (status = 400, description = "a bad value"), (status = 404, description = "no such webhook")))]
pub async fn update_webhook(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hook): ApiPath<String>,
    ApiJson(w): ApiJson<crate::webhooks::WebhookInput>,
) -> Result<Json<crate::webhooks::WebhookView>, ApiError> {
    id.require_admin()?;
    Ok(Json(crate::webhooks::update(&st.store, &hook, &w)?))
}

#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "settings", operation_id = "delete_webhook",
    params(WebhookPath),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such webhook")))]
pub async fn delete_webhook(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hook): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    id.require_admin()?;
    crate::webhooks::delete(&st.store, &hook)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/webhooks/{id}/test", tag = "settings", operation_id = "test_webhook",
    params(WebhookPath),
    responses((status = 200, body = crate::webhooks::Delivery, description = "one attempt's outcome"), (status = 404, description = "no such webhook")))]
pub async fn test_webhook(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hook): ApiPath<String>,
) -> Result<Json<crate::webhooks::Delivery>, ApiError> {
    id.require_admin()?;
    Ok(Json(crate::webhooks::send_test(&st, &hook).await?))
}

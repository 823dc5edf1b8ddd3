//! Profile rules (ids, directories, deletion) shared by the running engine and the CLI's
//! offline mode, so both enforce exactly the same checks.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::Utc;

use super::add::check_profile_dir;
use super::{EngineError, Result};
use crate::limits::{check_max_active_downloads, check_profile_id, check_profile_name};
use crate::store::{ProfileRecord, Store};

#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Display name, 1-128 printable characters.
    #[schema(
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029][^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
    )]
    pub name: Option<String>,
    /// Absolute path of an existing, writable directory (new torrents go there).
    #[schema(value_type = Option<String>, min_length = 1, max_length = 4096)]
    pub download_dir: Option<PathBuf>,
    /// Downloads running at once; 0 = unlimited.
    #[schema(maximum = 1000)]
    pub max_active_downloads: Option<u32>,
    /// Share limit: ratio (0-1000), -1 none, null inherits the global one.
    #[serde(
        default,
        deserialize_with = "super::share::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<f64>)]
    pub ratio_limit: Option<Option<f64>>,
    /// Share limit: minutes of seeding, -1 none, null inherits the global one.
    #[serde(
        default,
        deserialize_with = "super::share::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<i64>)]
    pub seed_time_limit: Option<Option<i64>>,
    /// What a reached share limit does; null inherits the global one.
    #[serde(
        default,
        deserialize_with = "super::share::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<super::share::ShareAction>)]
    pub share_action: Option<Option<super::share::ShareAction>>,
    /// Download limit shared by the profile's torrents, bytes/s; 0 = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dl_limit: Option<u64>,
    /// Upload limit shared by the profile's torrents, bytes/s; 0 = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ul_limit: Option<u64>,
    /// Free bytes kept on the download filesystem: no download starts or continues below
    /// it; 0 = no guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_free_space: Option<u64>,
    /// Absolute path of an existing, writable directory completed torrents move to; null
    /// = they stay where they downloaded.
    #[serde(
        default,
        deserialize_with = "super::share::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 4096)]
    pub complete_dir: Option<Option<PathBuf>>,
    /// Absolute path of an existing, writable directory whose `.torrent` files are added to
    /// the profile (renamed `.added` or `.invalid`); null = none.
    #[serde(
        default,
        deserialize_with = "super::share::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 4096)]
    pub watch_dir: Option<Option<PathBuf>>,
}

/// A profile as one caller sees it: the record plus that caller's level.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ProfileView {
    pub id: String,
    pub name: String,
    pub download_dir: String,
    /// Downloads running at once in this profile; 0 = unlimited.
    #[schema(maximum = 1000)]
    pub max_active_downloads: u32,
    /// The caller's level: `ro`, `full` or `admin`.
    pub level: String,
    /// The profile's share limits (null fields inherit the global ones).
    pub share: super::share::ShareLimits,
    /// Speed limits shared by the profile's torrents, bytes/s (0 = unlimited).
    pub dl_limit: u64,
    pub ul_limit: u64,
    /// Free bytes kept on the download filesystem (0 = no guard).
    pub min_free_space: u64,
    /// Where completed torrents move to (null: they stay).
    pub complete_dir: Option<String>,
    /// The folder whose `.torrent` files are added to the profile (null: none).
    pub watch_dir: Option<String>,
}

impl ProfileView {
    /// `level` is the caller's level as the access layer names it (`None`: the profile is
    /// invisible to the caller, so there is no view).
    pub fn of(p: &ProfileRecord, level: Option<&str>) -> Option<ProfileView> {
        Some(ProfileView {
            id: p.id.clone(),
            name: p.name.clone(),
            download_dir: p.download_dir.to_string_lossy().into_owned(),
            max_active_downloads: p.max_active_downloads,
            level: level?.to_owned(),
            share: p.share.clone(),
            dl_limit: p.dl_limit,
            ul_limit: p.ul_limit,
            min_free_space: super::space::min_free(Some(p)),
            complete_dir: p
                .complete_dir
                .as_ref()
                .map(|d| d.to_string_lossy().into_owned()),
            watch_dir: p
                .watch_dir
                .as_ref()
                .map(|d| d.to_string_lossy().into_owned()),
        })
    }
}

pub fn create(
    store: &Store,
    existing: &mut HashMap<String, ProfileRecord>,
    mut p: ProfileRecord,
) -> Result<ProfileRecord> {
    check_profile_id(&p.id)?;
    if p.name.is_empty() {
        p.name = p.id.clone();
    }
    check_profile_name(&p.name)?;
    check_max_active_downloads(p.max_active_downloads)?;
    super::speed::check_limit("dl_limit", p.dl_limit)?;
    super::speed::check_limit("ul_limit", p.ul_limit)?;
    check_profile_dir(&p.download_dir)?;
    if existing.contains_key(&p.id) {
        return Err(EngineError::Conflict(format!(
            "a profile with id '{}' already exists",
            p.id
        )));
    }
    if p.created_at.is_none() {
        p.created_at = Some(Utc::now());
    }
    store.put_profile(&p)?;
    existing.insert(p.id.clone(), p.clone());
    Ok(p)
}

pub fn update(
    store: &Store,
    existing: &mut HashMap<String, ProfileRecord>,
    id: &str,
    patch: ProfilePatch,
) -> Result<ProfileRecord> {
    let mut p = existing
        .get(id)
        .cloned()
        .ok_or_else(|| EngineError::ProfileNotFound(id.into()))?;
    if let Some(n) = patch.name {
        check_profile_name(&n)?;
        p.name = n;
    }
    if let Some(d) = patch.download_dir {
        check_profile_dir(&d)?;
        // Existing torrents keep their own save dir; new ones go to the new folder.
        p.download_dir = d;
    }
    if let Some(m) = patch.max_active_downloads {
        check_max_active_downloads(m)?;
        p.max_active_downloads = m;
    }
    super::share::ShareChange {
        ratio_limit: patch.ratio_limit,
        seed_time_limit: patch.seed_time_limit,
        share_action: patch.share_action,
    }
    .apply(&mut p.share)?;
    if let Some(v) = patch.dl_limit {
        p.dl_limit = super::speed::check_limit("dl_limit", v)?;
    }
    if let Some(v) = patch.ul_limit {
        p.ul_limit = super::speed::check_limit("ul_limit", v)?;
    }
    if let Some(v) = patch.min_free_space {
        p.min_free_space = Some(v);
    }
    if let Some(d) = patch.complete_dir {
        if let Some(d) = &d {
            check_profile_dir(d)?;
        }
        p.complete_dir = d;
    }
    if let Some(d) = patch.watch_dir {
        if let Some(d) = &d {
            check_profile_dir(d)?;
        }
        p.watch_dir = d;
    }
    store.put_profile(&p)?;
    existing.insert(id.to_owned(), p.clone());
    Ok(p)
}

pub fn delete(
    store: &Store,
    existing: &mut HashMap<String, ProfileRecord>,
    id: &str,
    torrents_in_profile: usize,
) -> Result<()> {
    if !existing.contains_key(id) {
        return Err(EngineError::ProfileNotFound(id.into()));
    }
    if torrents_in_profile > 0 {
        return Err(EngineError::ProfileNotEmpty(format!(
            "profile '{id}' still has {torrents_in_profile} torrent(s); move or remove them first"
        )));
    }
    if existing.len() == 1 {
        return Err(EngineError::Conflict(
            "the last profile cannot be deleted".into(),
        ));
    }
    store.delete_profile(id)?;
    existing.remove(id);
    Ok(())
}

/// Creates the `default` profile on first start.
pub fn ensure_default(store: &Store, download_dir: &std::path::Path) -> Result<()> {
    if !store.profiles()?.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(download_dir).map_err(|e| {
        EngineError::DownloadDirInvalid(format!(
            "cannot create download directory {}: {e}",
            download_dir.display()
        ))
    })?;
    let dir = std::fs::canonicalize(download_dir).unwrap_or_else(|_| download_dir.to_path_buf());
    store.put_profile(&ProfileRecord {
        id: "default".into(),
        name: "Default".into(),
        download_dir: dir,
        // Like qBittorrent: a few at a time finish sooner than many sharing bandwidth.
        max_active_downloads: 3,
        created_at: Some(Utc::now()),
        ..Default::default()
    })?;
    Ok(())
}

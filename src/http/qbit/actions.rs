//! The `torrents` scope of the qBittorrent API: listing, adding, the actions on a selection
//! of torrents, categories (profiles) and tags (labels). Every call checks the caller's
//! level on each profile it touches before anything changes, and goes through the engine
//! exactly as the REST handlers do.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::sync::visible_rows as visible;
use super::{Answer, Call, one, plain, selected, shape};
use crate::access::Level;
use crate::auth::{Identity, Need};
use crate::engine::{
    AddOptions, AddSource, EngineError, FetchAccess, LabelChange, Patch, QueueMove, TorrentRow,
};
use crate::http::ApiError;
use crate::limits;
use crate::state::AppState;
use crate::store::{ProfileRecord, Table};

pub(super) async fn torrents(
    st: &AppState,
    id: &Identity,
    action: &str,
    call: Call,
) -> Result<Answer, ApiError> {
    let e = &st.engine;
    match action {
        "info" => info(st, id, &call),
        "count" => Ok(Answer::Owned(visible(st, id).len().to_string())),
        "properties" => {
            let h = one(st, id, &call)?;
            Ok(Answer::Json(shape::properties(&e.details(&h)?)))
        }
        "files" => {
            let h = one(st, id, &call)?;
            let d = e.details(&h)?;
            let files = e.files(&h)?;
            let done = d.row.completed_at.is_some();
            Ok(Answer::Json(shape::files(
                &files,
                d.piece_length.unwrap_or(0) as u64,
                done,
            )))
        }
        "trackers" => {
            let h = one(st, id, &call)?;
            Ok(Answer::Json(shape::trackers(
                &e.trackers(&h)?,
                st.config.dht_enable,
            )))
        }
        "addTrackers" | "editTracker" | "removeTrackers" => {
            let h = one(st, id, &call)?;
            selected(st, id, &h, Need::Write)?;
            let mut list: Vec<String> = e.trackers(&h)?.into_iter().map(|t| t.url).collect();
            let norm = |u: &str| {
                crate::engine::trackers::check_list(&[u.to_owned()])
                    .ok()
                    .and_then(|mut v| v.pop())
                    .unwrap_or_else(|| u.trim().to_owned())
            };
            let mut added = Vec::new();
            match action {
                "addTrackers" => {
                    for u in call.need("urls")?.split(['\n', '|']).map(str::trim) {
                        if !u.is_empty() {
                            added.push(u.to_owned());
                            list.push(u.to_owned());
                        }
                    }
                }
                "editTracker" => {
                    let (old, new) = (norm(call.need("origUrl")?), call.need("newUrl")?.trim());
                    let Some(i) = list.iter().position(|u| *u == old) else {
                        return Err(plain(StatusCode::CONFLICT, "origUrl was not found"));
                    };
                    if list.contains(&norm(new)) {
                        return Err(plain(StatusCode::CONFLICT, "newUrl already exists"));
                    }
                    added.push(new.to_owned());
                    list[i] = new.to_owned();
                }
                _ => {
                    let gone: Vec<String> = call.need("urls")?.split('|').map(norm).collect();
                    if !gone.iter().any(|g| list.contains(g)) {
                        return Err(plain(StatusCode::CONFLICT, "No trackers were removed"));
                    }
                    list.retain(|u| !gone.contains(u));
                }
            }
            let checked = crate::engine::trackers::check_list(&added)
                .map_err(|e| plain(StatusCode::BAD_REQUEST, &e.to_string()))?;
            if !id.is_admin() {
                crate::engine::trackers::check_public(&checked, &st.config.fetch_allowed_networks)
                    .await?;
            }
            e.apply(
                &h,
                Patch {
                    trackers: Some(list),
                    ..Default::default()
                },
            )
            .await?;
            Ok(Answer::Empty)
        }
        "webseeds" => {
            one(st, id, &call)?;
            Ok(Answer::Json(json!([])))
        }
        "add" => add(st, id, call).await,
        "delete" => {
            let with_data = call.flag("deleteFiles").unwrap_or(false);
            for h in selected(st, id, call.need("hashes")?, Need::Write)? {
                e.delete(&h, with_data).await?;
            }
            Ok(Answer::Empty)
        }
        "pause" | "stop" | "resume" | "start" | "recheck" | "reannounce" | "setForceStart" => {
            let force = call.flag("value");
            if action == "setForceStart" {
                call.need("value")?;
            }
            for h in selected(st, id, call.need("hashes")?, Need::Write)? {
                let r = match action {
                    "pause" | "stop" => e.pause(&h).await,
                    "resume" | "start" => e.resume(&h).await,
                    "recheck" => e.recheck(&h).await,
                    "reannounce" => e.reannounce(&h).await,
                    _ => e.set_force_start(&h, force.unwrap_or(false)).await,
                };
                // qBittorrent applies an action to each torrent it can and answers 200;
                // one that cannot now (a recheck before metadata) is left as it is.
                if let Err(err) = r {
                    tracing::info!(hash = %h, action, "qBittorrent API action not applied: {err}");
                }
            }
            Ok(Answer::Empty)
        }
        "topPrio" | "bottomPrio" | "increasePrio" | "decreasePrio" => {
            let mut hashes = selected(st, id, call.need("hashes")?, Need::Write)?;
            let to = match action {
                "topPrio" => QueueMove::Top,
                "bottomPrio" => QueueMove::Bottom,
                "increasePrio" => QueueMove::Up,
                _ => QueueMove::Down,
            };
            // Moving one by one keeps the selection's order: the first named ends first.
            if matches!(to, QueueMove::Top | QueueMove::Down) {
                hashes.reverse();
            }
            for h in hashes {
                e.apply(
                    &h,
                    Patch {
                        queue: Some(to),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Ok(Answer::Empty)
        }
        "setCategory" => set_category(st, id, &call).await,
        "categories" => Ok(Answer::Json(Value::Object(
            e.profiles()
                .iter()
                .filter(|p| id.level(&p.id) != Level::None)
                .map(|p| (p.id.clone(), shape::category(p)))
                .collect(),
        ))),
        "createCategory" | "editCategory" => edit_category(st, id, action, &call),
        "removeCategories" => {
            admin(id, "remove categories")?;
            for c in call.need("categories")?.split('\n').map(str::trim) {
                if c.is_empty() || e.profile(c).is_err() {
                    continue;
                }
                // qBittorrent leaves the torrents of a removed category uncategorized;
                // every pytorrentd torrent has a profile, so one in use stays.
                if let Err(err) = e.delete_profile(c) {
                    tracing::info!(category = c, "category not removed: {err}");
                }
            }
            Ok(Answer::Empty)
        }
        "addTags" | "removeTags" => {
            let hashes = selected(st, id, call.need("hashes")?, Need::Write)?;
            let tags = split_tags(if action == "addTags" {
                call.need("tags")?
            } else {
                call.get("tags").unwrap_or("")
            });
            let tags = limits::normalize_labels(&tags)?;
            if action == "addTags" {
                // qBittorrent keeps a tag once used, until deleteTags.
                remember_tags(st, id, tags.clone())?;
            }
            let change = match action {
                "addTags" => LabelChange::Add(tags),
                _ if tags.is_empty() => LabelChange::Set(Vec::new()),
                _ => LabelChange::Remove(tags),
            };
            for h in hashes {
                e.apply(
                    &h,
                    Patch {
                        labels: Some(change.clone()),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Ok(Answer::Empty)
        }
        "tags" => Ok(Answer::Json(json!(all_tags(st, id, &visible(st, id))?))),
        "createTags" => {
            let new = limits::normalize_labels(&split_tags(call.need("tags")?))?;
            remember_tags(st, id, new)?;
            Ok(Answer::Empty)
        }
        "deleteTags" => {
            let gone = limits::normalize_labels(&split_tags(call.need("tags")?))?;
            let user = id.username.clone();
            let drop = gone.clone();
            st.store.write(|tx| {
                let mut have: Vec<String> = tx.get(Table::Labels, &user)?.unwrap_or_default();
                have.retain(|t| !drop.contains(t));
                tx.put(Table::Labels, &user, &have)
            })?;
            for r in visible(st, id) {
                if id.require(&r.profile, Need::Write).is_ok()
                    && r.labels.iter().any(|l| gone.contains(l))
                {
                    e.apply(
                        &r.hash,
                        Patch {
                            labels: Some(LabelChange::Remove(gone.clone())),
                            ..Default::default()
                        },
                    )
                    .await?;
                }
            }
            Ok(Answer::Empty)
        }
        "setShareLimits" => {
            let hashes = selected(st, id, call.need("hashes")?, Need::Write)?;
            // qBittorrent: -2 = the global limit (pytorrentd: inherit), -1 = none; the
            // seeding time is in minutes in both.
            let ratio: f64 = call
                .need("ratioLimit")?
                .trim()
                .parse()
                .map_err(|_| plain(StatusCode::BAD_REQUEST, "ratioLimit must be a number"))?;
            let minutes: i64 = call.need("seedingTimeLimit")?.trim().parse().map_err(|_| {
                plain(
                    StatusCode::BAD_REQUEST,
                    "seedingTimeLimit must be an integer",
                )
            })?;
            let change = crate::engine::share::ShareChange {
                ratio_limit: Some((ratio > -1.5).then_some(if ratio < 0.0 { -1.0 } else { ratio })),
                seed_time_limit: Some((minutes != -2).then_some(minutes.max(-1))),
                share_action: None,
            };
            for h in hashes {
                e.apply(
                    &h,
                    Patch {
                        share: Some(change.clone()),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Ok(Answer::Empty)
        }
        "setUploadLimit" | "setDownloadLimit" => {
            let hashes = selected(st, id, call.need("hashes")?, Need::Write)?;
            let v = call
                .need("limit")?
                .trim()
                .parse::<i64>()
                .map(super::prefs::limit_of)
                .map_err(|_| plain(StatusCode::BAD_REQUEST, "limit must be an integer"))?;
            let (dl_limit, ul_limit) = if action == "setDownloadLimit" {
                (Some(v), None)
            } else {
                (None, Some(v))
            };
            for h in hashes {
                e.apply(
                    &h,
                    Patch {
                        dl_limit,
                        ul_limit,
                        ..Default::default()
                    },
                )
                .await?;
            }
            Ok(Answer::Empty)
        }
        // pytorrentd has no sequential download, super seeding or automatic management:
        // accepted without effect, as a qBittorrent with those features off would
        // (docs/qbittorrent.md).
        "setSuperSeeding"
        | "toggleSequentialDownload"
        | "toggleFirstLastPiecePrio"
        | "setAutoManagement" => {
            selected(st, id, call.need("hashes")?, Need::Write)?;
            Ok(Answer::Empty)
        }
        "uploadLimit" | "downloadLimit" => {
            let mut out = serde_json::Map::new();
            for h in selected(st, id, call.need("hashes")?, Need::Read)? {
                let r = e.row(&h)?;
                let v = if action == "downloadLimit" {
                    r.dl_limit
                } else {
                    r.ul_limit
                };
                out.insert(h, json!(v));
            }
            Ok(Answer::Json(Value::Object(out)))
        }
        "filePrio" => file_prio(st, id, &call).await,
        "rename" => {
            let h = one(st, id, &call)?;
            selected(st, id, &h, Need::Write)?;
            let name = call.need("name")?.trim();
            if name.is_empty() {
                return Err(plain(StatusCode::CONFLICT, "Incorrect torrent name"));
            }
            e.apply(
                &h,
                Patch {
                    title: Some(Some(name.to_owned())),
                    ..Default::default()
                },
            )
            .await?;
            Ok(Answer::Empty)
        }
        _ => Err(plain(StatusCode::NOT_FOUND, "Not Found")),
    }
}

/// Labels one user may keep without a torrent (`createTags`).
const TAGS_KEPT_MAX: usize = 1000;

fn admin(id: &Identity, what: &str) -> Result<(), ApiError> {
    id.require_admin().map_err(|_| {
        plain(
            StatusCode::FORBIDDEN,
            &format!("only an administrator can {what}"),
        )
    })
}

fn split_tags(s: &str) -> Vec<String> {
    s.split(',').map(|t| t.trim().to_owned()).collect()
}

/// Adds tags to the caller's list of tags kept without a torrent.
fn remember_tags(st: &AppState, id: &Identity, new: Vec<String>) -> Result<(), ApiError> {
    let user = id.username.clone();
    st.store.write(|tx| {
        let mut have: Vec<String> = tx.get(Table::Labels, &user)?.unwrap_or_default();
        let before = have.len();
        for t in new {
            if !have.contains(&t) && have.len() < TAGS_KEPT_MAX {
                have.push(t);
            }
        }
        if have.len() == before {
            return Ok(());
        }
        tx.put(Table::Labels, &user, &have)
    })?;
    Ok(())
}

/// qBittorrent's tag list: the labels on the torrents the caller sees, and the ones the
/// caller keeps without a torrent; sorted.
pub(super) fn all_tags(
    st: &AppState,
    id: &Identity,
    rows: &[TorrentRow],
) -> Result<Vec<String>, ApiError> {
    let mut tags: Vec<String> = rows.iter().flat_map(|r| r.labels.iter().cloned()).collect();
    tags.extend(
        st.store
            .get_json::<Vec<String>>(Table::Labels, &id.username)?
            .unwrap_or_default(),
    );
    tags.sort();
    tags.dedup();
    Ok(tags)
}

/// Whether a row passes `torrents/info`'s `filter` (qBittorrent's names; unknown: all).
fn filter_matches(filter: &str, r: &TorrentRow, state: &str) -> bool {
    let paused = state.starts_with("paused");
    let active = r.dl_speed > 0 || r.ul_speed > 0;
    match filter {
        "downloading" => {
            state.ends_with("DL") && !state.starts_with("paused")
                || state == "downloading"
                || state == "pausedDL"
        }
        "seeding" => matches!(
            state,
            "uploading" | "stalledUP" | "checkingUP" | "queuedUP" | "forcedUP"
        ),
        "completed" => state.ends_with("UP") || state == "uploading",
        "paused" | "stopped" => paused,
        "resumed" | "running" => !paused,
        "active" => active,
        "inactive" => !active,
        "stalled" => matches!(state, "stalledUP" | "stalledDL"),
        "stalled_uploading" => state == "stalledUP",
        "stalled_downloading" => state == "stalledDL",
        "errored" => matches!(state, "error" | "missingFiles"),
        _ => true,
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// `torrents/info` with qBittorrent's `filter`, `category`, `tag`, `hashes`, `sort`,
/// `reverse`, `limit` and `offset`.
fn info(st: &AppState, id: &Identity, call: &Call) -> Result<Answer, ApiError> {
    let filter = call.get("filter").unwrap_or("all");
    let category = call.get("category");
    let tag = call.get("tag");
    let hashes: Option<Vec<String>> = call.get("hashes").map(|h| {
        h.split('|')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let mut list: Vec<Map<String, Value>> = visible(st, id)
        .iter()
        .filter(|r| category.is_none_or(|c| r.profile == c))
        .filter(|r| match tag {
            None => true,
            Some("") => r.labels.is_empty(),
            Some(t) => r.labels.iter().any(|l| l == t),
        })
        .filter(|r| hashes.as_ref().is_none_or(|hs| hs.contains(&r.hash)))
        .filter_map(|r| {
            let m = shape::torrent(r);
            let s = shape::state(r);
            filter_matches(filter, r, s).then_some(m)
        })
        .collect();
    // The engine lists in no fixed order; qBittorrent's own order is by addition.
    list.sort_by(|a, b| compare(a.get("added_on"), b.get("added_on")));
    if let Some(col) = call.get("sort").filter(|c| !c.is_empty())
        && let Some(first) = list.first()
    {
        if !first.contains_key(col) {
            return Err(plain(
                StatusCode::BAD_REQUEST,
                "'sort' parameter is invalid",
            ));
        }
        let reverse = call.flag("reverse").unwrap_or(false);
        list.sort_by(|a, b| {
            let o = compare(a.get(col), b.get(col));
            if reverse { o.reverse() } else { o }
        });
    }
    let size = list.len() as i64;
    let mut offset: i64 = call.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: i64 = call.get("limit").and_then(|v| v.parse().ok()).unwrap_or(0);
    if offset < 0 {
        offset += size;
    }
    if offset >= size || offset < 0 {
        offset = 0;
    }
    let taken: Vec<Value> = list
        .into_iter()
        .skip(offset as usize)
        .take(if limit > 0 {
            limit as usize
        } else {
            usize::MAX
        })
        .map(Value::Object)
        .collect();
    Ok(Answer::Json(Value::Array(taken)))
}

/// The profile an add goes to: the category, or without one the caller's default.
fn target_profile(st: &AppState, id: &Identity, category: &str) -> Option<ProfileRecord> {
    if category.is_empty() {
        return super::sync::default_profile(st, id);
    }
    st.engine.profiles().into_iter().find(|p| p.id == category)
}

/// `savepath` of an add, as a folder under the profile's directory (400 outside it).
fn subdir_of(profile: &ProfileRecord, savepath: &str) -> Result<Option<String>, ApiError> {
    let given = savepath.trim().trim_end_matches('/');
    if given.is_empty() {
        return Ok(None);
    }
    let base = profile.download_dir.to_string_lossy();
    let base = base.trim_end_matches('/');
    let outside = || {
        plain(
            StatusCode::BAD_REQUEST,
            &format!(
                "savepath '{}' is not inside the folder of category '{}' ({base}); leave it empty or give a folder inside it",
                limits::quote(savepath),
                profile.id
            ),
        )
    };
    let rel = Path::new(given)
        .strip_prefix(Path::new(base))
        .map_err(|_| outside())?;
    if rel.as_os_str().is_empty() {
        return Ok(None);
    }
    Ok(Some(rel.to_string_lossy().into_owned()))
}

/// A source from one line of `urls`: a magnet, an http(s) URL, or a bare info hash.
fn source_of(line: &str) -> AddSource {
    let hex = line.len() == 40 && line.bytes().all(|b| b.is_ascii_hexdigit());
    let b32 = line.len() == 32 && line.bytes().all(|b| b.is_ascii_alphanumeric());
    if hex || b32 {
        AddSource::Magnet(format!("magnet:?xt=urn:btih:{line}"))
    } else if line.to_ascii_lowercase().starts_with("magnet:") {
        AddSource::Magnet(line.to_owned())
    } else {
        AddSource::Url(line.to_owned())
    }
}

/// `torrents/add`: `urls` (one per line) and `.torrent` file parts, with `category`,
/// `savepath`, `tags`, `paused`/`stopped` and `rename`. `Ok.` when at least one was added,
/// `Fails.` when none was (duplicates, a category the caller may not add to); 415 for a
/// file that is not a torrent, 400 for options out of their limits, before anything is added.
async fn add(st: &AppState, id: &Identity, call: Call) -> Result<Answer, ApiError> {
    let mut sources: Vec<AddSource> = call
        .get("urls")
        .unwrap_or("")
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(source_of)
        .collect();
    for (name, bytes) in &call.files {
        if crate::engine::read_torrent(bytes).is_err() {
            return Err(plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!(
                    "Error: '{}' is not a valid torrent file.",
                    limits::quote(name)
                ),
            ));
        }
    }
    sources.extend(call.files.iter().map(|(name, bytes)| AddSource::Bytes {
        name: name.clone(),
        bytes: bytes.clone(),
    }));
    if sources.is_empty() {
        return Ok(Answer::Text("Fails."));
    }
    limits::check_source_count(sources.len())?;
    let labels = limits::normalize_labels(&split_tags(call.get("tags").unwrap_or("")))?;
    let title = call
        .get("rename")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    if let Some(t) = &title {
        limits::check_torrent_title(t)?;
    }
    let category = call.get("category").unwrap_or("").trim();
    let profile = match target_profile(st, id, category) {
        Some(p) => p,
        None if id.is_admin() && limits::check_profile_id(category).is_ok() => {
            // qBittorrent creates a category named in an add; so does an administrator here.
            create_category(st, category, "")?
        }
        None => {
            tracing::info!(user = %id.username, category, "qBittorrent API add refused: no such category for this user");
            return Ok(Answer::Text("Fails."));
        }
    };
    if id.require(&profile.id, Need::Write).is_err() {
        tracing::info!(user = %id.username, profile = %profile.id, "qBittorrent API add refused: no write access");
        return Ok(Answer::Text("Fails."));
    }
    let subdir = subdir_of(&profile, call.get("savepath").unwrap_or(""))?;
    let paused = call
        .flag("paused")
        .or(call.flag("stopped"))
        .unwrap_or(false);
    let limit = |k: &str| -> Result<u64, ApiError> {
        match call.get(k).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(0),
            Some(v) => v
                .parse::<i64>()
                .map(super::prefs::limit_of)
                .map_err(|_| plain(StatusCode::BAD_REQUEST, &format!("{k} must be an integer"))),
        }
    };
    let opts = AddOptions {
        paused,
        labels,
        subdir,
        dl_limit: limit("dlLimit")?,
        ul_limit: limit("upLimit")?,
        fetch: if id.is_admin() {
            FetchAccess::Any
        } else {
            FetchAccess::Public
        },
        ..Default::default()
    };
    if !opts.labels.is_empty() {
        remember_tags(st, id, opts.labels.clone())?;
    }
    let mut added = 0usize;
    for src in sources {
        match st.engine.add(&profile.id, vec![src], opts.clone()).await {
            Ok(rows) => {
                for r in rows {
                    added += 1;
                    if let Some(t) = &title {
                        st.engine
                            .apply(
                                &r.hash,
                                Patch {
                                    title: Some(Some(t.clone())),
                                    ..Default::default()
                                },
                            )
                            .await?;
                    }
                }
            }
            Err(e @ (EngineError::Limit(_) | EngineError::PathEscape(_))) => {
                return Err(e.into());
            }
            Err(e) => tracing::info!(user = %id.username, "qBittorrent API add failed: {e}"),
        }
    }
    Ok(Answer::Text(if added > 0 { "Ok." } else { "Fails." }))
}

/// `setCategory`: moves the torrents (with their data) to the category's profile.
async fn set_category(st: &AppState, id: &Identity, call: &Call) -> Result<Answer, ApiError> {
    let hashes = selected(st, id, call.need("hashes")?, Need::Write)?;
    let category = call.need("category")?.trim();
    let bad = || plain(StatusCode::CONFLICT, "Incorrect category name");
    if category.is_empty() || st.engine.profile(category).is_err() {
        return Err(bad());
    }
    id.require(category, Need::Write).map_err(|_| bad())?;
    for h in hashes {
        st.engine
            .apply(
                &h,
                Patch {
                    profile: Some(category.to_owned()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| plain(StatusCode::CONFLICT, &e.to_string()))?;
    }
    Ok(Answer::Empty)
}

/// The folder of a category created without one: `DOWNLOAD_DIR/<name>`, absolute.
fn default_category_dir(st: &AppState, name: &str) -> Result<PathBuf, ApiError> {
    let base = std::path::absolute(&st.config.download_dir)
        .map_err(|e| ApiError::internal(format!("download directory: {e}")))?;
    Ok(base.join(name))
}

/// The folder of a category: `save_path`, or `DOWNLOAD_DIR/<name>`; created when missing
/// (`what` names the action in the refusal).
fn category_dir(
    st: &AppState,
    name: &str,
    save_path: &str,
    what: &str,
) -> Result<PathBuf, ApiError> {
    let dir = match save_path.trim() {
        "" => default_category_dir(st, name)?,
        p => PathBuf::from(p),
    };
    if dir.is_absolute() && !dir.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| {
            plain(
                StatusCode::CONFLICT,
                &format!(
                    "Unable to {what} category: cannot create {}: {e}",
                    dir.display()
                ),
            )
        })?;
    }
    Ok(dir)
}

/// Creates the profile of a new category, its folder included when missing.
fn create_category(st: &AppState, name: &str, save_path: &str) -> Result<ProfileRecord, ApiError> {
    let dir = category_dir(st, name, save_path, "create")?;
    Ok(st.engine.create_profile(ProfileRecord {
        id: name.to_owned(),
        name: name.to_owned(),
        download_dir: dir,
        max_active_downloads: 0,
        created_at: None,
        ..Default::default()
    })?)
}

/// `createCategory` and `editCategory` (administrators): the category's folder is the
/// profile's download directory.
fn edit_category(
    st: &AppState,
    id: &Identity,
    action: &str,
    call: &Call,
) -> Result<Answer, ApiError> {
    let name = call.need("category")?;
    let save_path = if action == "editCategory" {
        call.need("savePath")?
    } else {
        call.get("savePath").unwrap_or("")
    };
    if name.is_empty() {
        return Err(plain(StatusCode::BAD_REQUEST, "Category cannot be empty"));
    }
    admin(id, "create or edit categories")?;
    if limits::check_profile_id(name).is_err() {
        return Err(plain(
            StatusCode::CONFLICT,
            "Incorrect category name (use 1-64 characters among a-z, 0-9, '-' and '_')",
        ));
    }
    if action == "createCategory" {
        if st.engine.profile(name).is_ok() {
            return Err(plain(StatusCode::CONFLICT, "Unable to create category"));
        }
        create_category(st, name, save_path)?;
    } else {
        if st.engine.profile(name).is_err() {
            return Err(plain(StatusCode::CONFLICT, "Unable to edit category"));
        }
        let dir = category_dir(st, name, save_path, "edit")?;
        st.engine.update_profile(
            name,
            crate::engine::profiles::ProfilePatch {
                download_dir: Some(dir),
                ..Default::default()
            },
        )?;
    }
    Ok(Answer::Empty)
}

/// `filePrio`: priority 0 skips the files, 1, 6 and 7 download them (pytorrentd has one
/// priority for wanted files).
async fn file_prio(st: &AppState, id: &Identity, call: &Call) -> Result<Answer, ApiError> {
    let h = one(st, id, call)?;
    selected(st, id, &h, Need::Write)?;
    let prio: i64 = call
        .need("priority")?
        .trim()
        .parse()
        .map_err(|_| plain(StatusCode::BAD_REQUEST, "Priority must be an integer"))?;
    if !matches!(prio, 0 | 1 | 6 | 7) {
        return Err(plain(StatusCode::BAD_REQUEST, "Priority is not valid"));
    }
    let files = st.engine.files(&h)?;
    if files.is_empty() {
        return Err(plain(
            StatusCode::CONFLICT,
            "Torrent's metadata has not yet downloaded",
        ));
    }
    let ids = call.need("id")?;
    let mut chosen = Vec::new();
    for s in ids.split('|') {
        let i: usize = s
            .trim()
            .parse()
            .map_err(|_| plain(StatusCode::BAD_REQUEST, "File IDs must be integers"))?;
        if i >= files.len() {
            return Err(plain(StatusCode::CONFLICT, "File ID is not valid"));
        }
        chosen.push(i);
    }
    let wanted: Vec<usize> = files
        .iter()
        .filter(|f| {
            if chosen.contains(&f.index) {
                prio != 0
            } else {
                f.wanted
            }
        })
        .map(|f| f.index)
        .collect();
    if wanted.is_empty() {
        return Err(plain(
            StatusCode::CONFLICT,
            "pytorrentd keeps at least one file of a torrent wanted; pause the torrent instead",
        ));
    }
    st.engine
        .apply(
            &h,
            Patch {
                files: Some(wanted),
                ..Default::default()
            },
        )
        .await?;
    Ok(Answer::Empty)
}

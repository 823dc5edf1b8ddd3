//! The `auth`, `app`, `transfer` and `sync` scopes of the qBittorrent API: logins through
//! the same password check and limiter as `/api/auth/login`, what the *arr apps read about
//! the "client", and `sync/maindata`, whose answers after the first carry only what changed
//! since the `rid` the client last saw.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use axum::response::IntoResponse;
use http::{StatusCode, header};
use serde_json::{Map, Value, json};

use super::{APP_VERSION, Answer, Call, WEBAPI_VERSION, plain, shape};
use crate::access::{AuthProvider, Level};
use crate::auth::{Identity, resolve, session_cookie, sessions};
use crate::engine::TorrentRow;
use crate::http::{ApiError, ErrorCode};
use crate::jsondiff::changed_fields;
use crate::state::AppState;

/// `auth/login`: `Ok.` for a caller who is already someone (bypass, proxy header, a live
/// session or token, authentication off) as qBittorrent does; otherwise the local user's
/// password, checked exactly as the REST login checks it. A wrong one answers `Fails.`
/// (200); a banned address 403.
pub(super) async fn login(st: &AppState, call: Call) -> Result<Answer, ApiError> {
    if resolve(&st.config, &st.store, &call.headers, call.peer).is_ok() {
        return Ok(Answer::Text("Ok."));
    }
    if st.config.auth_provider != AuthProvider::Local {
        return Ok(Answer::Text("Fails."));
    }
    let peer = call
        .peer
        .ok_or_else(|| ApiError::internal("login without a peer address"))?;
    let user = call.get("username").unwrap_or("").to_owned();
    let pass = call.get("password").unwrap_or("").to_owned();
    match crate::http::auth::password_login(st, peer, &call.headers, user, pass, "qbittorrent")
        .await
    {
        Ok(user) => {
            let token = crate::http::auth::start_session(st, &user, peer, &call.headers)?;
            let cookie = crate::http::auth::cookie_header(
                &st.config,
                sessions::QBIT_COOKIE,
                "Strict",
                &token,
                sessions::SESSION_DAYS * 86400,
            );
            let mut r = Answer::Text("Ok.").into_response();
            r.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(Answer::Raw(r))
        }
        Err(e) if e.code == ErrorCode::Unauthorized => Ok(Answer::Text("Fails.")),
        Err(e) if e.code == ErrorCode::TooManyAttempts => Err(plain(
            StatusCode::FORBIDDEN,
            "Your IP address has been banned after too many failed authentication attempts.",
        )),
        Err(e) => Err(e),
    }
}

/// `auth/logout`: ends the session the request carries (none: nothing to do).
pub(super) fn logout(st: &AppState, call: Call) -> Result<Answer, ApiError> {
    if let Some(token) = session_cookie(&call.headers) {
        match st.accounts.logout(token) {
            Ok(Some(user)) => tracing::info!(%user, "logout (qBittorrent API)"),
            Ok(None) => {}
            Err(e) => return Err(ApiError::from(e)),
        }
    }
    let mut r = Answer::Empty.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        crate::http::auth::cookie_header(&st.config, sessions::QBIT_COOKIE, "Strict", "", 0),
    );
    Ok(Answer::Raw(r))
}

/// The profile the caller's adds go to without a category: `default` when the caller may
/// add there, else the first profile they may add to.
pub(super) fn default_profile(st: &AppState, id: &Identity) -> Option<crate::store::ProfileRecord> {
    let profiles = st.engine.profiles();
    let mine = |p: &&crate::store::ProfileRecord| id.level(&p.id) == Level::Full;
    profiles
        .iter()
        .filter(mine)
        .find(|p| p.id == "default")
        .or_else(|| profiles.iter().find(mine))
        .cloned()
}

/// The download directory of [`default_profile`].
pub(super) fn default_dir(st: &AppState, id: &Identity) -> String {
    default_profile(st, id)
        .map(|p| shape::dir(&p.download_dir.to_string_lossy()))
        .unwrap_or_default()
}

/// The `app` scope.
pub(super) fn app(
    st: &AppState,
    id: &Identity,
    action: &str,
    call: &Call,
) -> Result<Answer, ApiError> {
    Ok(match action {
        "version" => Answer::Text(APP_VERSION),
        "webapiVersion" => Answer::Text(WEBAPI_VERSION),
        "buildInfo" => Answer::Json(json!({
            "qt": "", "libtorrent": "librqbit 9.1", "boost": "", "openssl": "", "zlib": "",
            "bitness": usize::BITS, "platform": std::env::consts::OS,
            "app": concat!("pytorrentd ", env!("CARGO_PKG_VERSION")),
        })),
        "defaultSavePath" => Answer::Owned(default_dir(st, id)),
        "preferences" => Answer::Json(super::prefs::preferences(st, id)),
        "setPreferences" => super::prefs::set_preferences(st, id, call)?,
        _ => return Err(plain(StatusCode::NOT_FOUND, "Not Found")),
    })
}

/// Transfer totals over the torrents the caller sees.
pub(super) fn transfer_info(st: &AppState, rows: &[TorrentRow]) -> Map<String, Value> {
    let sum = |f: fn(&TorrentRow) -> u64| rows.iter().map(f).sum::<u64>();
    let v = json!({
        "dl_info_speed": sum(|r| r.dl_speed),
        "dl_info_data": sum(|r| r.downloaded),
        "up_info_speed": sum(|r| r.ul_speed),
        "up_info_data": sum(|r| r.uploaded_session),
        "dht_nodes": 0,
        "connection_status": "connected",
    });
    let mut m = match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let limits = st.engine.global_limits();
    m.insert("dl_rate_limit".into(), json!(limits.dl_limit));
    m.insert("up_rate_limit".into(), json!(limits.ul_limit));
    m
}

/// Every row the caller may read.
pub(super) fn visible_rows(st: &AppState, id: &Identity) -> Vec<TorrentRow> {
    let mut rows = st.engine.all_rows();
    rows.retain(|r| id.level(&r.profile) != Level::None);
    rows
}

/// What a client last received from `sync/maindata`.
struct Seen {
    rid: u64,
    torrents: HashMap<String, Map<String, Value>>,
    categories: BTreeMap<String, Value>,
    tags: Vec<String>,
    server_state: Map<String, Value>,
    used: Instant,
}

/// The last `sync/maindata` answer per client (session, token, or user for bypass and
/// proxy callers), so that the next one sends only the differences. Bounded: the least
/// recently used client is forgotten (it then gets a full update, which is always correct).
#[derive(Default)]
pub struct SyncSessions {
    seen: Mutex<HashMap<String, Seen>>,
}

const SYNC_CLIENTS_MAX: usize = 64;

/// `sync/maindata?rid=N`: a full update when `rid` is not the one last sent to this
/// client, else the changed fields of each torrent, removed hashes, changed categories and
/// tags, and the changed parts of `server_state`.
pub(super) fn maindata(st: &AppState, id: &Identity, call: &Call) -> Result<Answer, ApiError> {
    let rid: u64 = call
        .get("rid")
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or(0);
    let rows = visible_rows(st, id);
    let torrents: HashMap<String, Map<String, Value>> = rows
        .iter()
        .map(|r| (r.hash.clone(), shape::torrent(r)))
        .collect();
    let categories: BTreeMap<String, Value> = st
        .engine
        .profiles()
        .iter()
        .filter(|p| id.level(&p.id) != Level::None)
        .map(|p| (p.id.clone(), shape::category(p)))
        .collect();
    let tags = super::actions::all_tags(st, id, &rows)?;
    let mut server_state = transfer_info(st, &rows);
    server_state.insert("queueing".into(), json!(true));
    server_state.insert(
        "use_alt_speed_limits".into(),
        json!(st.engine.global_limits().alt_enabled),
    );
    server_state.insert("refresh_interval".into(), json!(1500));
    let free = st
        .engine
        .stats()
        .profiles
        .iter()
        .filter(|p| id.level(&p.id) != Level::None)
        .filter_map(|p| p.disk_free)
        .max()
        .unwrap_or(0);
    server_state.insert("free_space_on_disk".into(), json!(free));

    let key = id
        .credential
        .clone()
        .unwrap_or_else(|| format!("user:{}", id.username));
    let mut seen = st
        .qbit_sync
        .seen
        .lock()
        .map_err(|_| ApiError::internal("sync state lock poisoned"))?;
    let prev = seen.remove(&key).filter(|p| rid != 0 && p.rid == rid);
    let next_rid = prev.as_ref().map_or(rid, |p| p.rid) + 1;
    let mut out = Map::new();
    out.insert("rid".into(), json!(next_rid));
    match &prev {
        None => {
            out.insert("full_update".into(), json!(true));
            out.insert("torrents".into(), json!(torrents));
            out.insert("categories".into(), json!(categories));
            out.insert("tags".into(), json!(tags));
            out.insert("server_state".into(), Value::Object(server_state.clone()));
        }
        Some(p) => {
            let mut changed = Map::new();
            for (h, t) in &torrents {
                let delta = match p.torrents.get(h) {
                    Some(old) => changed_fields(old, t),
                    None => t.clone(),
                };
                if !delta.is_empty() {
                    changed.insert(h.clone(), Value::Object(delta));
                }
            }
            if !changed.is_empty() {
                out.insert("torrents".into(), Value::Object(changed));
            }
            let removed: Vec<&String> = p
                .torrents
                .keys()
                .filter(|h| !torrents.contains_key(*h))
                .collect();
            if !removed.is_empty() {
                out.insert("torrents_removed".into(), json!(removed));
            }
            let cats: Map<String, Value> = categories
                .iter()
                .filter(|(k, v)| p.categories.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !cats.is_empty() {
                out.insert("categories".into(), Value::Object(cats));
            }
            let cats_gone: Vec<&String> = p
                .categories
                .keys()
                .filter(|k| !categories.contains_key(*k))
                .collect();
            if !cats_gone.is_empty() {
                out.insert("categories_removed".into(), json!(cats_gone));
            }
            let new_tags: Vec<&String> = tags.iter().filter(|t| !p.tags.contains(t)).collect();
            if !new_tags.is_empty() {
                out.insert("tags".into(), json!(new_tags));
            }
            let tags_gone: Vec<&String> = p.tags.iter().filter(|t| !tags.contains(t)).collect();
            if !tags_gone.is_empty() {
                out.insert("tags_removed".into(), json!(tags_gone));
            }
            let ss = changed_fields(&p.server_state, &server_state);
            if !ss.is_empty() {
                out.insert("server_state".into(), Value::Object(ss));
            }
        }
    }
    if seen.len() >= SYNC_CLIENTS_MAX
        && let Some(oldest) = seen
            .iter()
            .min_by_key(|(_, s)| s.used)
            .map(|(k, _)| k.clone())
    {
        seen.remove(&oldest);
    }
    seen.insert(
        key,
        Seen {
            rid: next_rid,
            torrents,
            categories,
            tags,
            server_state,
            used: Instant::now(),
        },
    );
    Ok(Answer::Json(Value::Object(out)))
}

//! Torrent endpoints: list/add per profile, details, actions, edits, removal.

use axum::Json;
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiPath, ApiQuery, json_rejection, parse_hash, too_large};
use super::{ApiError, ErrorCode};
use crate::auth::{AccessError, Identity, Need};
use crate::engine::{
    AddOptions, AddSource, EngineError, FetchAccess, FileRow, LabelChange, PeerRow, QueueMove,
    TorrentDetails, TorrentRow, TrackerRow,
};
use crate::limits;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddJson {
    /// A magnet link (`x.pe` peer hints are honoured; `dn` is cut to 255 bytes).
    #[schema(max_length = 16384)]
    pub magnet: Option<String>,
    /// An http(s) URL of a .torrent file.
    #[schema(max_length = 8192)]
    pub url: Option<String>,
    #[serde(default)]
    pub paused: bool,
    /// One label (older clients; put before `labels`): at most 128 characters, no control
    /// characters, no comma.
    #[schema(max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029,]*$")]
    pub label: Option<String>,
    /// Labels (at most 32; each like `label`; repeats and empty ones are dropped).
    #[serde(default)]
    #[schema(max_items = 32)]
    pub labels: Vec<String>,
    /// Indices of the files to download (default: all); at least one.
    #[schema(min_items = 1, max_items = 100000)]
    pub only_files: Option<Vec<usize>>,
    /// Extra peers to dial, as `IP:port`.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub peers: Vec<String>,
    /// Folder under the profile's download directory (relative, at most 1024 bytes).
    #[schema(max_length = 1024)]
    pub subdir: Option<String>,
}

/// A torrent's info hash in the path (40 hexadecimal digits, either case).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct HashPath {
    #[param(pattern = "^[0-9a-fA-F]{40}$")]
    hash: String,
}

/// A profile id in the path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ProfilePath {
    /// Profile id (1-64 characters among a-z, 0-9, '-' and '_').
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    id: String,
}

/// The actions of `POST /api/torrents/{hash}/{action}` (documentation only: the handler
/// answers 404 `unknown_action` to anything else).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum TorrentAction {
    Pause,
    Resume,
    Recheck,
    ForceStart,
    Reannounce,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddResponse {
    pub added: Vec<TorrentRow>,
    /// Torrents that do not fit in the free space their profile allows: added, they wait
    /// in the queue (reason `disk_space`) until there is room.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Peers as `IP:port` strings; the count is checked before any is parsed.
fn parse_peers(list: &[&str]) -> Result<Vec<std::net::SocketAddr>, ApiError> {
    let list: Vec<&str> = list
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    limits::check_peer_count(list.len())?;
    list.into_iter()
        .map(|s| {
            s.parse().map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidInput,
                    format!("peer '{}' is not IP:port", limits::quote(s)),
                )
            })
        })
        .collect()
}

fn parse_bool(field: &str, v: &str) -> Result<bool, ApiError> {
    match v.trim() {
        "true" | "1" | "on" => Ok(true),
        "false" | "0" | "off" | "" => Ok(false),
        _ => Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("field '{field}' must be true or false"),
        )),
    }
}

fn parse_indices(v: &str) -> Result<Vec<usize>, ApiError> {
    let list: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    limits::check_file_index_count(list.len())?;
    list.into_iter()
        .map(|s| {
            s.parse().map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidInput,
                    format!(
                        "only_files must be comma-separated file indices, got '{}'",
                        limits::quote(s)
                    ),
                )
            })
        })
        .collect()
}

/// Counts one more part of a multipart body, refusing more than
/// [`limits::MULTIPART_PARTS_MAX`].
pub(super) fn count_part(parts: &mut usize) -> Result<(), ApiError> {
    *parts += 1;
    if *parts > limits::MULTIPART_PARTS_MAX {
        return Err(ApiError::new(
            ErrorCode::InvalidMultipart,
            format!(
                "an upload may have at most {} parts",
                limits::MULTIPART_PARTS_MAX
            ),
        ));
    }
    Ok(())
}

pub(super) fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::new(
            ErrorCode::InvalidMultipart,
            format!("malformed upload: {}", e.body_text()),
        )
    }
}

/// A text field's value, refused beyond [`limits::MULTIPART_TEXT_MAX_BYTES`] (read in
/// chunks, so an oversized field is never held whole) or when it is not UTF-8.
pub(super) async fn read_text(field: &mut Field<'_>, name: &str) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buf.len() + chunk.len() > limits::MULTIPART_TEXT_MAX_BYTES {
            return Err(ApiError::new(
                ErrorCode::InvalidMultipart,
                format!(
                    "form field '{name}' is longer than {} bytes",
                    limits::MULTIPART_TEXT_MAX_BYTES
                ),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidMultipart,
            format!("form field '{name}' is not UTF-8 text"),
        )
    })
}

/// Reads the multipart form of an add: `torrent` file parts, `magnet` (one per line) and
/// `url` parts, and the options `paused`, `label`, `labels` (comma-separated), `only_files`,
/// `peers`, `subdir` (the last of a repeated one counts; labels add up). Public for the fuzz target (`fuzz/fuzz_targets/multipart.rs`).
pub async fn read_multipart(mut mp: Multipart) -> Result<(Vec<AddSource>, AddOptions), ApiError> {
    let mut sources = Vec::new();
    let mut opts = AddOptions::default();
    let mut parts = 0usize;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        count_part(&mut parts)?;
        let name = field.name().unwrap_or("").to_owned();
        // A repeated option field replaces the earlier value (the part count bounds them).
        let field_name: &'static str = match name.as_str() {
            "torrent" => {
                let fname = field.file_name().unwrap_or("upload.torrent").to_owned();
                let bytes = field.bytes().await.map_err(multipart_error)?;
                sources.push(AddSource::Bytes {
                    name: fname,
                    bytes: bytes.to_vec(),
                });
                limits::check_source_count(sources.len())?;
                continue;
            }
            "magnet" | "url" => {
                let text = read_text(&mut field, &name).await?;
                let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
                if name == "magnet" {
                    sources.extend(lines.map(|l| AddSource::Magnet(l.to_owned())));
                } else {
                    sources.extend(lines.map(|l| AddSource::Url(l.to_owned())));
                }
                limits::check_source_count(sources.len())?;
                continue;
            }
            "paused" => "paused",
            "label" => "label",
            "labels" => "labels",
            "only_files" => "only_files",
            "peers" => "peers",
            "subdir" => "subdir",
            other => {
                return Err(ApiError::new(
                    ErrorCode::InvalidMultipart,
                    format!("unexpected form field '{}'", limits::quote(other)),
                ));
            }
        };
        let text = read_text(&mut field, field_name).await?;
        match field_name {
            "paused" => opts.paused = parse_bool("paused", &text)?,
            "label" => opts.labels.insert(0, text),
            "labels" => opts.labels.extend(text.split(',').map(str::to_owned)),
            "only_files" => opts.only_files = Some(parse_indices(&text)?),
            "peers" => opts.peers = parse_peers(&text.split(',').collect::<Vec<_>>())?,
            _ => opts.subdir = Some(text),
        }
    }
    if sources.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "the upload contains no 'torrent' file part",
        ));
    }
    Ok((sources, opts))
}

#[utoipa::path(post, path = "/api/profiles/{id}/torrents", tag = "torrents", operation_id = "add_torrents",
    params(ProfilePath),
    request_body(content = AddJson, description = "JSON, or multipart/form-data with `torrent` file parts (at most 100 torrents and 128 parts) and the text fields paused, label, only_files, peers, subdir, magnet (one per line) and url"),
    responses((status = 201, body = AddResponse), (status = 404, description = "no such profile (or not visible)"), (status = 409, description = "a torrent is already present")))]
pub async fn add(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(profile): ApiPath<String>,
    req: Request,
) -> Result<Response, ApiError> {
    id.require(&profile, Need::Write)?;
    st.engine.profile(&profile)?;
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (sources, opts) = if ct.starts_with("multipart/form-data") {
        let mp = Multipart::from_request(req, &st)
            .await
            .map_err(|e| ApiError::new(ErrorCode::InvalidMultipart, e.body_text()))?;
        match read_multipart(mp).await {
            Ok(v) => v,
            Err(e) => {
                // Refused while reading: the rest of the form is unread, so this connection
                // cannot carry another request; tell the client not to reuse it.
                let mut r = e.into_response();
                r.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
                return Ok(r);
            }
        }
    } else {
        let body = axum::Json::<AddJson>::from_request(req, &st)
            .await
            .map_err(json_rejection)?
            .0;
        let mut sources = Vec::new();
        match (body.magnet, body.url) {
            (Some(m), None) => sources.push(AddSource::Magnet(m)),
            (None, Some(u)) => sources.push(AddSource::Url(u)),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::InvalidInput,
                    "give exactly one of 'magnet' or 'url' (or upload .torrent files as multipart)",
                ));
            }
        }
        let opts = AddOptions {
            paused: body.paused,
            labels: body.label.into_iter().chain(body.labels).collect(),
            only_files: body.only_files,
            peers: parse_peers(&body.peers.iter().map(String::as_str).collect::<Vec<_>>())?,
            subdir: body.subdir,
            ..Default::default()
        };
        (sources, opts)
    };
    let mut opts = opts;
    opts.fetch = if id.is_admin() {
        FetchAccess::Any
    } else {
        FetchAccess::Public
    };
    let added = st
        .engine
        .add(&profile, sources, opts)
        .await
        .map_err(|e| match e {
            // Never name a profile the caller cannot see.
            EngineError::Duplicate { profile: other, .. }
                if id.level(&other) == crate::access::Level::None =>
            {
                ApiError::new(
                    ErrorCode::DuplicateTorrent,
                    "this torrent is already in pytorrentd",
                )
            }
            e => e.into(),
        })?;
    let warnings = st.engine.space_warnings(&added);
    Ok((StatusCode::CREATED, Json(AddResponse { added, warnings })).into_response())
}

#[utoipa::path(get, path = "/api/profiles/{id}/torrents", tag = "torrents", operation_id = "list_torrents",
    params(ProfilePath),
    responses((status = 200, body = Vec<TorrentRow>), (status = 404, description = "no such profile (or not visible)")))]
pub async fn list(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(profile): ApiPath<String>,
) -> Result<Response, ApiError> {
    id.require(&profile, Need::Read)?;
    let body = st.engine.list_json(&profile)?;
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// Resolves the path hash and checks the caller's access to the torrent's profile. Torrents
/// in invisible profiles are reported as missing.
pub(super) fn authorize(
    st: &AppState,
    id: &Identity,
    hash: &str,
    need: Need,
) -> Result<String, ApiError> {
    let hash = parse_hash(hash)?;
    let profile = st.engine.profile_of(&hash)?;
    id.require(&profile, need).map_err(|e| match e {
        // A torrent in an invisible profile does not exist for the caller either.
        AccessError::Invisible(_) => ApiError::new(
            ErrorCode::TorrentNotFound,
            format!("torrent {hash} does not exist"),
        ),
        e => e.into(),
    })?;
    Ok(hash)
}

#[utoipa::path(get, path = "/api/torrents/{hash}", tag = "torrents", operation_id = "get_torrent",
    params(HashPath), responses((status = 200, body = TorrentDetails), (status = 404, description = "no such torrent (or not visible)")))]
pub async fn details(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<TorrentDetails>, ApiError> {
    let hash = authorize(&st, &id, &hash, Need::Read)?;
    Ok(Json(st.engine.details(&hash)?))
}

#[utoipa::path(get, path = "/api/torrents/{hash}/files", tag = "torrents", operation_id = "list_files",
    params(HashPath), responses((status = 200, body = Vec<FileRow>), (status = 404, description = "no such torrent (or not visible)")))]
pub async fn files(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<Vec<FileRow>>, ApiError> {
    let hash = authorize(&st, &id, &hash, Need::Read)?;
    Ok(Json(st.engine.files(&hash)?))
}

#[utoipa::path(get, path = "/api/torrents/{hash}/peers", tag = "torrents", operation_id = "list_peers",
    params(HashPath), responses((status = 200, body = Vec<PeerRow>), (status = 404, description = "no such torrent (or not visible)")))]
pub async fn peers(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<Vec<PeerRow>>, ApiError> {
    let hash = authorize(&st, &id, &hash, Need::Read)?;
    Ok(Json(st.engine.peers(&hash)?))
}

#[utoipa::path(get, path = "/api/torrents/{hash}/trackers", tag = "torrents", operation_id = "list_trackers",
    params(HashPath), responses((status = 200, body = Vec<TrackerRow>), (status = 404, description = "no such torrent (or not visible)")))]
pub async fn trackers(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<Vec<TrackerRow>>, ApiError> {
    let hash = authorize(&st, &id, &hash, Need::Read)?;
    Ok(Json(st.engine.trackers(&hash)?))
}

#[utoipa::path(post, path = "/api/torrents/{hash}/{action}", tag = "torrents", operation_id = "torrent_action",
    params(HashPath, ("action" = TorrentAction, Path)),
    responses((status = 200, body = TorrentRow), (status = 404, description = "no such torrent (or not visible), or no such action"), (status = 409, description = "not possible now (e.g. recheck before the metadata is known, reannounce while not running)")))]
pub async fn action(
    State(st): State<AppState>,
    id: Identity,
    ApiPath((hash, action)): ApiPath<(String, String)>,
) -> Result<Json<TorrentRow>, ApiError> {
    let hash = authorize(&st, &id, &hash, Need::Write)?;
    let e = &st.engine;
    let row = match action.as_str() {
        "pause" => e.pause(&hash).await?,
        "resume" => e.resume(&hash).await?,
        "recheck" => e.recheck(&hash).await?,
        "force-start" => e.force_start(&hash).await?,
        "reannounce" => e.reannounce(&hash).await?,
        other => {
            return Err(ApiError::new(
                ErrorCode::UnknownAction,
                format!(
                    "unknown action '{other}': use pause, resume, recheck, force-start or reannounce"
                ),
            ));
        }
    };
    Ok(Json(row))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TorrentPatch {
    /// One label for older clients: replaces all labels with this one; null or "" removes
    /// them all. Not together with `labels`.
    #[serde(default, deserialize_with = "super::extract::double_option")]
    #[schema(value_type = Option<String>, max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029,]*$")]
    pub label: Option<Option<String>>,
    /// The torrent's labels, replacing the present ones (at most 32, each at most 128
    /// characters without control characters or commas; [] removes them all).
    #[schema(max_items = 32)]
    pub labels: Option<Vec<String>>,
    /// A name to show instead of the torrent's own (1-255 characters, no control
    /// characters); null shows its own again.
    #[serde(default, deserialize_with = "super::extract::double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255)]
    pub name: Option<Option<String>>,
    /// Indices of the wanted files (at least one, each below the torrent's file count).
    #[schema(min_items = 1, max_items = 100000)]
    pub files: Option<Vec<usize>>,
    pub queue: Option<QueueMove>,
    /// Move to another profile (data moves along).
    pub profile: Option<String>,
    /// Share limit: ratio (0-1000), -1 none, null inherits the profile's.
    #[serde(default, deserialize_with = "super::extract::double_option")]
    #[schema(value_type = Option<f64>)]
    pub ratio_limit: Option<Option<f64>>,
    /// Share limit: minutes of seeding after completion, -1 none, null inherits.
    #[serde(default, deserialize_with = "super::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub seed_time_limit: Option<Option<i64>>,
    /// What a reached share limit does (`pause`, `remove`, `remove_with_data`); null inherits.
    #[serde(default, deserialize_with = "super::extract::double_option")]
    #[schema(value_type = Option<crate::store::ShareAction>)]
    pub share_action: Option<Option<crate::store::ShareAction>>,
    /// The torrent's own download limit, bytes/s: 0 = none (its profile's and the global
    /// limits still apply), else 16384 to 4294967295.
    #[schema(maximum = 4294967295_u64)]
    pub dl_limit: Option<u64>,
    /// The torrent's own upload limit, bytes/s (as `dl_limit`).
    #[schema(maximum = 4294967295_u64)]
    pub ul_limit: Option<u64>,
    /// The torrent's tracker URLs, replacing the present list (http://, https:// or udp://,
    /// at most 100; [] none). Announced to at once when the torrent runs; removed ones are
    /// told it stopped. Non-administrators may only use trackers on public addresses.
    #[schema(max_items = 100)]
    pub trackers: Option<Vec<String>>,
}

#[utoipa::path(patch, path = "/api/torrents/{hash}", tag = "torrents", operation_id = "update_torrent",
    params(HashPath), request_body = TorrentPatch,
    responses((status = 200, body = TorrentRow), (status = 404, description = "no such torrent or target profile (or not visible)"), (status = 409, description = "not possible now (file list unknown, move failed)")))]
pub async fn patch(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hash): ApiPath<String>,
    ApiJson(p): ApiJson<TorrentPatch>,
) -> Result<Json<TorrentRow>, ApiError> {
    let hash = authorize(&st, &id, &hash, Need::Write)?;
    if let Some(target) = &p.profile {
        // Moving needs write access on the destination too; invisible ones do not exist.
        id.require(target, Need::Write)?;
    }
    let labels = match (p.label, p.labels) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "give 'labels' or 'label', not both",
            ));
        }
        (Some(one), None) => Some(LabelChange::Set(one.into_iter().collect())),
        (None, Some(all)) => Some(LabelChange::Set(all)),
        (None, None) => None,
    };
    if let Some(t) = &p.trackers {
        let list = crate::engine::trackers::check_list(t)?;
        if !id.is_admin() {
            crate::engine::trackers::check_public(&list, &st.config.fetch_allowed_networks).await?;
        }
    }
    let share = crate::engine::share::ShareChange {
        ratio_limit: p.ratio_limit,
        seed_time_limit: p.seed_time_limit,
        share_action: p.share_action,
    };
    let patch = crate::engine::Patch {
        labels,
        title: p.name,
        share: (!share.is_empty()).then_some(share),
        files: p.files,
        queue: p.queue,
        profile: p.profile,
        dl_limit: p.dl_limit,
        ul_limit: p.ul_limit,
        trackers: p.trackers,
    };
    Ok(Json(st.engine.apply(&hash, patch).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Also delete the downloaded data.
    #[serde(default)]
    pub delete_files: bool,
}

#[utoipa::path(delete, path = "/api/torrents/{hash}", tag = "torrents", operation_id = "delete_torrent",
    params(HashPath, DeleteQuery), responses((status = 204, description = "removed"), (status = 404, description = "no such torrent (or not visible)")))]
pub async fn delete(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hash): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    let hash = authorize(&st, &id, &hash, Need::Write)?;
    st.engine.delete(&hash, q.delete_files).await?;
    Ok(StatusCode::NO_CONTENT)
}

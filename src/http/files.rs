//! A torrent's files in the browser (docs/files.md): one file with HTTP ranges (streamed as
//! its pieces arrive while the torrent downloads), the complete files as one streamed ZIP,
//! and the `.torrent` itself; and the administrators' download of a backup.
//!
//! Downloaded files are other people's content served from our origin, so they never run
//! there: every answer carries a sandboxing CSP, only media, images, PDF and plain text are
//! shown inline, everything else is an attachment.

use std::io::ErrorKind;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::extract::{ApiPath, ApiQuery};
use super::torrents::{HashPath, authorize};
use super::{ApiError, ErrorCode};
use crate::auth::{Identity, Need};
use crate::engine::TorrentState;
use crate::engine::content::FileContent;
use crate::engine::create::CreateOptions;
use crate::engine::creations::{CreationView, DirEntry, NewCreation};
use crate::state::AppState;

/// The CSP of served files: a sandbox (an opaque origin without scripts), media and images
/// from here only.
const FILE_CSP: &str = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";
/// A response that got no data for this long ends (a stream whose pieces never come).
const IDLE: Duration = Duration::from_secs(120);
const CHUNK: usize = 64 * 1024;

/// What a `Range` header asks of a `len`-byte file (RFC 9110 §14: single ranges; anything
/// else, or a malformed header, is ignored and the whole file is sent).
#[derive(Debug, PartialEq, Eq)]
pub enum Ranged {
    Whole,
    /// `start..end`, end exclusive.
    Part(u64, u64),
    Unsatisfiable,
}

pub fn parse_range(value: Option<&str>, len: u64) -> Ranged {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Ranged::Whole;
    };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ranged::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (a.trim().is_empty(), num(a), num(b)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part(len.saturating_sub(n), len)
            }
        }
        (false, Some(first), last) if b.trim().is_empty() || last.is_some() => {
            if let Some(l) = last
                && l < first
            {
                return Ranged::Whole;
            }
            if first >= len {
                return Ranged::Unsatisfiable;
            }
            let end = last.map_or(len, |l| l.saturating_add(1).min(len));
            Ranged::Part(first, end)
        }
        _ => Ranged::Whole,
    }
}

fn http_date(t: SystemTime) -> String {
    DateTime::<Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `filename` as `Content-Disposition` carries it (RFC 6266): an ASCII fallback and the
/// UTF-8 name percent-encoded.
pub fn disposition(kind: &str, filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut enc = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{enc}")
}

/// The media type of a file name, and whether a browser may show it inline.
fn media_type(name: &str) -> (String, bool) {
    let m = mime_guess::from_path(name).first_or_octet_stream();
    let inline = match m.type_().as_str() {
        "video" | "audio" => true,
        // SVG can carry script; it downloads.
        "image" => m.subtype() != "svg",
        "text" => m.subtype() == "plain",
        "application" => m.subtype() == "pdf",
        _ => false,
    };
    let ty = if m.type_() == "text" {
        format!("{m}; charset=utf-8")
    } else {
        m.to_string()
    };
    (ty, inline)
}

/// A body that streams `reader`, ending with an error after [`IDLE`] without data.
fn body_of(reader: Box<dyn AsyncRead + Send + Unpin>, keep: impl Send + 'static) -> Body {
    let stream = futures_util::stream::unfold(Some((reader, keep)), |st| async move {
        let (mut r, keep) = st?;
        let mut buf = vec![0u8; CHUNK];
        match tokio::time::timeout(IDLE, r.read(&mut buf)).await {
            Ok(Ok(0)) => None,
            Ok(Ok(n)) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some((r, keep))))
            }
            Ok(Err(e)) => Some((Err(e), None)),
            Err(_) => Some((
                Err(std::io::Error::new(
                    ErrorKind::TimedOut,
                    "no data arrived for two minutes",
                )),
                None,
            )),
        }
    });
    // Fused: the body may be polled again after its end (a plain `unfold` panics then).
    Body::from_stream(futures_util::StreamExt::fuse(stream))
}

fn set(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentQuery {
    /// Ask the browser to save the file instead of showing it.
    #[serde(default)]
    pub download: Option<String>,
}

/// A file index in the path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct IndexPath {
    /// The file's index in the torrent (as `/files` lists them).
    #[param(minimum = 0)]
    index: u64,
}

#[utoipa::path(get, path = "/api/torrents/{hash}/files/{index}/content", tag = "files", operation_id = "file_content",
    params(HashPath, IndexPath, ContentQuery),
    responses(
        (status = 200, description = "The whole file (streamed as it downloads)", content_type = "application/octet-stream"),
        (status = 206, description = "The requested range (single ranges)", content_type = "application/octet-stream"),
        (status = 304, description = "Not modified (complete files: If-None-Match, If-Modified-Since)"),
        (status = 404, description = "no such torrent (or not visible) or file"),
        (status = 409, description = "metadata unknown, or the part asked is not downloaded and the torrent is not running"),
        (status = 416, description = "the range starts beyond the end of the file"),
        (status = 503, description = "too many files are streaming; retry"),
    ))]
pub async fn content(
    State(st): State<AppState>,
    id: Identity,
    method: Method,
    headers: HeaderMap,
    ApiPath((hash, index)): ApiPath<(String, usize)>,
    ApiQuery(q): ApiQuery<ContentQuery>,
) -> Result<Response, ApiError> {
    let hash = authorize(&st, &id, &hash, Need::Read)?;
    let mut f = st.engine.file_content(&hash, index)?;
    let base = f.name.rsplit('/').next().unwrap_or(&f.name).to_owned();
    let (ty, inline) = media_type(&base);
    let download = q
        .download
        .as_deref()
        .is_some_and(|v| v != "0" && v != "false");
    let etag = f.complete.then(|| {
        let m = f
            .modified
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        format!("\"{}-{index}-{:x}-{m:x}\"", &hash[..16], f.len)
    });
    let last_modified = f.modified.filter(|_| f.complete);

    let mut h = HeaderMap::new();
    set(&mut h, header::CONTENT_TYPE, &ty);
    set(&mut h, header::ACCEPT_RANGES, "bytes");
    set(&mut h, header::CONTENT_SECURITY_POLICY, FILE_CSP);
    set(
        &mut h,
        header::CONTENT_DISPOSITION,
        &disposition(
            if inline && !download {
                "inline"
            } else {
                "attachment"
            },
            &base,
        ),
    );
    set(&mut h, header::CACHE_CONTROL, "private, no-cache");
    if let Some(e) = &etag {
        set(&mut h, header::ETAG, e);
    }
    if let Some(m) = last_modified {
        set(&mut h, header::LAST_MODIFIED, &http_date(m));
    }

    // Conditional requests (complete files only have validators).
    let header_str = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok());
    let not_modified = match (header_str(header::IF_NONE_MATCH), &etag) {
        (Some(inm), Some(e)) => inm.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == e
        }),
        (Some(_), None) => false,
        (None, _) => match (
            header_str(header::IF_MODIFIED_SINCE).and_then(parse_http_date),
            last_modified,
        ) {
            (Some(since), Some(m)) => DateTime::<Utc>::from(m).timestamp() <= since.timestamp(),
            _ => false,
        },
    };
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    let range_ok = match header_str(header::IF_RANGE) {
        None => true,
        Some(v) if v.trim().starts_with('"') || v.trim().starts_with("W/") => {
            etag.as_deref() == Some(v.trim())
        }
        Some(v) => match (parse_http_date(v), last_modified) {
            (Some(d), Some(m)) => DateTime::<Utc>::from(m).timestamp() == d.timestamp(),
            _ => false,
        },
    };
    let ranged = if range_ok {
        parse_range(header_str(header::RANGE), f.len)
    } else {
        Ranged::Whole
    };
    let (status, start, end) = match ranged {
        Ranged::Whole => (StatusCode::OK, 0, f.len),
        Ranged::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b),
        Ranged::Unsatisfiable => {
            set(&mut h, header::CONTENT_RANGE, &format!("bytes */{}", f.len));
            let e = ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                format!(
                    "the range asked starts beyond the end of the file ({} bytes)",
                    f.len
                ),
            );
            let mut r = e.into_response();
            r.headers_mut().extend(h);
            return Ok(r);
        }
    };
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            &mut h,
            header::CONTENT_RANGE,
            &format!("bytes {start}-{}/{}", end.saturating_sub(1), f.len),
        );
    }
    set(&mut h, header::CONTENT_LENGTH, &(end - start).to_string());
    // A torrent on its way into the engine (its metadata just arrived, or its data is being
    // checked) is about to run: give it a few seconds before answering "not downloaded".
    let mut tries = 0;
    while !f.available(start, end) {
        let row = st.engine.row(&hash)?;
        let starting = !row.paused
            && matches!(
                row.state,
                TorrentState::Initializing | TorrentState::Checking | TorrentState::Downloading
            );
        if !starting || tries >= 40 {
            return Err(not_downloaded(&f));
        }
        tries += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
        f = st.engine.file_content(&hash, index)?;
    }
    if method == Method::HEAD {
        return Ok((status, h).into_response());
    }
    let r = f.open(&st.engine, start, end).await?;
    Ok((status, h, body_of(r.reader, r.slot)).into_response())
}

fn not_downloaded(f: &FileContent) -> ApiError {
    ApiError::new(
        ErrorCode::NotDownloaded,
        format!(
            "this part of '{}' is not downloaded yet and the torrent is not running; resume it to stream the file",
            crate::limits::quote(&f.name)
        ),
    )
}

#[utoipa::path(get, path = "/api/torrents/{hash}/archive", tag = "files", operation_id = "torrent_archive",
    params(HashPath),
    responses(
        (status = 200, description = "A ZIP (stored, ZIP64 when needed) of the wanted files that are complete, folders kept", content_type = "application/zip"),
        (status = 404, description = "no such torrent (or not visible)"),
        (status = 409, description = "no file is complete yet"),
    ))]
pub async fn archive(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hash): ApiPath<String>,
) -> Result<Response, ApiError> {
    let hash = authorize(&st, &id, &hash, Need::Read)?;
    let name = st.engine.row(&hash)?.name;
    let files = st.engine.complete_files(&hash)?;
    if files.is_empty() {
        return Err(ApiError::new(
            ErrorCode::NotDownloaded,
            "no file of this torrent is complete yet",
        ));
    }
    let (mut w, r) = tokio::io::duplex(CHUNK);
    tokio::spawn(async move {
        let entries = files.into_iter().map(|f| {
            let data: Box<dyn AsyncRead + Send + Unpin> = match f.open_disk() {
                Ok(file) => Box::new(file.take(f.len)),
                Err(e) => Box::new(Failing(Some(e.to_string()))),
            };
            crate::zipstream::Entry {
                name: f.name.clone(),
                len: f.len,
                modified: f.modified,
                data,
            }
        });
        if let Err(e) = crate::zipstream::write(&mut w, entries, Default::default()).await {
            // The client sees a truncated archive; the cause stays here.
            tracing::warn!(%hash, "archive stopped: {e}");
        }
    });
    let mut h = HeaderMap::new();
    set(&mut h, header::CONTENT_TYPE, "application/zip");
    set(&mut h, header::CONTENT_SECURITY_POLICY, FILE_CSP);
    set(
        &mut h,
        header::CONTENT_DISPOSITION,
        &disposition("attachment", &format!("{name}.zip")),
    );
    Ok((StatusCode::OK, h, body_of(Box::new(r), ())).into_response())
}

/// A reader that fails: a file that could not be opened ends the archive with its reason.
struct Failing(Option<String>);

impl AsyncRead for Failing {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        _buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let why = self.0.take().unwrap_or_else(|| "unreadable file".into());
        std::task::Poll::Ready(Err(std::io::Error::other(why)))
    }
}

#[utoipa::path(get, path = "/api/torrents/{hash}/torrent", tag = "files", operation_id = "torrent_file",
    params(HashPath),
    responses(
        (status = 200, description = "The .torrent file as added (or as fetched for a magnet)", content_type = "application/x-bittorrent"),
        (status = 404, description = "no such torrent (or not visible)"),
        (status = 409, description = "a magnet whose metadata is not known yet"),
    ))]
pub async fn torrent_file(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(hash): ApiPath<String>,
) -> Result<Response, ApiError> {
    let hash = authorize(&st, &id, &hash, Need::Read)?;
    let bytes = st.engine.torrent_file(&hash)?;
    let name = st.engine.row(&hash)?.name;
    let mut h = HeaderMap::new();
    set(&mut h, header::CONTENT_TYPE, "application/x-bittorrent");
    set(
        &mut h,
        header::CONTENT_DISPOSITION,
        &disposition("attachment", &format!("{name}.torrent")),
    );
    Ok((StatusCode::OK, h, bytes).into_response())
}

/// What `POST /api/profiles/{id}/create-torrent` takes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTorrentJson {
    /// The file or folder, relative to the profile's download directory (no `..`, no
    /// symbolic link on the way).
    #[schema(min_length = 1, max_length = 1024)]
    pub path: String,
    /// Tracker URLs (http, https, udp), each its own tier.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub trackers: Vec<String>,
    /// A power of two from 16 KiB to 64 MiB; omitted: chosen for about 1,500 pieces.
    pub piece_length: Option<u32>,
    #[serde(default)]
    pub private: bool,
    #[schema(max_length = 4096)]
    pub comment: Option<String>,
    /// Web seed URLs (BEP 19).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub web_seeds: Vec<String>,
}

#[utoipa::path(post, path = "/api/profiles/{id}/create-torrent", tag = "files", operation_id = "create_torrent",
    params(super::torrents::ProfilePath), request_body = CreateTorrentJson,
    responses(
        (status = 202, description = "Hashing started; progress comes as `creation` feed events and from GET /api/creations/{cid}", body = CreationView),
        (status = 400, description = "path outside the profile, missing, or a symbolic link; bad options"),
        (status = 404, description = "no such profile (or not visible)"),
        (status = 503, description = "two creations are running already"),
    ))]
pub async fn create_torrent(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(profile): ApiPath<String>,
    super::extract::ApiJson(b): super::extract::ApiJson<CreateTorrentJson>,
) -> Result<(StatusCode, axum::Json<CreationView>), ApiError> {
    id.require(&profile, Need::Write)?;
    let v = st.engine.start_creation(
        &profile,
        NewCreation {
            path: b.path,
            options: CreateOptions {
                trackers: b.trackers,
                piece_length: b.piece_length,
                private: b.private,
                comment: b.comment,
                web_seeds: b.web_seeds,
            },
        },
    )?;
    Ok((StatusCode::ACCEPTED, axum::Json(v)))
}

/// A creation the caller may see (404 otherwise).
fn creation_for(
    st: &AppState,
    id: &Identity,
    cid: &str,
    need: Need,
) -> Result<CreationView, ApiError> {
    let missing = || {
        ApiError::new(
            ErrorCode::NotFound,
            format!("no torrent creation '{}'", crate::limits::quote(cid)),
        )
    };
    let v = st.engine.creation_view(cid).ok_or_else(missing)?;
    match id.require(&v.profile, need) {
        Ok(()) => Ok(v),
        Err(crate::auth::AccessError::Invisible(_)) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/api/creations", tag = "files", operation_id = "list_creations",
    responses((status = 200, body = Vec<CreationView>)))]
pub async fn list_creations(
    State(st): State<AppState>,
    id: Identity,
) -> axum::Json<Vec<CreationView>> {
    let mut all = st.engine.creations();
    all.retain(|c| id.level(&c.profile) != crate::access::Level::None);
    axum::Json(all)
}

#[utoipa::path(get, path = "/api/creations/{cid}", tag = "files", operation_id = "get_creation",
    params(("cid" = String, Path, description = "The creation's id")),
    responses((status = 200, body = CreationView), (status = 404, description = "no such creation (or not visible)")))]
pub async fn get_creation(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(cid): ApiPath<String>,
) -> Result<axum::Json<CreationView>, ApiError> {
    creation_for(&st, &id, &cid, Need::Read).map(axum::Json)
}

#[utoipa::path(delete, path = "/api/creations/{cid}", tag = "files", operation_id = "cancel_creation",
    params(("cid" = String, Path, description = "The creation's id")),
    responses((status = 200, description = "Cancelling (it ends as `cancelled`)", body = CreationView), (status = 404, description = "no such creation (or not visible)"), (status = 409, description = "it has already ended")))]
pub async fn cancel_creation(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(cid): ApiPath<String>,
) -> Result<axum::Json<CreationView>, ApiError> {
    creation_for(&st, &id, &cid, Need::Write)?;
    Ok(axum::Json(st.engine.cancel_creation(&cid)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BrowseQuery {
    /// A folder relative to the profile's download directory (empty: the directory itself).
    #[serde(default)]
    #[param(max_length = 1024)]
    pub path: String,
}

#[utoipa::path(get, path = "/api/profiles/{id}/browse", tag = "files", operation_id = "browse_profile",
    params(super::torrents::ProfilePath, BrowseQuery),
    responses((status = 200, description = "Folders first, then files, by name (symbolic links left out; at most 2,000)", body = Vec<DirEntry>),
        (status = 400, description = "outside the profile, missing, or a symbolic link"),
        (status = 404, description = "no such profile (or not visible)")))]
pub async fn browse(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(profile): ApiPath<String>,
    ApiQuery(q): ApiQuery<BrowseQuery>,
) -> Result<axum::Json<Vec<DirEntry>>, ApiError> {
    id.require(&profile, Need::Write)?;
    let p = st.engine.profile(&profile)?;
    Ok(axum::Json(crate::engine::creations::browse(
        &p.download_dir,
        &q.path,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_rfc_9110_reads_them() {
        let r = |v: &str| parse_range(Some(v), 1000);
        assert_eq!(r("bytes=0-99"), Ranged::Part(0, 100));
        assert_eq!(r("bytes=500-"), Ranged::Part(500, 1000));
        assert_eq!(r("bytes=-100"), Ranged::Part(900, 1000));
        assert_eq!(r("bytes=-5000"), Ranged::Part(0, 1000));
        assert_eq!(r("bytes=990-5000"), Ranged::Part(990, 1000));
        assert_eq!(r("bytes=1000-"), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=-0"), Ranged::Unsatisfiable);
        // Ignored: several ranges, bad syntax, last before first, other units.
        for v in [
            "bytes=0-1,5-6",
            "bytes=a-b",
            "bytes=5-1",
            "items=0-1",
            "bytes=",
            "bytes=--1",
        ] {
            assert_eq!(r(v), Ranged::Whole, "{v}");
        }
        assert_eq!(parse_range(None, 10), Ranged::Whole);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Ranged::Unsatisfiable);
    }

    #[test]
    fn dispositions_escape_names() {
        assert_eq!(
            disposition("inline", "a b.mkv"),
            "inline; filename=\"a b.mkv\"; filename*=UTF-8''a%20b.mkv"
        );
        let d = disposition("attachment", "é\"\\\n.txt");
        assert!(d.starts_with("attachment; filename=\"____.txt\""), "{d}");
        assert!(d.ends_with("filename*=UTF-8''%C3%A9%22%5C%0A.txt"), "{d}");
    }

    #[test]
    fn only_safe_types_are_inline() {
        assert!(media_type("v.webm").1 && media_type("a.mp3").1 && media_type("p.png").1);
        assert!(media_type("d.pdf").1 && media_type("r.txt").1);
        for n in ["x.html", "x.svg", "x.js", "x.exe", "noext"] {
            assert!(!media_type(n).1, "{n} must download");
        }
    }
}

#[utoipa::path(get, path = "/api/backup", tag = "settings", operation_id = "download_backup",
    responses(
        (status = 200, description = "A backup (tar.gz: the database and fast-resume state), as `pytorrentd backup` writes it", content_type = "application/gzip"),
        (status = 403, description = "administrators only"),
    ))]
pub async fn backup(State(st): State<AppState>, id: Identity) -> Result<Response, ApiError> {
    id.require_admin()?;
    let data_dir = st.config.data_dir.clone();
    let file = data_dir.join(format!(".download-{}.tar.gz", rand::random::<u64>()));
    let bits = st.engine.resume_bitfields();
    let (store, f2, dd) = (st.store.clone(), file.clone(), data_dir.clone());
    let made =
        tokio::task::spawn_blocking(move || crate::backup::write_file(&store, &bits, &dd, &f2))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
    if let Err(e) = made {
        return Err(ApiError::internal(format!("writing a backup: {e}")));
    }
    let opened = tokio::fs::File::open(&file).await;
    // Unlinked at once: the open file streams, and nothing stays behind on any outcome.
    let _ = std::fs::remove_file(&file);
    let f = opened.map_err(|e| ApiError::internal(format!("reading the backup: {e}")))?;
    let len = f.metadata().await.map(|m| m.len()).ok();
    let name = format!(
        "pytorrentd-backup-{}.tar.gz",
        Utc::now().format("%Y%m%d-%H%M%S")
    );
    let mut resp = body_of(Box::new(f), ()).into_response();
    let h = resp.headers_mut();
    set(h, header::CONTENT_TYPE, "application/gzip");
    set(
        h,
        header::CONTENT_DISPOSITION,
        &format!("attachment; filename=\"{name}\""),
    );
    set(h, header::CACHE_CONTROL, "no-store");
    if let Some(len) = len {
        set(h, header::CONTENT_LENGTH, &len.to_string());
    }
    Ok(resp)
}

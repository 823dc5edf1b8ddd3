//! The qBittorrent Web API v2 under `/api/v2/` (docs/qbittorrent.md), so that Sonarr,
//! Radarr, Prowlarr, autobrr and qBittorrent scripts drive pytorrentd unchanged.
//!
//! A second surface over the same parts: the one resolver (`auth::resolve`, with `SID` as a
//! session cookie), the same permission checks, limits and engine calls as the REST API.
//! Only the encodings differ: form or multipart parameters (from the query and the body),
//! plain-text answers (`Ok.`, `Fails.`) or qBittorrent's JSON shapes, and its status codes
//! (403 when not logged in, 409/415/404 where it answers so). A qBittorrent category is a
//! profile; a tag is a label.

mod actions;
mod prefs;
mod shape;
mod sync;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use http::{HeaderMap, Method, StatusCode, header};

pub use sync::SyncSessions;

use super::extract::peer_of;
use super::torrents::multipart_error;
use super::{ApiError, ErrorCode};
use crate::access::Level;
use crate::auth::{AccessError, Denied, Identity, Need, resolve};
use crate::limits;
use crate::state::AppState;

/// The version this API presents itself as (the *arr apps check it; 2.9 is qBittorrent 4.6).
const APP_VERSION: &str = "v4.6.7";
const WEBAPI_VERSION: &str = "2.9.3";
/// Form fields in one urlencoded body (multipart bodies have `limits::MULTIPART_PARTS_MAX`).
const FORM_FIELDS_MAX: usize = 256;

/// The routes, nested under `/api`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v2", any(not_found))
        .route("/v2/{*rest}", any(dispatch))
}

/// One call: its parameters (query, then body), uploaded files, and who sent it.
pub(crate) struct Call {
    params: HashMap<String, String>,
    /// Uploaded `.torrent` files: (file name, bytes).
    files: Vec<(String, Vec<u8>)>,
    headers: HeaderMap,
    peer: Option<SocketAddr>,
}

impl Call {
    fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A parameter qBittorrent requires (400 without it, as qBittorrent answers).
    fn need(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("Missing required parameter: {name}"),
            )
        })
    }

    /// A boolean as qBittorrent reads one (`true`/`True`/`1`; absent or anything else: no).
    fn flag(&self, name: &str) -> Option<bool> {
        self.get(name)
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"))
    }
}

/// What a qBittorrent endpoint answers.
pub(crate) enum Answer {
    /// `Ok.` or `Fails.` or another text.
    Text(&'static str),
    Owned(String),
    Json(serde_json::Value),
    /// 200 with an empty body (most actions).
    Empty,
    /// A response built by the handler (login sets a cookie).
    Raw(Response),
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let text =
            |s: String| ([(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], s).into_response();
        match self {
            Answer::Text(s) => text(s.to_owned()),
            Answer::Owned(s) => text(s),
            Answer::Json(v) => Json(v).into_response(),
            Answer::Empty => text(String::new()),
            Answer::Raw(r) => r,
        }
    }
}

/// An error as qBittorrent sends one: the status and one line of text. 5xx causes are
/// logged, never sent (the message of an internal error is the generic one).
fn render(e: ApiError) -> Response {
    e.log_cause();
    let mut r = (
        e.status,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        e.message,
    )
        .into_response();
    if let Some(s) = e.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, http::HeaderValue::from(s));
    }
    r
}

fn plain(status: StatusCode, text: &str) -> ApiError {
    let code = match status {
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::CONFLICT => ErrorCode::Conflict,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        _ => ErrorCode::BadRequest,
    };
    ApiError::new(code, text)
}

fn forbidden() -> ApiError {
    plain(StatusCode::FORBIDDEN, "Forbidden")
}

async fn not_found() -> Response {
    render(plain(StatusCode::NOT_FOUND, "Not Found"))
}

/// Reads the parameters: the query, then an urlencoded or multipart body (file parts are
/// `.torrent` uploads whatever their field name, as qBittorrent reads them).
async fn read_call(st: &AppState, req: Request) -> Result<Call, ApiError> {
    let (parts, body) = req.into_parts();
    let mut params = HashMap::new();
    let mut count = 0usize;
    let mut put = |params: &mut HashMap<String, String>, k: String, v: String| {
        count += 1;
        if count > FORM_FIELDS_MAX {
            return Err(plain(
                StatusCode::BAD_REQUEST,
                &format!("at most {FORM_FIELDS_MAX} parameters are accepted"),
            ));
        }
        params.insert(k, v);
        Ok(())
    };
    if let Some(q) = parts.uri.query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            put(&mut params, k.into_owned(), v.into_owned())?;
        }
    }
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut files = Vec::new();
    let headers = parts.headers.clone();
    let peer = peer_of(&parts);
    let method = parts.method.clone();
    let req = Request::from_parts(parts, body);
    if ct.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, st)
            .await
            .map_err(|e| ApiError::new(ErrorCode::InvalidMultipart, e.body_text()))?;
        let mut n = 0usize;
        while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
            super::torrents::count_part(&mut n)?;
            let name = field.name().unwrap_or("").to_owned();
            if let Some(fname) = field.file_name().map(str::to_owned) {
                let bytes = field.bytes().await.map_err(multipart_error)?;
                files.push((fname, bytes.to_vec()));
                limits::check_source_count(files.len())?;
            } else {
                let text = super::torrents::read_text(&mut field, &name).await?;
                put(&mut params, name, text)?;
            }
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") || method == Method::POST {
        let bytes = axum::body::to_bytes(
            req.into_body(),
            crate::engine::MAX_TORRENT_BYTES + 64 * 1024,
        )
        .await
        .map_err(|_| super::extract::too_large())?;
        for (k, v) in url::form_urlencoded::parse(&bytes) {
            put(&mut params, k.into_owned(), v.into_owned())?;
        }
    }
    Ok(Call {
        params,
        files,
        headers,
        peer,
    })
}

/// The caller, by the one resolver; anyone it cannot place gets qBittorrent's 403.
fn identity(st: &AppState, call: &Call) -> Result<Identity, ApiError> {
    resolve(&st.config, &st.store, &call.headers, call.peer).map_err(|d| match d {
        Denied::Internal(cause) => ApiError::internal(cause),
        _ => forbidden(),
    })
}

/// Actions that change something answer only to POST, as in qBittorrent.
fn post_only(scope: &str, action: &str) -> bool {
    match scope {
        "auth" => true,
        "app" => matches!(action, "setPreferences" | "shutdown"),
        "transfer" => action.starts_with("set") || action == "toggleSpeedLimitsMode",
        "torrents" => !matches!(
            action,
            "info"
                | "properties"
                | "files"
                | "trackers"
                | "webseeds"
                | "categories"
                | "tags"
                | "count"
                | "uploadLimit"
                | "downloadLimit"
        ),
        _ => false,
    }
}

async fn dispatch(
    State(st): State<AppState>,
    axum::extract::Path(rest): axum::extract::Path<String>,
    req: Request,
) -> Response {
    // `scope/action`, as qBittorrent's own pattern: anything else is not an endpoint.
    let Some((scope, action)) = rest.split_once('/').filter(|(s, a)| {
        let word =
            |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        word(s) && word(a)
    }) else {
        return not_found().await;
    };
    let method = req.method().clone();
    let allowed = method == Method::POST || (method == Method::GET && !post_only(scope, action));
    if !allowed {
        return render(plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"));
    }
    let call = match read_call(&st, req).await {
        Ok(c) => c,
        Err(e) => {
            let mut r = render(e);
            // The rest of a refused body is unread: this connection cannot be reused.
            r.headers_mut()
                .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
            return r;
        }
    };
    match route(&st, scope, action, call).await {
        Ok(a) => a.into_response(),
        Err(e) => render(e),
    }
}

async fn route(st: &AppState, scope: &str, action: &str, call: Call) -> Result<Answer, ApiError> {
    if scope == "auth" {
        return match action {
            "login" => sync::login(st, call).await,
            "logout" => sync::logout(st, call),
            _ => Err(plain(StatusCode::NOT_FOUND, "Not Found")),
        };
    }
    let id = identity(st, &call)?;
    match scope {
        "app" => sync::app(st, &id, action, &call),
        "transfer" => prefs::transfer(st, &id, action, &call),
        "sync" if action == "maindata" => sync::maindata(st, &id, &call),
        "torrents" => actions::torrents(st, &id, action, call).await,
        _ => Err(plain(StatusCode::NOT_FOUND, "Not Found")),
    }
}

/// The torrents a `hashes` parameter names (`|`-separated, or `all`) that the caller may
/// act on with `need`. Unknown and invisible hashes are skipped, as qBittorrent skips
/// unknown ones; a named torrent the caller may only read refuses the whole call (403)
/// before anything changes. `all` means every torrent the caller may act on.
fn selected(
    st: &AppState,
    id: &Identity,
    hashes: &str,
    need: Need,
) -> Result<Vec<String>, ApiError> {
    let ok = |p: &str| match need {
        Need::Read => id.level(p) != Level::None,
        Need::Write => id.level(p) == Level::Full || id.is_admin(),
    };
    if hashes.trim() == "all" {
        return Ok(st
            .engine
            .all_rows()
            .into_iter()
            .filter(|r| ok(&r.profile))
            .map(|r| r.hash)
            .collect());
    }
    let mut out = Vec::new();
    for h in hashes.split('|').map(str::trim).filter(|h| !h.is_empty()) {
        let Ok(h) = super::extract::parse_hash(h) else {
            continue;
        };
        let Ok(profile) = st.engine.profile_of(&h) else {
            continue;
        };
        match id.require(&profile, need) {
            Ok(()) => out.push(h),
            Err(AccessError::Invisible(_)) => {}
            Err(e) => return Err(plain(StatusCode::FORBIDDEN, &e.to_string())),
        }
    }
    Ok(out)
}

/// The one torrent a `hash` parameter names, if the caller may read it (404 otherwise, as
/// qBittorrent answers for an unknown hash).
fn one(st: &AppState, id: &Identity, call: &Call) -> Result<String, ApiError> {
    let h = call.need("hash")?;
    let missing = || plain(StatusCode::NOT_FOUND, "Not Found");
    let h = super::extract::parse_hash(h.trim()).map_err(|_| missing())?;
    let profile = st.engine.profile_of(&h).map_err(|_| missing())?;
    if id.level(&profile) == Level::None {
        return Err(missing());
    }
    Ok(h)
}

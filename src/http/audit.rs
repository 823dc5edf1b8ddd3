//! Puts changes made through the HTTP APIs in the audit log (`crate::audit`): one layer over
//! every API route, so no handler can forget it. For each successful request that changes
//! something it records who (the same resolver as the handlers), the client's address, the
//! action named after the route (`torrent_delete`, `profile_update`, the qBittorrent API's
//! `torrents/setCategory` as `torrent_move`, …), the object (path parameters, or the hashes,
//! category or name a form names) and which fields a JSON change touched — never their values,
//! so no password reaches the log. Logins are recorded where the password is checked
//! (`auth::password_login`), failures included. `GET /api/audit` lists the log for
//! administrators.

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;

use crate::state::AppState;

/// Request bodies read for their field names at most (larger ones are not looked at).
const BODY_PEEK_MAX: usize = 64 * 1024;
/// The add answer read for the added hashes at most.
const ADDED_PEEK_MAX: usize = 1 << 20;

/// What a request body says, for the log.
#[derive(Default)]
struct Fields {
    /// JSON object keys, or form field names.
    names: Vec<String>,
    /// A few values that name objects: `username`, `id`, `name`, `profile`, `hashes`,
    /// `category`, `deleteFiles`.
    values: Vec<(String, String)>,
}

impl Fields {
    fn value(&self, k: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    }
    fn has(&self, k: &str) -> bool {
        self.names.iter().any(|n| n == k)
    }
    fn list(&self) -> Option<String> {
        (!self.names.is_empty()).then(|| self.names.join(", "))
    }
}

const NAMING: [&str; 7] = [
    "username",
    "id",
    "name",
    "profile",
    "hashes",
    "category",
    "deleteFiles",
];

fn fields_of(content_type: &str, body: &[u8]) -> Fields {
    let mut f = Fields::default();
    let short = |v: &str| v.chars().filter(|c| !c.is_control()).take(200).collect();
    if content_type.starts_with("application/json") {
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(body) {
            for (k, v) in m {
                if NAMING.contains(&k.as_str())
                    && let Some(s) = v.as_str()
                {
                    f.values.push((k.clone(), short(s)));
                }
                f.names.push(k);
            }
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in url::form_urlencoded::parse(body) {
            if NAMING.contains(&k.as_ref()) {
                f.values.push((k.to_string(), short(&v)));
            }
            f.names.push(k.into_owned());
        }
    }
    f
}

/// The segments of a concrete path matching `{…}` segments of its route template, in order.
fn params(template: &str, path: &str) -> Vec<String> {
    let mut v: Vec<String> = template
        .rsplit('/')
        .zip(path.rsplit('/'))
        .filter(|(t, _)| t.starts_with('{'))
        .map(|(_, p)| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    v.reverse();
    v
}

/// (action, target, detail) of a REST call, or `None` for what is not worth a line.
fn rest(
    m: &Method,
    template: &str,
    p: &[String],
    f: &Fields,
    query: &str,
) -> Option<(String, Option<String>, Option<String>)> {
    let first = p.first().cloned();
    let t = template.trim_start_matches("/api");
    let a = |s: &str| Some(s.to_owned());
    let (action, target, detail) = match (m.as_str(), t) {
        ("POST", "/auth/login") => return None,
        ("POST", "/auth/logout") => (a("logout"), None, None),
        ("POST", "/users") => (a("user_create"), f.value("username"), f.list()),
        ("PATCH", "/users/{name}") => (a("user_update"), first, f.list()),
        ("DELETE", "/users/{name}") => (a("user_delete"), first, None),
        ("POST", "/tokens") => (a("token_create"), f.value("name"), None),
        ("DELETE", "/tokens/{id}") => (a("token_delete"), first, None),
        ("POST", "/me/password") => (a("password_change"), None, None),
        ("DELETE", _) if t.starts_with("/me/sessions") => (a("session_revoke"), first, None),
        ("PUT", "/me/preferences") | ("POST", "/me/notifications/read") => return None,
        // Not the URL: it may carry credentials.
        ("POST", "/webhooks") => (a("webhook_create"), None, f.list()),
        ("PATCH", "/webhooks/{id}") => (a("webhook_update"), first, f.list()),
        ("DELETE", "/webhooks/{id}") => (a("webhook_delete"), first, None),
        ("POST", "/webhooks/{id}/test") => (a("webhook_test"), first, None),
        ("POST", "/rss/feeds") => (a("rss_feed_create"), f.value("profile"), f.list()),
        ("PATCH", "/rss/feeds/{id}") => (a("rss_feed_update"), first, f.list()),
        ("DELETE", "/rss/feeds/{id}") => (a("rss_feed_delete"), first, None),
        ("POST", "/rss/rules") => (a("rss_rule_create"), f.value("name"), f.list()),
        ("PATCH", "/rss/rules/{id}") => (a("rss_rule_update"), first, f.list()),
        ("DELETE", "/rss/rules/{id}") => (a("rss_rule_delete"), first, None),
        // Reads sent as POST.
        ("POST", "/rss/preview") | ("POST", "/rss/feeds/{id}/refresh") => return None,
        ("POST", "/profiles") => (a("profile_create"), f.value("id"), f.list()),
        ("PATCH", "/profiles/{id}") => (a("profile_update"), first, f.list()),
        ("DELETE", "/profiles/{id}") => (a("profile_delete"), first, None),
        ("POST", "/profiles/{id}/torrents") => (a("torrent_add"), first, None),
        ("POST", "/profiles/{id}/create-torrent") => (a("torrent_create"), first, None),
        ("PATCH", "/torrents/{hash}") if f.has("profile") => (
            a("torrent_move"),
            first,
            f.value("profile").map(|to| format!("to {to}")),
        ),
        ("PATCH", "/torrents/{hash}") => (a("torrent_update"), first, f.list()),
        ("DELETE", "/torrents/{hash}") => {
            let with = url::form_urlencoded::parse(query.as_bytes())
                .any(|(k, v)| k == "delete_files" && v == "true");
            (
                a("torrent_delete"),
                first,
                Some(if with { "with data" } else { "without data" }.into()),
            )
        }
        ("POST", "/torrents/{hash}/{action}") => {
            (Some(format!("torrent_{}", p.get(1)?)), first, None)
        }
        ("PATCH", "/settings") => (a("settings_update"), None, f.list()),
        ("POST", "/backup") => (a("backup"), None, None),
        _ => (Some(format!("{} {t}", m.as_str())), None, None),
    };
    Some((action?, target, detail))
}

/// The qBittorrent API's reads (which clients may also POST): not logged.
const QBIT_READS: [&str; 18] = [
    "info",
    "properties",
    "files",
    "trackers",
    "webseeds",
    "categories",
    "tags",
    "count",
    "uploadLimit",
    "downloadLimit",
    "maindata",
    "version",
    "webapiVersion",
    "buildInfo",
    "preferences",
    "defaultSavePath",
    "speedLimitsMode",
    "torrentPeers",
];

fn qbit(call: &str, f: &Fields) -> Option<(String, Option<String>, Option<String>)> {
    let (scope, action) = call.split_once('/')?;
    if QBIT_READS.contains(&action) || (scope, action) == ("auth", "login") {
        return None;
    }
    let hashes = f.value("hashes");
    let a = |s: &str| s.to_owned();
    Some(match (scope, action) {
        ("auth", "logout") => (a("logout"), None, None),
        ("torrents", "add") => (a("torrent_add"), f.value("category"), None),
        ("torrents", "delete") => {
            let with = f.value("deleteFiles").is_some_and(|v| v == "true");
            (
                a("torrent_delete"),
                hashes,
                Some(if with { "with data" } else { "without data" }.into()),
            )
        }
        ("torrents", "setCategory") => (
            a("torrent_move"),
            hashes,
            f.value("category").map(|c| format!("to {c}")),
        ),
        ("torrents", "createCategory") => (a("profile_create"), f.value("category"), None),
        ("torrents", "editCategory") => (a("profile_update"), f.value("category"), None),
        ("torrents", "removeCategories") => (a("profile_delete"), None, None),
        ("app", "setPreferences") | ("transfer", _) => (
            a("settings_update"),
            None,
            Some(format!("{scope}/{action}")),
        ),
        ("torrents", other) => (format!("torrent_{other}"), hashes, None),
        _ => (format!("{scope}/{action}"), None, None),
    })
}

fn header(req: &Request, name: http::header::HeaderName) -> &str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

pub(super) async fn layer(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if !matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    // The full path: inside the `/api` nest the request's own URI has the prefix removed.
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let query = req.uri().query().unwrap_or_default().to_owned();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let ip = crate::auth::request::client_ip(&st.config, peer, req.headers());
    let user = crate::auth::resolve(&st.config, &st.store, req.headers(), peer)
        .ok()
        .map(|id| id.username);
    let content_type = header(&req, http::header::CONTENT_TYPE).to_owned();
    let small = header(&req, http::header::CONTENT_LENGTH)
        .parse::<usize>()
        .is_ok_and(|n| n <= BODY_PEEK_MAX);
    let (req, fields) = if small {
        let (parts, body) = req.into_parts();
        match to_bytes(body, BODY_PEEK_MAX).await {
            Ok(bytes) => {
                let f = fields_of(&content_type, &bytes);
                (Request::from_parts(parts, Body::from(bytes)), f)
            }
            // A body that lied about its length: the handler's own reading answers it.
            Err(_) => (Request::from_parts(parts, Body::empty()), Fields::default()),
        }
    } else {
        (req, Fields::default())
    };
    let resp = next.run(req).await;
    if !resp.status().is_success() {
        return resp;
    }
    let (via, what) = match template.strip_prefix("/api/v2/") {
        Some(_) => (
            "qbittorrent",
            qbit(path.trim_start_matches("/api/v2/"), &fields),
        ),
        None => (
            "api",
            rest(
                &method,
                &template,
                &params(&template, &path),
                &fields,
                &query,
            ),
        ),
    };
    let Some((action, target, mut detail)) = what else {
        return resp;
    };
    // What an add added (its answer names the torrents).
    let fits = axum::body::HttpBody::size_hint(resp.body())
        .exact()
        .is_some_and(|n| n <= ADDED_PEEK_MAX as u64);
    let resp = if action == "torrent_add" && via == "api" && fits {
        let (parts, body) = resp.into_parts();
        match to_bytes(body, ADDED_PEEK_MAX).await {
            Ok(bytes) => {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                    let added: Vec<String> = v["added"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|r| r["hash"].as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    if !added.is_empty() {
                        detail = Some(added.join(", "));
                    }
                }
                Response::from_parts(parts, Body::from(bytes))
            }
            Err(e) => {
                return crate::http::ApiError::internal(format!("reading the add answer: {e}"))
                    .into_response();
            }
        }
    } else {
        resp
    };
    let store = st.store.clone();
    let e = crate::audit::entry(user.as_deref(), ip, action, target, detail, via);
    // Off the async workers: a store write.
    let _ = tokio::task::spawn_blocking(move || crate::audit::record(&store, e)).await;
    resp
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries per page (1 to 500, default 100).
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    pub before: Option<String>,
    /// Only this user's entries.
    pub user: Option<String>,
    /// Only this action, or actions starting with a prefix ending in `*` (`torrent_*`).
    pub action: Option<String>,
    /// Only entries about this object (user name, profile id, info hash).
    pub target: Option<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<crate::audit::AuditEntry>,
    /// Pass as `before` for the next (older) page; null at the end.
    pub next: Option<String>,
}

#[utoipa::path(get, path = "/api/audit", tag = "settings", operation_id = "list_audit",
    params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, description = "administrators only")))]
pub(super) async fn list(
    State(st): State<AppState>,
    id: crate::auth::Identity,
    super::extract::ApiQuery(q): super::extract::ApiQuery<AuditQuery>,
) -> Result<axum::Json<AuditPage>, crate::http::ApiError> {
    id.require_admin()?;
    let query = crate::audit::Query {
        before: q.before,
        limit: q.limit.unwrap_or(100),
        user: q.user,
        action: q.action,
        target: q.target,
    };
    let store = st.store.clone();
    let (entries, next) = tokio::task::spawn_blocking(move || crate::audit::page(&store, &query))
        .await
        .map_err(|e| crate::http::ApiError::internal(e.to_string()))??;
    Ok(axum::Json(AuditPage { entries, next }))
}

//! The caller's own account (`/api/me/...`): whether the generated first password must still
//! be changed, a self-service password change that keeps the session it is made from, the
//! caller's login sessions (list, revoke one, revoke the others), and UI preferences (the
//! torrent table's columns, sort, ...) stored in redb so they follow the user between
//! browsers. Every handler acts only on the caller's own account.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiPath};
use super::{ApiError, ErrorCode};
use crate::auth::accounts::{SignOut, UserChange};
use crate::auth::request::client_ip;
use crate::auth::sessions;
use crate::auth::users;
use crate::auth::{Identity, Via, password};
use crate::state::AppState;
use crate::store::Table;

/// Largest stored preferences document (serialized JSON).
pub const PREFERENCES_MAX_BYTES: usize = 16 * 1024;
/// Most top-level keys in the preferences document.
const PREFERENCES_MAX_KEYS: usize = 64;
/// Sessions are named by this many hex digits of their digest.
const SESSION_ID_LEN: usize = 16;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Account {
    pub username: String,
    /// The caller can change their password here (a local account, not bypass or external).
    pub can_change_password: bool,
    /// The password is still the one generated at first start: change it.
    pub password_change_required: bool,
    /// Id of the session this request came with (see `/api/me/sessions`), if any.
    pub current_session: Option<String>,
}

fn session_id(digest: &str) -> String {
    digest.chars().take(SESSION_ID_LEN).collect()
}

fn current_session(id: &Identity) -> Option<&str> {
    if id.via == Via::Session {
        id.credential.as_deref()
    } else {
        None
    }
}

/// The caller's account record; bypassed and auth-disabled callers have none.
fn account(st: &AppState, id: &Identity) -> Result<Option<users::UserRecord>, ApiError> {
    if id.bypass {
        return Ok(None);
    }
    Ok(users::get(&st.store, &id.username)?)
}

#[utoipa::path(get, path = "/api/me", tag = "me", responses((status = 200, body = Account), (status = 401)))]
pub async fn get_account(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<Account>, ApiError> {
    let rec = account(&st, &id)?;
    Ok(Json(Account {
        can_change_password: rec.as_ref().is_some_and(|u| !u.is_external()),
        password_change_required: rec.as_ref().is_some_and(|u| u.generated_password),
        current_session: current_session(&id).map(session_id),
        username: id.username,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(max_length = 1024)]
    pub current_password: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PasswordChanged {
    /// How many other sessions were signed out (the current one stays).
    pub revoked_sessions: usize,
}

#[utoipa::path(post, path = "/api/me/password", tag = "me", request_body = PasswordChange,
    responses((status = 200, body = PasswordChanged), (status = 400), (status = 401),
        (status = 403, description = "the current password is wrong"),
        (status = 409, description = "no local password to change"), (status = 429), (status = 503)))]
pub async fn change_password(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Identity,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<Json<PasswordChanged>, ApiError> {
    let rec = account(&st, &id)?;
    let Some(hash) = rec.and_then(|u| u.password_hash) else {
        return Err(ApiError::new(
            ErrorCode::NoLocalPassword,
            "this account has no local password: it signs in through the reverse proxy (or is the bypass user)",
        ));
    };
    if req.current_password.len() > 1024 {
        return Err(ApiError::new(
            ErrorCode::WrongPassword,
            "the current password is wrong",
        ));
    }
    password::check_new(&req.new_password)
        .map_err(|m| ApiError::new(ErrorCode::InvalidPassword, m))?;
    if req.new_password == req.current_password {
        return Err(ApiError::new(
            ErrorCode::InvalidPassword,
            "the new password is the same as the current one",
        ));
    }
    // Guessing the current password through a stolen session costs what guessing it at the
    // login form costs: same counter, same ban.
    let ip = client_ip(&st.config, Some(peer), &headers).unwrap_or(peer.ip());
    if let Err(left) = st.auth.limiter.attempt(ip) {
        let secs = left.as_secs().max(1);
        let mut e = ApiError::new(
            ErrorCode::TooManyAttempts,
            format!("too many wrong passwords from your address; try again in {secs} seconds"),
        );
        e.retry_after = Some(secs);
        return Err(e);
    }
    let busy = || {
        let mut e = ApiError::new(
            ErrorCode::Busy,
            "too many passwords are being checked right now; try again in a moment",
        );
        e.retry_after = Some(1);
        e
    };
    let current = req.current_password;
    let ok = match st
        .auth
        .hasher
        .run(move || password::verify(&current, &hash))
        .await
    {
        Ok(ok) => ok,
        Err(password::Busy) => {
            st.auth.limiter.forget_attempt(ip);
            return Err(busy());
        }
    };
    if !ok {
        st.auth.limiter.failure(ip);
        tracing::info!(user = %id.username, %ip, "password change: wrong current password");
        return Err(ApiError::new(
            ErrorCode::WrongPassword,
            "the current password is wrong",
        ));
    }
    st.auth.limiter.success(ip);
    let accounts = st.accounts.clone();
    let name = id.username.clone();
    let change = UserChange {
        password: Some(req.new_password),
        ..Default::default()
    };
    let sign_out = SignOut::AllBut(current_session(&id).map(str::to_owned));
    let (_, revoked) = st
        .auth
        .hasher
        .run(move || accounts.update(&name, change, sign_out))
        .await
        .map_err(|_| busy())??;
    tracing::info!(user = %id.username, revoked, "password changed by its owner");
    Ok(Json(PasswordChanged {
        revoked_sessions: revoked,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Short id (the first 16 hex digits of the stored digest).
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The session this request came with.
    pub current: bool,
}

#[utoipa::path(get, path = "/api/me/sessions", tag = "me",
    responses((status = 200, body = Vec<SessionView>), (status = 401)))]
pub async fn list_sessions(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    if id.bypass {
        return Ok(Json(Vec::new()));
    }
    let cur = current_session(&id);
    let v = sessions::sessions_of(&st.store, &id.username)?
        .into_iter()
        .map(|(digest, s)| SessionView {
            id: session_id(&digest),
            created_at: s.created_at,
            expires_at: s.expires_at,
            current: cur == Some(digest.as_str()),
        })
        .collect();
    Ok(Json(v))
}

#[utoipa::path(delete, path = "/api/me/sessions/{sid}", tag = "me",
    params(("sid" = String, Path, description = "session id from GET /api/me/sessions",
        pattern = "^[0-9a-fA-F]{16}$")),
    responses((status = 204), (status = 400), (status = 401), (status = 404)))]
pub async fn revoke_session(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(sid): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if sid.len() != SESSION_ID_LEN || !sid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(
            ErrorCode::InvalidSessionId,
            format!("a session id is {SESSION_ID_LEN} hexadecimal characters"),
        ));
    }
    let sid = sid.to_ascii_lowercase();
    let not_found = || ApiError::new(ErrorCode::SessionNotFound, "no such session of yours");
    if id.bypass {
        return Err(not_found());
    }
    let matches: Vec<String> = sessions::sessions_of(&st.store, &id.username)?
        .into_iter()
        .map(|(d, _)| d)
        .filter(|d| d.starts_with(&sid))
        .collect();
    let [digest] = matches.as_slice() else {
        return Err(not_found());
    };
    if !st.accounts.end_session(&id.username, digest)? {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Revoked {
    pub revoked_sessions: usize,
}

#[utoipa::path(delete, path = "/api/me/sessions", tag = "me",
    responses((status = 200, body = Revoked, description = "every session but the current one was signed out"), (status = 401)))]
pub async fn revoke_other_sessions(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<Revoked>, ApiError> {
    if id.bypass {
        return Ok(Json(Revoked {
            revoked_sessions: 0,
        }));
    }
    let revoked = st
        .accounts
        .end_other_sessions(&id.username, current_session(&id))?;
    Ok(Json(Revoked {
        revoked_sessions: revoked,
    }))
}

#[utoipa::path(get, path = "/api/me/preferences", tag = "me",
    responses((status = 200, body = Object, description = "the stored JSON object ({} when none)"), (status = 401)))]
pub async fn get_preferences(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<serde_json::Value>, ApiError> {
    let v = st
        .store
        .get_json::<serde_json::Value>(Table::Preferences, &id.username)?
        .unwrap_or_else(|| serde_json::json!({}));
    Ok(Json(v))
}

#[utoipa::path(put, path = "/api/me/preferences", tag = "me",
    request_body(content = Object, description = "a JSON object of at most 16 KiB and 64 keys; replaces the stored one"),
    responses((status = 200, body = Object), (status = 400), (status = 401), (status = 413), (status = 415)))]
pub async fn put_preferences(
    State(st): State<AppState>,
    id: Identity,
    req: Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    let json_body = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json_body {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "expected a JSON body with 'Content-Type: application/json'",
        ));
    }
    let too_large = || {
        ApiError::new(
            ErrorCode::PreferencesTooLarge,
            format!(
                "preferences are limited to {} KiB",
                PREFERENCES_MAX_BYTES / 1024
            ),
        )
    };
    let bytes = axum::body::to_bytes(req.into_body(), PREFERENCES_MAX_BYTES)
        .await
        .map_err(|_| too_large())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("malformed JSON: {e}")))?;
    let Some(obj) = v.as_object() else {
        return Err(ApiError::new(
            ErrorCode::InvalidPreferences,
            "preferences must be a JSON object",
        ));
    };
    if obj.len() > PREFERENCES_MAX_KEYS {
        return Err(ApiError::new(
            ErrorCode::InvalidPreferences,
            format!("preferences may have at most {PREFERENCES_MAX_KEYS} keys"),
        ));
    }
    st.store
        .write(|tx| tx.put(Table::Preferences, &id.username, &v))
        .map_err(|e: crate::store::StoreError| ApiError::from(e))?;
    Ok(Json(v))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Notifications {
    /// Newest first, of the profiles the caller sees (at most 100).
    pub entries: Vec<crate::engine::notices::Notice>,
    /// How many of those the caller has not marked read.
    pub unread: usize,
}

#[utoipa::path(get, path = "/api/me/notifications", tag = "me", operation_id = "list_notifications",
    responses((status = 200, body = Notifications)))]
pub async fn notifications(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<Notifications>, ApiError> {
    let engine = st.engine.clone();
    let (entries, unread) = tokio::task::spawn_blocking(move || {
        engine.notices(
            &id.username,
            |p| id.level(p) != crate::access::Level::None,
            100,
        )
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(Json(Notifications { entries, unread }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// Everything up to this notification's id is read (default: everything).
    #[schema(pattern = "^[0-9a-f]{16}-[0-9a-f]{8}$")]
    pub up_to: Option<String>,
}

#[utoipa::path(post, path = "/api/me/notifications/read", tag = "me", operation_id = "mark_notifications_read",
    request_body = MarkRead,
    responses((status = 204, description = "marked"), (status = 400, description = "not an id")))]
pub async fn mark_notifications_read(
    State(st): State<AppState>,
    id: Identity,
    ApiJson(m): ApiJson<MarkRead>,
) -> Result<StatusCode, ApiError> {
    if let Some(u) = &m.up_to
        && !(u.len() == 25 && u.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
    {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "up_to must be a notification id",
        ));
    }
    let engine = st.engine.clone();
    tokio::task::spawn_blocking(move || engine.mark_notices_read(&id.username, m.up_to))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(StatusCode::NO_CONTENT)
}

//! Login, logout, the caller's identity, user administration and API tokens.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiPath};
use super::{ApiError, ErrorCode};
use crate::access::{AuthProvider, Level, Role};
use crate::auth::accounts::{SignOut, UserChange};
use crate::auth::request::{app_origin, client_ip};
use crate::auth::sessions::{self, TokenView};
use crate::auth::users::{self, UserView};
use crate::auth::{Identity, password, session_cookie};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub username: String,
    pub role: String,
}

fn session_cookie_header(cfg: &crate::config::Config, value: &str, max_age: i64) -> HeaderValue {
    cookie_header(cfg, sessions::COOKIE, "Lax", value, max_age)
}

/// A session cookie: HttpOnly, for the whole site, `Secure` when configured.
pub(crate) fn cookie_header(
    cfg: &crate::config::Config,
    name: &str,
    same_site: &str,
    value: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if cfg.session_cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let s = format!(
        "{name}={value}; HttpOnly; SameSite={same_site}; Path=/; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("pytorrent_session=; Max-Age=0"))
}

/// Opens a session for a user who just proved who they are; answers the cookie value.
pub(crate) fn start_session(
    st: &AppState,
    user: &users::UserRecord,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<String, ApiError> {
    let cfg = &st.config;
    warn_insecure_cookie(cfg, peer, headers);
    let token = sessions::create_session(&st.store, &user.username)?;
    let ip = client_ip(cfg, Some(peer), headers).unwrap_or(peer.ip());
    tracing::info!(user = %user.username, %ip, "login");
    Ok(token)
}

#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401), (status = 409), (status = 429)))]
pub async fn login(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let cfg = &st.config;
    if cfg.auth_provider != AuthProvider::Local {
        return Err(ApiError::new(
            ErrorCode::ExternalProvider,
            format!(
                "logins are handled by the external provider '{}'; sign in through your reverse proxy",
                cfg.auth_provider.as_str()
            ),
        ));
    }
    let user = password_login(&st, peer, &headers, req.username, req.password, "api").await?;
    let token = start_session(&st, &user, peer, &headers)?;
    let mut resp = Json(LoginResponse {
        username: user.username.clone(),
        role: user.role.as_str().into(),
    })
    .into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie_header(cfg, &token, sessions::SESSION_DAYS * 86400),
    );
    Ok(resp)
}

/// Checks a username and password as every login does (the REST API's and the qBittorrent
/// API's): the brute-force limiter counts the attempt before the Argon2 check, which runs in
/// the bounded pool; a failure is counted and logged. Answers the user, or the refusal
/// (`unauthorized`, `too_many_attempts`, `busy`).
pub(crate) async fn password_login(
    st: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    username: String,
    password: String,
    via: &str,
) -> Result<users::UserRecord, ApiError> {
    let cfg = &st.config;
    let ip = client_ip(cfg, Some(peer), headers).unwrap_or(peer.ip());
    // Counted before hashing: concurrent attempts cannot buy more checks than the limit.
    if let Err(left) = st.auth.limiter.attempt(ip) {
        return Err(banned(left.as_secs().max(1)));
    }
    // Absurd inputs cannot match anything; refuse them before paying for a hash.
    let plausible = username.len() <= crate::limits::USERNAME_MAX_BYTES
        && password.len() <= crate::limits::PASSWORD_MAX_BYTES;
    let user = if plausible {
        users::get(&st.store, &username)?
    } else {
        None
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let auth = st.auth.clone();
    let pw = if plausible { password } else { String::new() };
    // Argon2 costs tens of milliseconds of CPU and ~19 MiB: it runs in the bounded pool.
    // Unknown and passwordless users verify against the dummy hash, so timing reveals nothing.
    let checked = st
        .auth
        .hasher
        .run(move || {
            let hash = stored.unwrap_or_else(|| auth.dummy_hash());
            password::verify(&pw, &hash)
        })
        .await;
    let ok = match checked {
        Ok(ok) => ok,
        Err(password::Busy) => {
            // Not the caller's failure: give the attempt back.
            st.auth.limiter.forget_attempt(ip);
            let mut e = ApiError::new(
                ErrorCode::Busy,
                "too many logins are being checked right now; try again in a moment",
            );
            e.retry_after = Some(1);
            return Err(e);
        }
    };
    let user = match user {
        Some(u) if ok && u.password_hash.is_some() => u,
        _ => {
            st.metrics
                .logins_failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(ban) = st.auth.limiter.failure(ip) {
                tracing::warn!(%ip, seconds = ban.as_secs(), "login: too many failures, banning");
            } else {
                tracing::info!(%ip, "login failed");
            }
            // The name tried, shortened and without control characters (it is not trusted).
            let tried: String = username
                .chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect();
            crate::audit::record(
                &st.store,
                crate::audit::entry(None, Some(ip), "login_failed", Some(tried), None, via),
            );
            return Err(ApiError::unauthorized("wrong username or password"));
        }
    };
    st.auth.limiter.success(ip);
    st.metrics
        .logins_ok
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    crate::audit::record(
        &st.store,
        crate::audit::entry(Some(&user.username), Some(ip), "login", None, None, via),
    );
    Ok(user)
}

/// Behind an HTTPS proxy a cookie without `Secure` can leak over plain HTTP; say so once.
fn warn_insecure_cookie(cfg: &crate::config::Config, peer: SocketAddr, headers: &HeaderMap) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static WARNED: AtomicBool = AtomicBool::new(false);
    if cfg.session_cookie_secure || !cfg.proxy_fix_enable {
        return;
    }
    let https = app_origin(cfg, Some(peer), headers)
        .origin
        .is_some_and(|o| o.as_str().starts_with("https://"));
    if https && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "logins arrive over HTTPS (X-Forwarded-Proto) but PYTORRENT_SESSION_COOKIE_SECURE=false: set it to true so the session cookie is never sent over plain HTTP"
        );
    }
}

fn banned(secs: u64) -> ApiError {
    let mut e = ApiError::new(
        ErrorCode::TooManyAttempts,
        format!("too many failed logins from your address; try again in {secs} seconds"),
    );
    e.retry_after = Some(secs);
    e
}

/// `POST /logout` (and `GET` for links): local sessions are revoked; with an external
/// provider this is a harmless redirect home.
pub async fn logout(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let prefix = app_origin(&st.config, Some(peer), &headers).prefix;
    if st.config.auth_provider != AuthProvider::Local || !st.config.auth_enable {
        return super::found(&format!("{prefix}/"));
    }
    if let Some(token) = session_cookie(&headers) {
        match st.accounts.logout(token) {
            Ok(Some(user)) => tracing::info!(%user, "logout"),
            Ok(None) => {}
            Err(e) => tracing::error!("logout: {e}"),
        }
    }
    let mut resp = super::found(&format!("{prefix}/login"));
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie_header(&st.config, "", 0));
    resp
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub username: String,
    pub role: &'static str,
    pub provider: &'static str,
    pub bypass: bool,
    pub logout_available: bool,
    #[schema(value_type = HashMap<String, String>)]
    pub permissions: HashMap<String, Level>,
}

#[utoipa::path(get, path = "/api/auth/me", tag = "auth", responses((status = 200, body = Me)))]
pub async fn me(id: Identity) -> Json<Me> {
    Json(Me {
        logout_available: id.via == crate::auth::Via::Session,
        permissions: crate::auth::permissions_map(&id),
        username: id.username,
        role: id.role.as_str(),
        provider: id.provider.as_str(),
        bypass: id.bypass,
    })
}

// ---- users (admin) ----

#[utoipa::path(get, path = "/api/users", tag = "users", responses((status = 200, body = Vec<UserView>)))]
pub async fn list_users(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<Vec<UserView>>, ApiError> {
    id.require_admin()?;
    Ok(Json(
        st.accounts.list()?.iter().map(UserView::from).collect(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1-128 bytes, printable, no commas or surrounding spaces.
    #[schema(min_length = 1, max_length = 128)]
    pub username: String,
    /// 8 characters to 1024 bytes. Omit for an external (header-authenticated) user.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    #[serde(default = "default_role")]
    #[schema(value_type = super::conventions::RoleName)]
    pub role: Role,
    #[serde(default)]
    #[schema(value_type = HashMap<String, super::conventions::LevelName>)]
    pub permissions: BTreeMap<String, Level>,
}

fn default_role() -> Role {
    Role::User
}

#[utoipa::path(post, path = "/api/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = UserView), (status = 404, description = "a granted profile does not exist"), (status = 409, description = "the user exists")))]
pub async fn create_user(
    State(st): State<AppState>,
    id: Identity,
    ApiJson(n): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    id.require_admin()?;
    let accounts = st.accounts.clone();
    let u = tokio::task::spawn_blocking(move || {
        accounts.create(&n.username, n.password.as_deref(), n.role, n.permissions)
    })
    .await
    .map_err(ApiError::internal)??;
    tracing::info!(admin = %id.username, user = %u.username, "user created");
    Ok((StatusCode::CREATED, Json(UserView::from(&u))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(value_type = Option<super::conventions::RoleName>)]
    pub role: Option<Role>,
    /// 8 characters to 1024 bytes.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    /// Grants to set; `null` removes one.
    #[schema(schema_with = super::conventions::grants_patch_schema)]
    pub permissions: Option<BTreeMap<String, Option<Level>>>,
}

#[utoipa::path(patch, path = "/api/users/{name}", tag = "users", request_body = UserPatch,
    params(("name" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, description = "no such user or profile"), (status = 409, description = "would leave no administrator")))]
pub async fn update_user(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(name): ApiPath<String>,
    ApiJson(p): ApiJson<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    id.require_admin()?;
    // An administrator changing their own password stays signed in where they did it; their
    // other sessions end. Anyone else's password change signs that user out everywhere.
    let sign_out = if name == id.username {
        let keep = (id.via == crate::auth::Via::Session)
            .then(|| id.credential.clone())
            .flatten();
        SignOut::AllBut(keep)
    } else {
        SignOut::Everywhere
    };
    let change = UserChange {
        role: p.role,
        password: p.password,
        permissions: p.permissions,
    };
    let accounts = st.accounts.clone();
    let (u, _) = tokio::task::spawn_blocking(move || accounts.update(&name, change, sign_out))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(UserView::from(&u)))
}

#[utoipa::path(delete, path = "/api/users/{name}", tag = "users", params(("name" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such user"), (status = 409, description = "the last administrator")))]
pub async fn delete_user(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    id.require_admin()?;
    st.accounts.delete(&name)?;
    tracing::info!(admin = %id.username, user = %name, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

// ---- API tokens (the caller's own) ----

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// 1-64 characters, not only spaces, no control characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub id: String,
    pub name: String,
    /// The secret; shown only in this answer.
    pub token: String,
}

fn require_account(id: &Identity) -> Result<(), ApiError> {
    if id.bypass {
        return Err(ApiError::new(
            ErrorCode::NoAccount,
            "bypassed and auth-disabled requests have no account to own API tokens",
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenView>)))]
pub async fn list_tokens(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    if id.bypass {
        return Ok(Json(Vec::new()));
    }
    Ok(Json(sessions::tokens_of(&st.store, &id.username)?))
}

#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 409, description = "the caller has no account (bypass or auth disabled)")))]
pub async fn create_token(
    State(st): State<AppState>,
    id: Identity,
    ApiJson(n): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    require_account(&id)?;
    let (rec, token) = sessions::create_token(&st.store, &id.username, &n.name)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id: rec.id,
            name: rec.name,
            token,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 404, description = "no such token of the caller"), (status = 409, description = "the caller has no account (bypass or auth disabled)")))]
pub async fn delete_token(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(tid): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    require_account(&id)?;
    st.accounts.revoke_token(&id.username, &tid)?;
    Ok(StatusCode::NO_CONTENT)
}

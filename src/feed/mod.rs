//! The live Socket.IO feed at `/socket.io/` (README "Live feed"). Sockets are authenticated in the
//! connect middleware by the same resolver as REST; every event re-checks permission. One
//! producer task diffs each subscribed profile once per tick and broadcasts to its room, so
//! the cost does not grow with the number of clients.

mod producer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;

use crate::auth::{Identity, Need, Via, request::check_socket_origin, resolve, users};
use crate::engine::profiles::ProfileView;
use crate::http::{ApiError, ErrorCode};
use crate::state::AppState;

pub fn room_for_profile(profile: &str) -> String {
    format!("p:{profile}")
}

pub fn room_for_user(user: &str) -> String {
    format!("u:{user}")
}

/// The identity each Engine.IO session (`sid`) was opened with, for [`guard`].
#[derive(Clone)]
pub struct GuardState {
    st: AppState,
    sessions: Arc<Mutex<HashMap<String, Binding>>>,
}

/// Who opened a session: a resolved identity (cookie, proxy header, bypass, token header), or
/// nobody, for clients whose token travels in the Socket.IO `auth` payload; those are held to
/// the client address that opened the session.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    User { username: String, via: Via },
    Anonymous { client: Option<std::net::IpAddr> },
}

struct Binding {
    owner: Owner,
    seen: Instant,
}

impl GuardState {
    pub fn new(st: AppState) -> GuardState {
        GuardState {
            st,
            sessions: Arc::default(),
        }
    }

    fn owner(&self, req: &axum::extract::Request) -> Owner {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        match resolve(&self.st.config, &self.st.store, req.headers(), peer) {
            Ok(id) => Owner::User {
                username: id.username,
                via: id.via,
            },
            Err(_) => Owner::Anonymous {
                client: crate::auth::request::client_ip(&self.st.config, peer, req.headers()),
            },
        }
    }
}

/// Sessions not seen for this long are forgotten, and requests naming them refused: polling
/// sessions send a request every ping interval (25 s); upgraded ones send no more HTTP.
const SESSION_TTL: Duration = Duration::from_secs(300);

/// Bound on remembered sessions; stale ones are dropped first.
const MAX_SESSIONS: usize = 65_536;

/// The Engine.IO session id named by a request's query, if any.
fn query_sid(req: &axum::extract::Request) -> Option<String> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("sid="))
        .map(str::to_owned)
}

/// The `sid` of a polling handshake answer (`0{"sid":"…",…}`).
fn handshake_sid(body: &[u8]) -> Option<String> {
    let json = body.strip_prefix(b"0")?;
    let v: Value = serde_json::from_slice(json).ok()?;
    v.get("sid")?.as_str().map(str::to_owned)
}

/// Every HTTP request of an Engine.IO session (polls, posts, the websocket upgrade) must come
/// from the identity that opened it, every time: a request that merely knows the `sid` of
/// someone else's session is refused and never reads or writes its packets. The handshake
/// itself passes (a refusal must reach the client as `connect_error` with its reason, which
/// the connect middleware sends); its answer tells the session id to bind.
pub async fn guard(
    axum::extract::State(g): axum::extract::State<GuardState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !req.uri().path().starts_with("/socket.io/") {
        return next.run(req).await;
    }
    let owner = g.owner(&req);
    let now = Instant::now();
    if let Some(sid) = query_sid(&req) {
        let matches = {
            let mut sessions = g.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.get_mut(&sid).map(|b| {
                let same = b.owner == owner;
                if same {
                    b.seen = now;
                }
                same
            })
        };
        return match matches {
            Some(true) => next.run(req).await,
            Some(false) => {
                ApiError::forbidden("this live-feed session was opened by another identity")
                    .into_response()
            }
            // What Engine.IO itself answers for an unknown session, so clients reconnect.
            None => (
                http::StatusCode::BAD_REQUEST,
                axum::Json(json!({"code": 1, "message": "Session ID unknown"})),
            )
                .into_response(),
        };
    }
    let resp = next.run(req).await;
    if resp.status() != http::StatusCode::OK {
        return resp;
    }
    // A polling handshake: read its (small) answer to learn the new session's id.
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Some(sid) = handshake_sid(&bytes) {
        let mut sessions = g.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, b| now.duration_since(b.seen) < SESSION_TTL);
        }
        sessions.insert(sid, Binding { owner, seen: now });
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Serves the feed at `/socket.io/` in front of `inner`: the Socket.IO layer, behind the
/// session guard.
pub fn attach(inner: axum::Router<AppState>, state: AppState) -> axum::Router<AppState> {
    inner
        .layer(layer(state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            GuardState::new(state),
            guard,
        ))
}

/// Builds the Socket.IO layer and starts the producer.
fn layer(state: AppState) -> SocketIoLayer {
    let baselines = producer::Baselines::default();
    let (layer, io) = SocketIo::builder()
        .with_state(state.clone())
        .with_state(baselines.clone())
        .max_payload(1024 * 1024)
        .build_layer();
    io.ns("/", on_connect.with(authenticate));
    producer::spawn(io, state, baselines);
    layer
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Deserialize, Default)]
struct AuthPayload {
    token: Option<String>,
}

/// Connect middleware: origin check, then the REST resolver (with a token from the
/// handshake `auth` payload if given). An `Err` becomes the client's `connect_error`.
async fn authenticate(
    s: SocketRef,
    State(st): State<AppState>,
    TryData(auth): TryData<AuthPayload>,
) -> Result<(), Refused> {
    let parts = s.req_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    check_socket_origin(&st.config, peer, &parts.headers).map_err(Refused)?;
    let mut headers = parts.headers.clone();
    if let Some(token) = auth.ok().unwrap_or_default().token
        && let Ok(v) = http::HeaderValue::from_str(&format!("Bearer {token}"))
    {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    let id = resolve(&st.config, &st.store, &headers, peer)
        .map_err(|d| Refused(d.message(&st.config)))?;
    s.extensions.insert(id);
    Ok(())
}

/// The socket's identity, refreshed from the store so role and grant changes apply to the
/// very next event. `None` when the account is gone.
fn current_identity(st: &AppState, s: &SocketRef) -> Option<Identity> {
    let id = s.extensions.get::<Identity>()?;
    if matches!(id.via, Via::Disabled | Via::Bypass) {
        return Some(id);
    }
    // A token revoked since the handshake ends the socket's rights.
    if id.via == Via::Token {
        let live = id
            .credential
            .as_deref()
            .is_some_and(|c| crate::auth::sessions::token_live(&st.store, c).unwrap_or(false));
        if !live {
            return None;
        }
    }
    let u = users::get(&st.store, &id.username).ok()??;
    Some(Identity {
        role: u.role,
        permissions: u.permissions,
        ..id
    })
}

pub(crate) fn visible_profiles(st: &AppState, id: &Identity) -> Vec<Value> {
    st.engine
        .profiles()
        .iter()
        .filter_map(|p| ProfileView::of(p, id.view_level(&p.id)))
        .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
        .collect()
}

async fn on_connect(s: SocketRef, State(st): State<AppState>) {
    let Some(id) = s.extensions.get::<Identity>() else {
        s.disconnect().ok();
        return;
    };
    s.join(room_for_user(&id.username));
    st.metrics
        .sockets
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    s.on_disconnect(async |State(st): State<AppState>| {
        st.metrics
            .sockets
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    });
    let hello = json!({
        "user": {"username": id.username, "role": id.role.as_str(), "bypass": id.bypass},
        "profiles": visible_profiles(&st, &id),
        "version": env!("CARGO_PKG_VERSION"),
    });
    s.emit("hello", &hello).ok();
    s.on("subscribe", on_subscribe);
    s.on("unsubscribe", on_unsubscribe);
}

#[derive(Deserialize)]
struct ProfileArg {
    profile: String,
}

/// Answers an event with the same error body as the REST API.
fn ack_error(ack: AckSender, e: impl Into<ApiError>) {
    let e = e.into();
    e.log_cause();
    ack.send(&json!({"error": {"code": e.code, "message": e.message}}))
        .ok();
}

async fn on_subscribe(
    s: SocketRef,
    State(st): State<AppState>,
    State(baselines): State<producer::Baselines>,
    TryData(arg): TryData<ProfileArg>,
    ack: AckSender,
) {
    let Ok(ProfileArg { profile }) = arg else {
        return ack_error(
            ack,
            ApiError::new(ErrorCode::InvalidInput, "expected {\"profile\": id}"),
        );
    };
    let Some(id) = current_identity(&st, &s) else {
        s.disconnect().ok();
        return;
    };
    if let Err(e) = id.require(&profile, Need::Read) {
        return ack_error(ack, e);
    }
    let rows = match st.engine.list(&profile) {
        Ok(r) => r,
        Err(e) => return ack_error(ack, e),
    };
    s.extensions.insert(id);
    s.join(room_for_profile(&profile));
    baselines.seed(&profile, &rows);
    s.emit(
        "torrents:snapshot",
        &json!({"profile": profile, "torrents": rows}),
    )
    .ok();
    ack.send(&json!({"ok": true})).ok();
}

async fn on_unsubscribe(s: SocketRef, Data(arg): Data<ProfileArg>, ack: AckSender) {
    s.leave(room_for_profile(&arg.profile));
    ack.send(&json!({"ok": true})).ok();
}

/// Drops rooms a socket may no longer read (after a role or grant change).
pub(crate) fn recheck_rooms(st: &AppState, s: &SocketRef) {
    let Some(id) = current_identity(st, s) else {
        s.clone().disconnect().ok();
        return;
    };
    for room in s.rooms() {
        if let Some(p) = room.strip_prefix("p:")
            && id.require(p, Need::Read).is_err()
        {
            s.leave(room.to_string());
        }
    }
    s.extensions.insert(id);
}

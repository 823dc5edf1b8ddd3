//! The live Socket.IO feed at `/socket.io/` (SPEC §6). Sockets are authenticated in the
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
use crate::state::AppState;

pub fn room_for_profile(profile: &str) -> String {
    format!("p:{profile}")
}

pub fn room_for_user(user: &str) -> String {
    format!("u:{user}")
}

/// Which user each Engine.IO session (`sid`) was last seen as, for `guard`.
#[derive(Clone)]
pub struct GuardState {
    st: AppState,
    seen: Arc<Mutex<HashMap<String, (String, Instant)>>>,
}

impl GuardState {
    pub fn new(st: AppState) -> GuardState {
        GuardState {
            st,
            seen: Arc::default(),
        }
    }
}

/// Sessions not seen for this long are forgotten (websocket sessions send no more HTTP
/// requests after the upgrade; polling ones send one every ping interval).
const SEEN_TTL: Duration = Duration::from_secs(300);

/// HTTP-level check of every `/socket.io/` request after the handshake. Once a session has
/// been seen with an identity from its request headers (cookie, proxy header, bypass), every
/// later request must resolve to the same user: a revoked session or a request that went
/// around the proxy cannot ride the open session. Requests of sessions never seen with a
/// header identity pass, so that a refusal reaches the client as `connect_error` with its
/// reason, and token clients (whose token travels in the handshake payload) keep working;
/// both are still checked by the connect middleware and on every event.
pub async fn guard(
    axum::extract::State(g): axum::extract::State<GuardState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let sid = req
        .uri()
        .path()
        .starts_with("/socket.io/")
        .then(|| {
            req.uri()
                .query()?
                .split('&')
                .find_map(|kv| kv.strip_prefix("sid="))
                .map(str::to_owned)
        })
        .flatten();
    if let Some(sid) = sid {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let who = resolve(&g.st.config, &g.st.store, req.headers(), peer);
        let mut seen = g.seen.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if seen.len() > 4096 {
            seen.retain(|_, (_, t)| now.duration_since(*t) < SEEN_TTL);
        }
        match (who, seen.get(&sid).cloned()) {
            (Ok(id), None) => {
                seen.insert(sid, (id.username, now));
            }
            (Ok(id), Some((user, _))) if id.username == user => {
                seen.insert(sid, (user, now));
            }
            (Ok(_), Some(_)) => {
                return crate::http::ApiError::forbidden(
                    "this live-feed session belongs to another user",
                )
                .into_response();
            }
            (Err(d), Some(_)) => {
                seen.remove(&sid);
                return d.to_api(&g.st.config).into_response();
            }
            (Err(_), None) => {}
        }
    }
    next.run(req).await
}

/// Builds the Socket.IO layer and starts the producer.
pub fn layer(state: AppState) -> SocketIoLayer {
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
        .filter_map(|p| crate::http::profiles::view(p, id))
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

fn ack_error(ack: AckSender, code: &str, message: String) {
    ack.send(&json!({"error": {"code": code, "message": message}}))
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
        return ack_error(ack, "invalid_input", "expected {\"profile\": id}".into());
    };
    let Some(id) = current_identity(&st, &s) else {
        s.disconnect().ok();
        return;
    };
    if let Err(e) = id.require(&profile, Need::Read) {
        return ack_error(ack, e.code, e.message);
    }
    let rows = match st.engine.list(&profile) {
        Ok(r) => r,
        Err(e) => {
            let e = crate::http::ApiError::from(e);
            return ack_error(ack, e.code, e.message);
        }
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

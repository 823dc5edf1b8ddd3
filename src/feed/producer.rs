//! The single producer: once per second it diffs every subscribed profile's rows against
//! what it sent last and broadcasts only changed fields; it forwards engine add/remove
//! events at once; it sends stats per connected user; and it applies auth revocations to
//! open sockets.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use socketioxide::SocketIo;
use tokio::sync::broadcast::error::RecvError;

use super::{recheck_rooms, room_for_profile, room_for_user};
use crate::auth::{AuthEvent, Identity};
use crate::engine::EngineEvent;
use crate::state::AppState;

type Rows = HashMap<String, Map<String, Value>>;

pub(super) fn spawn(io: SocketIo, st: AppState) {
    let weak = Arc::downgrade(&st.engine);
    // The Socket.IO handle (which holds the app state) lives in this task: end it with the
    // engine so a stopped app releases everything, in tests as in the daemon.
    let stopped = st.engine.session.cancellation_token().clone();
    let mut engine_events = st.engine.subscribe();
    let mut auth_events = st.auth.events.subscribe();
    let AppState {
        config,
        store,
        auth,
        engine,
        metrics,
    } = st;
    drop(engine);
    tokio::spawn(async move {
        let mut last: HashMap<String, Rows> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let Some(engine) = weak.upgrade() else { return };
            let st = AppState {
                config: config.clone(),
                store: store.clone(),
                auth: auth.clone(),
                metrics: metrics.clone(),
                engine,
            };
            tokio::select! {
                _ = stopped.cancelled() => return,
                _ = tick.tick() => {
                    if !io.sockets().is_empty() {
                        broadcast_patches(&io, &st, &mut last).await;
                        broadcast_stats(&io, &st).await;
                    } else {
                        last.clear();
                    }
                }
                ev = engine_events.recv() => match ev {
                    Ok(ev) => on_engine_event(&io, &st, ev, &mut last).await,
                    Err(RecvError::Lagged(_)) => last.clear(),
                    Err(RecvError::Closed) => return,
                },
                ev = auth_events.recv() => match ev {
                    Ok(ev) => on_auth_event(&io, &st, ev).await,
                    Err(RecvError::Lagged(_)) => {
                        // Missed revocations: re-check everyone.
                        for s in io.sockets() {
                            recheck_rooms(&st, &s);
                        }
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
}

fn to_rows(v: Vec<crate::engine::TorrentRow>) -> Rows {
    v.into_iter()
        .filter_map(|r| match serde_json::to_value(r) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        })
        .filter_map(|m| {
            let h = m.get("hash")?.as_str()?.to_owned();
            Some((h, m))
        })
        .collect()
}

/// Subscribed profiles = rooms named `p:…` with at least one socket.
fn subscribed_profiles(io: &SocketIo) -> HashSet<String> {
    io.sockets()
        .iter()
        .flat_map(|s| s.rooms())
        .filter_map(|r| r.strip_prefix("p:").map(str::to_owned))
        .collect()
}

async fn broadcast_patches(io: &SocketIo, st: &AppState, last: &mut HashMap<String, Rows>) {
    let profiles = subscribed_profiles(io);
    last.retain(|p, _| profiles.contains(p));
    for profile in profiles {
        let Ok(rows) = st.engine.list(&profile) else {
            continue;
        };
        let now = to_rows(rows);
        let prev = last.remove(&profile);
        if let Some(prev) = &prev {
            let (changed, removed) = diff(prev, &now);
            if !changed.is_empty() || !removed.is_empty() {
                io.to(room_for_profile(&profile))
                    .emit(
                        "torrents:patch",
                        &json!({"profile": profile, "changed": changed, "removed": removed}),
                    )
                    .await
                    .ok();
            }
        }
        last.insert(profile, now);
    }
}

/// Changed fields per torrent (with its hash), plus removed hashes.
pub(crate) fn diff(prev: &Rows, now: &Rows) -> (Vec<Value>, Vec<String>) {
    let mut changed = Vec::new();
    for (hash, row) in now {
        match prev.get(hash) {
            None => changed.push(Value::Object(row.clone())),
            Some(old) => {
                let mut delta = Map::new();
                for (k, v) in row {
                    if old.get(k) != Some(v) {
                        delta.insert(k.clone(), v.clone());
                    }
                }
                if !delta.is_empty() {
                    delta.insert("hash".into(), Value::String(hash.clone()));
                    changed.push(Value::Object(delta));
                }
            }
        }
    }
    let removed = prev
        .keys()
        .filter(|h| !now.contains_key(*h))
        .cloned()
        .collect();
    (changed, removed)
}

async fn broadcast_stats(io: &SocketIo, st: &AppState) {
    let all = st.engine.stats();
    let mut done = HashSet::new();
    for s in io.sockets() {
        let Some(id) = s.extensions.get::<Identity>() else {
            continue;
        };
        if !done.insert(id.username.clone()) {
            continue;
        }
        let profiles: Vec<&crate::engine::ProfileStats> = all
            .profiles
            .iter()
            .filter(|p| id.level(&p.id) != crate::config::Level::None)
            .collect();
        let body = json!({
            "dl_speed": profiles.iter().map(|p| p.dl_speed).sum::<u64>(),
            "ul_speed": profiles.iter().map(|p| p.ul_speed).sum::<u64>(),
            "torrents": profiles.iter().map(|p| p.torrents).sum::<usize>(),
            "profiles": profiles,
        });
        io.to(room_for_user(&id.username))
            .emit("stats", &body)
            .await
            .ok();
    }
}

async fn on_engine_event(
    io: &SocketIo,
    st: &AppState,
    ev: EngineEvent,
    last: &mut HashMap<String, Rows>,
) {
    match ev {
        EngineEvent::Added { profile, hash } => {
            let Ok(row) = st.engine.row(&hash) else {
                return;
            };
            if let Some(rows) = last.get_mut(&profile)
                && let Ok(Value::Object(m)) = serde_json::to_value(&row)
            {
                rows.insert(hash.clone(), m);
            }
            io.to(room_for_profile(&profile))
                .emit(
                    "torrent:added",
                    &json!({"profile": profile, "torrent": row}),
                )
                .await
                .ok();
        }
        EngineEvent::ProfilesChanged => {
            let mut done = HashSet::new();
            for s in io.sockets() {
                recheck_rooms(st, &s);
                if let Some(id) = s.extensions.get::<Identity>()
                    && done.insert(id.username.clone())
                {
                    send_profiles(io, st, &id).await;
                }
            }
        }
        EngineEvent::Removed { profile, hash } => {
            if let Some(rows) = last.get_mut(&profile) {
                rows.remove(&hash);
            }
            io.to(room_for_profile(&profile))
                .emit(
                    "torrent:removed",
                    &json!({"profile": profile, "hash": hash}),
                )
                .await
                .ok();
        }
    }
}

/// Tells a user's sockets which profiles they see now.
async fn send_profiles(io: &SocketIo, st: &AppState, id: &Identity) {
    io.to(room_for_user(&id.username))
        .emit(
            "profiles",
            &json!({"profiles": super::visible_profiles(st, id)}),
        )
        .await
        .ok();
}

async fn on_auth_event(io: &SocketIo, st: &AppState, ev: AuthEvent) {
    let mut notify = None;
    for s in io.sockets() {
        let Some(id) = s.extensions.get::<Identity>() else {
            continue;
        };
        match &ev {
            AuthEvent::SessionRevoked { session } if id.session.as_ref() == Some(session) => {
                s.disconnect().ok();
            }
            AuthEvent::UserSessionsRevoked { username } if &id.username == username => {
                s.disconnect().ok();
            }
            AuthEvent::UserChanged { username } if &id.username == username => {
                recheck_rooms(st, &s);
                notify = s.extensions.get::<Identity>();
            }
            _ => {}
        }
    }
    if let Some(id) = notify {
        send_profiles(io, st, &id).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hash: &str, progress: f64, state: &str) -> Map<String, Value> {
        let Value::Object(m) = json!({"hash": hash, "progress": progress, "state": state}) else {
            unreachable!()
        };
        m
    }

    #[test]
    fn diff_sends_only_changes() {
        let prev: Rows = [
            ("a".into(), row("a", 0.1, "downloading")),
            ("b".into(), row("b", 1.0, "seeding")),
        ]
        .into();
        let now: Rows = [
            ("a".into(), row("a", 0.2, "downloading")),
            ("c".into(), row("c", 0.0, "queued")),
        ]
        .into();
        let (changed, removed) = diff(&prev, &now);
        assert_eq!(removed, vec!["b".to_string()]);
        assert_eq!(changed.len(), 2);
        let a = changed.iter().find(|c| c["hash"] == "a").unwrap();
        assert_eq!(a, &json!({"hash": "a", "progress": 0.2}));
        let c = changed.iter().find(|c| c["hash"] == "c").unwrap();
        assert_eq!(c["state"], "queued");
        let (changed, removed) = diff(&now, &now);
        assert!(changed.is_empty() && removed.is_empty());
    }
}

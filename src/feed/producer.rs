//! The single producer: once per second it diffs every subscribed profile's rows against
//! what it sent last and broadcasts only changed fields; it forwards engine add/remove
//! events at once; it sends stats per connected user; and it applies auth revocations to
//! open sockets.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use socketioxide::SocketIo;
use tokio::sync::broadcast::error::RecvError;

use super::{recheck_rooms, room_for_profile, room_for_user};
use crate::auth::{AuthEvent, Identity};
use crate::engine::EngineEvent;
use crate::jsondiff::{changed_fields, to_map};
use crate::state::AppState;

/// Rows by hash. Kept typed: comparing structs is cheap, so only rows that really changed
/// are turned into JSON (with 1,000 idle torrents a tick serializes nothing).
pub(crate) type Rows = HashMap<String, crate::engine::TorrentRow>;

/// What each profile room has been told so far: the producer diffs against it, and a
/// subscribe seeds it with the snapshot it sends, so no change falls between the snapshot
/// and the first patch. Kept for profiles whose rooms emptied: a stale baseline only makes
/// the next patch larger, never wrong.
#[derive(Clone, Default)]
pub(crate) struct Baselines(Arc<std::sync::Mutex<HashMap<String, Rows>>>);

impl Baselines {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Rows>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called at subscribe with the snapshot rows, before they are sent.
    pub(crate) fn seed(&self, profile: &str, rows: &[crate::engine::TorrentRow]) {
        let mut map = self.lock();
        if !map.contains_key(profile) {
            map.insert(profile.to_owned(), to_rows(rows.to_vec()));
        }
    }
}

pub(super) fn spawn(io: SocketIo, st: AppState, baselines: Baselines) {
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
        accounts,
        engine,
        metrics,
        qbit_sync,
        rss,
    } = st;
    drop(engine);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let Some(engine) = weak.upgrade() else { return };
            let st = AppState {
                config: config.clone(),
                store: store.clone(),
                auth: auth.clone(),
                accounts: accounts.clone(),
                metrics: metrics.clone(),
                qbit_sync: qbit_sync.clone(),
                rss: rss.clone(),
                engine,
            };
            tokio::select! {
                _ = stopped.cancelled() => return,
                _ = tick.tick() => {
                    if !io.sockets().is_empty() {
                        broadcast_patches(&io, &st, &baselines).await;
                        broadcast_stats(&io, &st).await;
                        broadcast_creations(&io, &st).await;
                    }
                }
                ev = engine_events.recv() => match ev {
                    Ok(ev) => on_engine_event(&io, &st, ev, &baselines).await,
                    // Missed add/remove events: the next diff against the baselines covers them.
                    Err(RecvError::Lagged(_)) => {}
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
    v.into_iter().map(|r| (r.hash.clone(), r)).collect()
}

/// Subscribed profiles = rooms named `p:…` with at least one socket.
fn subscribed_profiles(io: &SocketIo) -> HashSet<String> {
    io.sockets()
        .iter()
        .flat_map(|s| s.rooms())
        .filter_map(|r| r.strip_prefix("p:").map(str::to_owned))
        .collect()
}

async fn broadcast_patches(io: &SocketIo, st: &AppState, baselines: &Baselines) {
    let profiles = subscribed_profiles(io);
    {
        let existing: HashSet<String> = st.engine.profiles().into_iter().map(|p| p.id).collect();
        baselines.lock().retain(|p, _| existing.contains(p));
    }
    for profile in profiles {
        let Ok(rows) = st.engine.list(&profile) else {
            continue;
        };
        let now = to_rows(rows);
        let patch = {
            let mut map = baselines.lock();
            let patch = map.get(&profile).map(|prev| diff(prev, &now));
            map.insert(profile.clone(), now);
            patch
        };
        if let Some((changed, removed)) = patch
            && (!changed.is_empty() || !removed.is_empty())
        {
            io.to(room_for_profile(&profile))
                .emit(
                    "torrents:patch",
                    &json!({"profile": profile, "changed": changed, "removed": removed}),
                )
                .await
                .ok();
        }
    }
}

/// Changed fields per torrent (with its hash), plus removed hashes.
pub(crate) fn diff<T: serde::Serialize + PartialEq>(
    prev: &HashMap<String, T>,
    now: &HashMap<String, T>,
) -> (Vec<Value>, Vec<String>) {
    let mut changed = Vec::new();
    for (hash, row) in now {
        match prev.get(hash) {
            None => changed.push(Value::Object(to_map(row))),
            Some(old) if old == row => {}
            Some(old) => {
                let mut delta = changed_fields(&to_map(old), &to_map(row));
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

/// Progress of the torrents being created, to their profiles' rooms (their end comes as an
/// engine event).
async fn broadcast_creations(io: &SocketIo, st: &AppState) {
    for c in st.engine.creations() {
        if c.state == crate::engine::creations::CreationState::Hashing {
            io.to(room_for_profile(&c.profile))
                .emit("creation", &c)
                .await
                .ok();
        }
    }
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
            .filter(|p| id.level(&p.id) != crate::access::Level::None)
            .collect();
        let body = json!({
            "dl_speed": profiles.iter().map(|p| p.dl_speed).sum::<u64>(),
            "ul_speed": profiles.iter().map(|p| p.ul_speed).sum::<u64>(),
            "torrents": profiles.iter().map(|p| p.torrents).sum::<usize>(),
            "profiles": profiles,
            "limits": all.limits,
        });
        io.to(room_for_user(&id.username))
            .emit("stats", &body)
            .await
            .ok();
    }
}

async fn on_engine_event(io: &SocketIo, st: &AppState, ev: EngineEvent, baselines: &Baselines) {
    match ev {
        EngineEvent::Added { profile, hash } => {
            let Ok(row) = st.engine.row(&hash) else {
                return;
            };
            if let Some(rows) = baselines.lock().get_mut(&profile) {
                rows.insert(hash.clone(), row.clone());
            }
            io.to(room_for_profile(&profile))
                .emit(
                    "torrent:added",
                    &json!({"profile": profile, "torrent": row}),
                )
                .await
                .ok();
        }
        EngineEvent::ShareLimit {
            profile,
            hash,
            name,
            action,
            reason,
        } => {
            io.to(room_for_profile(&profile))
                .emit(
                    "share_limit",
                    &json!({"profile": profile, "hash": hash, "name": name, "action": action, "reason": reason}),
                )
                .await
                .ok();
        }
        EngineEvent::Creation(view) => {
            io.to(room_for_profile(&view.profile))
                .emit("creation", &view)
                .await
                .ok();
        }
        EngineEvent::SpeedChanged => broadcast_stats(io, st).await,
        EngineEvent::Notice(n) => {
            io.to(room_for_profile(&n.profile))
                .emit("notification", &*n)
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
            if let Some(rows) = baselines.lock().get_mut(&profile) {
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
            AuthEvent::CredentialRevoked { credential }
                if id.credential.as_ref() == Some(credential) =>
            {
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

    #[derive(serde::Serialize, PartialEq)]
    struct R {
        hash: &'static str,
        progress: f64,
        state: &'static str,
    }

    fn row(hash: &'static str, progress: f64, state: &'static str) -> R {
        R {
            hash,
            progress,
            state,
        }
    }

    #[test]
    fn diff_sends_only_changes() {
        let prev: HashMap<String, R> = [
            ("a".into(), row("a", 0.1, "downloading")),
            ("b".into(), row("b", 1.0, "seeding")),
        ]
        .into();
        let now: HashMap<String, R> = [
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

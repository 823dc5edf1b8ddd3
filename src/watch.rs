//! Watch folders (README "Watch folders"): a profile's `watch_dir` takes `.torrent` files
//! dropped into it. A file is read once its size and modification time have stood still for
//! 1.5 s (a file still being copied is never read half), added to the profile, and renamed
//! `NAME.torrent.added` — or `NAME.torrent.invalid` when it is not a torrent pytorrentd takes,
//! with the reason in the log and the audit log. A torrent already present counts as added.
//! Other failures (a full database disk) leave the file for the next look.
//!
//! Folders are looked at every 5 s, which also works on network filesystems where change
//! events never arrive, and at once when the kernel reports a change (inotify, through the
//! `notify` crate). Files dropped while the daemon was stopped are found at its first look.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;
use tracing::{info, warn};

use crate::engine::{AddOptions, AddSource, EngineError, FetchAccess};
use crate::state::AppState;

const STABLE_FOR: Duration = Duration::from_millis(1500);
const POLL: Duration = Duration::from_secs(5);
/// Larger files are not torrents pytorrentd takes (the add's own limit).
const MAX_BYTES: u64 = 10 * 1024 * 1024;

/// What a file looked like when last seen, and since when.
struct Seen {
    len: u64,
    modified: Option<SystemTime>,
    since: Instant,
}

fn is_candidate(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("torrent"))
        && p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.'))
}

fn renamed(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Starts watching (once, at start).
pub fn spawn(state: AppState) {
    let wake = Arc::new(Notify::new());
    tokio::spawn(async move {
        let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
        let mut watched: Vec<PathBuf> = Vec::new();
        let mut watcher: Option<notify::RecommendedWatcher> = None;
        loop {
            let dirs: Vec<(String, PathBuf)> = state
                .engine
                .profiles()
                .into_iter()
                .filter_map(|p| Some((p.id.clone(), p.watch_dir.clone()?)))
                .collect();
            let now: Vec<PathBuf> = dirs.iter().map(|(_, d)| d.clone()).collect();
            if now != watched {
                watcher = events(&now, wake.clone());
                watched = now;
            }
            let _keep = &watcher;
            let mut due = false;
            for (profile, dir) in &dirs {
                due |= look(&state, profile, dir, &mut seen).await;
            }
            // A file not yet stable is looked at again soon, else at the poll or an event.
            let wait = if due {
                Duration::from_millis(500)
            } else {
                POLL
            };
            let _ = tokio::time::timeout(wait, wake.notified()).await;
        }
    });
}

/// Change events for `dirs` (best effort: without them the poll still finds everything).
fn events(dirs: &[PathBuf], wake: Arc<Notify>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut w = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
        wake.notify_one();
    })
    .map_err(|e| warn!("watch folders: no change events, polling only: {e}"))
    .ok()?;
    for d in dirs {
        if let Err(e) = w.watch(d, notify::RecursiveMode::NonRecursive) {
            warn!(dir = %d.display(), "watch folder: no change events, polling only: {e}");
        }
    }
    Some(w)
}

/// Looks at one folder; true when a file there is waiting to become stable.
async fn look(
    state: &AppState,
    profile: &str,
    dir: &Path,
    seen: &mut HashMap<PathBuf, Seen>,
) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut waiting = false;
    for entry in rd.flatten() {
        let path = entry.path();
        if !is_candidate(&path) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let (len, modified) = (meta.len(), meta.modified().ok());
        let stable = match seen.get(&path) {
            Some(s) if s.len == len && s.modified == modified => s.since.elapsed() >= STABLE_FOR,
            _ => {
                seen.insert(
                    path.clone(),
                    Seen {
                        len,
                        modified,
                        since: Instant::now(),
                    },
                );
                false
            }
        };
        if !stable {
            waiting = true;
            continue;
        }
        seen.remove(&path);
        if !take(state, profile, &path, len).await {
            // Could not be renamed (a read-only folder): not taken again until it changes.
            seen.insert(
                path,
                Seen {
                    len,
                    modified,
                    since: Instant::now() + Duration::from_secs(365 * 86_400),
                },
            );
        }
    }
    seen.retain(|p, _| p.exists());
    waiting
}

/// Adds one stable file and renames it; false when it could not be renamed.
async fn take(state: &AppState, profile: &str, path: &Path, len: u64) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let outcome = if len > MAX_BYTES {
        Err(EngineError::InvalidTorrent(
            "the file is larger than 10 MiB".into(),
        ))
    } else {
        match std::fs::read(path) {
            Ok(bytes) => {
                let opts = AddOptions {
                    fetch: FetchAccess::Public,
                    ..Default::default()
                };
                let src = AddSource::Bytes {
                    name: name.clone(),
                    bytes,
                };
                state
                    .engine
                    .add(profile, vec![src], opts)
                    .await
                    .map(|rows| {
                        rows.into_iter()
                            .map(|r| r.hash)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
            }
            Err(e) => {
                warn!(file = %path.display(), "watch folder: cannot read: {e}");
                return true;
            }
        }
    };
    let (suffix, action, detail) = match outcome {
        Ok(hashes) => {
            info!(file = %path.display(), %profile, "watch folder: added");
            (".added", "torrent_add", Some(hashes))
        }
        Err(EngineError::Duplicate { .. }) => {
            info!(file = %path.display(), "watch folder: already present");
            (".added", "torrent_add", Some("already present".into()))
        }
        Err(
            e @ (EngineError::InvalidTorrent(_)
            | EngineError::PathEscape(_)
            | EngineError::Limit(_)
            | EngineError::Invalid(_)),
        ) => {
            warn!(file = %path.display(), "watch folder: not added: {e}");
            (".invalid", "watch_invalid", Some(e.to_string()))
        }
        Err(e) => {
            // Not the file's fault (storage, engine): tried again at the next look.
            warn!(file = %path.display(), "watch folder: will retry: {e}");
            return true;
        }
    };
    let moved = std::fs::rename(path, renamed(path, suffix));
    if let Err(e) = &moved {
        warn!(file = %path.display(), "watch folder: cannot rename the file ({e}); it is skipped until it changes");
    }
    let store = state.store.clone();
    let e = crate::audit::entry(
        None,
        None,
        action,
        Some(profile.to_owned()),
        detail.map(|d| format!("{name}: {d}")),
        "watch_folder",
    );
    let _ = tokio::task::spawn_blocking(move || crate::audit::record(&store, e)).await;
    moved.is_ok()
}

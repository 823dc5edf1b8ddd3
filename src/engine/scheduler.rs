//! The per-profile download queue (README "What it does"): at most `max_active_downloads`
//! incomplete, non-paused torrents run, in queue order; finished torrents seed without taking
//! a slot; user pauses are never undone; force-started torrents bypass the limit.
//!
//! Each pass also records what the engine reports (progress for rows, engine failures as
//! faults with one line for the row and the full error in the log), retries torrents that
//! wait for disk space or file descriptors once those are back, and takes torrents their
//! user paused out of the engine so that they hold no open file (docs/reliability.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use librqbit::{ManagedTorrent, TorrentStatsState as S};
use tracing::{info, warn};

use super::Engine;
use super::faults::{self, FaultKind};
use super::notices::NoticeKind;

enum Action {
    Start(Arc<ManagedTorrent>),
    Stop(Arc<ManagedTorrent>),
    /// Start a failed torrent over (a check of its data, then the download).
    Retry(String, Arc<ManagedTorrent>),
}

/// What the queue decision looks at for one torrent.
#[derive(Clone, Copy, Debug)]
struct QueueFacts {
    paused: bool,
    finished: bool,
    force_start: bool,
}

/// Whether one torrent should run, for torrents of one profile visited in queue order:
/// `active` counts the slots taken so far and `limit` is the profile's
/// `max_active_downloads` (0: no limit). User pauses win; finished torrents seed and
/// force-started ones run without taking a slot.
fn wants_to_run(t: QueueFacts, limit: u32, active: &mut u32) -> bool {
    if t.paused {
        false
    } else if t.finished || t.force_start {
        true
    } else if limit == 0 || *active < limit {
        *active += 1;
        true
    } else {
        false
    }
}

pub(super) fn spawn(engine: Arc<Engine>) {
    let weak = Arc::downgrade(&engine);
    drop(engine);
    tokio::spawn(async move {
        loop {
            let Some(engine) = weak.upgrade() else { return };
            reconcile(&engine).await;
            maintain(&engine).await;
            engine.enforce_share_limits().await;
            engine.check_schedule();
            let wake = engine.wake.clone();
            drop(engine);
            let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
        }
    });
}

/// Engine hand-overs that need the operations lock, done only when it is free (the next
/// pass tries again): paused torrents leave the engine, torrents that waited for file
/// descriptors enter it.
async fn maintain(engine: &Engine) {
    let (park, attach) = {
        let now = Instant::now();
        let st = engine.lock();
        let mut park = Vec::new();
        let mut attach = Vec::new();
        for e in st.torrents.values() {
            match &e.handle {
                Some(h) if e.rec.paused && matches!(h.stats().state, S::Paused) => {
                    park.push(e.rec.hash.clone());
                }
                None if !e.rec.paused
                    && e.rec.has_metadata
                    && e.fault
                        .as_ref()
                        .is_some_and(|f| f.kind == FaultKind::FileLimit && f.next_try <= now) =>
                {
                    attach.push(e.rec.hash.clone());
                }
                _ => {}
            }
        }
        (park, attach)
    };
    if park.is_empty() && attach.is_empty() {
        return;
    }
    let Ok(_g) = engine.ops.try_lock() else {
        return;
    };
    for hash in park {
        // Still paused and idle? (a resume may have come in between).
        let idle = engine.lock().torrents.get(&hash).is_some_and(|e| {
            e.rec.paused
                && e.handle
                    .as_ref()
                    .is_some_and(|h| matches!(h.stats().state, S::Paused))
        });
        if idle && let Err(e) = engine.park(&hash).await {
            warn!(%hash, "taking a paused torrent out of the engine: {e}");
        }
    }
    for hash in attach {
        // Still short of descriptors: the rest wait for the next pass (one check, not one
        // per waiting torrent).
        if !faults::fd_headroom(8) {
            break;
        }
        if let Some(e) = engine.lock().torrents.get_mut(&hash) {
            e.fault = None;
            e.retries = e.retries.saturating_add(1);
        }
        if let Err(e) = engine.attach(&hash).await {
            warn!(%hash, "starting a torrent that waited for file descriptors: {e}");
        }
    }
}

/// Records a notice about a torrent (its profile and name looked up now).
fn notify(engine: &Engine, hash: &str, kind: NoticeKind, message: impl FnOnce(&str) -> String) {
    let found = {
        let st = engine.lock();
        st.torrents
            .get(hash)
            .map(|e| (e.rec.profile.clone(), super::row::row(e).name))
    };
    if let Some((profile, name)) = found {
        let m = message(&name);
        engine.notice(kind, &profile, Some(hash), &name, m);
    }
}

/// One pass: decide which torrents should run and make the engine match.
pub(super) async fn reconcile(engine: &Engine) {
    let mut actions = Vec::new();
    let mut holds: Vec<(String, bool)> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut completed = Vec::new();
    {
        let mut st = engine.lock();
        let now = Instant::now();
        for e in st.torrents.values_mut() {
            let Some(h) = &e.handle else {
                e.rate.clear();
                continue;
            };
            let s = h.stats();
            match s.state {
                S::Live => e.rate.sample(now, s.progress_bytes, s.uploaded_bytes),
                _ => e.rate.clear(),
            }
            match s.state {
                S::Live | S::Paused => {
                    e.progress = Some(faults::Progress {
                        have: s.progress_bytes,
                        total: s.total_bytes,
                        finished: s.finished,
                        files: s.file_progress,
                    });
                    if s.finished {
                        e.retries = 0;
                    }
                }
                S::Error if e.fault.is_none() => {
                    let full = s.error.unwrap_or_default();
                    let dir = e
                        .meta
                        .as_ref()
                        .map(|m| super::fs::content_root(&e.rec.save_dir, m, true))
                        .unwrap_or_else(|| e.rec.save_dir.clone());
                    let (kind, message) = faults::describe(&full, &dir);
                    // The whole engine error (cause chain, backtrace) belongs in the log.
                    warn!(hash = %e.rec.hash, error = %full, "torrent stopped: {message}");
                    failed.push((e.rec.hash.clone(), message.clone()));
                    e.fault = Some(faults::Fault {
                        kind,
                        message,
                        next_try: now + faults::backoff(e.retries),
                        since: now,
                    });
                }
                S::Error => {
                    // What is verified on disk, from the engine's fast-resume bitfield: the
                    // last sample may be a second old, and the engine writes the bitfield
                    // out shortly after it stops.
                    if let Some(f) = &e.fault
                        && now.duration_since(f.since) < Duration::from_secs(10)
                        && let Some(m) = &e.meta
                        && let Ok(bits) = std::fs::read(engine.bitv_path(&e.rec.hash))
                        && let Some(p) =
                            faults::progress_from_bitfield(&bits, m, e.rec.only_files.as_deref())
                        && e.progress.as_ref().is_none_or(|old| p.have >= old.have)
                    {
                        e.progress = Some(p);
                    }
                }
                _ => {}
            }
        }
        let st = st;
        // What running downloads still have to write, per filesystem, before any new one
        // is admitted (`space.rs`).
        let mut budget = super::space::Budget::default();
        for e in st.torrents.values() {
            if let Some(h) = &e.handle {
                let s = h.stats();
                if matches!(s.state, S::Live) && !s.finished {
                    budget.reserve(
                        &e.rec.save_dir,
                        s.total_bytes.saturating_sub(s.progress_bytes),
                    );
                }
            }
        }
        let mut by_profile: Vec<(&str, u64, &super::Entry)> = st
            .torrents
            .values()
            .map(|e| (e.rec.profile.as_str(), e.rec.queue_position, &**e))
            .collect();
        by_profile.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut current = "";
        let mut active = 0u32;
        let mut limit = 0u32;
        let mut min_free = 0u64;
        for (profile, _, e) in by_profile {
            if profile != current {
                current = profile;
                active = 0;
                let p = st.profiles.get(profile);
                limit = p.map(|p| p.max_active_downloads).unwrap_or(0);
                min_free = super::space::min_free(p);
            }
            let Some(h) = &e.handle else { continue };
            let stats = h.stats();
            let live = match stats.state {
                S::Live => true,
                S::Paused => false,
                S::Initializing { .. } => continue,
                S::Error => {
                    if let Some(f) = &e.fault
                        && f.kind != FaultKind::Other
                        && !e.rec.paused
                    {
                        // Waiting for space keeps its slot: the next torrent of the queue
                        // would only fill the same disk.
                        if !e.rec.force_start {
                            active += 1;
                        }
                        let ready = match f.kind {
                            FaultKind::DiskSpace => {
                                faults::space_returned(&e.rec.save_dir, e.progress.as_ref())
                            }
                            _ => faults::fd_headroom(
                                e.meta.as_ref().map(|m| m.files.len() as u64).unwrap_or(1) + 4,
                            ),
                        };
                        if f.next_try <= now && ready {
                            actions.push(Action::Retry(e.rec.hash.clone(), h.clone()));
                        }
                    }
                    continue;
                }
            };
            if stats.finished && e.rec.completed_at.is_none() {
                completed.push(e.rec.hash.clone());
            }
            let facts = QueueFacts {
                paused: e.rec.paused,
                finished: stats.finished,
                force_start: e.rec.force_start,
            };
            // The disk-space guard, before the queue: a held download takes no slot, so a
            // smaller one behind it may still fit.
            let mut hold = false;
            if !facts.paused && !facts.finished && min_free > 0 {
                let dir = &e.rec.save_dir;
                if live {
                    hold = budget.free(dir).is_some_and(|f| f < min_free);
                } else {
                    let remaining = stats.total_bytes.saturating_sub(stats.progress_bytes);
                    hold = !budget.admit(dir, remaining, min_free);
                }
            }
            if hold != e.space_hold {
                holds.push((e.rec.hash.clone(), hold));
            }
            let want = !hold && wants_to_run(facts, limit, &mut active);
            match (want, live) {
                (true, false) => actions.push(Action::Start(h.clone())),
                (false, true) => actions.push(Action::Stop(h.clone())),
                _ => {}
            }
        }
    }
    for (hash, message) in failed {
        notify(engine, &hash, NoticeKind::Error, |name| {
            format!("{name} stopped: {message}")
        });
    }
    for (hash, _) in holds.iter().filter(|(_, hold)| *hold) {
        notify(engine, hash, NoticeKind::DiskSpace, |name| {
            format!("{name} waits for disk space (the profile's minimum free space)")
        });
    }
    if !holds.is_empty() {
        let mut st = engine.lock();
        for (hash, hold) in holds {
            if let Some(e) = st.torrents.get_mut(&hash) {
                e.space_hold = hold;
                if hold {
                    warn!(%hash, dir = %e.rec.save_dir.display(), "disk space: held in the queue until the profile's minimum free space is available");
                } else if !e.rec.paused {
                    info!(%hash, "disk space: enough free space again, the download continues");
                }
            }
        }
    }
    // Stops first so a slot is free before the next torrent starts.
    actions.sort_by_key(|a| !matches!(a, Action::Stop(_)));
    for a in actions {
        let r = match &a {
            Action::Start(h) => {
                engine.traffic_baseline(h);
                engine.session.unpause(h).await
            }
            Action::Stop(h) => engine.session.pause(h).await,
            Action::Retry(hash, h) => {
                engine.traffic_baseline(h);
                let r = engine.session.unpause(h).await;
                if let Some(e) = engine.lock().torrents.get_mut(hash) {
                    let now = Instant::now();
                    match &r {
                        Ok(()) => {
                            info!(%hash, retry = e.retries + 1, "retrying: the resource it waited for is back");
                            e.fault = None;
                            e.retries = e.retries.saturating_add(1);
                        }
                        Err(_) => {
                            if let Some(f) = &mut e.fault {
                                f.next_try = now + faults::backoff(e.retries);
                            }
                        }
                    }
                }
                r
            }
        };
        if let Err(e) = r {
            warn!("queue: {e:#}");
        }
    }
    for hash in completed {
        let now = Utc::now();
        if let Err(e) = engine.update_record(&hash, |r| {
            if r.completed_at.is_none() {
                r.completed_at = Some(now);
            }
        }) {
            warn!(%hash, "recording completion: {e}");
            continue;
        }
        notify(engine, &hash, NoticeKind::Completed, |name| {
            format!("{name} is complete")
        });
        let moves = {
            let st = engine.lock();
            st.torrents.get(&hash).is_some_and(|e| {
                st.profiles
                    .get(&e.rec.profile)
                    .and_then(|p| p.complete_dir.as_ref())
                    .is_some_and(|d| *d != e.rec.save_dir)
            })
        };
        if moves && let Some(engine) = engine.self_arc() {
            tokio::spawn(async move { engine.move_on_completion(&hash).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOWNLOADING: QueueFacts = QueueFacts {
        paused: false,
        finished: false,
        force_start: false,
    };

    /// The decisions for one profile's queue, in order.
    fn plan(queue: &[QueueFacts], limit: u32) -> Vec<bool> {
        let mut active = 0;
        queue
            .iter()
            .map(|t| wants_to_run(*t, limit, &mut active))
            .collect()
    }

    #[test]
    fn the_first_torrents_of_the_queue_take_the_slots() {
        assert_eq!(
            plan(&[DOWNLOADING; 5], 2),
            [true, true, false, false, false]
        );
        assert_eq!(
            plan(&[DOWNLOADING; 3], 0),
            [true, true, true],
            "0 is no limit"
        );
    }

    #[test]
    fn pauses_seeds_and_force_starts() {
        let paused = QueueFacts {
            paused: true,
            ..DOWNLOADING
        };
        let seeding = QueueFacts {
            finished: true,
            ..DOWNLOADING
        };
        let forced = QueueFacts {
            force_start: true,
            ..DOWNLOADING
        };
        // A paused torrent neither runs nor takes a slot; seeds and forced ones run without
        // taking one, so the next queued download still gets it.
        assert_eq!(
            plan(&[paused, seeding, forced, DOWNLOADING, DOWNLOADING], 1),
            [false, true, true, true, false]
        );
        // A user pause wins over force start and over being finished.
        let paused_forced = QueueFacts {
            paused: true,
            force_start: true,
            finished: true,
        };
        assert_eq!(plan(&[paused_forced], 0), [false]);
        // Force start beyond a full queue.
        assert_eq!(plan(&[DOWNLOADING, forced, forced], 1), [true, true, true]);
    }
}

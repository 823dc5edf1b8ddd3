//! The per-profile download queue (SPEC §4): at most `max_active_downloads` incomplete,
//! non-paused torrents run, in queue order; finished torrents seed without taking a slot;
//! user pauses are never undone; force-started torrents bypass the limit.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use librqbit::{ManagedTorrent, TorrentStatsState as S};
use tracing::warn;

use super::Engine;

enum Action {
    Start(Arc<ManagedTorrent>),
    Stop(Arc<ManagedTorrent>),
}

pub(super) fn spawn(engine: Arc<Engine>) {
    let weak = Arc::downgrade(&engine);
    drop(engine);
    tokio::spawn(async move {
        loop {
            let Some(engine) = weak.upgrade() else { return };
            reconcile(&engine).await;
            let wake = engine.wake.clone();
            drop(engine);
            let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
        }
    });
}

/// One pass: decide which torrents should run and make the engine match.
pub(super) async fn reconcile(engine: &Engine) {
    let mut actions = Vec::new();
    let mut completed = Vec::new();
    {
        let mut st = engine.lock();
        let now = std::time::Instant::now();
        for e in st.torrents.values_mut() {
            match e.handle.as_ref().map(|h| (h.live().is_some(), h.stats())) {
                Some((true, s)) => e.rate.sample(now, s.progress_bytes, s.uploaded_bytes),
                _ => e.rate.clear(),
            }
        }
        let st = st;
        let mut by_profile: Vec<(&str, u64, &super::Entry)> = st
            .torrents
            .values()
            .map(|e| (e.rec.profile.as_str(), e.rec.queue_position, e))
            .collect();
        by_profile.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut current = "";
        let mut active = 0u32;
        let mut limit = 0u32;
        for (profile, _, e) in by_profile {
            if profile != current {
                current = profile;
                active = 0;
                limit = st
                    .profiles
                    .get(profile)
                    .map(|p| p.max_active_downloads)
                    .unwrap_or(0);
            }
            let Some(h) = &e.handle else { continue };
            let stats = h.stats();
            let live = match stats.state {
                S::Live => true,
                S::Paused => false,
                S::Initializing { .. } | S::Error => continue,
            };
            if stats.finished && e.rec.completed_at.is_none() {
                completed.push(e.rec.hash.clone());
            }
            let want = if e.rec.paused {
                false
            } else if stats.finished || e.rec.force_start {
                true
            } else if limit == 0 || active < limit {
                active += 1;
                true
            } else {
                false
            };
            match (want, live) {
                (true, false) => actions.push(Action::Start(h.clone())),
                (false, true) => actions.push(Action::Stop(h.clone())),
                _ => {}
            }
        }
    }
    // Stops first so a slot is free before the next torrent starts.
    actions.sort_by_key(|a| matches!(a, Action::Start(_)));
    for a in actions {
        let r = match &a {
            Action::Start(h) => engine.session.unpause(h).await,
            Action::Stop(h) => engine.session.pause(h).await,
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
        }
    }
}

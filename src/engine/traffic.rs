//! Traffic history (README "Traffic history"): bytes downloaded (verified) and uploaded per
//! profile and per minute, in redb (`history` table, keys `PROFILE/MINUTE`). Sampled every
//! 5 s from the engine's counters into the current minute, written once the minute is over;
//! after 24 h minutes are merged into 10-minute buckets, after 30 days deleted (hourly).
//! Queries add the minute still in memory, so a transfer shows at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::Engine;
use crate::store::Table;

const MINUTE: i64 = 60;
const TEN_MINUTES: i64 = 600;
const FINE_FOR: i64 = 24 * 3600;
const KEEP_FOR: i64 = 30 * 24 * 3600;

/// Bytes of one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bucket {
    pub dl: u64,
    pub ul: u64,
}

/// One point of a history: the bucket starting at `t` (unix seconds).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Point {
    pub t: i64,
    pub dl: u64,
    pub ul: u64,
}

/// What the engine keeps between samples.
#[derive(Default)]
pub(crate) struct Sampler {
    /// Per torrent: (downloaded, uploaded) at the last sample.
    last: HashMap<String, (u64, u64)>,
    /// Torrents with a baseline but not live at the last sample (kept one more sample).
    pending: std::collections::HashSet<String>,
    /// The minute being filled (unix seconds of its start) and its buckets per profile.
    minute: i64,
    current: HashMap<String, Bucket>,
    /// Per torrent: this run's uploads as last written to the store (`Table::Uploads`).
    uploads: HashMap<String, u64>,
    /// Set by a clean shutdown, which folds the uploads into the records itself: nothing is
    /// written after it.
    closed: bool,
}

fn key(profile: &str, t: i64) -> String {
    format!("{profile}/{t:012}")
}

fn parse_key(k: &str) -> Option<(&str, i64)> {
    let (p, t) = k.rsplit_once('/')?;
    Some((p, t.parse().ok()?))
}

/// Adds `b` to the bucket `k` in a write transaction.
fn add_into(tx: &mut crate::store::Tx, k: &str, b: Bucket) -> crate::store::Result<()> {
    let old: Bucket = tx.get(Table::History, k)?.unwrap_or_default();
    tx.put(
        Table::History,
        k,
        &Bucket {
            dl: old.dl + b.dl,
            ul: old.ul + b.ul,
        },
    )
}

impl Engine {
    fn sampler(&self) -> std::sync::MutexGuard<'_, Sampler> {
        self.traffic.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a sample: what every torrent moved since the last one goes to its profile's
    /// current minute; a finished minute is written out.
    pub(crate) fn sample_traffic(&self) {
        let now = Utc::now().timestamp();
        let minute = now - now.rem_euclid(MINUTE);
        // Once a minute, with the finished minute, this run's uploads of every torrent are
        // written too (ratio and share limits count them; a crash would lose them).
        let new_minute = self.sampler().minute != minute;
        let mut uploads: Vec<(String, u64)> = Vec::new();
        let counts: Vec<(String, String, u64, u64)> = {
            let st = self.lock();
            if new_minute {
                uploads.extend(st.torrents.values().filter_map(|e| {
                    let up =
                        e.uploaded_base + e.handle.as_ref().map_or(0, |h| h.stats().uploaded_bytes);
                    (up > 0).then(|| (e.rec.hash.clone(), up))
                }));
            }
            st.torrents
                .values()
                .filter_map(|e| {
                    let h = e.handle.as_ref()?;
                    let s = h.stats();
                    // Only a running torrent moves data: while it checks, its verified bytes
                    // grow without any transfer, and it counts afresh once it runs.
                    if !matches!(s.state, librqbit::TorrentStatsState::Live) {
                        return None;
                    }
                    Some((
                        e.rec.hash.clone(),
                        e.rec.profile.clone(),
                        s.progress_bytes,
                        e.uploaded_base + s.uploaded_bytes,
                    ))
                })
                .collect()
        };
        let mut flush = Vec::new();
        let mut sp = self.sampler();
        if sp.minute != minute {
            let done = std::mem::take(&mut sp.current);
            if sp.minute != 0 {
                flush.extend(
                    done.into_iter()
                        .filter(|(_, b)| b.dl + b.ul > 0)
                        .map(|(p, b)| (key(&p, sp.minute), b)),
                );
            }
            sp.minute = minute;
        }
        let mut seen = HashMap::with_capacity(counts.len());
        // Baselines of torrents the queue started since the last sample, which may not be
        // live yet: kept for the next one.
        let started: Vec<(String, (u64, u64))> = sp
            .last
            .iter()
            .filter(|(h, _)| !counts.iter().any(|c| &c.0 == *h))
            .map(|(h, v)| (h.clone(), *v))
            .collect();
        for (hash, profile, dl, ul) in counts {
            // A torrent seen for the first time counts from here (what it had before is
            // not new traffic); counters that go back (a recheck) count nothing.
            if let Some(&(pdl, pul)) = sp.last.get(&hash) {
                let b = sp.current.entry(profile).or_default();
                b.dl += dl.saturating_sub(pdl);
                b.ul += ul.saturating_sub(pul);
            }
            seen.insert(hash, (dl, ul));
        }
        // A started torrent not live after a sample either is forgotten at the next one.
        for (h, v) in started {
            if sp.pending.insert(h.clone()) {
                seen.insert(h, v);
            }
        }
        sp.pending.retain(|h| seen.contains_key(h));
        sp.last = seen;
        uploads.retain(|(h, up)| sp.uploads.get(h) != Some(up));
        if (flush.is_empty() && uploads.is_empty()) || sp.closed {
            return;
        }
        // Written with the sampler held: a shutdown waits for it (see `closed`).
        let written = self.store.write(|tx| {
            for (k, b) in &flush {
                add_into(tx, k, *b)?;
            }
            for (h, up) in &uploads {
                tx.put(Table::Uploads, h, up)?;
            }
            Ok::<(), crate::store::StoreError>(())
        });
        match written {
            Ok(()) => {
                if !uploads.is_empty() {
                    tracing::debug!(
                        torrents = uploads.len(),
                        bytes = uploads.iter().map(|u| u.1).sum::<u64>(),
                        "this run's uploads saved"
                    );
                }
                sp.uploads.extend(uploads);
            }
            // Tried again at the next minute (the uploads; that minute's history is lost).
            Err(e) => tracing::warn!("traffic history and uploads: could not store: {e}"),
        }
    }

    /// Stops the minute-by-minute writes of uploads and returns the guard that holds them
    /// stopped while a clean shutdown folds the uploads into the records itself.
    pub(crate) fn close_traffic(&self) -> std::sync::MutexGuard<'_, Sampler> {
        let mut sp = self.sampler();
        sp.closed = true;
        sp
    }

    /// Starts counting a torrent the queue is about to run from what it has now (it moves no
    /// data before), so that even a transfer shorter than a sample is counted whole.
    pub(crate) fn traffic_baseline(&self, h: &librqbit::ManagedTorrent) {
        let hash = h.info_hash().as_string();
        let up = self
            .lock()
            .torrents
            .get(&hash)
            .map_or(0, |e| e.uploaded_base);
        let s = h.stats();
        self.sampler()
            .last
            .insert(hash, (s.progress_bytes, up + s.uploaded_bytes));
    }

    /// The history of `profiles` (summed) from `from` (unix seconds) to now, in buckets of
    /// `step` seconds (60 or 600), with the minute still in memory.
    pub fn traffic_history(
        &self,
        profiles: &[String],
        from: i64,
        step: i64,
    ) -> crate::store::Result<Vec<Point>> {
        let mut sums: std::collections::BTreeMap<i64, Bucket> = Default::default();
        let mut add = |t: i64, b: Bucket| {
            let slot = sums.entry(t - t.rem_euclid(step)).or_default();
            slot.dl += b.dl;
            slot.ul += b.ul;
        };
        for p in profiles {
            let rows = self.store.range_json::<Bucket>(
                Table::History,
                &key(p, from - from.rem_euclid(MINUTE)),
                &format!("{p}/~"),
            )?;
            for (k, b) in rows {
                if let Some((_, t)) = parse_key(&k) {
                    add(t, b);
                }
            }
        }
        {
            let sp = self.sampler();
            if sp.minute >= from {
                for p in profiles {
                    if let Some(b) = sp.current.get(p) {
                        add(sp.minute, *b);
                    }
                }
            }
        }
        Ok(sums
            .into_iter()
            .filter(|(t, b)| *t >= from - from.rem_euclid(step) && b.dl + b.ul > 0)
            .map(|(t, b)| Point {
                t,
                dl: b.dl,
                ul: b.ul,
            })
            .collect())
    }

    /// Merges minutes older than a day into 10-minute buckets and deletes what is older than
    /// 30 days.
    pub(crate) fn compact_traffic(&self) -> crate::store::Result<()> {
        let now = Utc::now().timestamp();
        let rows = self.store.list_json::<Bucket>(Table::History)?;
        let mut merged: HashMap<String, Bucket> = HashMap::new();
        let mut gone: Vec<String> = Vec::new();
        for (k, b) in rows {
            let Some((p, t)) = parse_key(&k) else {
                gone.push(k);
                continue;
            };
            if t < now - KEEP_FOR {
                gone.push(k);
            } else if t < now - FINE_FOR && t.rem_euclid(TEN_MINUTES) != 0 {
                let m = merged
                    .entry(key(p, t - t.rem_euclid(TEN_MINUTES)))
                    .or_default();
                m.dl += b.dl;
                m.ul += b.ul;
                gone.push(k);
            }
        }
        if gone.is_empty() {
            return Ok(());
        }
        self.store.write(|tx| {
            for k in &gone {
                tx.delete(Table::History, k)?;
            }
            for (k, b) in &merged {
                add_into(tx, k, *b)?;
            }
            Ok::<(), crate::store::StoreError>(())
        })
    }

    /// Samples every 5 s and compacts every hour.
    pub(crate) fn spawn_traffic(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut n: u64 = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let Some(engine) = weak.upgrade() else { return };
                let e2 = engine.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    e2.sample_traffic();
                    if n.is_multiple_of(720)
                        && let Err(e) = e2.compact_traffic()
                    {
                        tracing::warn!("traffic history: compacting failed: {e}");
                    }
                })
                .await;
                n += 1;
            }
        });
    }
}

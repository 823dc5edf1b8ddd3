use arc_swap::ArcSwapOption;
use governor::DefaultDirectRateLimiter as RateLimiter;
use governor::Quota;
use serde::Deserialize;
use serde::Serialize;
use std::num::NonZeroU32;
use std::sync::Arc;

#[derive(Default, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    pub upload_bps: Option<NonZeroU32>,
    pub download_bps: Option<NonZeroU32>,
}

struct Limiter {
    rl: RateLimiter,
    bps: NonZeroU32,
}

struct Limit {
    limiter: ArcSwapOption<Limiter>,
    current_bps: std::sync::atomic::AtomicU32,
}

impl Limit {
    fn new_inner(bps: Option<NonZeroU32>) -> Option<Arc<Limiter>> {
        let bps = bps?;
        Some(Arc::new(Limiter {
            rl: RateLimiter::direct(Quota::per_second(bps)),
            bps,
        }))
    }

    fn new(bps: Option<NonZeroU32>) -> Self {
        use std::sync::atomic::AtomicU32;
        Self {
            limiter: ArcSwapOption::new(Self::new_inner(bps)),
            current_bps: AtomicU32::new(bps.map(|v| v.get()).unwrap_or(0)),
        }
    }

    async fn acquire(&self, size: NonZeroU32) -> crate::Result<()> {
        let lim = self.limiter.load().clone();
        if let Some(l) = lim.as_ref() {
            // The quota's burst is one second's worth: a chunk larger than that could never
            // pass (governor returns InsufficientCapacity, which would stop the torrent), so
            // it waits for a whole second's quota instead.
            l.rl.until_n_ready(size.min(l.bps)).await?;
        }
        Ok(())
    }

    fn set(&self, limit: Option<NonZeroU32>) {
        use std::sync::atomic::Ordering;
        let new = Self::new_inner(limit);
        self.limiter.swap(new);
        self.current_bps
            .store(limit.map(|v| v.get()).unwrap_or(0), Ordering::Relaxed);
    }

    fn get(&self) -> Option<NonZeroU32> {
        use std::sync::atomic::Ordering;
        NonZeroU32::new(self.current_bps.load(Ordering::Relaxed))
    }
}

pub struct Limits {
    down: Limit,
    up: Limit,
    // Limits shared with other torrents (a group, e.g. all torrents of one category): a
    // transfer passes these limits and then the group's, so the tighter one wins.
    group: ArcSwapOption<Limits>,
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Self {
        Self {
            down: Limit::new(config.download_bps),
            up: Limit::new(config.upload_bps),
            group: ArcSwapOption::empty(),
        }
    }

    pub async fn prepare_for_upload(&self, len: NonZeroU32) -> crate::Result<()> {
        self.up.acquire(len).await?;
        if let Some(group) = self.group.load_full() {
            group.up.acquire(len).await?;
        }
        Ok(())
    }

    pub async fn prepare_for_download(&self, len: NonZeroU32) -> crate::Result<()> {
        self.down.acquire(len).await?;
        if let Some(group) = self.group.load_full() {
            group.down.acquire(len).await?;
        }
        Ok(())
    }

    /// Makes transfers also pass `group`'s limits (its own, not its group's), which other
    /// `Limits` may share; `None` leaves the group.
    pub fn set_group(&self, group: Option<Arc<Limits>>) {
        self.group.store(group);
    }

    pub fn set_upload_bps(&self, bps: Option<NonZeroU32>) {
        self.up.set(bps);
    }

    pub fn set_download_bps(&self, bps: Option<NonZeroU32>) {
        self.down.set(bps);
    }

    pub fn get_upload_bps(&self) -> Option<NonZeroU32> {
        self.up.get()
    }

    pub fn get_download_bps(&self) -> Option<NonZeroU32> {
        self.down.get()
    }

    pub fn get_config(&self) -> LimitsConfig {
        LimitsConfig {
            upload_bps: self.get_upload_bps(),
            download_bps: self.get_download_bps(),
        }
    }
}

//! Brute-force protection: failed logins counted per client IP; after the configured number
//! the IP is banned for the configured time. In memory: a restart forgives, which is fine
//! for a home server and keeps the hot path free of disk writes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    failures: u32,
    banned_until: Option<Instant>,
    last: Option<Instant>,
}

pub struct LoginLimiter {
    max_failures: u32,
    ban: Duration,
    map: Mutex<HashMap<IpAddr, Entry>>,
}

/// Bound on remembered IPs, so a flood of distinct addresses cannot grow memory forever.
const MAX_TRACKED: usize = 10_000;

impl LoginLimiter {
    pub fn new(max_failures: u32, ban_seconds: u64) -> Self {
        LoginLimiter {
            max_failures: max_failures.max(1),
            ban: Duration::from_secs(ban_seconds),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(remaining)` while the IP is banned.
    pub fn banned(&self, ip: IpAddr) -> Option<Duration> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let e = map.get_mut(&ip)?;
        match e.banned_until {
            Some(t) if t > now => Some(t - now),
            Some(_) => {
                map.remove(&ip);
                None
            }
            None => None,
        }
    }

    /// Records a failure; returns the ban length if this failure started a ban.
    pub fn failure(&self, ip: IpAddr) -> Option<Duration> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            let ban = self.ban;
            map.retain(|_, e| {
                e.banned_until.is_some_and(|t| t > now)
                    || e.last.is_some_and(|l| now.duration_since(l) < ban)
            });
        }
        let e = map.entry(ip).or_default();
        // Failures older than a ban period are forgotten.
        if e.last.is_some_and(|l| now.duration_since(l) > self.ban) {
            e.failures = 0;
        }
        e.failures += 1;
        e.last = Some(now);
        if e.failures >= self.max_failures {
            e.banned_until = Some(now + self.ban);
            e.failures = 0;
            return Some(self.ban);
        }
        None
    }

    pub fn success(&self, ip: IpAddr) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_after_max_and_forgives_on_success() {
        let l = LoginLimiter::new(3, 60);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.failure(ip).is_none());
        assert!(l.failure(ip).is_none());
        assert!(l.banned(ip).is_none());
        assert!(l.failure(ip).is_some());
        assert!(l.banned(ip).is_some());
        assert!(l.banned(other).is_none());
        l.success(other);
        assert!(l.banned(ip).is_some());
        let l = LoginLimiter::new(2, 60);
        l.failure(ip);
        l.success(ip);
        assert!(l.failure(ip).is_none());
    }
}

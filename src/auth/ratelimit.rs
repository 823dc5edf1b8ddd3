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

    /// Counts a login attempt *before* its password is checked, so that concurrent attempts
    /// from one address cannot together get more checks than the limit allows. `Err` holds
    /// the time to wait: the address is banned, or its remaining attempts are all in flight.
    pub fn attempt(&self, ip: IpAddr) -> Result<(), Duration> {
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
        if let Some(t) = e.banned_until {
            if t > now {
                return Err(t - now);
            }
            *e = Entry::default();
        }
        // Attempts older than a ban period are forgotten.
        if e.last.is_some_and(|l| now.duration_since(l) > self.ban) {
            e.failures = 0;
        }
        if e.failures >= self.max_failures {
            // The last allowed attempts are still being checked; when they fail, `failure`
            // starts the ban.
            return Err(self.ban);
        }
        e.failures += 1;
        e.last = Some(now);
        Ok(())
    }

    /// The attempt counted by [`LoginLimiter::attempt`] failed; returns the ban length if the
    /// address has now used up its attempts.
    pub fn failure(&self, ip: IpAddr) -> Option<Duration> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let e = map.entry(ip).or_default();
        if e.banned_until.is_none() && e.failures >= self.max_failures {
            e.banned_until = Some(now + self.ban);
            e.failures = 0;
            return Some(self.ban);
        }
        None
    }

    /// Takes back an attempt that was counted but never checked (the hashing pool was full).
    pub fn forget_attempt(&self, ip: IpAddr) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = map.get_mut(&ip) {
            e.failures = e.failures.saturating_sub(1);
        }
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
        for _ in 0..2 {
            assert!(l.attempt(ip).is_ok());
            assert!(l.failure(ip).is_none());
        }
        assert!(l.banned(ip).is_none());
        assert!(l.attempt(ip).is_ok());
        assert!(l.failure(ip).is_some());
        assert!(l.banned(ip).is_some());
        assert!(l.attempt(ip).is_err());
        assert!(l.banned(other).is_none());
        l.success(other);
        assert!(l.banned(ip).is_some());
        let l = LoginLimiter::new(2, 60);
        assert!(l.attempt(ip).is_ok());
        l.success(ip);
        assert!(l.attempt(ip).is_ok());
        assert!(l.failure(ip).is_none());
    }

    #[test]
    fn concurrent_attempts_are_counted_before_checking() {
        let l = LoginLimiter::new(5, 60);
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        // Sixty attempts start before any of them has been checked: five may proceed.
        let admitted = (0..60).filter(|_| l.attempt(ip).is_ok()).count();
        assert_eq!(admitted, 5);
        for _ in 0..5 {
            l.failure(ip);
        }
        assert!(l.banned(ip).is_some());
    }
}

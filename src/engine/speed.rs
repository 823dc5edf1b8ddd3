//! Speed limits (README "Speed limits"): global download/upload, an alternative pair switched
//! by hand or by a weekly schedule, per profile (one limiter shared by all torrents of the
//! profile) and per torrent. A transfer passes the torrent's limiter, then its profile's,
//! then the session's, so the tightest one wins. All of them change while torrents run:
//! librqbit's limiters are swapped in place (vendored patch 0005, vendor/README.md).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use chrono::{Datelike, NaiveTime, Timelike};
use librqbit::limits::{Limits, LimitsConfig};
use serde::{Deserialize, Serialize};

use super::{EngineError, Result};

/// The key of the speed settings in the `settings` table.
pub const SETTINGS_KEY: &str = "speed";

/// The smallest limit other than 0 (unlimited): one 16 KiB block per second. The engine
/// moves data in blocks of that size, so a smaller limit could not be kept.
pub const LIMIT_MIN: u64 = 16 * 1024;
/// The largest limit (4 GiB/s), what the engine's limiter can count.
pub const LIMIT_MAX: u64 = u32::MAX as u64;

/// The global speed settings, stored in redb.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SpeedSettings {
    /// Bytes/s, 0 = unlimited.
    #[serde(default)]
    pub dl_limit: u64,
    #[serde(default)]
    pub ul_limit: u64,
    /// The alternative pair (bytes/s, 0 = unlimited), in force while `alt_enabled`.
    #[serde(default)]
    pub alt_dl_limit: u64,
    #[serde(default)]
    pub alt_ul_limit: u64,
    /// The alternative limits are in force (the switch in the top bar; the schedule turns it
    /// on when its window starts and off when it ends, like qBittorrent's).
    #[serde(default)]
    pub alt_enabled: bool,
    #[serde(default)]
    pub schedule: Schedule,
}

/// A weekly window for the alternative limits, in the server's local time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Schedule {
    #[serde(default)]
    pub enabled: bool,
    /// Days the window starts on: 0 = Monday … 6 = Sunday.
    #[serde(default)]
    pub days: Vec<u8>,
    /// "HH:MM"; a window whose end is before its start runs past midnight; equal times
    /// cover the whole day.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub from: String,
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub to: String,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            enabled: false,
            days: (0..7).collect(),
            from: "08:00".into(),
            to: "20:00".into(),
        }
    }
}

/// A change of the speed settings: absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeedChange {
    pub dl_limit: Option<u64>,
    pub ul_limit: Option<u64>,
    pub alt_dl_limit: Option<u64>,
    pub alt_ul_limit: Option<u64>,
    pub alt_enabled: Option<bool>,
    pub schedule: Option<Schedule>,
}

/// Checks a limit in bytes/s (`what` names it in the error).
pub fn check_limit(what: &str, v: u64) -> Result<u64> {
    if v == 0 || (LIMIT_MIN..=LIMIT_MAX).contains(&v) {
        Ok(v)
    } else {
        Err(EngineError::Invalid(format!(
            "{what} must be 0 (unlimited) or {LIMIT_MIN} to {LIMIT_MAX} bytes/s (got {v})"
        )))
    }
}

fn parse_time(what: &str, s: &str) -> Result<NaiveTime> {
    let ok = s.len() == 5 && s.as_bytes()[2] == b':';
    ok.then(|| NaiveTime::parse_from_str(s, "%H:%M").ok())
        .flatten()
        .ok_or_else(|| EngineError::Invalid(format!("schedule {what} must be HH:MM (got {s:?})")))
}

impl Schedule {
    fn check(&self) -> Result<()> {
        parse_time("from", &self.from)?;
        parse_time("to", &self.to)?;
        if let Some(d) = self.days.iter().find(|d| **d > 6) {
            return Err(EngineError::Invalid(format!(
                "schedule days are 0 (Monday) to 6 (Sunday) (got {d})"
            )));
        }
        Ok(())
    }

    /// Whether the window covers `now` (the day of the week 0 = Monday, and the minute of
    /// the day). A window past midnight belongs to the day it starts on.
    pub fn covers(&self, weekday: u8, minute: u32) -> bool {
        let (Ok(from), Ok(to)) = (parse_time("from", &self.from), parse_time("to", &self.to))
        else {
            return false;
        };
        let (from, to) = (
            from.hour() * 60 + from.minute(),
            to.hour() * 60 + to.minute(),
        );
        let on = |d: u8| self.days.contains(&d);
        let yesterday = (weekday + 6) % 7;
        if from == to {
            on(weekday)
        } else if from < to {
            on(weekday) && (from..to).contains(&minute)
        } else {
            (on(weekday) && minute >= from) || (on(yesterday) && minute < to)
        }
    }

    /// `covers` at the server's local time now.
    pub fn covers_now(&self) -> bool {
        let now = chrono::Local::now();
        self.covers(
            now.weekday().num_days_from_monday() as u8,
            now.hour() * 60 + now.minute(),
        )
    }
}

impl SpeedChange {
    pub fn is_empty(&self) -> bool {
        self.dl_limit.is_none()
            && self.ul_limit.is_none()
            && self.alt_dl_limit.is_none()
            && self.alt_ul_limit.is_none()
            && self.alt_enabled.is_none()
            && self.schedule.is_none()
    }

    /// Checks every value, then applies them to `to` (nothing changes on an error).
    pub fn apply(&self, to: &mut SpeedSettings) -> Result<()> {
        let mut next = to.clone();
        for (what, v, field) in [
            ("dl_limit", self.dl_limit, &mut next.dl_limit),
            ("ul_limit", self.ul_limit, &mut next.ul_limit),
            ("alt_dl_limit", self.alt_dl_limit, &mut next.alt_dl_limit),
            ("alt_ul_limit", self.alt_ul_limit, &mut next.alt_ul_limit),
        ] {
            if let Some(v) = v {
                *field = check_limit(what, v)?;
            }
        }
        if let Some(a) = self.alt_enabled {
            next.alt_enabled = a;
        }
        if let Some(s) = &self.schedule {
            s.check()?;
            let mut s = s.clone();
            s.days.sort_unstable();
            s.days.dedup();
            next.schedule = s;
        }
        *to = next;
        Ok(())
    }
}

impl SpeedSettings {
    /// The global pair in force now: (download, upload) bytes/s, 0 = unlimited.
    pub fn effective(&self) -> (u64, u64) {
        if self.alt_enabled {
            (self.alt_dl_limit, self.alt_ul_limit)
        } else {
            (self.dl_limit, self.ul_limit)
        }
    }
}

/// A limit as librqbit takes it (`None` = unlimited).
pub fn bps(v: u64) -> Option<NonZeroU32> {
    NonZeroU32::new(v.min(LIMIT_MAX) as u32)
}

fn set(l: &Limits, dl: u64, ul: u64) {
    // Swapping a limiter starts it afresh: only when the value really changes.
    if l.get_download_bps() != bps(dl) {
        l.set_download_bps(bps(dl));
    }
    if l.get_upload_bps() != bps(ul) {
        l.set_upload_bps(bps(ul));
    }
}

/// What the engine keeps of the speed limits at run time.
#[derive(Default)]
pub(crate) struct SpeedState {
    pub settings: SpeedSettings,
    /// Whether the schedule's window covered the last check (`None`: not checked since the
    /// start or since the schedule changed), to act on its edges only.
    pub in_window: Option<bool>,
    /// One limiter per profile, shared by its torrents.
    pub groups: HashMap<String, Arc<Limits>>,
}

impl super::Engine {
    fn speed(&self) -> std::sync::MutexGuard<'_, SpeedState> {
        self.speed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The global speed settings.
    pub fn speed_settings(&self) -> SpeedSettings {
        self.speed().settings.clone()
    }

    /// The global limits in force now.
    pub fn global_limits(&self) -> super::GlobalLimits {
        let s = &self.speed().settings;
        let (dl_limit, ul_limit) = s.effective();
        super::GlobalLimits {
            dl_limit,
            ul_limit,
            alt_enabled: s.alt_enabled,
        }
    }

    /// Changes the global speed settings: stored first, then in force at once.
    pub fn set_speed_settings(&self, change: &SpeedChange) -> Result<SpeedSettings> {
        let mut next = self.speed_settings();
        change.apply(&mut next)?;
        self.store
            .write(|tx| tx.put(crate::store::Table::Settings, SETTINGS_KEY, &next))?;
        {
            let mut sp = self.speed();
            if change.schedule.is_some() {
                sp.in_window = None;
            }
            sp.settings = next;
        }
        // A new schedule takes effect now, not at the next tick.
        self.check_schedule();
        let now = self.speed_settings();
        self.emit(super::EngineEvent::SpeedChanged);
        Ok(now)
    }

    /// Applies the schedule's edges (the scheduler calls it each pass): entering the window
    /// switches the alternative limits on, leaving it switches them off; in between the
    /// switch is the user's. Then puts the global pair in force.
    pub(crate) fn check_schedule(&self) {
        let mut changed = None;
        {
            let mut sp = self.speed();
            if sp.settings.schedule.enabled {
                let inside = sp.settings.schedule.covers_now();
                if sp.in_window != Some(inside) {
                    sp.in_window = Some(inside);
                    if sp.settings.alt_enabled != inside {
                        sp.settings.alt_enabled = inside;
                        changed = Some(sp.settings.clone());
                    }
                }
            } else {
                sp.in_window = None;
            }
            let (dl, ul) = sp.settings.effective();
            set(&self.session.ratelimits, dl, ul);
        }
        if let Some(s) = changed {
            if let Err(e) = self
                .store
                .write(|tx| tx.put(crate::store::Table::Settings, SETTINGS_KEY, &s))
            {
                tracing::warn!("could not store the schedule's switch: {e}");
            }
            tracing::info!(
                alt = s.alt_enabled,
                "speed schedule switched the alternative limits"
            );
            self.emit(super::EngineEvent::SpeedChanged);
        }
    }

    /// The limiter shared by the torrents of `profile`, made on first use with the profile's
    /// limits.
    fn group(&self, profile: &str) -> Arc<Limits> {
        let (dl, ul) = self
            .lock()
            .profiles
            .get(profile)
            .map_or((0, 0), |p| (p.dl_limit, p.ul_limit));
        let mut sp = self.speed();
        sp.groups
            .entry(profile.to_owned())
            .or_insert_with(|| {
                Arc::new(Limits::new(LimitsConfig {
                    download_bps: bps(dl),
                    upload_bps: bps(ul),
                }))
            })
            .clone()
    }

    /// Puts a profile's limits in force for all its torrents at once.
    pub(crate) fn apply_profile_limits(&self, profile: &str) {
        let (dl, ul) = self
            .lock()
            .profiles
            .get(profile)
            .map_or((0, 0), |p| (p.dl_limit, p.ul_limit));
        let g = self.group(profile);
        set(&g, dl, ul);
    }

    /// Puts a torrent's own limits and its profile's shared limiter on its engine handle.
    pub(crate) fn apply_torrent_limits(&self, hash: &str) {
        let (h, profile, dl, ul) = {
            let st = self.lock();
            let Some(e) = st.torrents.get(hash) else {
                return;
            };
            let Some(h) = e.handle.clone() else {
                return;
            };
            (h, e.rec.profile.clone(), e.rec.dl_limit, e.rec.ul_limit)
        };
        let l = h.ratelimits();
        set(l, dl, ul);
        l.set_group(Some(self.group(&profile)));
    }

    /// Forgets the limiter of a deleted profile.
    pub(crate) fn drop_profile_limits(&self, profile: &str) {
        self.speed().groups.remove(profile);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(days: &[u8], from: &str, to: &str) -> Schedule {
        Schedule {
            enabled: true,
            days: days.to_vec(),
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn windows_cover_their_days_and_minutes() {
        let s = sched(&[0], "08:00", "20:00");
        assert!(s.covers(0, 8 * 60));
        assert!(s.covers(0, 20 * 60 - 1));
        assert!(!s.covers(0, 20 * 60));
        assert!(!s.covers(1, 12 * 60));
        // Past midnight: Monday 22:00 to Tuesday 06:00.
        let n = sched(&[0], "22:00", "06:00");
        assert!(n.covers(0, 23 * 60));
        assert!(n.covers(1, 5 * 60));
        assert!(!n.covers(1, 23 * 60));
        assert!(!n.covers(0, 5 * 60));
        // Sunday night runs into Monday.
        assert!(sched(&[6], "22:00", "06:00").covers(0, 60));
        // Equal times: the whole day.
        assert!(sched(&[2], "00:00", "00:00").covers(2, 0));
        assert!(!sched(&[2], "00:00", "00:00").covers(3, 0));
    }

    #[test]
    fn bad_values_change_nothing() {
        let mut s = SpeedSettings::default();
        for bad in [
            SpeedChange {
                dl_limit: Some(1000),
                ..Default::default()
            },
            SpeedChange {
                ul_limit: Some(LIMIT_MAX + 1),
                ..Default::default()
            },
            SpeedChange {
                dl_limit: Some(1 << 20),
                schedule: Some(sched(&[7], "08:00", "09:00")),
                ..Default::default()
            },
            SpeedChange {
                schedule: Some(sched(&[1], "8:00", "09:00")),
                ..Default::default()
            },
            SpeedChange {
                schedule: Some(sched(&[1], "24:00", "09:00")),
                ..Default::default()
            },
        ] {
            assert!(bad.apply(&mut s).is_err(), "{bad:?}");
            assert_eq!(s, SpeedSettings::default());
        }
        SpeedChange {
            dl_limit: Some(LIMIT_MIN),
            alt_enabled: Some(true),
            alt_dl_limit: Some(0),
            ..Default::default()
        }
        .apply(&mut s)
        .unwrap();
        assert_eq!(s.effective(), (0, 0));
        s.alt_enabled = false;
        assert_eq!(s.effective(), (LIMIT_MIN, 0));
    }
}

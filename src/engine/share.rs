//! Share limits (README "Share limits"): stop seeding at a ratio or after a seeding time,
//! by pausing or removing the torrent (with or without its data). Set per torrent, per
//! profile and as a global default; `null` inherits from the next level, `-1` means none.
//! The scheduler checks seeding torrents once a second (`scheduler.rs`).

use serde::{Deserialize, Deserializer};

use super::{EngineError, Result};

pub use crate::store::{ShareAction, ShareLimits};

/// The key of the global share limits in the `settings` table.
pub const SETTINGS_KEY: &str = "share";

/// The largest ratio limit (anything above is "never" in practice).
pub const RATIO_LIMIT_MAX: f64 = 1000.0;
/// Ten years, in minutes.
pub const SEED_TIME_LIMIT_MAX: i64 = 5_256_000;

/// A change of share limits: each field absent (unchanged), null (inherit) or a value.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ShareChange {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub ratio_limit: Option<Option<f64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub seed_time_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<ShareAction>)]
    pub share_action: Option<Option<ShareAction>>,
}

/// Tells "field absent" (outer None) from "field: null" (Some(None)).
pub fn double_option<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl ShareChange {
    pub fn is_empty(&self) -> bool {
        self.ratio_limit.is_none() && self.seed_time_limit.is_none() && self.share_action.is_none()
    }

    /// Checks the values and applies them to `to`.
    pub fn apply(&self, to: &mut ShareLimits) -> Result<()> {
        if let Some(Some(r)) = self.ratio_limit
            && !(r == -1.0 || (r.is_finite() && (0.0..=RATIO_LIMIT_MAX).contains(&r)))
        {
            return Err(EngineError::Invalid(format!(
                "ratio_limit must be -1 (none) or 0 to {RATIO_LIMIT_MAX} (got {r})"
            )));
        }
        if let Some(Some(t)) = self.seed_time_limit
            && !(t == -1 || (0..=SEED_TIME_LIMIT_MAX).contains(&t))
        {
            return Err(EngineError::Invalid(format!(
                "seed_time_limit must be -1 (none) or 0 to {SEED_TIME_LIMIT_MAX} minutes (got {t})"
            )));
        }
        if let Some(v) = self.ratio_limit {
            to.ratio_limit = v;
        }
        if let Some(v) = self.seed_time_limit {
            to.seed_time_limit = v;
        }
        if let Some(v) = self.share_action {
            to.share_action = v;
        }
        Ok(())
    }
}

/// The limits in force for a torrent: its own, else its profile's, else the global ones;
/// `-1` (none) ends the search too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effective {
    pub ratio: Option<f64>,
    pub minutes: Option<i64>,
    pub action: ShareAction,
}

pub fn effective(levels: [&ShareLimits; 3]) -> Effective {
    let ratio = levels
        .iter()
        .find_map(|l| l.ratio_limit)
        .filter(|r| *r >= 0.0);
    let minutes = levels
        .iter()
        .find_map(|l| l.seed_time_limit)
        .filter(|m| *m >= 0);
    let action = levels
        .iter()
        .find_map(|l| l.share_action)
        .unwrap_or(ShareAction::Pause);
    Effective {
        ratio,
        minutes,
        action,
    }
}

impl Effective {
    /// Why the limit is reached, if it is: `ratio` so far, `seeded` minutes since completion.
    pub fn reached(&self, ratio: f64, seeded_minutes: i64) -> Option<String> {
        if let Some(r) = self.ratio
            && ratio >= r
        {
            return Some(format!("ratio {ratio:.2} reached the limit {r}"));
        }
        if let Some(m) = self.minutes
            && seeded_minutes >= m
        {
            return Some(format!("seeded {seeded_minutes} min, the limit is {m} min"));
        }
        None
    }
}

impl super::Engine {
    /// The global share limits (null fields: none).
    pub fn share_settings(&self) -> ShareLimits {
        self.global_share
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the global share limits: stored first, then in force.
    pub fn set_share_settings(&self, change: &ShareChange) -> Result<ShareLimits> {
        let mut next = self.share_settings();
        change.apply(&mut next)?;
        let v = next.clone();
        self.store
            .write(|tx| tx.put(crate::store::Table::Settings, SETTINGS_KEY, &v))?;
        *self.global_share.lock().unwrap_or_else(|e| e.into_inner()) = next.clone();
        self.wake_scheduler();
        Ok(next)
    }

    /// Seeding torrents whose share limit is reached, with the action and why.
    pub(crate) fn share_limits_reached(
        &self,
    ) -> Vec<(String, String, String, ShareAction, String)> {
        let global = self.share_settings();
        let now = chrono::Utc::now();
        let st = self.lock();
        let mut out = Vec::new();
        for e in st.torrents.values() {
            let Some(done) = e.rec.completed_at else {
                continue;
            };
            if e.rec.paused || e.handle.is_none() {
                continue;
            }
            let none = ShareLimits::default();
            let profile = st.profiles.get(&e.rec.profile).map_or(&none, |p| &p.share);
            let eff = effective([&e.rec.share, profile, &global]);
            if eff.ratio.is_none() && eff.minutes.is_none() {
                continue;
            }
            let row = super::row::row(e);
            if row.progress < 1.0 {
                continue;
            }
            let minutes = (now - done).num_minutes();
            if let Some(why) = eff.reached(row.ratio, minutes) {
                out.push((
                    e.rec.hash.clone(),
                    e.rec.profile.clone(),
                    row.name,
                    eff.action,
                    why,
                ));
            }
        }
        out
    }

    /// Takes the action of every reached share limit (the scheduler calls it each pass).
    pub(crate) async fn enforce_share_limits(&self) {
        for (hash, profile, name, action, reason) in self.share_limits_reached() {
            let r = match action {
                ShareAction::Pause => self.pause(&hash).await.map(|_| ()),
                ShareAction::Remove => self.delete(&hash, false).await,
                ShareAction::RemoveWithData => self.delete(&hash, true).await,
            };
            match r {
                Ok(()) => {
                    tracing::info!(%hash, %name, action = action.as_str(), "share limit: {reason}");
                    self.emit(super::EngineEvent::ShareLimit {
                        profile,
                        hash,
                        name,
                        action,
                        reason,
                    });
                }
                Err(e) => {
                    tracing::warn!(%hash, action = action.as_str(), "share limit action failed: {e}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(r: Option<f64>, m: Option<i64>, a: Option<ShareAction>) -> ShareLimits {
        ShareLimits {
            ratio_limit: r,
            seed_time_limit: m,
            share_action: a,
        }
    }

    #[test]
    fn levels_inherit_and_minus_one_is_none() {
        let global = l(Some(2.0), Some(60), Some(ShareAction::Remove));
        let profile = l(Some(-1.0), None, None);
        let torrent = l(None, Some(5), None);
        let e = effective([&torrent, &profile, &global]);
        assert_eq!(
            e,
            Effective {
                ratio: None,
                minutes: Some(5),
                action: ShareAction::Remove
            }
        );
        assert!(e.reached(100.0, 4).is_none());
        assert!(e.reached(0.0, 5).is_some());
        let d = ShareLimits::default();
        let none = effective([&d, &d, &d]);
        assert_eq!(none.action, ShareAction::Pause);
        assert!(none.reached(1e9, i64::MAX).is_none());
    }

    #[test]
    fn changes_are_checked() {
        let mut to = ShareLimits::default();
        let bad = |c: ShareChange| c.apply(&mut ShareLimits::default()).is_err();
        assert!(bad(ShareChange {
            ratio_limit: Some(Some(-2.0)),
            ..Default::default()
        }));
        assert!(bad(ShareChange {
            ratio_limit: Some(Some(f64::NAN)),
            ..Default::default()
        }));
        assert!(bad(ShareChange {
            seed_time_limit: Some(Some(-5)),
            ..Default::default()
        }));
        ShareChange {
            ratio_limit: Some(Some(1.5)),
            seed_time_limit: Some(Some(-1)),
            share_action: Some(Some(ShareAction::RemoveWithData)),
        }
        .apply(&mut to)
        .unwrap();
        assert_eq!(
            to,
            l(Some(1.5), Some(-1), Some(ShareAction::RemoveWithData))
        );
        ShareChange {
            ratio_limit: Some(None),
            ..Default::default()
        }
        .apply(&mut to)
        .unwrap();
        assert_eq!(to.ratio_limit, None);
    }
}

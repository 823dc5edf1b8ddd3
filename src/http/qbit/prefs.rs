//! qBittorrent's global settings: `app/preferences`, `app/setPreferences` and the
//! `transfer` scope's speed limits, mapped onto pytorrentd's settings (README "Speed limits",
//! "Share limits"). Reading is open to every caller (the *arr apps read the save path and
//! the share limits); changing needs an administrator, as `PATCH /api/settings` does.
//! Preferences pytorrentd does not have are answered with qBittorrent's defaults and ignored
//! when set (docs/qbittorrent.md).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::sync::{default_dir, transfer_info, visible_rows};
use super::{Answer, Call, forbidden, plain};
use crate::auth::Identity;
use crate::engine::share::ShareChange;
use crate::engine::speed::{LIMIT_MAX, LIMIT_MIN, Schedule, SpeedChange};
use crate::http::ApiError;
use crate::state::AppState;
use crate::store::ShareAction;

/// qBittorrent's speed limit (bytes/s; 0 or negative = none) as pytorrentd's: a limit
/// below one block per second is raised to it (qBittorrent takes any value).
pub(super) fn limit_of(v: i64) -> u64 {
    if v <= 0 {
        0
    } else {
        (v as u64).clamp(LIMIT_MIN, LIMIT_MAX)
    }
}

/// qBittorrent's `scheduler_days`: 0 every day, 1 weekdays, 2 weekends, 3..=9 Monday..Sunday.
fn days_code(days: &[u8]) -> u8 {
    match days {
        [d] => 3 + d,
        [0, 1, 2, 3, 4] => 1,
        [5, 6] => 2,
        _ => 0,
    }
}

fn days_of(code: i64) -> Option<Vec<u8>> {
    Some(match code {
        0 => (0..7).collect(),
        1 => (0..5).collect(),
        2 => vec![5, 6],
        3..=9 => vec![(code - 3) as u8],
        _ => return None,
    })
}

fn hm(s: &str) -> (u32, u32) {
    let mut it = s.split(':').map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

fn action_code(a: Option<ShareAction>) -> u8 {
    match a {
        None | Some(ShareAction::Pause) => 0,
        Some(ShareAction::Remove) => 1,
        Some(ShareAction::RemoveWithData) => 3,
    }
}

/// What the *arr apps read from `app/preferences`: the save path, the share limits, the
/// speed limits and schedule, queueing; the rest with qBittorrent's defaults.
pub(super) fn preferences(st: &AppState, id: &Identity) -> Value {
    let cfg = &st.config;
    let share = st.engine.share_settings();
    let speed = st.engine.speed_settings();
    let ratio = share.ratio_limit.filter(|r| *r >= 0.0);
    let minutes = share.seed_time_limit.filter(|m| *m >= 0);
    let (from_h, from_m) = hm(&speed.schedule.from);
    let (to_h, to_m) = hm(&speed.schedule.to);
    json!({
        "locale": "en",
        "save_path": default_dir(st, id),
        "temp_path_enabled": false,
        "temp_path": "",
        "create_subfolder_enabled": true,
        "torrent_content_layout": "Original",
        "start_paused_enabled": false,
        "auto_tmm_enabled": false,
        "max_ratio_enabled": ratio.is_some(),
        "max_ratio": ratio.unwrap_or(-1.0),
        "max_seeding_time_enabled": minutes.is_some(),
        "max_seeding_time": minutes.unwrap_or(-1),
        "max_inactive_seeding_time_enabled": false,
        "max_inactive_seeding_time": -1,
        "max_ratio_act": action_code(share.share_action),
        "queueing_enabled": true,
        "max_active_downloads": -1,
        "max_active_torrents": -1,
        "max_active_uploads": -1,
        "dht": cfg.dht_enable,
        "pex": true,
        "lsd": cfg.lsd_enable,
        "upnp": false,
        "dl_limit": speed.dl_limit,
        "up_limit": speed.ul_limit,
        "alt_dl_limit": speed.alt_dl_limit,
        "alt_up_limit": speed.alt_ul_limit,
        "scheduler_enabled": speed.schedule.enabled,
        "schedule_from_hour": from_h,
        "schedule_from_min": from_m,
        "schedule_to_hour": to_h,
        "schedule_to_min": to_m,
        "scheduler_days": days_code(&speed.schedule.days),
        "web_ui_username": id.username,
        "bypass_local_auth": false,
        "bypass_auth_subnet_whitelist_enabled": false,
    })
}

fn bad(msg: &str) -> ApiError {
    plain(StatusCode::BAD_REQUEST, msg)
}

fn int(m: &Map<String, Value>, k: &str) -> Result<Option<i64>, ApiError> {
    match m.get(k) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| bad(&format!("{k} must be a number"))),
    }
}

fn flag(m: &Map<String, Value>, k: &str) -> Result<Option<bool>, ApiError> {
    match m.get(k) {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| bad(&format!("{k} must be true or false"))),
    }
}

/// `app/setPreferences` (`json` = an object of the preferences to change): the speed
/// limits, the schedule and the share limits; other keys are ignored.
pub(super) fn set_preferences(
    st: &AppState,
    id: &Identity,
    call: &Call,
) -> Result<Answer, ApiError> {
    id.require_admin().map_err(|_| forbidden())?;
    let m: Map<String, Value> =
        serde_json::from_str(call.need("json")?).map_err(|_| bad("json must be a JSON object"))?;
    let mut speed = SpeedChange {
        dl_limit: int(&m, "dl_limit")?.map(limit_of),
        ul_limit: int(&m, "up_limit")?.map(limit_of),
        alt_dl_limit: int(&m, "alt_dl_limit")?.map(limit_of),
        alt_ul_limit: int(&m, "alt_up_limit")?.map(limit_of),
        ..Default::default()
    };
    let keys = [
        "scheduler_enabled",
        "schedule_from_hour",
        "schedule_from_min",
        "schedule_to_hour",
        "schedule_to_min",
        "scheduler_days",
    ];
    if keys.iter().any(|k| m.contains_key(*k)) {
        let now = st.engine.speed_settings().schedule;
        let (fh, fm) = hm(&now.from);
        let (th, tm) = hm(&now.to);
        let t = |h: Option<i64>, d: u32| h.map_or(d as i64, |v| v);
        let days = match int(&m, "scheduler_days")? {
            Some(c) => days_of(c).ok_or_else(|| bad("scheduler_days must be 0 to 9"))?,
            None => now.days.clone(),
        };
        speed.schedule = Some(Schedule {
            enabled: flag(&m, "scheduler_enabled")?.unwrap_or(now.enabled),
            days,
            from: format!(
                "{:02}:{:02}",
                t(int(&m, "schedule_from_hour")?, fh),
                t(int(&m, "schedule_from_min")?, fm)
            ),
            to: format!(
                "{:02}:{:02}",
                t(int(&m, "schedule_to_hour")?, th),
                t(int(&m, "schedule_to_min")?, tm)
            ),
        });
    }
    let mut share = ShareChange::default();
    if flag(&m, "max_ratio_enabled")? == Some(false) {
        share.ratio_limit = Some(None);
    } else if let Some(v) = m.get("max_ratio") {
        let r = v
            .as_f64()
            .ok_or_else(|| bad("max_ratio must be a number"))?;
        share.ratio_limit = Some((r >= 0.0).then_some(r));
    }
    match flag(&m, "max_seeding_time_enabled")? {
        Some(false) => share.seed_time_limit = Some(None),
        _ => {
            if let Some(t) = int(&m, "max_seeding_time")? {
                share.seed_time_limit = Some((t >= 0).then_some(t));
            }
        }
    }
    if let Some(a) = int(&m, "max_ratio_act")? {
        share.share_action = Some(Some(match a {
            0 => ShareAction::Pause,
            1 => ShareAction::Remove,
            3 => ShareAction::RemoveWithData,
            _ => {
                return Err(bad(
                    "max_ratio_act must be 0 (pause), 1 (remove) or 3 (remove with files)",
                ));
            }
        }));
    }
    // Both checked before either is stored: a bad value changes nothing.
    share
        .apply(&mut st.engine.share_settings())
        .and_then(|()| speed.apply(&mut st.engine.speed_settings()))?;
    if !share.is_empty() {
        st.engine.set_share_settings(&share)?;
    }
    if !speed.is_empty() {
        st.engine.set_speed_settings(&speed)?;
    }
    Ok(Answer::Empty)
}

/// The `transfer` scope: totals, and the global limits of the mode in force (normal or
/// alternative), as qBittorrent reads and sets them.
pub(super) fn transfer(
    st: &AppState,
    id: &Identity,
    action: &str,
    call: &Call,
) -> Result<Answer, ApiError> {
    let e = &st.engine;
    let alt = e.global_limits().alt_enabled;
    let admin = || id.require_admin().map_err(|_| forbidden());
    let limit = || -> Result<u64, ApiError> {
        call.need("limit")?
            .trim()
            .parse::<i64>()
            .map(limit_of)
            .map_err(|_| bad("limit must be an integer"))
    };
    let set = |c: SpeedChange| -> Result<Answer, ApiError> {
        e.set_speed_settings(&c)?;
        Ok(Answer::Empty)
    };
    match action {
        "info" => Ok(Answer::Json(Value::Object(transfer_info(
            st,
            &visible_rows(st, id),
        )))),
        "speedLimitsMode" => Ok(Answer::Text(if alt { "1" } else { "0" })),
        "downloadLimit" => Ok(Answer::Owned(e.global_limits().dl_limit.to_string())),
        "uploadLimit" => Ok(Answer::Owned(e.global_limits().ul_limit.to_string())),
        "toggleSpeedLimitsMode" => {
            admin()?;
            set(SpeedChange {
                alt_enabled: Some(!alt),
                ..Default::default()
            })
        }
        "setSpeedLimitsMode" => {
            admin()?;
            let on = match call.need("mode")?.trim() {
                "0" => false,
                "1" => true,
                _ => return Err(bad("mode must be 0 or 1")),
            };
            set(SpeedChange {
                alt_enabled: Some(on),
                ..Default::default()
            })
        }
        "setDownloadLimit" | "setUploadLimit" => {
            admin()?;
            let v = Some(limit()?);
            let mut c = SpeedChange::default();
            match (action == "setDownloadLimit", alt) {
                (true, false) => c.dl_limit = v,
                (true, true) => c.alt_dl_limit = v,
                (false, false) => c.ul_limit = v,
                (false, true) => c.alt_ul_limit = v,
            }
            set(c)
        }
        _ => Err(plain(StatusCode::NOT_FOUND, "Not Found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_through_qbittorrent_codes() {
        for code in 0..=9 {
            let days = days_of(code).unwrap();
            assert_eq!(days_code(&days) as i64, code, "{days:?}");
        }
        assert!(days_of(10).is_none());
        assert_eq!(limit_of(-1), 0);
        assert_eq!(limit_of(1), LIMIT_MIN);
        assert_eq!(limit_of(i64::MAX), LIMIT_MAX);
    }
}

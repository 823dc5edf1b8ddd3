//! pytorrentd's rows in qBittorrent's shapes: the fields of `torrents/info`, `properties`,
//! `files`, `trackers` and `categories`, with qBittorrent's names, units and sentinels
//! (`eta` 8640000 for "never", `ratio_limit` -2 for "the global one", state names such as
//! `stalledUP`). What pytorrentd does not track is answered with the value qBittorrent
//! gives when the feature is off (docs/qbittorrent.md).

use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::engine::{FileRow, TorrentDetails, TorrentRow, TorrentState, TrackerRow};
use crate::store::ProfileRecord;

/// qBittorrent's "infinite" ETA (100 days).
pub const ETA_NEVER: u64 = 8_640_000;

fn complete(r: &TorrentRow) -> bool {
    r.completed_at.is_some() || (r.size > 0 && r.progress >= 1.0)
}

/// qBittorrent's state name for a row.
pub fn state(r: &TorrentRow) -> &'static str {
    let up = complete(r);
    let has_meta = r.size > 0;
    match r.state {
        TorrentState::Paused if up => "pausedUP",
        TorrentState::Paused => "pausedDL",
        TorrentState::Error => "error",
        TorrentState::Checking if up => "checkingUP",
        TorrentState::Checking => "checkingDL",
        TorrentState::Initializing if !has_meta => {
            if r.force_start {
                "forcedMetaDL"
            } else {
                "metaDL"
            }
        }
        TorrentState::Initializing => "checkingResumeData",
        TorrentState::Queued if up => "queuedUP",
        TorrentState::Queued => "queuedDL",
        TorrentState::Downloading if !has_meta => "metaDL",
        TorrentState::Downloading if r.force_start => "forcedDL",
        TorrentState::Downloading if r.dl_speed > 0 => "downloading",
        TorrentState::Downloading => "stalledDL",
        TorrentState::Seeding if r.force_start => "forcedUP",
        TorrentState::Seeding if r.ul_speed > 0 => "uploading",
        TorrentState::Seeding => "stalledUP",
    }
}

/// A folder as qBittorrent 4.4+ writes save paths: without a trailing separator (older
/// versions added one; the reference run against qbittorrent-nox 4.5 shows none).
pub fn dir(p: &str) -> String {
    match p.trim_end_matches('/') {
        "" => "/".to_owned(),
        t => t.to_owned(),
    }
}

fn secs(t: chrono::DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// A magnet link for the row (hash, name, and its trackers' hosts are not URLs, so none).
fn magnet(r: &TorrentRow) -> String {
    let dn: String = url::form_urlencoded::byte_serialize(r.name.as_bytes()).collect();
    format!("magnet:?xt=urn:btih:{}&dn={dn}", r.hash)
}

/// One torrent of `torrents/info` and `sync/maindata`.
pub fn torrent(r: &TorrentRow) -> Map<String, Value> {
    let now = Utc::now();
    let left = if r.size == 0 {
        0
    } else {
        ((1.0 - r.progress.clamp(0.0, 1.0)) * r.size as f64).round() as u64
    };
    let active = r.dl_speed > 0 || r.ul_speed > 0;
    // qBittorrent keeps a torrent's tags sorted.
    let mut tags = r.labels.clone();
    tags.sort();
    // pytorrentd does not count active time; these clocks run only while the torrent runs,
    // so a stopped torrent's fields stay still (and `sync/maindata` does not resend it every
    // second).
    let running = r.state != TorrentState::Paused;
    let seeding_time = r
        .completed_at
        .filter(|_| running)
        .map_or(0, |c| (now - c).num_seconds().max(0));
    let time_active = if running {
        (now - r.added_at).num_seconds().max(0)
    } else {
        0
    };
    let v = json!({
        "hash": r.hash,
        "infohash_v1": r.hash,
        "infohash_v2": "",
        "name": r.name,
        "magnet_uri": magnet(r),
        "size": r.size,
        "total_size": r.size,
        "progress": r.progress,
        "dlspeed": r.dl_speed,
        "upspeed": r.ul_speed,
        // qBittorrent numbers the download queue from 1; finished torrents are at 0.
        "priority": if complete(r) { 0 } else { r.queue_position },
        "num_seeds": r.seeds,
        "num_complete": r.seeds,
        "num_leechs": r.peers.saturating_sub(r.seeds),
        "num_incomplete": r.peers.saturating_sub(r.seeds),
        "ratio": r.ratio,
        "eta": r.eta.unwrap_or(ETA_NEVER),
        "state": state(r),
        "seq_dl": false,
        "f_l_piece_prio": false,
        "category": r.profile,
        "tags": tags.join(", "),
        "super_seeding": false,
        "force_start": r.force_start,
        "save_path": dir(&r.save_dir),
        "download_path": "",
        "content_path": format!("{}/{}", r.save_dir.trim_end_matches('/'), r.name),
        "added_on": secs(r.added_at),
        "completion_on": r.completed_at.map_or(-1, secs),
        "tracker": "",
        "trackers_count": r.trackers.len(),
        "dl_limit": r.dl_limit,
        "up_limit": r.ul_limit,
        "downloaded": r.downloaded,
        "uploaded": r.uploaded,
        "downloaded_session": r.downloaded,
        "uploaded_session": r.uploaded_session,
        "amount_left": left,
        "completed": r.size.saturating_sub(left),
        "max_ratio": -1,
        "max_seeding_time": -1,
        "max_inactive_seeding_time": -1,
        // The torrent's own limits; -2 = inherited (qBittorrent's "global").
        "ratio_limit": r.share.ratio_limit.map_or(json!(-2), |v| json!(v)),
        "seeding_time_limit": r.share.seed_time_limit.unwrap_or(-2),
        "inactive_seeding_time_limit": -2,
        "seen_complete": r.completed_at.map_or(-1, secs),
        "auto_tmm": false,
        "time_active": time_active,
        "seeding_time": seeding_time,
        "last_activity": if active { now.timestamp() } else { secs(r.added_at) },
        "availability": r.availability.unwrap_or(-1.0),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `torrents/properties`.
pub fn properties(d: &TorrentDetails) -> Value {
    let r = &d.row;
    let now = Utc::now();
    let elapsed = (now - r.added_at).num_seconds().max(1);
    let piece = d.piece_length.unwrap_or(0) as u64;
    let pieces = if piece == 0 {
        0
    } else {
        r.size.div_ceil(piece)
    };
    let have = if piece == 0 || r.size == 0 {
        0
    } else if complete(r) {
        pieces
    } else {
        ((r.progress.clamp(0.0, 1.0) * r.size as f64) as u64) / piece
    };
    let has_meta = r.size > 0;
    json!({
        "hash": r.hash,
        "infohash_v1": r.hash,
        "infohash_v2": "",
        "name": r.name,
        "save_path": dir(&r.save_dir),
        "download_path": "",
        "comment": "",
        "created_by": "",
        "creation_date": -1,
        "addition_date": secs(r.added_at),
        "completion_date": r.completed_at.map_or(-1, secs),
        "last_seen": if has_meta { r.completed_at.map_or(-1, secs) } else { -1 },
        "time_elapsed": elapsed,
        "seeding_time": r.completed_at.map_or(0, |c| (now - c).num_seconds().max(0)),
        "eta": r.eta.unwrap_or(ETA_NEVER),
        "nb_connections": r.peers,
        "nb_connections_limit": -1,
        "total_downloaded": r.downloaded,
        "total_downloaded_session": r.downloaded,
        "total_uploaded": r.uploaded,
        "total_uploaded_session": r.uploaded_session,
        "total_wasted": 0,
        "dl_speed": r.dl_speed,
        "dl_speed_avg": r.downloaded / elapsed as u64,
        "up_speed": r.ul_speed,
        "up_speed_avg": r.uploaded / elapsed as u64,
        // qBittorrent's properties say -1 for "no limit of its own".
        "dl_limit": if r.dl_limit == 0 { -1 } else { r.dl_limit as i64 },
        "up_limit": if r.ul_limit == 0 { -1 } else { r.ul_limit as i64 },
        "seeds": r.seeds,
        "seeds_total": r.seeds,
        "peers": r.peers.saturating_sub(r.seeds),
        "peers_total": r.peers.saturating_sub(r.seeds),
        "share_ratio": r.ratio,
        "reannounce": 0,
        "total_size": r.size,
        "pieces_num": pieces,
        "piece_size": piece,
        "pieces_have": have,
        "isPrivate": false,
    })
}

/// `torrents/files`: qBittorrent's priorities are 0 (skip) and 1 (normal) here.
pub fn files(rows: &[FileRow], piece_length: u64, complete: bool) -> Value {
    let mut offset = 0u64;
    let out: Vec<Value> = rows
        .iter()
        .map(|f| {
            let first = offset.checked_div(piece_length).unwrap_or(0);
            let end = (offset + f.size).saturating_sub(1);
            let last = end.checked_div(piece_length).unwrap_or(0);
            offset += f.size;
            let mut v = json!({
                "index": f.index,
                "name": f.path,
                "size": f.size,
                "progress": f.progress,
                "priority": if f.wanted { 1 } else { 0 },
                "piece_range": [first, last.max(first)],
                "availability": if f.progress >= 1.0 { 1.0 } else { -1.0 },
            });
            if f.index == 0 {
                v["is_seed"] = json!(complete);
            }
            v
        })
        .collect();
    Value::Array(out)
}

/// `torrents/trackers`: the three sticky rows qBittorrent always lists (DHT, PeX, LSD;
/// status 0 = disabled, as they are here unless configured), then the trackers with
/// qBittorrent's status codes (1 not contacted, 2 working, 3 updating, 4 not working) and
/// -1 for unknown counts.
pub fn trackers(rows: &[TrackerRow], dht: bool) -> Value {
    use crate::engine::TrackerStatus as T;
    let sticky = |url: &str, on: bool| {
        json!({"url": url, "status": if on { 2 } else { 0 }, "tier": "", "num_peers": 0,
               "num_seeds": 0, "num_leeches": 0, "num_downloaded": 0, "msg": ""})
    };
    let mut out = vec![
        sticky("** [DHT] **", dht),
        sticky("** [PeX] **", true),
        sticky("** [LSD] **", false),
    ];
    let n = |v: Option<u64>| v.map_or(-1, |v| v as i64);
    for t in rows {
        out.push(json!({
            "url": t.url,
            "status": match t.status {
                T::NotContacted => 1,
                T::Working => 2,
                T::Updating => 3,
                T::Error => 4,
            },
            "tier": t.tier,
            "num_peers": n(t.peers),
            "num_seeds": n(t.seeds),
            "num_leeches": n(t.peers),
            "num_downloaded": n(t.downloads),
            "msg": t.last_error.clone().or_else(|| t.message.clone()).unwrap_or_default(),
        }));
    }
    Value::Array(out)
}

/// One category (a profile) as `torrents/categories` lists it.
pub fn category(p: &ProfileRecord) -> Value {
    json!({
        "name": p.id,
        "savePath": p.download_dir.to_string_lossy(),
        "download_path": Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: TorrentState, progress: f64) -> TorrentRow {
        TorrentRow {
            hash: "a".repeat(40),
            name: "n".into(),
            profile: "default".into(),
            state,
            progress,
            size: 100,
            downloaded: 0,
            uploaded: 0,
            dl_speed: 0,
            ul_speed: 0,
            eta: None,
            peers: 0,
            seeds: 0,
            ratio: 0.0,
            queue_position: 1,
            label: None,
            labels: vec![],
            added_at: Utc::now(),
            completed_at: None,
            error: None,
            paused: false,
            force_start: false,
            check_progress: None,
            trackers: vec![],
            save_dir: "/d".into(),
            uploaded_session: 0,
            reason: None,
            availability: None,
            share: Default::default(),
            dl_limit: 0,
            ul_limit: 0,
        }
    }

    #[test]
    fn states_follow_qbittorrent_names() {
        assert_eq!(state(&row(TorrentState::Paused, 0.5)), "pausedDL");
        assert_eq!(state(&row(TorrentState::Paused, 1.0)), "pausedUP");
        assert_eq!(state(&row(TorrentState::Seeding, 1.0)), "stalledUP");
        let mut up = row(TorrentState::Seeding, 1.0);
        up.ul_speed = 5;
        assert_eq!(state(&up), "uploading");
        assert_eq!(state(&row(TorrentState::Queued, 0.0)), "queuedDL");
        assert_eq!(state(&row(TorrentState::Checking, 1.0)), "checkingUP");
        let mut meta = row(TorrentState::Initializing, 0.0);
        meta.size = 0;
        assert_eq!(state(&meta), "metaDL");
        assert_eq!(state(&row(TorrentState::Downloading, 0.2)), "stalledDL");
    }

    #[test]
    fn info_uses_qbittorrent_sentinels() {
        let t = torrent(&row(TorrentState::Downloading, 0.25));
        assert_eq!(t["eta"], json!(ETA_NEVER));
        assert_eq!(t["ratio_limit"], json!(-2));
        assert_eq!(t["save_path"], json!("/d"));
        assert_eq!(t["amount_left"], json!(75));
        assert_eq!(t["completion_on"], json!(-1));
    }
}

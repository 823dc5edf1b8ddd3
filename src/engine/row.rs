//! Read models: the JSON rows the API and the feed serve, derived from an engine entry.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use librqbit::TorrentStatsState as S;
use serde::Serialize;

use super::Entry;
use super::faults::FaultKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TorrentState {
    Initializing,
    Checking,
    Downloading,
    Queued,
    Seeding,
    Paused,
    Error,
}

impl TorrentState {
    pub const ALL: [TorrentState; 7] = [
        TorrentState::Initializing,
        TorrentState::Checking,
        TorrentState::Downloading,
        TorrentState::Queued,
        TorrentState::Seeding,
        TorrentState::Paused,
        TorrentState::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TorrentState::Initializing => "initializing",
            TorrentState::Checking => "checking",
            TorrentState::Downloading => "downloading",
            TorrentState::Queued => "queued",
            TorrentState::Seeding => "seeding",
            TorrentState::Paused => "paused",
            TorrentState::Error => "error",
        }
    }
}

/// Why a torrent waits, besides its state: what it waits for is back, it continues by
/// itself (`resume` retries at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TorrentReason {
    /// Writing its data failed because the disk is full (state `error`).
    DiskSpace,
    /// The process is short of file descriptors (state `queued` or `error`).
    FdLimit,
}

/// One torrent as listed: a row of the torrent list, of the details and of the feed.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TorrentRow {
    pub hash: String,
    pub name: String,
    pub profile: String,
    pub state: TorrentState,
    /// Fraction 0.0–1.0 of the wanted bytes (of checked bytes while checking).
    pub progress: f64,
    pub size: u64,
    pub downloaded: u64,
    pub uploaded: u64,
    pub dl_speed: u64,
    pub ul_speed: u64,
    /// Seconds until done, when downloading and known.
    pub eta: Option<u64>,
    pub peers: u32,
    pub seeds: u32,
    pub ratio: f64,
    pub queue_position: u64,
    /// The first of `labels` (for clients that know one label per torrent).
    pub label: Option<String>,
    /// The torrent's labels, in the order given.
    pub labels: Vec<String>,
    pub added_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Paused by a user (the queue never resumes it).
    pub paused: bool,
    pub force_start: bool,
    /// While `checking`: the fraction of data verified so far.
    pub check_progress: Option<f64>,
    /// Host names of the torrent's trackers (of the magnet's `tr=` while its metadata is
    /// still being fetched).
    pub trackers: Vec<String>,
    /// The folder the torrent's files (or its top folder) are in.
    pub save_dir: String,
    /// Uploaded since the daemon started (`uploaded` counts all runs).
    pub uploaded_session: u64,
    /// What the torrent waits for, when it waits for a resource (see `TorrentReason`).
    pub reason: Option<TorrentReason>,
    /// Distributed copies among the connected peers (qBittorrent's "availability"): complete
    /// copies plus the fraction of pieces above the rarest; absent when not running.
    pub availability: Option<f64>,
    /// The torrent's own share limits (null fields inherit its profile's, then the global
    /// ones; -1 is none).
    pub share: crate::store::ShareLimits,
    /// The torrent's own speed limits, bytes/s (0 = none of its own; its profile's and the
    /// global limits apply as well).
    pub dl_limit: u64,
    pub ul_limit: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TorrentDetails {
    #[serde(flatten)]
    pub row: TorrentRow,
    pub save_dir: String,
    pub magnet: Option<String>,
    pub source_url: Option<String>,
    pub piece_length: Option<u32>,
    pub files_count: Option<usize>,
    pub only_files: Option<Vec<usize>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileRow {
    pub index: usize,
    pub path: String,
    pub size: u64,
    pub downloaded: u64,
    pub progress: f64,
    pub wanted: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeerRow {
    pub addr: String,
    pub client: Option<String>,
    pub state: String,
    pub downloaded: u64,
    pub uploaded: u64,
    pub connection: Option<String>,
    /// The peer connected to us (rather than we to it).
    pub incoming: bool,
    /// Fraction 0.0–1.0 of the torrent's pieces the peer has (absent before it is connected).
    pub progress: Option<f64>,
    /// The peer wants pieces we have.
    pub interested: bool,
}

pub(crate) fn speeds(e: &Entry) -> (u64, u64) {
    if e.handle.as_ref().is_some_and(|h| h.live().is_some()) {
        e.rate.speeds()
    } else {
        (0, 0)
    }
}

/// Tracker hosts, for grouping in the UI: a .torrent's own, worked out once per torrent,
/// else those of the list a user set (or of the magnet's `tr=`).
fn tracker_hosts(e: &Entry) -> Cow<'_, [String]> {
    fn hosts_of(urls: &[String]) -> Vec<String> {
        let mut hosts: Vec<String> = urls
            .iter()
            .filter_map(|u| super::trackers::host_of(u))
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }
    match (&e.rec.trackers, &e.meta) {
        (None, Some(m)) => Cow::Borrowed(m.hosts.get_or_init(|| hosts_of(&m.trackers))),
        _ => Cow::Owned(hosts_of(&super::trackers::tracker_list(e))),
    }
}

/// A time as serde serializes `DateTime<Utc>` (RFC 3339, as many decimals as needed, `Z`),
/// without its character-by-character pass through the JSON string escaper: the string has
/// nothing to escape.
fn write_time(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    out.push(b'"');
    out.extend_from_slice(
        t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            .as_bytes(),
    );
    out.push(b'"');
}

/// The part of a row computed from the entry's state and the engine's stats; the rest is the
/// stored record as it is. Strings are borrowed, so the list can write 10,000 rows as JSON
/// without copying them into `TorrentRow`s first (`write_json`).
#[derive(Clone)]
pub(crate) struct Status<'a> {
    name: &'a str,
    state: TorrentState,
    progress: f64,
    size: u64,
    downloaded: u64,
    uploaded: u64,
    uploaded_session: u64,
    dl_speed: u64,
    ul_speed: u64,
    eta: Option<u64>,
    peers: u32,
    seeds: u32,
    ratio: f64,
    error: Option<Cow<'a, str>>,
    check_progress: Option<f64>,
    reason: Option<TorrentReason>,
    availability: Option<f64>,
}

pub(crate) fn status(e: &Entry) -> Status<'_> {
    let rec = &e.rec;
    let name = rec
        .title
        .as_deref()
        .or_else(|| e.meta.as_ref().map(|m| m.name.as_str()))
        .or(rec.name.as_deref())
        .unwrap_or(&rec.hash);
    let mut r = Status {
        name,
        state: TorrentState::Initializing,
        progress: 0.0,
        size: e.meta.as_ref().map(|m| m.total).unwrap_or(0),
        downloaded: 0,
        uploaded: rec.uploaded_before + e.uploaded_base,
        uploaded_session: e.uploaded_base,
        dl_speed: 0,
        ul_speed: 0,
        eta: None,
        peers: 0,
        seeds: 0,
        ratio: 0.0,
        error: None,
        check_progress: None,
        reason: e.fault.as_ref().and_then(|f| match f.kind {
            FaultKind::DiskSpace => Some(TorrentReason::DiskSpace),
            FaultKind::FileLimit => Some(TorrentReason::FdLimit),
            FaultKind::Other => None,
        }),
        availability: None,
    };
    let saved_progress = |r: &mut Status| {
        if let Some(p) = &e.progress {
            r.size = p.total;
            r.downloaded = p.have;
            r.progress = if p.total == 0 {
                0.0
            } else {
                (p.have as f64 / p.total as f64).min(1.0)
            };
        }
    };
    match &e.handle {
        None => {
            // Out of the engine: paused by its user, waiting for descriptors, failed to
            // start, or a magnet still resolving.
            saved_progress(&mut r);
            if let Some(f) = &e.fault {
                r.state = if rec.paused {
                    TorrentState::Paused
                } else {
                    TorrentState::Queued
                };
                r.error = Some(Cow::Borrowed(&f.message));
            } else {
                if e.error.is_some() && (rec.has_metadata || e.metadata_invalid) {
                    r.state = TorrentState::Error;
                } else if rec.paused {
                    r.state = TorrentState::Paused;
                }
                r.error = e.error.as_deref().map(Cow::Borrowed);
            }
        }
        Some(h) => {
            let s = h.stats();
            r.size = s.total_bytes;
            r.downloaded = s.progress_bytes;
            r.uploaded += s.uploaded_bytes;
            r.uploaded_session += s.uploaded_bytes;
            r.progress = if s.total_bytes == 0 {
                0.0
            } else {
                (s.progress_bytes as f64 / s.total_bytes as f64).min(1.0)
            };
            if matches!(s.state, S::Initializing { .. }) {
                // Checked bytes are not downloaded bytes: report them apart so a fresh torrent
                // does not flash 100 %.
                r.check_progress = Some(r.progress);
                r.progress = 0.0;
                r.downloaded = 0;
            }
            r.state = match s.state {
                S::Initializing { .. } => TorrentState::Checking,
                S::Error => TorrentState::Error,
                S::Paused if rec.paused => TorrentState::Paused,
                S::Paused if s.finished => TorrentState::Seeding,
                S::Paused => TorrentState::Queued,
                S::Live if s.finished => TorrentState::Seeding,
                S::Live => TorrentState::Downloading,
            };
            r.error = match (&e.fault, &s.error) {
                (Some(f), Some(_)) => Some(Cow::Borrowed(&f.message)),
                // One line in the row; the whole engine error is in the log.
                (None, Some(err)) => Some(Cow::Owned(super::faults::one_line(err))),
                _ => None,
            };
            if matches!(s.state, S::Error) {
                // The engine reports nothing for a failed torrent: show what was verified.
                saved_progress(&mut r);
            } else if r.reason == Some(TorrentReason::FdLimit) {
                r.reason = None;
            }
            if r.error.is_none() {
                r.error = e.move_error.as_deref().map(Cow::Borrowed);
            }
            if e.space_hold && !rec.paused {
                r.reason = Some(TorrentReason::DiskSpace);
            }
            if let Some(live) = &s.live {
                r.peers = live.snapshot.peer_stats.live;
                r.seeds = live.snapshot.peer_stats.live_seeders;
                // Counting pieces over every peer's bitfield is only worth it with peers.
                r.availability = Some(match h.live() {
                    Some(l) if r.peers > 0 => round3(l.distributed_copies()),
                    _ => 0.0,
                });
            }
            let (dl, ul) = speeds(e);
            // The speed window still remembers the last seconds of downloading: a finished
            // torrent downloads nothing.
            let dl = if s.finished { 0 } else { dl };
            r.dl_speed = dl;
            r.ul_speed = ul;
            if !s.finished && dl > 0 {
                r.eta = Some(s.total_bytes.saturating_sub(s.progress_bytes) / dl);
            }
        }
    }
    if r.size > 0 {
        r.ratio = r.uploaded as f64 / r.size as f64;
    }
    r
}

pub(crate) fn row(e: &Entry) -> TorrentRow {
    row_of(e, status(e))
}

/// The row of `e` with `s`, its status.
pub(crate) fn row_of(e: &Entry, s: Status<'_>) -> TorrentRow {
    let rec = &e.rec;
    TorrentRow {
        hash: rec.hash.clone(),
        name: s.name.to_owned(),
        profile: rec.profile.clone(),
        state: s.state,
        progress: s.progress,
        size: s.size,
        downloaded: s.downloaded,
        uploaded: s.uploaded,
        dl_speed: s.dl_speed,
        ul_speed: s.ul_speed,
        eta: s.eta,
        peers: s.peers,
        seeds: s.seeds,
        ratio: s.ratio,
        queue_position: rec.queue_position,
        label: rec.labels.first().cloned(),
        labels: rec.labels.clone(),
        added_at: rec.added_at,
        completed_at: rec.completed_at,
        error: s.error.map(Cow::into_owned),
        paused: rec.paused,
        force_start: rec.force_start,
        check_progress: s.check_progress,
        trackers: tracker_hosts(e).into_owned(),
        save_dir: rec.save_dir.to_string_lossy().into_owned(),
        uploaded_session: s.uploaded_session,
        reason: s.reason,
        availability: s.availability,
        share: rec.share.clone(),
        dl_limit: rec.dl_limit,
        ul_limit: rec.ul_limit,
    }
}

/// Appends `row(e)` as JSON to `out`, the same bytes as serializing the `TorrentRow` but
/// without building it: no string is copied and every key is written as it is (serde_json
/// checks each key for characters to escape). The torrent list of 10,000 rows spends most of
/// its time here (BENCHMARKS.md, "List latency"). The field order is `TorrentRow`'s; debug
/// builds compare every row written with the serialized `TorrentRow` of the same status
/// (`Engine::list_json`), so each integration test checks the two agree.
pub(crate) fn write_json(e: &Entry, s: &Status<'_>, out: &mut Vec<u8>) -> serde_json::Result<()> {
    fn field<T: Serialize + ?Sized>(out: &mut Vec<u8>, key: &str, v: &T) -> serde_json::Result<()> {
        out.extend_from_slice(key.as_bytes());
        serde_json::to_writer(&mut *out, v)
    }
    let rec = &e.rec;
    field(out, "{\"hash\":", &rec.hash)?;
    field(out, ",\"name\":", s.name)?;
    field(out, ",\"profile\":", &rec.profile)?;
    field(out, ",\"state\":", &s.state)?;
    field(out, ",\"progress\":", &s.progress)?;
    field(out, ",\"size\":", &s.size)?;
    field(out, ",\"downloaded\":", &s.downloaded)?;
    field(out, ",\"uploaded\":", &s.uploaded)?;
    field(out, ",\"dl_speed\":", &s.dl_speed)?;
    field(out, ",\"ul_speed\":", &s.ul_speed)?;
    field(out, ",\"eta\":", &s.eta)?;
    field(out, ",\"peers\":", &s.peers)?;
    field(out, ",\"seeds\":", &s.seeds)?;
    field(out, ",\"ratio\":", &s.ratio)?;
    field(out, ",\"queue_position\":", &rec.queue_position)?;
    field(out, ",\"label\":", &rec.labels.first())?;
    field(out, ",\"labels\":", &rec.labels)?;
    out.extend_from_slice(b",\"added_at\":");
    write_time(out, &rec.added_at);
    out.extend_from_slice(b",\"completed_at\":");
    match &rec.completed_at {
        Some(t) => write_time(out, t),
        None => out.extend_from_slice(b"null"),
    }
    field(out, ",\"error\":", &s.error)?;
    field(out, ",\"paused\":", &rec.paused)?;
    field(out, ",\"force_start\":", &rec.force_start)?;
    field(out, ",\"check_progress\":", &s.check_progress)?;
    field(out, ",\"trackers\":", &tracker_hosts(e))?;
    field(out, ",\"save_dir\":", &rec.save_dir.to_string_lossy())?;
    field(out, ",\"uploaded_session\":", &s.uploaded_session)?;
    field(out, ",\"reason\":", &s.reason)?;
    field(out, ",\"availability\":", &s.availability)?;
    field(out, ",\"share\":", &rec.share)?;
    field(out, ",\"dl_limit\":", &rec.dl_limit)?;
    field(out, ",\"ul_limit\":", &rec.ul_limit)?;
    out.push(b'}');
    Ok(())
}

/// Three decimals are all a person reads, and the feed then sends no change for noise.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn details(e: &Entry) -> TorrentDetails {
    TorrentDetails {
        row: row(e),
        save_dir: e.rec.save_dir.to_string_lossy().into_owned(),
        magnet: e.rec.magnet.clone(),
        source_url: e.rec.source_url.clone(),
        piece_length: e.meta.as_ref().map(|m| m.piece_length),
        files_count: e.meta.as_ref().map(|m| m.files.len()),
        only_files: e.rec.only_files.clone(),
    }
}

/// Verified bytes per file: the engine's, or what it last said (paused torrents).
pub(crate) fn file_progress(e: &Entry) -> Vec<u64> {
    e.handle
        .as_ref()
        .map(|h| h.stats().file_progress)
        .filter(|p| !p.is_empty())
        .or_else(|| e.progress.as_ref().map(|p| p.files.clone()))
        .unwrap_or_default()
}

pub(crate) fn files(e: &Entry) -> Vec<FileRow> {
    let Some(meta) = &e.meta else {
        return Vec::new();
    };
    let progress = file_progress(e);
    meta.files
        .iter()
        .enumerate()
        .map(|(i, (path, size))| {
            let downloaded = progress.get(i).copied().unwrap_or(0);
            FileRow {
                index: i,
                path: path.clone(),
                size: *size,
                downloaded,
                progress: if *size == 0 {
                    1.0
                } else {
                    (downloaded as f64 / *size as f64).min(1.0)
                },
                wanted: e.rec.only_files.as_ref().is_none_or(|o| o.contains(&i)),
            }
        })
        .collect()
}

pub(crate) fn peers(e: &Entry) -> Vec<PeerRow> {
    let Some(live) = e.handle.as_ref().and_then(|h| h.live()) else {
        return Vec::new();
    };
    let snap = live.per_peer_stats_snapshot(Default::default());
    let pieces = e
        .handle
        .as_ref()
        .and_then(|h| h.with_metadata(|m| m.lengths().total_pieces()).ok())
        .unwrap_or(0);
    let mut v: Vec<PeerRow> = snap
        .peers
        .into_iter()
        .map(|(addr, p)| PeerRow {
            addr,
            client: p.client_name,
            state: p.state.to_owned(),
            downloaded: p.counters.fetched_bytes,
            uploaded: p.counters.uploaded_bytes,
            connection: p.conn_kind.map(|k| format!("{k:?}").to_lowercase()),
            incoming: p.counters.incoming_connections > 0 && p.counters.connections == 0,
            progress: p
                .have_pieces
                .filter(|_| pieces > 0)
                .map(|n| round3((f64::from(n) / f64::from(pieces)).min(1.0))),
            interested: p.peer_interested.unwrap_or(false),
        })
        .collect();
    v.sort_by(|a, b| a.addr.cmp(&b.addr));
    v
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;
    use std::sync::Arc;
    use std::time::Instant;

    use chrono::TimeZone;

    use super::super::faults::{Fault, Progress};
    use super::super::{Entry, Meta};
    use super::*;
    use crate::store::{ShareAction, ShareLimits, TorrentRecord};

    fn record() -> TorrentRecord {
        let mut r =
            crate::store::test_record("0123456789abcdef0123456789abcdef01234567", "family", 7);
        r.name = Some("plain".into());
        r.save_dir = "/srv/dl".into();
        r.added_at = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
        r
    }

    fn meta(trackers: &[&str]) -> Arc<Meta> {
        Arc::new(Meta {
            name: "Ünïcode \u{1F600} name".into(),
            total: 3 << 20,
            piece_length: 1 << 18,
            files: vec![("a".into(), 3 << 20)],
            multi_file: false,
            trackers: trackers.iter().map(|t| t.to_string()).collect(),
            hosts: Default::default(),
        })
    }

    /// Entries out of the engine in the states a list shows (the live ones are compared in
    /// every integration test: debug builds check each row `Engine::list_json` writes).
    fn entries() -> Vec<Entry> {
        let mut v = vec![Entry::new(record(), None)];

        let mut rec = record();
        rec.title = Some("quote \" backslash \\ tab \t nul \u{0} line\u{2028}".into());
        rec.labels = vec!["tv".into(), "é \"x\"".into()];
        rec.paused = true;
        rec.force_start = true;
        rec.completed_at = Some(
            Utc.with_ymd_and_hms(2026, 12, 4, 11, 0, 0).unwrap()
                + chrono::Duration::milliseconds(250),
        );
        rec.share = ShareLimits {
            ratio_limit: Some(1.5),
            seed_time_limit: Some(-1),
            share_action: Some(ShareAction::RemoveWithData),
        };
        rec.dl_limit = 1 << 20;
        rec.ul_limit = 65536;
        rec.uploaded_before = 5 << 20;
        rec.save_dir = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b"/srv/\xff\xfe/dl"));
        let mut e = Entry::new(
            rec,
            Some(meta(&[
                "udp://tracker.example:6969/announce",
                "http://b.example/announce",
                "not a url",
                "http://b.example:8080/announce",
            ])),
        );
        e.progress = Some(Progress {
            have: 1 << 20,
            total: 3 << 20,
            finished: false,
            files: vec![1 << 20],
        });
        e.uploaded_base = 12345;
        v.push(e);

        // A user's tracker list, a fault with its reason.
        let mut rec = record();
        rec.trackers = Some(vec!["https://[::1]:8443/a".into()]);
        let mut e = Entry::new(rec, Some(meta(&["http://own.example/a"])));
        e.fault = Some(Fault {
            kind: FaultKind::DiskSpace,
            message: "disk full at /srv/dl".into(),
            next_try: Instant::now(),
            since: Instant::now(),
        });
        v.push(e);

        // A failed magnet with trackers in its link, and a nanosecond completion time.
        let mut rec = record();
        rec.has_metadata = false;
        rec.name = None;
        rec.magnet = Some(
            "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&tr=udp%3A%2F%2Fm.example%3A1337".into(),
        );
        rec.completed_at = Some(Utc.timestamp_nanos(1_764_000_000_123_456_789));
        let mut e = Entry::new(rec, None);
        e.metadata_invalid = true;
        e.error = Some("metadata is invalid: \u{7f} \u{1b}[31m".into());
        v.push(e);
        v
    }

    #[test]
    fn json_rows_are_the_serialized_torrent_rows() {
        for e in entries() {
            let mut out = Vec::new();
            write_json(&e, &status(&e), &mut out).unwrap();
            let expected = serde_json::to_vec(&row(&e)).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected)
            );
            assert_eq!(out, expected);
            // Twice: the second row comes from the hosts kept on the metadata.
            let mut again = Vec::new();
            write_json(&e, &status(&e), &mut again).unwrap();
            assert_eq!(again, expected);
        }
        let e = &entries()[1];
        assert_eq!(*tracker_hosts(e), ["b.example", "tracker.example"]);
    }
}

//! Talking to trackers (README "Trackers"). pytorrentd announces torrents to their trackers
//! itself instead of leaving it to librqbit: librqbit 9.1 keeps a torrent's tracker list fixed
//! from the moment it is added and reports nothing about its announces, while users edit
//! trackers of running torrents and want to see each tracker's status, counts and errors.
//! The engine therefore gets every torrent without its tracker keys (`validate::
//! split_trackers`), and this module:
//! - keeps each torrent's tracker list (its own, or the one a user set: `TorrentRecord::
//!   trackers`) and a state per tracker (status, last and next announce, seeds, peers,
//!   downloads, last error);
//! - announces running torrents (`started`, then at the tracker's interval, `completed` once,
//!   `stopped` when the torrent stops or the tracker is removed) over HTTP(S) (BEP 3/23) or
//!   UDP (BEP 15), scrapes for the download count (BEP 48/15), and hands the peers it learns
//!   to the engine;
//! - retries a failing tracker with an exponential back-off (10 s to 30 min).
//!
//! The loop runs once a second, next to the queue's scheduler; `reannounce` makes every
//! tracker of a torrent due at once.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{debug, warn};

use super::validate::{Ben, parse_value};
use super::{Engine, EngineError, Entry, Result};

/// Trackers per torrent at most.
pub const TRACKERS_MAX: usize = 100;
/// Longest tracker URL.
pub const TRACKER_URL_MAX: usize = 2048;
const TIMEOUT: Duration = Duration::from_secs(15);
const INTERVAL_MIN: Duration = Duration::from_secs(30);
const INTERVAL_MAX: Duration = Duration::from_secs(2 * 3600);
const INTERVAL_DEFAULT: Duration = Duration::from_secs(1800);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackerStatus {
    /// Not announced to since the torrent started (or it is not running).
    NotContacted,
    /// An announce is under way.
    Updating,
    /// The last announce was answered.
    Working,
    /// The last announce failed (see `last_error`); it is retried.
    Error,
}

/// What pytorrentd knows of one tracker of one torrent.
#[derive(Debug, Clone)]
pub(crate) struct TrackerState {
    status: TrackerStatus,
    last_announce: Option<DateTime<Utc>>,
    next_at: Option<Instant>,
    seeds: Option<u64>,
    peers: Option<u64>,
    downloads: Option<u64>,
    last_error: Option<String>,
    message: Option<String>,
    failures: u32,
    /// `started` was sent and `stopped` not yet.
    started: bool,
    completed_sent: bool,
    busy: bool,
}

impl Default for TrackerState {
    fn default() -> Self {
        TrackerState {
            status: TrackerStatus::NotContacted,
            last_announce: None,
            next_at: None,
            seeds: None,
            peers: None,
            downloads: None,
            last_error: None,
            message: None,
            failures: 0,
            started: false,
            completed_sent: false,
            busy: false,
        }
    }
}

/// One tracker of a torrent, as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrackerRow {
    pub url: String,
    /// Position in the torrent's list (0 first).
    pub tier: usize,
    pub status: TrackerStatus,
    pub last_announce: Option<DateTime<Utc>>,
    /// When the next announce is due (null when the torrent is not running).
    pub next_announce: Option<DateTime<Utc>>,
    /// Seeds, other peers and completed downloads the tracker reported (null: not known).
    pub seeds: Option<u64>,
    pub peers: Option<u64>,
    pub downloads: Option<u64>,
    /// Why the last announce failed (null after a success).
    pub last_error: Option<String>,
    /// A warning the tracker sent with its answer.
    pub message: Option<String>,
}

/// The tracker URLs a torrent announces to: the list a user set, else the torrent's own
/// (from its metadata, or its magnet's `tr=` while the metadata is fetched).
pub(crate) fn tracker_list(e: &Entry) -> Cow<'_, [String]> {
    if let Some(t) = &e.rec.trackers {
        return Cow::Borrowed(t);
    }
    if let Some(m) = &e.meta {
        return Cow::Borrowed(&m.trackers);
    }
    Cow::Owned(
        e.rec
            .magnet
            .as_deref()
            .and_then(|m| librqbit_core::magnet::Magnet::parse(m).ok())
            .map(|m| m.trackers)
            .unwrap_or_default(),
    )
}

/// The host of a tracker URL (as `url::Url` reads it), for grouping torrents by tracker.
/// Remembered per URL: every row of the torrent list asks, 10,000 rows name the same few
/// trackers, and parsing them (IDNA included) was a twentieth of a list request.
pub(crate) fn host_of(url: &str) -> Option<String> {
    static HOSTS: LazyLock<Mutex<HashMap<String, Option<String>>>> =
        LazyLock::new(Default::default);
    // Bounds the memory a torrent set with thousands of distinct trackers can take.
    const MAX_REMEMBERED: usize = 4096;
    let mut hosts = HOSTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(h) = hosts.get(url) {
        return h.clone();
    }
    let h = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    if hosts.len() >= MAX_REMEMBERED {
        hosts.clear();
    }
    hosts.insert(url.to_owned(), h.clone());
    h
}

pub(crate) fn rows(e: &Entry) -> Vec<TrackerRow> {
    let now = Instant::now();
    let utc = Utc::now();
    tracker_list(e)
        .iter()
        .enumerate()
        .map(|(tier, url)| {
            let s = e.trackers.get(url).cloned().unwrap_or_default();
            TrackerRow {
                next_announce: s
                    .next_at
                    .filter(|_| s.started || s.busy || s.status == TrackerStatus::Error)
                    .map(|t| {
                        utc + chrono::Duration::from_std(t.saturating_duration_since(now))
                            .unwrap_or_default()
                    }),
                url: url.clone(),
                tier,
                status: s.status,
                last_announce: s.last_announce,
                seeds: s.seeds,
                peers: s.peers,
                downloads: s.downloads,
                last_error: s.last_error,
                message: s.message,
            }
        })
        .collect()
}

/// Checks and normalizes a tracker list a user gives: http, https or udp URLs with a host,
/// each once, at most `TRACKERS_MAX`.
pub fn check_list(urls: &[String]) -> Result<Vec<String>> {
    if urls.len() > TRACKERS_MAX {
        return Err(EngineError::Invalid(format!(
            "at most {TRACKERS_MAX} trackers per torrent (got {})",
            urls.len()
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for raw in urls {
        let t = raw.trim();
        if t.len() > TRACKER_URL_MAX {
            return Err(EngineError::Invalid(format!(
                "a tracker URL is longer than {TRACKER_URL_MAX} characters"
            )));
        }
        let u = url::Url::parse(t).map_err(|e| {
            EngineError::Invalid(format!(
                "not a tracker URL: {} ({e})",
                crate::limits::quote(t)
            ))
        })?;
        if !matches!(u.scheme(), "http" | "https" | "udp") || u.host_str().is_none_or(str::is_empty)
        {
            return Err(EngineError::Invalid(format!(
                "a tracker URL is http://, https:// or udp:// with a host: {}",
                crate::limits::quote(t)
            )));
        }
        let s = u.to_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    None,
    Started,
    Completed,
    Stopped,
}

impl Event {
    fn http(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Started => Some("started"),
            Event::Completed => Some("completed"),
            Event::Stopped => Some("stopped"),
        }
    }

    fn udp(self) -> u32 {
        match self {
            Event::None => 0,
            Event::Completed => 1,
            Event::Started => 2,
            Event::Stopped => 3,
        }
    }
}

/// One announce to make.
struct Job {
    hash: String,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    url: String,
    event: Event,
    uploaded: u64,
    downloaded: u64,
    left: u64,
    /// The tracker left the list: its state goes once it is told.
    removed: bool,
}

/// What a tracker answered.
#[derive(Default)]
struct Answer {
    interval: Option<Duration>,
    seeds: Option<u64>,
    peers: Option<u64>,
    downloads: Option<u64>,
    addrs: Vec<SocketAddr>,
    message: Option<String>,
}

/// The announcer's shared parts.
pub(crate) struct Announcer {
    /// Built at the first HTTP announce: a daemon whose torrents are all paused or use UDP
    /// trackers never pays for it (BENCHMARKS.md, "Memory").
    http: OnceLock<reqwest::Client>,
    key: u32,
    port: u16,
    /// The session's peer id (`Engine::start` gives it to librqbit).
    pub peer_id: [u8; 20],
}

impl Announcer {
    pub(crate) fn new(port: u16, peer_id: [u8; 20]) -> Announcer {
        Announcer {
            http: OnceLock::new(),
            key: rand::random(),
            port,
            peer_id,
        }
    }

    fn http(&self) -> std::result::Result<reqwest::Client, String> {
        if let Some(c) = self.http.get() {
            return Ok(c.clone());
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .no_proxy()
            .user_agent(concat!("pytorrentd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                tracing::error!("building the tracker HTTP client: {e}");
                "the tracker HTTP client could not be built".to_string()
            })?;
        Ok(self.http.get_or_init(|| client).clone())
    }
}

fn hex20(hash: &str) -> Option<[u8; 20]> {
    let v = hex::decode(hash).ok()?;
    v.try_into().ok()
}

/// The numbers an announce reports for a torrent: (uploaded, downloaded, left).
fn transfer(e: &Entry) -> (u64, u64, u64) {
    match e.handle.as_ref().map(|h| h.stats()) {
        Some(s) => (
            e.uploaded_base + s.uploaded_bytes,
            s.progress_bytes,
            s.total_bytes.saturating_sub(s.progress_bytes),
        ),
        None => {
            let (have, total) = e.progress.as_ref().map_or((0, 0), |p| (p.have, p.total));
            (e.uploaded_base, have, total.saturating_sub(have))
        }
    }
}

fn job(e: &Entry, peer_id: [u8; 20], url: &str, event: Event, removed: bool) -> Option<Job> {
    let (uploaded, downloaded, left) = transfer(e);
    Some(Job {
        hash: e.rec.hash.clone(),
        info_hash: hex20(&e.rec.hash)?,
        peer_id,
        url: url.to_owned(),
        event,
        uploaded,
        downloaded,
        left,
        removed,
    })
}

/// The announces due now for one torrent, marking their trackers busy: `started` to every
/// tracker of a running torrent, then one at each tracker's interval (`completed` once it
/// completes), and `stopped` when it stops running or a tracker leaves its list.
fn due(e: &mut Entry, peer_id: [u8; 20], now: Instant, out: &mut Vec<Job>) {
    // Cheap checks first: this runs for every torrent in the engine once a second.
    let running = e.handle.as_ref().is_some_and(|h| h.live().is_some());
    if !running && e.trackers.values().all(|s| !s.started || s.busy) {
        for s in e.trackers.values_mut() {
            s.next_at = None;
        }
        return;
    }
    let completed = e.rec.completed_at.is_some();
    let wants = |s: &TrackerState| {
        !s.busy
            && (!running
                || !s.started
                || (completed && !s.completed_sent)
                || s.next_at.is_none_or(|t| t <= now))
    };
    let listed = tracker_list(e);
    let removed = e.trackers.keys().any(|u| !listed.contains(u));
    if !removed && listed.len() == e.trackers.len() && !e.trackers.values().any(wants) {
        return;
    }
    let list = listed.into_owned();
    let mut todo: Vec<(String, Event, bool)> = Vec::new();
    // Trackers no longer listed: told `stopped` if they were announced to, then forgotten.
    e.trackers.retain(|url, s| {
        if list.contains(url) || s.busy {
            return true;
        }
        if s.started {
            s.busy = true;
            todo.push((url.clone(), Event::Stopped, true));
            return true;
        }
        false
    });
    for url in &list {
        let s = e.trackers.entry(url.clone()).or_default();
        if s.busy {
            continue;
        }
        let event = if !running {
            if s.started {
                Event::Stopped
            } else {
                s.next_at = None;
                continue;
            }
        } else if !s.started {
            if s.next_at.is_some_and(|t| t > now) {
                // Waiting out a failure's back-off.
                continue;
            }
            Event::Started
        } else if completed && !s.completed_sent {
            Event::Completed
        } else if s.next_at.is_none_or(|t| t <= now) {
            Event::None
        } else {
            continue;
        };
        s.busy = true;
        if event != Event::Stopped {
            s.status = TrackerStatus::Updating;
        }
        todo.push((url.clone(), event, false));
    }
    out.extend(
        todo.into_iter()
            .filter_map(|(url, ev, removed)| job(e, peer_id, &url, ev, removed)),
    );
}

/// `stopped` to the trackers a torrent that is going away was announced to.
fn farewell(e: &Entry, peer_id: [u8; 20]) -> Vec<Job> {
    e.trackers
        .iter()
        .filter(|(_, s)| s.started)
        .filter_map(|(url, _)| job(e, peer_id, url, Event::Stopped, true))
        .collect()
}

impl Engine {
    /// Starts the announce loop (once, at start).
    pub(crate) fn spawn_announcer(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(engine) = weak.upgrade() else { return };
                let jobs = {
                    let now = Instant::now();
                    let mut st = engine.lock();
                    let mut jobs = Vec::new();
                    let peer_id = engine.announcer.peer_id;
                    for e in st.torrents.values_mut() {
                        if e.handle.is_some() || !e.trackers.is_empty() {
                            due(e, peer_id, now, &mut jobs);
                        }
                    }
                    jobs
                };
                for job in jobs {
                    let engine = engine.clone();
                    tokio::spawn(async move { engine.announce(job).await });
                }
                let wake = engine.announce_wake.clone();
                drop(engine);
                let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
            }
        });
    }

    async fn announce(self: Arc<Self>, job: Job) {
        let r = if job.url.starts_with("udp://") {
            udp_announce(&self.announcer, &job).await
        } else {
            http_announce(&self.announcer, &job).await
        };
        let r = match r {
            Ok(mut a) if job.event != Event::Stopped => {
                if a.downloads.is_none() {
                    a.downloads = scrape(&self.announcer, &job).await;
                }
                Ok(a)
            }
            other => other,
        };
        let live = self
            .lock()
            .torrents
            .get(&job.hash)
            .and_then(|e| e.handle.clone())
            .and_then(|h| h.live());
        if let (Ok(a), Some(live)) = (&r, &live) {
            // Trackers list us too: a connection to ourselves is refused by the engine
            // anyway (same peer id), so skip our own loopback address instead of dialling it.
            let own = |a: &SocketAddr| {
                a.port() == self.announcer.port && (a.ip().is_loopback() || a.ip().is_unspecified())
            };
            for addr in a.addrs.iter().filter(|a| !own(a)) {
                if live.add_peer_if_not_seen(*addr).is_err() {
                    break;
                }
            }
        }
        let mut st = self.lock();
        let Some(e) = st.torrents.get_mut(&job.hash) else {
            return;
        };
        if job.removed {
            e.trackers.remove(&job.url);
            return;
        }
        let Some(s) = e.trackers.get_mut(&job.url) else {
            return;
        };
        s.busy = false;
        let now = Instant::now();
        match r {
            Ok(a) => {
                s.failures = 0;
                s.last_error = None;
                s.message = a.message;
                s.last_announce = Some(Utc::now());
                s.seeds = a.seeds.or(s.seeds);
                s.peers = a.peers.or(s.peers);
                s.downloads = a.downloads.or(s.downloads);
                match job.event {
                    Event::Stopped => {
                        s.started = false;
                        s.completed_sent = false;
                        s.status = TrackerStatus::NotContacted;
                        s.next_at = None;
                    }
                    ev => {
                        s.started = true;
                        if ev == Event::Completed {
                            s.completed_sent = true;
                        }
                        s.status = TrackerStatus::Working;
                        let every = a
                            .interval
                            .unwrap_or(INTERVAL_DEFAULT)
                            .clamp(INTERVAL_MIN, INTERVAL_MAX);
                        s.next_at = Some(now + every);
                    }
                }
                debug!(hash = %job.hash, url = %job.url, event = ?job.event, peers = a.addrs.len(), "announced");
            }
            Err(err) => {
                s.status = TrackerStatus::Error;
                s.last_error = Some(err.clone());
                s.last_announce = Some(Utc::now());
                if job.event == Event::Stopped {
                    // Not worth retrying: the tracker forgets us after its interval anyway.
                    s.started = false;
                    s.next_at = None;
                } else {
                    let backoff = Duration::from_secs(10)
                        .saturating_mul(1 << s.failures.min(8))
                        .min(Duration::from_secs(1800));
                    s.failures = s.failures.saturating_add(1);
                    s.next_at = Some(now + backoff);
                }
                debug!(hash = %job.hash, url = %job.url, "announce failed: {err}");
            }
        }
    }

    /// Makes every tracker of a running torrent due now.
    pub(crate) fn announce_now(&self, hash: &str) {
        if let Some(e) = self.lock().torrents.get_mut(hash) {
            let now = Instant::now();
            for s in e.trackers.values_mut() {
                if s.started && !s.busy {
                    s.next_at = Some(now);
                }
            }
        }
        self.announce_wake.notify_one();
    }

    /// The trackers of a torrent with their state.
    pub fn tracker_rows(&self, hash: &str) -> Result<Vec<TrackerRow>> {
        self.with_entry(hash, rows)
    }

    /// Tells the trackers a deleted torrent was announced to that it stopped (best effort,
    /// in the background).
    pub(crate) fn announce_gone(&self, e: &Entry) {
        let Some(engine) = self.self_arc() else {
            return;
        };
        for job in farewell(e, self.announcer.peer_id) {
            let engine = engine.clone();
            tokio::spawn(async move { engine.announce(job).await });
        }
    }
}

fn urlencode(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for &c in b {
        if c.is_ascii_alphanumeric() || b"-_.~".contains(&c) {
            s.push(c as char);
        } else {
            s.push_str(&format!("%{c:02X}"));
        }
    }
    s
}

fn http_error(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "the tracker did not answer in time".into()
    } else if e.is_connect() {
        "cannot connect to the tracker".into()
    } else {
        format!("tracker request failed: {}", e.without_url())
    }
}

async fn http_get(a: &Announcer, url: &str, query: &str) -> std::result::Result<Vec<u8>, String> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let resp = a
        .http()?
        .get(format!("{url}{sep}{query}"))
        .send()
        .await
        .map_err(http_error)?;
    if !resp.status().is_success() {
        return Err(format!(
            "the tracker answered HTTP {}",
            resp.status().as_u16()
        ));
    }
    let body = resp.bytes().await.map_err(http_error)?;
    if body.len() > 1 << 20 {
        return Err("the tracker's answer is larger than 1 MiB".into());
    }
    Ok(body.to_vec())
}

fn count(v: Option<&Ben<'_>>) -> Option<u64> {
    v.and_then(Ben::int).and_then(|i| u64::try_from(i).ok())
}

fn compact_peers(b: &[u8], size: usize) -> Vec<SocketAddr> {
    b.chunks_exact(size)
        .filter_map(|c| {
            let port = u16::from_be_bytes([c[size - 2], c[size - 1]]);
            let ip: std::net::IpAddr = match size {
                6 => std::net::Ipv4Addr::new(c[0], c[1], c[2], c[3]).into(),
                18 => {
                    let a: [u8; 16] = c[..16].try_into().ok()?;
                    std::net::Ipv6Addr::from(a).into()
                }
                _ => return None,
            };
            (port != 0).then_some(SocketAddr::new(ip, port))
        })
        .collect()
}

async fn http_announce(a: &Announcer, job: &Job) -> std::result::Result<Answer, String> {
    let mut q = format!(
        "info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1&numwant=50&key={:08X}",
        urlencode(&job.info_hash),
        urlencode(&job.peer_id),
        a.port,
        job.uploaded,
        job.downloaded,
        job.left,
        a.key
    );
    if let Some(ev) = job.event.http() {
        q.push_str("&event=");
        q.push_str(ev);
    }
    let body = http_get(a, &job.url, &q).await?;
    let v = parse_value(&body).map_err(|e| format!("the tracker's answer is not bencode: {e}"))?;
    if let Some(reason) = v.get("failure reason").and_then(Ben::bytes) {
        return Err(format!(
            "the tracker refused: {}",
            String::from_utf8_lossy(reason)
        ));
    }
    let mut addrs = Vec::new();
    match v.get("peers") {
        Some(Ben::Bytes(b)) => addrs.extend(compact_peers(b, 6)),
        Some(Ben::List(l)) => {
            for p in l {
                let ip = p
                    .get("ip")
                    .and_then(Ben::bytes)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(|s| s.parse::<std::net::IpAddr>().ok());
                let port = count(p.get("port")).and_then(|p| u16::try_from(p).ok());
                if let (Some(ip), Some(port)) = (ip, port) {
                    addrs.push(SocketAddr::new(ip, port));
                }
            }
        }
        _ => {}
    }
    if let Some(b) = v.get("peers6").and_then(Ben::bytes) {
        addrs.extend(compact_peers(b, 18));
    }
    let interval = count(v.get("min interval"))
        .or_else(|| count(v.get("interval")))
        .map(Duration::from_secs);
    Ok(Answer {
        interval,
        seeds: count(v.get("complete")),
        peers: count(v.get("incomplete")),
        downloads: count(v.get("downloaded")),
        addrs,
        message: v
            .get("warning message")
            .and_then(Ben::bytes)
            .map(|b| String::from_utf8_lossy(b).into_owned()),
    })
}

/// The download count from a scrape (null when the tracker has no scrape or fails it).
async fn scrape(a: &Announcer, job: &Job) -> Option<u64> {
    if job.url.starts_with("udp://") {
        return udp_scrape(job).await;
    }
    // BEP 48: the scrape URL replaces the last "announce" of the path.
    let (path_end, query) = job.url.split_once('?').unwrap_or((&job.url, ""));
    let i = path_end.rfind('/')?;
    let last = &path_end[i + 1..];
    if !last.starts_with("announce") {
        return None;
    }
    let mut url = format!("{}/scrape{}", &path_end[..i], &last["announce".len()..]);
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    let body = http_get(a, &url, &format!("info_hash={}", urlencode(&job.info_hash)))
        .await
        .ok()?;
    let v = parse_value(&body).ok()?;
    let Some(Ben::Dict(files)) = v.get("files") else {
        return None;
    };
    files
        .iter()
        .find(|(k, _)| *k == job.info_hash.as_slice())
        .and_then(|(_, f)| count(f.get("downloaded")))
}

// ---- UDP (BEP 15) ------------------------------------------------------------------------

const UDP_PROTOCOL_ID: u64 = 0x0417_2710_1980;

async fn udp_socket(url: &str) -> std::result::Result<tokio::net::UdpSocket, String> {
    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = u.host_str().ok_or("the tracker URL has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = u.port().ok_or("a udp:// tracker URL needs a port")?;
    let addr = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| "resolving the tracker's name took too long".to_string())?
        .map_err(|e| format!("cannot resolve the tracker's name: {e}"))?
        .next()
        .ok_or("the tracker's name has no address")?;
    let bind: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|_| "bind")?
    } else {
        "[::]:0".parse().map_err(|_| "bind")?
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    sock.connect(addr)
        .await
        .map_err(|e| format!("cannot reach the tracker: {e}"))?;
    Ok(sock)
}

/// Sends `req` and returns the answer to its transaction (retried twice, 5 s each).
async fn udp_exchange(
    sock: &tokio::net::UdpSocket,
    req: &[u8],
    tid: u32,
) -> std::result::Result<Vec<u8>, String> {
    let mut buf = vec![0u8; 4096];
    for _ in 0..3 {
        sock.send(req)
            .await
            .map_err(|e| format!("cannot send to the tracker: {e}"))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(r) = tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            let n = r.map_err(|e| format!("the tracker is unreachable: {e}"))?;
            if n < 8 || u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) != tid {
                continue;
            }
            let action = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            if action == 3 {
                return Err(format!(
                    "the tracker refused: {}",
                    String::from_utf8_lossy(&buf[8..n])
                ));
            }
            return Ok(buf[..n].to_vec());
        }
    }
    Err("the tracker did not answer in time".into())
}

async fn udp_connect(sock: &tokio::net::UdpSocket) -> std::result::Result<u64, String> {
    let tid: u32 = rand::random();
    let mut req = Vec::with_capacity(16);
    req.extend_from_slice(&UDP_PROTOCOL_ID.to_be_bytes());
    req.extend_from_slice(&0u32.to_be_bytes());
    req.extend_from_slice(&tid.to_be_bytes());
    let r = udp_exchange(sock, &req, tid).await?;
    if r.len() < 16 || r[..4] != 0u32.to_be_bytes() {
        return Err("the tracker's connect answer is malformed".into());
    }
    Ok(u64::from_be_bytes(r[8..16].try_into().unwrap_or_default()))
}

fn be32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64)
        .unwrap_or(0)
}

async fn udp_announce(a: &Announcer, job: &Job) -> std::result::Result<Answer, String> {
    let sock = udp_socket(&job.url).await?;
    let conn = udp_connect(&sock).await?;
    let tid: u32 = rand::random();
    let mut req = Vec::with_capacity(98);
    req.extend_from_slice(&conn.to_be_bytes());
    req.extend_from_slice(&1u32.to_be_bytes());
    req.extend_from_slice(&tid.to_be_bytes());
    req.extend_from_slice(&job.info_hash);
    req.extend_from_slice(&job.peer_id);
    req.extend_from_slice(&job.downloaded.to_be_bytes());
    req.extend_from_slice(&job.left.to_be_bytes());
    req.extend_from_slice(&job.uploaded.to_be_bytes());
    req.extend_from_slice(&job.event.udp().to_be_bytes());
    req.extend_from_slice(&0u32.to_be_bytes());
    req.extend_from_slice(&a.key.to_be_bytes());
    req.extend_from_slice(&50i32.to_be_bytes());
    req.extend_from_slice(&a.port.to_be_bytes());
    let r = udp_exchange(&sock, &req, tid).await?;
    if r.len() < 20 || r[..4] != 1u32.to_be_bytes() {
        return Err("the tracker's announce answer is malformed".into());
    }
    let v6 = sock.peer_addr().is_ok_and(|p| p.is_ipv6());
    Ok(Answer {
        interval: Some(Duration::from_secs(be32(&r, 8))),
        peers: Some(be32(&r, 12)),
        seeds: Some(be32(&r, 16)),
        downloads: None,
        addrs: compact_peers(&r[20..], if v6 { 18 } else { 6 }),
        message: None,
    })
}

async fn udp_scrape(job: &Job) -> Option<u64> {
    let sock = udp_socket(&job.url).await.ok()?;
    let conn = udp_connect(&sock).await.ok()?;
    let tid: u32 = rand::random();
    let mut req = Vec::with_capacity(36);
    req.extend_from_slice(&conn.to_be_bytes());
    req.extend_from_slice(&2u32.to_be_bytes());
    req.extend_from_slice(&tid.to_be_bytes());
    req.extend_from_slice(&job.info_hash);
    let r = udp_exchange(&sock, &req, tid).await.ok()?;
    (r.len() >= 20 && r[..4] == 2u32.to_be_bytes()).then(|| be32(&r, 12))
}

/// Trackers a non-administrator may set: not on this machine or the local network, which
/// only an administrator may make the daemon contact (the rule of `fetch.rs`, docs/security.md).
pub(crate) async fn check_public(urls: &[String], allowed: &[ipnet::IpNet]) -> Result<()> {
    for t in urls {
        let Ok(u) = url::Url::parse(t) else { continue };
        let host = u
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = u.port_or_known_default().unwrap_or(80);
        let addrs: Vec<std::net::IpAddr> = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
                .await
                .ok()
                .and_then(|r| r.ok())
                .map(|it| it.map(|a| a.ip()).collect())
                .unwrap_or_default(),
        };
        if addrs.is_empty()
            || addrs
                .iter()
                .any(|ip| !super::fetch::address_allowed(*ip, allowed))
        {
            warn!(tracker = %t, "refused a tracker on a private address for a non-administrator");
            return Err(EngineError::Invalid(format!(
                "the tracker {} is not on a public address; only an administrator may use it",
                crate::limits::quote(t)
            )));
        }
    }
    Ok(())
}

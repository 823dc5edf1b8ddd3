//! Prometheus metrics (`PYTORRENT_METRICS_ENABLE`): counters kept in memory by the HTTP,
//! login and feed code, and gauges read from the engine when scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::state::AppState;

#[derive(Default)]
pub struct Metrics {
    pub logins_ok: AtomicU64,
    pub logins_failed: AtomicU64,
    pub sockets: AtomicI64,
    http: Mutex<BTreeMap<u16, u64>>,
}

impl Metrics {
    pub fn http_response(&self, status: u16) {
        *self
            .http
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(status)
            .or_default() += 1;
    }
}

/// Label values are profile ids (a-z0-9-_) and fixed words, but escape anyway.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text (Prometheus text format 0.0.4).
pub fn render(st: &AppState) -> String {
    let m = &st.metrics;
    let mut out = String::new();
    let rows = st.engine.all_rows();
    let stats = st.engine.stats();

    let _ = writeln!(
        out,
        "# HELP pytorrentd_torrents Torrents by profile and state."
    );
    let _ = writeln!(out, "# TYPE pytorrentd_torrents gauge");
    let mut by_state: BTreeMap<(String, String), u64> = BTreeMap::new();
    for p in st.engine.profiles() {
        for s in crate::engine::TorrentState::ALL {
            by_state.insert((p.id.clone(), s.as_str().into()), 0);
        }
    }
    for r in &rows {
        *by_state
            .entry((r.profile.clone(), r.state.as_str().into()))
            .or_default() += 1;
    }
    for ((p, s), n) in &by_state {
        let _ = writeln!(
            out,
            "pytorrentd_torrents{{profile=\"{}\",state=\"{}\"}} {n}",
            esc(p),
            s
        );
    }

    let gauge = |out: &mut String,
                 name: &str,
                 help: &str,
                 per: &dyn Fn(&crate::engine::ProfileStats) -> u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for p in &stats.profiles {
            let _ = writeln!(out, "{name}{{profile=\"{}\"}} {}", esc(&p.id), per(p));
        }
    };
    gauge(
        &mut out,
        "pytorrentd_download_speed_bytes",
        "Download speed in bytes per second.",
        &|p| p.dl_speed,
    );
    gauge(
        &mut out,
        "pytorrentd_upload_speed_bytes",
        "Upload speed in bytes per second.",
        &|p| p.ul_speed,
    );

    let mut have: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for r in &rows {
        let e = have.entry(r.profile.as_str()).or_default();
        e.0 += r.downloaded;
        e.1 += r.uploaded;
        e.2 += u64::from(r.peers);
    }
    let _ = writeln!(
        out,
        "# HELP pytorrentd_downloaded_bytes Bytes of torrent data present, by profile."
    );
    let _ = writeln!(out, "# TYPE pytorrentd_downloaded_bytes gauge");
    for (p, (d, _, _)) in &have {
        let _ = writeln!(
            out,
            "pytorrentd_downloaded_bytes{{profile=\"{}\"}} {d}",
            esc(p)
        );
    }
    let _ = writeln!(
        out,
        "# HELP pytorrentd_uploaded_bytes Bytes uploaded over the torrents' lifetime, by profile."
    );
    let _ = writeln!(out, "# TYPE pytorrentd_uploaded_bytes gauge");
    for (p, (_, u, _)) in &have {
        let _ = writeln!(
            out,
            "pytorrentd_uploaded_bytes{{profile=\"{}\"}} {u}",
            esc(p)
        );
    }
    let _ = writeln!(out, "# HELP pytorrentd_peers Connected peers, by profile.");
    let _ = writeln!(out, "# TYPE pytorrentd_peers gauge");
    for (p, (_, _, n)) in &have {
        let _ = writeln!(out, "pytorrentd_peers{{profile=\"{}\"}} {n}", esc(p));
    }

    let _ = writeln!(
        out,
        "# HELP pytorrentd_sockets_connected Open live-feed connections."
    );
    let _ = writeln!(out, "# TYPE pytorrentd_sockets_connected gauge");
    let _ = writeln!(
        out,
        "pytorrentd_sockets_connected {}",
        m.sockets.load(Ordering::Relaxed).max(0)
    );
    let _ = writeln!(
        out,
        "# HELP pytorrentd_logins_total Login attempts by result."
    );
    let _ = writeln!(out, "# TYPE pytorrentd_logins_total counter");
    let _ = writeln!(
        out,
        "pytorrentd_logins_total{{result=\"ok\"}} {}",
        m.logins_ok.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "pytorrentd_logins_total{{result=\"failed\"}} {}",
        m.logins_failed.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP pytorrentd_http_requests_total HTTP responses by status code."
    );
    let _ = writeln!(out, "# TYPE pytorrentd_http_requests_total counter");
    for (status, n) in m.http.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = writeln!(
            out,
            "pytorrentd_http_requests_total{{status=\"{status}\"}} {n}"
        );
    }
    out
}

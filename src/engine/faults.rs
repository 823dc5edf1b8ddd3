//! Faults a torrent waits out instead of failing for good (docs/reliability.md): a full disk
//! under its download directory, or a process out of file descriptors. The torrent shows one
//! human line and a `reason`, the full engine error goes to the log, and the scheduler retries
//! by itself once the resource is back (with a back-off), or at once on `resume`.
//!
//! Also here: the verified progress of a torrent the engine is not running (from its
//! fast-resume bitfield), so rows of paused torrents, which hold no engine handle and no file
//! descriptor, still show how much is on disk.

use std::path::Path;
use std::time::{Duration, Instant};

use super::Meta;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// ENOSPC / EDQUOT writing the torrent's data.
    DiskSpace,
    /// EMFILE / ENFILE, or too little descriptor headroom to start it safely.
    FileLimit,
    /// Anything else the engine reported; retried only on `resume`.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub kind: FaultKind,
    /// One line for the row (no backtrace, no cause chain on several lines).
    pub message: String,
    /// Earliest automatic retry.
    pub next_try: Instant,
    pub since: Instant,
}

/// What the engine last said about a torrent's data, kept for when it says nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Progress {
    /// Verified bytes of the wanted files.
    pub have: u64,
    /// Bytes of the wanted files.
    pub total: u64,
    pub finished: bool,
    /// Verified bytes per file (torrent order).
    pub files: Vec<u64>,
}

pub(crate) fn classify(err: &str) -> FaultKind {
    let e = err.to_ascii_lowercase();
    if e.contains("no space left")
        || e.contains("os error 28)")
        || e.contains("enospc")
        || e.contains("quota exceeded")
        || e.contains("os error 122)")
        || e.contains("edquot")
    {
        FaultKind::DiskSpace
    } else if e.contains("too many open files")
        || e.contains("os error 24)")
        || e.contains("os error 23)")
        || e.contains("emfile")
        || e.contains("enfile")
    {
        FaultKind::FileLimit
    } else {
        FaultKind::Other
    }
}

/// An engine error as one line: the message and its causes joined with ": ", without the
/// backtrace, at most 300 characters.
pub(crate) fn one_line(err: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for line in err.lines() {
        let t = line.trim();
        if t.starts_with("Stack backtrace") || t.starts_with("Backtrace") {
            break;
        }
        if t.is_empty() || t == "Caused by:" {
            continue;
        }
        // "0: cause" lines of anyhow's cause list.
        let t = match t.split_once(": ") {
            Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) => rest,
            _ => t,
        };
        if !parts.iter().any(|p| p.contains(t)) {
            parts.push(t.to_owned());
        }
    }
    let mut s = parts.join(": ");
    if s.chars().count() > 300 {
        s = s.chars().take(299).collect::<String>() + "…";
    }
    s
}

/// The one-line message and kind for an engine error of a torrent saving under `dir`.
pub(crate) fn describe(err: &str, dir: &Path) -> (FaultKind, String) {
    let kind = classify(err);
    let msg = match kind {
        FaultKind::DiskSpace => format!(
            "no space left on the disk holding {}; waiting for free space (continues by itself)",
            dir.display()
        ),
        FaultKind::FileLimit => {
            let (open, limit) = fd_usage();
            format!(
                "too many open files ({open} of {limit} in use); waiting for free descriptors (continues by itself; raise LimitNOFILE)"
            )
        }
        FaultKind::Other => one_line(err),
    };
    (kind, msg)
}

/// The automatic retry delay after `retries` earlier retries: 5 s, doubling, at most 5 min.
pub(crate) fn backoff(retries: u32) -> Duration {
    Duration::from_secs(5u64.saturating_mul(1u64 << retries.min(6)).min(300))
}

/// Free bytes for an unprivileged writer on the file system holding `path` (or its nearest
/// existing ancestor).
pub(crate) fn free_bytes(path: &Path) -> Option<u64> {
    let mut p = Some(path);
    while let Some(dir) = p {
        if let Ok(s) = rustix::fs::statvfs(dir) {
            return Some(s.f_bavail.saturating_mul(s.f_frsize));
        }
        p = dir.parent();
    }
    None
}

/// Whether a torrent waiting for disk space may try again: enough room for what it still
/// needs, or for a good stretch of it (64 MiB) when that is more.
pub(crate) fn space_returned(dir: &Path, progress: Option<&Progress>) -> bool {
    let remaining = progress
        .map(|p| p.total.saturating_sub(p.have))
        .unwrap_or(0);
    let need = remaining.clamp(1 << 20, 64 << 20);
    free_bytes(dir).is_some_and(|f| f >= need)
}

/// (open descriptors, soft limit) of this process.
pub(crate) fn fd_usage() -> (u64, u64) {
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|rd| rd.count() as u64)
        .unwrap_or(0);
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    (open, limit)
}

/// Descriptors kept free for the HTTP listener, its connections and the database, whatever
/// the engine wants.
pub(crate) fn fd_reserve(limit: u64) -> u64 {
    (limit / 8).clamp(64, 1024)
}

/// Whether `needed` more descriptors fit below the limit minus the reserve.
pub(crate) fn fd_headroom(needed: u64) -> bool {
    let (open, limit) = fd_usage();
    open.saturating_add(needed)
        .saturating_add(fd_reserve(limit))
        <= limit
}

/// Logs that torrents wait for descriptors, at most once a minute.
pub(crate) fn warn_fd_limit(open: u64, limit: u64) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            open,
            limit,
            "torrents wait for file descriptors (kept free for the web server): raise LimitNOFILE"
        );
    }
}

/// Verified bytes from a fast-resume bitfield (one bit per piece, most significant first),
/// over the wanted files. `None` when the bitfield does not fit the torrent.
pub(crate) fn progress_from_bitfield(
    bits: &[u8],
    meta: &Meta,
    only: Option<&[usize]>,
) -> Option<Progress> {
    let pl = u64::from(meta.piece_length);
    if pl == 0 {
        return None;
    }
    let pieces = meta.total.div_ceil(pl);
    if bits.len() as u64 != pieces.div_ceil(8) {
        return None;
    }
    let mut files = vec![0u64; meta.files.len()];
    // File i spans [starts[i], starts[i] + len).
    let mut starts = Vec::with_capacity(meta.files.len());
    let mut off = 0u64;
    for (_, len) in &meta.files {
        starts.push(off);
        off += len;
    }
    let mut fi = 0usize;
    for piece in 0..pieces {
        if bits[(piece / 8) as usize] & (0x80 >> (piece % 8)) == 0 {
            continue;
        }
        let (a, b) = (piece * pl, ((piece + 1) * pl).min(meta.total));
        while fi < files.len() && starts[fi] + meta.files[fi].1 <= a {
            fi += 1;
        }
        let mut j = fi;
        while j < files.len() && starts[j] < b {
            let (fa, fb) = (starts[j], starts[j] + meta.files[j].1);
            files[j] += b.min(fb).saturating_sub(a.max(fa));
            j += 1;
        }
    }
    let wanted = |i: usize| only.is_none_or(|o| o.contains(&i));
    let total: u64 = meta
        .files
        .iter()
        .enumerate()
        .filter(|(i, _)| wanted(*i))
        .map(|(_, (_, l))| l)
        .sum();
    let have: u64 = files
        .iter()
        .enumerate()
        .filter(|(i, _)| wanted(*i))
        .map(|(_, h)| h)
        .sum();
    Some(Progress {
        have,
        total,
        finished: have >= total,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_become_one_line() {
        let err = "error writing to file 0 (\"a.bin\")\n\nCaused by:\n    0: error calling pwritev\n    1: ENOSPC: No space left on device\n\nStack backtrace:\n   0: std::backtrace\n   1: librqbit::x";
        assert_eq!(classify(err), FaultKind::DiskSpace);
        assert_eq!(
            one_line(err),
            "error writing to file 0 (\"a.bin\"): error calling pwritev: ENOSPC: No space left on device"
        );
        let (k, m) = describe(err, Path::new("/srv/dl"));
        assert_eq!(k, FaultKind::DiskSpace);
        assert!(m.contains("/srv/dl") && !m.contains('\n'), "{m}");
        assert_eq!(
            classify("Too many open files (os error 24)"),
            FaultKind::FileLimit
        );
        assert_eq!(classify("tracker said no"), FaultKind::Other);
        assert!(one_line(&"x".repeat(1000)).chars().count() <= 300);
    }

    #[test]
    fn progress_from_a_bitfield() {
        // Pieces of 10 bytes over files of 15, 5 and 12 bytes (32 bytes, 4 pieces).
        let meta = Meta {
            name: "t".into(),
            total: 32,
            piece_length: 10,
            files: vec![("a".into(), 15), ("b".into(), 5), ("c".into(), 12)],
            multi_file: true,
            trackers: Vec::new(),
            hosts: Default::default(),
        };
        // Pieces 1 (bytes 10..20) and 3 (30..32).
        let p = progress_from_bitfield(&[0b0101_0000], &meta, None).unwrap();
        assert_eq!(p.files, vec![5, 5, 2]);
        assert_eq!((p.have, p.total, p.finished), (12, 32, false));
        let p = progress_from_bitfield(&[0b0101_0000], &meta, Some(&[1])).unwrap();
        assert_eq!((p.have, p.total, p.finished), (5, 5, true));
        assert!(progress_from_bitfield(&[0, 0], &meta, None).is_none());
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(30), Duration::from_secs(300));
    }
}

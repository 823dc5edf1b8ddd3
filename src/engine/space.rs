//! The disk-space guard (README "Disk space"): every profile keeps a minimum of free space
//! on the filesystem its torrents write to (1 GiB unless set; 0 turns the guard off). The
//! queue starts a download only when the free space minus what it and the downloads already
//! running still have to write stays above that minimum; a running download is held
//! (state `queued`, reason `disk_space`) when the free space falls below it, and starts again
//! by the same rule once space returns. Files are written sparse, so "still to write" is the
//! torrent's missing bytes.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::store::ProfileRecord;

/// The minimum free space of a profile that sets none.
pub const DEFAULT_MIN_FREE: u64 = 1 << 30;

/// The minimum free space a profile keeps (0: no guard).
pub fn min_free(p: Option<&ProfileRecord>) -> u64 {
    p.and_then(|p| p.min_free_space).unwrap_or(DEFAULT_MIN_FREE)
}

struct Fs {
    free: u64,
    /// Bytes that downloads running or admitted in this pass will still write.
    reserved: u64,
}

/// The free space of each filesystem for one scheduler pass, read once per filesystem.
#[derive(Default)]
pub(crate) struct Budget {
    fs: HashMap<u64, Fs>,
    devs: HashMap<std::path::PathBuf, u64>,
}

impl Budget {
    fn of(&mut self, dir: &Path) -> Option<&mut Fs> {
        let dev = match self.devs.get(dir) {
            Some(d) => *d,
            None => {
                let d = std::fs::metadata(dir).ok()?.dev();
                self.devs.insert(dir.to_path_buf(), d);
                d
            }
        };
        if let std::collections::hash_map::Entry::Vacant(v) = self.fs.entry(dev) {
            let free = super::fs::disk_free(dir)?;
            v.insert(Fs { free, reserved: 0 });
        }
        self.fs.get_mut(&dev)
    }

    /// The free space on `dir`'s filesystem (`None`: unknown, e.g. the folder is gone).
    pub fn free(&mut self, dir: &Path) -> Option<u64> {
        self.of(dir).map(|f| f.free)
    }

    /// Counts a running download's missing bytes against its filesystem.
    pub fn reserve(&mut self, dir: &Path, remaining: u64) {
        if let Some(f) = self.of(dir) {
            f.reserved = f.reserved.saturating_add(remaining);
        }
    }

    /// Whether a download missing `remaining` bytes may start on `dir`: the free space
    /// after it and the downloads already counted stays at `min_free` or more. Admitted,
    /// its bytes are counted. An unknown filesystem does not hold anything back (the
    /// engine reports a missing folder on its own).
    pub fn admit(&mut self, dir: &Path, remaining: u64, min_free: u64) -> bool {
        if min_free == 0 {
            return true;
        }
        let Some(f) = self.of(dir) else {
            return true;
        };
        let need = remaining
            .saturating_add(f.reserved)
            .saturating_add(min_free);
        if f.free >= need {
            f.reserved = f.reserved.saturating_add(remaining);
            true
        } else {
            false
        }
    }
}

fn human(b: u64) -> String {
    let units = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (n, s) in units {
        if b >= s {
            return format!("{:.1} {n}", b as f64 / s as f64);
        }
    }
    format!("{b} B")
}

impl super::Engine {
    /// Warnings for just-added torrents that do not fit in the free space their profile
    /// allows (they wait in the queue; the add itself succeeded).
    pub fn space_warnings(&self, rows: &[super::TorrentRow]) -> Vec<String> {
        let mut budget = Budget::default();
        let st = self.lock();
        let mut out = Vec::new();
        for r in rows {
            let Some(e) = st.torrents.get(&r.hash) else {
                continue;
            };
            let need = r.size.saturating_sub(r.downloaded);
            if e.meta.is_none() || need == 0 {
                continue;
            }
            let keep = min_free(st.profiles.get(&e.rec.profile));
            let Some(free) = budget.free(&e.rec.save_dir) else {
                continue;
            };
            if free < need.saturating_add(keep) {
                out.push(format!(
                    "{} needs {} but {} are free in {} (the profile keeps {} free): it waits in the queue until there is room",
                    r.name,
                    human(need),
                    human(free),
                    e.rec.save_dir.display(),
                    human(keep)
                ));
            }
        }
        out
    }
}
